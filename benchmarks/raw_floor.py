"""The floor for the round-trip benchmark: the least a JetStream submit -> consume -> result loop can cost,
written with raw nats-py and none of Handoff (no schemas, no lifecycle events, no collector, no records).

It keeps the guarantees that make the comparison fair, and nothing else:

* the submit and the result are JetStream publishes, each awaited until the stream acknowledged it (file
  storage, a ``Nats-Msg-Id`` on the submit, as Handoff's submits have);
* the worker reads submits through a durable pull consumer with explicit acks, and acks a submit only after its
  result was stored;
* 64 tasks (``in_flight``) are outstanding at any time: a new submit is issued when a result arrives, and the
  consumer's ``max_ack_pending`` is the same window.

It is written to be fast, not naive: the producer publishes from ``in_flight`` concurrent callers, the worker
handles every fetched submit concurrently, and results reach the producer through one core subscription.
"""

from __future__ import annotations

import asyncio
import time

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, StreamConfig

from benchmarks.harness import Measurement

STREAM = "RAWFLOOR"
SUBMIT_PREFIX = "raw.submit."
RESULT_PREFIX = "raw.result."
PAYLOAD = b'{"kind":"noop","duration_s":0}'


async def raw_round_trip(
    url: str,
    *,
    tasks: int,
    in_flight: int,
    slots: int | None = None,
    work_s: float = 0.0,
    name: str = "raw nats-py floor",
) -> Measurement:
    """``in_flight`` tasks outstanding from the producer; the worker runs up to ``slots`` (default: ``in_flight``)
    at once, each taking ``work_s`` (an ``asyncio.sleep``) before its result is published."""
    slots = slots or in_flight
    producer, worker = NATS(), NATS()
    await producer.connect(url, name="raw-producer")
    await worker.connect(url, name="raw-worker")
    js, wjs = producer.jetstream(), worker.jetstream()
    await js.add_stream(StreamConfig(name=STREAM, subjects=[SUBMIT_PREFIX + "*", RESULT_PREFIX + "*"]))
    await js.add_consumer(
        STREAM,
        ConsumerConfig(
            durable_name="w",
            filter_subject=SUBMIT_PREFIX + "*",
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=30,
            max_ack_pending=slots,
        ),
    )
    sub = await wjs.pull_subscribe_bind("w", stream=STREAM)
    waiting: dict[str, asyncio.Future[None]] = {}

    async def on_result(msg: Msg) -> None:
        future = waiting.pop(msg.subject[len(RESULT_PREFIX) :], None)
        if future is not None and not future.done():
            future.set_result(None)

    await producer.subscribe(RESULT_PREFIX + "*", cb=on_result)
    stop = asyncio.Event()
    freed = asyncio.Event()
    handling: set[asyncio.Task[None]] = set()

    def finished(task: asyncio.Task[None]) -> None:
        handling.discard(task)
        freed.set()

    async def handle(msg: Msg) -> None:
        task_id = msg.subject[len(SUBMIT_PREFIX) :]
        if work_s > 0:
            await asyncio.sleep(work_s)
        await wjs.publish(RESULT_PREFIX + task_id, msg.data)
        await msg.ack()

    async def work() -> None:
        while not stop.is_set():
            freed.clear()
            free = slots - len(handling)
            if free <= 0:
                await freed.wait()
                continue
            try:
                batch = await sub.fetch(batch=free, timeout=0.2)
            except TimeoutError:  # nats' fetch timeouts derive from the builtin TimeoutError
                continue
            for msg in batch:
                task = asyncio.create_task(handle(msg))
                handling.add(task)
                task.add_done_callback(finished)

    latencies: list[float] = []
    window = asyncio.Semaphore(in_flight)
    loop = asyncio.get_running_loop()

    async def one(task_id: str) -> None:
        try:
            started = time.perf_counter()
            done = loop.create_future()
            waiting[task_id] = done
            await js.publish(SUBMIT_PREFIX + task_id, PAYLOAD, headers={"Nats-Msg-Id": task_id})
            await done
            latencies.append(time.perf_counter() - started)
        finally:
            window.release()

    worker_task = asyncio.create_task(work())
    callers: set[asyncio.Task[None]] = set()
    t0 = time.perf_counter()
    for i in range(tasks):
        await window.acquire()
        caller = asyncio.create_task(one(f"t{i}"))
        callers.add(caller)
        caller.add_done_callback(callers.discard)
    await asyncio.wait_for(asyncio.gather(*callers), timeout=600)
    wall = time.perf_counter() - t0
    stop.set()
    await worker_task
    await asyncio.gather(*handling)
    await producer.close()
    await worker.close()
    return Measurement(name, tasks, wall, latencies)
