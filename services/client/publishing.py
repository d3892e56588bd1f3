"""Publishing to JetStream until it acknowledges, retrying with the same message id, within an overall bound.

A publish issued while the server is unreachable may never be answered; each try is bounded by the connection's
publish timeout and repeated with the same ``Nats-Msg-Id``, so the stream stores the message once however many
tries reached it. What is retried, and how, is the one broker retry policy (``handoff.common.broker_retry``).
"""

from __future__ import annotations

import nats.errors
from nats.js import JetStreamContext
from nats.js.api import PubAck
from nats.js.errors import APIError

from handoff.broker.requests import Requests
from handoff.common.broker_retry import BrokerUnavailable, retry_broker_call
from handoff.schemas import names


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
    requests: Requests | None = None,
) -> PubAck:
    """Publish until acknowledged; ``PublishFailed`` when refused or still unacknowledged after ``total_timeout_s``.

    ``requests``: publish through the connection's own reply subscription (``handoff.broker.requests``) instead of
    nats-py's request; each try is bounded the same way."""
    all_headers = dict(headers or {})
    if msg_id:
        all_headers[names.Header.MSG_ID] = msg_id
    try:
        return await retry_broker_call(
            (lambda: requests.publish(subject, data, headers=all_headers or None))
            if requests is not None
            else (lambda: js.publish(subject, data, headers=all_headers or None, timeout=attempt_timeout_s)),
            what=f"publish {subject}",
            timeout_s=total_timeout_s,
            attempt_timeout_s=attempt_timeout_s + 1.0,  # also bounds a publish queued while reconnecting
        )
    except BrokerUnavailable as err:
        raise PublishFailed(
            f"JetStream did not acknowledge {subject} after {err.tries} tries in {total_timeout_s:g} s: "
            f"{type(err.last).__name__} {err.last}",
            retryable=True,
        ) from err
    except APIError as err:
        raise PublishFailed(f"JetStream refused {subject}: {err}", retryable=False) from err
    except nats.errors.Error as err:  # closed connection, bad subject, payload too large …
        raise PublishFailed(f"cannot publish {subject}: {type(err).__name__} {err}", retryable=False) from err
