"""Which special methods decide a comparison: one table for the checks rule (checks.py: does ``a != b`` run the
project's code?) and for reading the targets' classes (target_names.py: which of them does a class define?)."""

from __future__ import annotations

import ast
from collections.abc import Collection

ORDERING = frozenset({"__lt__", "__le__", "__gt__", "__ge__"})
COMPARING = ORDERING | {"__eq__", "__ne__", "__contains__"}

# a comparison -> the methods that may decide it: of its left operand, of its right one (the reflected method)
_DECIDED_BY: dict[type[ast.cmpop], tuple[frozenset[str], frozenset[str]]] = {
    ast.Eq: (frozenset({"__eq__"}), frozenset({"__eq__"})),
    ast.NotEq: (frozenset({"__ne__", "__eq__"}), frozenset({"__ne__", "__eq__"})),
    ast.Lt: (frozenset({"__lt__"}), frozenset({"__gt__"})),
    ast.LtE: (frozenset({"__le__"}), frozenset({"__ge__"})),
    ast.Gt: (frozenset({"__gt__"}), frozenset({"__lt__"})),
    ast.GtE: (frozenset({"__ge__"}), frozenset({"__le__"})),
    ast.In: (frozenset(), frozenset({"__contains__"})),
    ast.NotIn: (frozenset(), frozenset({"__contains__"})),
}
ASSERT_COMPARES: dict[str, type[ast.cmpop]] = {
    "assertEqual": ast.Eq, "assertEquals": ast.Eq, "assertNotEqual": ast.NotEq, "assertNotEquals": ast.NotEq,
    "assertLess": ast.Lt, "assertLessEqual": ast.LtE, "assertGreater": ast.Gt, "assertGreaterEqual": ast.GtE,
    "assertIn": ast.In, "assertNotIn": ast.NotIn,
}  # fmt: skip
"""The unittest assertions that compare their first two arguments, and how."""


def decided_by(op: type[ast.cmpop], left: Collection[str], right: Collection[str]) -> bool:
    """Whether comparing with ``op`` may run one of the methods defined by the left operand's class (``left``) or,
    reflected, by the right operand's (``right``): ``a != b`` runs ``__ne__`` or ``__eq__``, ``x in box`` runs
    ``box``'s ``__contains__``."""
    by_left, by_right = _DECIDED_BY.get(op, (frozenset(), frozenset()))
    return not by_left.isdisjoint(left) or not by_right.isdisjoint(right)
