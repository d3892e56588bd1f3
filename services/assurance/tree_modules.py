"""Which dotted names are modules of the project's tree as ``from pkg import mod`` sees them, read from its files
alone (no project code is imported): the checks (checks.py) treat a module as a namespace, not as an object."""

from __future__ import annotations

import ast
from pathlib import Path


class TreeModules:
    """``"pkg.mod" in TreeModules(root)``: the tree or its ``src/`` (the folders the checks put on the path) holds
    ``pkg/mod.py``, ``pkg/mod/__init__.py`` or a folder ``pkg/mod/`` of ``.py`` files, and ``pkg/__init__.py`` binds
    no other ``mod`` (``from .mod import mod``, ``mod = ...``, ``def mod``, a ``*`` import or a module
    ``__getattr__`` may give something else: such a name is not counted, nor is one whose package does not parse)."""

    def __init__(self, root: Path) -> None:
        self._bases = [root, *([root / "src"] if (root / "src").is_dir() else [])]

    def __contains__(self, dotted: object) -> bool:
        if not isinstance(dotted, str):
            return False
        *package, name = dotted.split(".")
        if not package or not all(part.isidentifier() for part in [*package, name]):
            return False
        for base in self._bases:
            folder = base.joinpath(*package)
            here = folder / name
            if (folder / f"{name}.py").is_file() or (here / "__init__.py").is_file() or any(here.glob("*.py")):
                return not _binds_otherwise(folder / "__init__.py", name, ".".join(package))
        return False


def _binds_otherwise(init: Path, name: str, package: str) -> bool:
    """Whether a package's ``__init__.py`` may bind ``name`` to something other than its submodule."""
    if not init.is_file():
        return False  # a namespace package
    try:
        tree = ast.parse(init.read_text())
    except (OSError, SyntaxError, ValueError, UnicodeDecodeError):
        return True
    finder = _Bindings(name, package)
    finder.visit(tree)
    return finder.found


class _Bindings(ast.NodeVisitor):
    """Finds a module-level binding of ``name`` other than an import of the submodule itself (the bodies of
    functions and classes are not the module's namespace and are not read)."""

    def __init__(self, name: str, package: str) -> None:
        self.name, self.package, self.found = name, package, False

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> None:
        self.found |= node.name in (self.name, "__getattr__")

    visit_AsyncFunctionDef = visit_ClassDef = visit_FunctionDef

    def visit_Name(self, node: ast.Name) -> None:
        self.found |= node.id == self.name and not isinstance(node.ctx, ast.Load)

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        self.found |= node.name == self.name
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        self.found |= any((alias.asname or alias.name.split(".")[0]) == self.name for alias in node.names)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        itself = (node.level == 1 and node.module is None) or (node.level == 0 and node.module == self.package)
        for alias in node.names:
            if alias.name == "*" or (
                (alias.asname or alias.name) == self.name and not (itself and alias.name == self.name)
            ):
                self.found = True
