"""The uv calls that build one environment: ``uv venv`` then ``uv pip install`` of the requirements.

Build scripts of source distributions run inside these calls, so each runs in the task sandbox when one is given
(``sandbox.py``): it can write only the environment being built and uv's package cache, reach the network only
when the index is not a local folder, and never sees the worker's environment, home, files or processes. Without
a sandbox (``HANDOFF_SANDBOX=none``) it still gets a small environment of its own, never the worker's.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from handoff.environments.errors import IndexUnreachable, InstallFailed
from handoff.environments.index import IndexConfig
from handoff.environments.sandbox import InstallSandbox

# what the installer always adds: the runner validates with ``python -m coverage run -m pytest``
TOOL_PACKAGES = ("pytest", "coverage")
# the overrides of the last install with any, kept in the environment (what it was installed with)
OVERRIDES_FILE = "handoff-overrides.txt"
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
        self,
        *,
        uv: str,
        index: IndexConfig,
        timeout_s: float,
        max_output_chars: int,
        sandbox: InstallSandbox | None = None,
    ) -> None:
        self.uv = uv
        self.index = index
        self.timeout_s = timeout_s
        self.max_output_chars = max_output_chars
        self.sandbox = sandbox

    def environ(self) -> dict[str, str]:
        env = {name: os.environ[name] for name in PASSED_THROUGH if name in os.environ}
        env |= {"UV_NO_PROGRESS": "1", "UV_PYTHON_DOWNLOADS": "never", "NO_COLOR": "1"}
        if self.index.cert and "SSL_CERT_FILE" not in env:
            env["SSL_CERT_FILE"] = self.index.cert
        return env

    async def build(self, dest: Path, python: Path, requirements: Sequence[str]) -> str:
        """Create a relocatable virtualenv at ``dest`` and install ``requirements`` plus the tool packages."""
        return await self.create(dest, python) + await self.install(dest, python, requirements)

    async def create(self, dest: Path, python: Path) -> str:
        """An empty relocatable virtualenv at ``dest``, made from ``python``."""
        # it exists before the sandbox that may write only there starts
        await asyncio.to_thread(dest.mkdir, parents=True, exist_ok=True)
        return await self._run([self.uv, "venv", "--quiet", "--relocatable", "--no-python-downloads", "--python",
                                str(python), str(dest)], dest=dest, python=python)  # fmt: skip

    async def install(
        self, dest: Path, python: Path, requirements: Sequence[str], *, overrides: Sequence[str] = ()
    ) -> str:
        """``requirements`` plus the tool packages into the virtualenv at ``dest``; ``overrides`` (requirement
        lines) replace every other requirement on their packages, those of dependencies included (uv's
        ``--override``). A refused resolution installs nothing, so a refused call can be repeated."""
        options = []
        if overrides:  # a file: uv takes overrides from files only. In the environment, which the sandbox can read
            file = dest / OVERRIDES_FILE
            await asyncio.to_thread(file.write_text, "".join(f"{line}\n" for line in overrides))
            options = ["--override", str(file)]
        # --compile-bytecode: the checks run the environment read-only (sandbox) and with PYTHONDONTWRITEBYTECODE,
        # so bytecode not written now is compiled again by every run (about 1 s per pytest start)
        return await self._run([self.uv, "pip", "install", "--compile-bytecode", "--python",
                                str(dest / "bin" / "python"), *self.index.uv_options(), *options, *TOOL_PACKAGES,
                                *requirements],
                               dest=dest, python=python)  # fmt: skip

    async def _run(self, argv: list[str], *, dest: Path, python: Path) -> str:
        env = self.environ()
        command, start_env, cwd = argv, env, dest
        if self.sandbox is not None:
            launch = self.sandbox.launch(argv, env=env, dest=dest, python=python, uv=Path(self.uv), index=self.index)
            command, start_env, cwd = launch.argv, launch.env, launch.cwd
        process = await asyncio.create_subprocess_exec(
            *command, env=start_env, cwd=cwd, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
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
