"""Assured tests through the real runner: the scripted model writes known cases; only what the filters keep is
handed over, coverage is a line+branch delta over the project's own tests, and the kept suite is scored
against cosmic-ray's mutants."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from nats.js import JetStreamContext

from handoff.artifacts.snapshots import materialize_snapshot, upload_snapshot
from handoff.artifacts.store import get_artifact
from handoff.assurance import generated_source
from handoff.assurance.settings import AssuranceSettings
from handoff.cli import wait_cmd
from handoff.cli.exit_codes import Exit
from handoff.cli.quality import short
from handoff.cli.result_cmd import NOTHING_ADDED, summarize
from handoff.runners.base import PermanentFailure
from handoff.runners.openhands import OpenHandsTestRunner
from handoff.runners.openhands.settings import RunnerSettings
from handoff.schemas.events import ErrorCode, RoundCounts, TargetQuality, TaskFinished, TaskStatus, Verdict
from handoff.schemas.topology import Topology
from handoff.scripted_model import ScriptedModelServer
from handoff.scripted_model.scripts import Script, create_file, finish, replace_in_file
from tests.runners.conftest import ProgressLog, in_workspace, llm_settings, make_ctx, runner_settings

GRADING = Path(__file__).parents[1] / "assurance" / "projects"
TARGET = "grading.py"
GEN = "tests/test_generated.py"
MORE = "tests/test_generated_more.py"
GOOD = f"{GEN}::test_boundary_decides_pass_or_fail"
# the five known cases of tests/assurance, with the flaky one counting its runs in the task's HOME
CASES = (
    (GRADING / "generated_grading_tests.py")
    .read_text()
    .replace('Path(os.environ["FLAKY_COUNTER"])', 'Path(os.environ["HOME"]) / "flaky-runs"')
)
KILLS_THE_SURVIVOR = (
    "from grading import grade\n\n\ndef test_just_above_the_boundary():\n    assert grade(51) == 'pass'\n"
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]  # real pytest, coverage and cosmic-ray runs, sandboxed


@pytest.fixture
def grading_project(tmp_path: Path) -> Path:
    dest = tmp_path / "grading"
    shutil.copytree(GRADING / "grading", dest)
    return dest


BOUNDARY_LAST_LINE = "    assert grade(50) == 'pass'\n"


def _existing_test_misses_the_mutant(project: Path) -> None:
    """The project's own test checks the boundary score: it covers what its grade(90) covers but does not kill
    `>=` -> `==` (grade(90) does, and a mutant the project's tests kill is no reason to re-admit a test)."""
    (project / "tests" / "test_existing.py").write_text(
        "from grading import grade\n\n\ndef test_the_boundary_score_passes():\n" + BOUNDARY_LAST_LINE
    )


def _applied(tree: Path, patch: Path) -> None:
    subprocess.run(["git", "apply", str(patch)], cwd=tree, check=True, capture_output=True)


def _scoring(
    tmp_path: Path, server: ScriptedModelServer, *, rescue_budget_s: float, **overrides: object
) -> RunnerSettings:
    """Runner settings that score the kept tests (one reliability run, 120 s of mutation testing) and rescue
    dropped tests within ``rescue_budget_s``."""
    assurance = AssuranceSettings(reliability_runs=1, mutation_budget_s=120, mutation_rescue_budget_s=rescue_budget_s)
    return runner_settings(tmp_path, llm_settings(server.base_url), assurance=assurance, **overrides)


async def test_only_the_good_test_is_handed_over_with_coverage_delta_and_mutation_score(
    js: JetStreamContext, topology: Topology, grading_project: Path, tmp_path: Path, model_server: ScriptedModelServer
) -> None:
    """Failing, flaky, coverage-free and assertion-free tests are dropped with their reasons; the patch holds the
    boundary test alone; grading.py goes from 75/50 % to 100/100 % and the kept test kills 7 of 8 mutants."""
    model_server.policy = Script([in_workspace(GEN, lambda p: create_file(p, CASES)), finish("tests written")])
    source = await upload_snapshot(js, grading_project)
    progress = ProgressLog()
    settings = runner_settings(tmp_path, llm_settings(model_server.base_url),
                               assurance=AssuranceSettings(reliability_runs=3, mutation_budget_s=120,
                                                                     mutation_rescue_budget_s=0))  # fmt: skip
    result = await OpenHandsTestRunner(settings).run(make_ctx(js, source, progress, targets=[TARGET]))

    assert result.tests_kept == [GOOD]
    dropped = {d.test.rsplit("::", 1)[1]: (d.verdict, d.reason) for d in result.tests_dropped}
    assert dropped["test_wrong_expectation"][0] == Verdict.FAILED
    assert "assert 'fail' == 'pass'" in dropped["test_wrong_expectation"][1]
    assert dropped["test_passes_every_other_run"] == (
        Verdict.FLAKY, "flaky: passed 2 of 4 runs (re-runs in random order, seed 1)"
    )  # fmt: skip
    assert dropped["test_another_passing_score"] == (
        Verdict.USELESS, "adds no line or branch coverage over the existing tests and the tests kept before it"
    )  # fmt: skip
    assert dropped["test_calls_without_checking"][0] == Verdict.USELESS
    assert dropped["test_calls_without_checking"][1].startswith("checks nothing")
    assert result.round_counts == [RoundCounts(round=1, kept=1, failed=1, flaky=1, useless=2)]
    assert result.quality == [
        TargetQuality(target=TARGET, baseline_line_pct=75.0, baseline_branch_pct=50.0, final_line_pct=100.0,
                      final_branch_pct=100.0, mutants_killed=7, mutants_total=8, mutation_score_pct=87.5,
                      statements=4, branches=2)
    ]  # fmt: skip
    assert result.goal_met and result.rounds_used == 1
    assert (result.tests_collected, result.tests_passed) == (1, 1)
    assert "grading.py: line 75 -> 100 %, branch 50 -> 100 %, mutants killed 7/8 (87.5 %)" in result.summary
    assert "Tests kept: 1, dropped: 4." in result.summary
    assert "round 1: kept 1, failed 1, flaky 1, useless 2" in progress.text()

    assert result.patch is not None
    original = tmp_path / "original"
    await materialize_snapshot(js, source, original)
    patch = tmp_path / "result.patch"
    patch.write_bytes(await get_artifact(js, result.patch))
    await asyncio.to_thread(_applied, original, patch)
    kept = generated_source.find_tests((original / GEN).read_text())
    assert [f.qualname for f in kept] == ["test_boundary_decides_pass_or_fail"]
    assert (await get_artifact(js, result.files[0])).decode() == (original / GEN).read_text()


async def test_a_dropped_coverage_free_test_that_kills_a_surviving_mutant_is_handed_over_in_its_file(
    js: JetStreamContext, topology: Topology, grading_project: Path, tmp_path: Path, model_server: ScriptedModelServer
) -> None:
    """grade(70) adds no coverage but kills the `>=` -> `==` mutant the boundary test misses: it is re-admitted
    with that reason, the score becomes 8/8, and the patch's file holds both tests and none of the others."""
    _existing_test_misses_the_mutant(grading_project)
    model_server.policy = Script([in_workspace(GEN, lambda p: create_file(p, CASES)), finish("tests written")])
    source = await upload_snapshot(js, grading_project)
    progress = ProgressLog()
    settings = _scoring(tmp_path, model_server, rescue_budget_s=120)
    result = await OpenHandsTestRunner(settings).run(make_ctx(js, source, progress, targets=[TARGET]))

    rescued = f"{GEN}::test_another_passing_score"
    assert result.tests_kept == [GOOD, rescued] and result.tests_rescued == [rescued]
    assert rescued not in {d.test for d in result.tests_dropped}
    (quality,) = result.quality
    assert (quality.mutants_killed, quality.mutants_total, quality.mutation_score_pct) == (8, 8, 100.0)
    assert (result.tests_collected, result.tests_passed) == (2, 2)
    reason = "kills a mutant the other tests miss: grading.py:2 ReplaceComparisonOperator_GtE_Eq"
    assert f"{rescued} ({reason})" in result.summary
    assert f"re-admitted {rescued}: {reason}" in progress.text()

    assert result.patch is not None
    original = tmp_path / "original"
    await materialize_snapshot(js, source, original)
    patch = tmp_path / "result.patch"
    patch.write_bytes(await get_artifact(js, result.patch))
    await asyncio.to_thread(_applied, original, patch)
    kept = generated_source.find_tests((original / GEN).read_text())
    assert [f.qualname for f in kept] == ["test_boundary_decides_pass_or_fail", "test_another_passing_score"]
    assert (await get_artifact(js, result.files[0])).decode() == (original / GEN).read_text()


async def test_a_mutant_the_rescue_budget_left_unchecked_against_the_projects_tests_re_admits_nothing_and_is_said(
    js: JetStreamContext, topology: Topology, grading_project: Path, tmp_path: Path, model_server: ScriptedModelServer
) -> None:
    """The project's own grade(90) test kills the `>=` -> `==` mutant grade(70) kills, but takes 8 s: the 10 s rescue
    budget runs out before it runs against the mutant. grade(70) stays dropped, the score stays 7/8, and the summary
    says which mutant was not checked and why."""
    (grading_project / "tests" / "test_existing.py").write_text(
        "import time\n\nfrom grading import grade\n\n\ndef test_a_high_score_passes_after_a_while():\n"
        "    time.sleep(8)\n    assert grade(90) == 'pass'\n"
    )
    model_server.policy = Script([in_workspace(GEN, lambda p: create_file(p, CASES)), finish("tests written")])
    source = await upload_snapshot(js, grading_project)
    settings = _scoring(tmp_path, model_server, rescue_budget_s=10)
    progress = ProgressLog()
    result = await OpenHandsTestRunner(settings).run(make_ctx(js, source, progress, targets=[TARGET]))

    assert result.tests_kept == [GOOD] and result.tests_rescued == []
    (quality,) = result.quality
    assert (quality.mutants_killed, quality.mutants_total) == (7, 8)
    assert "kills a mutant the other tests miss" not in result.summary
    # grade(70) does kill the mutant: the progress does not then say no dropped test kills any
    said = [m for stage, m in progress.events if stage == "assurance" and "mutation rescue" in m]
    assert not any("no dropped test kills any" in m for m in said), said
    assert said[0].startswith("mutation rescue: trying the 1 test(s) dropped for adding no coverage against"), said
    assert (
        "mutation rescue: no test re-admitted: none kills a mutant both the kept tests and the project's own tests "
        "were run against and miss (1 mutant(s) run)" in said
    ), said
    assert (
        "Mutation rescue: the 10 s rescue budget ran out after 1 of 1 surviving mutants; 1 mutant(s) a dropped test "
        "kills were not run against the project's own tests: no test is re-admitted for them."
    ) in result.summary


async def test_a_mutation_goal_not_met_gets_one_round_on_the_surviving_mutants(
    js: JetStreamContext, topology: Topology, grading_project: Path, tmp_path: Path, model_server: ScriptedModelServer
) -> None:
    """Under a 100 % mutation goal the agent is shown the surviving `score == 50` mutant; its extra test kills it."""
    seen: list[str] = []

    def second_round(request):  # type: ignore[no-untyped-def]
        seen.append(request.last_user_text)
        return in_workspace(MORE, lambda p: create_file(p, KILLS_THE_SURVIVOR))(request)

    model_server.policy = Script([
        in_workspace(GEN, lambda p: create_file(p, CASES)), finish("tests written"), second_round, finish("done")
    ])  # fmt: skip
    source = await upload_snapshot(js, grading_project)
    settings = _scoring(tmp_path, model_server, rescue_budget_s=0, feedback_rounds=0)
    ctx = make_ctx(js, source, ProgressLog(), targets=[TARGET], mutation_goal_pct=100.0)
    result = await OpenHandsTestRunner(settings).run(ctx)

    assert "changes your tests did not notice" in seen[0]
    assert "grading.py:2 (ReplaceComparisonOperator_GtE_Eq): `if score >= 50:` -> `if score == 50:`" in seen[0]
    assert result.rounds_used == 2
    assert result.tests_kept == [GOOD, f"{MORE}::test_just_above_the_boundary"]
    (quality,) = result.quality
    assert (quality.mutants_killed, quality.mutants_total, quality.mutation_score_pct) == (8, 8, 100.0)
    assert result.goal_met and result.coverage_goal_met and result.mutation_goal_pct == 100.0


COVERS_THE_BOUNDARY = "from grading import grade\n\n\ndef test_the_boundary():\n    assert grade(49) == 'fail'\n"
ONLY_USELESS = "from grading import grade\n\n\ndef test_another_passing_score():\n    assert grade(70) == 'pass'\n"


async def test_when_the_existing_tests_already_meet_the_goal_the_task_succeeds_with_nothing_added(
    js: JetStreamContext, topology: Topology, grading_project: Path, tmp_path: Path, model_server: ScriptedModelServer
) -> None:
    """The project's own tests cover grading.py fully: the generated tests add nothing and are dropped, and the task
    succeeds with no patch, saying so, with baseline = final coverage (not 'validation failed: no test was kept')."""
    (grading_project / "tests" / "test_boundary.py").write_text(COVERS_THE_BOUNDARY)
    model_server.policy = Script([in_workspace(GEN, lambda p: create_file(p, ONLY_USELESS)), finish("tests written")])
    source = await upload_snapshot(js, grading_project)
    progress = ProgressLog()
    result = await OpenHandsTestRunner(runner_settings(tmp_path, llm_settings(model_server.base_url))).run(
        make_ctx(js, source, progress, targets=[TARGET])
    )

    assert result.goal_met and not result.files_produced
    assert result.patch is None and result.files == [] and result.test_files == []
    assert result.tests_kept == []
    assert [(d.test, d.verdict) for d in result.tests_dropped] == [(f"{GEN}::test_another_passing_score",
                                                                    Verdict.USELESS)]  # fmt: skip
    assert result.quality == [
        TargetQuality(target=TARGET, baseline_line_pct=100.0, baseline_branch_pct=100.0, final_line_pct=100.0,
                      final_branch_pct=100.0, statements=4, branches=2)
    ]  # fmt: skip
    assert (
        "The project's existing tests already meet the coverage goal (80 %), and none of the tests written was kept "
        "(see the dropped tests): no test was added." in result.summary
    )  # written and dropped: the goal alone is not why nothing was added
    assert (
        "validation: round 1: The project's existing tests already meet the coverage goal (80 %), and none of the "
        "tests written was kept (see the dropped tests): no test was added." in progress.text()
    )  # the round's progress line says it as the result does
    # the dropped test is not lost to the reader: the round as written is stored beside the (empty) hand-over
    assert result.written_patch is not None
    assert "+def test_another_passing_score():" in (await get_artifact(js, result.written_patch)).decode()
    assert [(c.target, c.percent) for c in result.coverage] == [(TARGET, 100.0)]
    assert result.rounds_used == 1


async def test_a_mutation_goal_of_a_task_that_adds_nothing_is_reported_not_measured_and_not_as_goal_met(
    js: JetStreamContext,
    topology: Topology,
    grading_project: Path,
    tmp_path: Path,
    model_server: ScriptedModelServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The project's own tests cover grading.py fully, the generated test adds nothing: no kept test is left to run
    against the mutants, so a 60 % mutation goal is not measured. The task succeeds with nothing added and the
    coverage goal met, but neither the result, `handoff result`, `handoff wait` nor its JSON call it goal met (it
    read "goal met" though no mutant was run); the reason is given, and the exit code stays 0 (the task succeeded)."""
    (grading_project / "tests" / "test_boundary.py").write_text(COVERS_THE_BOUNDARY)
    model_server.policy = Script([in_workspace(GEN, lambda p: create_file(p, ONLY_USELESS)), finish("tests written")])
    source = await upload_snapshot(js, grading_project)
    settings = _scoring(tmp_path, model_server, rescue_budget_s=0, feedback_rounds=0)
    ctx = make_ctx(js, source, ProgressLog(), targets=[TARGET], mutation_goal_pct=60.0)
    result = await OpenHandsTestRunner(settings).run(ctx)

    assert not result.goal_met
    assert result.coverage_goal_met and not result.files_produced and result.tests_kept == []
    why = "nothing was added: no kept test to run against the mutants"
    assert (result.mutation_goal_pct, result.mutation_goal_met, result.mutation_not_measured) == (60.0, None, why)
    assert f"Mutation goal 60 % not measured: {why}." in result.summary
    [quality] = result.quality
    assert quality.mutation_score_pct is None

    finished = TaskFinished(task_id="t1", status=TaskStatus.SUCCEEDED, finished_at=datetime.now(UTC), result=result)
    lines = summarize(finished)
    assert (f"  goal not measured (80 % line+branch, with the project's tests: met; mutation score 60 %: not measured: "
            f"{why}); tests kept 0, dropped 1") in lines  # fmt: skip
    assert f"  {NOTHING_ADDED}; no patch" in lines  # `handoff result --patch` exits 0 with this note
    assert short(result).endswith(
        "(coverage goal met by the existing tests, nothing added, MUTATION GOAL NOT MEASURED, kept 0, dropped 1)"
    )
    args = argparse.Namespace(json=False, run_id="r1", timeout_s=10.0)
    capsys.readouterr()  # the task's own log lines
    assert wait_cmd._report(args, ["t1"], {"t1": finished}, None) == Exit.OK
    assert capsys.readouterr().out.splitlines()[0] == "1 succeeded (1 with the mutation goal not measured)"
    args.json = True
    wait_cmd._report(args, ["t1"], {"t1": finished}, None)
    (task,) = json.loads(capsys.readouterr().out)["tasks"]
    assert (task["goal_met"], task["goal_verdict"], task["mutation_not_measured"]) == (False, "not measured", why)


EXISTING = "tests/test_existing.py"
OWN_LAST_LINE = '    assert grade(90) == "pass"\n'


def appended_to_the_existing_file(tests: str):  # type: ignore[no-untyped-def]
    """A step that adds ``tests`` after the project's own tests in tests/test_existing.py (as the offline engine
    does)."""
    return in_workspace(EXISTING, lambda p: replace_in_file(p, OWN_LAST_LINE, OWN_LAST_LINE + "\n\n" + tests))


async def test_the_projects_own_tests_in_a_file_the_generator_extends_count_as_existing_tests(
    js: JetStreamContext, topology: Topology, grading_project: Path, tmp_path: Path, model_server: ScriptedModelServer
) -> None:
    """Tests appended to the project's test file are judged alone: the project's own test there is part of the
    baseline (75/50 %), neither kept nor dropped, and the patch adds only the kept generated test."""
    boundary = (
        "def test_boundary_decides_pass_or_fail():\n    assert grade(50) == 'pass'\n    assert grade(49) == 'fail'\n"
    )
    model_server.policy = Script([appended_to_the_existing_file(boundary), finish("tests written")])
    source = await upload_snapshot(js, grading_project)
    result = await OpenHandsTestRunner(runner_settings(tmp_path, llm_settings(model_server.base_url))).run(
        make_ctx(js, source, ProgressLog(), targets=[TARGET])
    )

    assert result.tests_kept == [f"{EXISTING}::test_boundary_decides_pass_or_fail"]
    assert all("test_a_high_score_passes" not in d.test for d in result.tests_dropped)
    (quality,) = result.quality
    assert (quality.baseline_line_pct, quality.baseline_branch_pct) == (75.0, 50.0)
    assert (quality.final_line_pct, quality.final_branch_pct) == (100.0, 100.0)
    assert result.patch is not None
    patch = (await get_artifact(js, result.patch)).decode()
    assert "+def test_boundary_decides_pass_or_fail" in patch and "+def test_a_high_score_passes" not in patch


def _line_coverage(tree: Path, tests: list[str]) -> str:
    """grading.py's line coverage by a plain coverage + pytest run of ``tests`` in ``tree``, as the summary words it."""
    data, report = tree.parent / f"{tree.name}.coverage", tree.parent / f"{tree.name}.json"
    env = {**os.environ, "PYTHONPATH": str(tree)}
    run = [sys.executable, "-m", "coverage", "run", f"--data-file={data}", f"--include={tree / TARGET}", "-m",
           "pytest", "-q", "-p", "no:cacheprovider", *tests]  # fmt: skip
    subprocess.run(run, cwd=tree, env=env, check=True, capture_output=True)
    subprocess.run([sys.executable, "-m", "coverage", "json", f"--data-file={data}", "-o", str(report)], cwd=tree,
                   env=env, check=True, capture_output=True)  # fmt: skip
    (entry,) = json.loads(report.read_text())["files"].values()
    return f"{round(float(entry['summary']['percent_covered']), 2):g} %"


async def test_the_kept_alone_figure_of_an_extended_file_leaves_out_the_projects_own_tests_there(
    js: JetStreamContext, topology: Topology, grading_project: Path, tmp_path: Path, model_server: ScriptedModelServer
) -> None:
    """The test appended to the project's tests/test_existing.py is kept; the summary's coverage "by the kept tests
    alone" and its test counts are those of that test, not of the whole file with the project's test in it."""
    low = "def test_a_low_score_fails():\n    assert grade(10) == 'fail'\n"
    model_server.policy = Script([appended_to_the_existing_file(low), finish("tests written")])
    source = await upload_snapshot(js, grading_project)
    result = await OpenHandsTestRunner(runner_settings(tmp_path, llm_settings(model_server.base_url))).run(
        make_ctx(js, source, ProgressLog(), targets=[TARGET])
    )

    kept = f"{EXISTING}::test_a_low_score_fails"
    assert result.tests_kept == [kept]
    assert result.patch is not None
    applied = tmp_path / "applied"
    await materialize_snapshot(js, source, applied)
    patch = tmp_path / "result.patch"
    patch.write_bytes(await get_artifact(js, result.patch))
    await asyncio.to_thread(_applied, applied, patch)
    alone = await asyncio.to_thread(_line_coverage, applied, [kept])
    whole_file = await asyncio.to_thread(_line_coverage, applied, [EXISTING])
    assert alone != whole_file  # the project's own test in the file covers what the kept one does not
    assert f"Line coverage by the kept tests alone: {TARGET} {alone}." in result.summary
    assert "1 test collected, 1 passed, 0 failed." in result.summary
    assert (result.tests_collected, result.tests_passed) == (1, 1)


MIXIN = """from grading import grade


class LowScoresMixin:
    def test_a_low_score_fails(self):
        self.assertEqual(grade(49), "fail")
"""
CASE_WITH_MIXIN = """import unittest

from grading import grade

from . import LowScoresMixin


class GradeTest(LowScoresMixin, unittest.TestCase):
    def test_a_high_score_passes(self):
        self.assertEqual(grade(90), "pass")
"""


async def test_the_projects_tests_a_testcase_inherits_from_a_mixin_elsewhere_count_in_the_baseline(
    js: JetStreamContext, topology: Topology, grading_project: Path, tmp_path: Path, model_server: ScriptedModelServer
) -> None:
    """cachetools 8.0.2: ``CacheTest(unittest.TestCase, CacheTestMixin)`` gets its tests from tests/__init__.py.
    When the generator extends that file, the inherited test is the project's too: the baseline is 100/100 %, and
    a generated test covering what it covers adds nothing (it was kept over a 75/50 % baseline)."""
    (grading_project / "tests" / "__init__.py").write_text(MIXIN)
    (grading_project / "tests" / "test_existing.py").write_text(CASE_WITH_MIXIN)
    last = '        self.assertEqual(grade(90), "pass")\n'
    low = "def test_a_failing_score():\n    assert grade(10) == 'fail'\n"
    model_server.policy = Script([
        in_workspace(EXISTING, lambda p: replace_in_file(p, last, last + "\n\n" + low)),
        finish("tests written"),
    ])  # fmt: skip
    source = await upload_snapshot(js, grading_project)
    result = await OpenHandsTestRunner(runner_settings(tmp_path, llm_settings(model_server.base_url))).run(
        make_ctx(js, source, ProgressLog(), targets=[TARGET])
    )

    (quality,) = result.quality
    assert (quality.baseline_line_pct, quality.baseline_branch_pct) == (100.0, 100.0)
    assert result.tests_kept == []
    assert [(d.test, d.verdict) for d in result.tests_dropped] == [(f"{EXISTING}::test_a_failing_score",
                                                                     Verdict.USELESS)]  # fmt: skip
    assert "existing tests already meet the coverage goal" in result.summary


async def test_an_extended_project_test_file_whose_additions_are_all_dropped_is_left_as_it_was(
    js: JetStreamContext, topology: Topology, grading_project: Path, tmp_path: Path, model_server: ScriptedModelServer
) -> None:
    """The project's tests already cover grading.py and the appended test adds nothing: the task succeeds with no
    patch and no file (not a patch of leftover imports), and the project's own tests are not listed as kept."""
    (grading_project / "tests" / "test_boundary.py").write_text(COVERS_THE_BOUNDARY)
    useless = "import pytest\n\n\ndef test_another_passing_score():\n    assert grade(70) == 'pass'\n"
    model_server.policy = Script([appended_to_the_existing_file(useless), finish("tests written")])
    source = await upload_snapshot(js, grading_project)
    result = await OpenHandsTestRunner(runner_settings(tmp_path, llm_settings(model_server.base_url))).run(
        make_ctx(js, source, ProgressLog(), targets=[TARGET])
    )

    assert result.goal_met and not result.files_produced
    assert result.patch is None and result.files == []
    assert result.tests_kept == []
    assert [d.test for d in result.tests_dropped] == [f"{EXISTING}::test_another_passing_score"]
    assert "existing tests already meet the coverage goal" in result.summary


async def test_a_task_whose_every_test_is_dropped_names_what_the_existing_tests_still_miss(
    js: JetStreamContext, topology: Topology, grading_project: Path, tmp_path: Path, model_server: ScriptedModelServer
) -> None:
    """Nothing kept and the goal not met by the project's tests (semver 3.0.4's cli.py): the failure says how far
    the existing tests get and what they miss, not only that every generated test was dropped."""
    only_useless = "from grading import grade\n\n\ndef test_another_passing_score():\n    assert grade(70) == 'pass'\n"
    model_server.policy = Script([in_workspace(GEN, lambda p: create_file(p, only_useless)), finish("tests written")])
    source = await upload_snapshot(js, grading_project)
    settings = runner_settings(tmp_path, llm_settings(model_server.base_url), feedback_rounds=0)
    with pytest.raises(PermanentFailure) as failed:
        await OpenHandsTestRunner(settings).run(make_ctx(js, source, ProgressLog(), targets=[TARGET]))

    assert failed.value.code == ErrorCode.VALIDATION_FAILED
    assert "no test was kept (1 dropped)" in str(failed.value)
    assert ("The project's existing tests reach: grading.py: line 75 %, branch 50 % (line+branch 66.67 %, goal 80 %); "
            "lines not covered: 4; branches not taken: line 2->4") in failed.value.detail  # fmt: skip


async def test_a_rescued_test_in_an_extended_project_file_put_back_by_the_filters_returns_to_the_patch(
    js: JetStreamContext, topology: Topology, grading_project: Path, tmp_path: Path, model_server: ScriptedModelServer
) -> None:
    """The only addition to the project's test file adds no coverage, so the filters put the file back as it was;
    it kills the mutant the kept boundary test misses, so the file re-enters the patch with it (and its own test)."""
    boundary = (
        "from grading import grade\n\n\ndef test_boundary_decides_pass_or_fail():\n    assert grade(50) == 'pass'\n"
    )
    boundary += "    assert grade(49) == 'fail'\n"
    seventy = "def test_another_passing_score():\n    assert grade(70) == 'pass'\n"
    appended = BOUNDARY_LAST_LINE + "\n\n" + seventy
    model_server.policy = Script([in_workspace(GEN, lambda p: create_file(p, boundary)),
                                  in_workspace(EXISTING, lambda p: replace_in_file(p, BOUNDARY_LAST_LINE, appended)),
                                  finish("tests written")])  # fmt: skip
    _existing_test_misses_the_mutant(grading_project)
    source = await upload_snapshot(js, grading_project)
    settings = _scoring(tmp_path, model_server, rescue_budget_s=120)
    result = await OpenHandsTestRunner(settings).run(make_ctx(js, source, ProgressLog(), targets=[TARGET]))

    rescued = f"{EXISTING}::test_another_passing_score"
    assert result.tests_rescued == [rescued] and result.tests_kept == [GOOD, rescued]
    assert sorted(result.test_files) == [EXISTING, GEN]
    (quality,) = result.quality
    assert (quality.mutants_killed, quality.mutants_total) == (8, 8)

    assert result.patch is not None
    original = tmp_path / "original"
    await materialize_snapshot(js, source, original)
    patch = tmp_path / "result.patch"
    patch.write_bytes(await get_artifact(js, result.patch))
    await asyncio.to_thread(_applied, original, patch)
    in_existing = [f.qualname for f in generated_source.find_tests((original / EXISTING).read_text())]
    assert in_existing == ["test_the_boundary_score_passes", "test_another_passing_score"]
    assert [f.qualname for f in generated_source.find_tests((original / GEN).read_text())] == [GOOD.split("::")[1]]


async def test_a_re_admitted_test_that_fails_after_the_projects_own_tests_of_its_file_is_dropped_again(
    js: JetStreamContext, topology: Topology, grading_project: Path, tmp_path: Path, model_server: ScriptedModelServer
) -> None:
    """grade(70), appended to the project's test file, adds no coverage and kills the `>=` -> `==` mutant the other
    tests miss, but it also checks that no grading rule was recorded, which the project's own test of that file
    records first (class state, as docopt() sets DocoptExit.usage): it passes alone and fails in the project's run of
    the file, so the rescue's validation drops it again with the reason, the score goes back to what the kept tests
    kill, and the applied patch passes under the project's plain pytest."""
    (grading_project / TARGET).write_text(
        'class Rules:\n    last = ""\n\n\n' + (GRADING / "grading" / TARGET).read_text()
    )
    (grading_project / EXISTING).write_text(
        "from grading import Rules, grade\n\n\ndef test_the_boundary_score_passes():\n"
        "    Rules.last = 'pass from 50'\n" + BOUNDARY_LAST_LINE
    )
    boundary = (
        "from grading import grade\n\n\ndef test_boundary_decides_pass_or_fail():\n    assert grade(50) == 'pass'\n"
        "    assert grade(49) == 'fail'\n"
    )
    seventy = "def test_another_passing_score():\n    assert grade(70) == 'pass'\n    assert Rules.last == ''\n"
    model_server.policy = Script([in_workspace(GEN, lambda p: create_file(p, boundary)),
                                  in_workspace(EXISTING, lambda p: replace_in_file(
                                      p, BOUNDARY_LAST_LINE, BOUNDARY_LAST_LINE + "\n\n" + seventy)),
                                  finish("tests written")])  # fmt: skip
    source = await upload_snapshot(js, grading_project)
    progress = ProgressLog()
    settings = _scoring(tmp_path, model_server, rescue_budget_s=120)
    result = await OpenHandsTestRunner(settings).run(make_ctx(js, source, progress, targets=[TARGET]))

    seventy_id = f"{EXISTING}::test_another_passing_score"
    assert f"re-admitted {seventy_id}: kills a mutant the other tests miss" in progress.text()
    assert result.tests_rescued == [] and result.tests_kept == [GOOD]
    (dropped,) = [d for d in result.tests_dropped if d.test == seventy_id]
    assert dropped.verdict == Verdict.FAILED
    said = "fails beside the other tests of its file and the kept tests, though it passes alone (order-dependent)"
    assert dropped.reason.startswith(f"{said}: AssertionError: assert 'pass from 50' == ''")
    (quality,) = result.quality
    assert quality.mutants_killed == quality.mutants_total - 1  # the `>=` -> `==` mutant survives again
    assert "re-admitted" not in (result.summary.split("Mutation rescue:")[0])
    assert "Mutation rescue: 1 re-admitted test(s) dropped again: they fail beside the tests of their files" in (
        result.summary
    )
    assert (result.tests_collected, result.tests_passed) == (1, 1)
    assert result.test_files == [GEN]

    assert result.patch is not None
    original = tmp_path / "original"
    await materialize_snapshot(js, source, original)
    patch = tmp_path / "result.patch"
    patch.write_bytes(await get_artifact(js, result.patch))
    await asyncio.to_thread(_applied, original, patch)
    assert "test_another_passing_score" not in (original / EXISTING).read_text()
    plain = await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
                                    cwd=original, env={**os.environ, "PYTHONPATH": str(original)},
                                    capture_output=True, text=True)  # fmt: skip
    assert plain.returncode == 0, plain.stdout


