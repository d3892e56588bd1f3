"""Test functions in a generated test module, found with ``ast``; removing some keeps the rest byte-for-byte."""

from __future__ import annotations

import ast
from collections.abc import Collection, Mapping
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


def find_tests(
    source: str,
    classes: Collection[str] = (),
    signatures: Mapping[str, declared_types.Signature] | None = None,
    properties: Collection[str] = (),
) -> list[FoundTest]:
    """Top-level ``test*`` functions and the ``test*`` methods of top-level test classes, in file order.

    A test class is what pytest collects: a ``Test*`` class, or a ``unittest.TestCase`` subclass of any name
    (``class CacheKeysTest(unittest.TestCase)``, also through a base class defined earlier in the file). Methods
    a class inherits from elsewhere (a mixin in another module) are not in its body and are not found: the project's
    own tests of a file the generator extends are asked of pytest instead (``project_tests.py``).
    """
    tree = ast.parse(source)
    context = checks.module(tree, classes, properties)
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


def remove_tests(source: str, qualnames: set[str]) -> str:
    """``source`` without the named test functions (decorators and the blank lines after each included).

    A class left with nothing but removed tests is removed as a whole; every other byte stays as it was, but for
    the blank lines a removal at the end of the file would leave there (the file ends with one newline).
    """
    tree = ast.parse(source)
    spans: list[tuple[int, int]] = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name in qualnames:
            spans.append(_span(node))
        elif isinstance(node, ast.ClassDef):
            doomed = [item for item in node.body if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef)
                      and f"{node.name}.{item.name}" in qualnames]  # fmt: skip
            if doomed and len(doomed) == len([i for i in node.body if not _is_docstring(i)]):
                spans.append(_span(node))
            else:
                spans.extend(_span(item) for item in doomed)
    lines = source.splitlines(keepends=True)
    drop: set[int] = set()
    for start, end in spans:
        drop.update(range(start - 1, end))
        after = end
        while after < len(lines) and not lines[after].strip():
            drop.add(after)
            after += 1
    left = "".join(line for index, line in enumerate(lines) if index not in drop)
    if lines and len(lines) - 1 in drop:  # the file's last lines went: no blank lines at its end
        left = left.rstrip(" \t\r\n") + "\n" if left.strip() else ""
    return left


def without_unused(before: str, after: str, protected: str = "") -> str:
    """``after`` (``before`` with tests removed) without the imports and fixtures only the removed tests used.

    An import or a fixture (a top-level ``@pytest.fixture`` function that is not ``autouse``) goes when ``before``
    uses its name and ``after`` no longer does: as a name, a parameter, or a string (``usefixtures('name')``); a
    fixture removed can leave its imports unused in turn (Pynguin's ``pynguin_seeded_random`` and ``random``).
    Imports that were unused before stay (one imported for its effect), and so does whatever ``protected`` (the
    project's own version of an extended file) binds at the top level. An import statement loses only the names
    that go; one left with none is removed with the blank lines that set it apart."""
    try:
        keep = _top_level_names(ast.parse(protected)) if protected.strip() else set()
    except (SyntaxError, ValueError):
        return after  # what the project's version binds cannot be read: nothing is taken out
    used_before = _used(ast.parse(before))
    text = after
    while True:
        tree = ast.parse(text)
        gone = used_before - _used(tree) - keep
        fixtures = {node.name for node in tree.body
                    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and _is_fixture(node)
                    and node.name in gone}  # fmt: skip
        if fixtures:
            text = remove_tests(text, fixtures)
            continue
        pruned = _without_imports(text, tree, gone)
        if pruned == text:
            return text
        text = pruned


def _used(tree: ast.Module) -> set[str]:
    """The names a module reads: names, parameters (fixtures are asked for by name) and strings (``usefixtures``)."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            found.add(node.id)
        elif isinstance(node, ast.arg):
            found.add(node.arg)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.isidentifier():
            found.add(node.value)
    return found


def _top_level_names(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            names.update(_bound(alias) for alias in node.names)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
    return names


def _bound(alias: ast.alias) -> str:
    return alias.asname or alias.name.split(".", 1)[0]


def _is_fixture(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """A ``@pytest.fixture`` / ``@fixture`` function, called or not, that is not ``autouse=True``."""
    if node.name.startswith("test"):
        return False
    for decorator in node.decorator_list:
        call = decorator if isinstance(decorator, ast.Call) else None
        func = call.func if call else decorator
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        if name == "fixture":
            autouse = call is not None and any(
                k.arg == "autouse" and not (isinstance(k.value, ast.Constant) and not k.value.value)
                for k in call.keywords
            )
            return not autouse
    return False


def _without_imports(text: str, tree: ast.Module, gone: Collection[str]) -> str:
    """``text`` without the top-level imports of the names in ``gone``."""
    lines = text.splitlines(keepends=True)
    replaced: dict[int, str] = {}  # first line index -> the statement's new text ('' to remove it)
    spans: dict[int, int] = {}  # first line index -> last line index (inclusive)
    for node in tree.body:
        if not isinstance(node, ast.Import | ast.ImportFrom) or (isinstance(node, ast.ImportFrom)
                                                                 and node.module == "__future__"):  # fmt: skip
            continue
        left = [alias for alias in node.names if alias.name == "*" or _bound(alias) not in gone]
        if len(left) == len(node.names):
            continue
        start, end = node.lineno - 1, (node.end_lineno or node.lineno) - 1
        spans[start] = end
        if left:
            node.names = left
            replaced[start] = ast.unparse(node) + "\n"
        else:
            replaced[start] = ""
    if not replaced:
        return text
    out: list[str] = []
    index = 0
    while index < len(lines):
        if index not in replaced:
            out.append(lines[index])
            index += 1
            continue
        end = spans[index]
        if replaced[index]:
            out.append(replaced[index])
        elif not out:  # it opened the file: the blank lines after it go too
            while end + 1 < len(lines) and not lines[end + 1].strip():
                end += 1
        elif not out[-1].strip() and (end + 1 >= len(lines) or not lines[end + 1].strip()):
            while out and not out[-1].strip():  # a group of its own: the blank lines before it go too
                out.pop()
        index = end + 1
    return "".join(out)


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
    start, end = _span(node)
    return FoundTest(qualname=qualname, start=start, end=end, checks=checks.judge(node, context),
                     outside_types=declared_types.outside(node, signatures))  # fmt: skip


def _span(node: ast.stmt) -> tuple[int, int]:
    decorators = getattr(node, "decorator_list", [])
    start = min([node.lineno, *(d.lineno for d in decorators)])
    return start, node.end_lineno or node.lineno


def _is_docstring(node: ast.stmt) -> bool:
    return isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
