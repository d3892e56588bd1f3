"""``deploy/nats/accounts.conf`` against a real nats-server: what each role may do, and each refusal."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import nats
import pytest
from nats.js.api import AckPolicy, ConsumerConfig
from nats.js.errors import NotFoundError

from handoff.broker.requests import Requests
from handoff.client.consumer_names import ordered_config
from handoff.client.progress_history import earlier_progress
from handoff.common.clock import utcnow
from handoff.schemas import names
from handoff.schemas.codec import encode
from handoff.schemas.events import TaskProgress, TaskStarted
from handoff.schemas.names import EventType, Header
from handoff.schemas.records import ProgressNote, TaskRecord, TaskState
from handoff.schemas.topology import Topology, build_topology
from tests.deploy.roles import RoleClient
from tests.deploy.servers import NATS_DIR, ROLE_PASSWORDS, NatsProcess, single_server
from tests.support.nats import FAST_TOPOLOGY, eventually

EVENTS = names.EVENTS_STREAM


async def connect_reply(server: NatsProcess, credentials: dict[str, str]) -> str:
    """The server's answer to CONNECT + PING on a raw socket (nats-py leaks the socket of a refused connect)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.client_port)
    try:
        assert (await reader.readline()).startswith(b"INFO ")
        connect = {"verbose": False, "pedantic": False, "protocol": 1, **credentials}
        writer.write(f"CONNECT {json.dumps(connect)}\r\nPING\r\n".encode())
        await writer.drain()
        return (await asyncio.wait_for(reader.readline(), 5)).decode().strip()
    finally:
        writer.close()
        await writer.wait_closed()


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


async def test_a_connection_without_credentials_is_refused(secured_server: NatsProcess) -> None:
    """Nobody gets in without a user: there is no anonymous or default user."""
    assert await connect_reply(secured_server, {}) == "-ERR 'Authorization Violation'"


async def test_a_wrong_password_is_refused(secured_server: NatsProcess) -> None:
    """A known user with another role's password is refused; with its own it gets in."""
    wrong = {"user": "generator", "pass": ROLE_PASSWORDS["pipeline"]}
    assert await connect_reply(secured_server, wrong) == "-ERR 'Authorization Violation'"
    right = {"user": "generator", "pass": ROLE_PASSWORDS["generator"]}
    assert await connect_reply(secured_server, right) == "PONG"


def test_the_server_does_not_start_without_every_role_password(tmp_path: Path) -> None:
    """A missing password variable stops nats-server at start, naming it, instead of running without it."""
    server = single_server(tmp_path)
    del server.env["NATS_COLLECTOR_PASSWORD"]
    with pytest.raises(RuntimeError, match="NATS_COLLECTOR_PASSWORD"):
        server.start(timeout_s=5)


def test_admin_credentials_apply_the_topology_with_the_cli(secured_server: NatsProcess, tmp_path: Path) -> None:
    """`handoff topology apply` as admin (the deployments' init step) creates every stream and consumer."""
    env = {
        **os.environ,
        "HANDOFF_NATS_URL": secured_server.url,
        "HANDOFF_NATS_USER": "admin",
        "HANDOFF_NATS_PASSWORD": ROLE_PASSWORDS["admin"],
        "HANDOFF_DATA_DIR": str(tmp_path / "unused"),
    }
    args = [sys.executable, "-m", "handoff.cli.main", "topology", "apply", "--json"]
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    changes = json.loads(done.stdout)
    created = {(c["kind"], c["name"]) for c in changes if c["action"] == "created"}
    assert ("stream", EVENTS) in created
    assert ("consumer", f"{EVENTS}/{names.GENERATOR_CONSUMER}") in created


# ---- pipeline ------------------------------------------------------------------------------------------


async def test_pipeline_can_submit_seal_cancel_and_upload_a_snapshot(pipeline: RoleClient, admin: RoleClient) -> None:
    """Everything a pipeline stage publishes is accepted: submits, run seals, cancels and snapshot objects."""
    task, run = new_id("t"), new_id("r")
    ack = await pipeline.js.publish(
        names.task_subject(run, task, EventType.SUBMITTED), b"{}", headers={Header.MSG_ID: names.submit_msg_id(task)}
    )
    assert ack.stream == EVENTS
    assert (await pipeline.js.publish(names.run_sealed_subject(run), b"{}")).stream == EVENTS
    assert (await pipeline.js.publish(names.cancel_subject(task), b"{}")).stream == names.CONTROL_STREAM

    store = await pipeline.js.object_store(names.SNAPSHOTS_BUCKET)
    await store.put(f"snap-{task}", b"x" * 300_000)  # several chunks
    await store.put(f"snap-{task}", b"replaced")  # replacing purges the old chunks
    stored = await (await admin.js.object_store(names.SNAPSHOTS_BUCKET)).get(f"snap-{task}")
    assert stored.data == b"replaced"
    pipeline.assert_no_violations()


