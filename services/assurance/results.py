"""The assurance reports as the result's wire parts (schemas.events): per-target quality, dropped tests, counts."""

from __future__ import annotations

from collections.abc import Sequence

from handoff.assurance.coverage_delta import TargetDelta
from handoff.assurance.filters import FilterReport
from handoff.assurance.mutation import MutationReport
from handoff.schemas.events import DroppedTest, RoundCounts, TargetQuality, Verdict


def target_quality(per_target: Sequence[TargetDelta], mutation: MutationReport | None = None) -> list[TargetQuality]:
    scores = {s.target: s for s in mutation.scores} if mutation else {}
    parts = []
    for delta in per_target:
        score = scores.get(delta.target)
        parts.append(
            TargetQuality(
                target=delta.target,
                baseline_line_pct=delta.baseline.line_pct,
                baseline_branch_pct=delta.baseline.branch_pct,
                final_line_pct=delta.final.line_pct,
                final_branch_pct=delta.final.branch_pct,
                mutants_killed=score.killed if score else 0,
                mutants_total=score.total if score else 0,
                mutation_score_pct=score.score_pct if score else None,
                mutants_sampled=bool(mutation and mutation.sampled),
                statements=len(delta.final.statements | delta.baseline.statements),
                branches=len(delta.final.branches | delta.baseline.branches),
            )
        )
    return parts


def round_counts(round_no: int, report: FilterReport) -> RoundCounts:
    counts = report.counts
    return RoundCounts(round=round_no, kept=counts["kept"], failed=counts["failed"], flaky=counts["flaky"],
                       useless=counts["useless"])  # fmt: skip


def kept_tests(report: FilterReport) -> list[str]:
    return [j.test for j in report.of(Verdict.KEPT)]


def dropped_tests(report: FilterReport) -> list[DroppedTest]:
    return [DroppedTest(test=j.test, verdict=j.verdict, reason=j.reason[:2000])
            for j in report.judgements if j.verdict != Verdict.KEPT]  # fmt: skip
