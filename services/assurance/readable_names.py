"""Numbered local names in generated tests (``var_3``, ``int_0``, ``str_1``) replaced by names that say what the
value is, so that a reviewer reads ``stock = mod.Stock(); take_result = stock.take(3)``.

A name is renamed only inside one test function, only when the function binds it once, by a plain assignment, and
nothing in it reads names by computation (``locals()``, ``eval``) or declares them ``global``/``nonlocal``. The new
name comes from the value (an instance of ``Stock`` is ``stock``; a call's result ``<callee>_result``; an attribute
read ``<attribute>``) or, for a literal, from the keyword it is first passed as (``sides = 854; roll(sides=sides)``);
a value that says nothing keeps its name. A new name never shadows a name of the module, a builtin or another name
of the function (``stock_2`` then). Only the names' own characters change: the rest of the file stays as written.
"""

from __future__ import annotations

import ast
import builtins
import keyword
import re
from collections.abc import Collection

from handoff.assurance import generated_source

# The names a generator numbers: its own ``var_N`` and those after a builtin type (``int_0``, ``none_type_2``).
_NUMBERED = re.compile(
    r"(?:var|int|float|str|bool|bytes|bytearray|complex|none_type|list|dict|set|frozenset|tuple|object|range|type)_\d+"
)
_DYNAMIC = frozenset({"locals", "vars", "eval", "exec", "globals"})
_TAKEN = frozenset(dir(builtins)) | frozenset(keyword.kwlist) | frozenset(keyword.softkwlist) | {"self", "cls"}
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def readable(source: str, skip: Collection[str] = ()) -> str:
    """``source`` with the numbered local names of its test functions renamed; the tests named in ``skip``
    (qualified: ``test_x``, ``TestThing.test_x``, e.g. a project's own tests of an extended file) stay as written.
    A source that does not parse is returned as it is."""
    if not _NUMBERED.search(source):
        return source
    tree = generated_source.parsed(source)
    if tree is None:
        return source
    module_names = _bound_at_top(tree)
    edits: list[tuple[int, int, int, str]] = []  # line, start byte, end byte, new name
    for _, function in generated_source.test_functions(tree, skip):
        edits.extend(_renames(function, module_names))
    if not edits:
        return source
    lines = source.splitlines(keepends=True)
    encoded = [line.encode() for line in lines]
    for line, start, end, new in sorted(edits, reverse=True):
        text = encoded[line - 1]
        encoded[line - 1] = text[:start] + new.encode() + text[end:]
    return b"".join(encoded).decode()


def _bound_at_top(tree: ast.Module) -> set[str]:
    """The names the module binds at its top level (imports, definitions, assignments): no local shadows them."""
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            names.update(_bound(alias) for alias in node.names)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name))
    return names


def _renames(function: ast.FunctionDef | ast.AsyncFunctionDef, avoid: set[str]) -> list[tuple[int, int, int, str]]:
    nodes = list(ast.walk(function))
    nested = (ast.Global, ast.Nonlocal, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    if any(isinstance(n, nested) for n in nodes[1:]) or any(
        isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in _DYNAMIC for n in nodes
    ):
        return []
    parameters = {a.arg for a in ast.walk(function.args) if isinstance(a, ast.arg)}
    values = _assigned_once(function)
    taken = avoid | parameters | {n.id for n in nodes if isinstance(n, ast.Name)}
    renamed: dict[str, str] = {}
    for old, value in values.items():
        if not _NUMBERED.fullmatch(old) or old in parameters:
            continue
        base = _name_for(value, old, function, renamed)
        if base is None:
            continue
        new, n = base, 2
        while new in taken or new in _TAKEN:
            new, n = f"{base}_{n}", n + 1
        taken.add(new)
        renamed[old] = new
    return [(n.lineno, n.col_offset, n.end_col_offset or n.col_offset + len(n.id), renamed[n.id])
            for n in nodes if isinstance(n, ast.Name) and n.id in renamed]  # fmt: skip


def _assigned_once(function: ast.FunctionDef | ast.AsyncFunctionDef) -> dict[str, ast.expr]:
    """The names bound exactly once in ``function`` (nested scopes included), each by a plain ``name = value``
    directly in the function's body or a block of it, in the order they are bound."""
    counts: dict[str, int] = {}
    values: dict[str, ast.expr] = {}
    for node in ast.walk(function):
        if node is function:
            continue
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            counts[node.id] = counts.get(node.id, 0) + 1
        elif isinstance(node, ast.arg):
            counts[node.arg] = counts.get(node.arg, 0) + 2  # a lambda's parameter: never renamed
        elif isinstance(node, ast.ExceptHandler | ast.alias | ast.MatchAs | ast.MatchStar) and _bound(node):
            counts[_bound(node)] = counts.get(_bound(node), 0) + 2
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            values.setdefault(node.targets[0].id, node.value)
    ordered = sorted(values.items(), key=lambda item: (item[1].lineno, item[1].col_offset))
    return {name: value for name, value in ordered if counts.get(name) == 1}


def _bound(node: ast.ExceptHandler | ast.alias | ast.MatchAs | ast.MatchStar) -> str:
    if isinstance(node, ast.alias):
        return node.asname or node.name.split(".")[0]
    return node.name or ""


def _name_for(
    value: ast.expr, old: str, function: ast.FunctionDef | ast.AsyncFunctionDef, renamed: dict[str, str]
) -> str | None:
    if isinstance(value, ast.Call):
        callee = value.func
        name = callee.id if isinstance(callee, ast.Name) else callee.attr if isinstance(callee, ast.Attribute) else ""
        name = name.strip("_")  # __ne__ -> ne_result
        if name[:1].isupper():
            return _snake(name)
        if name.isidentifier():
            return f"{name}_result"
        return None
    if isinstance(value, ast.Attribute) and not value.attr.startswith("_"):
        return _snake(value.attr)
    if isinstance(value, ast.Constant | ast.List | ast.Tuple | ast.Set | ast.Dict | ast.UnaryOp):
        return _keyword_for(old, function)
    return None


def _keyword_for(old: str, function: ast.FunctionDef | ast.AsyncFunctionDef) -> str | None:
    """The keyword ``old`` is first passed as (by position in the file), if any."""
    uses = [
        (kw.value.lineno, kw.value.col_offset, kw.arg)
        for node in ast.walk(function)
        if isinstance(node, ast.Call)
        for kw in node.keywords
        if kw.arg and isinstance(kw.value, ast.Name) and kw.value.id == old
    ]
    if not uses:
        return None
    arg = min(uses)[2].lstrip("_")
    return _snake(arg) if arg.isidentifier() else None


def _snake(name: str) -> str:
    return _CAMEL.sub("_", name).lower()
