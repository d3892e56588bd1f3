"""Hostile patches: each is refused before anything is applied, nothing outside the tree is read or written, and a
plain test patch still applies (also into a subdirectory of a repository, where it used to vanish)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from handoff.client.patch_check import PatchPolicy, inspect_patch
from handoff.client.patches import PatchNotApplied, apply_patch
from tests.client import patch_shapes


def _tree(root: Path) -> Path:
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    return root


def _everything(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))


def _git(root: Path, *args: str) -> bytes:
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t.invalid", *args], cwd=root, check=True,
                          capture_output=True).stdout  # fmt: skip


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    secret = tmp_path / "victim" / "secret.txt"
    secret.parent.mkdir()
    secret.write_text("the victim's secret\n")
    return secret


async def test_a_copy_from_outside_the_tree_is_refused(tmp_path: Path, victim: Path) -> None:
    """``copy from ../../victim/secret.txt`` does not bring the outside file into the tree."""
    tree = _tree(tmp_path / "work" / "tree")
    with pytest.raises(PatchNotApplied, match=r"refused.*cop"):
        await apply_patch(tree, patch_shapes.copy_from("../../victim/secret.txt"))
    assert _everything(tree) == ["pkg", "pkg/calc.py"]


async def test_a_copy_from_an_absolute_path_is_refused(tmp_path: Path, victim: Path) -> None:
    """``copy from /abs/.../secret.txt`` is refused too."""
    tree = _tree(tmp_path / "work" / "tree")
    with pytest.raises(PatchNotApplied, match=r"refused.*cop"):
        await apply_patch(tree, patch_shapes.copy_from(str(victim)))
    assert _everything(tree) == ["pkg", "pkg/calc.py"]


async def test_a_symlink_in_a_patch_is_refused(tmp_path: Path) -> None:
    """``tests/data -> /`` is not created."""
    tree = _tree(tmp_path / "tree")
    with pytest.raises(PatchNotApplied, match="symbolic link"):
        await apply_patch(tree, patch_shapes.symlink())
    assert _everything(tree) == ["pkg", "pkg/calc.py"]


async def test_a_mode_change_is_refused(tmp_path: Path) -> None:
    """A patch making a test executable (or any mode change) is refused; the file keeps its mode."""
    tree = _tree(tmp_path / "tree")
    (tree / "tests").mkdir()
    (tree / "tests" / "test_calc.py").write_text("x = 1\n")
    with pytest.raises(PatchNotApplied, match="mode"):
        await apply_patch(tree, patch_shapes.mode_change())
    assert (tree / "tests" / "test_calc.py").stat().st_mode & 0o111 == 0
    with pytest.raises(PatchNotApplied, match="mode 100755"):
        await apply_patch(tree, patch_shapes.new_file("tests/test_x.py", ["x = 1"], mode="100755"))


@pytest.mark.parametrize("allow_source", [False, True])
async def test_workflow_files_and_gitattributes_are_refused_even_with_allow_source(
    tmp_path: Path, allow_source: bool
) -> None:
    """``.github/workflows/*`` and ``.gitattributes`` are never applied."""
    tree = _tree(tmp_path / "tree")
    for patch in (patch_shapes.workflow_file(), patch_shapes.gitattributes()):
        with pytest.raises(PatchNotApplied, match=r"\.git"):
            await apply_patch(tree, patch, policy=PatchPolicy(allow_source=allow_source))
    assert _everything(tree) == ["pkg", "pkg/calc.py"]


async def test_source_changes_need_allow_source(tmp_path: Path) -> None:
    """A change outside the test folder is refused by default and applied with allow_source."""
    tree = _tree(tmp_path / "tree")
    patch = patch_shapes.new_file("pkg/extra.py", ["x = 1"])
    with pytest.raises(PatchNotApplied, match="not a test file"):
        await apply_patch(tree, patch)
    applied = await apply_patch(tree, patch, policy=PatchPolicy(allow_source=True))
    assert applied.paths == ["pkg/extra.py"] and (tree / "pkg" / "extra.py").read_text() == "x = 1\n"


async def test_one_bad_file_refuses_the_whole_patch_and_every_reason_is_reported(tmp_path: Path) -> None:
    """A good test file next to a symlink and a workflow file: nothing applied, three refusals named."""
    tree = _tree(tmp_path / "tree")
    patch = patch_shapes.test_module() + patch_shapes.symlink() + patch_shapes.workflow_file()
    report = inspect_patch(patch, PatchPolicy())
    assert [c.path for c in report.changes] == ["tests/test_calc.py", "tests/data", ".github/workflows/exfiltrate.yml"]
    assert len(report.refusals) == 2
    with pytest.raises(PatchNotApplied):
        await apply_patch(tree, patch)
    assert _everything(tree) == ["pkg", "pkg/calc.py"]


@pytest.mark.parametrize(
    "patch",
    [
        b"--- /dev/null\n+++ b/tests/test_x.py\n@@ -0,0 +1 @@\n+x = 1\n",  # a traditional diff git would apply
        patch_shapes.test_module().replace(b"@@ -0,0 +1,2 @@", b"@@ -0,0 +1,1 @@"),  # counts do not match
        patch_shapes.new_file("tests/../../escape.py", ["x = 1"]),
        patch_shapes.new_file("/tmp/escape.py", ["x = 1"]),
        patch_shapes.test_module() + patch_shapes.test_module(),
        b"",
    ],
    ids=["no-git-header", "bad-hunk-counts", "dotdot", "absolute", "twice", "empty"],
)
async def test_patches_the_parser_does_not_fully_understand_are_refused(tmp_path: Path, patch: bytes) -> None:
    """Anything outside the subset of git's format the checker reads is refused, not passed on to git."""
    tree = _tree(tmp_path / "tree")
    with pytest.raises(PatchNotApplied, match="refused"):
        await apply_patch(tree, patch)
    assert _everything(tree) == ["pkg", "pkg/calc.py"]
    assert not (tmp_path / "escape.py").exists()


async def test_apply_into_a_subdirectory_of_a_repository_writes_the_files_there(tmp_path: Path) -> None:
    """DIR inside a git repository is the patch's root: the files land in it (git used to skip them silently)."""
    repo = tmp_path / "repo"
    sub = _tree(repo / "sub")
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "base")
    applied = await apply_patch(sub, patch_shapes.test_module())
    assert applied.paths == ["tests/test_calc.py"]
    assert (sub / "tests" / "test_calc.py").read_text() == "def test_add():\n    assert 1 + 1 == 2\n"


async def test_a_patch_git_wrote_applies_and_every_file_is_verified(tmp_path: Path) -> None:
    """Adds (empty, spaces, non-ASCII names), a modification without a final newline and a deletion all apply."""
    base = _tree(tmp_path / "base")
    (base / "tests").mkdir()
    (base / "tests" / "test_old.py").write_text("a\n")
    (base / "tests" / "nonl.py").write_text("x")
    (base / "tests" / "test_gone.py").write_text("gone\n")
    _git(base, "init", "-q")
    _git(base, "add", "-A")
    _git(base, "commit", "-qm", "base")
    target = tmp_path / "target"
    _git(tmp_path, "clone", "-q", str(base), str(target))
    (base / "tests" / "test_old.py").write_text("a\nb\n")
    (base / "tests" / "nonl.py").write_text("y\nz")
    (base / "tests" / "test_gone.py").unlink()
    (base / "tests" / "test with space.py").write_text("new\n")
    (base / "tests" / "tést_ü.py").write_text("é\n")
    (base / "tests" / "empty.py").write_text("")
    _git(base, "add", "-A")
    patch = _git(base, "diff", "--cached")
    applied = await apply_patch(target, patch)
    assert sorted(applied.paths) == sorted(
        ["tests/empty.py", "tests/nonl.py", "tests/test with space.py", "tests/test_gone.py", "tests/test_old.py",
         "tests/tést_ü.py"]
    )  # fmt: skip
    assert (target / "tests" / "nonl.py").read_text() == "y\nz"
    assert not (target / "tests" / "test_gone.py").exists()
    assert (target / "tests" / "tést_ü.py").read_text() == "é\n"
