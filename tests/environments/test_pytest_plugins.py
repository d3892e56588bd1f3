"""The pytest plugins a project's pytest configuration asks for come into its environment on their own: semver
3.0.2's ``setup.cfg`` addopts hold ``--cov=semver`` and pytest-cov is declared only in its ``tox.ini``, so pytest
refused to start (``error: unrecognized arguments: --cov=semver``) until ``--extra-package pytest-cov`` was given."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from handoff.environments import ProjectEnvironments
from handoff.environments.pytest_plugins import PluginPackage, plugin_packages, pytest_config

SETUP_CFG = """[metadata]
name = pkg

[options]
install_requires =
    toolz

[tool:pytest]
addopts = -ra --no-cov-on-fail --cov=pkg --cov-report=term-missing --doctest-modules
"""


def make_cov_project(root: Path) -> Path:
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text('"""\n>>> 1 + 1\n2\n"""\n\n\ndef double(x):\n    return 2 * x\n')
    (root / "tests").mkdir()
    (root / "tests" / "test_pkg.py").write_text("from pkg import double\n\n\ndef test_double():\n"
                                                "    assert double(2) == 4\n")  # fmt: skip
    (root / "setup.cfg").write_text(SETUP_CFG)
    return root


def run_pytest(python: Path, project: Path) -> subprocess.CompletedProcess[str]:
    """The project's pytest, as a user runs it at the project root, with its own configuration."""
    return subprocess.run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=project,
                          env={"PATH": os.environ["PATH"], "PYTHONPATH": str(project)}, capture_output=True, text=True,
                          timeout=120)  # fmt: skip


def write(root: Path, files: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (root / name).write_text(text)
    return root


async def test_a_project_whose_setup_cfg_addopts_use_cov_gets_pytest_cov_and_its_pytest_starts(
    environments: ProjectEnvironments, tmp_path: Path
) -> None:
    """pytest-cov is installed beside the declared toolz; pytest runs the project's tests and doctests with the
    project's own addopts; the environment says what was added and which option asked for it."""
    project = make_cov_project(tmp_path / "p")
    env = await environments.prepare(project)
    try:
        options = ("--no-cov-on-fail", "--cov=pkg", "--cov-report=term-missing")
        assert env.plugins == (PluginPackage("pytest-cov", options, "setup.cfg [tool:pytest] addopts"),)
        assert env.extra_packages == ("pytest-cov",)
        assert env.plugins[0].note == (
            "added pytest-cov: setup.cfg [tool:pytest] addopts uses --no-cov-on-fail "
            "--cov=pkg --cov-report=term-missing and the project does not declare it"
        )
        done = run_pytest(env.python, project)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "2 passed" in done.stdout and "pkg/__init__.py" in done.stdout, done.stdout  # pytest-cov's report
    finally:
        env.release()


async def test_a_project_that_declares_the_plugin_or_is_given_it_gets_nothing_added_for_it(
    environments: ProjectEnvironments, tmp_path: Path
) -> None:
    """pytest-cov in the test extra (or as an extra package): added once, by the project or the task, not again."""
    project = make_cov_project(tmp_path / "p")
    (project / "setup.cfg").write_text(SETUP_CFG.replace("[tool:pytest]", "[options.extras_require]\ntest =\n"
                                                         "    pytest-cov>=4\n\n[tool:pytest]"))  # fmt: skip
    env = await environments.prepare(project)
    try:
        assert env.plugins == () and env.extra_packages == ()
        assert "pytest-cov>=4" in env.dependencies.requirements
    finally:
        env.release()
    assert plugin_packages(pytest_config(make_cov_project(tmp_path / "q")), ["pytest_cov[toml]"]) == ()


# (files at the project root, the configuration pytest uses, the packages its addopts ask for)
LAYOUTS = [
    ({"pytest.ini": "[pytest]\naddopts = --timeout=30\n",
      "pyproject.toml": '[tool.pytest.ini_options]\naddopts = "-n 2"\n',
      "tox.ini": "[pytest]\naddopts = --benchmark-disable\n", "setup.cfg": "[tool:pytest]\naddopts = --cov=pkg\n"},
     "pytest.ini [pytest]", ["pytest-timeout"]),
    ({"pytest.ini": "[other]\nx = 1\n", "setup.cfg": "[tool:pytest]\naddopts = --cov=pkg\n"},  # pytest.ini wins empty
     "pytest.ini [pytest]", []),
    ({"pyproject.toml": '[project]\nname = "pkg"\n\n[tool.pytest.ini_options]\naddopts = "-nauto --dist loadscope"\n',
      "tox.ini": "[pytest]\naddopts = --timeout=30\n", "setup.cfg": "[tool:pytest]\naddopts = --cov=pkg\n"},
     "pyproject.toml [tool.pytest.ini_options]", ["pytest-xdist"]),
    ({"pyproject.toml": '[tool.pytest]\naddopts = ["--numprocesses", "2", "-p", "pytest_mock"]\n',
      "setup.cfg": "[tool:pytest]\naddopts = --cov=pkg\n"},
     "pyproject.toml [tool.pytest]", ["pytest-xdist", "pytest-mock"]),
    ({"pyproject.toml": '[project]\nname = "pkg"\n', "tox.ini": "[tox]\nenvlist = py\n\n[pytest]\naddopts = -p xdist\n",
      "setup.cfg": "[tool:pytest]\naddopts = --cov=pkg\n"},  # a pyproject.toml without pytest's tables is passed over
     "tox.ini [pytest]", ["pytest-xdist"]),
    ({"tox.ini": "[tox]\nenvlist = py\n", "setup.cfg": "[tool:pytest]\naddopts = --benchmark-skip -p no:xdist\n"},
     "setup.cfg [tool:pytest]", ["pytest-benchmark"]),
    ({"setup.cfg": "[tool:pytest]\naddopts = --doctest-modules --doctest-glob='*.rst' -ra --strict-markers\n"},
     "setup.cfg [tool:pytest]", []),
    ({"pytest.toml": '[pytest]\naddopts = ["--reruns", "2"]\nrequired_plugins = ["pytest-randomly>=3"]\n',
      "pytest.ini": "[pytest]\naddopts = --cov=pkg\n"},
     "pytest.toml [pytest]", ["pytest-rerunfailures", "pytest-randomly>=3"]),
]  # fmt: skip


@pytest.mark.parametrize(("files", "where", "packages"), LAYOUTS)
def test_the_plugins_come_from_the_first_configuration_pytest_would_use(
    tmp_path: Path, files: dict[str, str], where: str, packages: list[str]
) -> None:
    """pytest.toml, .pytest.toml, pytest.ini, .pytest.ini, then pyproject.toml, tox.ini and setup.cfg that have
    pytest's table: the first found is read, as pytest reads it; the others are not."""
    config = pytest_config(write(tmp_path / "p", files))
    assert config is not None and config.where == where
    assert [p.requirement for p in plugin_packages(config, ["toolz"])] == packages


def test_a_project_without_pytest_configuration_asks_for_no_plugin(tmp_path: Path) -> None:
    project = write(tmp_path / "p", {"setup.cfg": "[metadata]\nname = pkg\n", "tox.ini": "[tox]\nenvlist = py\n"})
    assert pytest_config(project) is None and plugin_packages(pytest_config(project), []) == ()
