"""Ids that are not subject tokens (wildcards, dots, spaces) are refused by every client method, before anything
is published or read: no widened filter, no other task's record."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import aclosing
from typing import Any

import pytest
from nats.js import JetStreamContext

from handoff.client import HandoffClient
from handoff.client.errors import SubmitError
from handoff.schemas import names
from handoff.schemas.events import Sleep
from handoff.schemas.topology import Topology

BAD_IDS = ["*", ">", "a.b", "a b", "x>", "", "tab\there", "nl\n", "é", "a" * 65]


async def _watch_first(client: HandoffClient, run_id: str) -> object:
    async with aclosing(client.watch(run_id, from_start=True)) as events:
        async for event in events:
            return event
    return None


CALLS: dict[str, Callable[[HandoffClient, str], Awaitable[Any]]] = {
    "submit task_id": lambda c, bad: c.submit(Sleep(duration_s=0), task_id=bad),
    "submit run_id": lambda c, bad: c.submit(Sleep(duration_s=0), task_id="fine", run_id=bad),
    "status": lambda c, bad: c.status(bad),
    "result": lambda c, bad: c.result(bad, timeout=2),
    "gather": lambda c, bad: c.gather(["victim-1", bad], timeout=2),
    "cancel": lambda c, bad: c.cancel(bad),
    "run_status": lambda c, bad: c.run_status(bad),
    "wait_run": lambda c, bad: c.wait_run(bad, timeout=2),
    "seal_run": lambda c, bad: c.seal_run(bad, 1),
    "watch": _watch_first,
}


@pytest.mark.parametrize("call", sorted(CALLS))
async def test_every_client_method_refuses_ids_that_are_not_subject_tokens(
    client: HandoffClient, js: JetStreamContext, topology: Topology, call: str
) -> None:
    """Each method raises InvalidIdentifier (submit: a non-retryable SubmitError) for every bad id; the victim's
    task is neither read nor touched."""
    await client.submit(Sleep(duration_s=0), task_id="victim-1", run_id="victim-run")
    before = (await js.stream_info(names.EVENTS_STREAM)).state.messages
    refusal = SubmitError if call.startswith("submit") else names.InvalidIdentifier  # submit's documented error
    for bad in BAD_IDS:
        with pytest.raises(refusal, match="invalid"):
            await CALLS[call](client, bad)
    assert (await js.stream_info(names.EVENTS_STREAM)).state.messages == before


def test_ids_found_valid_are_remembered_without_letting_an_invalid_one_through() -> None:
    for i in range(names.VALID_SEEN_MAX + 10):  # past the memory's bound: it starts over, answers stay right
        assert names.valid_id(f"task-{i}")
        assert names.valid_id(f"task-{i}")
        assert not names.valid_id(f"task.{i}")
    assert len(names._VALID_SEEN) <= names.VALID_SEEN_MAX
    assert not names.valid_id(["task-1"]) and not names.valid_id(None)
    assert names.checked_id("task-1") == "task-1"
    with pytest.raises(names.InvalidIdentifier):
        names.checked_id("task.1")
