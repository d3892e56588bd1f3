"""A real virtualenv with the offline engines installed (uv, the configured package index), once per session."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from handoff.environments.index import index_config
from handoff.environments.settings import EnvSettings
from handoff.offline_engine import ENGINE_PACKAGES

SAMPLE_MODULE = '''
def clamp(x: int, lo: int, hi: int) -> int:
    """Clamp x into [lo, hi]."""
    if lo > hi:
        raise ValueError("lo > hi")
    if x < lo:
        return lo
    if x > hi:
        return hi
    return x


def grade(score: float) -> str:
    if score >= 90:
        return "A"
    if score >= 75:
        return "B"
    return "C"
'''


def uv_env() -> dict[str, str]:
    """uv does not read pip's configuration: the configured indexes and wheel folders, passed explicitly."""
    return {**os.environ, **index_config(EnvSettings()).uv_environment()}


@pytest.fixture(scope="session")
def engine_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project venv (Python of this run) with pytest, coverage and both engines."""
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    assert uv, "uv is a Handoff dependency and must be installed"
    venv = tmp_path_factory.mktemp("engines") / "venv"
    env = uv_env()
    subprocess.run([uv, "venv", "-q", "--python", sys.executable, str(venv)], check=True, env=env)
    # compiled at install: a first Pynguin run that compiles its own bytecode took 19 s where the next took 13 s, and
    # the engine tests whose limits are tight would measure the first run of the session's venv
    subprocess.run([uv, "pip", "install", "-q", "--compile-bytecode", "--python", str(venv / "bin" / "python"),
                    "pytest", "coverage", *ENGINE_PACKAGES.values()], check=True, env=env, timeout=600)  # fmt: skip
    return venv


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "calc.py").write_text(SAMPLE_MODULE)
    return root
