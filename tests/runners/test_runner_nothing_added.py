"""A task that adds nothing reports the project's own coverage as its final figures, shows no coverage "by the kept
tests alone", and says so where a target has no branches or nothing to measure at all."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from nats.js import JetStreamContext

from handoff.artifacts.snapshots import upload_snapshot
from handoff.cli.quality import short
from handoff.cli.result_cmd import summarize
from handoff.runners.openhands import OpenHandsTestRunner
from handoff.schemas.events import TaskFinished, TaskStatus, TestGenerationResult
from handoff.schemas.topology import Topology
from handoff.scripted_model import ScriptedModelServer
from handoff.scripted_model.scripts import Script, finish
from tests.runners.conftest import ProgressLog, llm_settings, make_ctx, runner_settings

# soupsieve's pretty.py in small: its one function is excluded from coverage, what is left has no branch
PRETTY = """import re

PATTERN = re.compile(r"[a-z]+")


def pretty(obj):  # pragma: no cover
    if obj:
        return repr(obj)
    return ""
"""
OWN_TEST = "from notes.pretty import PATTERN\n\n\ndef test_pattern_matches_words():\n    assert PATTERN.match('ab')\n"


def _project(root: Path, module: str) -> Path:
    (root / "notes").mkdir(parents=True)
    (root / "notes" / "__init__.py").write_text("")
    (root / "notes" / "pretty.py").write_text(module)
    (root / "tests").mkdir()
    (root / "tests" / "test_notes.py").write_text(OWN_TEST)
    return root


async def _nothing_written(
    js: JetStreamContext, root: Path, target: str, tmp_path: Path, server: ScriptedModelServer, **payload: object
) -> TestGenerationResult:
    source = await upload_snapshot(js, root)
    server.policy = Script([finish("nothing to add")])
    runner = OpenHandsTestRunner(runner_settings(tmp_path, llm_settings(server.base_url)))
    return await runner.run(make_ctx(js, source, ProgressLog(), targets=[target], **payload))


def _shown(result: TestGenerationResult) -> str:
    finished = TaskFinished(task_id="t1", status=TaskStatus.SUCCEEDED, finished_at=datetime.now(UTC), result=result)
    return "\n".join(summarize(finished))


async def test_a_task_adding_nothing_reports_the_baseline_as_its_final_coverage_and_no_kept_tests_figure(
    js: JetStreamContext, topology: Topology, tmp_path: Path, model_server: ScriptedModelServer
) -> None:
    """No test written, the project's test meets the goal: after equals before (it read 100 -> 0 %), no line
    about coverage by kept tests that do not exist, and a target without branches says so (not "branch 0 -> 0")."""
    root = _project(tmp_path / "project", PRETTY)
    result = await _nothing_written(js, root, "notes/pretty.py", tmp_path, model_server)
    assert result.goal_met and not result.tests_kept and not result.files_produced
    [q] = result.quality
    assert (q.final_line_pct, q.final_branch_pct) == (q.baseline_line_pct, q.baseline_branch_pct) == (100.0, 0.0)
    assert (q.statements, q.branches) == (2, 0)
    shown = _shown(result)
    assert "by the kept tests alone" not in shown
    assert "quality notes/pretty.py: line 100 -> 100 %, no branches" in shown
    assert "notes/pretty.py: line 100 -> 100 %, no branches" in result.summary
    assert short(result).startswith("notes/pretty.py line 100 % (no branches) (goal met by the existing tests")


async def test_a_target_with_every_line_excluded_says_there_is_nothing_to_measure(
    js: JetStreamContext, topology: Topology, tmp_path: Path, model_server: ScriptedModelServer
) -> None:
    """A module whose every statement is excluded is imported by the project's test but has nothing to measure:
    the task adds nothing and says so instead of a percentage (it read "not imported by any test (0 %)")."""
    excluded = "# pragma: no cover\n" + "".join(
        f"{line}  # pragma: no cover\n" if line.strip() else "\n" for line in PRETTY.splitlines()
    )
    root = _project(tmp_path / "project", excluded)
    (root / "tests" / "test_notes.py").write_text("import notes.pretty\n\n\ndef test_imports():\n    assert notes\n")
    result = await _nothing_written(js, root, "notes/pretty.py", tmp_path, model_server)
    assert result.goal_met and not result.tests_kept
    [q] = result.quality
    assert q.statements == 0
    shown = _shown(result)
    assert "quality notes/pretty.py: no statements to measure" in shown
    assert "notes/pretty.py nothing to measure" in result.summary


async def test_a_mutation_goal_with_mutation_testing_off_is_not_measured_and_the_task_not_goal_met(
    js: JetStreamContext, topology: Topology, tmp_path: Path, model_server: ScriptedModelServer
) -> None:
    """HANDOFF_MUTATION_BUDGET_S=0 and a 50 % mutation goal: nothing is scored, so the goal is reported not
    measured with that reason and the task is not goal met (it read goal met), though the coverage goal is."""
    root = _project(tmp_path / "project", PRETTY)
    result = await _nothing_written(js, root, "notes/pretty.py", tmp_path, model_server, mutation_goal_pct=50.0)
    assert not result.goal_met and result.coverage_goal_met and result.mutation_goal_met is None
    assert result.mutation_not_measured == "mutation testing is off (HANDOFF_MUTATION_BUDGET_S=0)"
    assert "goal not measured (80 % line+branch, with the project's tests: met; mutation score 50 %: not measured: " \
           "mutation testing is off (HANDOFF_MUTATION_BUDGET_S=0))" in _shown(result)  # fmt: skip
