"""Compare-and-set record updates, including the create-without-reading path for a task's first event."""

from __future__ import annotations

from collections.abc import Callable

import msgspec
import pytest
from nats.js import JetStreamContext

from handoff.broker.connect import connection_of
from handoff.broker.requests import Requests
from handoff.collector.store import RecordStore
from handoff.schemas import names
from handoff.schemas.topology import Topology


class Seen(msgspec.Struct, frozen=True):
    events: tuple[str, ...] = ()


def adding(event: str) -> Callable[[Seen | None], Seen]:
    def change(record: Seen | None) -> Seen:
        events = (record or Seen()).events
        return Seen(events=events if event in events else (*events, event))

    return change


@pytest.fixture(params=["own replies", "nats-py kv"], autouse=True)
def lean(request: pytest.FixtureRequest) -> bool:
    """Every test runs with writes through the connection's own reply subscription and through nats-py's KV."""
    global LEAN
    LEAN = request.param == "own replies"
    return LEAN


LEAN = True


async def store(js: JetStreamContext) -> RecordStore[Seen]:
    kv = await js.key_value(names.TASKS_BUCKET)
    writes = Requests(connection_of(js)) if LEAN else None
    return RecordStore(
        kv, msgspec.json.Decoder(Seen), cache_size=100, attempts=5, writes=writes, bucket=names.TASKS_BUCKET
    )


async def test_a_probably_new_key_is_created_with_the_change_applied(js: JetStreamContext, topology: Topology) -> None:
    """No record yet: the guess is right, one write creates revision 1."""
    records = await store(js)
    record, written = await records.update("fresh", adding("submitted"), probably_new=True)
    assert written and record == Seen(events=("submitted",))
    entry = await (await js.key_value(names.TASKS_BUCKET)).get("fresh")
    assert entry.revision == 1 and msgspec.json.decode(entry.value or b"", type=Seen) == record
    assert records.conflicts == 0 and records.writes == 1


async def test_a_wrong_guess_folds_into_the_existing_record_instead_of_replacing_it(
    js: JetStreamContext, topology: Topology
) -> None:
    """The key exists but is not cached (a restarted collector, a redelivered submit): nothing is lost."""
    await (await store(js)).update("known", adding("finished"))
    restarted = await store(js)  # empty cache
    record, written = await restarted.update("known", adding("submitted"), probably_new=True)
    assert written and record == Seen(events=("finished", "submitted"))
    entry = await (await js.key_value(names.TASKS_BUCKET)).get("known")
    assert msgspec.json.decode(entry.value or b"", type=Seen) == record and entry.revision == 2
    assert restarted.conflicts == 0  # a wrong guess is not a conflict between writers


async def test_a_wrong_guess_that_changes_nothing_writes_nothing(js: JetStreamContext, topology: Topology) -> None:
    """A duplicate first event for an existing record costs no write."""
    await (await store(js)).update("dup", adding("submitted"))
    restarted = await store(js)
    record, written = await restarted.update("dup", adding("submitted"), probably_new=True)
    assert not written and record == Seen(events=("submitted",))
    assert (await (await js.key_value(names.TASKS_BUCKET)).get("dup")).revision == 1


async def test_a_stale_revision_is_a_conflict_that_reads_again_and_folds(
    js: JetStreamContext, topology: Topology
) -> None:
    """Two writers of one key: the one holding an old revision conflicts, re-reads and keeps both changes."""
    first, second = await store(js), await store(js)
    await first.update("shared", adding("a"))
    await second.update("shared", adding("b"))  # reads revision 1 (not cached), writes 2
    record, written = await first.update("shared", adding("c"))  # cached revision 1: stale
    assert written and record == Seen(events=("a", "b", "c"))
    assert first.conflicts == 1
    assert (await (await js.key_value(names.TASKS_BUCKET)).get("shared")).revision == 3


@pytest.mark.parametrize("probably_new", [True, False])
async def test_a_deleted_record_is_written_again_over_its_delete_marker(
    js: JetStreamContext, topology: Topology, probably_new: bool
) -> None:
    """A key an operator deleted is recreated by the next event (its delete marker's revision is the one to name)."""
    kv = await js.key_value(names.TASKS_BUCKET)
    await (await store(js)).update("gone", adding("old"))
    await kv.delete("gone")
    record, written = await (await store(js)).update("gone", adding("new"), probably_new=probably_new)
    assert written and record == Seen(events=("new",))
    entry = await kv.get("gone")
    assert entry.revision == 3 and msgspec.json.decode(entry.value or b"", type=Seen) == record
