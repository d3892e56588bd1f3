"""Which configured models litellm cannot price: for them the SDK's cost cap silently counts 0 USD."""

from __future__ import annotations

from collections.abc import Sequence


def unpriced_models(models: Sequence[str]) -> list[str]:
    """Models without an input price in litellm's cost map (looked up as given and without the provider prefix).

    Import only after ``load_sdk()`` (litellm must read its local cost map, not fetch one).
    """
    import litellm

    missing = []
    for model in models:
        entry = litellm.model_cost.get(model) or litellm.model_cost.get(model.split("/", 1)[-1]) or {}
        if not entry.get("input_cost_per_token"):
            missing.append(model)
    return missing
