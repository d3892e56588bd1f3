"""Which sandbox runs the agent's commands and validation, read from ``HANDOFF_SANDBOX``."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

import msgspec

from handoff.common.env import SettingsError, env_float, env_int, env_str
from handoff.sandbox.limits import ResourceLimits

MIN_MEMORY_MIB = 256  # below this an interpreter cannot start


class SandboxMode(StrEnum):
    BWRAP = "bwrap"
    """bubblewrap: own PID, network, IPC and UTS namespaces; only the task's directories are writable."""
    NONE = "none"
    """No sandbox: commands run as the worker with a scrubbed environment. Only for trusted code."""


class SandboxSettings(msgspec.Struct, kw_only=True, frozen=True):
    mode: SandboxMode = SandboxMode.BWRAP
    probe_timeout_s: float = 10.0
    """How long the start-up check (``bwrap ... /bin/true``) may take."""
    limits: ResourceLimits = ResourceLimits(memory_mib=4096, file_mib=1024)
    """Per process in the sandbox (limits.py): address space and largest file written; 0 turns one off."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> SandboxSettings:
        d = cls()
        raw = (env_str("HANDOFF_SANDBOX", d.mode.value, env) or d.mode.value).lower()
        try:
            mode = SandboxMode(raw)
        except ValueError:
            choices = ", ".join(m.value for m in SandboxMode)
            raise SettingsError(f"HANDOFF_SANDBOX must be one of {choices}, got {raw!r}") from None
        limits = ResourceLimits(
            memory_mib=env_int("HANDOFF_SANDBOX_MEMORY_MIB", d.limits.memory_mib, env, minimum=0),
            file_mib=env_int("HANDOFF_SANDBOX_FILE_MIB", d.limits.file_mib, env, minimum=0),
        )
        if 0 < limits.memory_mib < MIN_MEMORY_MIB:
            raise SettingsError(
                f"HANDOFF_SANDBOX_MEMORY_MIB must be 0 (no limit) or at least {MIN_MEMORY_MIB}, got {limits.memory_mib}"
            )
        return cls(
            mode=mode,
            probe_timeout_s=env_float("HANDOFF_SANDBOX_PROBE_TIMEOUT_S", d.probe_timeout_s, env, minimum=0.1),
            limits=limits,
        )
