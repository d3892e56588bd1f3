"""``TestWriterPolicy``: a scripted stand-in that writes a test file per target, runs it, and finishes.

It reads the workspace and the ``module -> test file`` lines of the runner's prompt. A test's body comes from
``bodies`` (keyed by target path) or a file of the same relative path under ``answers_dir``
(``HANDOFF_SCRIPTED_ANSWERS_DIR``) when there is one, else a generic one that imports the module and runs its
doctests: honest, passing, and as good as the module's doctests. It is a script, not a model; every test it
writes says so in its docstring.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path, PurePosixPath

from handoff.runners.openhands.prompt import Assignment, parse_targets
from handoff.scripted_model.replies import ChatRequest, Reply, Say
from handoff.scripted_model.scripts import create_file, finish, run

GENERIC_TEST = '''"""Tests for {module}, written by the Handoff scripted model (a script, not an LLM)."""

import doctest
import importlib


def test_{name}_imports():
    module = importlib.import_module("{module}")
    assert module.__name__ == "{module}"


def test_{name}_doctests_pass():
    module = importlib.import_module("{module}")
    assert doctest.testmod(module).failed == 0
'''


class TestWriterPolicy:
    """Turn 0..n-1: create the test file of each target; then run pytest on them; then finish.

    After a feedback round (a new user message), it finishes again: it cannot improve its tests.
    """

    __test__ = False  # not a pytest class

    def __init__(self, bodies: Mapping[str, str] | None = None, *, answers_dir: Path | None = None) -> None:
        """``bodies[target]``, else the file ``answers_dir/<target>``, else the generic doctest test."""
        self.bodies = dict(bodies or {})
        self.answers_dir = answers_dir

    def __call__(self, request: ChatRequest) -> Reply:
        workspace, assignments = parse_targets(request.first_user_text)
        if workspace is None or not assignments:
            return Say("[scripted model] I found no targets in the prompt; nothing to do.")
        step = request.step
        if step < len(assignments):
            a = assignments[step]
            return create_file(str(workspace / a.test_file), self.body(a))
        if step == len(assignments):
            files = " ".join(a.test_file for a in assignments)
            return run(f"python -m pytest -q {files}", timeout_s=120)
        return finish(f"[scripted model] wrote {len(assignments)} test file(s)")

    def body(self, assignment: Assignment) -> str:
        if assignment.target in self.bodies:
            return self.bodies[assignment.target]
        if self.answers_dir is not None and (self.answers_dir / assignment.target).is_file():
            return (self.answers_dir / assignment.target).read_text()
        module = module_name(assignment.target)
        return GENERIC_TEST.format(module=module, name=module.replace(".", "_"))


def module_name(target: str) -> str:
    """``src/pkg/calc.py`` -> ``pkg.calc``; ``pkg/__init__.py`` -> ``pkg``."""
    parts = list(PurePosixPath(target).with_suffix("").parts)
    if parts and parts[0] == "src":
        parts = parts[1:]
    if parts and parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)
