"""Every way an agent run can end maps onto a typed result or failure the generator can act on."""

from __future__ import annotations

from pathlib import Path

import pytest
from nats.js import JetStreamContext

from handoff.artifacts.snapshots import upload_snapshot
from handoff.artifacts.store import get_artifact
from handoff.runners.base import PermanentFailure, TransientFailure
from handoff.runners.openhands import OpenHandsTestRunner
from handoff.schemas.events import ErrorCode, SourceSnapshot
from handoff.schemas.topology import Topology
from handoff.scripted_model import Fail, ScriptedModelServer
from handoff.scripted_model.scripts import Script, create_file, finish, replace_in_file, run
from tests.runners.conftest import (
    FAILING_TEST,
    ONLY_FAILING_TEST,
    PASSING_TEST,
    TEST_FILE,
    ProgressLog,
    in_workspace,
    llm_settings,
    make_ctx,
    runner_settings,
)


@pytest.fixture
async def source(js: JetStreamContext, topology: Topology, sample_project: Path) -> SourceSnapshot:
    return await upload_snapshot(js, sample_project)


def _runner(tmp_path: Path, server: ScriptedModelServer, **overrides: object) -> OpenHandsTestRunner:
    llm_overrides = overrides.pop("llm", {})
    return OpenHandsTestRunner(runner_settings(tmp_path, llm_settings(server.base_url, **llm_overrides), **overrides))


async def test_a_failing_test_gets_feedback_and_is_fixed_in_round_two(
    js: JetStreamContext, source: SourceSnapshot, tmp_path: Path, model_server: ScriptedModelServer
) -> None:
    """Round 1's only test fails; the pytest message goes back to the agent; round 2 fixes it and it is kept."""
    seen_feedback: list[str] = []

    def fix(path: str):  # type: ignore[no-untyped-def]
        return replace_in_file(path, "== 7", "== 6")

    def remember_feedback(request):  # type: ignore[no-untyped-def]
        seen_feedback.append(request.last_user_text)
        return in_workspace(TEST_FILE, fix)(request)

    model_server.policy = Script(
        [in_workspace(TEST_FILE, lambda p: create_file(p, ONLY_FAILING_TEST)), finish(), remember_feedback, finish()]
    )
    progress = ProgressLog()
    result = await _runner(tmp_path, model_server).run(make_ctx(js, source, progress))
    assert result.rounds_used == 2
    assert (result.tests_passed, result.tests_failed) == (1, 0)
    assert result.tests_kept == [f"{TEST_FILE}::test_area_multiplies_sides"] and result.tests_dropped == []
    assert "Validation of your tests failed (round 1 of 2)" in seen_feedback[0]
    assert "assert 6 == 7" in seen_feedback[0], "the agent did not get pytest's output"
    assert any("round 1: failed" in message for stage, message in progress.events if stage == "validation")


async def test_an_agent_that_never_fixes_its_test_ends_as_validation_failed_with_the_reasons(
    js: JetStreamContext, source: SourceSnapshot, tmp_path: Path, model_server: ScriptedModelServer
) -> None:
    """When no round keeps a test, the failure is permanent and names each dropped test with pytest's message."""
    model_server.policy = Script([in_workspace(TEST_FILE, lambda p: create_file(p, ONLY_FAILING_TEST)), finish()])
    with pytest.raises(PermanentFailure) as failure:
        await _runner(tmp_path, model_server).run(make_ctx(js, source, ProgressLog()))
    assert failure.value.code == ErrorCode.VALIDATION_FAILED
    assert "after 2 round(s): no test was kept (1 dropped)" in failure.value.message
    assert f"- {TEST_FILE}::test_area_multiplies_sides: failed: fails: assert 6 == 7" in failure.value.detail
    assert "task-1/1/patch.diff" in failure.value.detail


async def test_a_failing_test_among_passing_ones_is_dropped_and_the_others_are_handed_over(
    js: JetStreamContext, source: SourceSnapshot, tmp_path: Path, model_server: ScriptedModelServer
) -> None:
    """One failing test costs that test, not the round: the two passing ones are kept and the task succeeds."""
    model_server.policy = Script([in_workspace(TEST_FILE, lambda p: create_file(p, FAILING_TEST)), finish()])
    result = await _runner(tmp_path, model_server).run(make_ctx(js, source, ProgressLog()))
    assert (result.tests_collected, result.tests_passed, result.rounds_used) == (2, 2, 1)
    assert [(d.test, d.verdict.value) for d in result.tests_dropped] == [
        (f"{TEST_FILE}::test_area_multiplies_sides", "failed")
    ]
    assert "assert 6 == 7" in result.tests_dropped[0].reason
    assert "def test_area_multiplies_sides" not in (await get_artifact(js, result.files[0])).decode()


