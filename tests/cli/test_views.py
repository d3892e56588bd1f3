"""What the CLI shows agrees with the truth: queued work is never 'nothing waiting', a stale replica is marked,
a task already running when ``wait`` starts shows as running, 62.5 % is not rounded down to 62 %, and ``watch``
on a finished or unknown run says so instead of waiting silently forever."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta

import pytest
from nats.js import JetStreamContext

from handoff.broker.embedded import EmbeddedNats
from handoff.cli.progress import ProgressBoard, TaskLine
from handoff.cli.result_cmd import summarize
from handoff.cli.status_cmd import human
from handoff.client.progress_history import EarlierProgress
from handoff.common.clock import utcnow
from handoff.schemas import names
from handoff.schemas.codec import encode
from handoff.schemas.events import (
    ErrorCode,
    RunFinished,
    RunTask,
    TargetCoverage,
    TaskError,
    TaskFinished,
    TaskProgress,
    TaskStatus,
    TestGenerationResult,
)
from handoff.schemas.records import ProgressNote, TaskRecord, TaskState
from handoff.schemas.topology import Topology


def overview(**fields: object) -> dict[str, object]:
    view: dict[str, object] = {
        "queued": 0, "in_flight": 0, "in_flight_cap": 16, "redelivered_now": 0, "waiting_pulls": 0,
        "collector_lag": 0, "dead_letters": 0, "oldest_waiting": None, "replicas": [],
    }  # fmt: skip
    view.update(fields)
    return view


def test_status_never_says_nothing_waiting_while_tasks_are_queued() -> None:
    """Queued tasks whose oldest could not be read, or tasks waiting for a retry, are counted, not denied."""
    assert "nothing waiting" not in human(overview(queued=3))
    assert "3 waiting" in human(overview(queued=3))
    assert "2 waiting for a retry" in human(overview(redelivered_now=2))
    assert "nothing waiting" in human(overview())


def test_status_marks_a_replica_whose_last_report_is_old_instead_of_showing_its_slots() -> None:
    """A replica not heard from for a while is shown as possibly gone, not with its last slot counts."""
    replica = {
        "replica_id": "gen-1", "slots": 2, "slots_in_use": 2, "started": 5, "finished": 3, "ready": True,
        "reported_s_ago": 40.0, "stale": True,
    }  # fmt: skip
    text = human(overview(replicas=[replica]))
    assert "gone or unreachable" in text and "slots 2/2" not in text


def test_a_wait_started_mid_run_shows_a_running_task_as_running() -> None:
    """The board seeded from a running task's record shows it running on its replica, not queued."""
    board = ProgressBoard.of(["t1", "t2"], quiet=True)
    board.seed(TaskRecord(task_id="t1", state=TaskState.RUNNING, attempt=1, replica_id="gen-2"))
    assert board.tasks["t1"].state == "running" and "gen-2" in board.tasks["t1"].note
    assert board.counts() == {"running": 1, "queued": 1}


def test_a_coverage_of_62_5_percent_is_shown_as_62_5() -> None:
    """Fractional coverage keeps its decimal; whole numbers stay whole."""
    result = TestGenerationResult(
        coverage=[TargetCoverage(target="m.py", percent=62.5)],
        coverage_goal_pct=80.0,
        tests_kept=["tests/test_m.py::test_f"],
    )
    finished = TaskFinished(task_id="t", status=TaskStatus.SUCCEEDED, finished_at=utcnow(), result=result)
    assert "coverage m.py by the kept tests alone: line 62.5 %" in "\n".join(summarize(finished))


def handoff(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "handoff.cli.main", *args],
        env={**os.environ, "HANDOFF_NATS_URL": url}, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


async def test_watch_from_now_on_a_finished_run_says_so_and_on_an_unknown_run_exits_5(
    nats_server: EmbeddedNats, js: JetStreamContext, topology: Topology
) -> None:
    """A finished run: a sentence pointing at --from start, exit 0. An unknown run: exit 5."""
    done = RunFinished(
        run_id="r-done",
        tasks=[RunTask(task_id="t1", status=TaskStatus.SUCCEEDED)],
        finished_at=utcnow() - timedelta(minutes=5),
    )
    await js.publish(names.run_finished_subject("r-done"), encode(done))
    finished = handoff(nats_server.url, "watch", "--run-id", "r-done")
    assert finished.returncode == 0, finished.stderr
    assert "has finished" in finished.stderr and "--from start" in finished.stderr
    unknown = handoff(nats_server.url, "watch", "--run-id", "r-never")
    assert unknown.returncode == 5, unknown.stderr
    assert "unknown run" in unknown.stderr


