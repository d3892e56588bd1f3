"""The corpus of the test-quality benchmark: real modules of small pure-Python PyPI packages (the ``bench`` extra),
each copied with its package into a fresh project directory, and one project virtualenv (built with uv) that holds
the test tools and every module's own dependencies.

The packages are benchmark dependencies (``pip install -e '.[bench]'``), not code of this repository: the copy is
taken from the installed distribution, so the engines and the tests run on the copy, never on the installed one.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from handoff.assurance.settings import MUTATION_PACKAGES
from handoff.environments.index import index_config
from handoff.environments.settings import EnvSettings
from handoff.offline_engine.settings import ENGINE_PACKAGES

# Installed into the project venv (never into Handoff's): test runner, measurement, both engines (the versions the
# offline engine's commands were written for, as its project environments get), mutation tool.
TOOLS = ("pytest", "coverage", ENGINE_PACKAGES["crosshair"], ENGINE_PACKAGES["pynguin"], *MUTATION_PACKAGES)


@dataclass(frozen=True, slots=True)
class CorpusModule:
    distribution: str  # the PyPI name, pinned in the bench extra
    package: str  # the import package copied into the project
    module: str  # the target, relative to the package directory
    requires: tuple[str, ...] = ()  # the package's own runtime dependencies

    @property
    def target(self) -> str:
        """The target as a path relative to the project root, e.g. ``dateutil/easter.py``."""
        return f"{self.package}/{self.module}"

    @property
    def name(self) -> str:
        return self.target.removesuffix("/__init__.py").removesuffix(".py").replace("/", ".")


# Small modules (30-400 statements), standard-library imports only (or their own package), in the table's order.
CORPUS: tuple[CorpusModule, ...] = (
    CorpusModule("python-dateutil", "dateutil", "easter.py", ("six",)),
    CorpusModule("cachetools", "cachetools", "keys.py"),
    CorpusModule("text-unidecode", "text_unidecode", "__init__.py"),
    CorpusModule("idna", "idna", "intranges.py"),
    CorpusModule("humanize", "humanize", "filesize.py"),
    CorpusModule("shortuuid", "shortuuid", "main.py"),
    CorpusModule("isodate", "isodate", "isoduration.py"),
    CorpusModule("inflection", "inflection", "__init__.py"),
    CorpusModule("toolz", "toolz", "dicttoolz.py"),
    CorpusModule("webcolors", "webcolors", "_conversion.py"),
    CorpusModule("semver", "semver", "version.py"),
)


class CorpusError(Exception):
    """The corpus cannot be prepared (a bench dependency is missing, or the project venv cannot be built)."""


def package_dir(module: CorpusModule) -> Path:
    """Where the installed distribution keeps the package (in the interpreter running the benchmark)."""
    spec = importlib.util.find_spec(module.package)
    if spec is None or spec.origin is None:
        raise CorpusError(
            f"{module.distribution} is not installed: install the benchmark dependencies with pip install -e '.[bench]'"
        )
    return Path(spec.origin).parent


def version_of(module: CorpusModule) -> str:
    return importlib.metadata.version(module.distribution)


def make_project(module: CorpusModule, root: Path) -> Path:
    """A fresh project at ``root``: the package copied (without its own tests), a tiny pyproject.toml, tests/."""
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    shutil.copytree(
        package_dir(module),
        root / module.package,
        ignore=shutil.ignore_patterns("__pycache__", "tests", "test_*.py", "*_test.py", "conftest.py"),
    )
    deps = ", ".join(f'"{d}"' for d in module.requires)
    (root / "pyproject.toml").write_text(
        f'[project]\nname = "{module.distribution}-copy"\nversion = "{version_of(module)}"\ndependencies = [{deps}]\n'
    )
    (root / "tests").mkdir()
    return root


def uv_index_env() -> dict[str, str]:
    """uv does not read pip's configuration: pip's index, extra indexes and wheel folders as uv's variables."""
    return index_config(EnvSettings()).uv_environment()


def project_venv(where: Path, modules: Sequence[CorpusModule]) -> Path:
    """One venv for every module (their dependencies do not conflict), reused when it already has the same list.

    Returns its interpreter. The packages under test are NOT installed: each project's copy is on PYTHONPATH.
    """
    wanted = sorted({*TOOLS, *(dep for m in modules for dep in m.requires)})
    python = where / "bin" / "python"
    marker = where / "handoff-bench-packages.txt"
    if python.exists() and marker.exists() and marker.read_text().split() == wanted:
        return python
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if uv is None:
        raise CorpusError("uv is not installed (it is a Handoff dependency)")
    env = {**os.environ, **uv_index_env()}
    steps = [
        [uv, "venv", "-q", "--clear", "--python", sys.executable, str(where)],
        [uv, "pip", "install", "-q", "--python", str(python), *wanted],
    ]
    for argv in steps:
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=900, check=False)
        if done.returncode != 0:
            raise CorpusError(f"{' '.join(argv[:3])} failed (exit {done.returncode}): {done.stderr.strip()[-800:]}")
    marker.write_text("\n".join(wanted) + "\n")
    return python
