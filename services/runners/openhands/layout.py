"""Where a task's tests go: the project's test folder for each target, and the test file the target is given.

A project keeps its tests in a top-level ``tests/`` or ``test/`` (flat and ``src/`` layouts) or inside its package
(toolz 1.0.0: ``toolz/tests/``, no ``__init__.py``). The task's ``test_dir`` is used when the snapshot has it or
when it is not the default ``tests``; otherwise the target's tests go into a top-level ``tests/`` / ``test/``,
else the test folder nearest the target inside its package (``toolz/sandbox/tests/``, else ``toolz/tests/``, for
``toolz/sandbox/core.py``), else the project's first test folder. Only a project with no test folder at all gets
a new ``tests/``.

In a folder inside a package the file is named after the target's path from that package
(``toolz/tests/test_sandbox_core.py``): pytest's default import mode imports two ``test_core.py`` in folders
without ``__init__.py`` under one name and stops collecting ("import file mismatch"), and upstream toolz has a
``toolz/sandbox/tests/test_core.py`` its sdist leaves out. A name the project already uses for a test module is
never given to a new file: the target's tests extend that file.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

DEFAULT_TEST_DIR = "tests"  # GenerateTests.test_dir's default: "where the project keeps its tests"
TEST_FOLDER_NAMES = ("tests", "test")
# folders a project's test modules are not looked for in (environments, build output, caches)
NOT_SEARCHED = frozenset({"node_modules", "site-packages", "build", "dist", "venv", "env", "__pycache__"})
MAX_DESCRIBED = 5
_TOP = PurePosixPath(".")


@dataclass(frozen=True, slots=True)
class Assignment:
    target: str
    test_file: str


def assign_test_files(targets: Sequence[str], test_dir: str, workspace: Path | None = None) -> list[Assignment]:
    """Each target's test file: ``pkg/calc.py`` -> ``tests/test_calc.py``; stems that collide in a top-level folder
    get their package in the name; in a folder inside a package the name follows the target's path from it.

    Without ``workspace`` every file goes into ``test_dir``. With it, the folder is found as the module says, and a
    name the project already uses for a test module (hashids' ``test/test_hashids.py``) is given as that file, to
    extend."""
    stems: dict[str, int] = {}
    for target in targets:
        stems[PurePosixPath(target).stem] = stems.get(PurePosixPath(target).stem, 0) + 1
    taken = project_test_modules(workspace) if workspace is not None else {}
    folders = _Folders(workspace, test_dir)
    assignments: list[Assignment] = []
    given: set[str] = set()
    for target in targets:
        path = PurePosixPath(target)
        folder = folders.for_target(path)
        home = folder.parent
        if home != _TOP and path.is_relative_to(home):  # a folder inside the target's package
            name = f"test_{_qualified_stem(path, home)}.py"
        else:
            name = f"test_{_top_level_stem(path, stems)}.py"
        test_file = taken.get(name) or str(folder / name)
        if test_file in given and name not in taken:  # two targets, one new name (pkg/a_b.py and pkg/a/b.py)
            number = 2
            while (test_file := str(folder / f"{name.removesuffix('.py')}_{number}.py")) in given:
                number += 1
        given.add(test_file)
        assignments.append(Assignment(target=target, test_file=test_file))
    return assignments


def folders_of(assignments: Sequence[Assignment]) -> list[str]:
    """The folders the assigned test files are in (the workspace's root, for a file there, left out)."""
    parents = {PurePosixPath(a.test_file).parent for a in assignments}
    return sorted(str(p) for p in parents if p != _TOP)


def describe(assignments: Sequence[Assignment], workspace: Path, *, created: Sequence[str], requested: str) -> str:
    """The progress line naming where the tests go, before the agent writes anything: the folders created and
    each test file, new or the project's (extended)."""
    files = []
    for a in assignments[:MAX_DESCRIBED]:
        folder = str(PurePosixPath(a.test_file).parent)
        if (workspace / a.test_file).is_file():
            files.append(f"{a.test_file} (the project's, extended)")
        elif folder in created:
            files.append(f"{a.test_file} (new)")
        else:
            files.append(f"{a.test_file} (new, in the project's test folder {folder}/)")
    if len(assignments) > MAX_DESCRIBED:
        files.append(f"and {len(assignments) - MAX_DESCRIBED} more")
    line = f"test files: {', '.join(files)}"
    made = []
    for folder in created:
        why = "the project has no test folder" if folder == requested == DEFAULT_TEST_DIR else "the task's test_dir"
        made.append(f"created the test directory {folder}/ ({why})")
    return "; ".join([*made, line])


def project_test_modules(workspace: Path) -> dict[str, str]:
    """The project's test modules by file name (``test_calc.py`` -> ``test/test_calc.py``, the first in path
    order), hidden folders and environments not searched."""
    found: dict[str, str] = {}
    for folder, dirs, files in os.walk(workspace):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in NOT_SEARCHED)
        for name in sorted(files):
            if is_test_name(name) and name not in found:
                found[name] = (Path(folder) / name).relative_to(workspace).as_posix()
    return found


def project_test_folders(workspace: Path) -> list[str]:
    """The project's folders named ``tests`` / ``test`` (never through a symlink), shallowest first."""
    found = []
    for folder, dirs, _ in os.walk(workspace):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in NOT_SEARCHED)
        for name in dirs:
            if name in TEST_FOLDER_NAMES and not (Path(folder) / name).is_symlink():
                found.append((Path(folder) / name).relative_to(workspace).as_posix())
    return sorted(found, key=lambda f: (f.count("/"), f))


