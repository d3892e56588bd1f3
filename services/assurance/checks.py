"""Whether a test function checks something the code under test computed, decided from its source with ``ast``.

A test checks something when it

- expects an exception or a warning from a call: ``pytest.raises`` / ``warns`` / ``deprecated_call`` or
  ``self.assertRaises*`` / ``assertWarns*``, as a ``with`` block holding a call (a constructor's too) or given the
  callable to call; or fails on purpose (``pytest.fail``); or
- asserts (``assert``, an ``assert*()`` call, or a helper function of the file that asserts on what it is given or
  checks on its own) on a value that comes from the code under test: the result of a function, method or operator
  call (``f(x)``, ``obj.m()``, ``a | b``), a name assigned from one, an object after it was passed to such a call or
  had a method called on it (``obj.add(3); assert obj.count == 1``), or a parameter of the test (a fixture or a
  parametrized value: where it comes from cannot be seen).

Building an object of a class the target modules define (``Foo(3)``, ``module_0.Foo(3)``, or an explicit
``Foo.__new__``/``Foo.__init__`` call, which returns None whatever it did) is not a call of the code under test,
and ``isinstance``, ``issubclass``, ``type``, ``id``, ``callable``, ``hasattr``, ``getattr`` and ``vars`` carry
only what their arguments carry. Calls of the standard library and pytest (names the test file imports from them),
of the other built-ins, and operators count as calls of the code when one of their operands is an object of the test
(a name it bound, a call of the project), not when they work on literals and module constants alone: ``len(obj)``,
``doctest.testmod(module)`` and ``a | b`` run code of the project; ``float('inf')``, ``-1``,
``datetime.timedelta(hours=1)``, ``pytest.approx(2.5)`` and ``len(mod_.MULTIPLIERS)`` do not. A module is a
namespace (module_names.py), its attribute a constant unless a call of the test changed it (``mod_.registry.add(3)``)
or it is state the targets' code changes, read after a call (``mod_.reset(); assert mod_.COUNT == 0``:
target_names.py). An attribute or item read from an object is that object's, except a property of a target's class
(reading it runs the target's code: ``assert Rect(2, 3).area == 6`` checks ``area``); a comparison is the check,
and it runs the target's code when an operand is an object built of a target's class that defines the comparison
(``assert Week(1, 2) != Week(1, 3)`` checks ``__ne__`` or ``__eq__``; ``self.assertLess(a, b)`` and
``assertIn(x, box)`` likewise).
So ``obj = Foo(3); assert isinstance(obj, Foo); obj.method()`` checks nothing the code computed: the assert comes
before the call and sees only the object built. Statements are read in order, loop bodies twice.
"""

from __future__ import annotations

import ast
import builtins
import sys
from collections.abc import Collection, Container, Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import Enum

from handoff.assurance import comparison_methods, module_names

NO_CHECK = "checks nothing: no assert, pytest.raises/warns/fail or assert*() call"
BUILT_ONLY = ("checks only objects it built: no assert sees the result of a call of the code under test other than "
              "a constructor, and no pytest.raises expects an exception from one")  # fmt: skip

_EXPECTING = frozenset({"raises", "warns", "deprecated_call"})  # pytest.raises(...) and the like
_TRANSPARENT = frozenset({"isinstance", "issubclass", "type", "id", "callable", "hasattr", "getattr", "vars"})
_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)
_BUILTINS = frozenset(dir(builtins))


class Checks(Enum):
    VALUE = "value"  # checks a value from the code under test, or expects an exception from a call
    BUILT_ONLY = "built_only"  # has checks, but none of them sees anything but objects it built
    NOTHING = "nothing"  # no check at all

    @property
    def reason(self) -> str:
        """Why a test judged so is dropped ('' when it checks a value)."""
        return {Checks.VALUE: "", Checks.BUILT_ONLY: BUILT_ONLY, Checks.NOTHING: NO_CHECK}[self]


class Helper(Enum):
    CHECKS = "checks"  # checks a value on its own, whatever it is given
    ON_ARGUMENTS = "on_arguments"  # asserts on its parameters: checks when given a value from the code


