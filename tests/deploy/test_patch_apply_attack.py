"""A generator hands back a patch that copies a file from outside the pipeline's tree; the pipeline's
``handoff result --apply`` refuses it, says why, and applies nothing."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

from nats.js.api import ObjectMeta

from handoff.client.client import HandoffClient
from handoff.common.clock import utcnow
from handoff.schemas import names
from handoff.schemas.codec import encode
from handoff.schemas.events import ArtifactRef, Sleep, TaskFinished, TaskStatus, TestGenerationResult
from handoff.schemas.topology import Topology
from tests.client import patch_shapes
from tests.deploy.cli import handoff_as
from tests.deploy.roles import RoleClient
from tests.deploy.servers import NatsProcess


async def _finish_with_patch(generator: RoleClient, task_id: str, run_id: str, patch: bytes) -> None:
    """What a (compromised) generator may publish: an artifact and a finish pointing at it."""
    store = await generator.js.object_store(names.ARTIFACTS_BUCKET)
    name = f"{task_id}/1/patch.diff"
    await store.put(name, patch, meta=ObjectMeta(name=name, description="text/x-diff"))
    ref = ArtifactRef(bucket=names.ARTIFACTS_BUCKET, name=name, size_bytes=len(patch),
                      sha256=hashlib.sha256(patch).hexdigest(), content_type="text/x-diff")  # fmt: skip
    finished = TaskFinished(
        task_id=task_id, run_id=run_id, status=TaskStatus.SUCCEEDED, finished_at=utcnow(), attempt=1,
        result=TestGenerationResult(summary="tests written", files_produced=True, patch=ref),
    )  # fmt: skip
    await generator.js.publish(
        names.task_subject(run_id, task_id, names.EventType.FINISHED),
        encode(finished),
        headers={names.Header.MSG_ID: names.finished_msg_id(task_id)},
    )


async def test_result_apply_refuses_a_patch_that_copies_a_file_from_outside_the_tree(
    secured_server: NatsProcess, pipeline: RoleClient, generator: RoleClient, applied: Topology, tmp_path: Path
) -> None:
    """Exit 1, the refusal names the copy, the outside file is not copied into the tree."""
    secret = tmp_path / "victim" / "secret.txt"
    secret.parent.mkdir()
    secret.write_text("the victim's secret\n")
    tree = tmp_path / "work" / "tree"
    (tree / "tests").mkdir(parents=True)
    client = HandoffClient(pipeline.nc)
    task_id = await client.submit(Sleep(duration_s=0), task_id="patch-victim", run_id="patch-run")
    patch = patch_shapes.copy_from("../../victim/secret.txt") + patch_shapes.symlink()
    await _finish_with_patch(generator, task_id, "patch-run", patch)
    done = await asyncio.to_thread(handoff_as, "pipeline", secured_server, "result", task_id, "--apply", str(tree))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "refused: tests/stolen.txt: is a copy" in done.stderr
    assert "refused: tests/data: is a symbolic link" in done.stderr
    assert sorted(p.name for p in tree.rglob("*")) == ["tests"]
