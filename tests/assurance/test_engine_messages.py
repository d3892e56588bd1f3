"""A ``pytest.raises`` whose ``match`` quotes CrossHair's stand-in types loses the ``match``: the concrete run names
the real type, and the exception's type is what the test can check."""

from __future__ import annotations

import textwrap

from handoff.assurance.engine_messages import without_stand_in_matches


def _src(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def test_a_match_naming_a_symbolic_type_is_taken_out_and_the_rest_stays() -> None:
    source = _src("""
        def test_get_in():
            with pytest.raises(TypeError, match="'SymbolicBoundedInt' object is not callable"):
                get_in(0, 0)
            with pytest.raises(ValueError, match='bad value'):
                parse("x")


        def test_keys():
            with pytest.raises(
                AttributeError,
                match="'LazyIntSymbolicStr' object has no attribute 'keys'",
            ):
                keys("é")
    """)
    assert without_stand_in_matches(source) == _src("""
        def test_get_in():
            with pytest.raises(TypeError):
                get_in(0, 0)
            with pytest.raises(ValueError, match='bad value'):
                parse("x")


        def test_keys():
            with pytest.raises(
                AttributeError,
            ):
                keys("é")
    """)


def test_a_match_after_unicode_on_its_line_is_cut_exactly() -> None:
    source = 'def test_x():\n    with raises(TypeError, match="SymbolicObject é"): f("é")\n'
    assert without_stand_in_matches(source) == 'def test_x():\n    with raises(TypeError): f("é")\n'


def test_the_skipped_tests_and_plain_messages_stay() -> None:
    source = _src("""
        def test_projects_own():
            with pytest.raises(TypeError, match="SymbolicInt"):
                f()


        def test_plain():
            with pytest.raises(TypeError, match="'int' object is not callable"):
                f()
    """)
    assert without_stand_in_matches(source, skip={"test_projects_own"}) == source
