"""Compare-and-set record updates, including the create-without-reading path for a task's first event."""

from __future__ import annotations

from collections.abc import Callable

import msgspec
from nats.js import JetStreamContext

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


async def store(js: JetStreamContext) -> RecordStore[Seen]:
    kv = await js.key_value(names.TASKS_BUCKET)
    return RecordStore(kv, msgspec.json.Decoder(Seen), cache_size=100, attempts=5)


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
