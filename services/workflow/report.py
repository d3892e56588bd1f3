"""What a workflow run did: stage timings, each generation task's outcome, and a printable timeline."""

from __future__ import annotations

from dataclasses import dataclass, field

from handoff.workflow.config import Mode


@dataclass(slots=True)
class StageRecord:
    name: str
    kind: str
    started_s: float
    finished_s: float = 0.0
    ok: bool = True
    detail: str = ""

    @property
    def duration_s(self) -> float:
        return self.finished_s - self.started_s


@dataclass(slots=True)
class GenerationOutcome:
    target: str
    task_id: str
    status: str = "pending"  # a TaskStatus value, or "pending" / "wait_timed_out"
    error_code: str | None = None
    error: str = ""
    summary: str = ""
    patch_applied: bool = False
    patch_error: str = ""


@dataclass(slots=True)
class WorkflowReport:
    mode: Mode
    run_id: str
    stages: list[StageRecord] = field(default_factory=list)
    generation: list[GenerationOutcome] = field(default_factory=list)
    wall_s: float = 0.0

    @property
    def ok(self) -> bool:
        return all(s.ok for s in self.stages) and all(g.status == "succeeded" for g in self.generation)

    def timeline(self, width: int = 50) -> str:
        """One line per stage: a bar placed on the run's time axis, with start and duration."""
        total = max(self.wall_s, 1e-9)
        lines = [f"workflow run {self.run_id} ({self.mode}), {self.wall_s:.2f} s"]
        for s in self.stages:
            start = int(s.started_s / total * width)
            length = max(1, int(s.duration_s / total * width))
            bar = " " * start + ("#" if s.ok else "x") * min(length, width - start)
            mark = "ok " if s.ok else "FAIL"
            lines.append(f"  {s.name:<18} |{bar:<{width}}| {s.started_s:7.2f}s +{s.duration_s:6.2f}s {mark} {s.detail}")
        if self.generation:
            lines.append("  generated tests:")
            for g in self.generation:
                patch = "patch applied" if g.patch_applied else (g.patch_error or "no patch")
                error = f" {g.error_code}: {g.error}" if g.error_code else ""
                lines.append(f"    {g.target:<40} {g.status:<14} {patch}{error}")
        return "\n".join(lines)
