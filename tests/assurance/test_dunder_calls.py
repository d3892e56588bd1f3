"""A special method called by name on a local is written as its operator or builtin; anything else stays."""

from __future__ import annotations

import textwrap

from handoff.assurance.dunder_calls import plain_operators


def _src(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def test_comparisons_and_builtins_are_written_as_a_reader_expects() -> None:
    source = _src("""
        def test_key():
            key = core_.EqualityHashKey(key=None, item=1)
            ne_result = key.__ne__(other=key)
            assert ne_result is False
            assert key.__eq__(set) is False
            assert key.__str__() == "=1="
            assert len([key.__hash__()]) == 1
            total = key.__add__(other.__mul__(2))
    """)
    assert plain_operators(source) == _src("""
        def test_key():
            key = core_.EqualityHashKey(key=None, item=1)
            ne_result = key != key
            assert ne_result is False
            assert (key == set) is False
            assert str(key) == "=1="
            assert len([hash(key)]) == 1
            total = key + other.__mul__(2)
    """)


def test_calls_through_the_class_or_with_other_arguments_stay() -> None:
    source = _src("""
        def test_key():
            assert core_.EqualityHashKey.__ne__(key, key) is False
            assert key.__eq__(a, b)
            assert key.__str__(1)
            assert key.__format__("x")
            assert key.__eq__(*args)
            assert mod.key.__eq__(1)


        def test_not_implemented():
            assert key.__eq__(1) is NotImplemented
    """)
    assert plain_operators(source) == source


def test_an_argument_that_is_itself_an_operation_is_parenthesised() -> None:
    source = "def test_x():\n    assert x.__sub__(a - b) == 1\n"
    assert plain_operators(source) == "def test_x():\n    assert (x - (a - b)) == 1\n"


def test_the_skipped_tests_stay() -> None:
    source = "def test_own():\n    assert x.__ne__(y)\n"
    assert plain_operators(source, skip={"test_own"}) == source
    assert plain_operators(source) == "def test_own():\n    assert x != y\n"