async def test_when_one_re_admitted_test_is_dropped_again_the_others_are_said_re_admitted_once(
    js: JetStreamContext, topology: Topology, grading_project: Path, tmp_path: Path, model_server: ScriptedModelServer
) -> None:
    """Two coverage-free tests kill one surviving mutant each: grade(70) the `>= 50` -> `== 50` one, grade(95) the
    `>= 80` -> `== 80` one. grade(70), appended to the project's test file, fails after the project's own test there
    (class state), so the rescue's validation drops it again; grade(95) stays re-admitted, and the progress says so
    once (the choice made again among the rest is not a second re-admission)."""
    (grading_project / TARGET).write_text(
        'class Rules:\n    last = ""\n\n\ndef grade(score):\n    if score >= 80:\n        return "distinction"\n'
        '    if score >= 50:\n        return "pass"\n    return "fail"\n'
    )
    (grading_project / EXISTING).write_text(
        "from grading import Rules, grade\n\n\ndef test_the_boundary_score_passes():\n"
        "    Rules.last = 'pass from 50'\n" + BOUNDARY_LAST_LINE
    )
    boundaries = (
        "from grading import grade\n\n\ndef test_boundary_decides_pass_or_fail():\n    assert grade(50) == 'pass'\n"
        "    assert grade(49) == 'fail'\n    assert grade(80) == 'distinction'\n"
        "\n\ndef test_a_top_score_is_a_distinction():\n    assert grade(95) == 'distinction'\n"
    )
    seventy = "def test_another_passing_score():\n    assert grade(70) == 'pass'\n    assert Rules.last == ''\n"
    model_server.policy = Script([in_workspace(GEN, lambda p: create_file(p, boundaries)),
                                  in_workspace(EXISTING, lambda p: replace_in_file(
                                      p, BOUNDARY_LAST_LINE, BOUNDARY_LAST_LINE + "\n\n" + seventy)),
                                  finish("tests written")])  # fmt: skip
    source = await upload_snapshot(js, grading_project)
    progress = ProgressLog()
    settings = _scoring(tmp_path, model_server, rescue_budget_s=120)
    result = await OpenHandsTestRunner(settings).run(make_ctx(js, source, progress, targets=[TARGET]))

    seventy_id, top_id = f"{EXISTING}::test_another_passing_score", f"{GEN}::test_a_top_score_is_a_distinction"
    assert result.tests_rescued == [top_id] and result.tests_kept == [GOOD, top_id]
    assert seventy_id in {d.test for d in result.tests_dropped}
    said = [m for stage, m in progress.events if stage == "assurance" and m.startswith("re-admitted ")]
    assert sorted(said) == sorted([
        f"re-admitted {top_id}: kills a mutant the other tests miss: grading.py:6 ReplaceComparisonOperator_GtE_Eq",
        f"re-admitted {seventy_id}: kills a mutant the other tests miss: grading.py:8 ReplaceComparisonOperator_GtE_Eq",
        f"re-admitted test dropped again: {seventy_id}: " + next(d.reason for d in result.tests_dropped
                                                                 if d.test == seventy_id),
    ])  # fmt: skip
