"""How one target's coverage before -> after reads, in the runner's summary and in the CLI: a target without
statements or without branches says so instead of showing a percentage of nothing."""

from __future__ import annotations

from handoff.schemas.events import TargetQuality

NOTHING_TO_MEASURE = "no statements to measure (every line excluded or an empty module)"


def coverage_words(q: TargetQuality) -> str:
    """``line 75 -> 100 %, branch 50 -> 100 %``; ``line 100 -> 100 %, no branches``; or that there is nothing to
    measure. Results of older generators (no counts) always show both percentages."""
    if q.statements == 0:
        return NOTHING_TO_MEASURE
    line = f"line {q.baseline_line_pct:g} -> {q.final_line_pct:g} %"
    if q.branches == 0:
        return f"{line}, no branches"
    return f"{line}, branch {q.baseline_branch_pct:g} -> {q.final_branch_pct:g} %"


def final_cell(q: TargetQuality) -> str:
    """The final figures in a table cell, each named: ``grading.py line 100 %, branch 87.5 %``, ``pretty.py line
    100 % (no branches)`` (``98.77/95.45 %`` did not say which was which)."""
    if q.statements == 0:
        return f"{q.target} (nothing to measure)"
    if q.branches == 0:
        return f"{q.target} line {q.final_line_pct:g} % (no branches)"
    return f"{q.target} line {q.final_line_pct:g} %, branch {q.final_branch_pct:g} %"
