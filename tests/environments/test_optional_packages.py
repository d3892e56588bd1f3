"""Optional packages (the offline engines) with real uv and the real index: installed when they resolve with the
project's requirements, fitted in with the project's own requirement in place of a pin that allows it, else left
out with uv's reason, and the project's environment built all the same."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from handoff.environments import EnvSettings, InstallFailed, OptionalPackage, ProjectEnvironments
from handoff.environments.installer import find_uv
from tests.environments.conftest import make_project

PYNGUIN = OptionalPackage(name="pynguin", requirement="pynguin>=0.48", overridable=("pytest",))
UNIDECODE = OptionalPackage(name="unidecode", requirement="text-unidecode")


def run_python(python: Path, code: str) -> str:
    done = subprocess.run([str(python), "-c", code], capture_output=True, text=True, timeout=60, check=True)
    return done.stdout.strip()


class CountingUv:
    """The real uv behind a script that writes down each call's arguments: how often the build resolved."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.log = folder / "calls.log"
        self.path = folder / "uv"
        self.path.write_text(f'#!/bin/sh\necho "$*" >> "{self.log}"\nexec "{find_uv()}" "$@"\n')
        self.path.chmod(0o755)

    def resolutions(self) -> int:
        calls = self.log.read_text().splitlines() if self.log.exists() else []
        return sum(call.startswith("pip install") for call in calls)


@pytest.fixture
def uv(tmp_path: Path) -> CountingUv:
    return CountingUv(tmp_path / "uv")


@pytest.fixture
def environments(cache_dir: Path, uv: CountingUv) -> ProjectEnvironments:
    return ProjectEnvironments(EnvSettings(cache_dir=cache_dir, uv=str(uv.path)))


async def test_a_project_that_does_not_conflict_with_the_optional_packages_is_resolved_once(
    environments: ProjectEnvironments, uv: CountingUv, tmp_path: Path
) -> None:
    """The normal path costs what it did: one `uv pip install` with every package, nothing fitted or left out."""
    env = await environments.prepare(make_project(tmp_path / "p", ["toolz"]), optional_packages=[UNIDECODE])
    try:
        assert uv.resolutions() == 1
        assert env.optional.installed == ("unidecode",) and not env.optional.left_out and not env.optional.overridden
        assert env.extra_packages == ("text-unidecode",)
        assert run_python(env.python, "import toolz, text_unidecode; print('ok')") == "ok"
    finally:
        env.release()


async def test_pynguin_whose_pytest_pin_excludes_the_projects_pytest_9_is_installed_with_the_projects_requirement(
    environments: ProjectEnvironments, uv: CountingUv, tmp_path: Path
) -> None:
    """prettytable 3.19.0's test extra requires pytest>=9, Pynguin 0.48 pytest<9: the build failed. Now the second
    resolution has the project's pytest>=9 in place of Pynguin's pin; the next task reuses the environment and the
    record of what was done, resolving nothing."""
    project = make_project(tmp_path / "p", ["toolz", "pytest>=9"])
    env = await environments.prepare(project, optional_packages=[PYNGUIN])
    env.release()

    assert uv.resolutions() == 2
    assert env.optional.installed == ("pynguin",) and env.optional.overridden == {"pynguin": ("pytest>=9",)}
    assert "pynguin" in env.optional.conflicts["pynguin"] and "pytest>=9" in env.optional.conflicts["pynguin"]
    found = run_python(env.python, "import importlib.util as u, pytest; "
                                   "print(pytest.__version__.split('.')[0], bool(u.find_spec('pynguin')))")  # fmt: skip
    major, has_pynguin = found.split()
    assert int(major) >= 9 and has_pynguin == "True", found

    again = await environments.prepare(project, optional_packages=[PYNGUIN])
    again.release()
    assert again.cache_hit and again.root == env.root and again.optional == env.optional
    assert uv.resolutions() == 2


async def test_an_optional_package_in_conflict_over_a_pin_it_does_not_let_go_is_left_out_with_uv_s_reason(
    environments: ProjectEnvironments, uv: CountingUv, tmp_path: Path
) -> None:
    """wcwidth 0.9.4 pins rich==15.0.0, Pynguin 0.48 needs rich<15 and allows only its pytest pin to be replaced:
    Pynguin is left out, the other optional package and the project's pin are installed."""
    env = await environments.prepare(make_project(tmp_path / "p", ["rich==15.0.0"]),
                                     optional_packages=[UNIDECODE, PYNGUIN])  # fmt: skip
    try:
        assert uv.resolutions() == 2
        assert env.optional.installed == ("unidecode",) and env.optional.left_out == ("pynguin",)
        assert not env.optional.overridden
        reason = env.optional.conflicts["pynguin"]
        assert "rich==15.0.0" in reason and "pynguin" in reason and "\n" not in reason, reason
        assert env.extra_packages == ("text-unidecode",)
        found = run_python(env.python, "import importlib.util as u, importlib.metadata as m; "
                                       "print(m.version('rich'), bool(u.find_spec('pynguin')))")  # fmt: skip
        assert found == "15.0.0 False"
    finally:
        env.release()


async def test_a_failure_that_names_no_optional_package_is_the_projects_own_and_is_raised(
    environments: ProjectEnvironments, uv: CountingUv, cache_dir: Path, tmp_path: Path
) -> None:
    """An unknown package of the project's: nothing to leave out, InstallFailed after one resolution, no cache."""
    project = make_project(tmp_path / "p", ["handoff-no-such-package-4711"])
    with pytest.raises(InstallFailed) as failure:
        await environments.prepare(project, optional_packages=[UNIDECODE, PYNGUIN])
    assert "handoff-no-such-package-4711" in failure.value.output
    assert uv.resolutions() == 1
    assert list((cache_dir / "envs").iterdir()) == []
