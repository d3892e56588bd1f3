"""A plain method called through its class on an object built there is written as a call on the object."""

from __future__ import annotations

import textwrap

from handoff.assurance.bound_calls import on_the_object
from handoff.assurance.target_names import Members, members

TARGET = """
class Week:
    def __init__(self, year, week):
        self.year, self.week = year, week

    def wednesday(self):
        return self.week

    def replace(self, year=None, week=None):
        return Week(year or self.year, week or self.week)

    @staticmethod
    def parse(week):
        return week

    @classmethod
    def thisweek(cls):
        return cls(2020, 1)

    @property
    def days(self):
        return 7
"""


def _src(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def test_the_methods_properties_and_classmethods_of_a_target_s_classes_are_found() -> None:
    assert members(TARGET) == {
        "Week": Members(methods=frozenset({"wednesday", "replace"}), properties=frozenset({"days"}),
                        classmethods=frozenset({"thisweek"}))
    }  # fmt: skip


def test_a_method_called_through_the_class_on_an_object_built_there_is_called_on_the_object() -> None:
    """isoweek 1.3.3: CrossHair's tests read ``Week.wednesday(Week(1, 2))``."""
    source = _src("""
        def test_week():
            assert Week.wednesday(Week(1, 2)) == 2
            assert isoweek.Week.replace(isoweek.Week(1, 2), week=3, ) == Week(1, 3)
            assert Week.replace(Week(1, 2), 5).wednesday() == 2
    """)
    assert on_the_object(source, members(TARGET)) == _src("""
        def test_week():
            assert Week(1, 2).wednesday() == 2
            assert isoweek.Week(1, 2).replace(week=3) == Week(1, 3)
            assert Week(1, 2).replace(5).wednesday() == 2
    """)


def test_a_property_called_through_the_class_is_read_and_a_classmethod_given_its_class_is_not() -> None:
    """parse 1.20.2: CrossHair's ``Parser.named_fields(Parser(...))`` failed with ``'property' object is not
    callable``; a classmethod's test passed the class twice (``Rect.square(Rect, 0)``)."""
    source = _src("""
        def test_week():
            assert Week.days(Week(1, 2)) == 7
            assert Week.thisweek(Week) == Week(2020, 1)
            assert mod_.Week.thisweek(mod_.Week, ) == Week(2020, 1)
            assert Week.days(Week(1, 2), 3) == 7
            assert Week.thisweek(Other) == Week(2020, 1)
    """)
    assert on_the_object(source, members(TARGET)) == _src("""
        def test_week():
            assert Week(1, 2).days == 7
            assert Week.thisweek() == Week(2020, 1)
            assert mod_.Week.thisweek() == Week(2020, 1)
            assert Week.days(Week(1, 2), 3) == 7
            assert Week.thisweek(Other) == Week(2020, 1)
    """)


def test_static_methods_other_objects_and_skipped_tests_stay() -> None:
    source = _src("""
        def test_week():
            assert Week.parse(Week(1, 2)) is not None
            assert Week.wednesday(week) == 2
            assert Week.wednesday(Other(1, 2)) == 2
            assert Week.wednesday(*args) == 2
            assert Week.wednesday(
                Week(1, 2)) == 2


        def test_own():
            assert Week.wednesday(Week(1, 2)) == 2
    """)
    assert on_the_object(source, members(TARGET), skip={"test_own"}) == source
