"""Connecting to NATS with Handoff's settings, and the ``Broker`` that also brings up the embedded server."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import TracebackType

import structlog
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext

from handoff.broker.embedded import EmbeddedNats
from handoff.broker.nats_client import Client
from handoff.broker.provision import Change, apply_topology
from handoff.common.settings import CommonSettings, EmbeddedSettings, NatsSettings
from handoff.schemas.topology import build_topology
from handoff.stack.state import running_stack

log = structlog.get_logger(__name__)


async def connect(settings: NatsSettings, *, name: str, url: str | None = None) -> NATS:
    """A client that gives up on the first connect after a few attempts, then reconnects forever."""

    client = Client()  # nats-py's, with a lighter header parse (handoff.broker.nats_client)

    async def on_error(exc: Exception) -> None:
        if client.is_connected or client.is_reconnecting or client.is_closed:
            log.warning("nats connection error", client=name, error=str(exc))
        else:  # a first connect's attempt: the caller gets the last error if none succeeds, and says it once
            log.info("nats connect attempt failed", client=name, error=str(exc))

    async def on_disconnected() -> None:
        if not client.is_closed:  # our own close() also reports a disconnect
            log.warning("nats disconnected", client=name)

    async def on_reconnected() -> None:
        log.info("nats reconnected", client=name)

    target = url or settings.url
    if not target:
        raise ValueError("no NATS URL: set HANDOFF_NATS_URL or use the embedded server")
    options: dict[str, object] = {
        "servers": [s.strip() for s in target.split(",")],
        "name": name,
        "connect_timeout": settings.connect_timeout_s,
        "reconnect_time_wait": settings.reconnect_wait_s,
        # nats-py applies this to the first connect too, where -1 would retry forever; bound it there and
        # switch to unlimited reconnects once connected (the reconnect loop reads the option each time).
        "max_reconnect_attempts": settings.connect_attempts,
        "inbox_prefix": settings.inbox_prefix,
        "error_cb": on_error,
        "disconnected_cb": on_disconnected,
        "reconnected_cb": on_reconnected,
    }
    if settings.creds_file:
        options["user_credentials"] = str(settings.creds_file)
    if settings.user:
        options["user"] = settings.user
        options["password"] = settings.password or ""
    if settings.token:
        options["token"] = settings.token
    await client.connect(**options)  # type: ignore[arg-type]
    client.options["max_reconnect_attempts"] = -1
    return client


def connection_of(js: JetStreamContext) -> NATS:
    """The connection a JetStream context talks through (nats-py keeps it private; services that need core
    requests beside JetStream calls take it from there rather than being handed both)."""
    nc: NATS = js._nc
    return nc


async def close_quietly(nc: NATS) -> None:
    """Close without draining. nats-py 2.16 raises TypeError from close() when the client is disconnected with
    unsent data buffered (its flusher is already gone); the connection is closed all the same, so say so."""
    try:
        await nc.close()
    except TypeError as exc:
        log.warning("nats client closed while disconnected; buffered messages were not sent", error=str(exc))


class Broker:
    """A NATS connection plus JetStream, with the embedded server started first when no URL is set.

    ``async with Broker(settings, name="collector") as broker: broker.js ...``. Closing never drains (a drain
    with pull subscriptions hangs for its whole timeout): services stop their own consumers first.
    """

    def __init__(self, settings: CommonSettings, *, name: str, apply: bool | None = None) -> None:
        self.settings = settings
        self.name = name
        self._apply = settings.apply_topology if apply is None else apply
        self.embedded: EmbeddedNats | None = None
        self.nc: NATS | None = None
        self.changes: list[Change] = []
        self._url = settings.nats.url

    @property
    def url(self) -> str:
        if self._url:
            return self._url
        assert self.embedded is not None
        return self.embedded.url

    @property
    def js(self) -> JetStreamContext:
        assert self.nc is not None, "Broker is not started"
        return self.nc.jetstream()

    async def __aenter__(self) -> Broker:
        if not self._url:
            stack = running_stack(Path(self.settings.embedded.data_dir))
            if stack is not None:  # a `handoff up` on this machine owns the embedded server: use it
                self._url = stack.url
        if not self._url:
            self.embedded = embedded_server(self.settings.embedded)
            await asyncio.to_thread(self.embedded.start)
            log.info("embedded nats-server running", url=self.embedded.url, data_dir=str(self.embedded.data_dir))
        try:
            self.nc = await connect(self.settings.nats, name=self.name, url=self.url)
            if self._apply:
                self.changes = await apply_topology(self.js, build_topology(self.settings.topology))
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self.nc is not None and not self.nc.is_closed:
            await close_quietly(self.nc)
        self.nc = None
        if self.embedded is not None:
            await asyncio.to_thread(self.embedded.stop)
            self.embedded = None


def embedded_server(settings: EmbeddedSettings) -> EmbeddedNats:
    return EmbeddedNats(
        data_dir=Path(settings.data_dir),
        port=settings.port,
        host=settings.host,
        start_timeout_s=settings.start_timeout_s,
    )
