"""A nats-server started from ``deploy/nats/nats.conf`` and one connection per role."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from handoff.broker.provision import apply_topology
from handoff.schemas.topology import Topology, build_topology
from tests.deploy.roles import RoleClient
from tests.deploy.servers import NatsProcess, single_server
from tests.support.nats import FAST_TOPOLOGY


@pytest.fixture
def secured_server(tmp_path: Path) -> Iterator[NatsProcess]:
    """The compose server's configuration (accounts and permissions included) on a loopback port."""
    server = single_server(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def admin(secured_server: NatsProcess) -> AsyncIterator[RoleClient]:
    client = await RoleClient.connect(secured_server.url, "admin")
    yield client
    await client.close()


@pytest.fixture
async def applied(admin: RoleClient) -> Topology:
    """The topology, applied with admin credentials as ``handoff topology apply`` does in the deployments."""
    topology = build_topology(FAST_TOPOLOGY)
    await apply_topology(admin.js, topology)
    return topology


async def _role(server: NatsProcess, role: str) -> AsyncIterator[RoleClient]:
    client = await RoleClient.connect(server.url, role)
    yield client
    await client.close()


@pytest.fixture
async def pipeline(secured_server: NatsProcess, applied: Topology) -> AsyncIterator[RoleClient]:
    async for client in _role(secured_server, "pipeline"):
        yield client


@pytest.fixture
async def generator(secured_server: NatsProcess, applied: Topology) -> AsyncIterator[RoleClient]:
    async for client in _role(secured_server, "generator"):
        yield client


@pytest.fixture
async def collector(secured_server: NatsProcess, applied: Topology) -> AsyncIterator[RoleClient]:
    async for client in _role(secured_server, "collector"):
        yield client
