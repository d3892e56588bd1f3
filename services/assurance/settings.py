"""Bounds of the assurance checks, read from ``HANDOFF_*`` environment variables."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from handoff.common.env import env_float, env_int

MUTATION_PACKAGES = ("cosmic-ray==8.7.0",)  # run with the project's interpreter (see mutation.py)
PYTEST_TIMEOUT_S = 120.0  # HANDOFF_PYTEST_TIMEOUT_S unset: the bound of one pytest or coverage command


@dataclass(frozen=True, slots=True, kw_only=True)
class AssuranceSettings:
    reliability_runs: int = 3  # re-runs, in random order, that a test passing once must also pass
    mutation_budget_s: float = 120.0  # wall time for mutation testing per task (sampled to fit); 0: no mutation
    command_timeout_s: float = PYTEST_TIMEOUT_S
    """``HANDOFF_PYTEST_TIMEOUT_S``: one pytest or coverage command, the runner's validation runs included."""
    # wall time for re-running coverage-free dropped tests against the surviving mutants (rescue.py); 0: off
    mutation_rescue_budget_s: float = 60.0

    @property
    def mutation_enabled(self) -> bool:
        return self.mutation_budget_s > 0

    @property
    def tool_packages(self) -> tuple[str, ...]:
        """What the project's environment needs besides pytest and coverage for these checks."""
        return MUTATION_PACKAGES if self.mutation_enabled else ()

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> AssuranceSettings:
        d = cls()
        return cls(
            reliability_runs=env_int("HANDOFF_RELIABILITY_RUNS", d.reliability_runs, env, minimum=1),
            mutation_budget_s=env_float("HANDOFF_MUTATION_BUDGET_S", d.mutation_budget_s, env, minimum=0.0),
            mutation_rescue_budget_s=env_float(
                "HANDOFF_MUTATION_RESCUE_BUDGET_S", d.mutation_rescue_budget_s, env, minimum=0.0
            ),
            command_timeout_s=env_float("HANDOFF_PYTEST_TIMEOUT_S", d.command_timeout_s, env, minimum=1.0),
        )
