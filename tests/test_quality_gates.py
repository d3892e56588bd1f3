"""The quality gates (ruff check, ruff format --check, mypy) run in the CI command before the tests and fail it.

Each test builds a small throwaway project next to a copy of .ci/ and runs the real scripts on it; the project's
virtualenv is this one, linked in, so bootstrap finds everything installed and installs nothing.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TYPED = "def double(x: int) -> int:\n    return 2 * x\n"
MISTYPED = "def double(x: int) -> str:\n    return 2 * x\n"
PASSING_TEST = 'def test_one() -> None:\n    """One passing test."""\n    assert 1 + 1 == 2\n'

pytestmark = pytest.mark.skipif(shutil.which("ruff") is None or shutil.which("mypy") is None, reason="needs [dev]")


def make_project(root: Path, module: str) -> Path:
    """A copy of .ci/ and pyproject.toml with one module in services/, and this virtualenv linked in as .venv."""
    (root / ".ci").mkdir(parents=True)
    for name in ("bootstrap", "gates", "run", "constraints.txt"):
        shutil.copy2(ROOT / ".ci" / name, root / ".ci" / name)
    (root / ".ci" / "asyncapi" / "node_modules" / "@asyncapi" / "parser").mkdir(parents=True)  # no npm step
    shutil.copy2(ROOT / "pyproject.toml", root / "pyproject.toml")
    for folder, files in {
        "services": {"__init__.py": "", "numbers.py": module},
        "schemas": {"__init__.py": ""},
        "tests": {"__init__.py": "", "test_one.py": PASSING_TEST},
    }.items():
        (root / folder).mkdir()
        for name, text in files.items():
            (root / folder / name).write_text(text)
    venv = root / ".venv"
    (venv / "bin").mkdir(parents=True)
    shutil.copy2(Path(sys.prefix) / "pyvenv.cfg", venv / "pyvenv.cfg")
    (venv / "lib").symlink_to(Path(sys.prefix) / "lib")
    (venv / "bin" / "python").symlink_to(Path(sys.executable).resolve())
    for tool in ("ruff", "mypy", "pytest"):
        (venv / "bin" / tool).symlink_to(Path(shutil.which(tool) or tool).resolve())
    stamp = (root / "pyproject.toml").read_bytes() + (root / ".ci" / "constraints.txt").read_bytes()
    (venv / ".handoff-installed").write_text(hashlib.sha256(stamp).hexdigest() + "\n")
    return root


def run_ci(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "HANDOFF_GATES"}}
    return subprocess.run(["bash", *args], cwd=root, env=env, capture_output=True, text=True, timeout=110, check=False)


@pytest.mark.slow
def test_the_ci_command_fails_on_a_type_error_before_any_test_runs(tmp_path: Path) -> None:
    """.ci/run exits 1 naming mypy when a module has a type error, and pytest never starts."""
    project = make_project(tmp_path / "p", MISTYPED)
    done = run_ci(project, ".ci/run")
    assert done.returncode == 1, done.stderr
    assert "gates: FAILED: mypy" in done.stderr
    assert "tests not run" in done.stderr
    assert "numbers.py" in done.stdout and "Incompatible return value type" in done.stdout
    assert "passed" not in done.stdout


@pytest.mark.slow
def test_the_ci_command_runs_the_tests_once_the_gates_pass(tmp_path: Path) -> None:
    """The same project with the type error fixed passes every gate and then runs its tests."""
    project = make_project(tmp_path / "p", TYPED)
    done = run_ci(project, ".ci/run")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "gates: all passed" in done.stderr
    assert "1 passed" in done.stdout


def test_the_gates_fail_on_unformatted_code_and_a_lint_error(tmp_path: Path) -> None:
    """ruff format --check and ruff check are gates too; all failing gates are named in one run."""
    project = make_project(tmp_path / "p", "import os\ndef double(x:int)->int:\n    return 2*x\n")
    done = run_ci(project, ".ci/gates", str(project))
    assert done.returncode == 1
    assert "gates: FAILED: ruff check, ruff format --check" in done.stderr
