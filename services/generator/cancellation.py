"""Cancel requests: a stored one stops a task before it starts, a live one interrupts it wherever it runs.

Cancels are kept in the control stream (the last one per task). Before a task starts, the generator looks its
cancel subject up there. While tasks run, every replica listens on the cancel subjects through a plain core
subscription (each replica must hear every cancel, so no queue group) and interrupts its local task. The task
id comes from the subject, so even a cancel whose body cannot be decoded still cancels.
"""

from __future__ import annotations

from collections.abc import Callable

import structlog
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from handoff.schemas import names
from handoff.schemas.codec import DecodeError, Decoder
from handoff.schemas.events import CancelRequested

log = structlog.get_logger(__name__)

CancelHandler = Callable[[str, str], None]
"""``(task_id, reason)``: interrupt the task if it runs here."""

_decoder: Decoder[CancelRequested] = Decoder(CancelRequested, max_bytes=64 * 1024)


def task_id_of(subject: str) -> str | None:
    prefix = names.CANCEL_PREFIX
    if not subject.startswith(prefix) or len(subject) == len(prefix):
        return None
    return subject[len(prefix) :]


def reason_of(data: bytes | None) -> str:
    """The reason a cancel gives; a body that cannot be decoded still cancels, with a note saying so."""
    try:
        request = _decoder.decode(data or b"")
    except DecodeError as exc:
        log.warning("cancel request body is not a CancelRequested", reason=exc.reason, error=exc.message)
        return "cancel requested (undecodable request body)"
    who = f" by {request.requested_by}" if request.requested_by else ""
    return f"cancel requested{who}" + (f": {request.reason}" if request.reason else "")


class CancelWatcher:
    """The live half: a core subscription on every cancel subject, handing each to ``on_cancel``."""

    def __init__(self, nc: NATS, *, on_cancel: CancelHandler) -> None:
        self._nc = nc
        self._on_cancel = on_cancel
        self._sub: Subscription | None = None

    async def start(self) -> None:
        self._sub = await self._nc.subscribe(names.CANCEL_FILTER, cb=self._handle)

    async def stop(self) -> None:
        if self._sub is not None and not self._nc.is_closed:
            await self._sub.unsubscribe()
        self._sub = None

    async def _handle(self, msg: Msg) -> None:
        task_id = task_id_of(msg.subject)
        if task_id is None:
            log.warning("ignoring a message on an unexpected cancel subject", subject=msg.subject)
            return
        self._on_cancel(task_id, reason_of(msg.data))
