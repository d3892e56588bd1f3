"""What the checks (checks.py) learn from a target's source, read with ``ast`` (no project code is imported): the
classes it defines (building one is not a call of the code), their properties (reading one runs it), their
comparison methods (comparing one of their objects runs them) and its module state, the module-level names its code
changes: a check of one after a call of the code can see what the call did, a check of any other module constant
cannot, whatever built-in it goes through (``len(timeparse_.MULTIPLIERS)``)."""

from __future__ import annotations

import ast
import builtins
from collections.abc import Iterator
from dataclasses import dataclass

from handoff.assurance.comparison_methods import COMPARING, ORDERING

# methods that only read (of str, bytes, the containers and compiled patterns): calling one changes nothing
_READING = frozenset({
    "copy", "count", "decode", "difference", "encode", "endswith", "find", "findall", "finditer", "format",
    "format_map", "fullmatch", "get", "index", "intersection", "isdisjoint", "issubset", "issuperset", "items",
    "join", "keys", "lower", "lstrip", "match", "partition", "replace", "rfind", "rsplit", "rstrip", "search",
    "split", "splitlines", "startswith", "strip", "sub", "subn", "symmetric_difference", "union", "upper", "values",
})  # fmt: skip
_CHANGING_BUILTINS = frozenset({"setattr", "delattr", "exec", "eval", "next"})
_READING_BUILTINS = frozenset(dir(builtins)) - _CHANGING_BUILTINS
_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
_SCOPES = (*_FUNCTIONS, ast.ClassDef)
_IMMUTABLE = (ast.Constant, ast.JoinedStr, ast.FormattedValue, ast.Tuple, ast.BinOp, ast.UnaryOp, ast.operator,
              ast.unaryop, ast.expr_context)  # fmt: skip
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


@dataclass(frozen=True, slots=True)
class Members:
    """What a class of a target defines in its body, by kind (special methods like ``__init__`` left out)."""

    methods: frozenset[str] = frozenset()  # plain methods: ``C.m(obj)`` of one is ``obj.m()`` for an object of C
    properties: frozenset[str] = frozenset()  # ``@property``, ``@cached_property``: read as ``obj.p``
    classmethods: frozenset[str] = frozenset()  # ``@classmethod``: ``C.m(x)`` passes the class itself


def members(source: str) -> dict[str, Members]:
    """The plain methods, properties and classmethods each class of a target module defines, by class name."""
    found: dict[str, Members] = {}
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.ClassDef):
            continue
        kinds: dict[str, set[str]] = {"methods": set(), "properties": set(), "classmethods": set()}
        for item in node.body:
            if not isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) or item.name.startswith("__"):
                continue
            decorators = {_last_name(d) for d in item.decorator_list}
            if not decorators and (item.args.posonlyargs or item.args.args):  # it takes the object
                kinds["methods"].add(item.name)
            elif decorators and decorators <= _PROPERTY_DECORATORS:
                kinds["properties"].add(item.name)
            elif decorators == {"classmethod"}:
                kinds["classmethods"].add(item.name)
        if any(kinds.values()):
            found[node.name] = Members(**{kind: frozenset(names) for kind, names in kinds.items()})
    return found


def comparisons(source: str) -> dict[str, frozenset[str]]:
    """The comparison methods (``__eq__``, ``__ne__``, ``__lt__``, ..., ``__contains__``) each class of a target module
    defines in its body or inherits from a class of the same module, by class name: comparing an object of one
    (``a != b``, ``a < b``, ``x in a``) runs the target's code. ``functools.total_ordering`` completes the four
    orderings from the one defined. Classes defining none are left out."""
    tree = ast.parse(source)
    own: dict[str, set[str]] = {}
    bases: dict[str, list[str]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            found = {
                item.name
                for item in node.body
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) and item.name in COMPARING
            }
            if found & ORDERING and any(_last_name(d) == "total_ordering" for d in node.decorator_list):
                found |= ORDERING
            own.setdefault(node.name, set()).update(found)
            bases.setdefault(node.name, []).extend(_last_name(b) for b in node.bases)
    result: dict[str, frozenset[str]] = {}
    for name in own:
        seen, stack, methods = set(), [name], set()
        while stack:
            current = stack.pop()
            if current in seen or current not in own:
                continue
            seen.add(current)
            methods |= own[current]
            stack.extend(bases[current])
        if methods:
            result[name] = frozenset(methods)
    return result


