"""Per-process resource limits inside a sandbox, set with ``prlimit`` (util-linux) before bubblewrap starts.

Limits are inherited by every process the sandbox starts, and each process is held to them on its own:

- ``memory_mib``: address space (RLIMIT_AS); an allocation beyond it fails with an out-of-memory error in that
  process (Python: ``MemoryError``) instead of pushing the worker's machine into swap or the OOM killer;
- ``file_mib``: the largest file a process may write (RLIMIT_FSIZE); writing past it fails (``EFBIG``).

They are not a total for the sandbox (that would need a cgroup per task): many processes can each use their limit.
"""

from __future__ import annotations

import msgspec

MIB = 2**20


class ResourceLimits(msgspec.Struct, kw_only=True, frozen=True):
    memory_mib: int = 0
    """0: no limit."""
    file_mib: int = 0
    """0: no limit."""

    @property
    def any(self) -> bool:
        return self.memory_mib > 0 or self.file_mib > 0

    def without_file_limit(self) -> ResourceLimits:
        return ResourceLimits(memory_mib=self.memory_mib)

    def prefix(self, prlimit: str) -> list[str]:
        """``prlimit --as=... --fsize=... --`` (empty when there is no limit): put in front of the command."""
        options = []
        if self.memory_mib > 0:
            options.append(f"--as={self.memory_mib * MIB}")
        if self.file_mib > 0:
            options.append(f"--fsize={self.file_mib * MIB}")
        return [prlimit, *options, "--"] if options else []


NO_LIMITS = ResourceLimits()
