"""What people read of a result's quality: `handoff result` and `handoff wait` show coverage before and after,
mutants killed, kept and dropped tests, and a goal not met even when the task succeeded."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime

import msgspec
import pytest

from handoff.cli import wait_cmd
from handoff.cli.exit_codes import Exit
from handoff.cli.progress import ProgressBoard
from handoff.cli.result_cmd import summarize
from handoff.schemas.events import (
    ArtifactRef,
    DroppedTest,
    ErrorCode,
    RefusedChange,
    TargetCoverage,
    TargetQuality,
    TaskError,
    TaskFinished,
    TaskStatus,
    TestGenerationResult,
    Verdict,
)


def _finished(task_id: str, *, goal_met: bool) -> TaskFinished:
    result = TestGenerationResult(
        summary="Wrote 1 test file(s).",
        goal_met=goal_met,
        coverage_goal_pct=80.0,
        quality=[
            TargetQuality(
                target="grading.py",
                baseline_line_pct=75.0,
                baseline_branch_pct=50.0,
                final_line_pct=100.0,
                final_branch_pct=100.0,
                mutants_killed=7,
                mutants_total=8,
                mutation_score_pct=87.5,
            )
        ],
        tests_kept=["tests/test_generated.py::test_boundary"],
        tests_dropped=[
            DroppedTest(
                test="tests/test_generated.py::test_wrong",
                verdict=Verdict.FAILED,
                reason="fails: assert 'fail' == 'pass'",
            )
        ],
    )
    return TaskFinished(task_id=task_id, status=TaskStatus.SUCCEEDED, finished_at=datetime.now(UTC), result=result)


def test_handoff_result_names_the_command_that_shows_the_dropped_tests_as_written() -> None:
    """inflection 0.5.1: 31 tests dropped with reasons, and no way to read them: the workspace is gone."""
    finished = _finished("t1", goal_met=True)
    assert isinstance(finished.result, TestGenerationResult)
    written = ArtifactRef(bucket="HANDOFF_ARTIFACTS", name="t1/1/written.diff", size_bytes=10, sha256="0" * 64)
    result = msgspec.structs.replace(finished.result, written_patch=written)
    with_written = msgspec.structs.replace(finished, result=result)
    assert "  the tests as written, dropped ones too: handoff result t1 --written" in summarize(with_written)
    assert not any("--written" in line for line in summarize(finished))  # none stored (an older generator)


def test_handoff_result_prints_coverage_delta_mutants_and_dropped_tests_with_reasons() -> None:
    """One quality line per target, the goal, and each dropped test with its verdict and reason."""
    lines = summarize(_finished("t1", goal_met=False))

    assert "  quality grading.py: line 75 -> 100 %, branch 50 -> 100 %, mutants 7/8 (87.5 %)" in lines
    assert "  goal NOT met (80 % line+branch, with the project's tests); tests kept 1, dropped 1" in lines
    assert "  dropped tests/test_generated.py::test_wrong (failed): fails: assert 'fail' == 'pass'" in lines


def test_handoff_wait_shows_a_coverage_cell_per_task_and_counts_goals_not_met(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A succeeded task short of its goal is named in the run summary, and --json carries goal_met and quality."""
    finals = {"t1": _finished("t1", goal_met=False), "t2": _finished("t2", goal_met=True)}
    args = argparse.Namespace(json=False, run_id="r1", timeout_s=10.0)
    assert wait_cmd._report(args, ["t1", "t2"], finals, None) == Exit.OK
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "2 succeeded (1 short of the coverage goal)"
    assert out[1] == "  t1  succeeded  grading.py line 100 %, branch 100 % (GOAL NOT MET, kept 1, dropped 1)"
    assert out[2] == "  t2  succeeded  grading.py line 100 %, branch 100 % (goal met, kept 1, dropped 1)"

    args.json = True
    wait_cmd._report(args, ["t1"], finals, None)
    (task,) = json.loads(capsys.readouterr().out)["tasks"]
    assert task["goal_met"] is False and task["quality"][0]["mutation_score_pct"] == 87.5


def test_the_live_progress_line_of_a_finished_task_shows_its_coverage(capsys: pytest.CaptureFixture[str]) -> None:
    """The change line printed when a task finishes carries its coverage cell."""
    board = ProgressBoard.of(["t1"], quiet=False)
    board.tty = False
    board.finish(_finished("t1", goal_met=False))
    assert (
        capsys.readouterr().err
        == "t1  succeeded  grading.py line 100 %, branch 100 % (GOAL NOT MET, kept 1, dropped 1)\n"
    )


