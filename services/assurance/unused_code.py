"""What the removed tests alone used, cut from a generated test module after them: imports, fixtures, helper
functions and classes, module constants.

A definition stays while something kept reaches it: a statement that is not such a definition (a test, a test
class, an expression at module level), what the project's version of an extended file binds or uses, or a
definition a reached one uses in turn, so a helper only a removed helper called goes too. Names are reached as
names, as parameters (fixtures are asked for by name) and in strings of names (``usefixtures('db')``,
``parametrize('x', ..., indirect=['x'])``, ``'pkg.mod.helper'``). A file whose code computes the names it reads
(``globals()``, ``eval``) keeps everything.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Collection, Iterable

from handoff.assurance import generated_source

_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)
_NAME_LIST = re.compile(r"\s*[^\W\d][\w.]*(\s*,\s*[^\W\d][\w.]*)*\s*,?\s*")  # "db", "a, b", "pkg.mod.helper"
_DYNAMIC = frozenset({"globals", "locals", "vars", "eval", "exec", "__import__"})
# Names pytest or unittest call or read by themselves: they stay whatever used them.
_RUNNER_NAMES = frozenset({
    "pytestmark", "pytest_plugins", "collect_ignore", "collect_ignore_glob", "setup_module", "teardown_module",
    "setup_function", "teardown_function", "setup", "teardown", "setUpModule", "tearDownModule", "load_tests",
})  # fmt: skip
# Decorators that only wrap what they decorate: a definition with one of them does nothing when it runs.
_WRAPPING = frozenset({
    "fixture", "staticmethod", "classmethod", "property", "cached_property", "setter", "getter", "deleter",
    "cache", "lru_cache", "wraps", "contextmanager", "asynccontextmanager", "dataclass", "total_ordering",
    "abstractmethod", "overload", "composite",
})  # fmt: skip


def without_unused(before: str, after: str, protected: str = "") -> str:
    """``after`` (``before`` with tests removed) without the top-level definitions and imports only the removed
    tests reached.

    A definition or an import goes when ``before`` used its name and nothing kept reaches it any more. Definitions
    are functions (non-``autouse`` fixtures among them), classes pytest does not collect and assignments to plain
    names, each only when running it does nothing but bind its name: no call in it but of a wrapping decorator
    (``@pytest.fixture``, ``@dataclass``, ``@staticmethod`` ...), no ``metaclass``. So a helper a decorator
    registers, a constant computed by a call, ``__all__`` (and the names it lists), dunder names and the names
    pytest calls or reads itself (``setup_module``, ``pytestmark``, ``pytest_*``) stay. Imports nothing used before
    stay (one imported for its effect), and so does whatever ``protected`` (the project's own version of an
    extended file) binds or uses. A definition goes with its decorators, the comment lines written directly over
    it (``generated_source.with_comments_above``) and the blank lines after it; an import statement loses only the
    names that go, one left with none is removed with the comment lines over it and the blank lines that set it
    apart."""
    try:
        keep = _top_level_names(ast.parse(protected)) | _used(ast.parse(protected)) if protected.strip() else set()
    except (SyntaxError, ValueError):
        return after  # what the project's version binds cannot be read: nothing is taken out
    used_before = _used(ast.parse(before))
    removable = used_before - keep
    text = after
    while True:
        tree = ast.parse(text)
        if _reaches_dynamically(tree):
            return text
        case_classes: set[str] = set()  # classes of the file pytest collects as unittest TestCases
        candidates = {id(node): names for node in tree.body
                      if (names := _definition_names(node, case_classes)) and names <= removable}  # fmt: skip
        live = _reached(tree, candidates)
        dead = [node for node in tree.body if id(node) in candidates and not candidates[id(node)] & live]
        if dead:
            spans = generated_source.with_comments_above(text, [generated_source.span(node) for node in dead])
            text = generated_source.cut(text, spans, keep_gaps=True)
            continue
        pruned = _without_imports(text, tree, removable - live)
        if pruned == text:
            return text
        text = pruned


def _reached(tree: ast.Module, candidates: dict[int, set[str]]) -> set[str]:
    """The names the statements that stay use, and the candidate definitions those reach, transitively."""
    by_name: dict[str, list[ast.stmt]] = {}
    live: set[str] = set()
    for node in tree.body:
        if id(node) in candidates:
            for name in candidates[id(node)]:
                by_name.setdefault(name, []).append(node)
        else:
            live |= _used(node)
    pending = list(live)
    visited: set[int] = set()
    while pending:
        for node in by_name.get(pending.pop(), []):
            if id(node) not in visited:
                visited.add(id(node))
                new = _used(node) - live
                live |= new
                pending.extend(new)
    return live


def _definition_names(node: ast.stmt, case_classes: set[str]) -> set[str]:
    """The names a top-level statement binds, if it is a definition that may go (see ``without_unused``);
    ``case_classes`` gathers the file's TestCase classes, statement by statement."""
    if isinstance(node, _FUNCTIONS):
        names = {node.name}
        quiet = not node.name.startswith("test") and _quiet(node)
    elif isinstance(node, ast.ClassDef):
        names = {node.name}
        quiet = not node.name.startswith("Test") and not _is_test_case(node, case_classes) and _quiet(node)
    elif isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        names = {name for target in targets for name in _plain_names(target)}
        quiet = all(_plain_names(target) for target in targets) and _quiet(node)
    else:
        return set()
    if not quiet or any(name in _RUNNER_NAMES or name.startswith(("pytest_", "__")) for name in names):
        return set()
    return names


