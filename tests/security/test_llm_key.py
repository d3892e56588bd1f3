"""End to end, through a real ``handoff generator`` process: the LLM key reaches the LLM endpoint and nowhere else:
not the replica's logs, not any event, record, dead letter or artifact on the server, not the agent's shell."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext

from handoff.broker.embedded import EmbeddedNats
from handoff.client import ClientSettings, HandoffClient
from handoff.common.settings import NatsSettings
from handoff.schemas import names
from handoff.schemas.events import TaskStatus, TestGenerationResult
from handoff.schemas.records import TaskState
from handoff.schemas.topology import Topology
from handoff.scripted_model import ScriptedModelServer
from handoff.scripted_model.replies import ChatRequest, Reply, Say
from handoff.scripted_model.scripts import Script, create_file, finish, run
from tests.collector.conftest import RunningCollector
from tests.collector.probes import task_record
from tests.generator.processes import ReplicaProcess
from tests.generator.support import read_events
from tests.runners.conftest import SAMPLE, TARGET, TEST_FILE, in_workspace, verdict_of
from tests.security.stored import every_stored_message
from tests.support.nats import eventually

KEY = "sk-handoff-e2e-5f1c0a9e7d3b4c2a"
SNEAKY_TEST = '''"""Tests that also look for credentials in the validation environment."""

import os

from shapes.geometry import area, describe


def test_area_and_describe():
    print(sorted(os.environ.items()))
    assert area(2, 3) == 6 and describe(2, 2) == "square"


def test_no_credentials_reach_the_test_run():
    assert not [v for v in os.environ.values() if "sk-handoff" in v]
'''


class Recorder:
    """Wraps a script; keeps every request body the model endpoint received (what the agent sent the LLM)."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.requests: list[ChatRequest] = []

    def __call__(self, request: ChatRequest) -> Reply:
        self.requests.append(request)
        return self.script(request)

    def tool_results(self) -> list[str]:
        return [r.last_tool_result for r in self.requests if r.last_tool_result is not None]

    def everything_sent(self) -> str:
        return "\n".join(str(r.messages) for r in self.requests)


@pytest.mark.slow
async def test_the_llm_key_appears_nowhere_but_in_the_requests_to_the_llm(
    nats_server: EmbeddedNats,
    nc: NATS,
    js: JetStreamContext,
    topology: Topology,
    running_collector: RunningCollector,
    tmp_path: Path,
) -> None:
    """A replica holding the key in its environment runs an agent that dumps its env: the key is nowhere to be read."""
    recorder = Recorder(
        Script(
            [
                run("env; echo key=[$HANDOFF_LLM_API_KEY][$OPENAI_API_KEY]"),
                run("cat /proc/self/environ | tr '\\0' '\\n'; ls -la ~; cat ~/.bash_history 2>/dev/null"),
                in_workspace(TEST_FILE, lambda path: create_file(path, SNEAKY_TEST)),
                run(f"python -m pytest -q -s {TEST_FILE}"),
                finish("[scripted model] tests written"),
            ],
            then=Say("done"),
        )
    )
    source = tmp_path / "project"
    shutil.copytree(SAMPLE, source)
    work = tmp_path / "work"
    async with ScriptedModelServer(policy=recorder, api_key=KEY) as model:  # answers 401 without the key
        replica = ReplicaProcess(
            nats_server.url,
            "key-replica",
            tmp_path,
            HANDOFF_LOG_LEVEL="debug",
            HANDOFF_LLM_MODEL="openai/scripted-e2e",
            HANDOFF_LLM_BASE_URL=model.base_url,
            HANDOFF_LLM_API_KEY=KEY,
            OPENAI_API_KEY=KEY,
            HANDOFF_LLM_API_MODE="chat",
            HANDOFF_LLM_RETRIES="0",
            HANDOFF_LLM_INPUT_COST_PER_TOKEN="0",
            HANDOFF_LLM_OUTPUT_COST_PER_TOKEN="0",
            HANDOFF_FEEDBACK_ROUNDS="0",
            HANDOFF_WORK_DIR=str(work),
            HANDOFF_KEEP_WORKSPACES="true",
        )
        try:
            async with running_collector(js, replica_id="key-collector"):
                client = HandoffClient(nc, settings=ClientSettings(nats=NatsSettings(), submitter="security"))
                task_id = await client.submit_tests(source, [TARGET], coverage_goal_pct=10, task_id="key-task")
                finished = await client.result(task_id, timeout=120)
                record = await eventually(
                    lambda: _final_record(js, task_id), timeout_s=20, what="the collector's final record"
                )
                patch = await client.fetch_patch(finished)
                files = await client.fetch_files(finished)
            assert replica.terminate(timeout_s=30) == 0
        finally:
            replica.close()
        logs = replica.log()

    # the task really ran, through the endpoint that demands the key, and the agent did dump its environment
    assert finished.status is TaskStatus.SUCCEEDED, (finished.error, logs[-3000:])
    assert isinstance(finished.result, TestGenerationResult) and finished.result.tests_passed == 1
    # the credential check passes (then adds no coverage: useless) only if no test run saw the key
    assert verdict_of(finished.result, "test_no_credentials_reach_the_test_run") == "useless"
    assert model.requests >= 5 and record.state is TaskState.SUCCEEDED
    env_dump, proc_environ = recorder.tool_results()[:2]
    assert "HOME=" in env_dump and "key=[][]" in env_dump
    assert "HOME=" in proc_environ
    assert patch is not None and TEST_FILE in patch.decode() and files
    assert "task started" in logs and "task finished" in logs

    # ... and the key is nowhere
    assert KEY not in logs, "the replica logged the key"
    for text in (*recorder.tool_results(), recorder.everything_sent()):
        assert KEY not in text, "the agent saw the key"
    task_events = await read_events(js, names.task_filter(task_id))
    assert len(task_events) >= 4  # submitted, started, progress…, finished
    assert all(KEY not in repr(event) for event in task_events)
    assert KEY not in repr(record)
    assert KEY.encode() not in patch and all(KEY.encode() not in data for data in files.values())
    with_key, with_task_id = set(), set()
    async for stream, subject, data in every_stored_message(js):
        if KEY.encode() in data:
            with_key.add((stream, subject))
        if task_id.encode() in data:
            with_task_id.add(stream)
    assert with_key == set(), "the key is stored on the server"
    assert {names.EVENTS_STREAM, names.kv_stream(names.TASKS_BUCKET)} <= with_task_id, "the scan read nothing"
    kept = [path for path in work.rglob("*") if path.is_file() and not path.is_symlink()]
    assert kept, "the kept task directory is empty: nothing was checked"
    assert [path for path in kept if KEY.encode() in path.read_bytes()] == []


async def _final_record(js: JetStreamContext, task_id: str):  # type: ignore[no-untyped-def]
    record = await task_record(js, task_id)
    return record if record is not None and record.final else None
