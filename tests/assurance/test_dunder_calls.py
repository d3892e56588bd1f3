"""A special method called by name on a local is written as its operator or builtin; anything else stays."""

from __future__ import annotations

import textwrap

from handoff.assurance.dunder_calls import plain_operators


def _src(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def test_builtins_and_arithmetic_are_written_as_a_reader_expects() -> None:
    source = _src("""
        def test_key():
            key = core_.EqualityHashKey(key=None, item=1)
            assert key.__str__() == "=1="
            assert len([key.__hash__()]) == 1
            total = key.__add__(other.__mul__(2))
            assert total.__sub__(1) == 2
    """)
    assert plain_operators(source) == _src("""
        def test_key():
            key = core_.EqualityHashKey(key=None, item=1)
            assert str(key) == "=1="
            assert len([hash(key)]) == 1
            total = key + other.__mul__(2)
            assert (total - 1) == 2
    """)


def test_comparisons_are_written_as_operators_and_parenthesised_where_they_could_chain() -> None:
    """The checks rule reads ``key != key`` of a built object of a class defining ``__ne__`` as a call of it
    (checks.py), so the comparison is written as a reader expects (toolz sandbox/core.py's ``__ne__`` tests)."""
    source = _src("""
        def test_key():
            key = mod.Key()
            ne_result = key.__ne__(other=key)
            assert ne_result is False
            assert key.__eq__(key) is True
            assert key.__lt__(other=1)
    """)
    assert plain_operators(source) == _src("""
        def test_key():
            key = mod.Key()
            ne_result = key != key
            assert ne_result is False
            assert (key == key) is True
            assert key < 1
    """)


def test_a_call_through_the_class_on_an_object_built_of_it_is_written_as_the_builtin() -> None:
    """toolz 1.0.0: a kept test read ``EqualityHashKey.__repr__(EqualityHashKey(0, 0)) == '=0='``; the method is the
    built object's own, as ``repr`` calls it."""
    source = _src("""
        def test_key():
            assert EqualityHashKey.__repr__(EqualityHashKey(0, 0)) == '=0='
            assert core_.Key.__ne__(core_.Key(1), other) is True
            assert Key.__str__(Other(1)) == 'x'
    """)
    assert plain_operators(source) == _src("""
        def test_key():
            assert repr(EqualityHashKey(0, 0)) == '=0='
            assert (core_.Key(1) != other) is True
            assert Key.__str__(Other(1)) == 'x'
    """)


def test_calls_through_the_class_or_with_other_arguments_stay() -> None:
    source = _src("""
        def test_key():
            assert core_.EqualityHashKey.__ne__(key, key) is False
            assert Week.__eq__(week)
            assert key.__eq__(a, b)
            assert key.__str__(1)
            assert key.__format__("x")
            assert key.__eq__(*args)
            assert mod.key.__eq__(1)


        def test_not_implemented():
            assert key.__add__(1) is NotImplemented
    """)
    assert plain_operators(source) == source


def test_an_argument_that_is_itself_an_operation_is_parenthesised() -> None:
    source = "def test_x():\n    assert x.__sub__(a - b) == 1\n"
    assert plain_operators(source) == "def test_x():\n    assert (x - (a - b)) == 1\n"


def test_the_skipped_tests_stay() -> None:
    source = "def test_own():\n    assert x.__add__(y)\n"
    assert plain_operators(source, skip={"test_own"}) == source
    assert plain_operators(source) == "def test_own():\n    assert x + y\n"
