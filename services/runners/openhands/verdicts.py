"""How a failed round's report words its tests' verdicts and the coverage they start from: each generated test as
the filters judged it (kept or dropped, and why), and how far the project's existing tests get on each target."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from handoff.assurance.coverage_delta import TargetDelta
from handoff.assurance.filters import Judgement
from handoff.schemas.events import RoundCounts

LISTED = 30  # tests listed one by one; the result's --json has every dropped test
REASON_CHARS = 300


def counts_line(counts: RoundCounts) -> str:
    return f"kept {counts.kept}, failed {counts.failed}, flaky {counts.flaky}, useless {counts.useless}"


def listing(judgements: Sequence[Judgement], redact: Callable[[str], str]) -> str:
    """One line per test: ``- node id: verdict: reason`` (the reason on one line, cut)."""
    lines = [f"- {j.test}: {j.verdict.value}" + (f": {_one_line(redact(j.reason))}" if j.reason.strip() else "")
             for j in judgements[:LISTED]]  # fmt: skip
    if len(judgements) > LISTED:
        lines.append(f"- … and {len(judgements) - LISTED} more")
    return "\n".join(lines)


def reach(deltas: Sequence[TargetDelta], goal_pct: float, *, whose: str, met_too: bool) -> str:
    """``The project's <whose> reach: …`` per target: what is missing under the goal; with ``met_too`` also the
    targets that meet it (their figures). '' when there is nothing to say."""
    parts = []
    for delta in deltas:
        gap = delta.gap(goal_pct)
        if gap:
            parts.append(gap)
        elif met_too:
            cov = delta.final
            parts.append(f"{delta.target}: line {cov.line_pct:g} %, branch {cov.branch_pct:g} % "
                         f"(line+branch {cov.combined_pct:g} %, goal {goal_pct:g} % met)")  # fmt: skip
    return f"The project's {whose} reach: " + "; ".join(parts) if parts else ""


def _one_line(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= REASON_CHARS else flat[: REASON_CHARS - 1] + "…"
