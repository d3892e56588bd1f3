"""The merge of the engines' pytest modules (pure, no engine needed)."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

from handoff.offline_engine.merge_tests import main, merge

CROSSHAIR = "from pkg.calc import clamp\n\ndef test_clamp():\n    assert clamp(0, 0, 0) == 0\n"
PYNGUIN = "import pkg.calc\n\ndef test_0():\n    assert pkg.calc.clamp(1, 0, 2) == 1\n\ndef helper():\n    pass\n"


def test_merged_tests_are_named_after_what_they_call_and_never_collide() -> None:
    """Tests of the same function are numbered, helpers keep their names, and the result is one valid module."""
    text, notes = merge("pkg.calc", [("crosshair", CROSSHAIR), ("pynguin", PYNGUIN)])
    names = [n.name for n in ast.parse(text).body if isinstance(n, ast.FunctionDef)]
    assert names == ["test_clamp_1", "test_clamp_2", "helper"]
    assert notes == ["crosshair: 1 test(s)", "pynguin: 1 test(s)"]
    assert "offline engine (crosshair, pynguin)" in text


def test_an_engine_output_that_does_not_parse_is_skipped_with_a_reason() -> None:
    """Broken output of one engine leaves the other engine's tests intact."""
    text, notes = merge("pkg.calc", [("crosshair", "def test_x(:\n"), ("pynguin", PYNGUIN)])
    assert "def test_clamp()" in text and "crosshair" not in text.split("\n", 1)[0]
    assert notes[0] == "crosshair: no tests (1 that did not parse left out)"


def test_nothing_is_written_when_no_engine_produced_a_test() -> None:
    """No tests at all gives an empty text and says so for each engine."""
    text, notes = merge("pkg.calc", [("crosshair", ""), ("pynguin", "import os\n")])
    assert text == ""
    assert notes == ["crosshair: no output", "pynguin: no tests"]


def test_an_existing_test_file_keeps_its_tests_and_gets_the_engines_tests_after_them(tmp_path: Path) -> None:
    """The test file the prompt names may be the project's own: its lines stay, its tests come first."""
    own = "def test_own():\n    assert 1 + 1 == 2\n"
    out = tmp_path / "tests" / "test_calc.py"
    out.parent.mkdir()
    out.write_text(own)
    engine = tmp_path / "crosshair.py"
    engine.write_text(CROSSHAIR)
    assert main(["--module", "pkg.calc", "--out", str(out), f"crosshair={engine}"]) == 0
    text = out.read_text()
    assert text == "from pkg.calc import clamp\n\n\n" + own + "\n\ndef test_clamp():\n    assert clamp(0, 0, 0) == 0\n"


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
    assert names == ["test_typedkey", "test_hashkey"]
    assert "pytest.mark.skip" not in text and "from cachetools.keys import hashkey, typedkey" in text
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


# ---- on real engine output ------------------------------------------------------------------------------------
# engine_output/ holds what CrossHair 0.0.113 (function by function) and Pynguin 0.48 (--seed 1) wrote for iso8601
# 2.1.0's iso8601/iso8601.py, and what Pynguin wrote for dice_module.txt (a module using ``random``), unedited
OUTPUT = Path(__file__).with_name("engine_output")
ISO8601 = [("crosshair", (OUTPUT / "iso8601_2.1.0_crosshair.txt").read_text()),
           ("pynguin", (OUTPUT / "iso8601_2.1.0_pynguin.txt").read_text())]  # fmt: skip
# a project's test file for the module, laid out as iso8601's own (docstring, imports, tests)
OWN_ISO8601_TESTS = '''"""Tests of iso8601's parser."""

import datetime

import pytest

import iso8601


def test_parse_date():
    assert iso8601.parse_date("2007-01-01T08:00:00Z").year == 2007


@pytest.mark.parametrize("text", ["2007-01-01", "2007-01-01T08:00"])
def test_parse_date_without_timezone(text):
    assert iso8601.parse_date(text).tzinfo == datetime.timezone.utc
'''


