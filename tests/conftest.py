"""Fixture chain: store dir -> real nats-server on a random port -> client -> JetStream -> applied topology."""

from __future__ import annotations

import os

# Before anything imports the agent SDK.
os.environ.setdefault("LOG_AUTO_CONFIG", "false")
os.environ.setdefault("OPENHANDS_SUPPRESS_BANNER", "1")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext

from handoff.broker.connect import connect
from handoff.broker.embedded import EmbeddedNats
from handoff.broker.provision import apply_topology
from handoff.common.settings import NatsSettings
from handoff.schemas.topology import Topology, TopologyParams, build_topology
from tests.support.nats import FAST_TOPOLOGY


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[EmbeddedNats]:
    """A real nats-server with JetStream, on a random loopback port, storing under the test's tmp dir."""
    server = EmbeddedNats(data_dir=tmp_path / "nats")
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def nc(nats_server: EmbeddedNats) -> AsyncIterator[NATS]:
    client = await connect(NatsSettings(), name="test", url=nats_server.url)
    yield client
    await client.close()


@pytest.fixture
def js(nc: NATS) -> JetStreamContext:
    return nc.jetstream()


@pytest.fixture
def topology_params() -> TopologyParams:
    return FAST_TOPOLOGY


@pytest.fixture
async def topology(js: JetStreamContext, topology_params: TopologyParams) -> Topology:
    spec = build_topology(topology_params)
    await apply_topology(js, spec)
    return spec
