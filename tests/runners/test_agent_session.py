"""AgentSession with the SDK's TestLLM: real Agent, conversation and tools; only the LLM is scripted in-process."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from handoff.runners.base import PermanentFailure
from handoff.runners.openhands import workspace as ws
from handoff.runners.openhands.sdk import load_sdk
from handoff.schemas.events import ErrorCode
from tests.runners.conftest import task_sandbox


@pytest.fixture(scope="module", autouse=True)
def sdk() -> None:
    load_sdk()


def _call(n: int, name: str, **arguments: object):  # type: ignore[no-untyped-def]
    from openhands.sdk.llm import Message, MessageToolCall, TextContent

    call = MessageToolCall(id=f"call-{n}", name=name, arguments=json.dumps(arguments), origin="completion")
    return Message(role="assistant", content=[TextContent(text="")], tool_calls=[call])


def _session(tmp_path: Path, llms: list[object], events: list[tuple[str, str]], **options: object):  # type: ignore[no-untyped-def]
    from handoff.runners.openhands.conversation import AgentSession

    dirs = ws.TaskDirs.create(tmp_path / "work", "unit", 1)
    dirs.workspace.mkdir()
    shell = ws.write_shell(dirs, ws.agent_env(dirs), sandbox=task_sandbox())
    values: dict[str, object] = {"max_iterations": 10, "max_budget_usd": None}
    values.update(options)
    session = AgentSession(
        llms=llms,  # type: ignore[arg-type]
        dirs=dirs,
        shell=shell,
        emit=lambda stage, message: events.append((stage, message)),
        **values,  # type: ignore[arg-type]
    )
    return session, dirs


async def test_a_round_runs_the_real_tools_and_reports_actions_and_observations(tmp_path: Path) -> None:
    """The agent's file edit lands in the workspace; its action and observation become progress."""
    from openhands.sdk.testing import TestLLM

    events: list[tuple[str, str]] = []
    llm = TestLLM.from_messages(
        [_call(1, "terminal", command="echo hello > note.txt"), _call(2, "finish", message="ok")]
    )
    session, dirs = _session(tmp_path, [llm], events)
    try:
        await session.run_round("write a note")
        assert (dirs.workspace / "note.txt").read_text().strip() == "hello"
    finally:
        ws.end_agent_processes(dirs)
        await asyncio.to_thread(session.close)
    assert ("agent_action", "terminal: echo hello > note.txt") in events
    assert any(stage == "agent_observation" and "(exit 0)" in message for stage, message in events), events


async def test_a_command_too_long_for_a_progress_line_is_named_by_its_summary(tmp_path: Path) -> None:
    """isoweek 1.3.3: the offline engine's packed command showed as ``terminal: d="$(mkte…``; a short command is
    shown as it is, whatever summary it has."""
    from openhands.sdk.testing import TestLLM

    events: list[tuple[str, str]] = []
    packed = "d=$(mktemp -d); " + "; ".join(f'echo part{i} >> "$d/out"' for i in range(20)) + '; rm -r "$d"'
    llm = TestLLM.from_messages([
        _call(1, "terminal", command=packed, summary="crosshair and pynguin on isoweek.py"),
        _call(2, "terminal", command="echo short", summary="say something short"),
        _call(3, "finish", message="ok"),
    ])  # fmt: skip
    session, dirs = _session(tmp_path, [llm], events)
    try:
        await session.run_round("run the engines")
    finally:
        ws.end_agent_processes(dirs)
        await asyncio.to_thread(session.close)
    actions = [message for stage, message in events if stage == "agent_action"]
    assert actions[:2] == ["terminal: crosshair and pynguin on isoweek.py", "terminal: echo short"], actions


