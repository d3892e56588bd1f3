"""Tests that pin what a function does with input its own annotations rule out, found statically with ``ast``.

A generated test calls a function of the targets with a literal argument (``{'timezone': 2461.62}``, or a name the
test assigned a literal to just before) that its annotation rules out (``matches: Dict[str, str]``: a float is not
a str). Whatever it returns then is an accident of the implementation (iso8601 2.1.0's ``parse_timezone`` names
that zone ``'None00:00'``), and a test asserting it pins the accident. Such a test is dropped.

Only what is certain counts:

- the function is an undecorated top-level function of a target (called by name or as ``module.f``), or a method
  (plain, static or class) whose name only one class of the targets defines; keyword arguments are matched by
  name, positional ones only for top-level functions;
- the argument is a literal: ``ast.literal_eval`` reads it;
- the annotation is made of ``str``, ``bytes``, ``int``, ``float``, ``complex``, ``bool``, ``None``, ``list``,
  ``tuple``, ``dict``, ``set``, ``frozenset`` and ``typing``'s ``Optional``, ``Union``, ``X | Y``, ``List``,
  ``Dict``, ``Mapping``, ``Sequence``, ``Tuple``, ``Set``, ``Literal``; an int passes for a float and a complex
  (PEP 484), a bool for an int and a float, None for a parameter whose default is None. Any other name (a class,
  ``Any``, a ``TypeVar``) accepts everything;
- a call inside ``pytest.raises`` / ``assertRaises`` is left alone: rejecting bad input is behaviour worth pinning.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping
from dataclasses import dataclass

_Check = Callable[[object], bool | None]  # True: fits, False: contradicts, None: cannot tell


@dataclass(frozen=True, slots=True)
class Signature:
    name: str
    parameters: list[str]  # positional order (top-level functions only)
    annotations: dict[str, ast.expr]  # parameter -> its annotation
    top_level: bool
    none_default: frozenset[str] = frozenset()  # parameters whose default is None: None fits them (`x: str = None`)


def signatures(source: str) -> dict[str, Signature]:
    """A target's annotated functions by name: top-level ones, and methods whose name one class alone defines."""
    tree = ast.parse(source)
    found: dict[str, Signature] = {}
    methods: dict[str, list[Signature]] = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and not node.decorator_list:
            found[node.name] = _signature(node, top_level=True)
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) and all(
                    _last(d) in ("staticmethod", "classmethod") for d in item.decorator_list
                ):
                    methods.setdefault(item.name, []).append(_signature(item, top_level=False))
    for name, defined in methods.items():
        if len(defined) == 1 and name not in found:
            found[name] = defined[0]
    return found


def merged(per_target: list[dict[str, Signature]]) -> dict[str, Signature]:
    """The signatures of several targets; a name two targets define is left out (which one is called is unclear)."""
    seen: dict[str, Signature] = {}
    twice: set[str] = set()
    for one in per_target:
        for name, signature in one.items():
            if name in seen:
                twice.add(name)
            seen[name] = signature
    return {name: s for name, s in seen.items() if name not in twice}


def outside(function: ast.FunctionDef | ast.AsyncFunctionDef, known: Mapping[str, Signature]) -> str:
    """'' or which call of ``function`` passes a literal its callee's annotation rules out, and how."""
    literals: dict[str, object] = {}  # names the test assigned a literal to, in order
    expecting: set[int] = set()  # ids of the calls inside pytest.raises / assertRaises blocks
    for node in ast.walk(function):
        if isinstance(node, ast.With | ast.AsyncWith) and any(_expects(i.context_expr) for i in node.items):
            expecting.update(id(n) for s in node.body for n in ast.walk(s) if isinstance(n, ast.Call))
    for node in _in_order(function):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            value = _literal(node.value, {})
            if value is not _UNKNOWN:
                literals[node.targets[0].id] = value
            else:
                literals.pop(node.targets[0].id, None)
        if not isinstance(node, ast.Call) or id(node) in expecting:
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        signature = known.get(name)
        if signature is None:
            continue
        bound = [(k.arg, k.value) for k in node.keywords if k.arg]
        if signature.top_level and not any(isinstance(a, ast.Starred) for a in node.args):
            bound += list(zip(signature.parameters, node.args, strict=False))
        for parameter, argument in bound:
            annotation = signature.annotations.get(parameter)
            value = _literal(argument, literals)
            if annotation is None or value is _UNKNOWN or (value is None and parameter in signature.none_default):
                continue
            if _checker(annotation)(value) is False:
                shown = ast.unparse(argument)
                shown = shown if len(shown) <= 60 else shown[:57] + "..."
                return (f"{name}({parameter}={shown}) where {parameter} is declared "
                        f"{ast.unparse(annotation)}")  # fmt: skip
    return ""


_UNKNOWN = object()


def _literal(node: ast.expr, names: Mapping[str, object]) -> object:
    if isinstance(node, ast.Name) and node.id in names:
        return names[node.id]
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return _UNKNOWN


