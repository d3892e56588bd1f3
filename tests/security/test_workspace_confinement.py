"""Work stays inside its workspace: paths leaving the source tree are refused at submit, dead-lettered when
published raw, and a snapshot that would extract outside its workspace fails its task without writing anything."""

from __future__ import annotations

import tarfile
from pathlib import Path

import msgspec
import pytest
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext

from handoff.broker.embedded import EmbeddedNats
from handoff.client import ClientSettings, HandoffClient, SubmitError
from handoff.common.clock import utcnow
from handoff.common.settings import NatsSettings
from handoff.schemas import names
from handoff.schemas.codec import Decoder
from handoff.schemas.events import DeadLetterReason, ErrorCode, GenerateTests, TaskStatus, TaskSubmitted
from handoff.schemas.topology import Topology
from handoff.scripted_model import ScriptedModelServer
from handoff.scripted_model.replies import Say
from tests.generator.support import dead_letters, finished_events, replica, started_events
from tests.runners.conftest import SAMPLE, TARGET
from tests.security.agents import Member, agent_replica, sample_members, store_raw_snapshot, tarball
from tests.support.nats import eventually

ESCAPING = [
    {"targets": ["../outside.py"]},
    {"targets": [TARGET, "/etc/passwd"]},
    {"targets": ["shapes/../../outside.py"]},
    {"targets": [TARGET], "test_dir": "../tests"},
    {"targets": [TARGET], "test_dir": "/tmp/tests"},
]


def new_client(nc: NATS) -> HandoffClient:
    return HandoffClient(nc, settings=ClientSettings(nats=NatsSettings(), submitter="security", submit_timeout_s=10))


@pytest.mark.parametrize("fields", ESCAPING, ids=lambda f: f"{f.get('test_dir', '')}{f['targets'][-1]}")
async def test_a_path_leaving_the_tree_is_refused_by_the_client_and_nothing_is_published(
    nc: NATS, js: JetStreamContext, topology: Topology, fields: dict[str, object]
) -> None:
    """submit_tests with a target or test_dir outside the tree raises a non-retryable SubmitError naming the field."""
    with pytest.raises(SubmitError) as refused:
        await new_client(nc).submit_tests(SAMPLE, task_id="escape", **fields)  # type: ignore[arg-type]
    assert not refused.value.retryable and refused.value.task_id == "escape"
    field = "test_dir" if "test_dir" in fields else "targets"
    assert field in str(refused.value)
    assert (await js.stream_info(names.EVENTS_STREAM)).state.messages == 0


@pytest.mark.parametrize("fields", ESCAPING, ids=lambda f: f"{f.get('test_dir', '')}{f['targets'][-1]}")
async def test_a_raw_submit_with_a_path_leaving_the_tree_is_dead_lettered_and_never_started(
    nats_server: EmbeddedNats, js: JetStreamContext, topology: Topology, fields: dict[str, object]
) -> None:
    """Published without the client, the same task is dead-lettered as schema_invalid and its task never starts."""
    payload = {"kind": "generate_tests", "source": {"digest": "0" * 64, "size_bytes": 1, "files": 1}, **fields}
    document = {"type": "task.submitted", "task_id": "escape", "submitted_at": utcnow().isoformat(), "payload": payload}
    async with replica(nats_server.url):
        await js.publish(names.task_subject(None, "escape", names.EventType.SUBMITTED), msgspec.json.encode(document))
        (finished,) = await eventually(lambda: finished_events(js, "escape"), what="the dead-lettered finish")
    (letter,) = await dead_letters(js)
    assert letter.reason is DeadLetterReason.SCHEMA_INVALID and letter.task_id == "escape"
    field = "test_dir" if "test_dir" in fields else "targets"
    assert f"$.payload.{field}" in letter.detail
    assert finished.status is TaskStatus.DEAD_LETTERED and finished.error is not None
    assert finished.error.code is ErrorCode.DEAD_LETTERED
    assert await started_events(js, "escape") == []