def imports_of(tree: ast.Module) -> list[str]:
    """Every top-level import, one per imported name (``x = sys.modules[...]`` included), in order."""
    found = []
    for node in tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            found += [ast.unparse(type(node)(**{**node.__dict__, "names": [a]})) for a in node.names]
        elif isinstance(node, ast.Assign) and "sys.modules" in ast.unparse(node):
            found.append(ast.unparse(node))
    return found


def test_engine_tests_added_to_a_project_file_share_its_one_import_block_after_its_docstring() -> None:
    """iso8601 2.1.0: the engines' tests added to the project's test file brought a second module docstring,
    imports after the project's tests and imports the file already had; now the file keeps one docstring, one
    import block at its top (the engines' imports right after its own) and no name imported twice."""
    text, _ = merge("iso8601.iso8601", ISO8601, OWN_ISO8601_TESTS)
    tree = ast.parse(text)
    docstrings = [n for n in ast.walk(tree) if isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)
                  and isinstance(n.value.value, str) and n in tree.body]  # fmt: skip
    assert docstrings == [tree.body[0]]
    first_code = next(i for i, n in enumerate(tree.body[1:], 1) if not isinstance(n, ast.Import | ast.ImportFrom)
                      and "sys.modules" not in ast.unparse(n))  # fmt: skip
    assert not [n for n in tree.body[first_code:] if isinstance(n, ast.Import | ast.ImportFrom)]
    names = imports_of(tree)
    assert len(names) == len(set(names)), names
    own_imports = "import datetime\n\nimport pytest\n\nimport iso8601\n"
    assert text.startswith(
        '"""Tests of iso8601\'s parser."""\n\n' + own_imports + "import iso8601.iso8601 as iso8601_\n"
    )
    assert OWN_ISO8601_TESTS.split(own_imports)[1] in text  # the project's tests, unchanged, before the engines'


def test_a_crosshair_test_imports_the_modules_its_expected_values_name_itself() -> None:
    """CrossHair writes ``datetime.timezone(...)`` as an expected value and imports only the function under test:
    its test passed only because Pynguin's section, later in the file, imported datetime. Each engine's tests
    now get the imports they use, whatever the other engine wrote."""
    crosshair_only, _ = merge("iso8601.iso8601", ISO8601[:1])
    assert "import datetime" in crosshair_only.splitlines()
    namespace: dict[str, object] = {}
    exec(compile("import datetime\n" + crosshair_only.split("from iso8601", 1)[0], "<imports>", "exec"), namespace)
    assert "datetime" in namespace


def test_a_new_file_of_both_engines_has_one_import_block_without_repeats() -> None:
    """Both engines import what they test: one block at the top, each module once, standard library first."""
    text, _ = merge("iso8601.iso8601", ISO8601)
    block = text.split("\n\n\ndef ", 1)[0].split('"""\n\n', 1)[1]
    assert block == (
        "import datetime\n\nimport iso8601.iso8601 as iso8601_\nimport pytest\n"
        "from iso8601.iso8601 import FixedOffset, ParseError, is_iso8601"
    )
    names = imports_of(ast.parse(text))
    assert len(names) == len(set(names)), names


def test_tests_are_named_after_the_function_they_call_numbered_and_never_a_project_tests_name() -> None:
    """Pynguin's test_0, test_1, ... and CrossHair's test_FixedOffset become test_<function called>, numbered when
    several call the same; the project already has test_parse_date, so the engines' are test_parse_date_1, ...:
    the filters tell the project's tests from the engines' by name, so none may take a project test's name."""
    from handoff.assurance.generated_source import find_tests

    text, _ = merge("iso8601.iso8601", ISO8601, OWN_ISO8601_TESTS)
    own = {t.qualname for t in find_tests(OWN_ISO8601_TESTS)}
    added = [t.qualname for t in find_tests(text) if t.qualname not in own]
    assert added == [
        "test_fixed_offset_1", "test_is_iso8601_1", "test_parse_timezone", "test_parse_date_1", "test_parse_date_2",
        "test_is_iso8601_2", "test_parse_date_3", "test_fixed_offset_2", "test_parse_date_4",
    ]  # fmt: skip
    assert [t.qualname for t in find_tests(text)][: len(own)] == sorted(own)


