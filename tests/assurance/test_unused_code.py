"""Cutting what only the removed tests used: imports, fixtures, helpers, classes and constants."""

from __future__ import annotations

import ast
from pathlib import Path

from handoff.assurance.generated_source import find_tests, remove_tests
from handoff.assurance.unused_code import without_unused
from handoff.offline_engine.merge_tests import merge

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


# ---- helpers, classes and constants only the removed tests reached ----------------------------------------------
def test_helpers_classes_and_constants_only_the_removed_tests_reached_go_with_what_only_they_used() -> None:
    """A helper function, a class and a constant only a dropped test used go; so do a helper only the removed helper
    called, a recursive helper, and the imports they alone used. What a kept test reaches, directly or through a
    kept helper (`check_clamp`, `SCALE`), stays, every byte as it was, two blank lines between definitions."""
    source = (
        "import json\n\nfrom pkg.calc import clamp, limit\n\nLIMITS = [1, 2, 3]\nSCALE = 10\n\n\n"
        "def _encoded(value):\n    return json.dumps(value)\n\n\n"
        "def _flattened(items):\n"
        "    return [x for i in items for x in (_flattened(i) if isinstance(i, list) else [i])]\n\n\n"
        "def check_limit(value):\n    assert limit(value) == _encoded(value)\n\n\n"
        "class FakeClock:\n    now = 0\n\n    def tick(self):\n        self.now += 1\n\n\n"
        "def check_clamp(value):\n    assert clamp(value) == value * SCALE\n\n\n"
        "def test_clamp():\n    check_clamp(3)\n\n\n"
        "def test_limit():\n    for value in _flattened([LIMITS]):\n        check_limit(value)\n"
        "    assert FakeClock().now == 0\n"
    )
    pruned = without_unused(source, remove_tests(source, {"test_limit"}))

    assert pruned == (
        "from pkg.calc import clamp\n\nSCALE = 10\n\n\n"
        "def check_clamp(value):\n    assert clamp(value) == value * SCALE\n\n\n"
        "def test_clamp():\n    check_clamp(3)\n"
    )


def test_what_pytest_or_a_kept_test_reaches_by_name_and_definitions_that_run_code_stay() -> None:
    """Only dropped tests called them, yet they stay: a name listed in `__all__`, an autouse fixture, fixtures a kept
    test names in `usefixtures` or in `parametrize(..., indirect=...)`, pytest's module hooks, a helper a decorator
    registers, a constant computed by a call, and a helper a kept test could reach through `globals()`."""
    kept = (
        "import pytest\n\nfrom pkg.calc import clamp, registry\n\n__all__ = ['exported']\n\n"
        "TABLE = registry.load()\n\n\n"
        "def exported():\n    return 1\n\n\n"
        "@pytest.fixture(autouse=True)\ndef fresh_registry():\n    registry.clear()\n\n\n"
        "@pytest.fixture\ndef one():\n    return 1\n\n\n"
        "@pytest.fixture\ndef two(request):\n    return request.param\n\n\n"
        "def setup_module():\n    registry.clear()\n\n\n"
        "@registry.register\ndef registered():\n    return 2\n\n\n"
        "@pytest.mark.usefixtures('one')\ndef test_one():\n    assert clamp(1) == 1\n\n\n"
        "@pytest.mark.parametrize('two', [2], indirect=['two'])\ndef test_two(value=None):\n    assert clamp(2)\n"
    )
    dropped = (
        "\n\ndef test_dropped(one, two):\n    setup_module()\n    fresh_registry()\n"
        "    assert exported() + registered() == TABLE[one + two]\n"
    )
    source = kept + dropped
    assert without_unused(source, remove_tests(source, {"test_dropped"})) == kept

    dynamic = "def helper():\n    return 1\n\n\ndef test_kept():\n    assert globals()['hel' + 'per']()\n"
    source = dynamic + "\n\ndef test_dropped():\n    assert helper()\n"
    assert without_unused(source, remove_tests(source, {"test_dropped"})) == dynamic


def test_what_the_project_part_of_an_extended_file_defines_or_uses_stays() -> None:
    """An extended file: the project's own helper and constant stay though only a dropped generated test used them;
    the generated helper that test alone called goes."""
    own = (
        "from pkg.calc import clamp\n\nBOUND = 3\n\n\ndef make_value():\n    return 3\n\n\n"
        "def test_own():\n    assert clamp(1)\n"
    )
    generated = (
        "\n\ndef check(value):\n    assert clamp(value) == BOUND\n\n\ndef test_gen():\n    check(make_value())\n"
    )
    extended = own + generated

    assert without_unused(extended, remove_tests(extended, {"test_gen"}), own) == own