def module_state(source: str) -> set[str]:
    """The module-level names of ``source`` that a function of it (a method too) rebinds (``global n``), whose item
    or attribute it sets or deletes (``n[k] = v``, ``del n.x``), on which it calls a method other than a reading one
    (``n.append(v)``, ``n.register(f)``; not ``n.get(k)`` or ``n.match(s)``), or that it passes to a call other than
    a built-in's or a reading method's (``_push(n, v)``: it may change it; an immutable literal such as a string
    only through ``global``; a function or class through its attributes: ``f.cache[k] = v``), and the names bound to
    an object of a class it defines (``REGISTRY = Registry()``: its methods are the target's code)."""
    tree = ast.parse(source)
    defined = {node.name for node in ast.walk(tree) if isinstance(node, ast.ClassDef)}
    values = dict(_module_assignments(tree.body))
    found = {
        name for name, value in values.items() if isinstance(value, ast.Call) and _last_name(value.func) in defined
    }
    mutable = {name for name, value in values.items() if not all(isinstance(n, _IMMUTABLE) for n in ast.walk(value))}
    mutable |= {node.name for node in tree.body if isinstance(node, _SCOPES) and not isinstance(node, ast.Lambda)}
    for function in ast.walk(tree):
        if isinstance(function, _FUNCTIONS):
            found |= _changed_by(function, mutable)
    return found


def _module_assignments(body: list[ast.stmt]) -> Iterator[tuple[str, ast.expr]]:
    """The plain names the module's own statements assign (in ``if`` and ``try`` blocks too), with their values."""
    for node in body:
        if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                for name in ast.walk(target):
                    if isinstance(name, ast.Name):
                        yield name.id, node.value
        elif isinstance(node, ast.If | ast.Try | ast.With):
            for block in ("body", "orelse", "finalbody", "handlers"):
                for inner in getattr(node, block, []):
                    yield from _module_assignments(inner.body if isinstance(inner, ast.ExceptHandler) else [inner])


def _changed_by(function: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda, mutable: set[str]) -> set[str]:
    """Which module-level names one function changes (``mutable``: those not bound to an immutable literal)."""
    own = list(_own_nodes(function))
    declared = {name for node in own if isinstance(node, ast.Global | ast.Nonlocal) for name in node.names}
    args = function.args
    local = {a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg] if a}
    local |= {n.id for n in own if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)} - declared
    shared = mutable - local  # the module's mutable names this function reads as the module's
    found = {n.id for n in own if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load) and n.id in declared}
    for node in own:
        if isinstance(node, ast.Attribute | ast.Subscript) and not isinstance(node.ctx, ast.Load):
            found |= {_root(node)} & shared  # n[k] = v, n.x = v, del n[k], n[k] += 1
        elif isinstance(node, ast.Call):
            func = node.func
            method = func.attr if isinstance(func, ast.Attribute) else ""
            if isinstance(func, ast.Attribute) and method not in _READING:
                found |= {_root(func.value)} & shared  # n.append(v), n.x.clear()
            if not (method in _READING or (isinstance(func, ast.Name) and func.id in _READING_BUILTINS)):
                arguments = [*node.args, *(k.value for k in node.keywords)]
                found |= {a.id for a in arguments if isinstance(a, ast.Name)} & shared  # _push(n, v)
    return found


def _own_nodes(function: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> Iterator[ast.AST]:
    """The nodes of a function's body, not those of the functions and classes defined in it (their own scopes)."""
    stack: list[ast.AST] = list(function.body) if isinstance(function.body, list) else [function.body]
    while stack:
        node = stack.pop()
        yield node
        if not isinstance(node, _SCOPES):
            stack.extend(ast.iter_child_nodes(node))


def _root(node: ast.expr) -> str:
    while isinstance(node, ast.Attribute | ast.Subscript | ast.Starred):
        node = node.value
    return node.id if isinstance(node, ast.Name) else ""


def _last_name(func: ast.expr) -> str:
    """The name a decorator or callee ends in: ``functools.cached_property`` -> cached_property."""
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
