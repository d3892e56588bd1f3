"""The demo's parts: what writes the tests, the real-world project it builds, the lines it prints per module."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from handoff.common.env import SettingsError
from handoff.demo.real_world import RealWorldMissing, prepare_real_world
from handoff.demo.report import DETAIL_LINES, module_lines
from handoff.demo.run import DEMO_ENGINE_S, choose_writer
from handoff.schemas.events import (
    DroppedTest,
    ErrorCode,
    TargetCoverage,
    TargetQuality,
    TaskError,
    TaskFinished,
    TaskStatus,
    TestGenerationResult,
    Verdict,
)

WRITER_VARIABLES = (
    "HANDOFF_LLM_MODEL",
    "HANDOFF_SCRIPTED_MODEL",
    "HANDOFF_OFFLINE_ENGINES",
    "HANDOFF_OFFLINE_ENGINE_S",
)


@pytest.fixture
def nothing_configured(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in WRITER_VARIABLES:  # set, then removed: the demo's own setdefault is undone after the test
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    return monkeypatch


def test_with_no_llm_the_demo_uses_the_offline_engine_with_its_short_limit(
    nothing_configured: pytest.MonkeyPatch,
) -> None:
    """Nothing configured: the offline engine writes the tests, limited per target, and no LLM is claimed."""
    import os

    said = choose_writer()
    assert said.startswith("the offline engine: crosshair+pynguin - real test generators that need no LLM"), said
    assert os.environ["HANDOFF_OFFLINE_ENGINE_S"] == f"{DEMO_ENGINE_S:g}"  # what the demo's generators inherit
    assert "SCRIPTED" not in said and "HANDOFF_SCRIPTED_MODEL" not in os.environ


def test_the_demo_keeps_a_user_chosen_engine_limit(nothing_configured: pytest.MonkeyPatch) -> None:
    """HANDOFF_OFFLINE_ENGINE_S set by the user wins over the demo's default."""
    nothing_configured.setenv("HANDOFF_OFFLINE_ENGINE_S", "12")
    assert "12 s per engine and target" in choose_writer()


def test_a_malformed_engine_list_stops_the_demo_before_it_starts(nothing_configured: pytest.MonkeyPatch) -> None:
    """The demo's generators would refuse it: the demo refuses it first, naming the variable (exit 2)."""
    nothing_configured.setenv("HANDOFF_OFFLINE_ENGINES", "crosshare")
    with pytest.raises(SettingsError, match="HANDOFF_OFFLINE_ENGINES"):
        choose_writer()


def test_the_real_world_project_is_the_installed_module_committed_as_is(tmp_path: Path) -> None:
    """The installed inflection module is copied byte for byte into a git repository with an empty tests folder."""
    import inflection

    project = prepare_real_world(tmp_path / "rw")
    assert project.targets == ["inflection/__init__.py"]
    assert (project.repo / "inflection" / "__init__.py").read_bytes() == Path(inflection.__file__).read_bytes()
    assert (project.repo / "tests").is_dir()
    status = subprocess.run(["git", "status", "--porcelain"], cwd=project.repo, capture_output=True, text=True)
    assert status.returncode == 0 and status.stdout == ""


def test_a_missing_demo_dependency_is_named(tmp_path: Path) -> None:
    """Without the package the demo says how to install it instead of failing somewhere later."""
    with pytest.raises(RealWorldMissing, match="handoff\\[demo\\]"):
        prepare_real_world(tmp_path / "rw", package="no_such_package_for_the_demo")


def finished(result: TestGenerationResult | None, status: TaskStatus = TaskStatus.SUCCEEDED) -> TaskFinished:
    error = (
        None
        if status == TaskStatus.SUCCEEDED
        else TaskError(
            code=ErrorCode.NO_FILES_PRODUCED,
            message="nothing",
            detail="\n".join(f"line {i}" for i in range(20)) + "\n" + "FAILED test_m.py::t",
        )
    )
    return TaskFinished(task_id="t-1", status=status, attempt=1, replica_id="g-1", result=result, error=error,
                        finished_at=datetime.now(UTC))  # fmt: skip


def test_each_module_shows_tests_kept_line_and_branch_coverage_and_mutation_score() -> None:
    """With the runner's quality fields present, the demo prints them as measured."""
    result = TestGenerationResult(
        summary="[offline engine: crosshair+pynguin] crosshair: 5 tests",
        tests_kept=["tests/test_m.py::test_a", "tests/test_m.py::test_b"],
        tests_dropped=[DroppedTest(test="tests/test_m.py::test_c", verdict=Verdict.USELESS)],
        quality=[TargetQuality(target="m.py", baseline_line_pct=10, baseline_branch_pct=0, final_line_pct=95,
                               final_branch_pct=88, mutants_killed=7, mutants_total=10, mutation_score_pct=70)],
    )  # fmt: skip
    text = "\n".join(module_lines("m.py", finished(result)))
    assert "tests kept: 2" in text
    assert "line coverage: 95 % (before: 10 %); branch coverage: 88 % (before: 0 %)" in text
    assert "mutation score: 70 % (7 of 10 mutants killed)" in text
    assert "summary: [offline engine: crosshair+pynguin] crosshair: 5 tests" in text


def test_what_the_runner_did_not_measure_is_said_to_be_not_measured() -> None:
    """Without quality fields: the validation coverage as line coverage, the rest 'not measured', never a zero."""
    result = TestGenerationResult(tests_passed=4, coverage=[TargetCoverage(target="m.py", percent=81.5)])
    text = "\n".join(module_lines("m.py", finished(result)))
    assert "tests kept: not measured (4 passing)" in text
    assert "line coverage: 82 %; branch coverage: not measured" in text
    assert "mutation score: not measured" in text


def test_a_failed_module_shows_its_reason() -> None:
    """A module whose task failed is listed with the failure's message and the end of its detail."""
    lines = module_lines("m.py", finished(None, TaskStatus.FAILED))
    assert lines[0] == "m.py: failed: nothing" and lines[-1] == "  FAILED test_m.py::t"
    assert len(lines) == 1 + DETAIL_LINES and "  line 0" not in lines  # the end of the detail, where pytest's is
    assert "no result within the timeout" in module_lines("m.py", None)[0]
