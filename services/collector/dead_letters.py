"""Rejected messages: dead-lettered with their reason, or (bad submits) left to the generator, never lost silently.

A bad submit is dead-lettered by the generator, which reads every submit too; the collector only logs it and
terminates its own delivery, so one bad message does not become two dead letters. Everything else the collector
cannot use goes to ``handoff.dlq.collector`` as a ``DeadLettered`` carrying the original bytes, then is
terminated (``term()``), so it is never redelivered and never blocks the events behind it.
"""

from __future__ import annotations

import re

import structlog
from nats.js import JetStreamContext

from handoff.collector.intake import Rejected
from handoff.common.broker_retry import retry_broker_call
from handoff.common.clock import utcnow
from handoff.observability import metrics
from handoff.schemas import names
from handoff.schemas.codec import encode
from handoff.schemas.events import DeadLettered

log = structlog.get_logger(__name__)

ORIGIN = "collector"
_IDENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_MAX_DETAIL = 65_536


def _ident(value: str | None) -> str | None:
    return value if value is not None and _IDENT.match(value) else None


async def reject(js: JetStreamContext, item: Rejected, *, publish_timeout_s: float) -> None:
    """Dead-letter (or, for submits, log) ``item`` and terminate its delivery.

    Transient broker errors are retried for up to ``publish_timeout_s`` (then ``BrokerUnavailable``); other NATS
    errors propagate."""
    msg = item.msg
    meta = msg.metadata
    if item.is_submit:
        log.warning(
            "bad submit left to the generator's dead-lettering",
            subject=msg.subject,
            reason=item.reason.value,
            detail=item.detail[:500],
            stream_seq=meta.sequence.stream,
        )
        await msg.term()
        return
    letter = DeadLettered(
        original=msg.data,
        original_subject=msg.subject[:1024],
        reason=item.reason,
        detail=item.detail[:_MAX_DETAIL],
        origin=ORIGIN,
        dead_lettered_at=utcnow(),
        task_id=_ident(item.task_id),
        run_id=_ident(item.run_id),
        stream_seq=meta.sequence.stream,
        deliveries=meta.num_delivered,
        headers={k: v for k, v in (msg.headers or {}).items() if isinstance(v, str)},
    )
    data = encode(letter)
    headers: dict[str, str] = {
        names.Header.MSG_ID: names.dead_letter_msg_id(meta.stream, meta.sequence.stream),
        names.Header.DEAD_LETTER_REASON: item.reason.value,
    }
    await retry_broker_call(
        lambda: js.publish(names.dlq_subject(ORIGIN), data, headers=headers, timeout=publish_timeout_s),
        what=f"dead-letter {msg.subject}",
        timeout_s=publish_timeout_s,
    )
    await msg.term()
    metrics.DEAD_LETTERS.labels(origin=ORIGIN, reason=item.reason.value).inc()
    log.error(
        "event dead-lettered",
        subject=msg.subject,
        reason=item.reason.value,
        detail=item.detail[:500],
        stream_seq=meta.sequence.stream,
    )
