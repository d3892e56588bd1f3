"""The handoff command driven as a user drives it: ``handoff up`` in one process, every other verb as its own
subprocess finding the running stack, with the scripted model standing in for the LLM."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from handoff.broker.connect import connect
from handoff.common.clock import utcnow
from handoff.common.settings import NatsSettings
from handoff.demo.run import SAMPLE
from handoff.schemas import names
from handoff.schemas.codec import encode
from handoff.schemas.events import DeadLettered, DeadLetterReason, Sleep, TaskSubmitted
from tests.runners.conftest import ENV_CACHE
from tests.support.net import free_port_range, http_get, wait_until

pytestmark = pytest.mark.slow


class Stack:
    def __init__(self, env: dict[str, str], proc: subprocess.Popen[str], url: str, health_port: int) -> None:
        self.env, self.proc, self.url, self.health_port = env, proc, url, health_port

    def handoff(self, *args: str, timeout_s: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "handoff.cli.main", *args],
            env=self.env, capture_output=True, text=True, timeout=timeout_s, check=False,
        )  # fmt: skip


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    health = free_port_range(2)  # the collector's port and the generator's after it
    env = {
        **os.environ,
        "HANDOFF_DATA_DIR": str(tmp_path / "data"),
        "HANDOFF_EMBEDDED_PORT": "0",
        "HANDOFF_SCRIPTED_MODEL": "true",
        "HANDOFF_LOG_FORMAT": "json",
        "HANDOFF_WORK_DIR": str(tmp_path / "work"),
        "HANDOFF_ENV_CACHE_DIR": str(ENV_CACHE),  # project environments: one warm cache for the test session
        "HANDOFF_MUTATION_BUDGET_S": "0",  # the CLI is under test; mutation is in tests/runners and tests/assurance
        "HANDOFF_RELIABILITY_RUNS": "1",
    }
    env.pop("HANDOFF_NATS_URL", None)
    env.pop("HANDOFF_LLM_MODEL", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "handoff.cli.main", "up", "--generators", "1", "--slots", "2",
         "--health-base-port", str(health)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    first = proc.stdout.readline()
    assert first.startswith("Handoff is up: nats "), first
    url = first.split()[4].rstrip(",")
    yield Stack(env, proc, url, health + 1)
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=90)
    proc.stdout.close()


def sample_repo(root: Path) -> Path:
    repo = root / "repo"
    shutil.copytree(SAMPLE, repo, ignore=shutil.ignore_patterns("__pycache__"))
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t.invalid"]
    subprocess.run([*git, "init", "-q"], cwd=repo, check=True)
    subprocess.run([*git, "add", "-A"], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-qm", "base"], cwd=repo, check=True)
    return repo


@pytest.mark.timeout(300)  # one user's whole session: a task, a cancel, a replay; ~110 s on two loaded cores
def test_a_user_submits_waits_reads_the_patch_cancels_replays_and_checks_status(stack: Stack, tmp_path: Path) -> None:
    """up -> submit -> wait (progress) -> result --patch -> cancel -> dlq replay -> status --json, with exit codes."""
    repo = sample_repo(tmp_path)

    # readiness and metrics of the generator replica
    assert wait_until(lambda: http_get(stack.health_port, "/readyz")[0] == 200, 60, "generator /readyz")

    # submit and wait with progress
    submitted = stack.handoff("submit", "--repo", str(repo), "inventory/stock.py", "--run-id", "cli-run", "--json")
    assert submitted.returncode == 0, submitted.stderr
    task_id = json.loads(submitted.stdout)["tasks"][0]["task_id"]
    waited = stack.handoff("wait", "--run-id", "cli-run", "--timeout-s", "180")
    assert waited.returncode == 0, waited.stdout + waited.stderr
    assert f"{task_id}  succeeded" in waited.stderr and "1 succeeded" in waited.stdout

    # the run's history replayed, ending at its RunFinished
    watched = stack.handoff("watch", "--run-id", "cli-run", "--from", "start", "--until-finished", timeout_s=30)
    assert watched.returncode == 0, watched.stderr
    for line in ("submitted (generate_tests)", "started on generator-1", "finished succeeded", "run finished"):
        assert line in watched.stdout

    # the patch applies to the original tree and its tests pass there
    patch = stack.handoff("result", task_id, "--patch")
    assert patch.returncode == 0 and "tests/test_stock.py" in patch.stdout
    assert stack.handoff("result", task_id, "--apply", str(repo)).returncode == 0
    again = stack.handoff("result", task_id, "--apply", str(repo))  # nothing left to do: said, and exit 0
    assert again.returncode == 0 and "is applied to" in again.stderr and "already" in again.stderr, again.stderr
    check = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=repo,
                           capture_output=True, text=True, check=False)  # fmt: skip
    assert check.returncode == 0, check.stdout
    summary = json.loads(stack.handoff("result", task_id, "--json").stdout)
    assert summary["status"] == "succeeded" and summary["result"]["files_produced"] is True

    # cancel a running task: it stops and finishes as cancelled (exit 1 from wait, the task did not succeed)
    sleeper = json.loads(stack.handoff("submit", "--sleep-s", "60", "--json").stdout)["tasks"][0]["task_id"]
    wait_until(lambda: "running" in stack.handoff("status", sleeper).stdout, 30, "the sleep task to start")
    cancelled = stack.handoff("cancel", sleeper)
    assert cancelled.returncode == 0 and "cancel requested" in cancelled.stdout
    assert stack.handoff("wait", sleeper, "--timeout-s", "20").returncode == 1
    assert json.loads(stack.handoff("result", sleeper, "--json").stdout)["status"] == "cancelled"

    # a dead letter replayed: the task runs again and its finish supersedes the dead-lettered one
    replay_task = asyncio.run(dead_letter_a_valid_submit(stack.url))
    listed = json.loads(stack.handoff("dlq", "list", "--json").stdout)
    entry = next(d for d in listed if d["task_id"] == replay_task)
    assert entry["reason"] == "max_deliveries"
    replayed = stack.handoff("dlq", "replay", str(entry["seq"]))
    assert replayed.returncode == 0, replayed.stderr
    assert stack.handoff("wait", replay_task, "--timeout-s", "60").returncode == 0
    assert all(d["seq"] != entry["seq"] for d in json.loads(stack.handoff("dlq", "list", "--json").stdout))

    # status as a script sees it
    status = stack.handoff("status", "--json")
    assert status.returncode == 0, status.stderr
    view = json.loads(status.stdout)
    assert view["queued"] == 0 and view["in_flight"] == 0
    assert [r["replica_id"] for r in view["replicas"]] == ["generator-1"] and view["replicas"][0]["ready"]

    # the counters moved
    code, metrics = http_get(stack.health_port, "/metrics")
    assert code == 200
    assert 'handoff_tasks_finished_total{kind="generate_tests",status="succeeded"} 1.0' in metrics
    assert 'handoff_tasks_finished_total{kind="sleep",status="cancelled"} 1.0' in metrics

    # usage and lookup errors have their own exit codes
    assert stack.handoff("result", "no-such-task").returncode == 5
    assert stack.handoff("wait", "--run-id", "no-such-run").returncode == 5
    assert stack.handoff("submit", "--repo", str(repo)).returncode == 2

    # Ctrl-C stops the whole stack cleanly
    stack.proc.send_signal(signal.SIGINT)
    assert stack.proc.wait(timeout=90) == 0


async def dead_letter_a_valid_submit(url: str) -> str:
    """What the generator writes when a submit exhausts its deliveries: the DeadLettered record and a
    dead-lettered finish. The submit itself is never delivered to a generator (it only exists in the record)."""
    task_id = "replayed-task"
    submit = TaskSubmitted(task_id=task_id, payload=Sleep(duration_s=0.1), submitted_at=utcnow())
    subject = names.task_subject(None, task_id, names.EventType.SUBMITTED)
    nc = await connect(NatsSettings(), name="test", url=url)
    js = nc.jetstream()
    dead = DeadLettered(
        original=encode(submit), original_subject=subject, reason=DeadLetterReason.MAX_DELIVERIES,
        detail="delivered 10 times without an acknowledgement", origin="generator", dead_lettered_at=utcnow(),
        task_id=task_id, deliveries=10,
    )  # fmt: skip
    await js.publish(names.dlq_subject("generator"), encode(dead))
    from handoff.schemas.events import ErrorCode, TaskError, TaskFinished, TaskStatus

    finished = TaskFinished(
        task_id=task_id, status=TaskStatus.DEAD_LETTERED, finished_at=utcnow(),
        error=TaskError(code=ErrorCode.DEAD_LETTERED, message="moved to the dead-letter stream"),
    )  # fmt: skip
    await js.publish(
        names.task_subject(None, task_id, names.EventType.FINISHED),
        encode(finished),
        headers={names.Header.MSG_ID: names.finished_msg_id(task_id)},
    )
    await nc.close()
    return task_id


def test_workflow_run_on_the_sample_runs_end_to_end_and_prints_a_stage_timeline(stack: Stack, tmp_path: Path) -> None:
    """The sample's spec-to-production workflow: tests, fan-out, refactoring, join with patches, deploy."""
    repo = sample_repo(tmp_path)
    env_path = f"{Path(sys.executable).parent}{os.pathsep}{stack.env.get('PATH', '')}"  # stages call `python`
    stack.env["PATH"] = env_path
    done = stack.handoff("workflow", "run", "--repo", str(repo), timeout_s=240)
    assert done.returncode == 0, done.stdout + done.stderr
    timeline = done.stdout[done.stdout.index("workflow run ") :]
    for stage in ("testing", "test-generation", "refactoring", "join", "deploy"):
        assert f"  {stage} " in timeline
    assert "inventory/stock.py" in timeline and "inventory/pricing.py" in timeline
    assert timeline.count("patch applied") == 2
    assert (repo / "tests" / "test_stock.py").is_file() and (repo / "tests" / "test_pricing.py").is_file()
    assert stack.handoff("workflow", "run", "--repo", str(tmp_path)).returncode == 2  # no workflow file there
