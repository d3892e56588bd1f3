"""``pytest.raises(..., match=...)`` patterns that quote a test generator's own stand-in types, taken out.

CrossHair runs the code on symbolic values and writes the message it saw: ``match="'SymbolicBoundedInt' object is
not callable"``. On the concrete input the test passes, the code raises the same exception naming the real type
(``'int' object is not callable``), so the test fails and is dropped, though the call does raise what the test says
(toolz 1.0.0's ``dicttoolz.py``: 10 of CrossHair's 17 tests). Such a ``match`` keyword is removed: the test checks
the exception's type, and the filters judge it as any other. Only those keywords' characters change.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Collection

from handoff.assurance import generated_source

# CrossHair's proxies: SymbolicInt, SymbolicBoundedIntTuple, SymbolicObject, LazyIntSymbolicStr, SymbolicList ...
_STAND_IN = re.compile(r"\b\w*Symbolic[A-Z]\w*|\bcrosshair\.")


def without_stand_in_matches(source: str, skip: Collection[str] = ()) -> str:
    """``source`` without the ``match=`` of each ``raises(...)`` call whose pattern names a stand-in type, outside
    the test functions named in ``skip`` (``test_x``, ``TestThing.test_x``). A source that does not parse, or has no
    such pattern, is returned as it is."""
    if not _STAND_IN.search(source):
        return source
    tree = generated_source.parsed(source)
    if tree is None:
        return source
    pos = generated_source.Positions(source)
    cuts: list[tuple[int, int, str]] = []
    for qualname, function in _functions(tree):
        if qualname in skip:
            continue
        for call in ast.walk(function):
            if not (isinstance(call, ast.Call) and _called_name(call.func) == "raises"):
                continue
            for keyword in call.keywords:
                value = keyword.value
                if keyword.arg == "match" and isinstance(value, ast.Constant) and isinstance(value.value, str) \
                        and _STAND_IN.search(value.value):  # fmt: skip
                    start, end = pos.span(keyword)
                    comma = source.rfind(",", 0, start)
                    if comma != -1 and not source[comma + 1 : start].strip():
                        cuts.append((comma, end, ""))
    return generated_source.with_edits(source, cuts)


def _functions(tree: ast.Module) -> list[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    found: list[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]] = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            found.append((node.name, node))
        elif isinstance(node, ast.ClassDef):
            found.extend((f"{node.name}.{item.name}", item) for item in node.body
                         if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef))  # fmt: skip
    return found


def _called_name(func: ast.expr) -> str:
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""
