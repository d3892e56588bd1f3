"""A deployment whose collector consumer predates run sealing is updated in place to read sealing events too."""

from __future__ import annotations

from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from handoff.broker.provision import Action, apply_topology
from handoff.schemas import names
from handoff.schemas.topology import build_topology


async def test_an_older_single_filter_collector_consumer_is_updated_to_both_filters(js: JetStreamContext) -> None:
    """apply_topology reports the filter change once, then nothing; the consumer keeps its name and position."""
    topology = build_topology()
    await apply_topology(js, topology)
    await js.add_consumer(
        names.EVENTS_STREAM,
        config=ConsumerConfig(
            durable_name=names.COLLECTOR_CONSUMER,
            filter_subject=names.ALL_TASK_EVENTS,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=30,
            max_deliver=-1,
            max_ack_pending=1024,
            description="collector replicas fold lifecycle events into task and run records",
        ),
    )
    changes = {c.name: c for c in await apply_topology(js, topology)}
    label = f"{names.EVENTS_STREAM}/{names.COLLECTOR_CONSUMER}"
    assert changes[label].action == Action.UPDATED and "filter_subjects" in changes[label].fields
    info = await js.consumer_info(names.EVENTS_STREAM, names.COLLECTOR_CONSUMER)
    assert sorted(info.config.filter_subjects or []) == sorted([names.ALL_TASK_EVENTS, names.RUN_SEALED_FILTER])
    again = {c.name: c for c in await apply_topology(js, topology)}
    assert again[label].action == Action.UNCHANGED
