"""What counts as checking a value of the code under test, read from a test module's source (checks.py)."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

import pytest

from handoff.assurance.checks import BUILT_ONLY, NO_CHECK, Checks
from handoff.assurance.generated_source import find_tests
from handoff.assurance.target_names import classes, comparisons, module_state, properties
from handoff.assurance.tree_modules import TreeModules

TARGET = """
class Tally:
    def __init__(self, start):
        self.start = start

    class Snapshot:
        pass


def FixedOffset(hours):  # a function with a class-like name (iso8601 2.1.0 has one)
    return hours
"""

HEAD = """import datetime
import doctest
import importlib
import sys
import unittest

import pytest

import pkg.tally as module_0
from pkg.tally import FixedOffset, Tally, total

tally_ = sys.modules["pkg.tally"]


def check_positive(value):
    assert value > 0


def check_the_sum():
    assert total([1, 2]) == 3

"""


def _judged(body: str, module_state: Collection[str] = ()) -> dict[str, Checks]:
    return {t.qualname: t.checks for t in find_tests(HEAD + body, classes(TARGET), module_state=module_state)}


def test_the_classes_of_a_target_are_found_at_any_depth_and_functions_are_not() -> None:
    assert classes(TARGET) == {"Tally", "Snapshot"}


@pytest.mark.parametrize(
    "body",
    [
        # boltons 26.2.0 mathutils, Pynguin: the object built is asserted, the method's result never is
        "def test_x():\n    obj = Tally(3)\n    assert isinstance(obj, Tally)\n    obj.add(2)\n",
        "def test_x():\n    obj = module_0.Tally(3)\n    assert obj is not None\n    var_1 = obj.__or__(other='doc')\n",
        "def test_x():\n    obj = Tally(3)\n    assert obj.start == 3\n    obj.double()\n",
        "def test_x():\n    obj = Tally(-1)\n    assert obj.start == -1\n",
        "def test_x():\n    obj = Tally(3)\n    assert f'{type(obj).__module__}' == 'pkg.tally'\n",
        "def test_x():\n    obj = Tally(3)\n    assert obj.when == datetime.datetime(2020, 1, 1)\n",
        "def test_x():\n    obj = Tally(3)\n    assert obj.ratio == pytest.approx(float('inf'))\n",
        "def test_x():\n    check_positive(Tally(1))\n    total([1])\n",
        "def test_x():\n    with pytest.raises(ValueError):\n        int('x')\n    total([1])\n",
        "class TestT(unittest.TestCase):\n    def test_x(self):\n        self.assertIsInstance(Tally(1), Tally)\n",
        # the scripted model's import test: importing runs module-level code, but nothing it computes is checked
        "def test_x():\n    module = importlib.import_module('pkg.tally')\n    assert module.__name__ == 'pkg.tally'\n",
    ],
)
def test_a_test_that_asserts_only_objects_it_built_checks_only_what_it_built(body: str) -> None:
    (verdict,) = _judged(body).values()
    assert verdict == Checks.BUILT_ONLY
    assert verdict.reason == BUILT_ONLY


@pytest.mark.parametrize(
    "body",
    [
        "def test_x():\n    assert total([1, 2]) == 3\n",
        "def test_x():\n    var_0 = tally_.total(values=[1])\n    assert var_0 == 1\n",
        "def test_x():\n    obj = Tally(3)\n    assert obj.double() == 6\n",
        "def test_x():\n    obj = Tally(3)\n    obj.add(2)\n    assert obj.start == 5\n",  # the call changes obj
        "def test_x():\n    assert (Tally(1) | Tally(2)).start == 3\n",  # an operator runs Tally.__or__
        "def test_x():\n    assert len(Tally(3)) == 3\n",  # len runs Tally.__len__
        "def test_x():\n    module = importlib.import_module('pkg.tally')\n"
        "    assert doctest.testmod(module).failed == 0\n",  # doctest runs the module's examples
        "def test_x():\n    assert FixedOffset(2) == datetime.timedelta(hours=2)\n",  # a function, not a class
        "def test_x():\n    with pytest.raises(ValueError):\n        total(None)\n",
        "def test_x():\n    with pytest.raises(ValueError):\n        Tally(-1)\n",  # a constructor that raises
        "def test_x():\n    pytest.raises(ValueError, total, None)\n",
        "def test_x():\n    check_positive(total([1]))\n",
        "def test_x():\n    check_the_sum()\n",
        "def test_x():\n    for n in total.parts([1, 2]):\n        assert n > 0\n",
        "def test_x():\n    assert all(n > 0 for n in total.parts([1, 2]))\n",
        "def test_x(tmp_path):\n    obj = Tally(tmp_path)\n    assert obj.start == tmp_path\n",  # a fixture
        "def test_x():\n    try:\n        total(None)\n    except ValueError:\n        pass\n    else:\n"
        "        pytest.fail('no error')\n",
        "class TestT(unittest.TestCase):\n    def test_x(self):\n        self.assertEqual(Tally(2).double(), 4)\n",
        "class TestT(unittest.TestCase):\n    def test_x(self):\n        self.assertRaises(ValueError, total, None)\n",
        "class TestT(unittest.TestCase):\n    def setUp(self):\n        self.obj = Tally(1)\n\n"
        "    def test_x(self):\n        self.obj.add(1)\n        self.assertEqual(self.obj.start, 2)\n",
    ],
)
def test_project_style_checks_of_a_call_count(body: str) -> None:
    (verdict,) = _judged(body).values()
    assert verdict == Checks.VALUE


def test_a_test_without_any_check_checks_nothing() -> None:
    (verdict,) = _judged("def test_x():\n    total([1, 2])\n").values()
    assert verdict == Checks.NOTHING
    assert verdict.reason == NO_CHECK == "checks nothing: no assert, pytest.raises/warns/fail or assert*() call"


PROPERTIES_TARGET = """
import functools


