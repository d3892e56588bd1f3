"""Settings of one generator replica, read from ``HANDOFF_*`` environment variables.

The numbers shared with the topology (ack wait, retry delays, global cap) live in ``CommonSettings``; what is
specific to a replica (its slots, its id, how long a shutdown may take) lives here.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping

import msgspec

from handoff.common.env import SettingsError, env_float, env_int, env_str
from handoff.common.settings import CommonSettings

DEFAULT_MAX_SUBMIT_BYTES = 256 * 1024
ABORT_WAIT_S = 2.0
"""After the interrupt grace: how long executions get to notice the abort before they are cancelled."""


def default_replica_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"[:200]


class GeneratorSettings(msgspec.Struct, kw_only=True, frozen=True):
    common: CommonSettings
    slots: int = 2
    """Tasks one replica runs at once. The consumer's ``max_ack_pending`` caps all replicas together."""
    replica_id: str = msgspec.field(default_factory=default_replica_id)
    shutdown_grace_s: float = 30.0
    """On SIGTERM/SIGINT: how long running tasks may keep going before they are interrupted and handed back."""
    max_submit_bytes: int = DEFAULT_MAX_SUBMIT_BYTES
    """Submits larger than this are dead-lettered as ``oversize`` without being decoded."""
    fetch_timeout_s: float = 1.0
    """How long one pull request waits for submits; also bounds how long 'stop pulling' takes."""
    interrupt_grace_s: float = 10.0
    """How long an interrupted runner gets to clean up before the replica stops waiting for it."""
    error_backoff_s: float = 0.5
    """Pause after a failed pull (broker unreachable, consumer missing) before trying again."""
    health_port: int | None = None
    """Serve /healthz, /readyz and /metrics on this port (``handoff generator`` only); None: no endpoint."""
    presence_interval_s: float = 5.0
    """How often ``handoff generator`` reports itself in the replicas bucket (seen by ``handoff status``)."""

    @property
    def publish_timeout_s(self) -> float:
        return self.common.nats.publish_timeout_s

    @property
    def shutdown_bound_s(self) -> float:
        """The longest graceful shutdown (``Generator._shutdown``): the pull in flight, the tasks' grace, the
        interrupted runners' grace with the publish of their finish, and the last wait before cancelling them."""
        return (self.fetch_timeout_s + self.shutdown_grace_s + self.interrupt_grace_s + self.publish_timeout_s
                + ABORT_WAIT_S)  # fmt: skip

    @property
    def retry_backoff_s(self) -> tuple[float, ...]:
        return self.common.topology.retry_backoff_s

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> GeneratorSettings:
        common = CommonSettings.from_env(env)
        stream_limit = common.topology.max_msg_bytes
        max_submit = env_int("HANDOFF_MAX_SUBMIT_BYTES", min(DEFAULT_MAX_SUBMIT_BYTES, stream_limit), env, minimum=1)
        if max_submit > stream_limit:
            raise SettingsError(
                f"HANDOFF_MAX_SUBMIT_BYTES ({max_submit}) must not exceed HANDOFF_MAX_MSG_BYTES ({stream_limit}): "
                "the stream refuses larger messages before the generator could see them"
            )
        replica_id = env_str("HANDOFF_REPLICA_ID", None, env) or default_replica_id()
        if len(replica_id) > 200:
            raise SettingsError(f"HANDOFF_REPLICA_ID must be at most 200 characters, got {len(replica_id)}")
        return cls(
            common=common,
            slots=env_int("HANDOFF_GENERATOR_SLOTS", 2, env, minimum=1),
            replica_id=replica_id,
            shutdown_grace_s=env_float("HANDOFF_SHUTDOWN_GRACE_S", 30.0, env, minimum=0.0),
            max_submit_bytes=max_submit,
            fetch_timeout_s=env_float("HANDOFF_FETCH_TIMEOUT_S", 1.0, env, minimum=0.05),
            interrupt_grace_s=env_float("HANDOFF_INTERRUPT_GRACE_S", 10.0, env, minimum=0.0),
            error_backoff_s=env_float("HANDOFF_PULL_ERROR_BACKOFF_S", 0.5, env, minimum=0.01),
            health_port=env_int("HANDOFF_HEALTH_PORT", 0, env, minimum=0) or None,
            presence_interval_s=env_float("HANDOFF_PRESENCE_INTERVAL_S", 5.0, env, minimum=0.1),
        )
