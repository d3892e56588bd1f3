"""nats-server processes started from the configuration files in ``deploy/nats/``, on loopback.

The files are used as they are, with exactly three textual substitutions: the client and route listeners move
from their container ports (4222, 6222 on every interface) to free loopback ports, and the monitoring listener
(loopback in the files already) from 8222 to a free port. Each
substitution must match exactly once, so an edit of the files that the tests no longer understand fails them
instead of silently testing something else. Everything else (accounts, permissions, JetStream, route
credentials, limits) comes from the files; passwords and names come from the environment, as in production.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from handoff.broker.embedded import nats_server_binary
from tests.support.net import free_port

REPO = Path(__file__).resolve().parents[2]
NATS_DIR = REPO / "deploy" / "nats"

ROLE_PASSWORDS = {
    "pipeline": "pipeline-secret",
    "generator": "generator-secret",
    "collector": "collector-secret",
    "admin": "admin-secret",
}
ROUTE_PASSWORD = "route-secret"


def password_env() -> dict[str, str]:
    """The variables ``accounts.conf`` reads, as an operator would set them."""
    return {f"NATS_{role.upper()}_PASSWORD": secret for role, secret in ROLE_PASSWORDS.items()}


def _replace_once(text: str, old: str, new: str, source: str) -> str:
    count = text.count(old)
    if count != 1:
        raise AssertionError(f"{source}: expected {old!r} exactly once, found it {count} times")
    return text.replace(old, new)


def render_config(
    source: str, target_dir: Path, *, client_port: int, http_port: int, cluster_port: int | None = None
) -> Path:
    """Copy ``deploy/nats/<source>`` and the files it includes into ``target_dir`` with loopback ports."""
    target_dir.mkdir(parents=True, exist_ok=True)
    text = (NATS_DIR / source).read_text()
    text = _replace_once(text, "\nport: 4222\n", f"\nlisten: 127.0.0.1:{client_port}\n", source)
    text = _replace_once(text, "\nhttp: 127.0.0.1:8222\n", f"\nhttp: 127.0.0.1:{http_port}\n", source)
    if cluster_port is not None:
        text = _replace_once(text, "\n  port: 6222\n", f"\n  listen: 127.0.0.1:{cluster_port}\n", source)
    for line in text.splitlines():
        if line.startswith("include "):
            included = line.split(maxsplit=1)[1].strip().strip("\"'")
            shutil.copy(NATS_DIR / included, target_dir / included)
    path = target_dir / source
    path.write_text(text)
    return path


class NatsProcess:
    """One nats-server started from a rendered configuration file with the given environment."""

    def __init__(self, *, config: Path, env: Mapping[str, str], client_port: int, http_port: int, log: Path) -> None:
        self.config = config
        self.env = dict(env)
        self.client_port = client_port
        self.http_port = http_port
        self.log = log
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.client_port}"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, *, timeout_s: float = 10.0) -> None:
        env = {"PATH": os.environ.get("PATH", ""), **self.env}
        args = [str(nats_server_binary()), "-c", str(self.config), "-l", str(self.log)]
        with self.stderr.open("wb") as stderr:  # configuration errors go here, not to the log
            self._proc = subprocess.Popen(args, env=env, stdin=subprocess.DEVNULL, stdout=stderr, stderr=stderr)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"nats-server exited with {self._proc.returncode}: {self.log_tail()}")
            if self.monitor("healthz?js-server-only=true") is not None:
                return
            time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"nats-server did not become healthy in {timeout_s} s: {self.log_tail()}")

    def monitor(self, path: str) -> dict[str, Any] | None:
        """A monitoring endpoint's JSON, or None while it does not answer 200."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/{path}", timeout=1) as resp:
                return json.loads(resp.read())  # type: ignore[no-any-return]
        except (urllib.error.URLError, OSError, ValueError):
            return None

    @property
    def stderr(self) -> Path:
        return self.log.with_suffix(".stderr")

    def log_tail(self, lines: int = 20) -> str:
        text = "".join(p.read_text(errors="replace") for p in (self.stderr, self.log) if p.exists())
        return "\n".join(text.splitlines()[-lines:])

    def kill(self) -> None:
        """SIGKILL, as a crash would."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGKILL)
            self._proc.wait()
        self._proc = None

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None


def single_server(tmp_path: Path, *, extra_env: Mapping[str, str] | None = None) -> NatsProcess:
    """``deploy/nats/nats.conf`` on loopback (not started)."""
    client_port, http_port = free_port(), free_port()
    config = render_config("nats.conf", tmp_path / "conf", client_port=client_port, http_port=http_port)
    env = {**password_env(), "NATS_STORE_DIR": str(tmp_path / "store"), **(extra_env or {})}
    return NatsProcess(config=config, env=env, client_port=client_port, http_port=http_port, log=tmp_path / "nats.log")


def cluster_servers(tmp_path: Path, *, size: int = 3) -> list[NatsProcess]:
    """``deploy/nats/cluster.conf`` as ``size`` servers on loopback that list each other as routes (not started)."""
    ports = [(free_port(), free_port(), free_port()) for _ in range(size)]
    routes = ", ".join(f"nats://route:{ROUTE_PASSWORD}@127.0.0.1:{cluster}" for _, _, cluster in ports)
    servers = []
    for index, (client_port, http_port, cluster_port) in enumerate(ports, start=1):
        name = f"nats-{index}"
        node_dir = tmp_path / name
        config = render_config(
            "cluster.conf", node_dir, client_port=client_port, http_port=http_port, cluster_port=cluster_port
        )
        env = {
            **password_env(),
            "NATS_SERVER_NAME": name,
            "NATS_ROUTES": f"[{routes}]",
            "NATS_ROUTE_PASSWORD": ROUTE_PASSWORD,
            "NATS_STORE_DIR": str(node_dir / "store"),
        }
        servers.append(
            NatsProcess(config=config, env=env, client_port=client_port, http_port=http_port, log=node_dir / "nats.log")
        )
    return servers


def env_references(*sources: str) -> set[str]:
    """The environment variables ``deploy/nats/<sources>`` read: ``$NAME`` outside strings and comments, minus
    the variables the files define themselves (``NAME = {...}``)."""
    found: set[str] = set()
    defined: set[str] = set()
    for source in sources:
        for line in (NATS_DIR / source).read_text().splitlines():
            code = re.sub(r'"[^"]*"', '""', line).split("#", 1)[0]
            found.update(re.findall(r"\$([A-Za-z_][A-Za-z0-9_]*)", code))
            defined.update(re.findall(r"^([A-Za-z_][A-Za-z0-9_]*)\s*=", code))
    return found - defined