class Rect:
    def __init__(self, w, h):
        self.w, self.h = w, h

    @property
    def area(self):
        return self.w * self.h

    @functools.cached_property
    def perimeter(self):
        return 2 * (self.w + self.h)
"""


def test_reading_a_property_of_a_built_object_checks_the_code_a_stored_attribute_does_not() -> None:
    body = (
        "def test_area():\n    r = Rect(2, 3)\n    assert r.area == 6\n\n\n"
        "def test_perimeter():\n    assert Rect(2, 3).perimeter == 10\n\n\n"
        "def test_stored():\n    r = Rect(2, 3)\n    assert r.w == 2\n"
    )
    found = {t.qualname: t.checks for t in find_tests(HEAD + body, classes(PROPERTIES_TARGET),
                                                      properties=properties(PROPERTIES_TARGET))}  # fmt: skip
    assert found == {"test_area": Checks.VALUE, "test_perimeter": Checks.VALUE, "test_stored": Checks.BUILT_ONLY}
    assert properties(PROPERTIES_TARGET) == {"area", "perimeter"}


def test_a_test_that_asserts_what_an_explicit_init_call_returns_checks_nothing_the_code_computed() -> None:
    """itsdangerous 2.2.0, Pynguin: ``assert Signer.__init__(...) == None`` is true whatever ``__init__`` did."""
    body = (
        "def test_init():\n    obj = Tally.__new__(Tally)\n    assert Tally.__init__(obj, 3) == None\n\n\n"
        "def test_init_via_module():\n    assert module_0.Tally.__init__(Tally(1), 3) is None\n"
    )
    assert _judged(body) == {"test_init": Checks.BUILT_ONLY, "test_init_via_module": Checks.BUILT_ONLY}


@pytest.mark.parametrize(
    "body",
    [
        # pytimeparse 1.1.10, Pynguin: a call on the module, then its constant asserted
        "def test_x():\n    module_0.total([1])\n    assert module_0.TOTALS == [1, 2]\n",
        "def test_x():\n    var_0 = tally_.total([1])\n    assert tally_.TOTALS == [1, 2]\n",
        "def test_x():\n    pkg.tally.total([1])\n    assert pkg.tally.TOTALS == [1, 2]\n",
        "def test_x():\n    module = importlib.import_module('pkg.tally')\n    module.total([1])\n"
        "    assert module.TOTALS == [1, 2]\n",
        "def test_x():\n    print(module_0)\n    assert module_0.TOTALS == [1, 2]\n",
    ],
)
def test_a_module_constant_asserted_after_a_call_on_the_module_is_not_a_value_of_the_code(body: str) -> None:
    """A module is a namespace: calling one of its functions does not make its constants results of the code."""
    (verdict,) = _judged("import pkg.tally\n\n" + body).values()
    assert verdict == Checks.BUILT_ONLY


@pytest.mark.parametrize(
    "body",
    [
        "def test_x():\n    module_0.total([1])\n    assert module_0.total([2]) == 2\n",
        "def test_x():\n    module_0.registry.add(3)\n    assert module_0.registry.count == 1\n",
        "def test_x():\n    module_0.total(module_0.registry)\n    assert module_0.registry.count == 1\n",
        "def test_x():\n    pkg.tally.registry.add(3)\n    assert pkg.tally.registry.count == 1\n",
        "def test_x():\n    module_0.items[0].add(3)\n    assert module_0.items[0].count == 1\n",
    ],
)
def test_a_result_of_a_module_function_or_a_module_object_a_call_changed_is_a_value_of_the_code(body: str) -> None:
    (verdict,) = _judged("import pkg.tally\n\n" + body).values()
    assert verdict == Checks.VALUE


def _tree(root: Path, files: dict[str, str]) -> TreeModules:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return TreeModules(root)


@pytest.mark.parametrize(
    ("files", "imports"),
    [
        ({"pkg/__init__.py": "", "pkg/tally.py": ""}, "from pkg import tally\n"),
        ({"src/pkg/__init__.py": "from . import tally\n", "src/pkg/tally.py": ""}, "from pkg import tally\n"),
        ({"pkg/tally/__init__.py": ""}, "from pkg import tally\n"),  # a subpackage; pkg a namespace package
        ({"pkg/__init__.py": "", "pkg/tally.py": ""}, "import pkg\n"),  # pkg.tally read as an attribute of pkg
    ],
)
def test_a_project_module_imported_from_its_package_is_a_namespace_not_the_tests_object(
    tmp_path: Path, files: dict[str, str], imports: str
) -> None:
    """pytimeparse 1.1.10: ``from pytimeparse import timeparse`` binds the module ``pytimeparse/timeparse.py``; a call
    on it does not make its constants values of the code, while its functions' results and the objects of the
    module a call changes still are."""
    project = _tree(tmp_path, files)
    mod = "tally" if imports.startswith("from") else "pkg.tally"
    body = (
        f"def test_constant():\n    {mod}.total([1])\n    assert {mod}.TOTALS == [1, 2]\n\n\n"
        f"def test_result():\n    assert {mod}.total([1]) == 1\n\n\n"
        f"def test_changed():\n    {mod}.registry.add(3)\n    assert {mod}.registry.count == 1\n"
    )
    found = {t.qualname: t.checks for t in find_tests(imports + body, project_modules=project)}
    assert found == {"test_constant": Checks.BUILT_ONLY, "test_result": Checks.VALUE, "test_changed": Checks.VALUE}


@pytest.mark.parametrize(
    ("files", "name", "module"),
    [
        ({"pkg/__init__.py": "", "pkg/tally.py": ""}, "pkg.tally", True),
        ({"src/pkg/sub/__init__.py": "", "src/pkg/sub/tally.py": ""}, "pkg.sub.tally", True),
        ({"pkg/__init__.py": "", "pkg/parts/a.py": ""}, "pkg.parts", True),  # a namespace subpackage
        ({"pkg/__init__.py": "from . import tally\n", "pkg/tally.py": ""}, "pkg.tally", True),
        ({"pkg/__init__.py": "from pkg import tally as tally\n", "pkg/tally.py": ""}, "pkg.tally", True),
        # the package binds the name to something else: `from pkg import tally` gives that
        ({"pkg/__init__.py": "from .tally import tally\n", "pkg/tally.py": ""}, "pkg.tally", False),
        (
            {"pkg/__init__.py": "try:\n    tally = 1\nexcept OSError:\n    pass\n", "pkg/tally.py": ""},
            "pkg.tally",
            False,
        ),
        ({"pkg/__init__.py": "from .core import *\n", "pkg/tally.py": ""}, "pkg.tally", False),  # cannot be known
        ({"pkg/__init__.py": "def __getattr__(name):\n    return 1\n", "pkg/tally.py": ""}, "pkg.tally", False),
        ({"pkg/__init__.py": "def tally():\n    pass\n", "pkg/tally.py": ""}, "pkg.tally", False),
        ({"pkg/__init__.py": "(", "pkg/tally.py": ""}, "pkg.tally", False),  # does not parse: not known
        ({"pkg/__init__.py": "", "pkg/data/notes.txt": ""}, "pkg.data", False),  # a folder without modules
        ({"pkg/__init__.py": "", "pkg/other.py": ""}, "pkg.tally", False),
        ({"pkg/__init__.py": ""}, "pkg", False),  # a top-level name is no `from` import of a submodule
        ({"pkg/__init__.py": ""}, "os.path", False),
        ({"pkg/__init__.py": ""}, "pkg/../pkg", False),
    ],
)
def test_a_dotted_name_is_a_project_module_when_the_tree_holds_it_and_its_package_binds_no_other(
    tmp_path: Path, files: dict[str, str], name: str, module: bool
) -> None:
    assert (name in _tree(tmp_path, files)) is module


STATEFUL_TARGET = """
import re

