"""Finding test functions with ast and cutting some out while every other byte stays."""

from __future__ import annotations

from handoff.assurance.checks import Checks
from handoff.assurance.generated_source import find_tests, remove_tests

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
