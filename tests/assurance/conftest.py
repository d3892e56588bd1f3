"""Assurance fixtures: a real project virtualenv built with uv (pytest, coverage, cosmic-ray), fixture projects."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from handoff.assurance.testbed import TestBed
from handoff.environments.index import index_config
from handoff.environments.settings import EnvSettings

collect_ignore = ["projects"]

PROJECTS = Path(__file__).parent / "projects"
PROJECT_PACKAGES = ("pytest", "coverage", "cosmic-ray==8.7.0")


def uv_index_env() -> dict[str, str]:
    """pip's index settings (uv does not read pip's configuration) as uv's environment variables."""
    return index_config(EnvSettings()).uv_environment()


@pytest.fixture(scope="session")
def project_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project virtualenv built with uv, with pytest, coverage and cosmic-ray installed."""
    uv = shutil.which("uv") or str(Path(sys.executable).parent / "uv")
    venv = tmp_path_factory.mktemp("project-env") / "venv"
    env = {**os.environ, **uv_index_env()}
    subprocess.run([uv, "venv", "-q", "-p", sys.executable, str(venv)], env=env, check=True, timeout=120)
    python = venv / "bin" / "python"
    subprocess.run([uv, "pip", "install", "-q", "-p", str(python), *PROJECT_PACKAGES], env=env, check=True,
                   timeout=300)  # fmt: skip
    return python


@pytest.fixture
def make_bed(tmp_path: Path, project_python: Path) -> Callable[..., TestBed]:
    """A TestBed over a fresh copy of a fixture project (``extra`` maps relative paths to file contents)."""

    def make(project: str, extra: dict[str, str] | None = None, **options: object) -> TestBed:
        root = tmp_path / "tree"
        shutil.copytree(PROJECTS / project, root)
        for name, text in (extra or {}).items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_text(text)
        env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "FLAKY_COUNTER": str(tmp_path / "runs")}
        return TestBed(root=root, python=project_python, scratch=tmp_path / "scratch", env=env, **options)

    return make


def generated(name: str) -> str:
    return (PROJECTS / name).read_text()