def is_test_name(name: str) -> bool:
    return name.endswith(".py") and (name.startswith("test_") or name.endswith("_test.py"))


class _Folders:
    """The test folder of each target, found once per task."""

    def __init__(self, workspace: Path | None, requested: str) -> None:
        self.workspace = workspace
        self.requested = PurePosixPath(requested)
        self.fixed: PurePosixPath | None = None  # one folder for every target
        self.first: PurePosixPath | None = None  # the project's first test folder, for a target not near one
        if workspace is None or _is_dir(workspace, self.requested) or requested != DEFAULT_TEST_DIR:
            self.fixed = self.requested
            return
        for name in TEST_FOLDER_NAMES:
            if _is_dir(workspace, PurePosixPath(name)):
                self.fixed = PurePosixPath(name)
                return
        folders = project_test_folders(workspace)
        if not folders:
            self.fixed = self.requested  # the project has none: created
        else:
            self.first = PurePosixPath(folders[0])

    def for_target(self, target: PurePosixPath) -> PurePosixPath:
        if self.fixed is not None:
            return self.fixed
        assert self.workspace is not None and self.first is not None
        for parent in target.parents:  # nearest first; the top level was looked at already
            if parent == _TOP:
                break
            for name in TEST_FOLDER_NAMES:
                if _is_dir(self.workspace, parent / name):
                    return parent / name
        return self.first


def _is_dir(workspace: Path, relative: PurePosixPath) -> bool:
    """A real folder of the workspace: no part of the path is a symlink."""
    path = workspace
    for part in relative.parts:
        path = path / part
        if path.is_symlink() or not path.is_dir():
            return False
    return True


def _top_level_stem(path: PurePosixPath, stems: dict[str, int]) -> str:
    """``pkg/calc.py`` -> ``calc``; a stem two targets share, or a package's ``__init__``, gets the package."""
    stem = path.stem if path.stem != "__init__" else (path.parent.name or "package")
    if stems.get(path.stem, 0) > 1 or path.stem == "__init__":
        parent = path.parent.name
        stem = f"{parent}_{stem}" if parent and parent != stem else stem
    return stem


def _qualified_stem(path: PurePosixPath, home: PurePosixPath) -> str:
    """``toolz/sandbox/core.py`` from ``toolz`` -> ``sandbox_core``; ``toolz/__init__.py`` -> ``toolz``."""
    parts = list(path.relative_to(home).with_suffix("").parts)
    if parts and parts[-1] == "__init__":
        parts = parts[:-1]
    return "_".join(parts) or home.name
