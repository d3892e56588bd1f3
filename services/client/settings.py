"""Settings of a Handoff client (pipelines and services that submit work), read from ``HANDOFF_*`` variables."""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from pathlib import Path

import msgspec

from handoff.common.env import env_float, env_int, env_str
from handoff.common.settings import EmbeddedSettings, NatsSettings


def _default_submitter() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:200]


class ClientSettings(msgspec.Struct, kw_only=True, frozen=True):
    nats: NatsSettings
    default_url: str = "nats://127.0.0.1:4222"  # with no URL and no running 'handoff up' recorded: the local server
    embedded_data_dir: Path | None = None
    """Where a running ``handoff up`` records its server's address (``stack.json``; ``HANDOFF_DATA_DIR``/nats): used
    when no URL is set (see ``handoff.client.locate``). None: no record is looked for."""
    submitter: str = msgspec.field(default_factory=_default_submitter)
    submit_timeout_s: float = 30.0  # overall bound of one submit, retries with the same message id included
    result_timeout_s: float = 300.0  # default wait of result()/gather()/wait_run() when no timeout is given
    watch_heartbeat_s: float = 1.0  # idle heartbeat of the client's watchers: how fast they notice a lost server
    lookup_concurrency: int = 64  # parallel look-ups when many task ids are checked at once

    @property
    def url(self) -> str:
        """The URL set, else the default address; a connect also looks for a running 'handoff up' in between (where
        it connects: ``handoff.client.locate.locate(settings).url``)."""
        return self.nats.url or self.default_url

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ClientSettings:
        embedded = EmbeddedSettings.from_env(env)
        return cls(
            nats=NatsSettings.from_env(env),
            default_url=f"nats://{embedded.host}:{embedded.port}",
            embedded_data_dir=embedded.data_dir,
            submitter=env_str("HANDOFF_CLIENT_NAME", None, env) or _default_submitter(),
            submit_timeout_s=env_float("HANDOFF_SUBMIT_TIMEOUT_S", 30.0, env, minimum=0.1),
            result_timeout_s=env_float("HANDOFF_RESULT_TIMEOUT_S", 300.0, env, minimum=0.0),
            watch_heartbeat_s=env_float("HANDOFF_WATCH_HEARTBEAT_S", 1.0, env, minimum=0.1),
            lookup_concurrency=env_int("HANDOFF_CLIENT_LOOKUP_CONCURRENCY", 64, env, minimum=1),
        )
