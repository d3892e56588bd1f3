"""Which names of a test module are bound to modules, and which module attribute an expression reads: the checks
(checks.py) treat a module as a namespace, not as an object a call of the code under test changes."""

from __future__ import annotations

import ast
from collections.abc import Container, Mapping
from dataclasses import dataclass, field


def bound_modules(tree: ast.Module, project: Container[str] = frozenset()) -> dict[str, str]:
    """The dotted names bound to modules, each with the module's own name ('' when not known): ``import a.b`` binds
    a (and a.b is its attribute), ``import a.b as x`` binds x, ``x = sys.modules['a.b']`` and
    ``x = importlib.import_module('a.b')`` bind x. A ``from a import b`` binds a module when ``"a.b"`` is in
    ``project`` (the project's modules, tree_modules.py); otherwise it may bind anything and is not counted."""
    found: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    found[alias.asname] = alias.name
                else:
                    parts = alias.name.split(".")
                    found.update({".".join(parts[: i + 1]): ".".join(parts[: i + 1]) for i in range(len(parts))})
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for alias in node.names:
                if f"{node.module}.{alias.name}" in project:
                    found[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        elif isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            value = node.value
            looked_up = isinstance(value, ast.Subscript) and ast.unparse(value.value) == "sys.modules"
            imported = isinstance(value, ast.Call) and _called(value.func) == "import_module"
            if looked_up or imported:
                found[node.targets[0].id] = _constant_name(value)
    return found


@dataclass(frozen=True, slots=True)
class Namespaces:
    """The dotted names of a test module that are modules: the names it binds to one (``bound``, from
    ``bound_modules``) and their attributes that are modules of the project (``pkg.sub`` after ``import pkg``, when
    ``"pkg.sub"`` is in ``project``)."""

    bound: Mapping[str, str] = field(default_factory=dict)
    project: Container[str] = frozenset()

    def __contains__(self, dotted: object) -> bool:
        return isinstance(dotted, str) and (dotted in self.bound or bool(self._real(dotted)))

    def _real(self, dotted: str) -> str:
        """The module's own name of a dotted name that is a module, '' when it is none or not known."""
        if dotted in self.bound:
            return self.bound[dotted]
        head, _, attribute = dotted.rpartition(".")
        real = self._real(head) if head else ""
        return f"{real}.{attribute}" if real and f"{real}.{attribute}" in self.project else ""


def attribute_read(node: ast.expr, modules: Container[str]) -> str:
    """The module attribute an expression reads from, as "module.attribute" (``mod_.registry.items[0]`` ->
    "mod_.registry"; ``pkg.sub.registry`` -> "pkg.sub.registry" when pkg.sub is a module); '' when it reads
    none (a module itself, or not from a module). ``modules``: the names bound to modules (``Namespaces``)."""
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


def _constant_name(value: ast.expr) -> str:
    """The module name in ``sys.modules['a.b']`` or ``import_module('a.b')``; '' when it is not a literal."""
    named = value.slice if isinstance(value, ast.Subscript) else None
    if isinstance(value, ast.Call) and value.args:
        named = value.args[0]
    return named.value if isinstance(named, ast.Constant) and isinstance(named.value, str) else ""


def _called(func: ast.expr) -> str:
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
