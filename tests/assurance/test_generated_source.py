"""Finding test functions with ast and cutting some out while every other byte stays."""

from __future__ import annotations

import ast
from pathlib import Path

from handoff.assurance.checks import Checks
from handoff.assurance.generated_source import find_tests, remove_tests, without_unused
from handoff.offline_engine.merge_tests import merge

SOURCE = '''import pytest  # keep me

from pkg import f


def check(value):
    assert value > 0


@pytest.mark.parametrize("x", [1, 2])
def test_decorated(x):
    assert f(x)


def test_via_helper():
    check(f(1))


def test_nothing():
    f(1)


class TestGroup:
    """Docstring."""

    def test_only(self):
        with pytest.raises(ValueError):
            f(-1)


CONSTANT = 3  # trailing code stays
'''


def test_functions_are_found_with_their_decorators_and_whether_they_check_anything() -> None:
    """Spans start at the first decorator; a call to an asserting helper counts as a check, a bare call does not."""
    found = {fn.qualname: fn for fn in find_tests(SOURCE)}
    assert list(found) == ["test_decorated", "test_via_helper", "test_nothing", "TestGroup.test_only"]
    assert (found["test_decorated"].start, found["test_decorated"].end) == (10, 12)
    assert [fn.checks for fn in found.values()] == [Checks.VALUE, Checks.VALUE, Checks.NOTHING, Checks.VALUE]


def test_removing_functions_keeps_every_other_line_byte_for_byte() -> None:
    """Cutting a decorated function and an emptied class leaves exactly the other lines."""
    pruned = remove_tests(SOURCE, {"test_decorated", "TestGroup.test_only"})
    decorated = '@pytest.mark.parametrize("x", [1, 2])\ndef test_decorated(x):\n    assert f(x)\n\n\n'
    group = SOURCE[SOURCE.index("class TestGroup:") : SOURCE.index("CONSTANT")]
    expected = SOURCE.replace(decorated, "").replace(group, "")
    assert expected != SOURCE and pruned == expected
    assert [fn.qualname for fn in find_tests(pruned)] == ["test_via_helper", "test_nothing"]


def test_a_class_keeps_its_other_tests_when_one_method_is_removed() -> None:
    """Only the named method goes; the class and its remaining method stay."""
    source = "class TestA:\n    def test_x(self):\n        assert 1\n\n    def test_y(self):\n        assert 2\n"
    assert remove_tests(source, {"TestA.test_x"}) == "class TestA:\n    def test_y(self):\n        assert 2\n"


def test_removing_the_last_tests_leaves_no_blank_lines_at_the_end_of_the_file() -> None:
    """The blank lines before a removed last function do not stay behind: the file ends with one newline (git
    flagged isodate's kept file "new blank line at EOF")."""
    source = "def test_kept():\n    assert 1\n\n\ndef test_a():\n    assert 2\n\n\ndef test_b():\n    assert 3\n"
    assert remove_tests(source, {"test_a", "test_b"}) == "def test_kept():\n    assert 1\n"
    assert remove_tests(source, {"test_a"}) == "def test_kept():\n    assert 1\n\n\ndef test_b():\n    assert 3\n"


def test_unittest_test_case_subclasses_of_any_name_are_test_classes() -> None:
    """pytest collects a TestCase subclass whatever its name (cachetools' ``CacheKeysTest``), also through a base
    class of the same file; a plain class not named Test* is not a test class."""
    source = (
        "import unittest\n\n\nclass CacheKeysTest(unittest.TestCase):\n    def test_hashkey(self):\n"
        "        self.assertEqual(hashkey(1), hashkey(1))\n\n\n"
        "class Base(TestCase):\n    def helper(self):\n        pass\n\n\n"
        "class Derived(Base):\n    def test_derived(self):\n        pass\n\n\n"
        "class Helpers:\n    def test_not_collected(self):\n        assert 1\n"
    )
    found = {fn.qualname: fn.checks for fn in find_tests(source)}
    assert found == {"CacheKeysTest.test_hashkey": Checks.VALUE, "Derived.test_derived": Checks.NOTHING}


# ---- imports and fixtures only the removed tests used -----------------------------------------------------------
ENGINE_OUTPUT = Path(__file__).parents[1] / "offline_engine" / "engine_output"


def _merge(sources: list[tuple[str, str]], module: str) -> str:
    """The offline engine's new test file, as merge_tests.py writes it."""
    text, _ = merge(module, sources)
    return text


