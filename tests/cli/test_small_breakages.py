"""Small CLI breakages a user meets: no traceback for a missing --apply folder or a closed pipe, a failed task's
last-round patch can be printed (never applied), "no patch" is not "unknown id" (exit 5), and submit writes no log
lines."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from nats.js import JetStreamContext

from handoff.artifacts.store import put_artifact
from handoff.broker.embedded import EmbeddedNats
from handoff.common.clock import utcnow
from handoff.demo.run import SAMPLE
from handoff.schemas import names
from handoff.schemas.codec import encode
from handoff.schemas.events import ErrorCode, Sleep, TaskError, TaskFinished, TaskStatus, TaskSubmitted
from handoff.schemas.topology import Topology
from tests.support.net import free_port


def handoff(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "handoff.cli.main", *args],
        env={**os.environ, "HANDOFF_NATS_URL": url}, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_result_apply_to_a_missing_folder_is_a_usage_error_not_a_traceback() -> None:
    """--apply /nonexistent: exit 2 naming the folder, before connecting anywhere."""
    done = handoff("nats://127.0.0.1:9", "result", "t1", "--apply", "/nonexistent/tree")
    assert done.returncode == 2, done.stderr
    assert "/nonexistent/tree" in done.stderr and "Traceback" not in done.stderr


def into_a_closed_pipe(url: str, *args: str) -> tuple[int, str]:
    """Run a command whose stdout reader has gone before it writes; its exit code and stderr."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "handoff.cli.main", *args],
        env={**os.environ, "HANDOFF_NATS_URL": url}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    stderr = proc.stderr.read().decode()
    proc.stderr.close()
    return proc.wait(timeout=60), stderr


async def test_output_into_a_closed_pipe_ends_quietly(nats_server: EmbeddedNats, topology: Topology) -> None:
    """'handoff status --json | head -0': the reader is gone before anything is written; no traceback."""
    code, stderr = into_a_closed_pipe(nats_server.url, "status", "--json")
    assert code == 141, stderr
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr


async def publish_finish(js: JetStreamContext, finished: TaskFinished) -> None:
    submit = TaskSubmitted(task_id=finished.task_id, payload=Sleep(duration_s=0), submitted_at=utcnow())
    await js.publish(names.task_subject(None, finished.task_id, names.EventType.SUBMITTED), encode(submit))
    await js.publish(names.task_subject(None, finished.task_id, names.EventType.FINISHED), encode(finished))


async def test_a_failed_tasks_last_round_patch_is_advertised_and_printed_as_not_validated(
    nats_server: EmbeddedNats, js: JetStreamContext, topology: Topology
) -> None:
    """The summary names the command; 'result --patch' prints the patch the failed task's error detail names (in the
    words of results finished before '(not validated)' was added), says on stderr that it did not pass validation,
    and exits 1: a script never takes it for a validated patch."""
    ref = await put_artifact(js, "t-failed/1/patch.diff", b"diff --git a/x b/x\n", content_type="text/x-diff")
    detail = f"2 tests failed\n\npatch of the last round: {ref.bucket}/{ref.name}"
    error = TaskError(code=ErrorCode.VALIDATION_FAILED, message="validation failed after 2 round(s)", detail=detail)
    await publish_finish(
        js, TaskFinished(task_id="t-failed", status=TaskStatus.FAILED, finished_at=utcnow(), error=error)
    )
    summary = handoff(nats_server.url, "result", "t-failed")
    assert summary.returncode == 1
    assert "the last round's patch (not validated): handoff result t-failed --patch" in summary.stdout
    patch = handoff(nats_server.url, "result", "t-failed", "--patch")
    assert patch.returncode == 1, patch.stderr
    assert patch.stdout == "diff --git a/x b/x\n"
    note = (
        "task t-failed failed (validation_failed): this is the patch of its last round, which did NOT pass validation"
    )
    assert note in patch.stderr, patch.stderr


async def test_a_failed_tasks_last_round_patch_is_not_applied(
    nats_server: EmbeddedNats, js: JetStreamContext, topology: Topology, tmp_path: Path
) -> None:
    """'result --apply DIR' of a failed task leaves the tree as it was (exit 1) and names the command that prints
    the unvalidated patch, also when that patch's line is followed by the detail's notes."""
    ref = await put_artifact(js, "t-lost/1/patch.diff", b"diff --git a/x b/x\n", content_type="text/x-diff")
    detail = (f"1 of 3 tests failed\n\npatch of the last round (not validated): {ref.bucket}/{ref.name}\n"
              "print it: handoff result t-lost --patch\n\nthe agent's last message: tests written")  # fmt: skip
    error = TaskError(code=ErrorCode.VALIDATION_FAILED, message="validation failed after 1 round(s)", detail=detail)
    await publish_finish(
        js, TaskFinished(task_id="t-lost", status=TaskStatus.FAILED, finished_at=utcnow(), error=error)
    )
    tree = tmp_path / "tree"
    tree.mkdir()
    done = handoff(nats_server.url, "result", "t-lost", "--apply", str(tree))
    assert done.returncode == 1, done.stderr
    assert "did not pass validation and is not applied; 'handoff result t-lost --patch' prints it" in done.stderr
    assert list(tree.iterdir()) == []


async def test_a_known_task_without_a_patch_is_not_reported_as_an_unknown_id(
    nats_server: EmbeddedNats, js: JetStreamContext, topology: Topology
) -> None:
    """'result --patch' of a finished task with no patch exits 1 with a sentence; exit 5 stays 'unknown id'."""
    await publish_finish(js, TaskFinished(task_id="t-nopatch", status=TaskStatus.SUCCEEDED, finished_at=utcnow()))
    done = handoff(nats_server.url, "result", "t-nopatch", "--patch")
    assert done.returncode == 1 and "produced no patch" in done.stderr
    assert handoff(nats_server.url, "result", "t-unknown", "--patch").returncode == 5


async def test_submit_writes_sentences_not_log_lines(
    nats_server: EmbeddedNats, topology: Topology, tmp_path: Path
) -> None:
    """A submit of a real repo prints its summary; stderr carries no structured log line."""
    repo = tmp_path / "repo"
    shutil.copytree(SAMPLE, repo, ignore=shutil.ignore_patterns("__pycache__"))
    done = handoff(nats_server.url, "submit", "--repo", str(repo), "inventory/stock.py")
    assert done.returncode == 0, done.stderr
    assert "submitted 1 task(s)" in done.stdout
    assert done.stderr == ""


def test_a_command_that_cannot_reach_nats_says_one_sentence_not_a_log_line_per_attempt(tmp_path: Path) -> None:
    """Nothing listens at the address: stderr holds the one 'cannot reach NATS' sentence (exit 4), not a structured
    warning for each connect attempt before it."""
    url = f"nats://127.0.0.1:{free_port()}"
    done = subprocess.run(
        [sys.executable, "-m", "handoff.cli.main", "status"],
        env={**os.environ, "HANDOFF_NATS_URL": url, "HANDOFF_NATS_CONNECT_ATTEMPTS": "3",
             "HANDOFF_DATA_DIR": str(tmp_path / "data")},
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 4, done.stderr
    assert done.stderr.splitlines() == [line for line in done.stderr.splitlines() if line.startswith("handoff: ")]
    assert f"cannot reach NATS at {url}" in done.stderr
