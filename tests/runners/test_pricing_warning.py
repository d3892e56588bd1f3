"""The runner warns at start when a cost budget is set for a model litellm cannot price."""

from __future__ import annotations

import pytest
import structlog

from handoff.runners.openhands import OpenHandsTestRunner
from handoff.runners.openhands.settings import LlmSettings, RunnerSettings


@pytest.mark.parametrize(
    ("model", "input_cost", "warned"),
    [("openai/handoff-private-model", None, True), ("openai/gpt-4o-mini", None, False),
     ("openai/handoff-private-model", 1e-6, False)],
)  # fmt: skip
async def test_a_budget_for_a_model_without_a_price_is_reported_once_at_start(
    model: str, input_cost: float | None, warned: bool
) -> None:
    """Unpriced model + budget: one warning naming the model; a priced model or an explicit price: none."""
    settings = RunnerSettings(llm=LlmSettings(model=model, input_cost_per_token=input_cost), max_budget_usd=2.0)
    with structlog.testing.capture_logs() as logs:
        async with OpenHandsTestRunner(settings):
            pass
    warnings = [entry for entry in logs if entry["event"] == "llm_budget_not_enforceable"]
    assert len(warnings) == (1 if warned else 0)
    if warned:
        assert warnings[0]["models"] == [model] and "HANDOFF_AGENT_MAX_TOKENS" in warnings[0]["hint"]
