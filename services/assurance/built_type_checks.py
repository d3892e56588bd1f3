"""``assert isinstance(x, C)`` directly after ``x = C(...)`` in a generated test, taken out: it checks that a class
built an instance of itself, which cannot fail, and a reviewer reads it as noise (Pynguin writes one after every
object it builds: toolz 1.0.0's ``sandbox/core.py``, 4 of 5 kept tests).

Only a statement of the test function's own body, alone on its lines, whose ``isinstance`` names the very class
expression the assignment right before it called, is removed; the rest of the file stays byte for byte.
"""

from __future__ import annotations

import ast
import itertools
from collections.abc import Collection

from handoff.assurance import generated_source


def without_built_type_checks(source: str, skip: Collection[str] = ()) -> str:
    """``source`` without those assertions, outside the test functions named in ``skip`` (``test_x``,
    ``TestThing.test_x``). A source that does not parse, or has none, is returned as it is."""
    if "isinstance" not in source:
        return source
    tree = generated_source.parsed(source)
    if tree is None:
        return source
    lines = source.splitlines(keepends=True)
    cut: set[int] = set()  # 0-based line numbers
    for _, function in generated_source.test_functions(tree, skip):
        body = function.body
        for before, statement in itertools.pairwise(body):
            if _checks_what_it_built(before, statement) and _alone(lines, statement, body):
                cut.update(range(statement.lineno - 1, (statement.end_lineno or statement.lineno)))
    if not cut:
        return source
    return "".join(line for number, line in enumerate(lines) if number not in cut)


def _checks_what_it_built(before: ast.stmt, statement: ast.stmt) -> bool:
    """``x = C(...)`` then ``assert isinstance(x, C)`` (no message), with the same ``C``."""
    if not (isinstance(before, ast.Assign) and len(before.targets) == 1 and isinstance(before.targets[0], ast.Name)):
        return False
    if not (isinstance(before.value, ast.Call) and isinstance(statement, ast.Assert) and statement.msg is None):
        return False
    test = statement.test
    if not (isinstance(test, ast.Call) and isinstance(test.func, ast.Name) and test.func.id == "isinstance"):
        return False
    if len(test.args) != 2 or test.keywords:
        return False
    subject, cls = test.args
    return (
        isinstance(subject, ast.Name)
        and subject.id == before.targets[0].id
        and ast.dump(cls) == ast.dump(before.value.func)
    )


def _alone(lines: list[str], statement: ast.stmt, body: list[ast.stmt]) -> bool:
    """The statement has its lines to itself (no ``;`` neighbour) and is not the function's last statement."""
    if statement is body[-1]:
        return False
    first, last = statement.lineno - 1, (statement.end_lineno or statement.lineno) - 1
    head = lines[first][: len(lines[first].encode()[: statement.col_offset].decode(errors="replace"))]
    end_col = statement.end_col_offset or 0
    tail = lines[last].encode()[end_col:].decode(errors="replace")
    return not head.strip() and not tail.strip()
