"""Settings of a collector replica, read from ``HANDOFF_*`` environment variables.

Result retention is not a collector setting: it is the topology's ``result_ttl_s`` (``HANDOFF_RESULT_TTL_S``), the
TTL of the task and run buckets and the max age of the events stream.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping

import msgspec

from handoff.common.env import env_float, env_int, env_str
from handoff.common.settings import CommonSettings


def _default_replica_id() -> str:
    return f"collector-{socket.gethostname()}-{os.getpid()}"


class CollectorSettings(msgspec.Struct, kw_only=True, frozen=True):
    common: CommonSettings
    replica_id: str = msgspec.field(default_factory=_default_replica_id)
    batch: int = 256  # events pulled and folded together
    idle_wait_s: float = 1.0  # how long one pull waits for the first event when the stream is quiet
    linger_s: float = 0.02  # after a batch that was not full: at most this long to wait for more while they come
    hold_s: float = 0.1  # how long events of an unfinished task wait for more of its events (one write for all)
    retry_delay_s: float = 1.0  # nak delay of events whose record write failed (NATS unavailable …)
    cas_attempts: int = 50  # compare-and-set attempts on one record before the event is retried later
    cache_records: int = 20_000  # task and run records kept in memory to save a read before each write
    shutdown_grace_s: float = 10.0  # time the batch in hand gets to finish after a stop request
    health_port: int | None = None  # serve /healthz /readyz /metrics on this port

    @property
    def shutdown_bound_s(self) -> float:
        """The longest graceful stop (``handoff collector``): the batch in hand's grace, then one publish timeout
        for what follows it (unsubscribing, closing the connection)."""
        return self.shutdown_grace_s + self.common.nats.publish_timeout_s

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> CollectorSettings:
        health = env_int("HANDOFF_HEALTH_PORT", 0, env, minimum=0)
        return cls(
            common=CommonSettings.from_env(env),
            replica_id=env_str("HANDOFF_REPLICA_ID", None, env) or _default_replica_id(),
            batch=env_int("HANDOFF_COLLECTOR_BATCH", 256, env, minimum=1),
            idle_wait_s=env_float("HANDOFF_COLLECTOR_IDLE_WAIT_S", 1.0, env, minimum=0.05),
            hold_s=env_float("HANDOFF_COLLECTOR_HOLD_S", 0.1, env, minimum=0.0),
            retry_delay_s=env_float("HANDOFF_COLLECTOR_RETRY_DELAY_S", 1.0, env, minimum=0.0),
            cache_records=env_int("HANDOFF_COLLECTOR_CACHE_RECORDS", 20_000, env, minimum=0),
            shutdown_grace_s=env_float("HANDOFF_SHUTDOWN_GRACE_S", 10.0, env, minimum=0.0),
            health_port=health or None,
        )
