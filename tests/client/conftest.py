"""Client fixtures: a HandoffClient on the test connection, plus the collector fixtures (real replicas)."""

from __future__ import annotations

import pytest
from nats.aio.client import Client as NATS

from handoff.client import ClientSettings, HandoffClient
from handoff.common.settings import NatsSettings
from tests.collector.conftest import collector_settings, running_collector, topology_params

__all__ = ["collector_settings", "running_collector", "topology_params"]


@pytest.fixture
def client_settings() -> ClientSettings:
    return ClientSettings(
        nats=NatsSettings(publish_timeout_s=1.0),
        submitter="tests",
        submit_timeout_s=15.0,
        result_timeout_s=30.0,
        watch_heartbeat_s=0.5,
    )


@pytest.fixture
def client(nc: NATS, client_settings: ClientSettings) -> HandoffClient:
    return HandoffClient(nc, settings=client_settings)
