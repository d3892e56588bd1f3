"""In-process counters of one replica, for logs now and a metrics or health endpoint later."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from schemas.events import TaskStatus


@dataclass(slots=True)
class GeneratorStats:
    replica_id: str
    slots: int
    ready: bool = False
    """True once the consumer is bound and the subscriptions are in place; False again after shutdown."""
    slots_in_use: int = 0
    received: int = 0
    started: int = 0
    finished: Counter[TaskStatus] = field(default_factory=Counter)
    redeliveries: int = 0
    """Submits received with a delivery count above one (crash, timeout, retry or shutdown hand-back)."""
    retries_scheduled: int = 0
    released: int = 0
    """Submits handed back with an immediate nak: shutdown, or delivered beyond the free slots."""
    already_finished: int = 0
    """Redelivered submits of tasks that had finished already: acked without running again."""
    dead_letters: int = 0

    def count_finished(self, status: TaskStatus) -> None:
        self.finished[status] += 1

    @property
    def finished_total(self) -> int:
        return sum(self.finished.values())