@dataclass(frozen=True, slots=True)
class Module:
    """What a test module's checks are read against: its asserting helpers, the classes the targets define, the
    names it imports from the standard library or pytest, and the built-ins it does not rebind."""

    helpers: Mapping[str, Helper] = field(default_factory=dict)
    classes: Collection[str] = frozenset()
    properties: Collection[str] = frozenset()
    comparing: Mapping[str, Collection[str]] = field(default_factory=dict)  # class -> comparison methods it defines
    stdlib: Collection[str] = frozenset()
    builtins: Collection[str] = _BUILTINS
    modules: Container[str] = frozenset()  # dotted names that are modules: "mod_", "pkg", "pkg.sub" (module_names)
    state: Collection[str] = frozenset()  # the targets' module-level names their code changes (target_names)


def module(
    tree: ast.Module,
    classes: Collection[str] = (),
    properties: Collection[str] = (),
    project_modules: Container[str] = frozenset(),
    module_state: Collection[str] = (),
    comparing: Mapping[str, Collection[str]] | None = None,
) -> Module:
    """The context of ``tree``'s tests; ``classes`` are the names of the classes the targets define, ``properties``
    the names of their properties (reading one runs code), ``project_modules`` the project's dotted module names
    (tree_modules.py: ``from pkg import mod`` binds a module when ``"pkg.mod"`` is one), ``module_state`` the
    module-level names of the targets their code changes (target_names.py: read after a call, they are its values;
    any other module attribute is a constant, like a literal), ``comparing`` the comparison methods each of the
    targets' classes defines (target_names.py: comparing one of its objects runs them)."""
    imported: dict[str, bool] = {}  # name -> whether every import of it is from the standard library
    bound: set[str] = set()
    modules = module_names.Namespaces(module_names.bound_modules(tree, project_modules), project_modules)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            source = node.module if isinstance(node, ast.ImportFrom) else None
            for alias in node.names:
                name = alias.asname or alias.name.split(".")[0]
                top = (source or alias.name).split(".")[0]
                std = isinstance(node, ast.Import) or node.level == 0
                imported[name] = (
                    imported.get(name, True) and std and (top in sys.stdlib_module_names or top == "pytest")
                )
        elif isinstance(node, (*_FUNCTIONS, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            bound.add(node.id)
    stdlib = frozenset(name for name, std in imported.items() if std and name not in bound)
    context = Module(
        classes=frozenset(classes),
        properties=frozenset(properties),
        comparing=dict(comparing or {}),
        stdlib=stdlib,
        builtins=_BUILTINS - bound - set(imported),
        modules=modules,
        state=frozenset(module_state),
    )
    found: dict[str, Helper] = {}
    for node in tree.body:
        if isinstance(node, _FUNCTIONS) and not node.name.startswith("test"):
            current = replace(context, helpers=dict(found))
            if judge(node, current, parameters_derived=False) == Checks.VALUE:
                found[node.name] = Helper.CHECKS
            elif judge(node, current, parameters_derived=True) == Checks.VALUE:
                found[node.name] = Helper.ON_ARGUMENTS
    return replace(context, helpers=found)


def judge(
    function: ast.FunctionDef | ast.AsyncFunctionDef, context: Module, *, parameters_derived: bool = True
) -> Checks:
    """How ``function`` checks: a value from the code under test, only objects it built, or nothing."""
    flow = _Flow(context)
    if parameters_derived:
        args = function.args
        every = [*args.posonlyargs, *args.args, *args.kwonlyargs, *(a for a in (args.vararg, args.kwarg) if a)]
        flow.derived.update(a.arg for a in every if a.arg not in ("self", "cls"))
    flow.block(function.body)
    if flow.checks:
        return Checks.VALUE
    return Checks.BUILT_ONLY if flow.weak else Checks.NOTHING


class _Flow:
    """Names bound to values from the code under test, statement by statement; what the checks see."""

    def __init__(self, context: Module) -> None:
        self.context = context
        self.helpers = context.helpers
        self.derived: set[str] = set()
        self.built: dict[str, str] = {}  # name -> the target's class it was built of (Foo(3)), while it is bound so
        self.checks = False  # a check that sees a value from the code (or an expected exception) was found
        self.weak = False  # a check was found that sees only built objects
        self.called = False  # the code under test was called (a constructor too): module state may have changed

    def block(self, body: Iterable[ast.stmt]) -> None:
        for statement in body:
            self.statement(statement)

    def statement(self, node: ast.stmt) -> None:
        if isinstance(node, (*_FUNCTIONS, ast.ClassDef)):
            return  # a nested definition runs only when called, and a call of it counts as a call
        if isinstance(node, ast.Assert):
            self._check(self.is_derived(node.test))
            self._expressions([node.test])
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            self._expressions([node.value] if node.value else [])
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            built = self._class_built(node.value) if node.value is not None else None
            for target in targets:
                if isinstance(target, ast.Name):
                    self.built.pop(target.id, None)
                    if built is not None:
                        self.built[target.id] = built
            if node.value is not None and self.is_derived(node.value):
                self.derived.update(name for t in targets for name in _bound(t))
        elif isinstance(node, ast.AugAssign):  # x += y calls x's operator
            self._expressions([node.value])
            self.derived.update(_bound(node.target))
        elif isinstance(node, ast.For | ast.AsyncFor):
            self._expressions([node.iter])
            if self.is_derived(node.iter):
                self.derived.update(_bound(node.target))
            for _ in range(2):
                self.block(node.body)
            self.block(node.orelse)
        elif isinstance(node, ast.While):
            self._expressions([node.test])
            for _ in range(2):
                self.block(node.body)
            self.block(node.orelse)
        elif isinstance(node, ast.With | ast.AsyncWith):
            self._with(node)
        elif isinstance(node, ast.If):
            self._expressions([node.test])
            self.block(node.body)
            self.block(node.orelse)
        elif isinstance(node, ast.Try | ast.TryStar):
            self.block(node.body)
            for handler in node.handlers:
                self.block(handler.body)
            self.block(node.orelse)
            self.block(node.finalbody)
        elif isinstance(node, ast.Match):
            self._expressions([node.subject])
            for case in node.cases:
                self.block(case.body)
        else:  # an expression statement, return, raise, del, ...
            self._expressions(child for child in ast.iter_child_nodes(node) if isinstance(child, ast.expr))

    def _with(self, node: ast.With | ast.AsyncWith) -> None:
        expecting = False
        for item in node.items:
            context = item.context_expr
            if _expects(context):
                expecting = True
                self._expressions(context.args[1:] if isinstance(context, ast.Call) else [])
            else:
                self._expressions([context])
                if item.optional_vars is not None and self.is_derived(context):
                    self.derived.update(_bound(item.optional_vars))
        if expecting:
            calls = [n for s in node.body for n in ast.walk(s) if isinstance(n, ast.Call)]
            self._check(any(self._runs_code(c) or self._constructs(c) for c in calls))
        self.block(node.body)

    def _check(self, sees_value: bool) -> None:
        if sees_value:
            self.checks = True
        else:
            self.weak = True

    def _expressions(self, nodes: Iterable[ast.expr]) -> None:
        """The checks among the calls of these expressions, then what their calls touch (receivers, arguments)."""
        touched: set[str] = set()
        called = False
        for expression in nodes:
            for call in _calls(expression):
                name = _name(call.func)
                arguments = [*call.args, *(k.value for k in call.keywords)]
                if name.startswith(("assertRaises", "assertWarns")):
                    self._check(len(call.args) >= 2)  # self.assertRaises(E, f, ...): the callable is called
                elif name.startswith("assert"):
                    compared = comparison_methods.ASSERT_COMPARES.get(name)
                    self._check(
                        any(self.is_derived(a) for a in arguments)
                        or (compared is not None and len(call.args) >= 2
                            and self._compared_by_targets(compared, call.args[0], call.args[1]))
                    )  # fmt: skip
                elif name in _EXPECTING:
                    self._check(len(call.args) >= 2)  # pytest.raises(E, f, ...)
                elif name == "fail" and isinstance(call.func, ast.Attribute):
                    self._check(True)  # pytest.fail(...): a path the test rejects on purpose
                elif name in self.helpers and isinstance(call.func, ast.Name):
                    helper = self.helpers[name]
                    self._check(helper == Helper.CHECKS or any(self.is_derived(a) for a in arguments))
                elif self._constructs(call):
                    called = True
                elif self._runs_code(call):
                    called = True
                    if isinstance(call.func, ast.Attribute):
                        touched.update(self._objects(call.func.value))
                    for argument in arguments:
                        touched.update(self._objects(argument))
        self.derived.update(touched)
        self.called |= called

    def _objects(self, node: ast.expr) -> set[str]:
        """What a call can change through ``node``: the names it reads its object from (``a.b[0]`` -> {a}); of a
        module, the module's attribute it reaches (``mod_.registry.items`` -> {"mod_.registry"}), not the module."""
        found = set()
        for root in _roots(node):
            if root not in self.context.modules:
                found.add(root)
        for element in node.elts if isinstance(node, ast.Tuple | ast.List | ast.Set) else [node]:
            inside = module_names.attribute_read(element, self.context.modules)
            if inside:
                found.add(inside)
        return found

    def is_derived(self, node: ast.expr) -> bool:
        """Whether the value of ``node`` comes from the code under test (see the module's docstring)."""
        if isinstance(node, ast.Name):
            return node.id in self.derived
        if isinstance(node, ast.Constant | ast.Lambda):
            return False
        if isinstance(node, ast.Attribute) and node.attr in self.context.properties:
            return True  # obj.area, where area is a property of a target's class: its code runs
        if isinstance(node, ast.Attribute | ast.Subscript):
            inside = module_names.attribute_read(node, self.context.modules)
            if inside and (inside in self.derived or (self.called and self._state(inside))):
                return True  # mod_.registry.count after mod_.registry.add(3); mod_.COUNT after mod_.reset()
        if isinstance(node, ast.Call):
            return self._runs_code(node) or any(
                self.is_derived(a) for a in [*node.args, *(k.value for k in node.keywords)]
            )
        if isinstance(node, ast.BinOp):
            return not (self._inert(node.left) and self._inert(node.right)) or self._any(node)
        if isinstance(node, ast.UnaryOp) and not isinstance(node.op, ast.Not):
            return not self._inert(node.operand) or self._any(node)
        if isinstance(node, ast.Compare):
            pairs = zip(node.ops, [node.left, *node.comparators[:-1]], node.comparators, strict=True)
            if any(self._compared_by_targets(type(op), a, b) for op, a, b in pairs):
                return True
        return self._any(node)

    def _compared_by_targets(self, op: type[ast.cmpop], left: ast.expr, right: ast.expr) -> bool:
        """Whether comparing ``left`` with ``right`` runs a comparison method of a target's class: one of them is an
        object built of a class that defines a method deciding ``op`` (``a != b``: ``__ne__`` or ``__eq__``)."""
        left_class, right_class = self._class_of(left), self._class_of(right)
        comparing = self.context.comparing
        return comparison_methods.decided_by(
            op,
            comparing.get(left_class, ()) if left_class else (),
            comparing.get(right_class, ()) if right_class else (),
        )

    def _class_of(self, node: ast.expr) -> str | None:
        """The target's class ``node`` is an object of, when it was built here (``Foo(3)``, or a name bound to one)."""
        if isinstance(node, ast.Name):
            return self.built.get(node.id)
        return self._class_built(node)

    def _class_built(self, node: ast.expr) -> str | None:
        """The target's class a constructor call builds (``Foo(3)``, ``module_0.Foo(3)``), else None."""
        if isinstance(node, ast.Call) and (name := _name(node.func)) in self.context.classes:
            return name
        return None

    def _runs_code(self, call: ast.Call) -> bool:
        """Whether a call counts as a call of the code under test (see the module's docstring)."""
        func, context = call.func, self.context
        if self._constructs(call) or (isinstance(func, ast.Name) and func.id in _TRANSPARENT):
            return False
        if _root(func) in context.stdlib or (isinstance(func, ast.Name) and func.id in context.builtins):
            # len(obj) and doctest.testmod(module) run the project's code; float('inf'), timedelta(1) do not
            return not all(self._inert(a) for a in [*call.args, *(k.value for k in call.keywords)])
        return True

    def _inert(self, node: ast.expr) -> bool:
        """Literals, module constants and what the standard library, pytest and the built-ins make of them: every
        name in it is one of theirs (``-1``, ``(1, 2)``, ``datetime.timezone(datetime.timedelta(hours=1))``,
        ``float('inf')``) or reads a module's attribute that is neither its state nor changed by the test
        (``mod_.MULTIPLIERS``; not a call of a module's function, ``mod_.f(1)``)."""
        stack: list[ast.AST] = [node]
        while stack:
            current = stack.pop()
            if isinstance(current, ast.Call):
                if not all(self._theirs(n.id) for n in ast.walk(current.func) if isinstance(n, ast.Name)):
                    return False
                stack.extend([*current.args, *current.keywords])
            elif isinstance(current, ast.Name):
                if not self._theirs(current.id):
                    return False
            elif not (isinstance(current, ast.Attribute | ast.Subscript) and self._constant(current)):
                stack.extend(ast.iter_child_nodes(current))
        return True

    def _theirs(self, name: str) -> bool:
        return name in self.context.stdlib or name in self.context.builtins

    def _constant(self, node: ast.Attribute | ast.Subscript) -> bool:
        """A module's attribute that is not its state, nor changed by a call of the test (``mod_.TOTALS[0]``)."""
        inside = module_names.attribute_read(node, self.context.modules)
        return bool(inside) and not self._state(inside) and not self.is_derived(node)

    def _state(self, inside: str) -> bool:
        """Whether a module's attribute ("mod_.REGISTRY") is one of the module-level names the targets change."""
        return inside.rpartition(".")[2] in self.context.state

    def _constructs(self, call: ast.Call) -> bool:
        """A call of a class the targets define: ``Foo(3)``, ``module_0.Foo(3)``; or of its ``__init__``, which
        returns None whatever it did (``assert Foo.__init__(obj, 3) == None`` checks nothing)."""
        name = _name(call.func)
        return name in self.context.classes or name in ("__new__", "__init__", "__post_init__")

    def _any(self, node: ast.expr) -> bool:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.comprehension):  # [y.x for y in ys]: what ys is
                if self.is_derived(child.iter) or any(self.is_derived(c) for c in child.ifs):
                    return True
            elif isinstance(child, ast.keyword):
                if self.is_derived(child.value):
                    return True
            elif isinstance(child, ast.expr) and self.is_derived(child):
                return True
        return False


def _expects(node: ast.expr) -> bool:
    """``pytest.raises(...)``, ``pytest.warns(...)``, ``self.assertRaises(...)`` and the like."""
    if not isinstance(node, ast.Call):
        return False
    name = _name(node.func)
    return name.startswith(("assertRaises", "assertWarns")) or name in _EXPECTING


def _calls(node: ast.expr) -> list[ast.Call]:
    """The calls in an expression (not inside a lambda, which runs only when called)."""
    found: list[ast.Call] = []
    stack: list[ast.AST] = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, ast.Lambda):
            continue
        if isinstance(current, ast.Call):
            found.append(current)
        stack.extend(ast.iter_child_nodes(current))
    return found


def _name(func: ast.expr) -> str:
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def _roots(node: ast.expr) -> set[str]:
    """The names an expression reads its object from: ``a.b[0]`` -> {a}; ``[x, y]`` -> {x, y}."""
    while isinstance(node, ast.Attribute | ast.Subscript | ast.Starred):
        node = node.value
    if isinstance(node, ast.Name):
        return {node.id}
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return {name for element in node.elts for name in _roots(element)}
    return set()


def _root(node: ast.expr) -> str:
    """The name an attribute chain starts from: ``datetime.datetime.now`` -> datetime."""
    while isinstance(node, ast.Attribute | ast.Subscript | ast.Call):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else ""


def _bound(target: ast.expr) -> set[str]:
    """The names an assignment target binds or changes: ``x`` and ``x, y`` bind, ``x.a`` and ``x[0]`` change x."""
    return _roots(target)
