"""Numbered locals of generated tests get names that say what they hold; nothing else of the file changes."""

from __future__ import annotations

import textwrap

from handoff.assurance.readable_names import readable


def _src(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def test_an_instance_is_named_after_its_class_and_a_result_after_its_callee() -> None:
    source = _src("""
        import pkg.stock as stock_


        def test_stock_take():
            var_0 = stock_.StockLevel()
            var_1 = var_0.take(3)
            assert var_1 == 2
            var_2 = var_0.__ne__(other=var_0)
            assert var_2 is False
    """)
    assert readable(source) == _src("""
        import pkg.stock as stock_


        def test_stock_take():
            stock_level = stock_.StockLevel()
            take_result = stock_level.take(3)
            assert take_result == 2
            ne_result = stock_level.__ne__(other=stock_level)
            assert ne_result is False
    """)


def test_a_literal_is_named_after_the_keyword_it_is_first_passed_as() -> None:
    source = _src("""
        def test_roll():
            int_0 = -1884
            with pytest.raises(ValueError):
                dice_.roll(sides=int_0)
            dice_.label(value=int_0)
    """)
    assert readable(source) == _src("""
        def test_roll():
            sides = -1884
            with pytest.raises(ValueError):
                dice_.roll(sides=sides)
            dice_.label(value=sides)
    """)


def test_a_value_that_says_nothing_keeps_its_name() -> None:
    source = _src("""
        def test_encode():
            var_0 = 3
            var_1 = var_0 + 1
            assert encode(var_1) == "bbbb"
    """)
    assert readable(source) == source


def test_a_new_name_never_shadows_a_module_name_a_builtin_or_another_local() -> None:
    source = _src("""
        from pkg import label, Option


        def test_two_options():
            label_result = 1
            var_0 = Option()
            var_1 = Option()
            var_2 = pkg.label(value=1)
            var_3 = pkg.list()
            assert (var_0, var_1, var_2, var_3, label_result) != ()
    """)
    renamed = readable(source)
    assert "option = Option()" in renamed
    assert "option_2 = Option()" in renamed
    assert "label_result_2 = pkg.label(value=1)" in renamed
    assert "list_result = pkg.list()" in renamed
    assert "(option, option_2, label_result_2, list_result, label_result)" in renamed


def test_a_class_named_like_a_module_import_gets_a_suffix() -> None:
    source = _src("""
        import option


        def test_option():
            var_0 = mod.Option()
            assert var_0.ok
    """)
    assert "option_2 = mod.Option()\n    assert option_2.ok" in readable(source)


def test_names_bound_twice_or_read_by_computation_stay() -> None:
    source = _src("""
        def test_rebound():
            var_0 = mod.Thing()
            var_0 = mod.Thing()
            assert var_0


        def test_reads_locals():
            var_0 = mod.Thing()
            assert locals()["var_0"]


        def test_nested():
            var_0 = mod.Thing()

            def inner():
                return var_0

            assert inner()
    """)
    assert readable(source) == source


def test_the_skipped_tests_and_names_a_writer_chose_stay() -> None:
    source = _src("""
        def test_projects_own():
            var_0 = mod.Thing()
            assert var_0


        def test_chosen_names():
            point_1 = mod.Point()
            assert point_1


        class TestThing:
            def test_method(self):
                var_0 = mod.Thing()
                assert var_0
    """)
    renamed = readable(source, skip={"test_projects_own"})
    assert "def test_projects_own():\n    var_0 = mod.Thing()\n    assert var_0\n" in renamed
    assert "point_1 = mod.Point()" in renamed
    assert "        thing = mod.Thing()\n        assert thing\n" in renamed


def test_text_before_a_name_on_its_line_may_be_any_unicode() -> None:
    source = _src("""
        def test_label():
            var_0 = mod.label(value="héllo ✓"); assert var_0 == f"{var_0}"
    """)
    assert readable(source) == _src("""
        def test_label():
            label_result = mod.label(value="héllo ✓"); assert label_result == f"{label_result}"
    """)


def test_a_source_that_does_not_parse_is_returned_as_it_is() -> None:
    source = "def test_x(:\n    var_0 = 1\n"
    assert readable(source) == source
