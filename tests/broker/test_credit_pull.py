"""Pull requests kept open for exactly the messages their owner can take, counted exactly whichever request a
message answers (a real nats-server; the accounting alone in the last tests)."""

from __future__ import annotations

import asyncio

import pytest
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, StreamConfig

from handoff.broker.credit_pull import MARGIN_S, CreditPull, Credits
from handoff.schemas import names

STREAM, CONSUMER = "CREDIT", "workers"


class Owner:
    """What a replica does with a CreditPull: keeps what comes, records how requests end."""

    def __init__(self) -> None:
        self.got: list[Msg] = []
        self.ended: list[tuple[str, str]] = []
        self.changed = asyncio.Event()

    def on_message(self, msg: Msg) -> None:
        self.got.append(msg)
        self.changed.set()

    def on_ended(self, status: str, description: str) -> None:
        self.ended.append((status, description))
        self.changed.set()

    async def until(self, condition: object, timeout_s: float = 5.0) -> None:
        async with asyncio.timeout(timeout_s):
            while not condition():  # type: ignore[operator]
                self.changed.clear()
                await self.changed.wait()


@pytest.fixture
async def pull(nc: NATS, js: JetStreamContext) -> tuple[CreditPull, Owner]:
    await js.add_stream(StreamConfig(name=STREAM, subjects=["credit.>"]))
    await js.add_consumer(STREAM, ConsumerConfig(durable_name=CONSUMER, ack_policy=AckPolicy.EXPLICIT))
    owner = Owner()
    pull = CreditPull(nc, stream=STREAM, consumer=CONSUMER, on_message=owner.on_message, on_ended=owner.on_ended)
    await pull.start()
    return pull, owner


async def publish(js: JetStreamContext, count: int, start: int = 0) -> None:
    for i in range(start, start + count):
        await js.publish(f"credit.{i}", str(i).encode())


async def test_a_request_brings_as_many_messages_as_asked_and_uses_its_credit_up(
    pull: tuple[CreditPull, Owner], js: JetStreamContext
) -> None:
    credit, owner = pull
    await publish(js, 5)
    await credit.ask(3, expires_s=5)
    assert credit.outstanding == 3
    await owner.until(lambda: len(owner.got) == 3)
    assert [m.data for m in owner.got] == [b"0", b"1", b"2"]
    assert credit.outstanding == 0 and credit.requests_open == 0
    assert owner.ended == []  # a request that got all it asked for ends without a word from the server


async def test_a_request_that_expires_half_filled_gives_its_credit_back_and_says_so(
    pull: tuple[CreditPull, Owner], js: JetStreamContext
) -> None:
    credit, owner = pull
    await publish(js, 2)
    await credit.ask(5, expires_s=0.3)
    await owner.until(lambda: len(owner.got) == 2)
    assert credit.outstanding == 3
    await owner.until(lambda: owner.ended)
    assert owner.ended[0][0] == "408"
    assert credit.outstanding == 0 and credit.requests_open == 0


async def test_messages_spread_over_several_open_requests_are_counted_exactly(
    pull: tuple[CreditPull, Owner], js: JetStreamContext
) -> None:
    credit, owner = pull
    await credit.ask(2, expires_s=0.5)
    await credit.ask(3, expires_s=0.5)
    await credit.ask(1, expires_s=0.5)
    assert credit.outstanding == 6 and credit.requests_open == 3
    await publish(js, 4)
    await owner.until(lambda: len(owner.got) == 4)
    assert credit.outstanding == 2
    await owner.until(lambda: credit.requests_open == 0, timeout_s=0.5 + 2)
    assert credit.outstanding == 0
    await publish(js, 2, start=4)
    await asyncio.sleep(0.2)
    assert len(owner.got) == 4  # nothing is asked for any more: nothing more comes


async def test_a_freed_slot_is_asked_for_while_an_earlier_request_is_still_open(
    pull: tuple[CreditPull, Owner], js: JetStreamContext
) -> None:
    credit, owner = pull
    await credit.ask(1, expires_s=5)  # waits: the stream is empty
    await credit.ask(1, expires_s=5)  # a second request, the first still open
    await publish(js, 2)
    await owner.until(lambda: len(owner.got) == 2, timeout_s=2)
    assert credit.outstanding == 0 and credit.requests_open == 0


async def test_a_request_the_server_never_answers_is_forgotten_after_its_time(nc: NATS, js: JetStreamContext) -> None:
    owner = Owner()
    # something takes the request and never answers, as when the connection dropped while the request was open
    silent = await nc.subscribe(names.pull_next_subject("NOSUCH", "nobody"))
    credit = CreditPull(nc, stream="NOSUCH", consumer="nobody", on_message=owner.on_message, on_ended=owner.on_ended)
    await credit.start()
    await credit.ask(4, expires_s=0.2)
    assert credit.outstanding == 4
    waited = asyncio.get_running_loop().time()
    await credit.drained(timeout_s=5)
    assert credit.outstanding == 0 and credit.requests_open == 0
    assert asyncio.get_running_loop().time() - waited >= 0.2 + MARGIN_S - 0.02
    assert owner.ended == []
    await credit.stop()
    await silent.unsubscribe()


async def test_a_request_nobody_can_answer_ends_at_once(nc: NATS) -> None:
    owner = Owner()
    credit = CreditPull(nc, stream="NOSUCH", consumer="nobody", on_message=owner.on_message, on_ended=owner.on_ended)
    await credit.start()
    await credit.ask(4, expires_s=30)
    await owner.until(lambda: owner.ended, timeout_s=5)
    assert owner.ended[0][0] == "503" and credit.outstanding == 0


def test_a_request_ended_by_the_server_corrects_the_estimate_of_the_others() -> None:
    credits = Credits()
    credits.asked("a", 2, forget_at=10)
    credits.asked("b", 2, forget_at=10)
    credits.delivered(2)  # counted against "a", the oldest: it looks full
    assert credits.total == 2 and len(credits) == 1
    # the server says "a" expired with 1 of its 2 never sent: one of the two went to "b"
    credits.ended("a", pending=1)
    assert credits.total == 1 and len(credits) == 1
    credits.ended("b", pending=1)
    assert credits.total == 0 and len(credits) == 0


def test_a_request_that_got_more_than_counted_gives_the_others_their_credit_back() -> None:
    credits = Credits()
    credits.asked("a", 1, forget_at=10)
    credits.asked("b", 3, forget_at=10)
    credits.delivered(1)  # against "a"; in fact "b" got it
    credits.ended("b", pending=2)  # "b" ends with 2 not sent: "a" is still owed its 1
    assert credits.total == 1 and len(credits) == 1
    credits.forget_due(now=10)
    assert credits.total == 0 and len(credits) == 0


def test_an_end_without_a_count_closes_only_that_request() -> None:
    credits = Credits()
    credits.asked("a", 2, forget_at=10)
    credits.asked("b", 2, forget_at=20)
    credits.ended("a", pending=None)
    assert credits.total == 2
    credits.forget_due(now=15)
    assert credits.total == 2
    credits.forget_due(now=20)
    assert credits.total == 0