async def test_an_agent_that_writes_nothing_fails_as_no_files_produced(
    js: JetStreamContext, source: SourceSnapshot, tmp_path: Path, model_server: ScriptedModelServer
) -> None:
    """A run that only says it is done, in every round, is not a success: NO_FILES_PRODUCED, whose detail says
    how far the project's own tests get against the goal and what they miss, as a validation failure's does."""
    model_server.policy = Script([finish("all done, trust me")])
    progress = ProgressLog()
    with pytest.raises(PermanentFailure) as failure:
        await _runner(tmp_path, model_server).run(make_ctx(js, source, progress))
    assert failure.value.code == ErrorCode.NO_FILES_PRODUCED
    assert "The project's existing tests reach: shapes/geometry.py" in failure.value.detail, failure.value.detail
    assert "the agent's last message: all done, trust me" in failure.value.detail
    said = [m for stage, m in progress.events if stage == "validation"]
    assert any("no test written" in m and "existing tests reach" in m for m in said), said
    assert not any("running 0 test file(s)" in m for m in said), said


async def test_an_agent_that_writes_nothing_where_the_projects_tests_meet_the_goal_finds_nothing_to_add(
    js: JetStreamContext, topology: Topology, sample_project: Path, tmp_path: Path, model_server: ScriptedModelServer
) -> None:
    """No test written (an engine that timed out, an agent that only says it is done) is not a failure when the
    project's own tests already reach the goal: the baseline is measured, and there is nothing to add."""
    (sample_project / "tests" / "test_geometry.py").write_text(
        "import pytest\n\nfrom shapes.geometry import area, describe\n\n\n"
        "def test_area():\n    assert area(2, 3) == 6\n    with pytest.raises(ValueError):\n        area(-1, 1)\n"
        "    with pytest.raises(ValueError):\n        area(1, -1)\n\n\n"
        "def test_describe():\n    assert describe(2, 2) == 'square'\n    assert describe(2, 3) == 'rectangle'\n"
    )
    source = await upload_snapshot(js, sample_project)
    model_server.policy = Script([finish("all done, trust me")])
    result = await _runner(tmp_path, model_server).run(make_ctx(js, source, ProgressLog()))
    assert not result.files_produced and not result.tests_kept
    assert "already meet the coverage goal" in result.summary
    assert "No test was written; the agent's last message: all done, trust me." in result.summary, result.summary
    assert [(q.baseline_line_pct, q.baseline_branch_pct) for q in result.quality] == [(100.0, 100.0)]


async def test_an_agent_repeating_itself_ends_as_agent_stuck(
    js: JetStreamContext, source: SourceSnapshot, tmp_path: Path, model_server: ScriptedModelServer
) -> None:
    """The same command with the same output over and over is detected as stuck."""
    model_server.policy = Script([run("ls")])
    with pytest.raises(PermanentFailure) as failure:
        await _runner(tmp_path, model_server).run(make_ctx(js, source, ProgressLog()))
    assert failure.value.code == ErrorCode.AGENT_STUCK


async def test_an_agent_that_never_finishes_ends_at_max_iterations(
    js: JetStreamContext, source: SourceSnapshot, tmp_path: Path, model_server: ScriptedModelServer
) -> None:
    """Different commands forever hit the iteration cap: MAX_ITERATIONS."""
    model_server.policy = lambda request: run(f"echo step {request.step}")
    with pytest.raises(PermanentFailure) as failure:
        await _runner(tmp_path, model_server, max_iterations=3).run(make_ctx(js, source, ProgressLog()))
    assert failure.value.code == ErrorCode.MAX_ITERATIONS


async def test_when_the_cap_fires_in_round_two_the_task_returns_round_one_validated_tests(
    js: JetStreamContext, source: SourceSnapshot, tmp_path: Path, model_server: ScriptedModelServer
) -> None:
    """Round 1 passes validation below the goal; round 2 breaks the test and hits the cap: round 1 is returned."""
    partial = PASSING_TEST.split("\n\n\ndef test_area_refuses")[0] + "\n"
    model_server.policy = Script(
        [
            in_workspace(TEST_FILE, lambda p: create_file(p, partial)),
            finish(),
            in_workspace(TEST_FILE, lambda p: replace_in_file(p, "== 6", "== 7")),
        ],
        then=lambda request: run(f"echo step {request.step}"),
    )
    progress = ProgressLog()
    runner = _runner(tmp_path, model_server, max_iterations=4)
    result = await runner.run(make_ctx(js, source, progress, coverage_goal_pct=100.0))

    assert result.stopped_by == ErrorCode.MAX_ITERATIONS
    assert (result.goal_met, result.rounds_used) == (False, 2)
    assert (result.tests_collected, result.tests_passed) == (1, 1)
    assert "Round 2 ended by max_iterations; this is round 1's validated state." in result.summary
    assert result.patch is not None
    patch = (await get_artifact(js, result.patch)).decode()
    assert "assert area(2, 3) == 6" in patch and "== 7" not in patch


