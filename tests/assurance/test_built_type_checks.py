"""An ``assert isinstance(x, C)`` right after ``x = C(...)`` cannot fail: it leaves the generated test; any other
check stays."""

from __future__ import annotations

import textwrap

from handoff.assurance.built_type_checks import without_built_type_checks


def _src(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def test_the_check_that_a_class_built_its_own_instance_is_taken_out() -> None:
    source = _src("""
        def test_equality_hash_key_ne():
            var_0 = core_.EqualityHashKey(key=None, item=1763.91)
            assert isinstance(var_0, core_.EqualityHashKey)
            var_12 = var_0.__ne__(other=var_0)
            assert var_12 is False


        class TestKey:
            def test_key(self):
                key = Key()
                assert isinstance(key, Key)
                assert key.name == ""
    """)
    assert without_built_type_checks(source) == _src("""
        def test_equality_hash_key_ne():
            var_0 = core_.EqualityHashKey(key=None, item=1763.91)
            var_12 = var_0.__ne__(other=var_0)
            assert var_12 is False


        class TestKey:
            def test_key(self):
                key = Key()
                assert key.name == ""
    """)


def test_checks_that_could_fail_or_say_more_stay() -> None:
    source = _src("""
        def test_other_class():
            var_0 = mod.make()
            assert isinstance(var_0, mod.Thing)
            var_1 = mod.Thing()
            assert isinstance(var_1, mod.Other)
            var_2 = mod.Thing()
            assert isinstance(var_2, mod.Thing), "built"
            var_3 = mod.Thing()
            var_4 = 1
            assert isinstance(var_3, mod.Thing)
            var_5 = mod.Thing()
            assert isinstance(var_5, mod.Thing); assert var_5.ok
            var_6 = mod.Thing()
            assert isinstance(var_6, mod.Thing)  # the last statement: the filters say it checks only what it built
    """)
    assert without_built_type_checks(source) == source


def test_the_skipped_tests_stay() -> None:
    source = "def test_own():\n    x = C()\n    assert isinstance(x, C)\n    assert x.ok\n"
    assert without_built_type_checks(source, skip={"test_own"}) == source
    assert without_built_type_checks(source) == "def test_own():\n    x = C()\n    assert x.ok\n"
