"""A tiny HTTP server for ``/healthz`` (process alive), ``/readyz`` (consumer bound, can take work) and
``/metrics`` (Prometheus text format). Plain asyncio, no framework; one per service process."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from types import TracebackType

import structlog
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

log = structlog.get_logger(__name__)

Probe = Callable[[], bool]


class HealthPortUnavailable(Exception):
    """The health port cannot be listened on (taken by another process, or not allowed): a settings problem."""


def port_taken(port: int, host: str = "0.0.0.0") -> str | None:
    """Why ``port`` cannot be listened on now (e.g. ``address already in use``), or None when it can."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as asyncio's server sets it
        try:
            sock.bind((host, port))
        except OSError as exc:
            return exc.strerror or str(exc)
    return None


class Readiness:
    """The ready probe of a service whose health server starts before it is bound: not ready until ``attach``."""

    def __init__(self) -> None:
        self._probe: Probe | None = None

    def attach(self, probe: Probe) -> None:
        self._probe = probe

    def __call__(self) -> bool:
        return self._probe is not None and self._probe()


class HealthServer:
    """``async with HealthServer(port=8080, ready=lambda: actor.ready) as server: ...``; port 0 picks one."""

    def __init__(self, *, port: int, ready: Probe, live: Probe = lambda: True, host: str = "0.0.0.0") -> None:
        self._requested_port = port
        self._host = host
        self._ready = ready
        self._live = live
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        assert self._server is not None, "HealthServer is not started"
        return int(self._server.sockets[0].getsockname()[1])

    async def __aenter__(self) -> HealthServer:
        try:
            self._server = await asyncio.start_server(self._handle, self._host, self._requested_port)
        except OSError as exc:
            raise HealthPortUnavailable(
                f"cannot serve /healthz /readyz /metrics on port {self._requested_port}: "
                f"{(exc.strerror or str(exc)).lower()} (the port comes from HANDOFF_HEALTH_PORT)"
            ) from exc
        log.info("health endpoints listening", port=self.port, paths="/healthz /readyz /metrics")
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    def _route(self, path: str) -> tuple[int, bytes, str]:
        path = path.split("?", 1)[0]
        if path == "/healthz":
            return (200, b"ok\n", "text/plain") if self._live() else (503, b"not alive\n", "text/plain")
        if path == "/readyz":
            return (200, b"ready\n", "text/plain") if self._ready() else (503, b"not ready\n", "text/plain")
        if path == "/metrics":
            return 200, generate_latest(REGISTRY), CONTENT_TYPE_LATEST
        return 404, b"not found\n", "text/plain"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request_line = await asyncio.wait_for(reader.readline(), timeout=5)
            while (await asyncio.wait_for(reader.readline(), timeout=5)) not in (b"\r\n", b"\n", b""):
                pass  # headers are not needed
            parts = request_line.decode("latin-1").split()
            if len(parts) < 2 or parts[0] not in ("GET", "HEAD"):
                status, body, ctype = 405, b"method not allowed\n", "text/plain"
            else:
                status, body, ctype = self._route(parts[1])
            reason = {200: "OK", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"}[status]
            head = (
                f"HTTP/1.1 {status} {reason}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
                "Connection: close\r\n\r\n"
            ).encode("latin-1")
            writer.write(head + (body if parts and parts[0] != "HEAD" else b""))
            await writer.drain()
        except (TimeoutError, ConnectionError, UnicodeDecodeError) as exc:
            log.debug("health request dropped", error=str(exc))
        finally:
            writer.close()
