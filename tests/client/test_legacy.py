"""The seed's OpenHandsTestGenerator interface, kept for existing callers, on top of Handoff."""

from __future__ import annotations

import asyncio
from pathlib import Path

import msgspec
import pytest
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from handoff.broker.embedded import EmbeddedNats
from handoff.client import ClientSettings, HandoffClient, ResultTimeoutError, UnknownTaskError
from handoff.client.legacy import OpenHandsTestGenerator
from handoff.common.clock import utcnow
from handoff.schemas import names
from handoff.schemas.codec import Decoder
from handoff.schemas.events import (
    ErrorCode,
    GenerateTests,
    TaskError,
    TaskFinished,
    TaskStatus,
    TaskSubmitted,
    TestGenerationResult,
)
from handoff.schemas.topology import Topology
from tests.client.test_artifacts import sample_repo
from tests.collector.lifecycle import Wire, finished, publish_one, started


def generation_finish(task_id: str, *, ok: bool) -> Wire:
    """The finish a generator publishes for a test-generation task that succeeded or produced no files."""
    wire = finished(task_id, at=utcnow(), status=TaskStatus.SUCCEEDED if ok else TaskStatus.FAILED)
    event = TaskFinished(
        task_id=task_id,
        status=wire.event.status,  # type: ignore[attr-defined]
        finished_at=utcnow(),
        attempt=1,
        result=TestGenerationResult(summary="3 tests", files_produced=True, tests_passed=3) if ok else None,
        error=None if ok else TaskError(code=ErrorCode.NO_FILES_PRODUCED, message="the agent wrote no test file"),
    )
    return Wire(wire.subject, event, wire.msg_id)


async def test_submit_returns_at_once_and_results_come_back_in_the_seeds_shape(
    client: HandoffClient, js: JetStreamContext, topology: Topology, tmp_path: Path
) -> None:
    """submit_test_generation_task gives a task id; get_test_generation_results a dict with success and paths."""
    generator = OpenHandsTestGenerator(client, repo_root=sample_repo(tmp_path / "repo"))
    task_id = await generator.submit_test_generation_task("pkg/mod.py", "tests/unit/test_mod.py", 70)
    submitted = await client.lookups.submitted_in_stream(task_id)
    assert submitted is not None and isinstance(submitted.payload, GenerateTests)
    assert submitted.payload.targets == ["pkg/mod.py"] and submitted.payload.test_dir == "tests/unit"
    assert submitted.payload.coverage_goal_pct == 70 and "tests/unit/test_mod.py" in submitted.payload.instructions
    assert (await generator.get_task_status(task_id))["status"] == "queued"
    await publish_one(js, started(task_id, at=utcnow()))
    await publish_one(js, generation_finish(task_id, ok=True))
    outcome = await generator.get_test_generation_results(task_id, timeout=10)
    assert outcome["success"] is True and outcome["task_id"] == task_id
    assert outcome["module_path"] == "pkg/mod.py" and outcome["output_path"] == "tests/unit/test_mod.py"
    assert outcome["result"]["summary"] == "3 tests" and outcome["result"]["tests_passed"] == 3
    status = await generator.get_task_status(task_id)
    assert status["status"] == "completed" and status["retry_count"] == 0
    assert status["metadata"]["module_path"] == "pkg/mod.py"


async def test_a_failed_generation_is_reported_with_its_error_not_raised(
    client: HandoffClient, js: JetStreamContext, topology: Topology, tmp_path: Path
) -> None:
    """A task that ended without files gives success False with the error message and code."""
    generator = OpenHandsTestGenerator(client, repo_root=sample_repo(tmp_path / "repo"))
    task_id = await generator.submit_test_generation_task(str(tmp_path / "repo" / "pkg" / "mod.py"))
    await publish_one(js, generation_finish(task_id, ok=False))
    outcome = await generator.get_test_generation_results(task_id, timeout=10)
    assert outcome["success"] is False and outcome["error_code"] == "no_files_produced"
    assert outcome["error"] == "the agent wrote no test file" and outcome["module_path"] == "pkg/mod.py"


async def test_timeouts_and_unknown_ids_raise_what_existing_callers_catch(
    client: HandoffClient, js: JetStreamContext, topology: Topology, tmp_path: Path
) -> None:
    """A timeout is a TimeoutError, an unknown id a RuntimeError (both also the client's typed errors)."""
    generator = OpenHandsTestGenerator(client, repo_root=sample_repo(tmp_path / "repo"))
    task_id = await generator.submit_test_generation_task("pkg/mod.py")
    with pytest.raises(TimeoutError) as timeout_info:
        await generator.get_test_generation_results(task_id, timeout=0.5)
    assert isinstance(timeout_info.value, ResultTimeoutError)
    with pytest.raises(RuntimeError) as unknown_info:
        await generator.get_test_generation_results("never-submitted", timeout=30)
    assert isinstance(unknown_info.value, UnknownTaskError)
    with pytest.raises(RuntimeError):
        await generator.get_task_status("never-submitted")


async def test_generate_tests_blocks_until_the_result_and_answers_a_timeout_with_a_dict(
    client: HandoffClient, nc: NATS, js: JetStreamContext, topology: Topology, tmp_path: Path
) -> None:
    """generate_tests is submit-then-wait; the test plays the generator by answering each submit it sees."""
    answer = True
    submits: Decoder[TaskSubmitted] = Decoder(TaskSubmitted)

    async def play_generator(msg: Msg) -> None:
        if answer:
            await publish_one(js, generation_finish(submits.decode(msg.data).task_id, ok=True))

    sub = await nc.subscribe(names.SUBMIT_FILTER, cb=play_generator)
    try:
        generator = OpenHandsTestGenerator(client, repo_root=sample_repo(tmp_path / "repo"))
        outcome = await asyncio.wait_for(generator.generate_tests("pkg/mod.py", "tests/test_mod.py", 80, 20), 30)
        assert outcome["success"] is True and outcome["output_path"] == "tests/test_mod.py"
        answer = False
        late = await generator.generate_tests("pkg/mod.py", timeout=0.5)
        assert late["success"] is False and late["error"].startswith("Timeout after 0.5s")
        assert (await client.status(late["task_id"])).final is False  # it keeps going
    finally:
        await sub.unsubscribe()


async def test_the_facade_connects_and_closes_its_own_client(
    nats_server: EmbeddedNats, topology: Topology, tmp_path: Path, client_settings: ClientSettings
) -> None:
    """Without a client given, the facade connects from settings on entry and closes on exit."""
    nats = msgspec.structs.replace(client_settings.nats, url=nats_server.url)
    generator = OpenHandsTestGenerator(
        repo_root=sample_repo(tmp_path / "repo"), settings=msgspec.structs.replace(client_settings, nats=nats)
    )
    with pytest.raises(RuntimeError, match="not started"):
        await generator.submit_test_generation_task("pkg/mod.py")
    async with generator:
        task_id = await generator.submit_test_generation_task("pkg/mod.py")
        assert (await generator.get_task_status(task_id))["status"] == "queued"
        own = generator.client
    assert own.nc.is_closed
