"""What leaves a task, end to end (real generator, real nats-server, collector, scripted model): only screened test
files, validated on a fresh copy of the snapshot; no secret of the worker in the patch, files, events or records."""

from __future__ import annotations

import shutil
from pathlib import Path

from nats.aio.client import Client as NATS
from nats.js import JetStreamContext

from handoff.broker.embedded import EmbeddedNats
from handoff.client import ClientSettings, HandoffClient
from handoff.common.settings import NatsSettings
from handoff.sandbox import SandboxMode, SandboxSettings
from handoff.schemas import names
from handoff.schemas.events import ErrorCode, RefusalReason, TaskFinished, TaskStatus, TestGenerationResult
from handoff.schemas.records import TaskRecord, TaskState
from handoff.schemas.topology import Topology
from handoff.scripted_model import ScriptedModelServer
from handoff.scripted_model.replies import ChatRequest, Reply
from handoff.scripted_model.scripts import Script, create_file, finish, run, view
from tests.collector.conftest import RunningCollector
from tests.collector.probes import task_record
from tests.runners.conftest import API_KEY, PASSING_TEST, SAMPLE, TARGET, TEST_FILE, in_workspace
from tests.security.agents import agent_replica
from tests.security.stored import every_stored_message
from tests.support.nats import eventually

NATS_PASSWORD = "nats-generator-pw-4b8d2f6a1c"
AWS_KEY = "AKIA" + "Z7Q3XK2M9PLW4RTB"  # the shape of an AWS access key id, never a real one
TAMPERED_TEST = "from shapes.geometry import area\n\n\ndef test_area_is_seven():\n    assert area(2, 3) == 7\n"
TRIVIAL_TEST = "def test_trivial():\n    assert {secret!r}\n"


def new_client(nc: NATS) -> HandoffClient:
    return HandoffClient(nc, settings=ClientSettings(nats=NatsSettings(), submitter="security", submit_timeout_s=10))


def project(tmp_path: Path, *, without_tests: bool = False) -> Path:
    dest = tmp_path / "project"
    shutil.copytree(SAMPLE, dest)
    if without_tests:
        shutil.rmtree(dest / "tests")
    return dest