def _quiet(node: ast.stmt) -> bool:
    """Whether running a definition only binds names: no call but of a wrapping decorator, in what runs as it is
    defined (decorators, default values, annotations, base classes, a class's body), no autouse fixture."""
    if isinstance(node, _FUNCTIONS):
        args = node.args
        evaluated = [*args.defaults, *(d for d in args.kw_defaults if d), node.returns,
                     *(a.annotation for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]),
                     *(a.annotation for a in (args.vararg, args.kwarg) if a)]  # fmt: skip
        return _wrapping(node.decorator_list) and not _calls(e for e in evaluated if e)
    if isinstance(node, ast.ClassDef):
        return (not node.keywords and _wrapping(node.decorator_list) and not _calls(node.bases)
                and all(_quiet(item) for item in node.body))  # fmt: skip
    if isinstance(node, ast.Assign | ast.AnnAssign):
        return not _calls([node.value] if node.value else [])
    return isinstance(node, ast.Pass) or (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant))


def _wrapping(decorators: list[ast.expr]) -> bool:
    for decorator in decorators:
        call = decorator if isinstance(decorator, ast.Call) else None
        func = call.func if call else decorator
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        if name not in _WRAPPING:
            return False
        if call is not None:
            if name == "fixture" and any(
                k.arg == "autouse" and not (isinstance(k.value, ast.Constant) and not k.value.value)
                for k in call.keywords
            ):
                return False  # autouse: pytest runs it for the kept tests
            if _calls([*call.args, *(k.value for k in call.keywords)]):
                return False
    return True


def _calls(nodes: Iterable[ast.expr]) -> bool:
    """Whether evaluating the expressions calls anything (a lambda's body runs only when called)."""
    stack: list[ast.AST] = list(nodes)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Call):
            return True
        if not isinstance(node, ast.Lambda):
            stack.extend(ast.iter_child_nodes(node))
    return False


def _plain_names(target: ast.expr) -> set[str]:
    """The names an assignment target binds when it binds names alone (``x``, ``x, *y``); else none."""
    if isinstance(target, ast.Name):
        return {target.id}
    if isinstance(target, ast.Starred):
        return _plain_names(target.value)
    if isinstance(target, ast.Tuple | ast.List) and target.elts:
        parts = [_plain_names(element) for element in target.elts]
        return set().union(*parts) if all(parts) else set()
    return set()


def _is_test_case(node: ast.ClassDef, case_classes: set[str]) -> bool:
    """A subclass of a ``*TestCase`` base or of a class of the file that is one (remembered in ``case_classes``):
    pytest collects it whatever its name."""
    for base in node.bases:
        name = base.attr if isinstance(base, ast.Attribute) else base.id if isinstance(base, ast.Name) else ""
        if name.endswith("TestCase") or name in case_classes:
            case_classes.add(node.name)
            return True
    return False


def _reaches_dynamically(tree: ast.Module) -> bool:
    """Whether the module reads names by computing them: ``globals()``, ``eval(...)``, ``vars()`` and the like.
    An ``eval``/``exec`` of a string literal reads the names written in it, which ``_used`` counts."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _DYNAMIC:
            if (node.func.id != "vars" or not node.args) and _literal_code(node) is None:
                return True
    return False


def _literal_code(call: ast.Call) -> ast.AST | None:
    """The code an ``eval``/``exec`` call runs when it is a string literal that parses, else None."""
    if not isinstance(call.func, ast.Name) or call.func.id not in ("eval", "exec") or not call.args:
        return None
    text = call.args[0]
    if not isinstance(text, ast.Constant) or not isinstance(text.value, str):
        return None
    try:
        return ast.parse(text.value, mode="eval" if call.func.id == "eval" else "exec")
    except SyntaxError:
        return None


def _used(tree: ast.AST) -> set[str]:
    """The names a module reads: names, parameters (fixtures are asked for by name) and the names in strings that
    hold names alone (``usefixtures('db')``, ``'a, b'``, ``'pkg.mod.helper'``)."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            found.add(node.id)
        elif isinstance(node, ast.arg):
            found.add(node.arg)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and _NAME_LIST.fullmatch(node.value):
            found.update(re.findall(r"[^\W\d]\w*", node.value))
        elif isinstance(node, ast.Call) and (code := _literal_code(node)) is not None:
            found |= _used(code)
    return found


def _top_level_names(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            names.update(_bound(alias) for alias in node.names)
        elif isinstance(node, (*_FUNCTIONS, ast.ClassDef)):
            names.add(node.name)
    return names


def _bound(alias: ast.alias) -> str:
    return alias.asname or alias.name.split(".", 1)[0]


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
    whole = sorted(start for start, new in replaced.items() if not new)
    widened = generated_source.with_comments_above(text, [(start + 1, spans[start] + 1) for start in whole])
    for start, (top, _) in zip(whole, widened, strict=True):
        if top - 1 != start:  # the comment lines written over it go with it
            replaced[top - 1], spans[top - 1] = replaced.pop(start), spans.pop(start)
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
