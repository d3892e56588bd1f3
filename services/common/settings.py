"""Settings shared by every service, read from ``HANDOFF_*`` environment variables.

Each actor has its own settings object next to its code (``handoff.generator.settings`` …) that embeds these.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import msgspec

from handoff.common.env import SettingsError, env_bool, env_float, env_floats, env_int, env_str
from handoff.schemas.topology import TopologyParams


class NatsSettings(msgspec.Struct, kw_only=True, frozen=True):
    """How to reach NATS. With no ``url``, commands start the embedded nats-server."""

    url: str | None = None
    creds_file: Path | None = None
    user: str | None = None
    password: str | None = msgspec.field(default=None)
    token: str | None = None
    connect_timeout_s: float = 5.0
    connect_attempts: int = 3
    reconnect_wait_s: float = 1.0
    publish_timeout_s: float = 5.0
    inbox_prefix: str = "_INBOX"  # per-role prefixes keep one role's replies away from the others

    def __repr__(self) -> str:  # never print secrets
        return f"NatsSettings(url={self.url!r}, user={self.user!r}, creds_file={self.creds_file!r})"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> NatsSettings:
        creds = env_str("HANDOFF_NATS_CREDS", None, env)
        return cls(
            url=env_str("HANDOFF_NATS_URL", None, env),
            creds_file=Path(creds) if creds else None,
            user=env_str("HANDOFF_NATS_USER", None, env),
            password=env_str("HANDOFF_NATS_PASSWORD", None, env),
            token=env_str("HANDOFF_NATS_TOKEN", None, env),
            connect_timeout_s=env_float("HANDOFF_NATS_CONNECT_TIMEOUT_S", 5.0, env, minimum=0.1),
            connect_attempts=env_int("HANDOFF_NATS_CONNECT_ATTEMPTS", 3, env, minimum=1),
            reconnect_wait_s=env_float("HANDOFF_NATS_RECONNECT_WAIT_S", 1.0, env, minimum=0.0),
            publish_timeout_s=env_float("HANDOFF_NATS_PUBLISH_TIMEOUT_S", 5.0, env, minimum=0.1),
            inbox_prefix=_inbox_prefix(env_str("HANDOFF_NATS_INBOX_PREFIX", "_INBOX", env) or "_INBOX"),
        )


def _inbox_prefix(value: str) -> str:
    if not value or any(c in value for c in " .*>") or value.startswith("$"):
        raise SettingsError(f"HANDOFF_NATS_INBOX_PREFIX must be one subject token like _INBOX_generator, got {value!r}")
    return value


class EmbeddedSettings(msgspec.Struct, kw_only=True, frozen=True):
    """The nats-server Handoff starts itself when no URL is configured."""

    data_dir: Path
    port: int = 4222
    host: str = "127.0.0.1"
    start_timeout_s: float = 10.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> EmbeddedSettings:
        import platformdirs  # on first use: the light client reads settings without needing it

        default_dir = Path(platformdirs.user_data_dir("handoff")) / "nats"
        data_dir = env_str("HANDOFF_DATA_DIR", None, env)
        return cls(
            data_dir=Path(data_dir) / "nats" if data_dir else default_dir,
            port=env_int("HANDOFF_EMBEDDED_PORT", 4222, env, minimum=0, maximum=65535),
            start_timeout_s=env_float("HANDOFF_EMBEDDED_START_TIMEOUT_S", 10.0, env, minimum=1.0),
        )


def topology_from_env(env: Mapping[str, str] | None = None) -> TopologyParams:
    d = TopologyParams()
    params = TopologyParams(
        replicas=env_int("HANDOFF_REPLICAS", d.replicas, env, minimum=1),
        ack_wait_s=env_float("HANDOFF_ACK_WAIT_S", d.ack_wait_s, env, minimum=1.0),
        max_deliver=env_int("HANDOFF_MAX_DELIVER", d.max_deliver, env, minimum=2),
        retry_backoff_s=env_floats("HANDOFF_RETRY_BACKOFF_S", d.retry_backoff_s, env),
        max_ack_pending=env_int("HANDOFF_MAX_IN_FLIGHT", d.max_ack_pending, env, minimum=1),
        duplicate_window_s=env_float("HANDOFF_DUPLICATE_WINDOW_S", d.duplicate_window_s, env, minimum=1.0),
        result_ttl_s=env_float("HANDOFF_RESULT_TTL_S", d.result_ttl_s, env, minimum=60.0),
        max_msg_bytes=env_int("HANDOFF_MAX_MSG_BYTES", d.max_msg_bytes, env, minimum=1024),
        artifact_ttl_s=env_float("HANDOFF_ARTIFACT_TTL_S", d.artifact_ttl_s, env, minimum=60.0),
        snapshot_ttl_s=env_float("HANDOFF_SNAPSHOT_TTL_S", d.snapshot_ttl_s, env, minimum=60.0),
    )
    if params.max_deliver <= len(params.retry_backoff_s):
        raise SettingsError(
            f"HANDOFF_MAX_DELIVER ({params.max_deliver}) must exceed the number of "
            f"HANDOFF_RETRY_BACKOFF_S delays ({len(params.retry_backoff_s)})"
        )
    return params


LOG_LEVELS = ("debug", "info", "warning", "error", "critical")


class LogSettings(msgspec.Struct, kw_only=True, frozen=True):
    level: str = "info"
    json: bool | None = None  # None: JSON unless stderr is a terminal

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> LogSettings:
        fmt = env_str("HANDOFF_LOG_FORMAT", None, env)
        if fmt not in (None, "json", "console"):
            raise SettingsError(f"HANDOFF_LOG_FORMAT must be 'json' or 'console', got {fmt!r}")
        level = (env_str("HANDOFF_LOG_LEVEL", "info", env) or "info").lower()
        if level not in LOG_LEVELS:
            raise SettingsError(f"HANDOFF_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, got {level!r}")
        return cls(level=level, json=None if fmt is None else fmt == "json")


class CommonSettings(msgspec.Struct, kw_only=True, frozen=True):
    nats: NatsSettings
    embedded: EmbeddedSettings
    topology: TopologyParams
    log: LogSettings
    apply_topology: bool = True

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> CommonSettings:
        return cls(
            nats=NatsSettings.from_env(env),
            embedded=EmbeddedSettings.from_env(env),
            topology=topology_from_env(env),
            log=LogSettings.from_env(env),
            apply_topology=env_bool("HANDOFF_APPLY_TOPOLOGY", True, env),
        )


__all__ = [
    "CommonSettings",
    "EmbeddedSettings",
    "LogSettings",
    "NatsSettings",
    "SettingsError",
    "topology_from_env",
]