async def test_a_run_over_its_cost_budget_ends_as_budget_exceeded(
    js: JetStreamContext, source: SourceSnapshot, tmp_path: Path, model_server: ScriptedModelServer
) -> None:
    """With a price per token, the conversation's cost crosses the budget and the run stops."""
    model_server.policy = lambda request: run(f"echo step {request.step}")
    runner = _runner(
        tmp_path,
        model_server,
        llm={"input_cost_per_token": 0.0001, "output_cost_per_token": 0.0001},
        max_budget_usd=1.0,
    )
    with pytest.raises(PermanentFailure) as failure:
        await runner.run(make_ctx(js, source, ProgressLog()))
    assert failure.value.code == ErrorCode.BUDGET_EXCEEDED
    assert "budget" in failure.value.message


async def test_a_run_over_its_token_cap_ends_as_budget_exceeded_even_for_a_model_without_a_price(
    js: JetStreamContext, source: SourceSnapshot, tmp_path: Path, model_server: ScriptedModelServer
) -> None:
    """With no price per token the cost cap never fires; the token cap from the conversation's stats does."""
    model_server.policy = lambda request: run(f"echo step {request.step}")
    runner = _runner(tmp_path, model_server, max_iterations=50, max_tokens=20_000)
    with pytest.raises(PermanentFailure) as failure:
        await runner.run(make_ctx(js, source, ProgressLog()))
    assert failure.value.code == ErrorCode.BUDGET_EXCEEDED
    assert "over its cap of 20000 (HANDOFF_AGENT_MAX_TOKENS)" in failure.value.message
    used = int(failure.value.message.split("used ")[1].split(" tokens")[0])
    assert used > 20_000


async def test_an_unreachable_llm_is_retried_then_fails_as_llm_unavailable(
    js: JetStreamContext, source: SourceSnapshot, tmp_path: Path, unused_tcp_port: int
) -> None:
    """Connection refused: the SDK retries (reported as progress), then a transient LLM_UNAVAILABLE."""
    from handoff.runners.openhands.settings import RunnerSettings  # noqa: F401  (type of the settings)

    llm = llm_settings(f"http://127.0.0.1:{unused_tcp_port}/v1", retries=2)
    progress = ProgressLog()
    runner = OpenHandsTestRunner(runner_settings(tmp_path, llm))
    with pytest.raises(TransientFailure) as failure:
        await runner.run(make_ctx(js, source, progress))
    assert failure.value.code == ErrorCode.LLM_UNAVAILABLE
    assert failure.value.retryable
    assert progress.stages().count("llm_retry") == 2, progress.text()


async def test_rate_limits_fall_back_to_the_next_model(
    js: JetStreamContext, source: SourceSnapshot, tmp_path: Path, model_server: ScriptedModelServer
) -> None:
    """The primary model answers 429; the runner switches to the fallback, which does the work."""
    writer = Script([in_workspace(TEST_FILE, lambda p: create_file(p, PASSING_TEST)), finish()])
    model_server.policy = lambda request: Fail(429, "slow down") if request.model == "primary" else writer(request)
    progress = ProgressLog()
    runner = _runner(tmp_path, model_server, llm={"model": "openai/primary", "fallback_models": ("openai/fallback",)})
    result = await runner.run(make_ctx(js, source, progress))
    assert result.tests_passed == 3
    assert result.usage.model == "openai/fallback"
    assert "llm_fallback" in progress.stages()
    assert model_server.requests_by_model["primary"] >= 1


async def test_when_every_model_is_rate_limited_the_failure_is_transient(
    js: JetStreamContext, source: SourceSnapshot, tmp_path: Path, model_server: ScriptedModelServer
) -> None:
    """All models answering 429 ends as a retryable LLM_RATE_LIMITED."""
    model_server.policy = lambda request: Fail(429, "slow down")
    runner = _runner(tmp_path, model_server, llm={"model": "openai/primary", "fallback_models": ("openai/fallback",)})
    with pytest.raises(TransientFailure) as failure:
        await runner.run(make_ctx(js, source, ProgressLog()))
    assert failure.value.code == ErrorCode.LLM_RATE_LIMITED


async def test_a_missing_snapshot_fails_as_snapshot_missing(
    js: JetStreamContext, topology: Topology, tmp_path: Path, model_server: ScriptedModelServer
) -> None:
    """A task referencing a snapshot nobody uploaded fails permanently before any agent runs."""
    ghost = SourceSnapshot(digest="0" * 64, size_bytes=1, files=1)
    requests_before = model_server.requests
    with pytest.raises(PermanentFailure) as failure:
        await _runner(tmp_path, model_server).run(make_ctx(js, ghost, ProgressLog()))
    assert failure.value.code == ErrorCode.SNAPSHOT_MISSING
    assert model_server.requests == requests_before