def _in_order(function: ast.AST) -> list[ast.stmt | ast.expr]:
    """The statements and expressions of ``function`` in source order (an assignment before the calls after it)."""
    nodes = [n for n in ast.walk(function) if isinstance(n, ast.stmt | ast.expr)]
    return sorted(nodes, key=lambda n: (n.lineno, n.col_offset, isinstance(n, ast.Call)))


def _expects(node: ast.expr) -> bool:
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
    return name in ("raises", "warns") or name.startswith(("assertRaises", "assertWarns"))


def _signature(node: ast.FunctionDef | ast.AsyncFunctionDef, *, top_level: bool) -> Signature:
    a = node.args
    args = [*a.posonlyargs, *a.args]
    annotations = {p.arg: p.annotation for p in [*args, *a.kwonlyargs] if p.annotation is not None}
    defaults = [*zip(args[len(args) - len(a.defaults) :], a.defaults, strict=True),
                *((p, d) for p, d in zip(a.kwonlyargs, a.kw_defaults, strict=True) if d is not None)]  # fmt: skip
    none = frozenset(p.arg for p, d in defaults if isinstance(d, ast.Constant) and d.value is None)
    return Signature(node.name, [p.arg for p in args], annotations, top_level, none)


_SCALARS: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "bytes": (bytes,),
    "int": (int,),  # bool is an int
    "float": (float, int),
    "complex": (complex, float, int),
    "bool": (bool,),
}
_CONTAINERS: dict[str, tuple[type, ...]] = {
    "list": (list,), "List": (list,), "Sequence": (list, tuple, str), "tuple": (tuple,), "Tuple": (tuple,),
    "dict": (dict,), "Dict": (dict,), "Mapping": (dict,), "set": (set,), "Set": (set,),
    "frozenset": (frozenset,), "FrozenSet": (frozenset,),
}  # fmt: skip


def _checker(annotation: ast.expr) -> _Check:
    """How a literal is judged against ``annotation``: fits, contradicts, or cannot tell (anything unknown)."""
    if isinstance(annotation, ast.Constant):
        if annotation.value is None:
            return lambda v: v is None
        if isinstance(annotation.value, str):  # a string annotation: "Dict[str, str]"
            try:
                return _checker(ast.parse(annotation.value, mode="eval").body)
            except SyntaxError:
                return lambda v: None
        return lambda v: None
    if isinstance(annotation, ast.BinOp) and isinstance(annotation.op, ast.BitOr):
        return _union([_checker(annotation.left), _checker(annotation.right)])
    name = _last(annotation)
    if name in _SCALARS:
        kinds = _SCALARS[name]
        return lambda v: isinstance(v, kinds)
    if name in _CONTAINERS:
        return _container(_CONTAINERS[name], [])
    if not isinstance(annotation, ast.Subscript):
        return lambda v: None
    outer = _last(annotation.value)
    inner = annotation.slice
    parts = list(inner.elts) if isinstance(inner, ast.Tuple) else [inner]
    if outer == "Optional":
        return _union([_checker(parts[0]), lambda v: v is None])
    if outer == "Union":
        return _union([_checker(p) for p in parts])
    if outer == "Literal":
        values = [_literal(p, {}) for p in parts]
        return lambda v: None if _UNKNOWN in values else v in values
    if outer in _CONTAINERS:
        return _container(_CONTAINERS[outer], parts)
    return lambda v: None


def _container(kinds: tuple[type, ...], parts: list[ast.expr]) -> _Check:
    if kinds == (dict,) and len(parts) == 2:
        key, value = _checker(parts[0]), _checker(parts[1])
        return lambda v: _all(isinstance(v, dict), [c for k, x in _items(v) for c in (key(k), value(x))])
    if kinds == (tuple,) and parts and not (len(parts) == 2 and _is_ellipsis(parts[1])):
        each = [_checker(p) for p in parts]
        return lambda v: _all(isinstance(v, tuple) and len(v) == len(each),
                              [c(x) for c, x in zip(each, _elements(v), strict=False)])  # fmt: skip
    if parts and kinds != (dict,):
        element = _checker(parts[0])
        return lambda v: _all(isinstance(v, kinds), [element(x) for x in _elements(v)])
    return lambda v: isinstance(v, kinds)


def _union(checks: list[_Check]) -> _Check:
    def check(v: object) -> bool | None:
        answers = [c(v) for c in checks]
        if any(a is True for a in answers):
            return True
        return None if any(a is None for a in answers) else False

    return check


def _all(fits: bool, answers: list[bool | None]) -> bool | None:
    if not fits or any(a is False for a in answers):
        return False
    return None if any(a is None for a in answers) else True


def _items(value: object) -> list[tuple[object, object]]:
    return list(value.items()) if isinstance(value, dict) else []


def _elements(value: object) -> list[object]:
    return list(value) if isinstance(value, list | tuple | set | frozenset) else []


def _is_ellipsis(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value is Ellipsis


def _last(node: ast.expr) -> str:
    """``typing.Dict`` -> Dict, ``str`` -> str; '' for anything else."""
    return node.attr if isinstance(node, ast.Attribute) else node.id if isinstance(node, ast.Name) else ""
