"""Chaos fixtures: a topology with a short ack wait and room for many redeliveries, plus the collector fixtures."""

from __future__ import annotations

import msgspec
import pytest

from handoff.schemas.topology import TopologyParams
from tests.collector.conftest import collector_settings, running_collector
from tests.support.nats import FAST_TOPOLOGY

__all__ = ["collector_settings", "running_collector"]

CHAOS_TOPOLOGY = msgspec.structs.replace(
    FAST_TOPOLOGY,
    max_deliver=30,  # a task may lose several replicas in a row; kills must not dead-letter it
    max_ack_pending=12,  # three replicas of four slots
    duplicate_window_s=600.0,
    collector_ack_wait_s=5.0,
)


@pytest.fixture
def topology_params() -> TopologyParams:
    return CHAOS_TOPOLOGY
