"""Publishing to JetStream until it acknowledges, retrying with the same message id, within an overall bound.

A publish issued while the server is unreachable may never be answered; each try is bounded by the connection's
publish timeout and repeated with the same ``Nats-Msg-Id``, so the stream stores the message once however many
tries reached it.
"""

from __future__ import annotations

import asyncio

import nats.errors
import structlog
from nats.js import JetStreamContext
from nats.js.api import PubAck
from nats.js.errors import APIError, NoStreamResponseError, ServiceUnavailableError

from schemas import names

log = structlog.get_logger(__name__)

# Worth another try: the server is restarting, a stream leader is moving, the connection is reconnecting.
_TRANSIENT = (
    nats.errors.TimeoutError,
    nats.errors.NoRespondersError,
    nats.errors.ConnectionReconnectingError,
    nats.errors.OutboundBufferLimitError,
    NoStreamResponseError,
    ServiceUnavailableError,
    TimeoutError,
)


class PublishFailed(Exception):
    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


async def publish_acked(
    js: JetStreamContext,
    subject: str,
    data: bytes,
    *,
    msg_id: str | None,
    headers: dict[str, str] | None = None,
    attempt_timeout_s: float,
    total_timeout_s: float,
) -> PubAck:
    """Publish until acknowledged; ``PublishFailed`` when refused or still unacknowledged after ``total_timeout_s``."""
    all_headers = dict(headers or {})
    if msg_id:
        all_headers[names.Header.MSG_ID] = msg_id
    loop = asyncio.get_running_loop()
    deadline = loop.time() + total_timeout_s
    delay_s = 0.05
    tries = 0
    while True:
        tries += 1
        remaining = deadline - loop.time()
        try:
            return await js.publish(
                subject, data, headers=all_headers or None, timeout=max(0.05, min(attempt_timeout_s, remaining))
            )
        except _TRANSIENT as err:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise PublishFailed(
                    f"JetStream did not acknowledge {subject} after {tries} tries in {total_timeout_s:g} s: "
                    f"{type(err).__name__} {err}",
                    retryable=True,
                ) from err
            log.debug("publish not acknowledged yet; retrying with the same id", subject=subject, error=str(err))
            await asyncio.sleep(min(delay_s, remaining))
            delay_s = min(delay_s * 2, 1.0)
        except APIError as err:
            raise PublishFailed(f"JetStream refused {subject}: {err}", retryable=False) from err
        except nats.errors.Error as err:  # closed connection, bad subject, payload too large …
            raise PublishFailed(f"cannot publish {subject}: {type(err).__name__} {err}", retryable=False) from err