class Recorder:
    """Wraps a script and keeps the result of every tool call the agent made."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.results: list[str] = []

    def __call__(self, request: ChatRequest) -> Reply:
        if request.last_tool_result is not None:
            self.results.append(request.last_tool_result)
        return self.script(request)

    def saw(self, text: str) -> bool:
        """Whether some tool result holds ``text`` (a redelivered attempt may interleave its results)."""
        return any(text in result for result in self.results)


async def final_record(js: JetStreamContext, task_id: str) -> TaskRecord:
    async def final() -> TaskRecord | None:
        record = await task_record(js, task_id)
        return record if record is not None and record.final else None

    return await eventually(final, timeout_s=30, what="the collector's final record")


async def nothing_stored_holds(js: JetStreamContext, *secrets: str) -> None:
    """No message of any stream (events, KV histories, object chunks, dead letters) holds any of ``secrets``."""
    found = set()
    async for stream, subject, data in every_stored_message(js):
        found |= {(stream, subject, s) for s in secrets if s.encode() in data}
    assert found == set(), "a secret is stored on the server"


async def run_task(
    nats_server: EmbeddedNats, nc: NATS, js: JetStreamContext, collector: RunningCollector,
    model: ScriptedModelServer, work: Path, source: Path, task_id: str, **runner: object,
) -> tuple[TaskFinished, TaskRecord]:  # fmt: skip
    async with (
        collector(js, replica_id=f"{task_id}-collector"),
        agent_replica(nats_server.url, model, work, nats_password=NATS_PASSWORD, **runner),
    ):
        client = new_client(nc)
        await client.submit_tests(source, [TARGET], coverage_goal_pct=10, task_id=task_id)
        finished = await client.result(task_id, timeout=120)
        record = await final_record(js, task_id)
    return finished, record


async def stored_patch(js: JetStreamContext, finished: TaskFinished) -> bytes:
    store = await js.object_store(names.ARTIFACTS_BUCKET)
    return bytes((await store.get(f"{finished.task_id}/{finished.attempt}/patch.diff")).data or b"")


async def test_an_agent_that_edits_the_module_under_test_and_commits_into_a_baseline_fails_validation(
    nats_server: EmbeddedNats, nc: NATS, js: JetStreamContext, topology: Topology,
    running_collector: RunningCollector, model_server: ScriptedModelServer, tmp_path: Path,
) -> None:  # fmt: skip
    """area() made to return 7, committed into ../baseline.git, a test asserting 7: it passes in the workspace, the
    source change is dropped and listed, and the test fails on the clean copy: validation_failed."""
    recorder = Recorder(
        Script(
            [
                in_workspace(TARGET, lambda p: run(f"sed -i 's/return width \\* height/return 7/' {p} && cat {p}")),
                run(
                    "git init -q --bare ../baseline.git; git --git-dir=../baseline.git --work-tree=. add -A && "
                    "git --git-dir=../baseline.git --work-tree=. -c user.name=x -c user.email=x@x commit -qm t; "
                    "echo committed=$?"
                ),
                in_workspace(TEST_FILE, lambda p: create_file(p, TAMPERED_TEST)),
                run(f"python -m pytest -q -p no:cacheprovider {TEST_FILE}"),
                finish(),
            ]
        )
    )
    model_server.policy = recorder
    finished, record = await run_task(
        nats_server, nc, js, running_collector, model_server, tmp_path / "work", project(tmp_path), "tamper"
    )
    assert recorder.saw("return 7") and recorder.saw("committed=0"), "\n----\n".join(r[-400:] for r in recorder.results)
    assert recorder.saw("1 passed"), "the tampered test must pass in the agent's own workspace"
    assert finished.status is TaskStatus.FAILED and finished.error is not None, finished
    assert finished.error.code is ErrorCode.VALIDATION_FAILED, finished.error
    assert "1 failed" in finished.error.detail or "assert 6 == 7" in finished.error.detail
    assert f"{TARGET} (source_change)" in finished.error.detail
    patch = await stored_patch(js, finished)
    assert TEST_FILE.encode() in patch and TARGET.encode() not in patch and b"return 7" not in patch
    assert record.state is TaskState.FAILED


async def test_secrets_and_a_symlink_written_by_the_agent_never_leave_the_task(
    nats_server: EmbeddedNats, nc: NATS, js: JetStreamContext, topology: Topology,
    running_collector: RunningCollector, model_server: ScriptedModelServer, tmp_path: Path,
) -> None:  # fmt: skip
    """Test files holding the LLM key, the NATS password and an AWS-shaped key, and tests/creds_link -> /etc/passwd,
    are refused and listed; the good test passes; none of it is in the patch, files, events or KV records."""
    model_server.policy = Script(
        [
            in_workspace(TEST_FILE, lambda p: create_file(p, PASSING_TEST)),
            in_workspace("tests/test_key.py", lambda p: create_file(p, TRIVIAL_TEST.format(secret=API_KEY))),
            in_workspace("tests/test_nats.py", lambda p: create_file(p, TRIVIAL_TEST.format(secret=NATS_PASSWORD))),
            in_workspace("tests/test_aws.py", lambda p: create_file(p, TRIVIAL_TEST.format(secret=AWS_KEY))),
            in_workspace("tests/creds_link", lambda p: run(f"ln -s /etc/passwd {p} && echo linked")),
            run(f"echo {NATS_PASSWORD} {API_KEY}"),
            finish(),
        ]
    )
    finished, record = await run_task(
        nats_server, nc, js, running_collector, model_server, tmp_path / "work", project(tmp_path), "leaks"
    )
    assert finished.status is TaskStatus.SUCCEEDED, finished.error
    result = finished.result
    assert isinstance(result, TestGenerationResult) and result.tests_passed == 3
    assert {(r.path, r.reason) for r in result.refused} == {
        ("tests/creds_link", RefusalReason.SYMLINK),
        ("tests/test_key.py", RefusalReason.SECRET),
        ("tests/test_nats.py", RefusalReason.SECRET),
        ("tests/test_aws.py", RefusalReason.SECRET),
    }
    assert result.test_files == [TEST_FILE]
    assert [f.name for f in result.files] == [f"leaks/{finished.attempt}/files/{TEST_FILE}"]
    client = new_client(nc)
    patch = await client.fetch_patch(finished)
    assert patch is not None and TEST_FILE.encode() in patch
    assert b"creds_link" not in patch and b"test_key" not in patch and b"120000" not in patch
    for secret in (API_KEY, NATS_PASSWORD, AWS_KEY):
        assert secret not in repr(finished) and secret not in repr(record)
    await nothing_stored_holds(js, API_KEY, NATS_PASSWORD, AWS_KEY)


async def test_a_snapshot_module_raising_a_worker_secret_leaves_no_secret_in_the_failure_or_records(
    nats_server: EmbeddedNats, nc: NATS, js: JetStreamContext, topology: Topology,
    running_collector: RunningCollector, model_server: ScriptedModelServer, tmp_path: Path,
) -> None:  # fmt: skip
    """A module of the snapshot raises RuntimeError('HANDOFF_NATS_PASSWORD=<the worker's>') when validation imports
    it: TaskFinished.error.detail shows the exception with the value masked; progress and the KV record too."""
    credentials = tmp_path / "worker-credentials"
    credentials.write_text(f"{NATS_PASSWORD}\n{API_KEY}\n")
    source = project(tmp_path)
    (source / "shapes" / "leaky.py").write_text(
        "from pathlib import Path\n\n"
        f"_pw, _key = Path({str(credentials)!r}).read_text().split()\n"
        "raise RuntimeError(f'HANDOFF_NATS_PASSWORD={_pw} HANDOFF_LLM_API_KEY={_key}')\n"
    )
    leaky_test = "import shapes.leaky  # noqa: F401\n\n\ndef test_x():\n    assert True\n"
    recorder = Recorder(
        Script(
            [
                in_workspace("tests/test_leaky.py", lambda p: create_file(p, leaky_test)),
                run("python -m pytest -q -p no:cacheprovider tests/test_leaky.py"),
                finish(),
            ]
        )
    )
    model_server.policy = recorder
    # the first wall, the sandbox, would keep the module from reading the file at all (tests/runners/
    # test_runner_sandbox.py): it is off here so that the attack reaches the second wall, the redactor
    finished, record = await run_task(
        nats_server, nc, js, running_collector, model_server, tmp_path / "work", source, "leaky",
        sandbox=SandboxSettings(mode=SandboxMode.NONE),
    )  # fmt: skip
    assert recorder.saw(NATS_PASSWORD), "the agent's own run must have raised the secret"
    assert finished.status is TaskStatus.FAILED and finished.error is not None, finished
    assert finished.error.code is ErrorCode.VALIDATION_FAILED
    assert "HANDOFF_NATS_PASSWORD=*** HANDOFF_LLM_API_KEY=***" in finished.error.detail
    for secret in (API_KEY, NATS_PASSWORD):
        assert secret not in repr(finished) and secret not in repr(record)
    await nothing_stored_holds(js, API_KEY, NATS_PASSWORD)


async def test_a_project_without_a_tests_dir_succeeds(
    nats_server: EmbeddedNats, nc: NATS, js: JetStreamContext, topology: Topology,
    running_collector: RunningCollector, model_server: ScriptedModelServer, tmp_path: Path,
) -> None:  # fmt: skip
    """The snapshot has no tests/: the runner creates it, the file editor writes into it, the task succeeds."""
    model_server.policy = Script([in_workspace(TEST_FILE, lambda p: create_file(p, PASSING_TEST)), finish()])
    finished, _ = await run_task(
        nats_server, nc, js, running_collector, model_server, tmp_path / "work",
        project(tmp_path, without_tests=True), "no-tests-dir",
    )  # fmt: skip
    assert finished.status is TaskStatus.SUCCEEDED, finished.error
    assert isinstance(finished.result, TestGenerationResult) and finished.result.tests_passed == 3
    assert finished.result.refused == []


async def test_the_last_tool_error_of_the_agent_is_in_the_failure_detail(
    nats_server: EmbeddedNats, nc: NATS, js: JetStreamContext, topology: Topology,
    running_collector: RunningCollector, model_server: ScriptedModelServer, tmp_path: Path,
) -> None:  # fmt: skip
    """An agent whose file editor fails and that writes nothing: no_files_produced, the tool's error in detail."""
    model_server.policy = Script([in_workspace("nowhere/missing.py", view), finish()])
    finished, _ = await run_task(
        nats_server, nc, js, running_collector, model_server, tmp_path / "work", project(tmp_path), "tool-error"
    )
    assert finished.status is TaskStatus.FAILED and finished.error is not None
    assert finished.error.code is ErrorCode.NO_FILES_PRODUCED
    assert "last tool error of the agent: file_editor" in finished.error.detail
    assert "missing.py" in finished.error.detail