def test_a_method_call_on_an_object_the_test_built_names_the_class_and_method() -> None:
    """``var_0 = mod.Stock(); var_0.take(...)`` is a test of Stock.take: test_stock_take."""
    pynguin = (
        "import pkg.stock as module_0\n\ndef test_0():\n    var_0 = module_0.Stock()\n"
        "    var_1 = var_0.take('a', 1)\n    assert var_1 == 0\n"
    )
    text, _ = merge("pkg.stock", [("pynguin", pynguin)])
    assert [n.name for n in ast.parse(text).body if isinstance(n, ast.FunctionDef)] == ["test_stock_take"]


OWN_DICE_TESTS = """import random

from pkg.dice import label


def test_label_of_a_low_value():
    assert label(1) == "low"


def test_fresh_generators_differ():
    assert random.Random().random() != random.Random().random()


def test_draws_continue_the_sessions_sequence():
    assert random.random() != random.Random(1).random()
"""


def test_pynguins_seeding_prelude_leaves_the_projects_tests_random_state_alone(tmp_path: Path) -> None:
    """Pynguin's prelude (written when the module uses ``random``) replaced ``random.Random.seed`` at import and
    reseeded ``random`` before every test of its module: every fresh ``random.Random()`` of the session drew the
    same numbers and the project's tests in the extended file started from seed 1. Now only the engine's tests use
    a fixture that seeds ``random`` and puts its state back; the project's tests, in that file and another one
    collected before it, pass."""
    root = tmp_path / "project"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "dice.py").write_text((OUTPUT / "dice_module.txt").read_text())
    (root / "tests").mkdir()
    (root / "tests" / "test_dice.py").write_text(OWN_DICE_TESTS)
    (root / "tests" / "test_a_ids.py").write_text(
        "import random\n\n\ndef test_ids_differ():\n    assert random.Random().random() != random.Random().random()\n"
    )
    pynguin = tmp_path / "pynguin.py"
    pynguin.write_text((OUTPUT / "dice_pynguin.txt").read_text())
    assert main(["--module", "pkg.dice", "--out", str(root / "tests" / "test_dice.py"), f"pynguin={pynguin}"]) == 0
    assert "_pynguin_" not in (root / "tests" / "test_dice.py").read_text()

    done = subprocess.run([sys.executable, "-m", "pytest", "-rA", "-p", "no:cacheprovider", "-p", "no:randomly",
                           "tests"], cwd=root, env={**os.environ, "PYTHONPATH": str(root)}, capture_output=True,
                          text=True, check=False)  # fmt: skip
    outcomes = dict(reversed(line.split(" ", 1)) for line in done.stdout.splitlines()
                    if line.startswith(("PASSED ", "FAILED ", "XFAIL ", "ERROR ")))  # fmt: skip
    project_tests = ["tests/test_a_ids.py::test_ids_differ", "tests/test_dice.py::test_label_of_a_low_value",
                     "tests/test_dice.py::test_fresh_generators_differ",
                     "tests/test_dice.py::test_draws_continue_the_sessions_sequence"]  # fmt: skip
    assert {test: outcomes.get(test) for test in project_tests} == dict.fromkeys(project_tests, "PASSED"), done.stdout
    assert outcomes["tests/test_dice.py::test_roll"] == "PASSED", done.stdout


