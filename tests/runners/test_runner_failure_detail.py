"""A task whose kept tests then fail validation (prettytable 3.19.0: the project's own version test, in the file the
generator extends, failed): its failure's detail says how each generated test was judged and what the existing tests
reach, as a failure for "no test was kept" does, and the round's patch it names is what ``handoff result --patch``
prints."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from nats.js import JetStreamContext

from handoff.artifacts.snapshots import upload_snapshot
from handoff.broker.embedded import EmbeddedNats
from handoff.common.clock import utcnow
from handoff.generator.errors import task_error
from handoff.runners.base import PermanentFailure
from handoff.runners.openhands import OpenHandsTestRunner
from handoff.schemas import names
from handoff.schemas.codec import encode
from handoff.schemas.events import ErrorCode, TaskFinished, TaskStatus
from handoff.schemas.topology import Topology
from handoff.scripted_model import ScriptedModelServer
from handoff.scripted_model.scripts import Script, finish, replace_in_file
from tests.runners.conftest import ProgressLog, in_workspace, llm_settings, make_ctx, runner_settings

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

GRADING = Path(__file__).parents[1] / "assurance" / "projects" / "grading"
EXISTING = "tests/test_existing.py"
OWN_LAST_LINE = '    assert grade(90) == "pass"\n'
# the project's own test that fails in its environment, as prettytable's test_version did on '0+unknown'
FAILS_IN_THE_PROJECT = '\n\ndef test_the_version_has_three_parts():\n    assert "0+unknown".count(".") >= 2\n'
APPENDED = (
    "def test_boundary_decides_pass_or_fail():\n    assert grade(50) == 'pass'\n    assert grade(49) == 'fail'\n\n\n"
    "def test_wrong_expectation():\n    assert grade(10) == 'pass'\n\n\n"
    "def test_another_passing_score():\n    assert grade(90) == 'pass'\n"
)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    dest = tmp_path / "grading"
    shutil.copytree(GRADING, dest)
    own = dest / EXISTING
    own.write_text(own.read_text() + FAILS_IN_THE_PROJECT)
    return dest


async def test_a_round_lost_to_a_failing_project_test_names_its_verdicts_the_existing_reach_and_its_patch(
    js: JetStreamContext,
    topology: Topology,
    nats_server: EmbeddedNats,
    project: Path,
    tmp_path: Path,
    model_server: ScriptedModelServer,
) -> None:
    """One test kept, one failed, one useless; the run of the kept file fails on the project's own test. The detail
    lists each verdict with its reason, what the existing tests reach and what the kept test would have added, and
    the command that prints the round's patch, and last that the project's own test failed in the baseline run too;
    that command prints the patch, says on stderr it was not validated, and exits 1 as for any failed task."""
    append = in_workspace(EXISTING, lambda p: replace_in_file(p, OWN_LAST_LINE, OWN_LAST_LINE + "\n\n" + APPENDED))
    model_server.policy = Script([append, finish("tests written")])
    source = await upload_snapshot(js, project)
    settings = runner_settings(tmp_path, llm_settings(model_server.base_url), feedback_rounds=0)
    with pytest.raises(PermanentFailure) as failed:
        await OpenHandsTestRunner(settings).run(make_ctx(js, source, ProgressLog(), targets=["grading.py"]))

    failure = failed.value
    assert failure.code == ErrorCode.VALIDATION_FAILED and "1 of 3 tests failed" in str(failure), failure
    detail = failure.detail
    verdicts = detail.split("The round's tests, judged one by one before this run: ", 1)[1]
    assert verdicts.startswith("kept 1, failed 1, flaky 0, useless 1:\n"), detail
    assert f"\n- {EXISTING}::test_boundary_decides_pass_or_fail: kept: adds " in verdicts
    assert f"\n- {EXISTING}::test_wrong_expectation: failed: " in verdicts and "assert 'fail' == 'pass'" in verdicts
    assert f"\n- {EXISTING}::test_another_passing_score: useless: " in verdicts
    assert ("The project's existing tests reach: grading.py: line 75 %, branch 50 % (line+branch 66.67 %, goal 80 %)"
            "; lines not covered: 4; branches not taken: line 2->4") in detail  # fmt: skip
    assert ("The project's tests with this round's kept ones reach: grading.py: line 100 %, branch 100 % "
            "(line+branch 100 %, goal 80 % met)") in detail  # fmt: skip
    assert "patch of the last round (not validated): handoff_artifacts/task-1/1/patch.diff\n" in detail
    assert "print it: handoff result task-1 --patch" in detail
    shown = detail.splitlines()[-15:]  # what `handoff result` shows of a detail
    assert any(line.startswith("The round's tests, judged one by one") for line in shown), shown
    notes = [line for line in detail.splitlines() if line.strip()][-2:]  # notes follow the patch's line
    assert notes == ["the agent's last message: tests written",
                     f"Baseline: 1 of the project's 2 tests failed in the baseline run: {EXISTING}::"
                     "test_the_version_has_three_parts (AssertionError: assert 0 >= 2) (it counts what they ran up to "
                     "the failure)."], notes  # fmt: skip

    # the failure as the generator publishes it, then the command the detail names
    error = task_error(failure.code, str(failure), detail=failure.detail)
    finished = TaskFinished(task_id="task-1", status=TaskStatus.FAILED, finished_at=utcnow(), error=error)
    await js.publish(names.task_subject(None, "task-1", names.EventType.FINISHED), encode(finished))
    stored = (await (await js.object_store(names.ARTIFACTS_BUCKET)).get("task-1/1/patch.diff")).data
    done = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "handoff.cli.main", "result", "task-1", "--patch"],
        env={**os.environ, "HANDOFF_NATS_URL": nats_server.url}, capture_output=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert done.stdout == stored and b"+def test_boundary_decides_pass_or_fail" in done.stdout
    assert b"task task-1 failed (validation_failed)" in done.stderr
    assert b"did NOT pass validation" in done.stderr
