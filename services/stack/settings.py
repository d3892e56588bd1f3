"""Settings of ``handoff up``."""

from __future__ import annotations

from collections.abc import Mapping

import msgspec

from handoff.common.env import env_float, env_int, env_str
from handoff.common.settings import CommonSettings

CHILD_STOP_MARGIN_S = 5.0
"""Added to a child's own longest graceful shutdown: the default wait before ``handoff up`` kills it (process exit,
the health server and the broker connection closing)."""


class StackSettings(msgspec.Struct, kw_only=True, frozen=True):
    common: CommonSettings
    generators: int = 2
    slots_per_generator: int | None = None  # None: the generator's own default
    health_base_port: int | None = None  # collector on base, generator i on base + 1 + i
    child_stop_timeout_s: float | None = None
    """``HANDOFF_UP_CHILD_STOP_TIMEOUT_S``: wait this long for every child; None: each child's own
    ``shutdown_bound_s`` (from the settings it reads) plus ``CHILD_STOP_MARGIN_S``."""
    restart_backoff_max_s: float = 30.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> StackSettings:
        health = env_int("HANDOFF_UP_HEALTH_BASE_PORT", 0, env, minimum=0, maximum=65535)
        stop_timeout_s = None  # unset: each child's own bound (see the field)
        if env_str("HANDOFF_UP_CHILD_STOP_TIMEOUT_S", None, env) is not None:
            stop_timeout_s = env_float("HANDOFF_UP_CHILD_STOP_TIMEOUT_S", 0.0, env, minimum=1.0)
        return cls(
            common=CommonSettings.from_env(env),
            generators=env_int("HANDOFF_UP_GENERATORS", 2, env, minimum=1),
            health_base_port=health or None,
            child_stop_timeout_s=stop_timeout_s,
        )
