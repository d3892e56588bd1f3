"""Environment fixtures: small projects on disk and ProjectEnvironments over a fresh cache folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from handoff.environments import EnvSettings, ProjectEnvironments


def make_project(root: Path, dependencies: list[str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    deps = ", ".join(f'"{d}"' for d in dependencies)
    (root / "pyproject.toml").write_text(f'[project]\nname = "p"\nversion = "0"\ndependencies = [{deps}]\n')
    return root


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    return tmp_path / "cache"


@pytest.fixture
def environments(cache_dir: Path) -> ProjectEnvironments:
    return ProjectEnvironments(EnvSettings(cache_dir=cache_dir))