# ---- the comments written over what goes ------------------------------------------------------------------------
COMMENTED = '''"""Tests for pkg.calc."""

# the clock the limit tests freeze
import datetime

import pytest

from pkg.calc import clamp
# limit is only exercised by test_limit
from pkg.calc import limit

# Upper bounds the limit tests walk through;
# small, so that the test stays fast.
LIMITS = [1, 2, 3]
# The factor every clamped value is scaled by.
SCALE = 10


# A clock frozen at the turn of the century.
@pytest.fixture
def frozen_clock():
    return datetime.datetime(2000, 1, 1)


# ---- clamp ----------------------------------------------------------------


# Asserts that a value comes back scaled.
def check_clamp(value):
    assert clamp(value) == value * SCALE


# Asserts that a value is its own limit.
# (limit is the identity below 4)
def check_limit(value):
    assert limit(value) == value


def test_clamp():
    check_clamp(3)


def test_limit(frozen_clock):
    for value in LIMITS:
        check_limit(value)
'''
COMMENTED_WITHOUT_TEST_LIMIT = '''"""Tests for pkg.calc."""

from pkg.calc import clamp

# The factor every clamped value is scaled by.
SCALE = 10


# ---- clamp ----------------------------------------------------------------


# Asserts that a value comes back scaled.
def check_clamp(value):
    assert clamp(value) == value * SCALE


def test_clamp():
    check_clamp(3)
'''


def test_the_comments_written_directly_over_a_cut_definition_or_import_go_with_it_and_its_decorators() -> None:
    """`test_limit` dropped: the comment lines directly over each import, constant, fixture (with its decorator) and
    helper only it used go with them (`import pytest` too: only the fixture's decorator used it); the section line
    set apart by blank lines and the comments over kept code stay."""
    assert without_unused(COMMENTED, remove_tests(COMMENTED, {"test_limit"})) == COMMENTED_WITHOUT_TEST_LIMIT


def test_a_comment_that_heads_kept_lines_or_opens_the_file_stays_when_the_definition_under_it_goes() -> None:
    """`# standard library` over `import datetime` and `import os` speaks of `os` too, which stays; the licence
    line the file opens with is the file's, not the import's under it."""
    source = (
        "# SPDX-License-Identifier: MIT\nimport json\n\n"
        "# standard library\nimport datetime\nimport os\n\n\n"
        "def test_sep():\n    assert os.sep\n\n\n"
        "def test_dumped():\n    assert json.dumps(datetime.date(2000, 1, 1).year) == '2000'\n"
    )
    assert without_unused(source, remove_tests(source, {"test_dumped"})) == (
        "# SPDX-License-Identifier: MIT\n\n# standard library\nimport os\n\n\ndef test_sep():\n    assert os.sep\n"
    )


def test_an_eval_of_a_string_literal_reads_only_the_names_in_it_so_imports_only_removed_tests_used_still_go() -> None:
    """docopt's test file calls ``docopt(eval("u'usage: prog'"), '')``: that eval reads no name, so it no longer
    keeps every import of the file; an eval whose text names a helper keeps that helper, and one of a computed
    string still keeps everything."""
    kept = (
        "from docopt import docopt, parse_atom\n\n\n"
        "def test_unicode():\n    assert docopt(eval(\"u'usage: prog'\"), '') == {}\n"
    )
    source = kept + "\n\ndef test_dropped():\n    assert parse_atom\n"
    assert without_unused(source, remove_tests(source, {"test_dropped"})) == kept.replace(", parse_atom", "")

    named = "def helper():\n    return 1\n\n\ndef test_kept():\n    assert eval('helper()') == 1\n"
    source = named + "\n\ndef test_dropped():\n    assert helper()\n"
    assert without_unused(source, remove_tests(source, {"test_dropped"})) == named

    computed = "import os\n\n\ndef test_kept():\n    assert eval('o' + 's')\n"
    source = computed + "\n\ndef test_dropped():\n    assert os\n"
    assert without_unused(source, remove_tests(source, {"test_dropped"})) == computed