async def test_pipeline_can_read_results_from_the_records_and_the_events_stream(
    pipeline: RoleClient, admin: RoleClient
) -> None:
    """Results are readable: KV get and watch, artifacts, direct get, ordered consumers (unnamed and named)."""
    task, run = new_id("t"), new_id("r")
    await (await admin.js.key_value(names.TASKS_BUCKET)).put(task, b"task-record")
    await (await admin.js.key_value(names.RUNS_BUCKET)).put(run, b"run-record")
    await admin.js.publish(names.task_subject(run, task, EventType.FINISHED), b"finished")

    finished = names.task_subject(run, task, EventType.FINISHED)
    tasks = await pipeline.js.key_value(names.TASKS_BUCKET)
    assert (await tasks.get(task)).value == b"task-record"
    assert (await (await pipeline.js.key_value(names.RUNS_BUCKET)).get(run)).value == b"run-record"
    watcher = await tasks.watch(task)
    first = await watcher.updates(timeout=5)
    assert first is not None and first.value == b"task-record"
    await watcher.stop()

    assert (await pipeline.js.get_last_msg(EVENTS, finished, direct=True)).data == b"finished"
    assert (await pipeline.js.get_last_msg(EVENTS, finished)).data == b"finished"

    await (await admin.js.object_store(names.ARTIFACTS_BUCKET)).put(f"patch-{task}", b"y" * 200_000)
    artifact = await (await pipeline.js.object_store(names.ARTIFACTS_BUCKET)).get(f"patch-{task}")
    assert artifact.data == b"y" * 200_000

    # ordered consumers as the client creates them: named by the client, one or several filters
    for filters in ([finished], [finished, names.task_subject(run, "other", EventType.FINISHED)]):
        sub = await pipeline.js.subscribe(
            finished, stream=EVENTS, ordered_consumer=True, config=ordered_config(filters)
        )
        assert (await sub.next_msg(timeout=5)).data == b"finished"
        await sub.unsubscribe()
    named = await pipeline.js.subscribe(
        names.run_events_filter(run), stream=EVENTS, ordered_consumer=True, config=ConsumerConfig(name=new_id("c"))
    )
    assert (await named.next_msg(timeout=5)).data == b"finished"
    await named.unsubscribe()
    pipeline.assert_no_violations()


async def test_pipeline_can_read_a_running_tasks_earlier_progress_with_direct_gets(
    pipeline: RoleClient, admin: RoleClient
) -> None:
    """What a ``handoff wait`` started late reads: the task's start (a direct get), then its progress (one batch
    direct get, no consumer)."""
    task, run, at = new_id("t"), new_id("r"), utcnow()
    started = TaskStarted(task_id=task, run_id=run, attempt=1, replica_id="gen-1", started_at=at)
    await admin.js.publish(names.task_subject(run, task, EventType.STARTED), encode(started))
    for seq in range(3):
        event = TaskProgress(task_id=task, run_id=run, attempt=1, seq=seq, stage="round", at=at, message=f"{seq}")
        await admin.js.publish(names.task_subject(run, task, EventType.PROGRESS), encode(event))
    last = ProgressNote(attempt=1, seq=2, stage="round", at=at, message="2")
    record = TaskRecord(task_id=task, run_id=run, state=TaskState.RUNNING, attempt=1, last_progress=last)
    requests = Requests(pipeline.nc)
    try:
        earlier = await earlier_progress(requests, record)
    finally:
        await requests.close()
    assert earlier is not None and [e.message for e in earlier.events] == ["0", "1"]
    pipeline.assert_no_violations()


