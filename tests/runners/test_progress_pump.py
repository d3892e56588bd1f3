"""The progress pump: broker failures drop a report and the task goes on; any other sink error surfaces."""

from __future__ import annotations

import asyncio

import nats.errors
import pytest

from handoff.runners.openhands.progress import ProgressPump


def keep(text: str) -> str:
    return text


async def test_a_sink_that_cannot_reach_the_broker_drops_the_report_and_keeps_order_for_the_rest() -> None:
    """One failed delivery is counted as dropped; the reports before and after it arrive in order."""
    got: list[tuple[str, str]] = []

    async def sink(stage: str, message: str) -> None:
        if message == "two":
            raise nats.errors.ConnectionClosedError
        got.append((stage, message))

    async with ProgressPump(sink, redact=keep) as pump:
        for message in ("one", "two", "three"):
            pump.emit("agent_action", message)
            await asyncio.sleep(0)
    assert got == [("agent_action", "one"), ("agent_action", "three")]
    assert (pump.sent, pump.dropped) == (2, 1)


async def test_a_sink_failing_for_another_reason_is_raised_when_the_pump_closes() -> None:
    """A bug in the sink is not swallowed: it comes out of the pump's block."""

    async def sink(stage: str, message: str) -> None:
        raise ValueError("a bug in the sink")

    with pytest.raises(ValueError, match="a bug in the sink"):
        async with ProgressPump(sink, redact=keep) as pump:
            pump.emit("agent_action", "x")


async def test_reports_emitted_just_before_closing_are_all_delivered() -> None:
    """Closing right after emitting still delivers every report, in order."""
    got: list[str] = []

    async def sink(stage: str, message: str) -> None:
        got.append(message)

    async with ProgressPump(sink, redact=keep) as pump:
        for i in range(5):
            pump.emit("round", str(i))
    assert got == ["0", "1", "2", "3", "4"]


async def test_a_message_that_already_carries_the_label_is_not_labelled_twice() -> None:
    """The result summary starts with the writer's label itself: its progress line shows the label once."""
    got: list[str] = []

    async def sink(stage: str, message: str) -> None:
        got.append(message)

    label = "[offline engine: crosshair+pynguin] "
    async with ProgressPump(sink, redact=keep, label=label) as pump:
        pump.emit("round", "agent round 1 of 3")
        pump.emit("result", label + "Wrote 1 test file(s).")
    assert got == [label + "agent round 1 of 3", label + "Wrote 1 test file(s)."]
