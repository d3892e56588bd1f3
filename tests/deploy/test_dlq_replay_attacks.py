"""``handoff dlq`` run by the admin on dead letters a generator or collector wrote: a forged letter cannot make
the admin's replay publish anywhere but the submit subject of the task it carries, and cannot reach the
admin's terminal with raw control sequences."""

from __future__ import annotations

import asyncio
import json

from nats.js.api import StreamConfig

from handoff.common.clock import utcnow
from handoff.schemas import names
from handoff.schemas.codec import encode
from handoff.schemas.events import DeadLettered, DeadLetterReason, Sleep, TaskSubmitted
from handoff.schemas.topology import Topology
from tests.deploy.cli import handoff_as
from tests.deploy.roles import RoleClient
from tests.deploy.servers import NatsProcess


async def _forge(role: RoleClient, *, original: bytes, subject: str, detail: str = "forged") -> int:
    """Publish a DeadLettered as ``role`` (generators and collectors may) and return its DLQ sequence."""
    letter = DeadLettered(
        original=original, original_subject=subject, reason=DeadLetterReason.MAX_DELIVERIES, detail=detail,
        origin="generator", dead_lettered_at=utcnow(), deliveries=10,
    )  # fmt: skip
    ack = await role.js.publish(names.dlq_subject("generator"), encode(letter))
    return ack.seq


async def test_a_dead_letter_aimed_at_the_jetstream_api_is_refused_and_deletes_nothing(
    secured_server: NatsProcess, admin: RoleClient, generator: RoleClient
) -> None:
    """original_subject $JS.API.STREAM.DELETE.VICTIM with a non-submit body: replay refuses, VICTIM survives."""
    await admin.js.add_stream(StreamConfig(name="VICTIM", subjects=["victim.>"]))
    seq = await _forge(generator, original=b"{}", subject="$JS.API.STREAM.DELETE.VICTIM")
    replay = await asyncio.to_thread(handoff_as, "admin", secured_server, "dlq", "replay", str(seq))
    assert replay.returncode == 1, replay.stdout + replay.stderr
    assert "not a valid task submit" in replay.stderr and "Traceback" not in replay.stderr
    assert (await admin.js.stream_info("VICTIM")).config.name == "VICTIM"
    assert (await admin.js.get_msg(names.DLQ_STREAM, seq)).seq == seq  # kept for a look, not removed


async def test_a_dead_letter_aimed_at_another_tasks_record_replays_to_its_own_submit_subject(
    secured_server: NatsProcess, admin: RoleClient, collector: RoleClient, applied: Topology
) -> None:
    """A valid submit stored with original_subject $KV.handoff_tasks.<victim> goes to its own submit subject;
    the victim's record is untouched."""
    tasks = await admin.js.key_value(names.TASKS_BUCKET)
    revision = await tasks.put("victim-task", b'{"the":"victim record"}')
    mine = TaskSubmitted(task_id="mine-task", payload=Sleep(duration_s=0.1), submitted_at=utcnow())
    victim_key = names.kv_key_subject(names.TASKS_BUCKET, "victim-task")
    seq = await _forge(collector, original=encode(mine), subject=victim_key)
    replay = await asyncio.to_thread(handoff_as, "admin", secured_server, "dlq", "replay", str(seq), "--json")
    assert replay.returncode == 0, replay.stderr
    expected = names.task_subject(None, "mine-task", names.EventType.SUBMITTED)
    assert json.loads(replay.stdout) == {"replayed": seq, "task_id": "mine-task", "subject": expected}
    victim = await tasks.get("victim-task")
    assert victim.revision == revision and victim.value == b'{"the":"victim record"}'
    stored = await admin.js.get_last_msg(names.EVENTS_STREAM, expected)
    assert stored.data == encode(mine)


async def test_dlq_show_and_list_escape_control_characters(
    secured_server: NatsProcess, admin: RoleClient, generator: RoleClient
) -> None:
    """ESC sequences in a letter's detail, subject and original are shown escaped, never raw."""
    evil = "\x1b]0;owned\x07\x1b[2J\x9b31m"
    seq = await _forge(generator, original=evil.encode(), subject=f"handoff.x{evil}", detail=f"boom{evil}")
    for args in (("dlq", "show", str(seq)), ("dlq", "list")):
        shown = await asyncio.to_thread(handoff_as, "admin", secured_server, *args)
        assert shown.returncode == 0, shown.stderr
        assert "\x1b" not in shown.stdout and "\x9b" not in shown.stdout and "\x07" not in shown.stdout
        assert "\\x1b" in shown.stdout