async def test_pipeline_cannot_consume_submits_or_touch_the_generators_consumer(
    pipeline: RoleClient, admin: RoleClient, applied: Topology
) -> None:
    """Pulling, acking, subscribing to submits, and creating, renaming onto or deleting a durable are refused."""
    task = new_id("t")
    await pipeline.js.publish(names.task_subject(None, task, EventType.SUBMITTED), b"{}")

    bound = await pipeline.js.pull_subscribe_bind(names.GENERATOR_CONSUMER, stream=EVENTS)
    await pipeline.expect_refused(
        bound.fetch(1, timeout=3),
        action="publish",
        subject=f"$JS.API.CONSUMER.MSG.NEXT.{EVENTS}.{names.GENERATOR_CONSUMER}",
    )
    # a delivery held by a generator: the pipeline cannot acknowledge it away
    held = (await (await admin.js.pull_subscribe_bind(names.GENERATOR_CONSUMER, stream=EVENTS)).fetch(1, timeout=5))[0]
    assert held.reply is not None
    await pipeline.expect_refused(pipeline.nc.publish(held.reply, b"+ACK"), action="publish", subject=held.reply)

    await pipeline.expect_refused(
        pipeline.nc.subscribe(names.SUBMIT_FILTER), action="subscription", subject=names.SUBMIT_FILTER
    )
    takeover = ConsumerConfig(filter_subject=names.SUBMIT_FILTER, ack_policy=AckPolicy.EXPLICIT, max_ack_pending=1)
    await pipeline.expect_refused(
        pipeline.js.add_consumer(EVENTS, takeover, durable_name=names.GENERATOR_CONSUMER),
        action="publish",
        subject=f"$JS.API.CONSUMER.DURABLE.CREATE.{EVENTS}.{names.GENERATOR_CONSUMER}",
    )
    await pipeline.expect_refused(
        pipeline.js.add_consumer(EVENTS, takeover, name=names.GENERATOR_CONSUMER),
        action="publish",
        subject=f"$JS.API.CONSUMER.CREATE.{EVENTS}.{names.GENERATOR_CONSUMER}.{names.SUBMIT_FILTER}",
    )
    await pipeline.expect_refused(
        pipeline.js.delete_consumer(EVENTS, names.GENERATOR_CONSUMER),
        action="publish",
        subject=f"$JS.API.CONSUMER.DELETE.{EVENTS}.{names.GENERATOR_CONSUMER}",
    )

    info = await admin.js.consumer_info(EVENTS, names.GENERATOR_CONSUMER)
    wanted = next(c for c in applied.consumers if c.durable == names.GENERATOR_CONSUMER)
    assert info.config.max_ack_pending == wanted.max_ack_pending
    assert info.config.filter_subject == names.SUBMIT_FILTER
    assert info.num_ack_pending == 1  # the held delivery was not acknowledged


async def test_pipeline_cannot_write_results_lifecycle_events_or_artifacts(
    pipeline: RoleClient, admin: RoleClient
) -> None:
    """A pipeline cannot forge what generators and the collector write."""
    task, run = new_id("t"), new_id("r")
    for event in (EventType.STARTED, EventType.PROGRESS, EventType.FINISHED):
        subject = names.task_subject(run, task, event)
        await pipeline.expect_refused(pipeline.js.publish(subject, b"forged"), action="publish", subject=subject)
    tasks = await pipeline.js.key_value(names.TASKS_BUCKET)
    await pipeline.expect_refused(
        tasks.put(task, b"forged"), action="publish", subject=names.kv_key_subject(names.TASKS_BUCKET, task)
    )
    presence = names.kv_key_subject(names.REPLICAS_BUCKET, "replica-1")
    await pipeline.expect_refused(pipeline.js.publish(presence, b"forged"), action="publish", subject=presence)
    runs = await pipeline.js.key_value(names.RUNS_BUCKET)
    await pipeline.expect_refused(
        runs.put(run, b"forged"), action="publish", subject=names.kv_key_subject(names.RUNS_BUCKET, run)
    )
    for subject in (names.run_finished_subject(run), names.dlq_subject("pipeline")):
        await pipeline.expect_refused(pipeline.js.publish(subject, b"forged"), action="publish", subject=subject)
    chunk = f"$O.{names.ARTIFACTS_BUCKET}.C.{task}"
    await pipeline.expect_refused(pipeline.js.publish(chunk, b"forged"), action="publish", subject=chunk)

    with pytest.raises(NotFoundError):
        await admin.js.get_last_msg(EVENTS, names.task_subject(run, task, EventType.FINISHED))
    with pytest.raises(nats.js.errors.KeyNotFoundError):
        await (await admin.js.key_value(names.TASKS_BUCKET)).get(task)