def test_a_wait_off_a_terminal_prints_each_milestone_of_a_running_task_but_not_each_agent_step(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A CI log got no line in the 2-4 minutes of an offline-engine task (seeded running, then only progress):
    now the seeded task and its environment, round and validation milestones are printed; agent steps are not."""
    board = ProgressBoard(tasks={"t1": TaskLine("t1")}, tty=False)
    board.seed(TaskRecord(task_id="t1", state=TaskState.RUNNING, attempt=1, replica_id="gen-1"))

    def progress(seq: int, stage: str, message: str) -> TaskProgress:
        return TaskProgress(task_id="t1", attempt=1, seq=seq, stage=stage, at=utcnow(), message=message)

    board.apply(progress(1, "environment", "cache hit, 0.0 s"))
    board.apply(progress(2, "agent_action", "terminal: python -m crosshair cover"))
    board.apply(progress(3, "validation", "round 1: 3/3 tests passed"))
    lines = capsys.readouterr().err.splitlines()
    assert lines == [
        "t1  running  gen-1 attempt 1",
        "t1  running  environment: cache hit, 0.0 s",
        "t1  running  validation: round 1: 3/3 tests passed",
    ]
    assert board.counts() == {"running": 1}


def test_a_wait_off_a_terminal_prints_a_long_milestone_and_failure_whole(capsys: pytest.CaptureFixture[str]) -> None:
    """A CI log cut the baseline milestone at the useful part ('... could not be colle'): a log line need not fit
    a terminal, so milestones and failures are printed whole (up to LOG_NOTE_CHARS)."""
    board = ProgressBoard(tasks={"t1": TaskLine("t1")}, tty=False)
    message = "baseline: the project's existing tests could not be collected or run: " + "x" * 200 + " (the end)"
    board.apply(TaskProgress(task_id="t1", attempt=1, seq=1, stage="assurance", at=utcnow(), message=message))
    error = TaskError(code=ErrorCode.VALIDATION_FAILED, message="no test was kept: " + "y" * 200 + " (the end)")
    board.finish(TaskFinished(task_id="t1", attempt=1, status=TaskStatus.FAILED, replica_id="g", error=error,
                              finished_at=utcnow()))  # fmt: skip
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].endswith("(the end)") and lines[1].endswith("(the end)")


def test_a_wait_off_a_terminal_seeded_from_a_tasks_last_progress_prints_it_whole(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A wait started after the task: off a terminal the seeded line is a log line like the milestones after it,
    not cut at a terminal's 70 characters in the middle of a word."""
    message = "[offline engine: crosshair+pynguin] cache hit, 0.0 s (Python 3.12.1, pytest 8.4.2, coverage 7.17.5)"
    note = ProgressNote(attempt=1, seq=4, stage="environment", at=utcnow(), message=message)
    board = ProgressBoard(tasks={"t1": TaskLine("t1")}, tty=False)
    board.seed(TaskRecord(task_id="t1", state=TaskState.RUNNING, attempt=1, replica_id="gen-1", last_progress=note))
    assert capsys.readouterr().err.splitlines() == [f"t1  running  environment: {message}"]


def test_a_wait_off_a_terminal_seeded_from_an_agent_step_prints_a_glimpse_of_it_not_the_whole_command(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A wait started while the engine's terminal command runs: its 600 characters of base64 are an agent step, not
    a milestone, so the seeded line shows its start and an ellipsis."""
    command = 'terminal: d="$(mktemp -d)"; echo ' + "eNq1PGuT28aR3" * 50
    note = ProgressNote(attempt=1, seq=9, stage="agent_action", at=utcnow(), message=command)
    board = ProgressBoard(tasks={"t1": TaskLine("t1")}, tty=False)
    board.seed(TaskRecord(task_id="t1", state=TaskState.RUNNING, attempt=1, replica_id="gen-1", last_progress=note))
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith('t1  running  agent_action: terminal: d="$(mktemp -d)"; echo eNq1') and line.endswith("…")
    assert len(line) == len("t1  running  ") + 70, line


def test_a_late_wait_prints_at_most_the_last_ten_earlier_milestones_and_says_what_it_left_out_or_did_not_read(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Twelve earlier milestones (and agent steps between them), the read cut 3 events before the record's last
    progress: the first two milestones are counted, not printed; the unread ones are counted; then the running line."""
    at = utcnow().replace(microsecond=0)
    events = [
        TaskProgress(task_id="t1", attempt=1, seq=seq, at=at, stage="round" if seq % 2 == 0 else "agent_action",
                     message=f"step {seq}")
        for seq in range(24)
    ]  # fmt: skip
    note = ProgressNote(attempt=1, seq=27, stage="validation", at=at, message="round 12: kept 1")
    board = ProgressBoard(tasks={"t1": TaskLine("t1")}, tty=False)
    record = TaskRecord(task_id="t1", state=TaskState.RUNNING, attempt=1, replica_id="gen-1", last_progress=note)
    board.seed(record, EarlierProgress(events, later_unread=3))
    stamp = at.strftime("%H:%M:%S")
    assert capsys.readouterr().err.splitlines() == [
        "t1  earlier  … 2 earlier milestone(s) not shown",
        *(f"t1  earlier  {stamp}  round: step {seq}" for seq in range(4, 24, 2)),
        "t1  earlier  … 3 later progress event(s) not read",
        "t1  running  validation: round 12: kept 1",
    ]
    board.apply(TaskProgress(task_id="t1", attempt=1, seq=27, at=at, stage="validation", message="round 12: kept 1"))
    board.apply(TaskProgress(task_id="t1", attempt=1, seq=28, at=at, stage="result", message="patch ready"))
    assert capsys.readouterr().err.splitlines() == ["t1  running  result: patch ready"]
