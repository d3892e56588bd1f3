"""The shared durable ``generators`` cannot be broken by a pipeline, drift is reported and repaired by
``handoff topology apply``, and a generator refuses to serve a drifted consumer.

Against ``deploy/nats/accounts.conf`` on a real nats-server, with each role's own credentials.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys

from nats.js.api import ConsumerConfig

from handoff.broker.provision import Action, apply_topology
from handoff.schemas import names
from handoff.schemas.topology import Topology
from tests.deploy.conftest import admin, applied, collector, generator, pipeline, secured_server
from tests.deploy.roles import RoleClient, inbox_prefix
from tests.deploy.servers import ROLE_PASSWORDS, NatsProcess

__all__ = ["admin", "applied", "collector", "generator", "pipeline", "secured_server"]

EVENTS = names.EVENTS_STREAM
UNNAMED_CREATE = f"$JS.API.CONSUMER.CREATE.{EVENTS}"


async def _generators(admin: RoleClient) -> ConsumerConfig:
    return (await admin.js.consumer_info(EVENTS, names.GENERATOR_CONSUMER)).config


def _hostile(config: ConsumerConfig, **changes: object) -> bytes:
    """A consumer-create request for a consumer named like the durable, the name only in the body."""
    body = {k: v for k, v in config.as_dict().items() if k != "durable_name"}
    return json.dumps({"stream_name": EVENTS, "config": {**body, "name": names.GENERATOR_CONSUMER, **changes}}).encode()


async def test_a_pipeline_cannot_rewrite_the_generators_durable_through_the_unnamed_create_subject(
    pipeline: RoleClient, admin: RoleClient
) -> None:
    """The attack that rewrote the filter (every task then dead-lettered) and set an inactivity threshold is refused."""
    before = await _generators(admin)
    for changes in ({"filter_subject": "handoff.evt.hijacked.>"}, {"inactive_threshold": 2_000_000_000}):
        await pipeline.expect_refused(
            pipeline.nc.request(UNNAMED_CREATE, _hostile(before, **changes), timeout=3),
            action="publish",
            subject=UNNAMED_CREATE,
        )
    after = await _generators(admin)
    assert after.filter_subject == names.SUBMIT_FILTER and not after.inactive_threshold
    assert after == before


async def test_a_named_create_cannot_reach_the_durables_even_with_their_name_in_the_body(
    pipeline: RoleClient, admin: RoleClient
) -> None:
    """In the named form the server takes the name from the subject: a body naming the durable creates another."""
    before = await _generators(admin)
    subject = f"{UNNAMED_CREATE}.decoy"
    reply = await pipeline.nc.request(subject, _hostile(before, filter_subject="handoff.evt.hijacked.>"), timeout=3)
    assert json.loads(reply.data)["name"] == "decoy"
    for durable in (names.GENERATOR_CONSUMER, names.COLLECTOR_CONSUMER):
        denied = f"{UNNAMED_CREATE}.{durable}"
        await pipeline.expect_refused(
            pipeline.nc.request(denied, _hostile(before), timeout=3), action="publish", subject=denied
        )
    assert await _generators(admin) == before
    await admin.js.delete_consumer(EVENTS, "decoy")


async def test_topology_apply_reports_and_repairs_drift_in_fields_it_did_not_tune(
    admin: RoleClient, applied: Topology
) -> None:
    """An inactivity threshold, a backoff list and a rewritten filter are each reported with old and new value."""
    drifted = (await _generators(admin)).evolve(
        filter_subject="handoff.evt.hijacked.>", inactive_threshold=600.0, backoff=[1.0, 2.0], sample_freq="50%"
    )
    await admin.js.add_consumer(EVENTS, drifted)
    changes = await apply_topology(admin.js, applied)
    label = f"{EVENTS}/{names.GENERATOR_CONSUMER}"
    (change,) = [c for c in changes if c.name == label]
    assert change.action == Action.UPDATED
    assert {"filter_subject", "inactive_threshold", "backoff", "sample_freq"} <= set(change.fields)
    assert any(d.startswith("inactive_threshold: 600.0 -> unset") for d in change.drift), change.drift
    assert "drift repaired" in str(change)
    repaired = await _generators(admin)
    assert repaired.filter_subject == names.SUBMIT_FILTER
    assert not repaired.inactive_threshold and not repaired.backoff and not repaired.sample_freq
    again = await apply_topology(admin.js, applied)
    assert {c.action for c in again} == {Action.UNCHANGED}


def _generator_env(server: NatsProcess) -> dict[str, str]:
    return {
        **os.environ,
        "HANDOFF_NATS_URL": server.url,
        "HANDOFF_NATS_USER": "generator",
        "HANDOFF_NATS_PASSWORD": ROLE_PASSWORDS["generator"],
        "HANDOFF_NATS_INBOX_PREFIX": inbox_prefix("generator"),
        "HANDOFF_APPLY_TOPOLOGY": "false",
        "HANDOFF_HEALTH_PORT": "0",
    }


async def test_a_generator_refuses_to_start_on_a_drifted_consumer_naming_topology_apply(
    secured_server: NatsProcess, admin: RoleClient, applied: Topology
) -> None:
    """Exit 2 at start with a message naming the drifted field and `handoff topology apply`, before pulling."""
    drifted = (await _generators(admin)).evolve(inactive_threshold=600.0)
    await admin.js.add_consumer(EVENTS, drifted)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "handoff.cli.main",
        "generator",
        env=_generator_env(secured_server),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    stderr = err.decode(errors="replace")
    assert proc.returncode == 2, stderr[-2000:]
    assert "inactive_threshold" in stderr and "handoff topology apply" in stderr
    info = await admin.js.consumer_info(EVENTS, names.GENERATOR_CONSUMER)
    assert info.num_waiting == 0  # it never pulled
