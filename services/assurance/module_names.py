"""Which names of a test module are bound to modules, and which module attribute an expression reads: the checks
(checks.py) treat a module as a namespace, not as an object a call of the code under test changes."""

from __future__ import annotations

import ast
from collections.abc import Collection


def bound_modules(tree: ast.Module) -> set[str]:
    """The dotted names bound to modules: ``import a.b`` binds a (and a.b is its attribute), ``import a.b as x``
    binds x, ``x = sys.modules['a.b']`` and ``x = importlib.import_module('a.b')`` bind x. A ``from a import b``
    may bind a module or anything else: it is not counted."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    found.add(alias.asname)
                else:
                    parts = alias.name.split(".")
                    found.update(".".join(parts[: i + 1]) for i in range(len(parts)))
        elif isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            value = node.value
            looked_up = isinstance(value, ast.Subscript) and ast.unparse(value.value) == "sys.modules"
            imported = isinstance(value, ast.Call) and _called(value.func) == "import_module"
            if looked_up or imported:
                found.add(node.targets[0].id)
    return found


def attribute_read(node: ast.expr, modules: Collection[str]) -> str:
    """The module attribute an expression reads from, as "module.attribute" (``mod_.registry.items[0]`` ->
    "mod_.registry"; ``pkg.sub.registry`` -> "pkg.sub.registry" when pkg.sub is a module); '' when it reads
    none (a module itself, or not from a module). ``modules`` are the names ``bound_modules`` found."""
    while isinstance(node, ast.Subscript | ast.Starred):
        node = node.value
    chain: list[str] = []
    while isinstance(node, ast.Attribute):
        chain.insert(0, node.attr)
        node = node.value
        while isinstance(node, ast.Subscript):
            chain.clear()  # mod_.items[0].x: the object is mod_.items
            node = node.value
    if not isinstance(node, ast.Name) or node.id not in modules:
        return ""
    path = node.id
    for attr in chain:
        if path not in modules:
            break
        path = f"{path}.{attr}"
    return "" if path in modules else path


def _called(func: ast.expr) -> str:
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