def _nothing_added(task_id: str) -> TaskFinished:
    """A task whose generated tests were all dropped because the project's own tests already meet the goal."""
    result = TestGenerationResult(
        summary="The project's existing tests already meet the coverage goal (80 %): no test was added.",
        goal_met=True,
        coverage_goal_pct=80.0,
        quality=[
            TargetQuality(
                target="grading.py",
                baseline_line_pct=100.0,
                baseline_branch_pct=100.0,
                final_line_pct=100.0,
                final_branch_pct=100.0,
            )
        ],
        tests_dropped=[
            DroppedTest(
                test="tests/test_generated.py::test_more",
                verdict=Verdict.USELESS,
                reason="adds no line or branch coverage",
            )
        ],
    )
    return TaskFinished(task_id=task_id, status=TaskStatus.SUCCEEDED, finished_at=datetime.now(UTC), result=result)


def test_result_and_wait_say_plainly_when_the_existing_tests_already_meet_the_goal(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """No patch is not shown as a failure ('files produced: NO'): both views say nothing was added and why."""
    lines = summarize(_nothing_added("t1"))
    assert "  nothing added: the project's existing tests already meet the coverage goal; no patch" in lines
    assert any(line.endswith("files produced: none needed") for line in lines), lines
    assert "  quality grading.py: line 100 -> 100 %, branch 100 -> 100 %" in lines

    args = argparse.Namespace(json=False, run_id="r1", timeout_s=10.0)
    assert wait_cmd._report(args, ["t1"], {"t1": _nothing_added("t1")}, None) == Exit.OK
    out = capsys.readouterr().out.splitlines()
    assert out == ["1 succeeded", "  t1  succeeded  grading.py line 100 %, branch 100 % (goal met by the existing "
                                  "tests, nothing added, kept 0, dropped 1)"]  # fmt: skip


PARTIAL = (
    "some of the project's existing tests could not be collected or run: 2 test module(s) could not be "
    "collected: tests/test_timed.py: ModuleNotFoundError: No module named 'freezegun'; tests/test_url_safe.py: "
    "ModuleNotFoundError: No module named 'freezegun.api'; the coverage baseline counts only the tests that "
    "ran"
)  # fmt: skip (the sentence existing_suite gives itsdangerous 2.2.0 without freezegun)


def _with_baseline_problem(problem: str) -> TaskFinished:
    finished = _finished("t1", goal_met=True)
    assert isinstance(finished.result, TestGenerationResult)
    return msgspec.structs.replace(finished, result=msgspec.structs.replace(finished.result, baseline_problem=problem))


def test_when_only_some_of_the_projects_test_modules_did_not_collect_result_and_wait_say_some_did_not_run(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Three modules ran, two needed a missing package: not "the project's own tests did not run"; and the
    submit option that installs the missing module is named."""
    lines = summarize(_with_baseline_problem(PARTIAL))
    assert f"  baseline only some of the project's tests: {PARTIAL}" in lines
    assert not any("NOT the project's tests" in line for line in lines), lines
    assert (
        "  the project's tests import freezegun, missing from its environment: submit again with "
        "--extra-package freezegun (the package's name on PyPI, where it differs from the module's)"
    ) in lines

    args = argparse.Namespace(json=False, run_id="r1", timeout_s=10.0)
    wait_cmd._report(args, ["t1"], {"t1": _with_baseline_problem(PARTIAL)}, None)
    out = capsys.readouterr().out.splitlines()
    assert out[1] == ("  t1  succeeded  [some of the project's tests did not run; see handoff result] grading.py "
                      "line 100 %, branch 100 % (goal met, kept 1, dropped 1)")  # fmt: skip


def test_when_none_of_the_projects_tests_ran_result_says_the_baseline_is_not_theirs_without_a_package_hint() -> None:
    problem = ("the project's existing tests could not be collected or run: pytest stopped with an internal error: "
               "SystemExit: 2; the coverage baseline is not the project's suite (only what ran before pytest "
               "stopped)")  # fmt: skip
    lines = summarize(_with_baseline_problem(problem))
    assert f"  baseline NOT the project's tests: {problem}" in lines
    assert not any("--extra-package" in line for line in lines), lines


def test_result_says_how_many_dropped_tests_and_refused_changes_it_did_not_list() -> None:
    """Twenty are listed; the rest are counted, with where to see them all."""
    finished = _finished("t1", goal_met=True)
    assert isinstance(finished.result, TestGenerationResult)
    dropped = [DroppedTest(test=f"tests/test_g.py::test_{i}", verdict=Verdict.USELESS, reason="adds nothing")
               for i in range(23)]  # fmt: skip
    refused = [RefusedChange(path=f"src/m{i}.py", reason="outside the test folder") for i in range(21)]
    result = msgspec.structs.replace(finished.result, tests_dropped=dropped, refused=refused)
    lines = summarize(msgspec.structs.replace(finished, result=result))
    assert sum(line.startswith("  dropped tests/") for line in lines) == 20
    assert "  … and 3 more dropped test(s) (handoff result t1 --json lists them)" in lines
    assert sum(line.startswith("  left out of the patch:") for line in lines) == 20
    assert "  … and 1 more change(s) left out (handoff result t1 --json lists them)" in lines

    shown = summarize(_finished("t1", goal_met=True))
    assert not any(line.startswith("  …") for line in shown), shown


def test_result_labels_the_kept_tests_own_line_coverage_apart_from_what_the_goal_is_judged_on() -> None:
    """55.2 % by the kept tests alone (line only) is not set against the goal, which is line+branch coverage with
    the project's existing tests."""
    finished = _finished("t1", goal_met=True)
    assert isinstance(finished.result, TestGenerationResult)
    alone = [TargetCoverage(target="grading.py", percent=55.2, covered_lines=16, total_lines=29)]
    lines = summarize(msgspec.structs.replace(finished, result=msgspec.structs.replace(finished.result,
                                                                                        coverage=alone)))  # fmt: skip
    assert "  coverage grading.py by the kept tests alone: line 55.2 %" in lines
    assert "  goal met (80 % line+branch, with the project's tests); tests kept 1, dropped 1" in lines
    assert not any("(goal 80 %)" in line for line in lines), lines


def test_result_says_the_kept_tests_own_coverage_was_measured_before_the_re_admitted_tests() -> None:
    """Two tests re-admitted by the mutation rescue are in the kept tests and the counts, but the kept tests' own
    line coverage was measured before them: the line says so."""
    finished = _finished("t1", goal_met=True)
    assert isinstance(finished.result, TestGenerationResult)
    alone = [TargetCoverage(target="grading.py", percent=55.2, covered_lines=16, total_lines=29)]
    result = msgspec.structs.replace(finished.result, coverage=alone,
                                     tests_rescued=["tests/test_g.py::test_a", "tests/test_g.py::test_b"])  # fmt: skip
    lines = summarize(msgspec.structs.replace(finished, result=result))
    assert "  coverage grading.py by the kept tests alone (before the 2 re-admitted for mutants): line 55.2 %" in lines


def test_the_kept_tests_own_coverage_shows_the_decimals_the_quality_line_shows() -> None:
    """toolz 1.0.0: ``line 89.2 %`` by the kept tests alone beside ``line 32.43 -> 89.19 %`` on the quality line."""
    finished = _finished("t1", goal_met=True)
    assert isinstance(finished.result, TestGenerationResult)
    alone = [TargetCoverage(target="core.py", percent=89.19, covered_lines=33, total_lines=37)]
    lines = summarize(msgspec.structs.replace(finished, result=msgspec.structs.replace(finished.result,
                                                                                        coverage=alone)))  # fmt: skip
    assert "  coverage core.py by the kept tests alone: line 89.19 %" in lines


def test_result_shows_a_mutation_goal_and_which_goal_was_not_met() -> None:
    """A task with a mutation goal of 90 %: the coverage goal was met, grading.py's 87.5 % is under the mutation
    goal, so goal_met is false; the goal line says which goal failed and by how much, not only the coverage goal."""
    finished = _finished("t1", goal_met=False)
    assert isinstance(finished.result, TestGenerationResult)
    result = msgspec.structs.replace(finished.result, coverage_goal_met=True, mutation_goal_pct=90.0)
    lines = summarize(msgspec.structs.replace(finished, result=result))
    assert ("  goal NOT met (80 % line+branch, with the project's tests: met; mutation score 90 %: NOT met, "
            "grading.py 87.5 %); tests kept 1, dropped 1") in lines  # fmt: skip

    met = msgspec.structs.replace(result, goal_met=True, mutation_goal_pct=85.0)
    lines = summarize(msgspec.structs.replace(finished, result=met))
    assert ("  goal met (80 % line+branch, with the project's tests: met; mutation score 85 %: met); tests kept 1, "
            "dropped 1") in lines  # fmt: skip


def test_a_mutation_goal_without_a_score_is_shown_as_not_measured_and_wait_names_both_goals(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """No score (mutation testing off or failed) and the coverage goal missed: the goal is not met, and the line
    says the mutation goal was not measured; a run with a task short of its goals says the coverage or mutation
    goal, not only coverage."""
    finished = _finished("t1", goal_met=False)
    assert isinstance(finished.result, TestGenerationResult)
    unscored = [msgspec.structs.replace(finished.result.quality[0], mutation_score_pct=None)]
    result = msgspec.structs.replace(finished.result, quality=unscored, coverage_goal_met=False, mutation_goal_pct=50)
    finished = msgspec.structs.replace(finished, result=result)
    assert ("  goal NOT met (80 % line+branch, with the project's tests: NOT met; mutation score 50 %: not measured); "
            "tests kept 1, dropped 1") in summarize(finished)  # fmt: skip

    args = argparse.Namespace(json=False, run_id="r1", timeout_s=10.0)
    wait_cmd._report(args, ["t1"], {"t1": finished}, None)
    assert capsys.readouterr().out.splitlines()[0] == "1 succeeded (1 short of the coverage or mutation goal)"
    args.json = True
    wait_cmd._report(args, ["t1"], {"t1": finished}, None)
    (task,) = json.loads(capsys.readouterr().out)["tasks"]
    assert task["coverage_goal_met"] is False and task["mutation_goal_pct"] == 50


def test_a_mutation_goal_measured_on_some_targets_only_is_not_reported_as_met(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """grading.py scored 87.5 % against a 50 % goal, util.py has no score: the goal reads "not measured" with the
    reason, never "met", in `handoff result`, `handoff wait` and its tally (exit 0: the task succeeded), also for a
    result whose generator still set goal_met (it read "goal met (…; mutation score 50 %: met; not measured for
    util.py)")."""
    finished = _finished("t1", goal_met=True)
    assert isinstance(finished.result, TestGenerationResult)
    unscored = TargetQuality(target="util.py", baseline_line_pct=90.0, final_line_pct=90.0)
    why = "util.py: none of its 40 mutant(s) ran within the 30 s budget"
    quality = [*finished.result.quality, unscored]
    result = msgspec.structs.replace(finished.result, quality=quality, coverage_goal_met=True, mutation_goal_pct=50.0,
                                     mutation_not_measured=why)  # fmt: skip
    finished = msgspec.structs.replace(finished, result=result)
    assert ("  goal not measured (80 % line+branch, with the project's tests: met; mutation score 50 %: met where "
            f"measured; not measured: {why}); tests kept 1, dropped 1") in summarize(finished)  # fmt: skip
    older = msgspec.structs.replace(finished, result=msgspec.structs.replace(result, mutation_not_measured=""))
    assert "mutation score 50 %: met where measured; not measured for util.py)" in "\n".join(summarize(older))

    args = argparse.Namespace(json=False, run_id="r1", timeout_s=10.0)
    assert wait_cmd._report(args, ["t1"], {"t1": finished}, None) == Exit.OK
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "1 succeeded (1 with the mutation goal not measured)"
    assert "coverage goal met, MUTATION GOAL NOT MEASURED, kept 1, dropped 1)" in out[1]


def test_result_shows_a_long_failure_details_head_and_tail_and_how_many_lines_it_left_out() -> None:
    """77 tests dropped: the detail opens with 'Every test was dropped:', lists 30 and ends '… and 47 more'. The
    result keeps the opening and the count, and says how many listed lines it did not print (not 7 then '47 more',
    which read as 54 dropped)."""
    listed = [f"- tests/test_d.py::test_{n}: failed: does not collect" for n in range(30)]
    detail = "\n".join(["Every test was dropped:", *listed, "- … and 47 more"])
    error = TaskError(code=ErrorCode.VALIDATION_FAILED, message="no test was kept (77 dropped)", detail=detail)
    finished = TaskFinished(task_id="t-77", status=TaskStatus.FAILED, finished_at=datetime.now(UTC), error=error)
    lines = summarize(finished)
    assert "  Every test was dropped:" in lines
    assert "  … 18 more line(s) of this detail, all in: handoff result t-77 --json" in lines
    assert "  - … and 47 more" in lines
    assert sum(line.startswith("  - tests/test_d.py::") for line in lines) == 12  # 30 listed, 18 not printed


def test_result_marks_a_dropped_tests_reason_it_cut_with_an_ellipsis() -> None:
    """A reason longer than the line takes ends in '…' (it stopped mid-word: 'no pytest.raises expects an exception
    fro'); a short one is printed whole."""
    finished = _finished("t1", goal_met=True)
    assert isinstance(finished.result, TestGenerationResult)
    long = "checks only objects it built: " + "x" * 200
    dropped = [DroppedTest(test="tests/test_g.py::test_long", verdict=Verdict.USELESS, reason=long)]
    lines = summarize(
        msgspec.structs.replace(finished, result=msgspec.structs.replace(finished.result, tests_dropped=dropped))
    )
    (line,) = [line for line in lines if line.startswith("  dropped tests/test_g.py::test_long")]
    assert line.endswith("x…") and len(line.split("): ", 1)[1]) == 160, line
    short = summarize(finished)
    assert "  dropped tests/test_generated.py::test_wrong (failed): fails: assert 'fail' == 'pass'" in short
