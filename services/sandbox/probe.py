"""The start-up check: a sandbox that cannot start is found before any task is taken, never per task."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

from handoff.sandbox.errors import SandboxUnavailable
from handoff.sandbox.launch import Sandbox
from handoff.sandbox.settings import SandboxSettings

PROBE_TAIL_CHARS = 500


def probe(
    settings: SandboxSettings,
    *,
    ro_paths: Sequence[Path] = (),
    hidden: Sequence[Path] = (),
    path: str | None = None,
) -> Sandbox:
    """The sandbox, after running ``/bin/true`` in it once; ``SandboxUnavailable`` if that does not work."""
    sandbox = Sandbox.from_settings(settings, ro_paths=ro_paths, hidden=hidden, path=path)
    if not sandbox.enabled:
        return sandbox
    launch = sandbox.command(["true"], cwd=Path("/"), env={"PATH": "/usr/bin:/bin"})
    try:
        done = subprocess.run(
            launch.argv, env=launch.env, cwd=launch.cwd, capture_output=True, timeout=settings.probe_timeout_s,
            stdin=subprocess.DEVNULL, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        raise SandboxUnavailable(f"`bwrap ... true` did not finish within {settings.probe_timeout_s:g} s") from None
    except OSError as err:
        raise SandboxUnavailable(f"`{sandbox.bwrap}` cannot be run: {err.strerror}") from None
    if done.returncode != 0:
        said = done.stderr.decode(errors="replace").strip()[-PROBE_TAIL_CHARS:] or f"exit code {done.returncode}"
        raise SandboxUnavailable(f"`bwrap ... true` failed ({said}); user namespaces may be disabled here")
    return sandbox
