"""The merge of the engines' pytest modules (pure, no engine needed)."""

from __future__ import annotations

import ast
from pathlib import Path

from handoff.offline_engine.merge_tests import main, merge

CROSSHAIR = "from pkg.calc import clamp\n\ndef test_clamp():\n    assert clamp(0, 0, 0) == 0\n"
PYNGUIN = "import pkg.calc\n\ndef test_0():\n    assert pkg.calc.clamp(1, 0, 2) == 1\n\ndef helper():\n    pass\n"


def test_merged_tests_are_renamed_per_engine_and_never_collide() -> None:
    """Each engine's test functions get its name, helpers keep theirs, and the result is one valid module."""
    text, notes = merge("pkg.calc", [("crosshair", CROSSHAIR), ("pynguin", PYNGUIN)])
    names = [n.name for n in ast.parse(text).body if isinstance(n, ast.FunctionDef)]
    assert names == ["test_crosshair_clamp", "test_pynguin_0", "helper"]
    assert notes == ["crosshair: 1 test(s)", "pynguin: 1 test(s)"]
    assert "offline engine (crosshair, pynguin)" in text


def test_an_engine_output_that_does_not_parse_is_skipped_with_a_reason() -> None:
    """Broken output of one engine leaves the other engine's tests intact."""
    text, notes = merge("pkg.calc", [("crosshair", "def test_x(:\n"), ("pynguin", PYNGUIN)])
    assert "test_pynguin_0" in text and "crosshair" not in text.split("\n", 1)[0]
    assert notes[0] == "crosshair: no tests (1 that did not parse left out)"


def test_nothing_is_written_when_no_engine_produced_a_test() -> None:
    """No tests at all gives an empty text and says so for each engine."""
    text, notes = merge("pkg.calc", [("crosshair", ""), ("pynguin", "import os\n")])
    assert text == ""
    assert notes == ["crosshair: no output", "pynguin: no tests"]


def test_an_existing_test_file_keeps_its_tests_and_gets_the_engines_tests_after_them(tmp_path: Path) -> None:
    """The test file the prompt names may be the project's own: its tests stay, byte for byte, first."""
    own = "def test_own():\n    assert 1 + 1 == 2\n"
    out = tmp_path / "tests" / "test_calc.py"
    out.parent.mkdir()
    out.write_text(own)
    engine = tmp_path / "crosshair.py"
    engine.write_text(CROSSHAIR)
    assert main(["--module", "pkg.calc", "--out", str(out), f"crosshair={engine}"]) == 0
    text = out.read_text()
    assert text.startswith(own) and "def test_crosshair_clamp" in text
    ast.parse(text)


# CrossHair 0.0.113 on cachetools 8.0.2's keys.py: a **kwargs key it chose as '' is written as a call Python cannot
# parse; the tests around it are good
CROSSHAIR_KWARGS = """from cachetools.keys import hashkey
from cachetools.keys import typedkey

def test_typedkey():
    assert typedkey(=0) == (('', 0), int)

def test_typedkey_2():
    assert typedkey() == ()

@pytest.mark.skip
def test_hashkey():
    assert hashkey(
        =0) == (('', 0),)

def test_hashkey_2():
    assert hashkey() == ()
"""


def test_the_tests_of_an_engine_that_do_not_parse_are_cut_and_the_others_kept() -> None:
    """Only the test functions holding a syntax error go (with their decorators); the note counts them."""
    text, notes = merge("cachetools.keys", [("crosshair", CROSSHAIR_KWARGS)])
    names = [n.name for n in ast.parse(text).body if isinstance(n, ast.FunctionDef)]
    assert names == ["test_crosshair_typedkey_2", "test_crosshair_hashkey_2"]
    assert "pytest.mark.skip" not in text and "from cachetools.keys import hashkey" in text
    assert notes == ["crosshair: 2 test(s) (2 that did not parse left out)"]


def test_output_broken_outside_a_test_function_is_still_skipped_whole() -> None:
    """A syntax error in an import or helper is not cut around: that engine's output is skipped with the reason."""
    broken_import = "from pkg.calc import (clamp\n\ndef test_clamp():\n    assert clamp(0, 0, 0) == 0\n"
    text, notes = merge("pkg.calc", [("crosshair", broken_import)])
    assert text == "" and notes[0].startswith("crosshair: output does not parse")


def test_an_engine_function_imported_under_a_builtins_name_is_aliased_so_the_builtin_stays() -> None:
    """CrossHair's ``from boltons.typeutils import issubclass`` (boltons 26.2.0) appended to the project's test file
    would replace the builtin for the project's own tests there: it is imported as typeutils_issubclass."""
    crosshair = (
        "from boltons.typeutils import issubclass\n\ndef test_issubclass():\n    assert issubclass('', '') == False\n"
    )
    text, _ = merge("boltons.typeutils", [("crosshair", crosshair)])
    bound = [a.asname or a.name for n in ast.parse(text).body if isinstance(n, ast.ImportFrom) for a in n.names]
    assert bound == ["typeutils_issubclass"]
    assert "from boltons.typeutils import issubclass as typeutils_issubclass" in text
    assert "assert typeutils_issubclass('', '') == False" in text