# ---- generator -----------------------------------------------------------------------------------------


async def test_generator_can_consume_submits_and_publish_lifecycle_events_and_artifacts(
    generator: RoleClient, pipeline: RoleClient, admin: RoleClient
) -> None:
    """Pull, heartbeat, nak, ack; lifecycle events, DLQ, artifacts, presence; snapshot, record and cancel reads."""
    task, run = new_id("t"), new_id("r")
    submit = names.task_subject(run, task, EventType.SUBMITTED)
    seq = (await pipeline.js.publish(submit, b"submit")).seq
    await (await pipeline.js.object_store(names.SNAPSHOTS_BUCKET)).put(f"snap-{task}", b"source")
    await pipeline.js.publish(names.cancel_subject(task), b"cancel")
    await (await admin.js.key_value(names.TASKS_BUCKET)).put(task, b"record")

    pull = await generator.js.pull_subscribe_bind(names.GENERATOR_CONSUMER, stream=EVENTS)
    msg = (await pull.fetch(1, timeout=5))[0]
    assert msg.subject == submit
    await msg.in_progress()
    await msg.nak(delay=0.1)
    again = (await pull.fetch(1, timeout=5))[0]
    assert again.subject == submit and again.metadata.num_delivered == 2
    for event in (EventType.STARTED, EventType.PROGRESS, EventType.FINISHED):
        assert (await generator.js.publish(names.task_subject(run, task, event), b"{}")).stream == EVENTS
    await again.ack_sync()
    info = await generator.js.consumer_info(EVENTS, names.GENERATOR_CONSUMER)
    assert info.num_ack_pending == 0 and info.num_pending == 0

    assert (await generator.js.get_msg(EVENTS, seq=seq, direct=True)).data == b"submit"
    assert (await generator.js.get_msg(EVENTS, seq=seq)).data == b"submit"
    assert (await generator.js.publish(names.dlq_subject("generator"), b"dead")).stream == names.DLQ_STREAM

    snapshot = await (await generator.js.object_store(names.SNAPSHOTS_BUCKET)).get(f"snap-{task}")
    assert snapshot.data == b"source"
    artifacts = await generator.js.object_store(names.ARTIFACTS_BUCKET)
    await artifacts.put(f"patch-{task}", b"x" * 200_000)
    await artifacts.put(f"patch-{task}", b"patch")
    assert (await (await admin.js.object_store(names.ARTIFACTS_BUCKET)).get(f"patch-{task}")).data == b"patch"

    assert (await (await generator.js.key_value(names.TASKS_BUCKET)).get(task)).value == b"record"
    presence = await generator.js.key_value(names.REPLICAS_BUCKET)
    await presence.put("replica-1", b"{}")
    await presence.delete("replica-1")
    cancel = names.cancel_subject(task)
    assert (await generator.js.get_last_msg(names.CONTROL_STREAM, cancel, direct=True)).data == b"cancel"
    cancels = await generator.js.subscribe(names.CANCEL_FILTER, stream=names.CONTROL_STREAM, ordered_consumer=True)
    assert (await cancels.next_msg(timeout=5)).subject == cancel
    await cancels.unsubscribe()
    live_cancels = await generator.nc.subscribe(names.CANCEL_FILTER)
    await live_cancels.unsubscribe()
    generator.assert_no_violations()


async def test_generator_receives_the_max_deliveries_advisory_of_its_consumer(
    generator: RoleClient, pipeline: RoleClient
) -> None:
    """The dead-letter path: after max_deliver deliveries the advisory reaches the generators' queue group."""
    advisories = await generator.nc.subscribe(
        names.max_deliveries_advisory(EVENTS, names.GENERATOR_CONSUMER), queue=names.DEAD_LETTER_QUEUE_GROUP
    )
    seq = (await pipeline.js.publish(names.task_subject(None, new_id("t"), EventType.SUBMITTED), b"poison")).seq
    pull = await generator.js.pull_subscribe_bind(names.GENERATOR_CONSUMER, stream=EVENTS)
    for _ in range(FAST_TOPOLOGY.max_deliver):
        (msg,) = await pull.fetch(1, timeout=5)
        await msg.nak()
    waiting = asyncio.ensure_future(pull.fetch(1, timeout=3))  # the advisory fires while a pull request waits

    async def advisory() -> dict[str, object] | None:
        try:
            return json.loads((await advisories.next_msg(timeout=0.2)).data)  # type: ignore[no-any-return]
        except TimeoutError:
            return None

    try:
        got = await eventually(advisory, timeout_s=10, what="max-deliveries advisory", interval_s=0)
    finally:
        with contextlib.suppress(TimeoutError, nats.errors.TimeoutError):  # nothing is left to deliver
            await waiting
    assert got is not None and got["stream_seq"] == seq
    generator.assert_no_violations()


