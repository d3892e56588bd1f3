"""``deploy/nats/cluster.conf`` as three real nats-servers on loopback: route credentials, and a leader crash."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import nats.errors
import nats.js.errors
import pytest
from nats.js.api import PubAck

from handoff.broker.provision import apply_topology
from handoff.schemas import names
from handoff.schemas.names import EventType, Header
from handoff.schemas.topology import TopologyParams, build_topology
from tests.deploy.roles import RoleClient
from tests.deploy.servers import NatsProcess, cluster_servers, render_config
from tests.support.nats import FAST_TOPOLOGY, eventually
from tests.support.net import free_port

pytestmark = pytest.mark.slow

REPLICATED = TopologyParams(
    replicas=3,
    ack_wait_s=FAST_TOPOLOGY.ack_wait_s,
    max_deliver=FAST_TOPOLOGY.max_deliver,
    retry_backoff_s=FAST_TOPOLOGY.retry_backoff_s,
    max_ack_pending=1000,
)
# What a publisher sees while a stream leader is being re-elected; all are retried with the same message id.
RETRYABLE = (
    nats.js.errors.NoStreamResponseError,
    nats.js.errors.ServiceUnavailableError,
    nats.errors.TimeoutError,
    nats.errors.NoRespondersError,
    nats.errors.ConnectionClosedError,
    nats.errors.ConnectionReconnectingError,
    TimeoutError,
)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[NatsProcess]]:
    servers = cluster_servers(tmp_path_factory.mktemp("cluster"))
    for server in servers:
        server.start()
    yield servers
    for server in servers:
        server.stop()


def urls(cluster: list[NatsProcess]) -> list[str]:
    return [server.url for server in cluster]


async def replicated_topology(cluster: list[NatsProcess]) -> RoleClient:
    """An admin connection once JetStream answers across the cluster and the R3 topology is applied."""
    admin = await RoleClient.connect(urls(cluster), "admin", reconnect=True)

    async def applied() -> bool:
        try:
            await apply_topology(admin.js, build_topology(REPLICATED))
        except (nats.js.errors.APIError, nats.errors.TimeoutError, TimeoutError):
            return False  # the meta group is still electing its leader
        return True

    await eventually(applied, timeout_s=30, interval_s=0.5, what="JetStream across the three servers")
    return admin


def route_names(server: NatsProcess) -> set[str]:
    routez = server.monitor("routez") or {}
    return {str(r.get("remote_name")) for r in routez.get("routes", [])}


async def test_the_three_servers_form_one_cluster_and_refuse_a_server_without_the_route_password(
    cluster: list[NatsProcess], tmp_path: Path
) -> None:
    """Every server routes to the other two; a fourth one with a wrong route password is refused."""
    admin = await replicated_topology(cluster)
    await admin.close()
    for server in cluster:
        others = {s.env["NATS_SERVER_NAME"] for s in cluster if s is not server}
        assert route_names(server) == others

    client_port, http_port, cluster_port = free_port(), free_port(), free_port()
    config = render_config(
        "cluster.conf", tmp_path / "intruder", client_port=client_port, http_port=http_port, cluster_port=cluster_port
    )
    intruder = NatsProcess(
        config=config,
        env={
            **cluster[0].env,
            "NATS_SERVER_NAME": "intruder",
            "NATS_ROUTE_PASSWORD": "guessed",
            "NATS_ROUTES": f"[nats://route:guessed@127.0.0.1:{_route_port(cluster[0])}]",
            "NATS_STORE_DIR": str(tmp_path / "intruder" / "store"),
        },
        client_port=client_port,
        http_port=http_port,
        log=tmp_path / "intruder.log",
    )
    intruder.start()
    try:

        async def refused() -> bool:
            return "Route Error 'Authorization Violation'" in intruder.log_tail(200)

        await eventually(refused, timeout_s=10, what="the intruder's route to be refused")
        assert all("intruder" not in route_names(server) for server in cluster)
    finally:
        intruder.stop()


def _route_port(server: NatsProcess) -> int:
    text = server.config.read_text()
    listen = next(line for line in text.splitlines() if line.startswith("  listen: 127.0.0.1:"))
    return int(listen.rsplit(":", 1)[1])


async def test_no_acknowledged_submit_is_lost_when_the_stream_leader_is_killed(cluster: list[NatsProcess]) -> None:
    """SIGKILL of the R3 stream leader mid-publish: retried publishes all land, once, and the server rejoins."""
    admin = await replicated_topology(cluster)
    pipeline = await RoleClient.connect(urls(cluster), "pipeline", reconnect=True)
    run = f"r-{uuid.uuid4().hex[:8]}"
    total, kill_after = 300, 100
    acked: dict[str, PubAck] = {}
    killed: NatsProcess | None = None
    retried = 0

    async def publish(task: str) -> PubAck:
        nonlocal retried
        while True:
            try:
                return await pipeline.js.publish(
                    names.task_subject(run, task, EventType.SUBMITTED),
                    task.encode(),
                    headers={Header.MSG_ID: names.submit_msg_id(task)},
                    timeout=2,
                )
            except RETRYABLE:
                retried += 1
                await asyncio.sleep(0.2)

    try:
        for i in range(total):
            task = f"t{i:04d}"
            acked[task] = await asyncio.wait_for(publish(task), timeout=60)
            if i == kill_after:
                leader = (await admin.js.stream_info(names.EVENTS_STREAM)).cluster.leader  # type: ignore[union-attr]
                killed = next(s for s in cluster if s.env["NATS_SERVER_NAME"] == leader)
                killed.kill()
        assert killed is not None
        assert retried > 0, "the leader's death went unnoticed: the test did not exercise a failover"

        new_leader = (await admin.js.stream_info(names.EVENTS_STREAM)).cluster.leader  # type: ignore[union-attr]
        assert new_leader != killed.env["NATS_SERVER_NAME"]
        pull = await admin.js.pull_subscribe_bind(names.GENERATOR_CONSUMER, stream=names.EVENTS_STREAM)
        received: list[str] = []
        loop = asyncio.get_running_loop()
        give_up = loop.time() + 60
        while len(set(received)) < total and loop.time() < give_up:
            try:
                batch = await pull.fetch(100, timeout=5)
            except nats.js.errors.ServiceUnavailableError:  # the consumer's new leader is still being elected
                await asyncio.sleep(0.5)
                continue
            for msg in batch:
                received.append(msg.data.decode())
                await msg.ack()
        assert sorted(set(received)) == sorted(acked), "an acknowledged submit is missing"
        info = await admin.js.stream_info(names.EVENTS_STREAM)
        assert info.state.messages == total  # the retries were de-duplicated by message id

        killed.start()

        async def caught_up() -> bool:
            info = await admin.js.stream_info(names.EVENTS_STREAM)
            replicas = info.cluster.replicas or []  # type: ignore[union-attr]
            return len(replicas) == 2 and all(r.current for r in replicas)

        await eventually(caught_up, timeout_s=30, interval_s=0.5, what="the restarted server to catch up")
    finally:
        await pipeline.close()
        await admin.close()
        if killed is not None and not killed.running:
            killed.start()