async def test_a_rate_limited_model_hands_over_to_the_fallback(tmp_path: Path) -> None:
    """LLMRateLimitError from the first LLM switches the conversation to the second, which finishes."""
    from openhands.sdk.llm.exceptions import LLMRateLimitError
    from openhands.sdk.testing import TestLLM

    events: list[tuple[str, str]] = []
    primary = TestLLM.from_messages([LLMRateLimitError("429")], model="primary", usage_id="handoff-0")
    fallback = TestLLM.from_messages([_call(1, "finish", message="ok")], model="fallback", usage_id="handoff-1")
    session, _ = _session(tmp_path, [primary, fallback], events)
    try:
        await session.run_round("go")
    finally:
        await asyncio.to_thread(session.close)
    assert session.model == "fallback"
    assert ("llm_fallback", "rate limited; switching to fallback") in events


async def test_the_iteration_cap_ends_a_round_as_max_iterations(tmp_path: Path) -> None:
    """An agent still working when the cap is reached fails permanently with MAX_ITERATIONS."""
    from openhands.sdk.testing import TestLLM

    llm = TestLLM.from_messages([_call(n, "terminal", command=f"echo {n}") for n in range(5)])
    session, dirs = _session(tmp_path, [llm], [], max_iterations=2)
    try:
        with pytest.raises(PermanentFailure) as failure:
            await session.run_round("go")
    finally:
        ws.end_agent_processes(dirs)
        await asyncio.to_thread(session.close)
    assert failure.value.code == ErrorCode.MAX_ITERATIONS


async def test_an_llm_error_the_runner_does_not_know_is_a_permanent_internal_failure(tmp_path: Path) -> None:
    """A scripted LLM that runs out of answers surfaces as INTERNAL with the cause in the detail."""
    from openhands.sdk.testing import TestLLM

    session, _ = _session(tmp_path, [TestLLM.from_messages([])], [])
    try:
        with pytest.raises(PermanentFailure) as failure:
            await session.run_round("go")
    finally:
        await asyncio.to_thread(session.close)
    assert failure.value.code == ErrorCode.INTERNAL
    assert "TestLLMExhaustedError" in failure.value.detail


async def test_a_long_round_is_condensed_by_the_sdk_summarizer_and_keeps_going(tmp_path: Path) -> None:
    """Past the event limit the summarizing condenser replaces old events with a summary; the round still ends."""
    from openhands.sdk.event.condenser import Condensation
    from openhands.sdk.llm import Message, TextContent
    from openhands.sdk.testing import TestLLM

    steps = [_call(n, "terminal", command=f"echo {n}") for n in range(12)] + [_call(99, "finish", message="ok")]
    llm = TestLLM.from_messages(steps)
    summary = Message(role="assistant", content=[TextContent(text="ran echo 0..5")])
    summarizer = TestLLM.from_messages([summary] * 5, usage_id="handoff-condenser")
    session, dirs = _session(tmp_path, [llm], [], max_iterations=30, condense_after_events=10, condenser_llm=summarizer)
    try:
        await session.run_round("go")
        condensations = [e for e in session.conversation.state.events if isinstance(e, Condensation)]
    finally:
        ws.end_agent_processes(dirs)
        await asyncio.to_thread(session.close)
    assert condensations, "no condensation happened"
    assert condensations[0].summary == "ran echo 0..5"
    assert condensations[0].forgotten_event_ids


@pytest.mark.parametrize(
    ("cause", "code", "retryable"),
    [
        (RuntimeError("Error code: 429 - rate limit reached for requests"), ErrorCode.LLM_RATE_LIMITED, True),
        (RuntimeError("Your account has insufficient balance"), ErrorCode.BUDGET_EXCEEDED, False),
        (RuntimeError("Error code: 401 - invalid api key"), ErrorCode.LLM_UNAVAILABLE, False),
        (RuntimeError("something else broke"), ErrorCode.INTERNAL, False),
    ],
)
def test_errors_the_sdk_did_not_type_are_mapped_with_its_own_classifier(
    cause: Exception, code: ErrorCode, retryable: bool
) -> None:
    """An untyped provider error is classified by the SDK's classifier, not by matching class names here."""
    from handoff.runners.openhands.conversation import _failure

    failure = _failure(cause, "openai/m")
    assert (failure.code, failure.retryable) == (code, retryable)