async def test_generator_cannot_publish_submits_or_write_results(generator: RoleClient, admin: RoleClient) -> None:
    """A generator cannot create work, write records, cancel, or read the collector's consumer."""
    task, run = new_id("t"), new_id("r")
    submit = names.task_subject(run, task, EventType.SUBMITTED)
    await generator.expect_refused(generator.js.publish(submit, b"forged"), action="publish", subject=submit)
    for subject in (names.run_sealed_subject(run), names.run_finished_subject(run), names.cancel_subject(task)):
        await generator.expect_refused(generator.js.publish(subject, b"forged"), action="publish", subject=subject)
    key = names.kv_key_subject(names.TASKS_BUCKET, task)
    await generator.expect_refused(generator.js.publish(key, b"forged"), action="publish", subject=key)
    chunk = f"$O.{names.SNAPSHOTS_BUCKET}.C.{task}"
    await generator.expect_refused(generator.js.publish(chunk, b"forged"), action="publish", subject=chunk)

    bound = await generator.js.pull_subscribe_bind(names.COLLECTOR_CONSUMER, stream=EVENTS)
    await generator.expect_refused(
        bound.fetch(1, timeout=3),
        action="publish",
        subject=f"$JS.API.CONSUMER.MSG.NEXT.{EVENTS}.{names.COLLECTOR_CONSUMER}",
    )
    reader = new_id("reader")
    await generator.expect_refused(
        generator.js.subscribe(
            names.ALL_TASK_EVENTS, stream=EVENTS, ordered_consumer=True, config=ConsumerConfig(name=reader)
        ),
        action="publish",
        subject=f"$JS.API.CONSUMER.CREATE.{EVENTS}.{reader}.{names.ALL_TASK_EVENTS}",
    )
    with pytest.raises(NotFoundError):
        await admin.js.get_last_msg(EVENTS, submit)


# ---- collector -----------------------------------------------------------------------------------------


async def test_collector_can_consume_events_and_write_the_records(
    collector: RoleClient, pipeline: RoleClient, generator: RoleClient, admin: RoleClient
) -> None:
    """Pull and ack task and run-sealed events, write task and run records, publish run-finished, dead letters."""
    task, run = new_id("t"), new_id("r")
    await pipeline.js.publish(names.task_subject(run, task, EventType.SUBMITTED), b"submit")
    await generator.js.publish(names.task_subject(run, task, EventType.FINISHED), b"finished")
    await pipeline.js.publish(names.run_sealed_subject(run), b"sealed")

    pull = await collector.js.pull_subscribe_bind(names.COLLECTOR_CONSUMER, stream=EVENTS)
    msgs = await pull.fetch(3, timeout=5)
    assert [m.subject.rsplit(".", 1)[1] for m in msgs] == ["submitted", "finished", "sealed"]
    for m in msgs:
        await m.ack()

    tasks = await collector.js.key_value(names.TASKS_BUCKET)
    revision = await tasks.create(task, b"running")
    revision = await tasks.update(task, b"done", last=revision)
    runs = await collector.js.key_value(names.RUNS_BUCKET)
    await runs.put(run, b"run")
    assert (await (await admin.js.key_value(names.TASKS_BUCKET)).get(task)).value == b"done"

    finished = names.task_subject(run, task, EventType.FINISHED)
    assert (await collector.js.get_last_msg(EVENTS, finished, direct=True)).data == b"finished"
    assert (await collector.js.publish(names.run_finished_subject(run), b"{}")).stream == EVENTS
    assert (await collector.js.publish(names.dlq_subject("collector"), b"dead")).stream == names.DLQ_STREAM
    collector.assert_no_violations()


