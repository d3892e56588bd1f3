"""Loopback helpers for tests that talk to processes: a free port, an HTTP GET, a wait on a condition."""

from __future__ import annotations

import asyncio
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def free_port_range(count: int) -> int:
    """The first of ``count`` consecutive free ports (``handoff up --health-base-port``: the collector takes the
    first, each generator the next). A single free port says nothing of the one after it, which another test's
    server may hold: the generator could not bind it, or a GET there reached a NATS server."""
    for _ in range(100):
        base = free_port()
        if base + count > 65536:
            continue
        held: list[socket.socket] = []
        try:
            for port in range(base, base + count):
                sock = socket.socket()
                held.append(sock)
                sock.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            for sock in held:
                sock.close()
        return base
    raise RuntimeError(f"no {count} consecutive free ports found")


def http_get(port: int, path: str) -> tuple[int, str]:
    """Status and body of ``GET http://127.0.0.1:<port><path>``; status 0 while nothing listens there."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return int(response.status), response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, ""
    except urllib.error.URLError:
        return 0, ""


async def http_get_async(port: int, path: str) -> tuple[int, str]:
    return await asyncio.to_thread(http_get, port, path)


def wait_until[T](probe: Callable[[], T], timeout_s: float, what: str) -> T:
    """Call ``probe`` until it returns something truthy (for tests outside an event loop); fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
