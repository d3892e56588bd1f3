"""A project whose pytest configuration turns on pytest-cov (wcwidth 0.9.4: ``--cov=wcwidth`` in tox.ini's addopts)
or pytest-xdist (``-n 2``) is still measured: pytest-cov no longer takes the tracer from Handoff's coverage run, and
the tests no longer run in xdist's workers, which that run does not trace."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from handoff.assurance.coverage_delta import existing_coverage
from handoff.assurance.testbed import TestBed
from handoff.runners.openhands import workspace as ws
from handoff.runners.openhands.validation import validate
from tests.assurance.conftest import PROJECT_PACKAGES, PROJECTS, uv_index_env
from tests.runners.conftest import task_sandbox

pytestmark = [pytest.mark.slow, pytest.mark.timeout(400)]  # a real environment and real pytest runs

TARGET = "grading.py"
PYTEST_INI = "[pytest]\naddopts = --cov=grading --cov-append --cov-report=html\n"
XDIST_INI = "[pytest]\naddopts = -n 2 --dist loadscope\n"


@pytest.fixture(scope="module")
def python_with_plugins(tmp_path_factory: pytest.TempPathFactory) -> Path:
    uv = shutil.which("uv") or str(Path(sys.executable).parent / "uv")
    venv = tmp_path_factory.mktemp("env-with-plugins") / "venv"
    env = {**os.environ, **uv_index_env()}
    subprocess.run([uv, "venv", "-q", "-p", sys.executable, str(venv)], env=env, check=True, timeout=120)
    python = venv / "bin" / "python"
    subprocess.run([uv, "pip", "install", "-q", "-p", str(python), *PROJECT_PACKAGES, "pytest-cov", "pytest-xdist"],
                   env=env, check=True, timeout=300)  # fmt: skip
    return python


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "grading"
    shutil.copytree(PROJECTS / "grading", root)
    (root / "pytest.ini").write_text(PYTEST_INI)
    return root


async def test_the_baseline_of_a_project_with_cov_in_its_addopts_is_measured(
    python_with_plugins: Path, tree: Path, tmp_path: Path
) -> None:
    """75/50 % by the project's test, as without pytest-cov (it read 'not imported by any test'); no htmlcov/."""
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path)}
    bed = TestBed(root=tree, python=python_with_plugins, scratch=tmp_path / "scratch", env=env)
    existing = await existing_coverage(bed, [], [TARGET])
    assert (existing.coverage[TARGET].line_pct, existing.coverage[TARGET].branch_pct) == (75.0, 50.0)
    assert not (tree / "htmlcov").exists()


async def test_validation_of_a_project_with_cov_in_its_addopts_measures_the_targets(
    python_with_plugins: Path, tmp_path: Path
) -> None:
    """The runner's validation run gets coverage data too (it read 'no coverage data')."""
    dirs = ws.TaskDirs.create(tmp_path / "work", "v", 1)
    shutil.copytree(PROJECTS / "grading", dirs.workspace)
    (dirs.workspace / "pytest.ini").write_text(PYTEST_INI)
    report = await validate(dirs=dirs, python=python_with_plugins, tree=dirs.workspace,
                            env=ws.agent_env(dirs, venv=python_with_plugins.parent.parent),
                            test_files=["tests/test_existing.py"], targets=[TARGET], goal_pct=50.0, timeout_s=120,
                            max_output_chars=10_000,
                            sandbox=task_sandbox().with_readable([python_with_plugins.parents[2]]))  # fmt: skip
    assert report.ok, report.output
    assert report.coverage[0].percent == 75.0


async def test_the_baseline_of_a_project_with_xdist_workers_in_its_addopts_is_measured(
    python_with_plugins: Path, tmp_path: Path
) -> None:
    """75/50 % as without pytest-xdist (with ``-n 2`` the tests ran in workers: 'No data was collected')."""
    tree = tmp_path / "grading"
    shutil.copytree(PROJECTS / "grading", tree)
    (tree / "pytest.ini").write_text(XDIST_INI)
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path)}
    bed = TestBed(root=tree, python=python_with_plugins, scratch=tmp_path / "scratch", env=env)
    existing = await existing_coverage(bed, [], [TARGET])
    assert (existing.coverage[TARGET].line_pct, existing.coverage[TARGET].branch_pct) == (75.0, 50.0)


async def test_validation_of_a_project_with_xdist_workers_in_its_addopts_measures_the_targets(
    python_with_plugins: Path, tmp_path: Path
) -> None:
    dirs = ws.TaskDirs.create(tmp_path / "work", "v", 1)
    shutil.copytree(PROJECTS / "grading", dirs.workspace)
    (dirs.workspace / "pytest.ini").write_text(XDIST_INI)
    report = await validate(dirs=dirs, python=python_with_plugins, tree=dirs.workspace,
                            env=ws.agent_env(dirs, venv=python_with_plugins.parent.parent),
                            test_files=["tests/test_existing.py"], targets=[TARGET], goal_pct=50.0, timeout_s=120,
                            max_output_chars=10_000,
                            sandbox=task_sandbox().with_readable([python_with_plugins.parents[2]]))  # fmt: skip
    assert report.ok, report.output
    assert report.coverage[0].percent == 75.0
