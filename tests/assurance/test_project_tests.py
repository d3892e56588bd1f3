"""The project's own tests in an extended test file are what pytest collects from the snapshot's version."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from handoff.assurance.project_tests import collected_tests
from handoff.assurance.testbed import TestBed

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]  # real pytest runs

NAME = "tests/test_func.py"
# cachetools 8.0.2's tests/test_func.py: DecoratorTestMixin's tests run in four TestCase classes of the file
ORIGINAL = b"""import unittest

import pytest

from grading import grade


class DecoratorTestMixin:
    def test_decorator(self):
        self.assertEqual(grade(50), "pass")


class FIFODecoratorTest(unittest.TestCase, DecoratorTestMixin):
    pass


class LRUDecoratorTest(unittest.TestCase, DecoratorTestMixin):
    def test_own(self):
        self.assertEqual(grade(1), "fail")


@pytest.mark.parametrize("score", [50, 90])
def test_passing(score):
    assert grade(score) == "pass"
"""
EXTENDED = ORIGINAL + b"\n\ndef test_pynguin_0():\n    assert grade(70) == 'pass'\n"


async def test_inherited_and_parametrized_tests_are_found_and_the_extended_file_is_put_back(
    make_bed: Callable[..., TestBed],
) -> None:
    """Methods inherited from a mixin are collected per class; parameters are cut, each test once; the generated
    test (only in the extended version) is not the project's; the file holds the extended version afterwards."""
    bed = make_bed("grading", {NAME: EXTENDED.decode()})
    assert await collected_tests(bed, NAME, ORIGINAL) == [
        f"{NAME}::FIFODecoratorTest::test_decorator",
        f"{NAME}::LRUDecoratorTest::test_decorator",
        f"{NAME}::LRUDecoratorTest::test_own",
        f"{NAME}::test_passing",
    ]
    assert (bed.root / NAME).read_bytes() == EXTENDED


async def test_a_snapshot_version_that_does_not_collect_gives_none(make_bed: Callable[..., TestBed]) -> None:
    """An import error in the snapshot's version: None (the caller falls back to the source), the file put back."""
    bed = make_bed("grading", {NAME: EXTENDED.decode()})
    assert await collected_tests(bed, NAME, b"import no_such_module_4711\n\n\ndef test_x():\n    assert 1\n") is None
    assert (bed.root / NAME).read_bytes() == EXTENDED