ISO8601 = [("crosshair", (ENGINE_OUTPUT / "iso8601_2.1.0_crosshair.txt").read_text()),
           ("pynguin", (ENGINE_OUTPUT / "iso8601_2.1.0_pynguin.txt").read_text())]  # fmt: skip


def test_an_import_only_the_removed_tests_used_goes_and_the_rest_stays_byte_for_byte() -> None:
    """iso8601 2.1.0: CrossHair's FixedOffset and is_iso8601 tests dropped left `from iso8601.iso8601 import
    FixedOffset, ...`; the names only they used leave the import, every other line stays."""
    merged = _merge(ISO8601, "iso8601.iso8601")
    cut = remove_tests(merged, {"test_fixed_offset_1", "test_is_iso8601_1"})
    pruned = without_unused(merged, cut)

    assert "from iso8601.iso8601 import FixedOffset, ParseError, is_iso8601\n" in cut
    assert pruned == cut.replace("from iso8601.iso8601 import FixedOffset, ParseError, is_iso8601\n",
                                 "from iso8601.iso8601 import ParseError\n")  # fmt: skip


def test_a_group_of_imports_only_removed_tests_used_goes_with_its_blank_lines() -> None:
    """Every CrossHair test dropped: its import line goes, and the blank lines around the imports stay as before."""
    source = (
        '"""Doc."""\n\nimport datetime\n\nimport pytest\n\nfrom pkg.calc import clamp\n\n\n'
        "def test_a():\n    assert clamp(1) == datetime.date(2000, 1, 1)\n\n\n"
        "def test_b():\n    with pytest.raises(ValueError):\n        int('x')\n"
    )
    pruned = without_unused(source, remove_tests(source, {"test_a"}))

    assert pruned == (
        '"""Doc."""\n\nimport pytest\n\n\ndef test_b():\n    with pytest.raises(ValueError):\n        int(\'x\')\n'
    )


def test_pynguins_seeding_fixture_goes_with_the_imports_only_it_used_when_none_of_its_tests_is_kept() -> None:
    """No Pynguin test kept: `pynguin_seeded_random` (asked for by `usefixtures`) and `random` go; `pytest` stays
    while a kept test uses it."""
    crosshair = "import pytest\nfrom pkg.dice import roll\n\ndef test_roll():\n    with pytest.raises(ValueError):\n" \
                "        roll(0)\n"  # fmt: skip
    merged = _merge([("crosshair", crosshair), ("pynguin", (ENGINE_OUTPUT / "dice_pynguin.txt").read_text())],
                    "pkg.dice")  # fmt: skip
    kept, *pynguin = [t.qualname for t in find_tests(merged)]  # CrossHair's test first, then Pynguin's
    assert "def pynguin_seeded_random():" in merged and "import random" in merged.splitlines() and pynguin

    pruned = without_unused(merged, remove_tests(merged, set(pynguin)))

    assert "pynguin_seeded_random" not in pruned
    assert "import random" not in pruned.splitlines() and "import pkg.dice as dice_" not in pruned.splitlines()
    assert [t.qualname for t in find_tests(pruned)] == [kept]
    assert "import pytest" in pruned.splitlines()
    compile(pruned, "pruned", "exec")
    used = {n.id for n in ast.walk(ast.parse(pruned)) if isinstance(n, ast.Name)}
    imported = {a.asname or a.name.split(".")[0] for n in ast.walk(ast.parse(pruned))
                if isinstance(n, ast.Import | ast.ImportFrom) for a in n.names}  # fmt: skip
    assert imported <= used


def test_what_the_project_version_imports_and_imports_unused_before_stay() -> None:
    """An extended file: the project's own `import pytest` stays though only the dropped tests used it; an import
    nothing used before the cut (imported for its effect) stays as well."""
    own = "import pytest\nimport pkg.plugin\n\nfrom pkg.calc import clamp\n\n\ndef test_own():\n    assert clamp(1)\n"
    extended = own.replace("from pkg.calc import clamp\n", "from pkg.calc import clamp\nfrom pkg.calc import limit\n")
    extended += "\n\ndef test_gen():\n    with pytest.raises(ValueError):\n        limit(-1)\n"

    pruned = without_unused(extended, remove_tests(extended, {"test_gen"}), own)

    assert pruned == own
