"""The floor for the round-trip benchmark: the least a JetStream submit -> consume -> result loop can cost,
written with raw nats-py and none of Handoff (no schemas, no collector, no records)."""

from __future__ import annotations

import asyncio
import time

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, StreamConfig
from nats.js.errors import FetchTimeoutError

from benchmarks.harness import Measurement

STREAM = "RAWFLOOR"


async def raw_round_trip(url: str, *, tasks: int, in_flight: int) -> Measurement:
    producer, worker = NATS(), NATS()
    await producer.connect(url)
    await worker.connect(url)
    js, wjs = producer.jetstream(), worker.jetstream()
    await js.add_stream(StreamConfig(name=STREAM, subjects=["raw.submit.*", "raw.result.*"]))
    await js.add_consumer(
        STREAM,
        ConsumerConfig(
            durable_name="w",
            filter_subject="raw.submit.*",
            ack_policy=AckPolicy.EXPLICIT,
            max_ack_pending=in_flight * 2,
        ),
    )
    sub = await wjs.pull_subscribe_bind("w", stream=STREAM)
    started: dict[str, float] = {}
    latencies: list[float] = []
    window = asyncio.Semaphore(in_flight)
    done = asyncio.Event()

    async def on_result(msg: Msg) -> None:
        task_id = msg.subject.rsplit(".", 1)[1]
        latencies.append(time.perf_counter() - started.pop(task_id))
        window.release()
        if len(latencies) == tasks:
            done.set()

    await producer.subscribe("raw.result.*", cb=on_result)
    stop = asyncio.Event()

    async def work() -> None:
        while not stop.is_set():
            try:
                batch = await sub.fetch(batch=in_flight, timeout=0.2)
            except (FetchTimeoutError, TimeoutError):
                continue
            for msg in batch:
                task_id = msg.subject.rsplit(".", 1)[1]
                await wjs.publish(f"raw.result.{task_id}", msg.data)
                await msg.ack()

    worker_task = asyncio.create_task(work())
    t0 = time.perf_counter()
    for i in range(tasks):
        await window.acquire()
        task_id = f"t{i}"
        started[task_id] = time.perf_counter()
        await js.publish(f"raw.submit.{task_id}", b'{"kind":"noop"}', headers={"Nats-Msg-Id": task_id})
    await asyncio.wait_for(done.wait(), timeout=300)
    wall = time.perf_counter() - t0
    stop.set()
    await worker_task
    await producer.close()
    await worker.close()
    return Measurement("raw nats-py floor", tasks, wall, latencies)
