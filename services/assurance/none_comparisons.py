"""``x == None`` and ``x != None`` in a generated test written as ``x is None`` and ``x is not None``.

The engines compare with ``None`` by equality (isodate 0.7.2: ``assert parse_tzinfo('') == None``; parse 1.20.2's
kept tests likewise), which a reviewer's linter flags (pycodestyle E711) and which asks the object's ``__eq__``
rather than whether it is ``None``. Only a comparison with one operator is rewritten, and only its operator's
characters change (``None == x`` becomes ``x is None``). The tests are rewritten before they are judged: an object
that claims to equal ``None`` without being it makes the rewritten test fail, and it is dropped like any other.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Collection

from handoff.assurance import generated_source

_OPERATOR = re.compile(r"\s*(==|!=)\s*")
_IDENTITY = {"==": " is ", "!=": " is not "}


def identity_checks(source: str, skip: Collection[str] = ()) -> str:
    """``source`` with such comparisons rewritten in its test functions but those named in ``skip``; a source that
    does not parse, or has none, is returned as it is."""
    if "None" not in source:
        return source
    tree = generated_source.parsed(source)
    if tree is None:
        return source
    pos = generated_source.Positions(source)
    edits: list[tuple[int, int, str]] = []
    for _, function in generated_source.test_functions(tree, skip):
        for node in ast.walk(function):
            if not (
                isinstance(node, ast.Compare) and len(node.ops) == 1 and isinstance(node.ops[0], ast.Eq | ast.NotEq)
            ):
                continue
            left, right = node.left, node.comparators[0]
            if _is_none(right) and not _is_none(left):
                start, end = pos.at(left.end_lineno, left.end_col_offset), pos.at(right.lineno, right.col_offset)
                between = source[start:end]
                if "\n" in between or "#" in between:
                    continue
                edits.append((start, end, _OPERATOR.sub(lambda m: _IDENTITY[m.group(1)], between, count=1)))
            elif _is_none(left) and not _is_none(right):
                operand = ast.get_source_segment(source, right)
                if operand is None or "\n" in operand or isinstance(right, ast.Compare | ast.BoolOp | ast.IfExp):
                    continue
                said = "is" if isinstance(node.ops[0], ast.Eq) else "is not"
                edits.append((*pos.span(node), f"{operand} {said} None"))
    return generated_source.with_edits(source, edits)


def _is_none(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value is None
