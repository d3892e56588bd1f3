"""Tests that fail only after another generated test changed state they read, and the test that changed it.

The round's tests first run together in one pytest session (filters.py). A test that changes a module's state and
leaves it so (inflection 0.5.1: CrossHair's ``irregular('\\x00', '҃')`` adds a rule to ``PLURALS``) makes the tests
run after it that read that state fail, though each is right about the code: 15 of 31 were dropped as ``fails``.
Here the failing tests run again without the passing ones; those that now pass failed because of one of them. The
one is found by halving the passing tests (each half run before the failed ones), and is the one judged failed,
for the state it leaves; the others are judged on as if it had not run. A few rounds find a few such tests; a test
failing with or without the others keeps its failure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from handoff.assurance.errors import CommandTimedOut
from handoff.assurance.testbed import TestBed

MAX_LEAKS = 3
"""How many state-leaking tests are looked for in one round (each costs a few pytest runs)."""


@dataclass(frozen=True, slots=True)
class StateLeaks:
    leaking: dict[str, list[str]] = field(default_factory=dict)  # test -> the tests that fail after it only
    cleared: list[str] = field(default_factory=list)  # failed tests that pass once the leaking ones are left out


async def find_leaks(
    bed: TestBed, passed: Mapping[str, Sequence[str]], failed: Mapping[str, Sequence[str]]
) -> StateLeaks:
    """``passed`` and ``failed``: the tests of the first run together (test -> its node ids, in the run's order)."""
    if not passed or not failed:
        return StateLeaks()
    alone = await _failing(bed, [], failed)
    if alone is None:
        return StateLeaks()
    suspects = [test for test in failed if test not in alone]  # failed with the others, pass without them
    innocent = dict(passed)
    leaking: dict[str, list[str]] = {}
    for _ in range(MAX_LEAKS):
        if not suspects:
            break
        culprit = await _bisect(bed, innocent, {t: failed[t] for t in suspects})
        if culprit is None:
            break
        del innocent[culprit]
        still = await _failing(bed, list(innocent), {t: failed[t] for t in suspects})
        if still is None:
            break
        leaking[culprit] = [t for t in suspects if t not in still]
        suspects = [t for t in suspects if t in still]
    cleared = [t for victims in leaking.values() for t in victims]
    return StateLeaks(leaking={t: v for t, v in leaking.items() if v}, cleared=cleared)


async def _bisect(bed: TestBed, nodes: Mapping[str, Sequence[str]], victims: Mapping[str, Sequence[str]]) -> str | None:
    """The one test of ``nodes`` (test -> node ids, in run order) after which some of ``victims`` fail; None when no
    single test does."""
    tests = list(nodes)
    while len(tests) > 1:
        half = tests[: len(tests) // 2]
        broken = await _failing(bed, half, victims, nodes)
        if broken is None:
            return None
        tests = half if broken else tests[len(tests) // 2 :]
    if not tests:
        return None
    confirmed = await _failing(bed, tests, victims, nodes)
    return tests[0] if confirmed else None


async def _failing(
    bed: TestBed,
    before: Sequence[str],
    tests: Mapping[str, Sequence[str]],
    nodes: Mapping[str, Sequence[str]] | None = None,
) -> set[str] | None:
    """Which of ``tests`` fail when run after ``before`` (their node ids from ``nodes``) in one session; None when
    the run did not finish (nothing can be concluded)."""
    first = [node for test in before for node in (nodes or {}).get(test, ())]
    try:
        run = await bed.pytest([*first, *(node for ids in tests.values() for node in ids)], name="state-leaks")
    except CommandTimedOut:
        return None
    return {test for test, ids in tests.items() if any(run.outcomes.get(node) != "passed" for node in ids)}
