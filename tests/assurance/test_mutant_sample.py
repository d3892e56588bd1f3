"""When mutants are sampled to fit the budget, the sample follows the mutants, not cosmic-ray's random job ids: two
runs over the same code with the same budget score the same mutants."""

from __future__ import annotations

import uuid

from handoff.assurance.mutation import _sample

# (module, line, column, operator, occurrence): what cosmic-ray's `dump` says of each mutant of grading.py
MUTANTS = [
    ("grading.py", 2, 7, f"core/ReplaceComparisonOperator_GtE_{op}", 0) for op in ("Gt", "Lt", "LtE", "Eq", "NotEq")
] + [("grading.py", 2, 16, "core/NumberReplacer", n) for n in range(2)]


def _session() -> dict[str, tuple[dict, dict | None]]:
    """The dump of a fresh cosmic-ray session: the same mutants under new random job ids."""
    items: dict[str, tuple[dict, dict | None]] = {}
    for module, line, column, operator, occurrence in MUTANTS:
        job = uuid.uuid4().hex
        mutation = {"module_path": module, "operator_name": operator, "occurrence": occurrence,
                    "start_pos": [line, column], "end_pos": [line, column + 2]}  # fmt: skip
        items[job] = ({"job_id": job, "mutations": [mutation]}, None)
    return items


def _mutants(items: dict[str, tuple[dict, dict | None]], jobs: list[str]) -> set[tuple[str, int]]:
    return {(items[j][0]["mutations"][0]["operator_name"], items[j][0]["mutations"][0]["occurrence"]) for j in jobs}


def test_two_sessions_of_the_same_mutants_sample_the_same_ones() -> None:
    samples = []
    for _ in range(5):
        items = _session()
        samples.append(_mutants(items, _sample(items, 3, seed=1)))
    assert all(sample == samples[0] for sample in samples) and len(samples[0]) == 3


def test_a_bigger_budget_samples_what_a_smaller_one_did_and_more() -> None:
    items = _session()
    smaller = set(_sample(items, 2, seed=0))
    bigger = set(_sample(items, 5, seed=0))
    assert smaller < bigger


def test_another_seed_samples_others() -> None:
    items = _session()
    assert len({tuple(sorted(_mutants(items, _sample(items, 3, seed=seed)))) for seed in range(6)}) > 1
