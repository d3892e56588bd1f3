"""Size limits hold end to end: an over-limit source tree is refused at submit, an over-limit snapshot is not
extracted, an over-limit patch is refused with a clear error and an over-limit file is kept out of the store."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext

from handoff.broker.embedded import EmbeddedNats
from handoff.client import ClientSettings, HandoffClient, SubmitError
from handoff.common.settings import NatsSettings
from handoff.schemas import names
from handoff.schemas.events import ErrorCode, GenerateTests, RefusalReason, TaskStatus, TestGenerationResult
from handoff.schemas.topology import Topology
from handoff.scripted_model import ScriptedModelServer
from handoff.scripted_model.replies import Say
from handoff.scripted_model.scripts import Script, create_file, finish, run
from tests.runners.conftest import PASSING_TEST, SAMPLE, TARGET, TEST_FILE, in_workspace
from tests.security.agents import Member, agent_replica, sample_members, store_raw_snapshot, tarball

KIB = 1024


def _sample(tmp_path: Path) -> Path:
    dest = tmp_path / "project"
    shutil.copytree(SAMPLE, dest)
    return dest


def new_client(nc: NATS) -> HandoffClient:
    return HandoffClient(nc, settings=ClientSettings(nats=NatsSettings(), submitter="security", submit_timeout_s=10))


async def stored_objects(js: JetStreamContext, bucket: str) -> int:
    """Messages (object chunks and metadata) in an object store's stream."""
    store = await js.object_store(bucket)
    return (await store.status()).stream_info.state.messages or 0


def three_files(root: Path, size: int) -> Path:
    (root / "pkg").mkdir(parents=True)
    for name in ("a.py", "b.py", "c.py"):
        (root / "pkg" / name).write_text("x = 1\n" + "#" * (size - 6))
    return root


@pytest.mark.parametrize(
    ("setting", "value"),
    [("HANDOFF_SNAPSHOT_MAX_FILE_BYTES", 2 * KIB), ("HANDOFF_SNAPSHOT_MAX_BYTES", 5 * KIB),
     ("HANDOFF_SNAPSHOT_MAX_FILES", 2)],
)  # fmt: skip
async def test_a_source_tree_over_a_snapshot_limit_is_refused_at_submit_and_nothing_is_stored(
    nc: NATS, js: JetStreamContext, topology: Topology, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    setting: str, value: int,
) -> None:  # fmt: skip
    """Three files of 3 KiB break each limit in turn: SubmitError naming the setting; no snapshot, no submit."""
    monkeypatch.setenv(setting, str(value))
    with pytest.raises(SubmitError, match=setting) as refused:
        await new_client(nc).submit_tests(three_files(tmp_path / "repo", 3 * KIB), ["pkg/a.py"], task_id="too-big")
    assert not refused.value.retryable
    assert await stored_objects(js, names.SNAPSHOTS_BUCKET) == 0
    assert (await js.stream_info(names.EVENTS_STREAM)).state.messages == 0


@pytest.mark.parametrize(
    ("setting", "value", "extra"),
    [("HANDOFF_SNAPSHOT_MAX_FILE_BYTES", 4 * KIB, [Member("shapes/big.bin", data=bytes(8 * KIB))]),
     ("HANDOFF_SNAPSHOT_MAX_BYTES", 8 * KIB, [Member(f"shapes/m{i}.py", data=bytes(3 * KIB)) for i in range(4)]),
     ("HANDOFF_SNAPSHOT_MAX_FILES", 5, [Member(f"shapes/m{i}.py", data=b"x = 1\n") for i in range(4)])],
    ids=["file", "total", "count"],
)  # fmt: skip
async def test_a_snapshot_over_a_limit_is_not_extracted_by_the_runner(
    nats_server: EmbeddedNats, nc: NATS, js: JetStreamContext, topology: Topology,
    model_server: ScriptedModelServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    setting: str, value: int, extra: list[Member],
) -> None:  # fmt: skip
    """A hand-made snapshot past the worker's limits fails as workspace_error naming the setting; no agent runs."""
    monkeypatch.setenv(setting, str(value))
    members = [*sample_members(), *extra]
    source = await store_raw_snapshot(js, tarball(members), files=len(members))
    model_server.policy = lambda request: Say("the agent must not be reached")
    asked_before = model_server.requests
    async with agent_replica(nats_server.url, model_server, tmp_path / "work"):
        task_id = await new_client(nc).submit(GenerateTests(source=source, targets=[TARGET]), task_id="bomb")
        finished = await new_client(nc).result(task_id, timeout=90)
    assert finished.status is TaskStatus.FAILED and finished.error is not None, finished
    assert finished.error.code is ErrorCode.WORKSPACE_ERROR and setting in finished.error.message, finished.error
    assert model_server.requests == asked_before, "an agent ran on the refused snapshot"
    assert list((tmp_path / "work").iterdir()) == []


