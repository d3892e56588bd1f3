"""What the demo prints per module: tests kept, line and branch coverage, mutation score, the summary."""

from __future__ import annotations

from handoff.cli.escape import printable
from handoff.schemas.events import TaskFinished, TaskStatus, TestGenerationResult

NOT_MEASURED = "not measured"
DETAIL_LINES = 8  # of a failed task's detail (pytest's output ends with the failures)


def module_lines(target: str, finished: TaskFinished | None) -> list[str]:
    """A few lines for one target module's task (the demo submits one task per module)."""
    if finished is None:
        return [f"{target}: no result within the timeout (the task keeps running)"]
    result = finished.result
    if finished.status != TaskStatus.SUCCEEDED or not isinstance(result, TestGenerationResult):
        if finished.error is None:
            return [f"{target}: {finished.status}"]
        detail = [f"  {printable(line)}" for line in finished.error.detail.splitlines()[-DETAIL_LINES:] if line.strip()]
        return [f"{target}: {finished.status}: {printable(finished.error.message)}", *detail]
    quality = next((q for q in result.quality if q.target == target), None)
    if result.tests_kept:
        kept = str(len(result.tests_kept))
    elif quality is not None or result.tests_dropped:
        kept = "0"
    else:
        kept = f"{NOT_MEASURED} ({result.tests_passed} passing)"
    if quality is not None:
        line = f"{quality.final_line_pct:.0f} % (before: {quality.baseline_line_pct:.0f} %)"
        branch = f"{quality.final_branch_pct:.0f} % (before: {quality.baseline_branch_pct:.0f} %)"
    else:
        cov = next((c for c in result.coverage if c.target == target), None)
        line = f"{cov.percent:.0f} %" if cov is not None else NOT_MEASURED
        branch = NOT_MEASURED
    if quality is not None and quality.mutation_score_pct is not None:
        sampled = ", sampled" if quality.mutants_sampled else ""
        mutation = (f"{quality.mutation_score_pct:.0f} % ({quality.mutants_killed} of {quality.mutants_total} "
                    f"mutants killed{sampled})")  # fmt: skip
    else:
        mutation = NOT_MEASURED
    return [
        f"{target}: {finished.status}",
        f"  tests kept: {kept}",
        f"  line coverage: {line}; branch coverage: {branch}",
        f"  mutation score: {mutation}",
        f"  summary: {printable(result.summary) or '(none)'}",
    ]
