"""Holding back the events of unfinished tasks for a moment, so that one record write serves several of them.

A task's submit, start and finish often arrive within milliseconds of each other, but in different batches. The
events of a task that has not finished are kept back for up to ``hold_s`` and folded with the task's next
events, or when due. They stay unacknowledged meanwhile (``hold_s`` is far below the consumer's ack wait), so
nothing is lost if the replica stops.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from handoff.collector.intake import TaskItem
from handoff.schemas.events import TaskFinished

MAX_HELD_TASKS = 4096
"""Tasks whose events may be held at once; beyond, new events are folded at once (bounds the memory and the
unacknowledged events, which count against the consumer's max_ack_pending)."""


@dataclass(slots=True)
class _Held:
    items: list[TaskItem]
    due: float  # loop time when they are folded even without more events


class HeldEvents:
    def __init__(self, hold_s: float) -> None:
        self.hold_s = hold_s
        self._held: dict[str, _Held] = {}  # task id -> its events kept back for more

    def __bool__(self) -> bool:
        return bool(self._held)

    def any_due(self) -> bool:
        now = asyncio.get_running_loop().time()
        return any(h.due <= now for h in self._held.values())

    def first_due_in_s(self) -> float | None:
        """Seconds until the first held events are due (None: nothing is held)."""
        if not self._held:
            return None
        return min(h.due for h in self._held.values()) - asyncio.get_running_loop().time()

    def hold_back(self, by_task: dict[str, list[TaskItem]], *, flush: bool) -> None:
        """Join held events to their task's new ones in ``by_task``, add those that are due (``flush``: all), and
        take out of ``by_task`` the events of unfinished tasks to hold until their due time."""
        now = asyncio.get_running_loop().time()
        due: dict[str, float] = {}
        for task_id, items in by_task.items():
            held = self._held.pop(task_id, None)
            if held is not None:
                items[:0] = held.items
                due[task_id] = held.due
        for task_id in [t for t, h in self._held.items() if flush or h.due <= now]:
            held = self._held.pop(task_id)
            by_task[task_id] = held.items
            due[task_id] = held.due
        if flush or self.hold_s <= 0:
            return
        for task_id, items in list(by_task.items()):
            until = due.get(task_id, now + self.hold_s)
            if until <= now or len(self._held) >= MAX_HELD_TASKS or _finishes(items):
                continue
            self._held[task_id] = _Held(items, until)
            del by_task[task_id]


def _finishes(items: list[TaskItem]) -> bool:
    return any(isinstance(i.event, TaskFinished) for i in items)
