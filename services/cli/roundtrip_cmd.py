"""``handoff roundtrip``: apply the topology and send one submit event through JetStream and back.

A smoke test of a deployment: it proves the server answers, the topology is in place and the wire contract
encodes and decodes. It reads the event back by subject without consuming it from the generators' queue.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid

from handoff.broker.connect import Broker
from handoff.cli.exit_codes import Exit
from handoff.cli.failures import broker_failures
from handoff.common.clock import utcnow
from handoff.common.logging import configure_logging
from handoff.common.settings import CommonSettings
from handoff.schemas import names
from handoff.schemas.codec import Decoder, encode
from handoff.schemas.events import Sleep, TaskSubmitted


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("roundtrip", help="smoke test: apply topology, publish one submit, read it back")
    parser.set_defaults(handler=run)


async def run(args: argparse.Namespace) -> int:
    settings = CommonSettings.from_env()
    configure_logging(settings.log)
    decoder: Decoder[TaskSubmitted] = Decoder(TaskSubmitted)
    with broker_failures("NATS unavailable"):
        async with Broker(settings, name="handoff-roundtrip", apply=True) as broker:
            for change in broker.changes:
                print(change)
            task_id = f"roundtrip-{uuid.uuid4().hex[:12]}"
            event = TaskSubmitted(
                task_id=task_id,
                payload=Sleep(duration_s=0),
                submitted_at=utcnow(),
                submitter="handoff roundtrip",
            )
            subject = names.task_subject(None, task_id, names.EventType.SUBMITTED)
            started = time.perf_counter()
            ack = await broker.js.publish(
                subject, encode(event), headers={names.Header.MSG_ID: names.submit_msg_id(task_id)}
            )
            raw = await broker.js.get_last_msg(names.EVENTS_STREAM, subject)
            back = decoder.decode(raw.data or b"")
            elapsed_ms = (time.perf_counter() - started) * 1000
            url = broker.url
    if back != event:
        print(f"handoff: round trip changed the event: sent {event!r}, got {back!r}", file=sys.stderr)
        return Exit.TASK_FAILED
    print(
        f"published {task_id} to {subject} (stream {ack.stream} seq {ack.seq}) and read it back "
        f"identical in {elapsed_ms:.1f} ms via {url}"
    )
    return Exit.OK
