"""Every HANDOFF_* setting the code reads is documented, and every one the documents name still exists."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from pathlib import Path

from handoff.schemas import names

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = (ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "deploy" / "README.md")
INTERNAL = {
    "HANDOFF_OUTCOMES_FILE": "Handoff sets it for its own pytest plugin in a project's run; nobody configures it",
}
_NAME = re.compile(r"HANDOFF_[A-Z0-9_]*[A-Z0-9](?![A-Z0-9_]*\*)")  # HANDOFF_NATS_* is a pattern, not a name


def settings_read_in_code() -> dict[str, str]:
    """Each HANDOFF_* name passed as a literal first argument to a call (env_int("HANDOFF_X", ...),
    os.environ.get("HANDOFF_X") ...) in services/ and schemas/, with the first file that reads it."""
    stream_names = {v for k, v in vars(names).items() if k.isupper() and isinstance(v, str)}
    found: dict[str, str] = {}
    for folder in ("services", "schemas"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
                if not isinstance(node, ast.Call) or not node.args:
                    continue
                first = node.args[0]
                if isinstance(first, ast.Constant) and isinstance(first.value, str) and _NAME.fullmatch(first.value):
                    if first.value not in stream_names and first.value not in INTERNAL:
                        found.setdefault(first.value, str(path.relative_to(ROOT)))
    return found


def names_in(texts: Iterable[str]) -> set[str]:
    return {name for text in texts for name in _NAME.findall(text)}


def undocumented(settings: Iterable[str], documents: Iterable[str]) -> set[str]:
    return set(settings) - names_in(documents)


def document_texts() -> list[str]:
    return [path.read_text() for path in DOCUMENTS]


def test_every_setting_the_code_reads_is_named_in_the_readme_or_docs() -> None:
    """A HANDOFF_* variable the services read must appear in README.md, docs/*.md or deploy/README.md."""
    read = settings_read_in_code()
    missing = undocumented(read, document_texts())
    assert missing == set(), "document these settings: " + ", ".join(f"{n} ({read[n]})" for n in sorted(missing))


def test_the_check_finds_a_setting_whose_mentions_were_removed_from_the_docs() -> None:
    """With every mention of one setting deleted from the documents, that setting is reported undocumented."""
    read = settings_read_in_code()
    assert "HANDOFF_GENERATOR_SLOTS" in read
    texts = [text.replace("HANDOFF_GENERATOR_SLOTS", "") for text in document_texts()]
    assert undocumented(read, texts) == {"HANDOFF_GENERATOR_SLOTS"}
    found = names_in(["`HANDOFF_SANDBOX_FILE_MIB` and HANDOFF_SANDBOX; `HANDOFF_NATS_*` is a pattern"])
    assert found == {"HANDOFF_SANDBOX_FILE_MIB", "HANDOFF_SANDBOX"}


def test_every_handoff_variable_the_docs_name_exists_in_the_code() -> None:
    """A HANDOFF_* name in the documents is read by the services, is a stream name, or is a knob of the test suite,
    the CI scripts or the benchmarks; otherwise the document names a setting that no longer exists."""
    files = [p for folder in ("services", "schemas", "tests", "benchmarks") for p in (ROOT / folder).rglob("*.py")]
    files += [p for p in (ROOT / ".ci").iterdir() if p.is_file()]
    this = Path(__file__).resolve()  # its own examples prove nothing
    known = names_in(p.read_text(errors="replace") for p in files if p.resolve() != this) | set(INTERNAL)
    stale = {}
    for path in DOCUMENTS:
        for name in names_in([path.read_text()]) - known:
            stale.setdefault(name, str(path.relative_to(ROOT)))
    assert stale == {}, "these names are in the docs but nowhere in the code: " + ", ".join(
        f"{n} ({f})" for n, f in sorted(stale.items())
    )
