"""JetStream calls that cannot hang: every publish and lookup is bounded and retried while the broker is away.

A publish is retried with the same ``Nats-Msg-Id``, so a retry of a publish that did land is dropped by the
stream's de-duplication. Retries follow the one broker retry policy (``handoff.common.broker_retry``): they stop
when the caller's ``abort`` event is set (a hard shutdown), and for calls that may give up (progress) after
``attempts``. Every event published here is redacted of every secret the process knows
(``handoff.common.secrets``), whatever runner or failure produced its texts.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence

import nats.errors
import nats.js.errors
import structlog
from nats.js import JetStreamContext
from nats.js.api import PubAck, RawStreamMsg

from handoff.broker.batch_get import BatchGet, BatchGetUnsupported, LastMessages
from handoff.broker.requests import Requests
from handoff.common.broker_retry import Backoff, BrokerUnavailable, retry_broker_call
from handoff.common.secrets import Redactor, process_redactor
from handoff.schemas import names
from handoff.schemas.events import Event

log = structlog.get_logger(__name__)


class PublishAborted(Exception):
    """Retrying stopped before the broker answered (shutdown, or the attempts ran out)."""


class Publisher:
    def __init__(
        self,
        js: JetStreamContext,
        *,
        timeout_s: float,
        abort: asyncio.Event,
        first_backoff_s: float = 0.1,
        max_backoff_s: float = 2.0,
        redact: Redactor | None = None,
        batch_get: BatchGet | None = None,
        requests: Requests | None = None,
    ) -> None:
        self._js = js
        self._requests = requests  # publishes and direct gets without nats-py's per-request cost (None: nats-py's)
        self._batch_get = batch_get  # None, or once the server refused one: ask one subject at a time
        self._redact = redact or process_redactor()
        self.timeout_s = timeout_s
        self._abort = abort
        self._backoff = Backoff(first_s=first_backoff_s, max_s=max_backoff_s)

    async def publish(
        self,
        subject: str,
        event: Event,
        *,
        msg_id: str,
        attempts: int | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> PubAck:
        """Publish ``event`` and wait for the stream's ack, retrying with the same msg id until it lands.

        Every text in the event passes the redactor first: this is the one door events leave a replica by.
        """
        data = self.encode(event)
        headers = {**headers, names.Header.MSG_ID.value: msg_id} if headers else {names.Header.MSG_ID.value: msg_id}
        requests = self._requests
        return await self._retrying(
            (lambda: requests.publish(subject, data, headers=headers))
            if requests is not None
            else (lambda: self._js.publish(subject, data, timeout=self.timeout_s, headers=headers)),
            what=f"publish {msg_id}",
            attempts=attempts,
        )

    def encode(self, event: Event) -> bytes:
        """``event`` as this publisher stores it: redacted of every secret the process knows."""
        return self._redact.encode(event)

    async def last_on_subject(self, stream: str, subject: str) -> RawStreamMsg | None:
        """The last message on ``subject`` (a literal subject) in ``stream``, or None if there is none.

        Read with a batch direct get where there is one (look-ups of one loop turn share a request), else a direct
        get (Handoff's streams allow them; lighter for the server and the client than the JSON API); a stream that
        does not allow them (no responders) is asked through the API instead.
        """

        requests = self._requests

        async def get() -> RawStreamMsg | None:
            try:
                try:
                    if (batch_get := self._batch_get) is not None:
                        try:
                            answer = await batch_get.last_per_subject(stream, [subject], batch=1)
                        except BatchGetUnsupported as exc:
                            self._refuse_batch_gets(exc)
                        else:
                            return answer.messages[-1] if answer.messages else None
                    if requests is not None:
                        return await requests.last_on_subject(stream, subject)
                    return await self._js.get_last_msg(stream, subject, direct=True)
                except nats.errors.NoRespondersError:
                    return await self._js.get_last_msg(stream, subject)
            except nats.js.errors.NotFoundError:
                return None

        return await self._retrying(get, what=f"look up {subject}")

    async def last_per_subject(self, stream: str, subjects: Sequence[str], *, batch: int) -> LastMessages | None:
        """The last message of every subject matching ``subjects`` in one request (``handoff.broker.batch_get``);
        None when that is not possible here (no batch gets configured, a stream without direct gets, or a server
        without batch gets): then the caller asks one subject at a time, as ``last_on_subject`` does."""
        batch_get = self._batch_get
        if batch_get is None:
            return None

        async def get() -> LastMessages | None:
            try:
                return await batch_get.last_per_subject(stream, subjects, batch=batch)
            except nats.errors.NoRespondersError:  # no direct gets on this stream (or not yet): ask one by one
                return None
            except BatchGetUnsupported as exc:
                self._refuse_batch_gets(exc)
                return None

        return await self._retrying(get, what=f"look up {', '.join(subjects)}")

    def _refuse_batch_gets(self, exc: BatchGetUnsupported) -> None:
        if self._batch_get is not None:
            log.warning("the server refused a batch direct get; looking subjects up one by one", error=str(exc))
        self._batch_get = None

    async def first_on_subject(self, stream: str, subject_filter: str) -> RawStreamMsg | None:
        """The first message on ``subject_filter`` (wildcards allowed) in ``stream``, or None if there is none."""

        async def get() -> RawStreamMsg | None:
            try:
                return await self._js.get_msg(stream, seq=1, next=True, subject=subject_filter)
            except nats.js.errors.NotFoundError:
                return None

        return await self._retrying(get, what=f"look up the first {subject_filter}")

    async def first_on_subject_since(self, stream: str, subject: str, seq: int) -> RawStreamMsg | None:
        """The first message on ``subject`` in ``stream`` at or after sequence ``seq``, or None."""

        async def get() -> RawStreamMsg | None:
            try:
                return await self._js.get_msg(stream, seq=seq, subject=subject, next=True)
            except nats.js.errors.NotFoundError:
                return None

        return await self._retrying(get, what=f"look up {subject} from #{seq}")

    async def message_at(self, stream: str, seq: int) -> RawStreamMsg | None:
        async def get() -> RawStreamMsg | None:
            try:
                return await self._js.get_msg(stream, seq)
            except nats.js.errors.NotFoundError:
                return None

        return await self._retrying(get, what=f"read {stream} #{seq}")

    async def _retrying[T](self, call: Callable[[], Awaitable[T]], *, what: str, attempts: int | None = None) -> T:
        try:
            return await retry_broker_call(
                call,
                what=what,
                abort=self._abort,
                attempts=attempts,
                attempt_timeout_s=self.timeout_s + 1.0,  # also bounds a request queued while the client reconnects
                backoff=self._backoff,
            )
        except BrokerUnavailable as exc:
            raise PublishAborted(str(exc)) from exc
