"""Which sandbox runs the agent's commands and validation, read from ``HANDOFF_SANDBOX``."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

import msgspec

from handoff.common.env import SettingsError, env_float, env_str


class SandboxMode(StrEnum):
    BWRAP = "bwrap"
    """bubblewrap: own PID, network, IPC and UTS namespaces; only the task's directories are writable."""
    NONE = "none"
    """No sandbox: commands run as the worker with a scrubbed environment. Only for trusted code."""


class SandboxSettings(msgspec.Struct, kw_only=True, frozen=True):
    mode: SandboxMode = SandboxMode.BWRAP
    probe_timeout_s: float = 10.0
    """How long the start-up check (``bwrap ... /bin/true``) may take."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> SandboxSettings:
        d = cls()
        raw = (env_str("HANDOFF_SANDBOX", d.mode.value, env) or d.mode.value).lower()
        try:
            mode = SandboxMode(raw)
        except ValueError:
            choices = ", ".join(m.value for m in SandboxMode)
            raise SettingsError(f"HANDOFF_SANDBOX must be one of {choices}, got {raw!r}") from None
        return cls(
            mode=mode,
            probe_timeout_s=env_float("HANDOFF_SANDBOX_PROBE_TIMEOUT_S", d.probe_timeout_s, env, minimum=0.1),
        )