async def test_collector_cannot_create_work_consume_submits_or_publish_lifecycle_events(
    collector: RoleClient,
) -> None:
    """The collector only reads events and writes records."""
    task, run = new_id("t"), new_id("r")
    for event in (EventType.SUBMITTED, EventType.STARTED, EventType.FINISHED):
        subject = names.task_subject(run, task, event)
        await collector.expect_refused(collector.js.publish(subject, b"forged"), action="publish", subject=subject)
    cancel = names.cancel_subject(task)
    await collector.expect_refused(collector.js.publish(cancel, b"forged"), action="publish", subject=cancel)
    bound = await collector.js.pull_subscribe_bind(names.GENERATOR_CONSUMER, stream=EVENTS)
    await collector.expect_refused(
        bound.fetch(1, timeout=3),
        action="publish",
        subject=f"$JS.API.CONSUMER.MSG.NEXT.{EVENTS}.{names.GENERATOR_CONSUMER}",
    )
    await collector.expect_refused(
        collector.js.subscribe(names.ALL_TASK_EVENTS, stream=EVENTS, ordered_consumer=True),
        action="publish",
        subject=f"$JS.API.CONSUMER.CREATE.{EVENTS}",
    )
    takeover = ConsumerConfig(filter_subject=names.SUBMIT_FILTER, ack_policy=AckPolicy.EXPLICIT)
    await collector.expect_refused(
        collector.js.add_consumer(EVENTS, takeover, name=names.GENERATOR_CONSUMER),
        action="publish",
        subject=f"$JS.API.CONSUMER.CREATE.{EVENTS}.{names.GENERATOR_CONSUMER}.{names.SUBMIT_FILTER}",
    )
    await collector.expect_refused(
        collector.js.object_store(names.SNAPSHOTS_BUCKET),
        action="publish",
        subject=f"$JS.API.STREAM.INFO.OBJ_{names.SNAPSHOTS_BUCKET}",
    )


# ---- the file itself ------------------------------------------------------------------------------------


def test_the_permissions_name_exactly_the_streams_buckets_and_consumers_of_the_topology() -> None:
    """Renaming a stream, bucket or consumer in schemas/ without updating accounts.conf fails here."""
    text = (NATS_DIR / "accounts.conf").read_text()
    applied_spec = build_topology()
    expected_streams = {s.name for s in applied_spec.streams}
    expected_streams |= {names.kv_stream(kv.bucket) for kv in applied_spec.key_values}
    expected_streams |= {f"OBJ_{o.bucket}" for o in applied_spec.object_stores}
    mentioned = set(re.findall(r"\$JS\.API\.STREAM\.INFO\.([A-Za-z0-9_-]+)", text))
    assert mentioned == expected_streams
    for consumer in applied_spec.consumers:
        assert f"$JS.API.CONSUMER.MSG.NEXT.{consumer.stream}.{consumer.durable}" in text
        assert f"$JS.ACK.{consumer.stream}.{consumer.durable}.>" in text
    for subject in (names.SUBMIT_FILTER, names.CANCEL_FILTER, names.max_deliveries_advisory(EVENTS, "generators")):
        assert f'"{subject}"' in text


async def test_a_second_user_with_a_roles_permissions_lets_credentials_rotate_without_downtime(
    tmp_path: Path,
) -> None:
    """The rotation step in deploy/README.md: one added line gives a new user exactly the generator's rights."""
    server = single_server(tmp_path)
    accounts = server.config.parent / "accounts.conf"
    current = "{user: generator, password: $NATS_GENERATOR_PASSWORD, permissions: $GENERATOR_PERMISSIONS}"
    added = "{user: generator-next, password: $NATS_GENERATOR_NEXT_PASSWORD, permissions: $GENERATOR_PERMISSIONS}"
    text = accounts.read_text()
    assert text.count(current) == 1
    accounts.write_text(text.replace(current, f"{current}\n      {added}"))
    server.env["NATS_GENERATOR_NEXT_PASSWORD"] = "rotated-secret"
    server.start()
    try:
        old = {"user": "generator", "pass": ROLE_PASSWORDS["generator"]}
        assert await connect_reply(server, old) == "PONG"
        assert await connect_reply(server, {"user": "generator-next", "pass": "rotated-secret"}) == "PONG"
        rotated = await RoleClient.connect(server.url, "generator-next", password="rotated-secret")
        try:
            submit = names.task_subject(None, new_id("t"), EventType.SUBMITTED)
            await rotated.expect_refused(rotated.nc.publish(submit, b"x"), action="publish", subject=submit)
            started = names.task_subject(None, new_id("t"), EventType.STARTED)
            await rotated.nc.publish(started, b"x")
            await rotated.nc.flush()
            assert not rotated.violated("publish", started)
        finally:
            await rotated.close()
    finally:
        server.stop()
