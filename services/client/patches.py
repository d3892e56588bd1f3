"""Applying a test-generation task's patch to a work tree, after checking it (``patch_check``), with ``git apply``.

The tree need not be a repository. ``DIR`` is always the root the patch's paths are relative to: git is kept
from finding an enclosing repository (``GIT_CEILING_DIRECTORIES``), because inside a repository's subdirectory
``git apply`` silently skips every path outside it. Afterwards each added or changed file must be a regular file
in the tree and each deleted one gone, or the apply is reported as failed.
"""

from __future__ import annotations

import asyncio
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from handoff.client.errors import HandoffClientError
from handoff.client.patch_check import FileChange, PatchPolicy, inspect_patch

_GIT_LOCATION_VARS = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY", "GIT_COMMON_DIR")


class PatchNotApplied(HandoffClientError):
    """``git apply`` refused the patch (the tree has moved on, or the files exist already); nothing was changed."""


class PatchAlreadyApplied(PatchNotApplied):
    """``git apply`` refused the patch because the tree holds it already (its reverse applies); nothing was changed."""


class PatchRefused(PatchNotApplied):
    """The patch was checked and refused before anything was applied; ``refusals`` says why, file by file."""

    def __init__(self, refusals: list[str]) -> None:
        self.refusals = list(refusals)
        shown = "; ".join(self.refusals[:10]) + (f"; and {len(self.refusals) - 10} more" if len(refusals) > 10 else "")
        super().__init__(f"patch refused, nothing applied: {shown}")


@dataclass(frozen=True, slots=True)
class AppliedPatch:
    changes: list[FileChange]

    @property
    def paths(self) -> list[str]:
        return [c.path for c in self.changes]


async def apply_patch(work_tree: Path, patch: bytes, *, policy: PatchPolicy | None = None) -> AppliedPatch:
    """Check ``patch`` against ``policy`` (default: test files only), apply it to ``work_tree`` and verify the
    result. ``PatchRefused`` if the check fails, ``PatchNotApplied`` if git refuses or the files are not there."""
    report = inspect_patch(patch, policy or PatchPolicy())
    if report.refusals:
        raise PatchRefused(report.refusals)
    root = await asyncio.to_thread(_root, Path(work_tree))
    env = {k: v for k, v in os.environ.items() if k not in _GIT_LOCATION_VARS}
    env["GIT_CEILING_DIRECTORIES"] = str(root.parent)
    code, out = await _git_apply(root, env, patch)
    if code != 0:
        if (await _git_apply(root, env, patch, "--reverse", "--check"))[0] == 0:
            raise PatchAlreadyApplied(f"the patch is applied to {root} already: nothing was changed")
        said = out.decode(errors="replace").strip()
        raise PatchNotApplied(f"git apply failed:\n{said[:1500]}" + ("\n…" if len(said) > 1500 else ""))
    missing = await asyncio.to_thread(lambda: [c.path for c in report.changes if not _in_place(root, c)])
    if missing:
        raise PatchNotApplied(f"git apply reported success but these files are not as the patch says: {missing[:10]}")
    return AppliedPatch(changes=report.changes)


async def _git_apply(root: Path, env: dict[str, str], patch: bytes, *options: str) -> tuple[int | None, bytes]:
    proc = await asyncio.create_subprocess_exec(
        "git", "apply", "--whitespace=nowarn", *options, "-", cwd=root, env=env,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await proc.communicate(patch)
    return proc.returncode, out


def _root(work_tree: Path) -> Path:
    root = work_tree.resolve()
    if not root.is_dir():
        raise PatchNotApplied(f"{work_tree} is not a folder")
    return root


def _in_place(root: Path, change: FileChange) -> bool:
    path = root / change.path
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return change.kind == "delete"
    return change.kind != "delete" and stat.S_ISREG(mode)
