"""Live progress of many tasks for ``handoff wait``: a one-line bar on a terminal, change lines otherwise.

Off a terminal (a CI log) a change line is printed when a task starts, when it is found running, at each of its
milestones (environment, agent round, validation, assurance …; not each agent step) and when it finishes, so a
task of several minutes is never silent. A wait that starts after a task's first milestones prints them first (one
compact ``earlier`` line each, with its time), then the task's running line, on a terminal too."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

from handoff.cli import quality
from handoff.client.progress_history import EarlierProgress
from handoff.common.text import clipped
from handoff.schemas.events import AnyEvent, TaskFinished, TaskProgress, TaskStarted
from handoff.schemas.records import TaskRecord, TaskState

# progress stages printed as change lines off a terminal: a few per round, unlike agent_action / agent_observation
MILESTONES = frozenset({"workspace", "environment", "round", "changes", "validation", "assurance", "result",
                        "retrying"})  # fmt: skip


LOG_NOTE_CHARS = 600
"""How much of a milestone or an outcome a wait off a terminal prints (a terminal's line gets 70-160)."""


EARLIER_LINES = 10
"""At most this many of a running task's earlier milestones are printed when a wait starts after them (the last
ones)."""
EARLIER_NOTE_CHARS = 160
"""How much of each earlier milestone is printed (a glimpse: the live lines after them are whole)."""


@dataclass(slots=True)
class TaskLine:
    task_id: str
    state: str = "queued"
    note: str = ""
    shown: tuple[int, int] = (0, -1)  # (attempt, seq) of the last start or progress shown: older ones are not new


@dataclass(slots=True)
class ProgressBoard:
    tasks: dict[str, TaskLine]
    tty: bool = field(default_factory=lambda: sys.stderr.isatty())
    quiet: bool = False
    _last_width: int = 0
    _held: list[AnyEvent] | None = None

    @classmethod
    def of(cls, task_ids: list[str], *, quiet: bool = False) -> ProgressBoard:
        return cls(tasks={t: TaskLine(t) for t in task_ids}, quiet=quiet)

    def hold(self) -> None:
        """Keep the events ``apply`` gets until ``release``: while the records seed the board, a live event is
        shown after what its task did before."""
        self._held = []

    def release(self) -> None:
        held, self._held = self._held or [], None
        for event in held:
            self.apply(event)

    def apply(self, event: AnyEvent) -> None:
        if self._held is not None:
            self._held.append(event)
            return
        line = self.tasks.get(getattr(event, "task_id", ""))
        if line is None or line.state not in ("queued", "running"):
            return
        if isinstance(event, TaskStarted):
            if (event.attempt, -1) <= line.shown:
                return  # seeded from a record that had seen it
            line.shown = (event.attempt, -1)
            self._change(line, "running", f"{event.replica_id} attempt {event.attempt}")
        elif isinstance(event, TaskProgress):
            if (event.attempt, event.seq) <= line.shown:
                return  # seeded from the record's last progress, or its earlier ones
            line.shown = (event.attempt, event.seq)
            note = f"{event.stage}: {event.message}"
            if not self.tty and event.stage in MILESTONES:
                self._change(line, "running", note[:LOG_NOTE_CHARS])  # a log line need not fit a terminal's width
                return
            line.state, line.note = "running", note[:70]
            self.render()
        elif isinstance(event, TaskFinished):
            self.finish(event)

    def seed(self, record: TaskRecord, earlier: EarlierProgress | None = None) -> None:
        """What a task's record says, for a wait that starts after the task did (never moves a line back);
        ``earlier``: the milestones its attempt reported before the record's last progress, printed first."""
        line = self.tasks.get(record.task_id)
        if line is None or line.state != "queued" or record.state != TaskState.RUNNING:
            return
        p = record.last_progress
        line.shown = (record.attempt, -1) if p is None else (p.attempt, p.seq)
        if earlier is not None and not self.quiet:
            self._earlier(line, earlier)
        if p is None:
            note = f"{record.replica_id} attempt {record.attempt}"
        elif self.tty or p.stage not in MILESTONES:  # an agent step: a glimpse, as on a terminal
            note = clipped(f"{p.stage}: {' '.join(p.message.split())}", 70)
        else:  # off a terminal a milestone is a log line, like the milestones after it
            note = f"{p.stage}: {p.message}"[:LOG_NOTE_CHARS]
        if self.tty:
            line.state, line.note = "running", note
        else:  # its start was before this wait: say that it runs
            self._change(line, "running", note)

    def _earlier(self, line: TaskLine, earlier: EarlierProgress) -> None:
        """The earlier milestones as compact lines marked ``earlier``, each with its time (UTC); what was left out or
        not read is said, with its number."""
        milestones = [e for e in earlier.events if e.stage in MILESTONES]
        lines = []
        if len(milestones) > EARLIER_LINES:
            lines.append(f"… {len(milestones) - EARLIER_LINES} earlier milestone(s) not shown")
        for e in milestones[-EARLIER_LINES:]:
            text = clipped(f"{e.stage}: {' '.join(e.message.split())}", EARLIER_NOTE_CHARS)
            lines.append(f"{e.at.strftime('%H:%M:%S')}  {text}")
        if earlier.later_unread:
            lines.append(f"… {earlier.later_unread} later progress event(s) not read")
        if not lines:
            return
        self._clear()
        for text in lines:
            print(f"{line.task_id}  earlier  {text}", file=sys.stderr)
        sys.stderr.flush()

    def finish(self, finished: TaskFinished) -> None:
        line = self.tasks.get(finished.task_id)
        if line is None or line.state not in ("queued", "running"):
            return
        width = 90 if self.tty else LOG_NOTE_CHARS
        note = f"{finished.error.code}: {finished.error.message}"[:width] if finished.error else ""
        if not note and (result := quality.generation_result(finished)) is not None:
            note = quality.short(result)[: 120 if self.tty else LOG_NOTE_CHARS]
        self._change(line, str(finished.status), note)

    def _change(self, line: TaskLine, state: str, note: str) -> None:
        line.state, line.note = state, note
        if not self.quiet:
            self._clear()
            print(f"{line.task_id}  {state}  {note}".rstrip(), file=sys.stderr, flush=True)
        self.render()

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for line in self.tasks.values():
            out[line.state] = out.get(line.state, 0) + 1
        return out

    def render(self) -> None:
        if self.quiet or not self.tty:
            return
        total = len(self.tasks)
        done = sum(1 for t in self.tasks.values() if t.state not in ("queued", "running"))
        width = 24
        filled = int(width * done / total) if total else width
        counts = self.counts()
        running = next((t for t in self.tasks.values() if t.state == "running" and t.note), None)
        tail = f" | {running.task_id}: {running.note}" if running else ""
        text = (
            f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total} done · {counts.get('running', 0)} running · "
            f"{counts.get('queued', 0)} queued{tail}"
        )[:160]
        self._clear()
        sys.stderr.write(text)
        sys.stderr.flush()
        self._last_width = len(text)

    def _clear(self) -> None:
        if self.tty and self._last_width:
            sys.stderr.write("\r" + " " * self._last_width + "\r")
            self._last_width = 0

    def close(self) -> None:
        self._clear()
