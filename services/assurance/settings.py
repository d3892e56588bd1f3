"""Bounds of the assurance checks, read from ``HANDOFF_*`` environment variables."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from services.common.env import env_float, env_int


@dataclass(frozen=True, slots=True, kw_only=True)
class AssuranceSettings:
    reliability_runs: int = 3  # re-runs, in random order, that a test passing once must also pass
    mutation_budget_s: float = 120.0  # wall time for mutation testing per task; mutants are sampled to fit
    command_timeout_s: float = 300.0  # one pytest or coverage command

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> AssuranceSettings:
        d = cls()
        return cls(
            reliability_runs=env_int("HANDOFF_RELIABILITY_RUNS", d.reliability_runs, env, minimum=1),
            mutation_budget_s=env_float("HANDOFF_MUTATION_BUDGET_S", d.mutation_budget_s, env, minimum=1.0),
            command_timeout_s=env_float("HANDOFF_PYTEST_TIMEOUT_S", d.command_timeout_s, env, minimum=1.0),
        )
