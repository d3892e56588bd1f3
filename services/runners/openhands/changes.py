"""What of the agent's work leaves a task: its changes against a fresh copy of the snapshot, screened by policy.

After each round the workspace is compared, file by file, with a fresh extraction of the original snapshot (never
with anything the agent could have written). Each change is then accepted or refused:

* refused, whatever the settings: symlinks (``symlink``), devices, fifos and sockets (``special_file``), paths that
  are not plain UTF-8 or would leave the tree (``unsafe_path``), a change of the executable bit alone
  (``mode_change``; files are handed over as ``0644``, or with the mode the snapshot gave them), files over the
  artifact limit (``too_large``), files holding a secret or a credential (``secret``, see secret_scan.py);
* dropped unless ``HANDOFF_ALLOW_SOURCE_CHANGES=true``: anything that is not a test file (``source_change``).
  Test files are those under the task's test dir, ``test_*.py``, ``*_test.py`` and ``conftest.py``.

The accepted changes are written into the clean copy, where validation then runs and from which the patch and
the stored files are taken.
"""

from __future__ import annotations

import filecmp
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from handoff.runners.openhands.secret_scan import SecretScanner
from handoff.runners.openhands.workspace import Change
from handoff.schemas.events import RefusalReason, RefusedChange

SKIPPED_DIRS = frozenset({".git", "__pycache__", ".pytest_cache", ".hypothesis", ".mypy_cache", ".ruff_cache",
                          "htmlcov"})  # fmt: skip
"""Never compared: caches, a git dir and coverage's HTML report (a project's ``addopts = --cov-report=html``, as
wcwidth's, writes one on every pytest run; 40 refusals listed one by one) are not part of a patch."""
SKIPPED_SUFFIXES = (".pyc", ".pyo")
MAX_REFUSED_LISTED = 200
_UNSAFE_CHARS = frozenset("\\\n\r\t\0")


@dataclass(frozen=True, slots=True)
class ChangePolicy:
    test_dir: str
    allow_source: bool
    max_file_bytes: int
    scanner: SecretScanner


@dataclass(slots=True)
class ChangeSet:
    accepted: list[Change] = field(default_factory=list)
    refused: list[RefusedChange] = field(default_factory=list)

    def refused_for(self, reason: RefusalReason) -> list[str]:
        return [r.path for r in self.refused if r.reason is reason]

    def listed(self) -> list[RefusedChange]:
        return self.refused[:MAX_REFUSED_LISTED]

    def describe(self, limit: int = 10) -> str:
        """One line naming the refused changes, e.g. ``shapes/geometry.py (source_change), …``."""
        shown = ", ".join(f"{r.path} ({r.reason.value})" for r in self.refused[:limit])
        more = f" and {len(self.refused) - limit} more" if len(self.refused) > limit else ""
        return shown + more


def is_test_file(path: str, test_dir: str) -> bool:
    pure = PurePosixPath(path)
    prefix = PurePosixPath(test_dir).parts
    if pure.parts[: len(prefix)] == prefix and len(pure.parts) > len(prefix):
        return True
    name = pure.name
    return name == "conftest.py" or (name.endswith(".py") and (name.startswith("test_") or name.endswith("_test.py")))


def screen(workspace: Path, clean: Path, policy: ChangePolicy) -> ChangeSet:
    """Compare ``workspace`` with the fresh copy ``clean`` and decide about every difference."""
    new, old = _entries(workspace), _entries(clean)
    result = ChangeSet()
    for path in sorted(new.keys() | old.keys()):
        after, before = new.get(path), old.get(path)
        status = _status(workspace / path, clean / path, after, before)
        if status is None:
            continue
        reason = _refusal(path, status, workspace, clean, after, before, policy)
        if reason is None:
            result.accepted.append(Change(status=status, path=path))
        else:
            result.refused.append(RefusedChange(path=_printable(path), reason=reason))
    return result