async def test_a_patch_over_the_artifact_limit_fails_the_task_with_the_setting_and_stores_nothing(
    nats_server: EmbeddedNats, nc: NATS, js: JetStreamContext, topology: Topology,
    model_server: ScriptedModelServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """Three 10 KiB test files (each under a 16 KiB limit, the patch over it): failed, workspace_error, nothing kept."""
    monkeypatch.setenv("HANDOFF_ARTIFACT_MAX_BYTES", str(16 * KIB))
    padded = PASSING_TEST + "\n# padding\n" + ("#" * 99 + "\n") * 95
    names_ = [TEST_FILE, "tests/test_geometry_2.py", "tests/test_geometry_3.py"]
    model_server.policy = Script([*(in_workspace(n, lambda p: create_file(p, padded)) for n in names_), finish()])
    async with agent_replica(nats_server.url, model_server, tmp_path / "work"):
        client = new_client(nc)
        task_id = await client.submit_tests(_sample(tmp_path), [TARGET], coverage_goal_pct=10, task_id="huge-patch")
        finished = await client.result(task_id, timeout=90)
    assert finished.status is TaskStatus.FAILED and finished.error is not None, finished
    assert finished.error.code is ErrorCode.WORKSPACE_ERROR and not finished.error.retryable
    assert "HANDOFF_ARTIFACT_MAX_BYTES" in finished.error.message and "patch.diff" in finished.error.message
    assert await stored_objects(js, names.ARTIFACTS_BUCKET) == 0


async def test_a_file_over_the_artifact_limit_is_refused_and_listed_and_the_task_passes(
    nats_server: EmbeddedNats, nc: NATS, js: JetStreamContext, topology: Topology,
    model_server: ScriptedModelServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """A 40 KiB binary file is left out of the patch and the store, listed as too_large; the task passes."""
    monkeypatch.setenv("HANDOFF_ARTIFACT_MAX_BYTES", str(16 * KIB))
    model_server.policy = Script(
        [
            in_workspace("tests/blob.bin", lambda p: run(f"head -c {40 * KIB} /dev/zero > {p}")),
            in_workspace(TEST_FILE, lambda p: create_file(p, PASSING_TEST)),
            finish(),
        ]
    )
    async with agent_replica(nats_server.url, model_server, tmp_path / "work"):
        client = new_client(nc)
        task_id = await client.submit_tests(_sample(tmp_path), [TARGET], coverage_goal_pct=10, task_id="big-file")
        finished = await client.result(task_id, timeout=90)
        patch = await client.fetch_patch(finished)
    assert finished.status is TaskStatus.SUCCEEDED, finished.error
    result = finished.result
    assert isinstance(result, TestGenerationResult)
    assert [ref.name for ref in result.files] == [f"{task_id}/1/files/{TEST_FILE}"]
    assert [(r.path, r.reason) for r in result.refused] == [("tests/blob.bin", RefusalReason.TOO_LARGE)]
    assert "tests/blob.bin (too_large)" in result.summary
    assert patch is not None and b"tests/blob.bin" not in patch and TEST_FILE.encode() in patch
    assert all(ref.size_bytes <= 16 * KIB for ref in [*result.files, result.patch] if ref is not None)
