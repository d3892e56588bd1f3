"""What one replica has done: in-process counters (``Generator.stats``) mirrored into the Prometheus metrics.

Every change goes through a method here, so the counters a health check reads and the ``/metrics`` a scraper
reads never disagree.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from handoff.observability import metrics
from handoff.schemas.events import DeadLetterReason, ErrorCode, TaskFinished, TaskStatus, TestGenerationResult

UNKNOWN_KIND = "unknown"


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
    """Submits of tasks that had finished already (a redelivery, or a concurrent run): acked, not run again."""
    dead_letters: int = 0

    @property
    def finished_total(self) -> int:
        return sum(self.finished.values())

    def became_ready(self) -> None:
        self.ready = True
        metrics.SLOTS_TOTAL.set(self.slots)

    def slots_used(self, count: int) -> None:
        self.slots_in_use = count
        metrics.SLOTS_IN_USE.set(count)

    def delivery_received(self, attempt: int) -> None:
        self.received += 1
        if attempt > 1:
            self.redeliveries += 1
            metrics.REDELIVERIES.inc()

    def task_started(self, kind: str) -> None:
        self.started += 1
        _child(metrics.TASKS_STARTED, kind).inc()

    def retry_scheduled(self, kind: str, code: ErrorCode) -> None:
        self.retries_scheduled += 1
        metrics.TASK_RETRIES.labels(kind=kind, code=code.value).inc()

    def task_finished(self, kind: str, event: TaskFinished) -> None:
        self.finished[event.status] += 1
        _child(metrics.TASKS_FINISHED, kind, event.status.value).inc()
        if event.error is not None:
            metrics.TASKS_FAILED.labels(kind=kind, code=event.error.code.value).inc()
        if event.timings.run_s is not None:
            _child(metrics.RUN_SECONDS, kind).observe(event.timings.run_s)
        if event.timings.queue_wait_s is not None:
            _child(metrics.QUEUE_WAIT_SECONDS, kind).observe(event.timings.queue_wait_s)
        if isinstance(event.result, TestGenerationResult):
            usage = event.result.usage
            metrics.LLM_TOKENS.labels(direction="prompt").inc(usage.prompt_tokens)
            metrics.LLM_TOKENS.labels(direction="completion").inc(usage.completion_tokens)
            metrics.LLM_COST_USD.inc(usage.cost_usd)

    def dead_lettered(self, origin: str, reason: DeadLetterReason) -> None:
        self.dead_letters += 1
        metrics.DEAD_LETTERS.labels(origin=origin, reason=reason.value).inc()


_CHILDREN: dict[tuple[object, tuple[str, ...]], Any] = {}


def _child(metric: Any, *labels: str) -> Any:
    """A labelled metric's child, looked up once per label set (``labels()`` costs more than the count)."""
    key = (metric, labels)
    child = _CHILDREN.get(key)
    if child is None:
        child = _CHILDREN[key] = metric.labels(*labels)
    return child
