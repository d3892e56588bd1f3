"""Methods of the targets' classes called through the class written as a reader would call them.

CrossHair writes its tests of methods through the class (isoweek 1.3.3, parse 1.20.2, toolz 1.0.0):

- a plain method on an object built there, ``Week.wednesday(Week(1, 2))``, becomes ``Week(1, 2).wednesday()``: the
  object is of that very class, so the method is the same;
- a property so called, ``Rect.area(Rect(2, 3))``, fails (``'property' object is not callable``) though CrossHair
  checked the getter: it becomes the read it meant, ``Rect(2, 3).area``;
- a classmethod with the class passed as well, ``Rect.square(Rect, 2)``, fails (the class twice): it becomes
  ``Rect.square(2)``.

Only a call on one line is rewritten, and only of the kinds the targets' source says (``target_names.members``).
The tests are rewritten before they are judged: what is validated is what is handed over.
"""

from __future__ import annotations

import ast
from collections.abc import Collection, Mapping

from handoff.assurance import generated_source
from handoff.assurance.target_names import Members


def on_the_object(source: str, classes: Mapping[str, Members], skip: Collection[str] = ()) -> str:
    """``source`` with such calls rewritten in its test functions but those named in ``skip``; ``classes``: what
    each class of the targets defines. A source that does not parse, or has none, is returned as it is."""
    if not classes:
        return source
    tree = generated_source.parsed(source)
    if tree is None:
        return source
    pos = generated_source.Positions(source)
    edits: list[tuple[int, int, str]] = []
    for _, function in generated_source.test_functions(tree, skip):
        for call in ast.walk(function):
            if not isinstance(call, ast.Call) or call.lineno != call.end_lineno:
                continue
            written = _written(call, classes, pos)
            if written is not None:
                edits.append((*pos.span(call), written))
    return generated_source.with_edits(source, edits)


def _written(call: ast.Call, classes: Mapping[str, Members], pos: generated_source.Positions) -> str | None:
    source = pos.source
    func = call.func
    if not isinstance(func, ast.Attribute) or any(isinstance(a, ast.Starred) for a in call.args) or not call.args:
        return None
    cls = func.value
    members = classes.get(cls.attr if isinstance(cls, ast.Attribute) else cls.id if isinstance(cls, ast.Name) else "")
    first = call.args[0]
    written_first = ast.get_source_segment(source, first)
    if members is None or written_first is None:
        return None
    rest = source[pos.at(first.end_lineno, first.end_col_offset) : pos.span(call)[1] - 1]
    rest = rest.strip().removeprefix(",").strip().removesuffix(",").rstrip()
    if func.attr in members.methods and generated_source.built_of(source, cls, call.args):
        return f"{written_first}.{func.attr}({rest})"
    if func.attr in members.properties and not rest and generated_source.built_of(source, cls, call.args):
        return f"{written_first}.{func.attr}"
    if func.attr in members.classmethods and written_first == ast.get_source_segment(source, cls):
        return f"{ast.get_source_segment(source, func)}({rest})"
    return None