def test_the_engine_command_carrying_the_merge_script_stays_short_for_the_agents_terminal() -> None:
    """The agent's terminal types the command into an interactive shell: with the merge script in plain base64
    (33 KB) the command did not finish within its timeout on iso8601 2.1.0 and the task failed with "no engine
    output"; packed, it is shorter than the 11 KB the earlier, smaller script made. The packed script is the
    script's own lines without comments (re-written by ``ast.unparse`` it held f-strings Python < 3.12 cannot
    parse), with those of the modules it imports (``raises_match.py``, ``public_imports.py``) in place of the
    imports, none of their names bound twice."""
    import base64
    import zlib

    from handoff.offline_engine import OfflineEngineSettings
    from handoff.offline_engine.commands import MERGE_SCRIPT, engine_command, packed_merge_script

    command = engine_command("iso8601/iso8601.py", "tests/test_iso8601.py", OfflineEngineSettings())
    assert len(command) < 11_000, len(command)
    unpacked = zlib.decompress(base64.b64decode(packed_merge_script())).decode().splitlines()
    script = MERGE_SCRIPT.read_text()
    helpers = [MERGE_SCRIPT.with_name(f"{name}.py").read_text() for name in ("public_imports", "raises_match")]
    at = script.index("from handoff.offline_engine.")
    original = iter((script[:at] + "".join(helpers) + script[at:]).splitlines())
    # the same lines, in order, trailing comments cut
    assert all(any(o.startswith(line) and o[len(line) :].strip()[:1] in ("", "#") for o in original)
               for line in unpacked[1:])  # fmt: skip
    assert "from handoff" not in "\n".join(unpacked)
    functions = [n.name for n in ast.walk(ast.parse("\n".join(unpacked))) if isinstance(n, ast.FunctionDef)]
    assert sorted(functions) == sorted(name for source in [script, *helpers] for name in _functions(source))
    defined = [_top_level_names(source) for source in [script, *helpers]]
    assert sum(map(len, defined)) == len(set().union(*defined))


def _functions(source: str) -> list[str]:
    return [n.name for n in ast.walk(ast.parse(source)) if isinstance(n, ast.FunctionDef)]


def _top_level_names(source: str) -> set[str]:
    """The names a module's definitions and assignments bind (not its imports)."""
    tree = ast.parse(source)
    names = {n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.ClassDef)}
    return names | {t.id for n in tree.body if isinstance(n, ast.Assign | ast.AnnAssign)
                    for t in ast.walk(n) if isinstance(t, ast.Name) and isinstance(t.ctx, ast.Store)}  # fmt: skip


def test_the_engines_imports_follow_a_files_imports_directly_and_a_docstring_after_a_blank_line() -> None:
    """PEP 8 spacing: no blank line inside the import block, one after a docstring, two before the code."""
    own = "import os\n\n\ndef test_own():\n    assert os.sep\n"
    text, _ = merge("pkg.calc", [("crosshair", CROSSHAIR)], own)
    assert text.startswith("import os\nfrom pkg.calc import clamp\n\n\ndef test_own():")
    text, _ = merge("pkg.calc", [("crosshair", CROSSHAIR)], '"""Own."""\n\n\ndef test_own():\n    pass\n')
    assert text.startswith('"""Own."""\n\nfrom pkg.calc import clamp\n\n\ndef test_own():')


def test_every_name_the_merged_file_imports_is_used_so_a_linters_fix_removes_nothing_it_needs() -> None:
    """Pynguin binds its module with ``hashids_ = sys.modules['hashids']`` after ``import hashids``: ruff's F401
    saw that import as unused, and ``ruff check --fix`` (itsdangerous sets ``fix = true``) removed it, so the
    lookup raised KeyError. The binding is now the import it is: ``import hashids as hashids_``."""
    text, _ = merge("iso8601.iso8601", ISO8601)
    tree = ast.parse(text)
    bound = {
        alias.asname or (alias.name.split(".")[0] if isinstance(node, ast.Import) else alias.name)
        for node in tree.body
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    assert bound <= used, bound - used
    assert "sys.modules" not in text
