"""Which modules get a test-generation task: listed targets, or every non-test module under a component."""

from __future__ import annotations

import ast
from pathlib import Path

from handoff.workflow.config import WorkflowConfigError, WorkflowSpec

_SKIP_DIRS = {".git", ".venv", "venv", "__pycache__", ".pytest_cache", "node_modules", "build", "dist", "tests",
              "test", "docs", "doc", "examples", ".tox", ".nox"}  # fmt: skip


def is_test_module(path: Path) -> bool:
    """A test module: ``test_*.py``, ``*_test.py``, ``conftest.py``, or a suite module named ``tests.py``/``test.py``
    (roman 4.2's unittest suite is ``src/tests.py``)."""
    name = path.name
    return name.startswith("test_") or name.endswith("_test.py") or name in ("conftest.py", "tests.py", "test.py")


_ENTRY_POINTS = {"__main__.py", "__version__.py", "_version.py", "setup.py", "noxfile.py", "fabfile.py"}
"""Run or generated, not code to test (``setup.py`` and task files of the project's tooling included)."""


def has_code(path: Path) -> bool:
    """A module defines something worth testing (a function or class), not only imports, ``__all__`` or text."""
    try:
        tree = ast.parse(path.read_bytes())
    except (SyntaxError, ValueError):
        return True  # let the later checks say what is wrong with it
    return any(isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) for node in tree.body)


def wanted_module(path: Path) -> bool:
    """A component's module that gets a task: not a test, not an entry point, and an ``__init__.py`` only when it
    holds real code."""
    if is_test_module(path) or path.name in _ENTRY_POINTS:
        return False
    return path.name != "__init__.py" or has_code(path)


def component_root(repo: Path, component: str) -> Path:
    """The component as a folder, or a single module: a path (``pkg/sub``) or a dotted module path (``pkg.sub``)."""
    as_given = (repo / component).resolve()
    if as_given.exists() or "/" in component or not all(part.isidentifier() for part in component.split(".")):
        return as_given
    dotted = repo.joinpath(*component.split("."))
    module = dotted.with_name(dotted.name + ".py")
    return (module if module.is_file() else dotted).resolve()


def discover_targets(repo: Path, spec: WorkflowSpec) -> list[str]:
    """Repo-relative POSIX paths, sorted. Listed targets must exist; a component must contain modules."""
    if spec.targets:
        missing = [t for t in spec.targets if not (repo / t).is_file()]
        if missing:
            raise WorkflowConfigError(f"listed targets do not exist in {repo}: {', '.join(missing)}")
        return sorted(spec.targets)
    if not spec.component:
        raise WorkflowConfigError("the workflow needs 'component' (a folder) or 'targets' (a list of modules)")
    root = component_root(repo, spec.component)
    if not root.is_relative_to(repo.resolve()) or not (root.is_dir() or (root.is_file() and root.suffix == ".py")):
        raise WorkflowConfigError(
            f"component {spec.component!r} is not a folder, module or dotted module path inside {repo}"
        )
    if root.is_file():
        return [root.relative_to(repo.resolve()).as_posix()]
    found = [
        p.relative_to(repo.resolve()).as_posix()
        for p in sorted(root.rglob("*.py"))
        if wanted_module(p) and not (_SKIP_DIRS & set(p.relative_to(root).parts[:-1]))
    ]
    if not found:
        raise WorkflowConfigError(f"no modules to test under {spec.component!r}")
    return found
