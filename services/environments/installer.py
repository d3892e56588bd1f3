"""The uv calls that build one environment: ``uv venv`` then ``uv pip install`` of the requirements.

Every command goes through ``wrap`` (identity by default) before it runs, so a sandbox can put its own command in
front (for example one that grants network access to the installer only). The installer gets a small environment
of its own, never the worker's: build scripts of source distributions run inside it.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from handoff.environments.errors import IndexUnreachable, InstallFailed
from handoff.environments.index import IndexConfig

Wrap = Callable[[list[str]], list[str]]
# what the installer always adds: the runner validates with ``python -m coverage run -m pytest``
TOOL_PACKAGES = ("pytest", "coverage")
PASSED_THROUGH = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "UV_CACHE_DIR", "UV_HTTP_RETRIES", "UV_HTTP_TIMEOUT",
                  "XDG_CACHE_HOME", "SSL_CERT_FILE",
                  "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy")  # fmt: skip
# uv's messages when the index cannot be reached (as opposed to refusing the request)
NETWORK_ERRORS = re.compile(
    r"error sending request|tcp connect error|dns error|failed to lookup address|connection (refused|reset)"
    r"|operation timed out|timed out|network is unreachable|request failed after \d+ retr",
    re.IGNORECASE,
)


def find_uv(configured: str | None = None) -> str:
    """``HANDOFF_ENV_UV``, else the ``uv`` next to this interpreter, else the one on PATH."""
    if configured:
        return configured
    beside = Path(sys.executable).parent / "uv"
    if beside.is_file():
        return str(beside)
    return shutil.which("uv") or "uv"


class Installer:
    def __init__(
        self, *, uv: str, index: IndexConfig, timeout_s: float, max_output_chars: int, wrap: Wrap | None = None
    ) -> None:
        self.uv = uv
        self.index = index
        self.timeout_s = timeout_s
        self.max_output_chars = max_output_chars
        self.wrap: Wrap = wrap or (lambda argv: argv)

    def environ(self) -> dict[str, str]:
        env = {name: os.environ[name] for name in PASSED_THROUGH if name in os.environ}
        env |= {"UV_NO_PROGRESS": "1", "UV_PYTHON_DOWNLOADS": "never", "NO_COLOR": "1"}
        if self.index.cert and "SSL_CERT_FILE" not in env:
            env["SSL_CERT_FILE"] = self.index.cert
        return env

    async def build(self, dest: Path, python: Path, requirements: Sequence[str]) -> str:
        """Create a relocatable virtualenv at ``dest`` and install ``requirements`` plus the tool packages."""
        log = await self._run([self.uv, "venv", "--quiet", "--relocatable", "--no-python-downloads", "--python",
                               str(python), str(dest)])  # fmt: skip
        log += await self._run([self.uv, "pip", "install", "--python", str(dest / "bin" / "python"),
                                *self.index.uv_options(), *TOOL_PACKAGES, *requirements])  # fmt: skip
        return log

    async def _run(self, argv: list[str]) -> str:
        command = self.wrap(argv)
        process = await asyncio.create_subprocess_exec(
            *command, env=self.environ(), stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        try:
            stdout, _ = await asyncio.wait_for(process.communicate(), timeout=self.timeout_s)
        except TimeoutError:
            _kill_group(process.pid)
            stdout, _ = await process.communicate()
            output = self._tail(stdout.decode(errors="replace"))
            raise IndexUnreachable(f"{argv[1]} {argv[2]} did not finish within {self.timeout_s:g} s",
                                   output=output) from None  # fmt: skip
        except asyncio.CancelledError:
            _kill_group(process.pid)
            await process.wait()
            raise
        output = stdout.decode(errors="replace")
        if process.returncode != 0:
            tail = self._tail(output)
            what = f"uv {argv[1]}{' ' + argv[2] if argv[1] == 'pip' else ''} failed (exit {process.returncode})"
            if NETWORK_ERRORS.search(output):
                raise IndexUnreachable(f"{what}: the package index could not be reached", output=tail)
            raise InstallFailed(f"{what}: {_last_error(output)}", output=tail)
        return output

    def _tail(self, text: str) -> str:
        limit = self.max_output_chars
        return text if len(text) <= limit else "…(truncated)…\n" + text[-limit:]


def _last_error(output: str) -> str:
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith(("error:", "\u00d7", "cause:"))]
    return " ".join(errors[-3:] if errors else lines[-2:])[:500] or "no output"


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
