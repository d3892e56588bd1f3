"""Test functions in a generated test module, found with ``ast``; removing some keeps the rest byte-for-byte."""

from __future__ import annotations

import ast
import io
import tokenize
from collections.abc import Collection, Container, Mapping
from dataclasses import dataclass

from handoff.assurance import checks, declared_types
from handoff.assurance.checks import Checks


@dataclass(frozen=True, slots=True)
class FoundTest:
    qualname: str  # "test_x" or "TestThing.test_x"
    start: int  # first line (its first decorator), 1-based
    end: int  # last line, inclusive
    checks: Checks  # whether it checks a value from the code under test, only objects it built, or nothing (checks.py)
    outside_types: str = ""  # a call passing a literal its callee's annotation rules out (declared_types.py)
    hashes: bool = False  # it computes a hash (``hash(x)``, ``x.__hash__()``): of a str or bytes, one per process


def find_tests(
    source: str,
    classes: Collection[str] = (),
    signatures: Mapping[str, declared_types.Signature] | None = None,
    properties: Collection[str] = (),
    project_modules: Container[str] = frozenset(),
    module_state: Collection[str] = (),
    comparing: Mapping[str, Collection[str]] | None = None,
) -> list[FoundTest]:
    """Top-level ``test*`` functions and the ``test*`` methods of top-level test classes, in file order.

    A test class is what pytest collects: a ``Test*`` class, or a ``unittest.TestCase`` subclass of any name
    (``class CacheKeysTest(unittest.TestCase)``, also through a base class defined earlier in the file). Methods
    a class inherits from elsewhere (a mixin in another module) are not in its body and are not found: the project's
    own tests of a file the generator extends are asked of pytest instead (``project_tests.py``). What the checks
    are judged against (``classes``, ``properties``, ``project_modules``, ``module_state``, ``comparing``):
    ``checks.module``.
    """
    tree = ast.parse(source)
    context = checks.module(tree, classes, properties, project_modules, module_state, comparing)
    found = []
    case_classes: set[str] = set()  # classes of this file that derive from a unittest TestCase
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test"):
            found.append(_function(node, node.name, context, signatures or {}))
        elif isinstance(node, ast.ClassDef) and (_is_test_case(node, case_classes) or node.name.startswith("Test")):
            for item in node.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) and item.name.startswith("test"):
                    found.append(_function(item, f"{node.name}.{item.name}", context, signatures or {}))
    return found


def parsed(source: str) -> ast.Module | None:
    """``source``'s syntax tree; None when it does not parse (a clean-up then leaves the file as it is)."""
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError):
        return None


def test_functions(
    tree: ast.Module, skip: Collection[str] = ()
) -> list[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    """The ``test*`` functions at the top of ``tree`` and in its classes, with their qualified names (``test_x``,
    ``TestThing.test_x``), in file order, but those named in ``skip``: what the clean-ups of generated tests work on
    (``skip``: the project's own tests of an extended file)."""
    found: list[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]] = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test"):
            found.append((node.name, node))
        elif isinstance(node, ast.ClassDef):
            found.extend((f"{node.name}.{item.name}", item) for item in node.body
                         if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef)
                         and item.name.startswith("test"))  # fmt: skip
    return [(qualname, function) for qualname, function in found if qualname not in skip]


class Positions:
    """Indexes in ``source`` of ``ast``'s positions (1-based lines, UTF-8 byte columns), for edits of its text."""

    def __init__(self, source: str) -> None:
        self.source = source
        self._offsets, total = [], 0  # where each line starts, and the text's length last
        for line in source.splitlines(keepends=True):
            self._offsets.append(total)
            total += len(line)
        self._offsets.append(total)

    def at(self, line: int | None, byte_col: int | None) -> int:
        line, byte_col = line or 1, byte_col or 0
        text = self.source[self._offsets[line - 1] : self._offsets[line]]
        return self._offsets[line - 1] + len(text.encode()[:byte_col].decode(errors="replace"))

    def span(self, node: ast.expr | ast.keyword) -> tuple[int, int]:
        """Where ``node``'s text starts and ends."""
        return self.at(node.lineno, node.col_offset), self.at(node.end_lineno or node.lineno, node.end_col_offset)


def built_of(source: str, cls: ast.expr, args: list[ast.expr]) -> bool:
    """Whether the first of ``args`` is a constructor call of the class ``cls`` names, written the same way
    (``C.m(C(0))``, ``mod_.C.m(mod_.C(0))``): a method called through the class on it is the object's own."""
    if not (args and isinstance(args[0], ast.Call) and isinstance(cls, ast.Name | ast.Attribute)):
        return False
    return ast.get_source_segment(source, args[0].func) == ast.get_source_segment(source, cls)


def with_edits(source: str, edits: list[tuple[int, int, str]]) -> str:
    """``source`` with each ``(start, end, text)`` edit made, the characters ``start:end`` replaced by ``text``; an
    edit overlapping one made already (a rewrite within a rewrite) is left out."""
    text, last = source, len(source) + 1
    for start, end, written in sorted(edits, reverse=True):
        if end > last:
            continue
        text, last = text[:start] + written + text[end:], start
    return text