TOTALS = [1, 2]
PATTERN = r"\\d+"
COUNT = 0
REGISTRY = {}
HANDLERS = []
QUEUE = []
SEEN = set()
LOOKUP = {"a": 1}
MATCHER = re.compile(PATTERN)


class Tally:
    def __init__(self, start):
        HANDLERS.append(self)


DEFAULT = Tally(0)


def reset():
    global COUNT
    COUNT = 0


def register(name, value):
    REGISTRY[name] = value


def enqueue(item):
    _push(QUEUE, item)


def parse(text):
    return MATCHER.match(text) and LOOKUP.get(text) and len(TOTALS) and re.compile(PATTERN)


def shadowed(SEEN):
    SEEN.add(1)


def remembered(x):
    remembered.cache[x] = x
"""


def test_the_module_state_of_a_target_is_what_its_functions_rebind_or_change_and_its_own_objects() -> None:
    """A global rebound, an item set (of a function's attribute too), a mutating method, a name passed to a function
    of the project, an object of a class the target defines; not a name only read, a string passed on, a reading
    method or a parameter."""
    assert module_state(STATEFUL_TARGET) == {"COUNT", "REGISTRY", "HANDLERS", "QUEUE", "DEFAULT", "remembered"}


@pytest.mark.parametrize(
    "body",
    [
        # pytimeparse 1.1.10, Pynguin: a call on the module, then a built-in on its constant
        "def test_x():\n    tally_.OPT(1)\n    assert len(tally_.MULTIPLIERS) == 10\n",
        "def test_x():\n    module_0.total([1])\n    assert len(module_0.TOTALS) == 2\n",
        "def test_x():\n    module_0.total([1])\n    assert sorted(module_0.TOTALS) == [1, 2]\n",
        "def test_x():\n    module_0.total([1])\n    assert list(module_0.TOTALS) == [1, 2]\n",
        "def test_x():\n    module_0.total([1])\n    assert set(module_0.TOTALS[:1]) == {1}\n",
        "def test_x():\n    module_0.total([1])\n    assert module_0.TOTALS[0] + 1 == 2\n",
        "def test_x():\n    module_0.total([1])\n    assert type(module_0.TOTALS) is list\n",
        "def test_x():\n    module_0.parse('a')\n    assert len(module_0.LOOKUP) == 1\n",  # only read
        "def test_x():\n    assert module_0.COUNT == 0\n",  # state, but no call of the code before
    ],
)
def test_a_built_in_on_a_module_constant_after_calls_that_leave_it_is_no_check_of_the_code(body: str) -> None:
    (verdict,) = _judged(body, module_state(STATEFUL_TARGET)).values()
    assert verdict == Checks.BUILT_ONLY


@pytest.mark.parametrize(
    "body",
    [
        "def test_x():\n    assert len(module_0.total([1])) == 1\n",
        "def test_x():\n    assert sorted(tally_.parts(module_0.TOTALS)) == [1, 2]\n",
        "def test_x():\n    obj = Tally(1)\n    obj.add(1)\n    assert len(obj.items) == 1\n",
        "def test_x():\n    module_0.registry.add(3)\n    assert len(module_0.registry) == 1\n",
        "def test_x():\n    module_0.total(module_0.TOTALS)\n    assert len(module_0.TOTALS) == 2\n",
        # module state a function of the target changes, after a call
        "def test_x():\n    module_0.register('a', 1)\n    assert len(module_0.REGISTRY) == 1\n",
        "def test_x():\n    module_0.reset()\n    assert module_0.COUNT == 0\n",
        "def test_x():\n    module_0.enqueue(1)\n    assert module_0.QUEUE[-1] == 1\n",
        "def test_x():\n    Tally(1)\n    assert len(module_0.HANDLERS) == 2\n",  # the constructor registers it
        "def test_x():\n    assert len(module_0.DEFAULT) == 0\n",  # len runs Tally's code
        "def test_x():\n    module_0.remembered(1)\n    assert len(module_0.remembered.cache) == 1\n",
    ],
)
def test_a_check_on_module_state_a_call_changes_or_on_a_result_still_counts(body: str) -> None:
    (verdict,) = _judged(body, module_state(STATEFUL_TARGET)).values()
    assert verdict == Checks.VALUE


COMPARING_TARGET = """
import functools


class Week:
    def __init__(self, year, week):
        self.year, self.week = year, week

    def __eq__(self, other):
        return (self.year, self.week) == (other.year, other.week)

    def __ne__(self, other):
        return not self == other


class IsoWeek(Week):
    pass


@functools.total_ordering
class Version:
    def __init__(self, n):
        self.n = n

    def __lt__(self, other):
        return self.n < other.n


class Bag:
    def __contains__(self, item):
        return True


class Plain:
    def __init__(self, x):
        self.x = x
"""


def test_the_comparison_methods_of_a_target_s_classes_are_found_inherited_and_completed_by_total_ordering() -> None:
    assert comparisons(COMPARING_TARGET) == {
        "Week": {"__eq__", "__ne__"},
        "IsoWeek": {"__eq__", "__ne__"},
        "Version": {"__lt__", "__le__", "__gt__", "__ge__"},
        "Bag": {"__contains__"},
    }


def test_comparing_built_objects_of_a_class_that_defines_the_comparison_checks_its_code() -> None:
    """isoweek 1.3.3: ``assert week != other`` of two built weeks runs the project's ``__ne__``; it was judged as
    checking only built objects and dropped. A class without its own comparison (``Plain``: ``object.__eq__``, an
    identity check) still checks nothing of the project's."""
    body = (
        "def test_ne():\n    week = Week(2020, 1)\n    other = Week(2020, 2)\n    assert week != other\n\n\n"
        "def test_eq_inline():\n    assert IsoWeek(2020, 1) == module_0.IsoWeek(2020, 1)\n\n\n"
        "def test_ordering_reflected():\n    assert 1 < 2 <= Version(3)\n\n\n"
        "def test_contains():\n    bag = Bag()\n    assert 3 in bag\n\n\n"
        "class TestCase(unittest.TestCase):\n"
        "    def test_assert_equal(self):\n        self.assertEqual(Week(1, 2), Week(1, 2))\n\n"
        "    def test_assert_less(self):\n        self.assertLess(Version(1), Version(2))\n\n"
        "    def test_assert_in(self):\n        self.assertIn(3, Bag())\n\n"
        "    def test_assert_equal_plain(self):\n        p = Plain(1)\n        self.assertEqual(p, p)\n\n\n"
        "def test_plain():\n    a = Plain(1)\n    assert a == a\n\n\n"
        "def test_rebound():\n    week = Week(2020, 1)\n    week = Plain(1)\n    assert week == week\n\n\n"
        "def test_identity():\n    week = Week(2020, 1)\n    assert week is week\n"
    )
    source = COMPARING_TARGET
    found = {t.qualname: t.checks for t in find_tests(HEAD + body, classes(source), comparing=comparisons(source))}
    assert found == {
        "test_ne": Checks.VALUE,
        "test_eq_inline": Checks.VALUE,
        "test_ordering_reflected": Checks.VALUE,
        "test_contains": Checks.VALUE,
        "TestCase.test_assert_equal": Checks.VALUE,
        "TestCase.test_assert_less": Checks.VALUE,
        "TestCase.test_assert_in": Checks.VALUE,
        "TestCase.test_assert_equal_plain": Checks.BUILT_ONLY,
        "test_plain": Checks.BUILT_ONLY,
        "test_rebound": Checks.BUILT_ONLY,
        "test_identity": Checks.BUILT_ONLY,
    }
