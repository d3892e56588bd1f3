"""``handoff submit`` says which symbolic links it left out of the snapshot (snapshots hold regular files only)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from handoff.broker.embedded import EmbeddedNats
from handoff.schemas.topology import Topology


async def test_submit_names_the_symbolic_links_it_skipped(
    nats_server: EmbeddedNats, topology: Topology, tmp_path: Path
) -> None:
    """Exit 0, and stderr lists the links (one into the tree, one out of it) that the tasks will not see."""
    repo = tmp_path / "repo"
    (repo / "pkg").mkdir(parents=True)
    (repo / "pkg" / "mod.py").write_text("def f():\n    return 1\n")
    (repo / "pkg" / "alias.py").symlink_to("mod.py")
    (repo / "data").symlink_to("/")
    env = {**os.environ, "HANDOFF_NATS_URL": nats_server.url, "HANDOFF_DATA_DIR": str(tmp_path / "data")}
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "handoff.cli.main", "submit", "--repo", str(repo), "pkg/mod.py"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "skipped 2 symbolic link(s)" in done.stderr
    assert "data" in done.stderr and "pkg/alias.py" in done.stderr
