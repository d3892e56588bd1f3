"""A special method called by name in a generated test (``key.__str__()``, ``total.__add__(1)``) written as the
builtin or operator a reader expects (``str(key)``, ``total + 1``, ``key != other``).

Pynguin calls dunders by name (toolz 1.0.0's ``sandbox/core.py``: ``__str__``, ``__repr__``, ``__ne__``). Only the
bound form on a local name is rewritten (``x.__op__(...)``; a capitalised name is taken for a class), and a call
through the class on an object built of that class there (``C.__str__(C(0))``: the object's own method, as ``str``
calls it); never ``Class.__op__(x)``, whose meaning differs for a subclass. The arguments must be exactly those the
operator takes. The operator may differ from the direct call (``+`` falls back to the other operand's ``__radd__``
when ``__add__`` returns ``NotImplemented``): the tests are rewritten before they are judged, so what is validated is
what is handed over, and a test the rewrite changes fails and is dropped like any other.
"""

from __future__ import annotations

import ast
from collections.abc import Collection

from handoff.assurance import generated_source

# The comparisons too: the checks rule reads ``a != b`` of objects the test built as a call of the class's own
# ``__ne__``/``__eq__`` where the target defines one (checks.py), as it reads ``a.__ne__(b)``; where it defines none,
# ``object``'s identity comparison checks nothing of the project's, and the operator form says so.
_BINARY = {
    "__add__": "+", "__sub__": "-", "__mul__": "*", "__truediv__": "/", "__floordiv__": "//", "__mod__": "%",
    "__and__": "&", "__or__": "|", "__xor__": "^", "__lshift__": "<<", "__rshift__": ">>",
    "__eq__": "==", "__ne__": "!=", "__lt__": "<", "__le__": "<=", "__gt__": ">", "__ge__": ">=",
}  # fmt: skip
_BUILTIN = {"__str__": "str", "__repr__": "repr", "__hash__": "hash", "__len__": "len", "__bool__": "bool",
            "__iter__": "iter", "__abs__": "abs", "__int__": "int", "__float__": "float"}  # fmt: skip
_PLAIN = (ast.Name, ast.Attribute, ast.Constant, ast.Call, ast.Subscript, ast.List, ast.Tuple, ast.Dict, ast.Set)


def plain_operators(source: str, skip: Collection[str] = ()) -> str:
    """``source`` with such calls rewritten in its test functions but those named in ``skip``; a source that does
    not parse, or has none, is returned as it is."""
    if ".__" not in source:
        return source
    tree = generated_source.parsed(source)
    if tree is None:
        return source
    pos = generated_source.Positions(source)
    edits: list[tuple[int, int, str]] = []
    for _, function in generated_source.test_functions(tree, skip):
        if any(isinstance(n, ast.Name) and n.id == "NotImplemented" for n in ast.walk(function)):
            continue  # a test of what a special method returns itself (NotImplemented) is about the method
        parents = {child: node for node in ast.walk(function) for child in ast.iter_child_nodes(node)}
        for call in (n for n in ast.walk(function) if isinstance(n, ast.Call)):
            written = _operator_form(source, call, parents.get(call))
            if written is None or _within_rewritten(source, call, parents):
                continue
            edits.append((*pos.span(call), written))
    return generated_source.with_edits(source, edits)


def _operator_form(source: str, call: ast.Call, parent: ast.AST | None) -> str | None:
    func = call.func
    if not isinstance(func, ast.Attribute):
        return None
    if any(isinstance(a, ast.Starred) for a in call.args) or any(k.arg is None for k in call.keywords):
        return None
    args = [*call.args, *(k.value for k in call.keywords)]
    built = generated_source.built_of(source, func.value, call.args)
    if isinstance(func.value, ast.Name) and not built:
        if func.value.id[:1].isupper():  # a class: ``Week.__eq__(w)`` is not ``Week == w``
            return None
        receiver = func.value.id
    elif built:  # C.__str__(C(0)): the object's own class, as str() calls it
        written = ast.get_source_segment(source, call.args[0])
        if written is None or "\n" in written:
            return None
        receiver, args = written, args[1:]
    else:
        return None
    if func.attr in _BUILTIN and not args:
        return f"{_BUILTIN[func.attr]}({receiver})"
    if func.attr not in _BINARY or len(args) != 1:
        return None
    other = ast.get_source_segment(source, args[0])
    if other is None or "\n" in other:
        return None
    written = f"{receiver} {_BINARY[func.attr]} {other if isinstance(args[0], _PLAIN) else f'({other})'}"
    # the call was an atom: where an operator could bind to its neighbours (``x.__eq__(y) is False``), parenthesised
    alone = (
        isinstance(parent, ast.Assign | ast.Expr | ast.Return | ast.keyword)
        or (isinstance(parent, ast.Call) and call in parent.args)
        or (isinstance(parent, ast.Assert) and parent.test is call)
    )
    return written if alone else f"({written})"


def _within_rewritten(source: str, call: ast.Call, parents: dict[ast.AST, ast.AST]) -> bool:
    """An enclosing call is rewritten too (from the source text, which holds this one as written): this one stays."""
    node = parents.get(call)
    while node is not None:
        if isinstance(node, ast.Call) and _operator_form(source, node, parents.get(node)) is not None:
            return True
        node = parents.get(node)
    return False
