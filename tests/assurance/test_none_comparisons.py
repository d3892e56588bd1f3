"""A comparison with None by equality in a generated test is written as an identity check; anything else stays."""

from __future__ import annotations

import textwrap

from handoff.assurance.none_comparisons import identity_checks


def _src(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def test_equality_with_none_is_written_as_an_identity_check() -> None:
    """isodate 0.7.2's kept test asserted ``parse_tzinfo('') == None``."""
    source = _src("""
        def test_empty():
            assert parse_tzinfo('') == None
            assert (result)!=None
            assert None == build(1,
                                 2) or None != value
            flag = tz.utcoffset(None) == None
    """)
    assert identity_checks(source) == _src("""
        def test_empty():
            assert parse_tzinfo('') is None
            assert (result) is not None
            assert None == build(1,
                                 2) or value is not None
            flag = tz.utcoffset(None) is None
    """)  # an operand over two lines, written second, stays as it is


def test_chains_other_operators_helpers_and_skipped_tests_stay() -> None:
    source = _src("""
        def helper(x):
            assert x == None


        def test_chain():
            assert a == None == b
            assert a is None
            assert a < None
            assert None == None


        def test_own():
            assert a == None


        class TestThing:
            def test_method(self):
                self.assertTrue(x != None)
    """)
    assert identity_checks(source, skip={"test_own"}) == source.replace("x != None", "x is not None")


def test_a_comparison_within_a_comparison_is_rewritten_inside_and_out() -> None:
    source = "def test_x():\n    assert (a == None) == None\n"
    assert identity_checks(source) == "def test_x():\n    assert (a is None) is None\n"


def test_a_source_that_does_not_parse_is_returned_as_it_is() -> None:
    source = "def test_x(:\n    assert a == None\n"
    assert identity_checks(source) == source