def apply(changes: Iterable[Change], workspace: Path, clean: Path) -> None:
    """Write the accepted changes into ``clean``: deletions first, then each file as a regular file."""
    changes = list(changes)
    for change in changes:
        if change.status == "D":
            (clean / change.path).unlink()
    for change in changes:
        if change.status == "D":
            continue
        target = clean / change.path
        before = target.lstat() if target.is_symlink() or target.exists() else None
        if before is not None:
            target.unlink()
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes((workspace / change.path).read_bytes())
        mode = stat.S_IMODE(before.st_mode) if before is not None and stat.S_ISREG(before.st_mode) else 0o644
        target.chmod(mode)


# ---- comparing two trees -----------------------------------------------------------------------------
def _entries(root: Path) -> dict[str, os.stat_result]:
    """Every non-directory entry under ``root`` (symlinks to directories included, not followed), by path."""
    found: dict[str, os.stat_result] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        rel = here.relative_to(root)
        descend = []
        for name in dirnames:
            if name in SKIPPED_DIRS:
                continue
            st = (here / name).lstat()
            if stat.S_ISDIR(st.st_mode):
                descend.append(name)
            else:
                found[(rel / name).as_posix()] = st
        dirnames[:] = descend
        for name in filenames:
            if name.endswith(SKIPPED_SUFFIXES) or name == ".coverage" or name.startswith(".coverage."):
                continue
            found[(rel / name).as_posix()] = (here / name).lstat()
    return found


def _status(
    after_path: Path, before_path: Path, after: os.stat_result | None, before: os.stat_result | None
) -> str | None:
    if after is None:
        return "D"
    if before is None:
        return "A"
    if stat.S_IFMT(after.st_mode) != stat.S_IFMT(before.st_mode):
        return "T"
    if stat.S_ISLNK(after.st_mode):
        return None if os.readlink(after_path) == os.readlink(before_path) else "M"
    if not stat.S_ISREG(after.st_mode):
        return "M"  # a special file, refused below
    if _executable(after) != _executable(before):
        return "M"
    # compared in small blocks: a large unchanged file (data, a fixture) is never read into memory whole
    if after.st_size != before.st_size or not filecmp.cmp(after_path, before_path, shallow=False):
        return "M"
    return None


def _refusal(
    path: str,
    status: str,
    workspace: Path,
    clean: Path,
    after: os.stat_result | None,
    before: os.stat_result | None,
    policy: ChangePolicy,
) -> RefusalReason | None:
    if not _safe_path(path) or _through_symlink(clean, path):
        return RefusalReason.UNSAFE_PATH
    entry = after if after is not None else before
    assert entry is not None
    if stat.S_ISLNK(entry.st_mode):
        return RefusalReason.SYMLINK
    if not stat.S_ISREG(entry.st_mode):
        return RefusalReason.SPECIAL_FILE
    if not policy.allow_source and not is_test_file(path, policy.test_dir):
        return RefusalReason.SOURCE_CHANGE
    if status == "D" or after is None:
        return None
    if before is not None and stat.S_ISREG(before.st_mode) and after.st_size == before.st_size:
        if (workspace / path).read_bytes() == (clean / path).read_bytes():
            return RefusalReason.MODE_CHANGE  # the executable bit alone
    if after.st_size > policy.max_file_bytes:
        return RefusalReason.TOO_LARGE
    if policy.scanner.finding(path, (workspace / path).read_bytes()) is not None:
        return RefusalReason.SECRET
    return None


def _executable(st: os.stat_result) -> bool:
    return bool(st.st_mode & 0o111)


def _safe_path(path: str) -> bool:
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return False
    parts = PurePosixPath(path).parts
    return (
        bool(parts)
        and not path.startswith("/")
        and ".." not in parts
        and not _UNSAFE_CHARS.intersection(path)
        and len(path) <= 512
    )


def _through_symlink(clean: Path, path: str) -> bool:
    """Whether a parent directory of ``path`` in the clean copy is a symlink (writing there would follow it)."""
    here = clean
    for part in PurePosixPath(path).parts[:-1]:
        here = here / part
        if here.is_symlink():
            return True
    return False


def _printable(path: str) -> str:
    return path.encode("utf-8", errors="backslashreplace").decode("utf-8")[:1024]
