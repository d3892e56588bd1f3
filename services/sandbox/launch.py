"""``Sandbox.command``: how to start one command sandboxed, for the agent's shell wrapper and for validation.

The caller starts ``Launch.argv`` with exactly ``Launch.env`` (for bubblewrap: an empty environment, so the
sandbox's own init process, visible as ``/proc/1`` inside, holds nothing of the worker) in ``Launch.cwd``.
The command itself gets exactly ``env``, and sees the same paths as outside.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from handoff.sandbox.bwrap import bwrap_argv
from handoff.sandbox.errors import SandboxUnavailable
from handoff.sandbox.limits import NO_LIMITS, ResourceLimits
from handoff.sandbox.settings import SandboxMode, SandboxSettings


@dataclass(frozen=True, slots=True)
class Launch:
    argv: list[str]
    env: dict[str, str]
    """The environment to start ``argv`` with (not the command's: bubblewrap sets that inside)."""
    cwd: Path
    sandboxed: bool


class Sandbox:
    """One machine's sandbox configuration; ``command()`` builds a fresh sandbox for each command it wraps."""

    def __init__(
        self,
        mode: SandboxMode,
        *,
        bwrap: str | None = None,
        setsid: str | None = None,
        ro_paths: Sequence[Path] = (),
        hidden: Sequence[Path] = (),
        limits: ResourceLimits = NO_LIMITS,
        prlimit: str | None = None,
    ) -> None:
        if mode is SandboxMode.BWRAP and (bwrap is None or setsid is None):
            raise ValueError("a bubblewrap sandbox needs the bwrap and setsid binaries")
        if limits.any and prlimit is None:
            raise ValueError("resource limits need the prlimit binary")
        self.mode = mode
        self.bwrap = bwrap
        self.setsid = setsid
        self.limits = limits
        self.prlimit = prlimit
        self.ro_paths = [Path(sys.base_prefix), *ro_paths]
        self.hidden = list(hidden)

    @classmethod
    def from_settings(
        cls,
        settings: SandboxSettings,
        *,
        ro_paths: Sequence[Path] = (),
        hidden: Sequence[Path] = (),
        path: str | None = None,
    ) -> Sandbox:
        """Find the binaries on ``path`` (default: ``PATH``); raise ``SandboxUnavailable`` naming what is missing."""
        if settings.mode is SandboxMode.NONE:
            return cls(SandboxMode.NONE)
        bwrap = shutil.which("bwrap", path=path)
        if bwrap is None:
            raise SandboxUnavailable("the `bwrap` binary is not on PATH")
        setsid = shutil.which("setsid", path=path) or shutil.which("setsid", path="/usr/bin:/bin")
        if setsid is None:
            raise SandboxUnavailable("the `setsid` binary (util-linux) is not on PATH")
        prlimit = None
        if settings.limits.any:
            prlimit = shutil.which("prlimit", path=path) or shutil.which("prlimit", path="/usr/bin:/bin")
            if prlimit is None:
                raise SandboxUnavailable(
                    "the `prlimit` binary (util-linux) is not on PATH; it sets the sandbox's resource limits "
                    "(or set HANDOFF_SANDBOX_MEMORY_MIB=0 and HANDOFF_SANDBOX_FILE_MIB=0)"
                )
        return cls(SandboxMode.BWRAP, bwrap=bwrap, setsid=setsid, ro_paths=ro_paths, hidden=hidden,
                   limits=settings.limits, prlimit=prlimit)  # fmt: skip

    @property
    def enabled(self) -> bool:
        return self.mode is not SandboxMode.NONE

    def with_readable(self, paths: Iterable[Path]) -> Sandbox:
        """The same sandbox with ``paths`` readable too (a task's project environment and its interpreter)."""
        copy = Sandbox(self.mode, bwrap=self.bwrap, setsid=self.setsid, hidden=self.hidden, limits=self.limits,
                       prlimit=self.prlimit)  # fmt: skip
        copy.ro_paths = [*self.ro_paths, *(p for p in paths if p not in self.ro_paths)]
        return copy

    def command(
        self,
        argv: Sequence[str],
        *,
        cwd: Path,
        env: Mapping[str, str],
        writable: Iterable[Path] = (),
        readable: Iterable[Path] = (),
        network: bool = False,
        terminal: bool = False,
        file_limit: bool = True,
    ) -> Launch:
        """``argv`` in a new sandbox where only ``writable`` (plus a private /tmp) can be written.

        ``terminal``: the command is an interactive shell on the caller's terminal (it becomes that terminal's
        session leader, so Ctrl-C and job control work); otherwise it runs in a new session without one.
        ``file_limit``: False lifts the largest-file limit (an installer writing a big wheel); memory stays limited.
        """
        if self.bwrap is None:
            return Launch(argv=list(argv), env=dict(env), cwd=cwd, sandboxed=False)
        full = bwrap_argv(
            self.bwrap,
            argv,
            cwd=cwd,
            env=env,
            writable=writable,
            readable=[*self.ro_paths, *readable],
            hidden=self.hidden,
            network=network,
            terminal_leader=self.setsid if terminal else None,
        )
        limits = self.limits if file_limit else self.limits.without_file_limit()
        prefix = limits.prefix(self.prlimit) if self.prlimit is not None else []
        return Launch(argv=[*prefix, *full], env={}, cwd=cwd, sandboxed=True)
