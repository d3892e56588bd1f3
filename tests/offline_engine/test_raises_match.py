"""The ``pytest.raises`` patterns CrossHair escapes character by character, written as the message they match."""

from __future__ import annotations

import ast
import base64
import os
import re
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from handoff.offline_engine.commands import packed_merge_script
from handoff.offline_engine.raises_match import readable_pattern

MESSAGES = {  # message -> the readable pattern for it
    "No valid header found": "No valid header found",
    "Unclosed table (started with '{|') at line 1.": "Unclosed table \\(started with '\\{\\|'\\) at line 1\\.",
    "a\tb\nc - d & e ~ f # g": "a\tb\nc - d & e ~ f # g",
    "C:\\temp\\x*": "C:\\\\temp\\\\x\\*",
    "naïve größe": "naïve größe",
    "": "",
}


@pytest.mark.parametrize("message", MESSAGES)
def test_an_escaped_message_reads_as_its_text_and_finds_the_same_messages_as_before(message: str) -> None:
    """`re.escape` as CrossHair applies it: the pattern keeps only the escapes the text needs, and `re.search` (what
    pytest.raises uses) finds it in the same messages as the escaped one."""
    escaped = re.escape(message)
    readable = readable_pattern(escaped)

    assert readable == MESSAGES[message]
    for probe in [message, f"ValueError: {message} (more)", message[:-1], message.upper(), "x"]:
        assert (re.search(readable, probe) is None) == (re.search(escaped, probe) is None), probe


@pytest.mark.parametrize("pattern", [r"\d+ items", "a.b", r"value\b", r"(x)\1", "trailing\\", "(?i)case", r"a\ .*"])
def test_a_pattern_that_is_not_an_escaped_text_is_left_as_written(pattern: str) -> None:
    assert readable_pattern(pattern) == pattern


HEADER = """
def from_mediawiki(text):
    if not text.startswith("{|"):
        raise ValueError("No valid header found")
    raise ValueError(f"Unclosed table (started with {text[:2]!r}) at line 1.")
"""
# as CrossHair's pytest output writes them: match=repr(re.escape(message))
CROSSHAIR = f"""import pytest
from pkg.header import from_mediawiki

def test_from_mediawiki():
    with pytest.raises(ValueError, match='No\\\\ valid\\\\ header\\\\ found'):
        from_mediawiki('')

def test_from_mediawiki_2():
    with pytest.raises(ValueError, match={re.escape("Unclosed table (started with '{|') at line 1.")!r}):
        from_mediawiki('{{|')
"""


def test_the_merged_crosshair_tests_carry_the_plain_message_and_pass_under_pytest(tmp_path: Path) -> None:
    """The merge script as the engine command carries it (run without Handoff installed: `python -S`) writes the
    plain message where CrossHair escaped it, a pattern escaping only `(`, `{`, `|`, `)` and `.` where the message
    holds them; pytest runs both tests against the function raising those messages, and they pass."""
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "header.py").write_text(HEADER)
    (tmp_path / "crosshair.py").write_text(CROSSHAIR)
    (tmp_path / "merge.py").write_bytes(zlib.decompress(base64.b64decode(packed_merge_script())))
    out = tmp_path / "tests" / "test_header.py"
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTHON", "PYTEST"))}
    merged = subprocess.run(
        [sys.executable, "-S", "merge.py", "--module", "pkg.header", "--out", str(out), "crosshair=crosshair.py"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert merged.returncode == 0, merged.stdout + merged.stderr

    text = out.read_text()
    patterns = [n.value.value for n in ast.walk(ast.parse(text))
                if isinstance(n, ast.keyword) and n.arg == "match" and isinstance(n.value, ast.Constant)]  # fmt: skip
    assert patterns == ["No valid header found", "Unclosed table \\(started with '\\{\\|'\\) at line 1\\."]
    assert "match='No valid header found'" in text

    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(out)],
        cwd=tmp_path, env={**env, "PYTHONPATH": str(tmp_path), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 0 and "2 passed" in run.stdout, run.stdout + run.stderr
