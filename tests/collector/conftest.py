"""Collector fixtures: short collector ack wait, and running collector replicas against the real server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import msgspec
import pytest
from nats.js import JetStreamContext

from handoff.collector import Collector, CollectorSettings
from handoff.common.settings import CommonSettings, EmbeddedSettings, LogSettings, NatsSettings
from handoff.schemas.topology import TopologyParams
from tests.support.nats import FAST_TOPOLOGY

RunningCollector = Callable[..., AbstractAsyncContextManager[Collector]]


@pytest.fixture
def topology_params() -> TopologyParams:
    return msgspec.structs.replace(FAST_TOPOLOGY, collector_ack_wait_s=5.0)


@pytest.fixture
def collector_settings(tmp_path: Path, topology_params: TopologyParams) -> CollectorSettings:
    common = CommonSettings(
        nats=NatsSettings(),
        embedded=EmbeddedSettings(data_dir=tmp_path / "unused"),
        topology=topology_params,
        log=LogSettings(),
        apply_topology=False,
    )
    return CollectorSettings(common=common, replica_id="collector-test", idle_wait_s=0.2, retry_delay_s=0.2)


@pytest.fixture
def running_collector(collector_settings: CollectorSettings) -> RunningCollector:
    """``async with running_collector(js, replica_id=...) as collector:`` runs a replica until the block ends."""

    @asynccontextmanager
    async def start(js: JetStreamContext, **overrides: object) -> AsyncIterator[Collector]:
        settings = msgspec.structs.replace(collector_settings, **overrides)
        async with Collector(js, settings=settings) as collector:
            task = asyncio.create_task(collector.run())
            try:
                yield collector
            finally:
                collector.request_stop()
                await asyncio.wait_for(task, timeout=10)

    return start
