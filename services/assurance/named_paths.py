"""What pytest collects beside the test files a command line names, and need not.

pytest >= 8 collects a named file's folder, and each folder above it up to the rootdir, whole before it picks the
file. A conftest ``pytest_collect_file`` that raises on another file there (docopt 0.6.2's
``DocoptTestFile(path, parent)`` for ``testcases.docopt``, refused since pytest 6) fails the folder, and with it
every run of the named file: "found no collectors". ``--ignore`` of everything beside the named paths avoids that
and selects the same tests. (Handoff's own runs leave those out with the ``handoff_ignore`` plugin; this is for a
run without it, as a user repeats it.)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path, PurePosixPath

KEPT_NAMES = frozenset({"__init__.py", "conftest.py"})


def beside(root: Path, args: Sequence[str]) -> list[str]:
    """The files and folders (relative to ``root``, sorted) in the folders of the paths ``args`` name (node ids
    name their file) and in the folders above them up to ``root``, that are neither named, nor on the way to a
    named path; [] when an argument is not a path in ``root``. Hidden entries (pytest does not enter hidden
    folders), ``__init__.py`` (pytest 7 builds a package's node from it) and ``conftest.py`` are not listed."""
    named = [PurePosixPath(arg.split("::", 1)[0]) for arg in args]
    if not named or any(p.is_absolute() or ".." in p.parts or not (root / p).exists() for p in named):
        return []
    kept = {p for path in named for p in (path, *path.parents)}
    folders = {parent for path in named for parent in path.parents}
    found = set()
    for folder in folders:
        for entry in (root / folder).iterdir():
            if entry.name.startswith(".") or entry.name in KEPT_NAMES:
                continue
            relative = PurePosixPath(folder, entry.name)
            if relative not in kept and not any(relative in path.parents for path in named):
                found.add(relative.as_posix())
    return sorted(found)