def escape_members(outside: Path) -> dict[str, tuple[Member, ...]]:
    """Tar members that would land outside the workspace if extracted as they are."""
    return {
        "dot-dot path": (Member("../escaped.py", data=b"owned = True\n"),),
        "absolute path": (Member(str(outside / "escaped.py"), data=b"owned = True\n"),),
        "symlink out, then a file through it": (
            Member("shapes/out", tarfile.SYMTYPE, link=str(outside)),
            Member("shapes/out/escaped.py", data=b"owned = True\n"),
        ),
        "relative symlink out": (Member("shapes/up", tarfile.SYMTYPE, link="../../.."),),
        "hard link to a file outside": (Member("shapes/passwd", tarfile.LNKTYPE, link="/etc/passwd"),),
        "device": (Member("shapes/dev", tarfile.CHRTYPE),),
    }


@pytest.mark.parametrize("case", list(escape_members(Path("/x"))))
async def test_a_snapshot_that_would_extract_outside_the_workspace_fails_its_task_and_writes_nothing(
    nats_server: EmbeddedNats,
    nc: NATS,
    js: JetStreamContext,
    topology: Topology,
    model_server: ScriptedModelServer,
    tmp_path: Path,
    case: str,
) -> None:
    """A hand-made snapshot with an escaping member is refused by the runner: workspace_error, no agent, no file."""
    outside = tmp_path / "outside"
    outside.mkdir()
    members = [*sample_members(), *escape_members(outside)[case]]
    source = await store_raw_snapshot(js, tarball(members), files=len(members))
    model_server.policy = lambda request: Say("the agent must not be reached")
    asked_before = model_server.requests
    work = tmp_path / "work"
    async with agent_replica(nats_server.url, model_server, work):
        task_id = await new_client(nc).submit(GenerateTests(source=source, targets=[TARGET]), task_id="evil-tar")
        finished = await new_client(nc).result(task_id, timeout=90)
    assert finished.status is TaskStatus.FAILED and finished.error is not None
    assert finished.error.code is ErrorCode.WORKSPACE_ERROR and not finished.error.retryable
    assert any(word in finished.error.message for word in ("unsafe", "escaping", "unsupported")), finished.error
    assert model_server.requests == asked_before, "an agent ran on the refused snapshot"
    assert list(outside.iterdir()) == [] and not (tmp_path / "escaped.py").exists()
    assert list(work.iterdir()) == [], "the task directory was left behind"


async def test_a_snapshot_replaced_in_the_store_after_upload_is_not_run(
    nats_server: EmbeddedNats, nc: NATS, js: JetStreamContext, topology: Topology, model_server: ScriptedModelServer,
    tmp_path: Path,
) -> None:  # fmt: skip
    """A submit naming a digest whose stored bytes differ (replaced after upload) fails as workspace_error."""
    members = sample_members()
    genuine = await store_raw_snapshot(js, tarball(members), files=len(members))
    store = await js.object_store(names.SNAPSHOTS_BUCKET)
    await store.put(genuine.digest, tarball([*members, Member("shapes/extra.py", data=b"tampered = True\n")]))
    async with agent_replica(nats_server.url, model_server, tmp_path / "work"):
        task_id = await new_client(nc).submit(GenerateTests(source=genuine, targets=[TARGET]), task_id="swapped")
        finished = await new_client(nc).result(task_id, timeout=90)
    assert finished.error is not None and finished.error.code is ErrorCode.WORKSPACE_ERROR
    assert "sha256" in finished.error.message


def test_the_raw_document_is_a_valid_submit_once_its_paths_are_inside_the_tree() -> None:
    """Control for the raw-submit test: with in-tree paths the same document decodes, so only the paths are wrong."""
    payload = {"kind": "generate_tests", "source": {"digest": "0" * 64, "size_bytes": 1, "files": 1}}
    document = {"type": "task.submitted", "task_id": "escape", "submitted_at": utcnow().isoformat()}
    raw = msgspec.json.encode({**document, "payload": {**payload, "targets": [TARGET], "test_dir": "tests"}})
    task = Decoder(TaskSubmitted).decode(raw)
    assert isinstance(task.payload, GenerateTests) and task.payload.targets == [TARGET]