def remove_tests(source: str, qualnames: set[str]) -> str:
    """``source`` without the named test functions (decorators and the blank lines after each included).

    A class left with nothing but removed tests is removed as a whole; every other byte stays as it was, but for
    the blank lines a removal at the end of the file would leave there (the file ends with one newline).
    """
    tree = ast.parse(source)
    spans: list[tuple[int, int]] = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name in qualnames:
            spans.append(span(node))
        elif isinstance(node, ast.ClassDef):
            doomed = [item for item in node.body if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef)
                      and f"{node.name}.{item.name}" in qualnames]  # fmt: skip
            if doomed and len(doomed) == len([i for i in node.body if not _is_docstring(i)]):
                spans.append(span(node))
            else:
                spans.extend(span(item) for item in doomed)
    return cut(source, spans)


def cut(source: str, spans: Collection[tuple[int, int]], *, keep_gaps: bool = False) -> str:
    """``source`` without the lines of ``spans`` (1-based, inclusive) and the blank lines after each; the file ends
    with one newline when its last lines went. ``keep_gaps``: where fewer blank lines stood before a cut than after
    it (``X = 1`` one blank line below the imports, two above a function), the wider gap is kept."""
    lines = source.splitlines(keepends=True)
    drop: set[int] = set()
    trailing: dict[int, int] = {}  # the last line index of a cut -> how many blank lines after it went with it
    for start, end in spans:
        drop.update(range(start - 1, end))
        after = end
        while after < len(lines) and not lines[after].strip():
            drop.add(after)
            after += 1
        trailing[after - 1] = after - end
    out: list[str] = []
    for index, line in enumerate(lines):
        if index in drop:
            if keep_gaps and index in trailing and index + 1 < len(lines) and index + 1 not in drop:
                before = len(out) - len(_without_trailing_blanks(out))
                if 0 < before < trailing[index]:
                    out.extend(lines[index - trailing[index] + 1 + before : index + 1])
            continue
        out.append(line)
    left = "".join(out)
    if lines and len(lines) - 1 in drop:  # the file's last lines went: no blank lines at its end
        left = left.rstrip(" \t\r\n") + "\n" if left.strip() else ""
    return left


def with_comments_above(source: str, spans: Collection[tuple[int, int]]) -> list[tuple[int, int]]:
    """``spans`` (1-based, inclusive: statements to cut) each widened upwards over the comment lines written directly
    above it (no blank line between, at the statement's indentation): they speak of what is cut.

    A comment block stays where it may speak of more: when the lines cut there are followed directly by code that
    stays (``# third-party`` over ``import a`` / ``import b`` with ``b`` kept; a comment of its own over the next
    statement starts another block), or when it opens the file (a ``#!`` line, an encoding declaration, a
    licence)."""
    lines = source.splitlines()
    comments = _comment_lines(source)
    widened = list(spans)
    while True:  # again while a widening lets another block go (two commented definitions with no blank line)
        cut = {line for start, end in widened for line in range(start, end + 1)}
        wider: list[tuple[int, int]] = []
        for start, end in spans:
            indent = _indentation(lines[start - 1])
            top = start
            while top - 1 in comments and _indentation(lines[top - 2]) == indent:
                top -= 1
            after = end + 1
            while after in cut:
                after += 1
            heads_kept_lines = after <= len(lines) and lines[after - 1].strip() != "" and after not in comments
            wider.append((start if top == 1 or heads_kept_lines else top, end))
        if wider == widened:
            return widened
        widened = wider


def _comment_lines(source: str) -> set[int]:
    """The 1-based numbers of the lines that hold a comment alone (not a ``#`` inside a string)."""
    found: set[int] = set()
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type == tokenize.COMMENT and not token.line[: token.start[1]].strip():
                found.add(token.start[0])
    except (tokenize.TokenError, SyntaxError):
        return set()  # not Python tokenize reads: no comment is taken for one
    return found


def _indentation(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _without_trailing_blanks(lines: list[str]) -> list[str]:
    end = len(lines)
    while end and not lines[end - 1].strip():
        end -= 1
    return lines[:end]


def _is_test_case(node: ast.ClassDef, case_classes: set[str]) -> bool:
    """Whether the class derives from a ``*TestCase`` base (``unittest.TestCase``, ``IsolatedAsyncioTestCase``,
    ``django.test.TestCase``) or from a class of the file that does; such classes are remembered in
    ``case_classes``."""
    for base in node.bases:
        name = base.attr if isinstance(base, ast.Attribute) else base.id if isinstance(base, ast.Name) else ""
        if name.endswith("TestCase") or name in case_classes:
            case_classes.add(node.name)
            return True
    return False


def _function(
    node: ast.FunctionDef | ast.AsyncFunctionDef,
    qualname: str,
    context: checks.Module,
    signatures: Mapping[str, declared_types.Signature],
) -> FoundTest:
    start, end = span(node)
    return FoundTest(qualname=qualname, start=start, end=end, checks=checks.judge(node, context),
                     outside_types=declared_types.outside(node, signatures), hashes=_hashes(node))  # fmt: skip


def _hashes(node: ast.AST) -> bool:
    return any(
        isinstance(call, ast.Call)
        and ((isinstance(call.func, ast.Name) and call.func.id == "hash")
             or (isinstance(call.func, ast.Attribute) and call.func.attr == "__hash__"))
        for call in ast.walk(node)
    )  # fmt: skip


def span(node: ast.stmt) -> tuple[int, int]:
    """A top-level statement's first line (its first decorator's) and last line, 1-based."""
    decorators = getattr(node, "decorator_list", [])
    start = min([node.lineno, *(d.lineno for d in decorators)])
    return start, node.end_lineno or node.lineno


def _is_docstring(node: ast.stmt) -> bool:
    return isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
