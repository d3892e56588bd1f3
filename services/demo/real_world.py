"""The demo's real-world module: an installed pure-Python package copied into a small project of its own.

The package is a demo dependency (the ``demo`` extra, installed by ``.ci/bootstrap``). Its module is copied as it
was installed, committed to git so the patch applies as it would in a user's repository, and submitted like any
other project's module: nothing about it is prepared for Handoff.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

REAL_WORLD_PACKAGE = "inflection"  # PyPI inflection: a one-module string library (Rails' inflector)


class RealWorldMissing(Exception):
    """The demo dependency is not installed (``pip install 'handoff[demo]'``)."""


@dataclass(frozen=True, slots=True)
class RealWorldProject:
    package: str
    repo: Path
    targets: list[str]


def installed_package_dir(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise RealWorldMissing(f"{package} is not installed: pip install 'handoff[demo]' (or {package})")
    return Path(spec.origin).parent


def commit_all(repo: Path, message: str) -> None:
    git = ["git", "-c", "user.name=handoff-demo", "-c", "user.email=demo@handoff.invalid"]
    if shutil.which("git"):
        subprocess.run([*git, "init", "-q"], cwd=repo, check=True)
        subprocess.run([*git, "add", "-A"], cwd=repo, check=True)
        subprocess.run([*git, "commit", "-qm", message], cwd=repo, check=True)


def prepare_real_world(workdir: Path, package: str = REAL_WORLD_PACKAGE) -> RealWorldProject:
    """``workdir`` gets a copy of the installed ``package`` (its Python files only) and an empty tests folder."""
    source = installed_package_dir(package)
    dest = workdir / package
    shutil.copytree(source, dest, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.so", "*.pyd"))
    (workdir / "tests").mkdir()
    (workdir / "README.md").write_text(f"The installed PyPI package `{package}`, copied as is by `handoff demo`.\n")
    commit_all(workdir, f"{package} as installed")
    targets = sorted(p.relative_to(workdir).as_posix() for p in dest.rglob("*.py"))
    return RealWorldProject(package=package, repo=workdir, targets=targets)
