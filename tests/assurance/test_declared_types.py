"""Which calls of a generated test pass a literal the callee's own annotations rule out (declared_types.py)."""

from __future__ import annotations

import pytest

from handoff.assurance.declared_types import merged, signatures
from handoff.assurance.generated_source import find_tests

TARGET = """
import datetime
import typing
from typing import Literal, Optional, Union


def parse_timezone(matches: typing.Dict[str, str], default: Optional[datetime.tzinfo] = None) -> str:
    return ""


def scale(value: float, times: "int" = 1, unit: Literal["m", "s"] = "m") -> float:
    return value


def pick(items: list[int] | None, key: Union[str, bytes] = "") -> None:
    return None


def pair(point: tuple[int, str]) -> None:
    return None


def named(name: str = None) -> str:
    return name or ""


@decorated
def wrapped(value: int) -> int:
    return value


class Clock:
    def tick(self, seconds: int) -> int:
        return seconds
"""


def _outside(body: str) -> str:
    source = "import pytest\nimport iso\n\n\n" + body
    (test,) = find_tests(source, signatures=merged([signatures(TARGET)]))
    return test.outside_types


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (
            "def test_x():\n    assert iso.parse_timezone(matches={'timezone': 2461.62}) == 'None00:00'\n",
            "parse_timezone(matches={'timezone': 2461.62}) where matches is declared typing.Dict[str, str]",
        ),
        (
            "def test_x():\n    var_0 = {'a': 1}\n    assert iso.parse_timezone(var_0) == ''\n",
            "parse_timezone(matches=var_0) where matches is declared typing.Dict[str, str]",
        ),
        ("def test_x():\n    assert scale('3') == 3\n", "scale(value='3') where value is declared float"),
        ("def test_x():\n    assert scale(3.0, times=2.5) == 3\n", "scale(times=2.5) where times is declared 'int'"),
        (
            "def test_x():\n    assert scale(3, unit='h') == 3\n",
            "scale(unit='h') where unit is declared Literal['m', 's']",
        ),
        (
            "def test_x():\n    assert pick([1, 'x']) is None\n",
            "pick(items=[1, 'x']) where items is declared list[int] | None",
        ),
        (
            "def test_x():\n    assert pick(None, key=3) is None\n",
            "pick(key=3) where key is declared Union[str, bytes]",
        ),
        (
            "def test_x():\n    assert pair((1, 2)) is None\n",
            "pair(point=(1, 2)) where point is declared tuple[int, str]",
        ),
        ("def test_x():\n    assert c.tick(seconds='1') == 1\n", "tick(seconds='1') where seconds is declared int"),
    ],
)
def test_a_literal_the_annotation_rules_out_is_named_with_the_call(body: str, reason: str) -> None:
    assert _outside(body) == reason


@pytest.mark.parametrize(
    "body",
    [
        "def test_x():\n    assert iso.parse_timezone({'timezone': 'Z'}, default=None) == ''\n",
        "def test_x():\n    assert iso.parse_timezone({}, default=3) == ''\n",  # a class annotation: cannot tell
        "def test_x():\n    assert scale(3, times=True) == 3\n",  # an int passes for a float, a bool for an int
        "def test_x():\n    assert pick(None, key=b'k') is None\n",
        "def test_x():\n    assert iso.parse_timezone(make_matches()) == ''\n",  # not a literal
        "def test_x():\n    with pytest.raises(AttributeError):\n        iso.parse_timezone(matches=None)\n",
        "def test_x():\n    assert c.tick(1, 2) == 1\n",  # a method's positional arguments are not matched
        "def test_x():\n    assert unknown(matches=1) == 1\n",
        "def test_x():\n    assert named(None) == ''\n",  # `name: str = None` takes None
        "def test_x():\n    assert wrapped('1') == 1\n",  # a decorator may change what the function takes
    ],
)
def test_calls_within_the_declared_types_or_not_certain_to_be_outside_pass(body: str) -> None:
    assert _outside(body) == ""


def test_a_function_two_targets_define_is_not_judged() -> None:
    assert "scale" not in merged([signatures(TARGET), signatures("def scale(x: str) -> str:\n    return x\n")])
