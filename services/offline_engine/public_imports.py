"""An engine's import of a name from a package's inner module, made the import from the package itself where the
package offers that name: CrossHair's ``from prettytable.prettytable import from_mediawiki`` becomes
``from prettytable import from_mediawiki``, as the project's own tests import it.

The package offers the name when its ``__init__.py`` imports it, at its top level, from that very module
(``from .prettytable import from_mediawiki``), binds it nowhere else there and, if it lists ``__all__`` literally,
lists it: then both imports give the same object. The ``__init__.py`` is read, never run; a name starting with
``_``, a package that cannot be found or read, or any other ``__init__.py`` keeps the engine's import.

Standard library only: it is part of the merge script the engine command carries (``merge_tests.py``).
"""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path


def public_import(key: tuple) -> tuple:
    """``("from", "pkg.mod", name, asname)`` as ``("from", "pkg", name, asname)`` for the outermost package that
    offers ``name`` from ``pkg.mod``; any other import key as it is."""
    if key[0] != "from" or "." not in key[1] or key[2] == "*" or key[2].startswith("_"):
        return key
    module = key[1].split(".")
    for depth in range(1, len(module)):
        source = _package_source(module[:depth])
        if source is not None and _offers(source, module[:depth], module, key[2]):
            return ("from", ".".join(module[:depth]), *key[2:])
    return key


def _package_source(package: list[str]) -> str | None:
    """The text of the package's ``__init__.py``, found from its top-level package's location (None: not found)."""
    try:
        spec = importlib.util.find_spec(package[0])
    except (ImportError, ValueError):
        return None
    for folder in (spec.submodule_search_locations or []) if spec else []:
        init = Path(folder, *package[1:], "__init__.py")
        try:
            return init.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
    return None


def _offers(source: str, package: list[str], module: list[str], name: str) -> bool:
    """Whether the ``__init__.py`` ``source`` of ``package`` binds ``name`` to ``module``'s ``name`` alone."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return False
    offered = False
    for node in tree.body:
        if isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            origin = base + (node.module.split(".") if node.module else [])
            for alias in node.names:
                if (alias.asname or alias.name) == name:
                    offered = origin == module and alias.name == name
        elif name in _bound(node):
            offered = False
        if isinstance(node, ast.Assign) and [getattr(t, "id", "") for t in node.targets] == ["__all__"]:
            try:
                listed = ast.literal_eval(node.value)
            except (ValueError, TypeError):
                continue  # computed: not read
            if isinstance(listed, list | tuple) and name not in listed:
                return False
    return offered


def _bound(node: ast.stmt) -> set[str]:
    """The names a top-level statement other than ``from ... import`` binds, in the blocks it holds too (a
    ``try``'s fallback); a function's or class's own name only."""
    definitions = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
    if isinstance(node, definitions):
        return {node.name}
    found = set()
    for inner in ast.walk(node):
        if isinstance(inner, ast.Name) and isinstance(inner.ctx, ast.Store):
            found.add(inner.id)
        elif isinstance(inner, ast.alias):
            found.add(inner.asname or inner.name.split(".", 1)[0])
        elif isinstance(inner, definitions):
            found.add(inner.name)
    return found
