"""The project's own distribution metadata, written into a task's tree so that ``importlib.metadata`` finds it.

The project is never installed (its root and ``src/`` go on PYTHONPATH), so a package whose ``__init__`` asks for
its own installed metadata (``__version__ = importlib.metadata.version("mypkg")``) raised
``PackageNotFoundError`` and could not be imported at all. A minimal ``<name>-<version>.dist-info/`` in the tree's
root, which is on the path of the agent's commands, the validation runs, the checks and the engines, makes the
distribution visible: ``METADATA`` (``Metadata-Version``, ``Name``, ``Version``) and, when the project declares
any, ``entry_points.txt`` from ``[project.scripts]``, ``[project.gui-scripts]`` and ``[project.entry-points]``.
Nothing of the project runs: the name and version are read from pyproject.toml (``[project]``, else Poetry's
``[tool.poetry]``), the version chosen as for the build outputs (build_outputs.project_version).

It is written into every extraction of the snapshot alike, so it is never a change. It is not written when the
project's environment has the distribution installed, or the tree already holds metadata of that name in its root
or ``src/``. A name or version that cannot name a folder is reported instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeGuard

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from handoff.environments.build_outputs import UNKNOWN_VERSION, project_version, read_pyproject, sdist_version

METADATA_VERSION = "2.1"
# a distribution name as the core metadata specification allows it
VALID_NAME = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$", re.IGNORECASE)
METADATA_SUFFIXES = (".dist-info", ".egg-info")


@dataclass(frozen=True, slots=True)
class ProjectMetadata:
    written: str = ""  # what was made visible, for the task's progress and summary
    problem: str = ""  # why a declared project's metadata was not made visible

    def describe(self) -> str:
        """One sentence for the task's progress and summary; empty when nothing was written and nothing is wrong."""
        if self.written:
            return f"made the project's metadata visible: {self.written}"
        if self.problem:
            return f"the project's metadata was not made visible: {self.problem}"
        return ""


@dataclass(frozen=True, slots=True)
class Distribution:
    name: str
    version: str
    version_from: str
    entry_points: dict[str, dict[str, str]]  # group -> name -> object reference


def read_distribution(pyproject: Mapping[str, object], sdist: str | None = None) -> Distribution | str | None:
    """The distribution ``pyproject`` (a parsed pyproject.toml) declares; a problem with its name or version; or
    None when it declares no name. ``sdist``: the version an sdist's PKG-INFO gives (``sdist_version``)."""
    project = _table(pyproject, "project")
    poetry = _table(_table(pyproject, "tool"), "poetry")
    if "name" in project:
        name, (version, version_from) = project["name"], project_version(pyproject, sdist)
        groups = {"console_scripts": _table(project, "scripts"), "gui_scripts": _table(project, "gui-scripts")}
        groups |= {group: _table(_table(project, "entry-points"), group) for group in _table(project, "entry-points")}
    elif "name" in poetry:
        name, declared = poetry["name"], poetry.get("version")
        version, version_from = (
            (declared.strip(), "[tool.poetry] version")
            if isinstance(declared, str) and declared.strip()
            else (UNKNOWN_VERSION, "no version declared")
        )
        groups = {"console_scripts": _table(poetry, "scripts")}
        groups |= {group: _table(_table(poetry, "plugins"), group) for group in _table(poetry, "plugins")}
    else:
        return None
    if not isinstance(name, str) or not VALID_NAME.match(name):
        return f"the project's name {name!r} is not a distribution name"
    try:
        Version(version)
    except InvalidVersion:
        return f"{name}'s version {version!r} ({version_from}) is not a version"
    entry_points = {
        group: {key: value for key, value in entries.items() if _word(key) and _line(value)}
        for group, entries in groups.items()
        if _word(group)
    }
    return Distribution(name, version, version_from, {g: e for g, e in entry_points.items() if e})


def folder_name(dist: Distribution) -> str:
    """``<name>-<version>.dist-info``, the name and version escaped as the wheel format has them."""
    name = re.sub(r"[-_.]+", "_", dist.name).lower()
    return f"{name}-{dist.version.replace('-', '_')}.dist-info"


def has_distribution(folders: Iterable[Path], name: str) -> bool:
    """Whether one of ``folders`` (path entries: site-packages, the tree's root) holds metadata of ``name``."""
    wanted = canonicalize_name(name)
    for folder in folders:
        if not folder.is_dir():
            continue
        for entry in folder.iterdir():
            suffix = next((s for s in METADATA_SUFFIXES if entry.name.endswith(s)), None)
            if suffix and canonicalize_name(entry.name.removesuffix(suffix).split("-", 1)[0]) == wanted:
                return True
    return False


def site_packages(env_root: Path) -> list[Path]:
    """The site-packages folders of a virtualenv."""
    return sorted(env_root.glob("lib/python*/site-packages"))


def write_project_metadata(root: Path, *, installed_in: Iterable[Path] = ()) -> ProjectMetadata:
    """Write the distribution metadata of the project in ``root`` (a materialised snapshot) into ``root``, unless
    ``installed_in`` (the environment's site-packages) or the tree already hold it. A pyproject.toml that cannot be
    read writes nothing (the environment step reports it)."""
    pyproject = read_pyproject(root)
    if pyproject is None:
        return ProjectMetadata()
    dist = read_distribution(pyproject, sdist_version(root))
    if dist is None:
        return ProjectMetadata()
    if isinstance(dist, str):
        return ProjectMetadata(problem=dist)
    if has_distribution([*installed_in, root, root / "src"], dist.name):
        return ProjectMetadata()
    folder = root / folder_name(dist)
    folder.mkdir(mode=0o755)
    lines = [f"Metadata-Version: {METADATA_VERSION}", f"Name: {dist.name}", f"Version: {dist.version}"]
    (folder / "METADATA").write_text("\n".join(lines) + "\n", encoding="utf-8")
    if dist.entry_points:
        text = "\n".join(
            f"[{group}]\n" + "".join(f"{key} = {value}\n" for key, value in entries.items())
            for group, entries in dist.entry_points.items()
        )
        (folder / "entry_points.txt").write_text(text, encoding="utf-8")
    for path in folder.iterdir():
        path.chmod(0o644)
    return ProjectMetadata(written=f"{dist.name} {dist.version} ({dist.version_from})")


def _line(text: object) -> TypeGuard[str]:
    """A value of entry_points.txt: one line."""
    return isinstance(text, str) and bool(text.strip()) and not any(c in text for c in "\n\r")


def _word(text: object) -> bool:
    """A group or name of entry_points.txt: one line, neither a section header nor holding the separator."""
    return _line(text) and not any(c in str(text) for c in "=[]")


def _table(parent: Mapping[str, object], key: str) -> Mapping[str, object]:
    value = parent.get(key)
    return value if isinstance(value, Mapping) else {}
