"""What the checks (checks.py) learn from a target's source, read with ``ast`` (no project code is imported): the
classes it defines (building one is not a call of the code) and their properties (reading one runs it)."""

from __future__ import annotations

import ast

_PROPERTY_DECORATORS = frozenset({"property", "cached_property", "getter"})


def classes(source: str) -> set[str]:
    """The names of the classes a target module defines (at any depth)."""
    return {node.name for node in ast.walk(ast.parse(source)) if isinstance(node, ast.ClassDef)}


def properties(source: str) -> set[str]:
    """The names of the properties the classes of a target module define (``@property``, ``@cached_property``,
    ``@functools.cached_property``, ``@x.getter``): reading one runs the target's code."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) and any(
                    _last_name(d) in _PROPERTY_DECORATORS for d in item.decorator_list
                ):
                    found.add(item.name)
    return found


def _last_name(func: ast.expr) -> str:
    """The name a decorator or callee ends in: ``functools.cached_property`` -> cached_property."""
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
