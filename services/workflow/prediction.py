"""The critical-path model of a workflow's wall time, to compare measured runs against.

blocking:      sum of all work stages + N x generation time
non-blocking:  stages before generation + max(work stages until the join, ceil(N/K) x generation) + the rest
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from handoff.workflow.config import Mode, StageKind, StageSpec


def predict_wall_s(
    stages: Sequence[StageSpec],
    durations_s: dict[str, float],
    *,
    modules: int,
    generation_s: float,
    slots: int,
    mode: Mode,
) -> float:
    work = [(s, durations_s.get(s.name, 0.0)) for s in stages]
    if mode == Mode.BLOCKING:
        return sum(d for _, d in work) + modules * generation_s
    waves = math.ceil(modules / max(slots, 1)) * generation_s
    total, overlapped, generating, joined = 0.0, 0.0, False, False
    for stage, duration in work:
        if stage.kind == StageKind.GENERATE_TESTS:
            generating = True
            continue
        if generating and not joined and (stage.kind == StageKind.JOIN or stage.needs_generated_tests):
            total += max(overlapped, waves)
            joined = True
        if generating and not joined:
            overlapped += duration
        else:
            total += duration
    if generating and not joined:
        total += max(overlapped, waves)  # an implicit join at the end
    return total
