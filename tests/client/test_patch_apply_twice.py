"""Applying a task's patch a second time says it is there already; a patch the tree refuses quotes git's own lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from handoff.client.patches import PatchAlreadyApplied, PatchNotApplied, apply_patch
from tests.client import patch_shapes


def _tree(root: Path) -> Path:
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    return root


async def test_a_patch_applied_already_is_named_so_and_nothing_changes(tmp_path: Path) -> None:
    tree = _tree(tmp_path / "tree")
    patch = patch_shapes.test_module()
    await apply_patch(tree, patch)
    before = (tree / "tests" / "test_calc.py").read_bytes()
    with pytest.raises(PatchAlreadyApplied, match=r"applied to .* already: nothing was changed"):
        await apply_patch(tree, patch)
    assert (tree / "tests" / "test_calc.py").read_bytes() == before


async def test_a_patch_the_tree_refuses_quotes_gits_lines_one_per_line(tmp_path: Path) -> None:
    tree = _tree(tmp_path / "tree")
    (tree / "tests").mkdir()
    (tree / "tests" / "test_calc.py").write_text("something else\n")
    with pytest.raises(PatchNotApplied) as refused:
        await apply_patch(tree, patch_shapes.test_module())
    assert not isinstance(refused.value, PatchAlreadyApplied)
    assert "git apply failed:\nerror: tests/test_calc.py: already exists in working directory" in str(refused.value)
