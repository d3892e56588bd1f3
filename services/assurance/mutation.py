"""Mutation score with cosmic-ray: mutate the targets in a private copy of the tree, run the kept tests against
each mutant within a time budget (mutants are sampled when more exist than fit), and report killed / total per
target plus the surviving mutants ("changes your tests did not notice").

cosmic-ray runs with the project's interpreter (it must be installed in the project's environment): ``init``
lists the mutants into a session database, the mutants left out of the sample are marked skipped through
cosmic-ray's own ``WorkDB`` API (as its filters do), ``exec`` runs the rest and ``dump`` reports them.
"""

from __future__ import annotations

import json
import random
import shlex
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from handoff.assurance.errors import CommandTimedOut, ToolFailed
from handoff.assurance.testbed import IGNORE_PLUGIN, MUTANTS_PLUGIN, TestBed

_SKIP_SCRIPT = """
import sys
from cosmic_ray.work_db import WorkDB, use_db
from cosmic_ray.work_item import WorkerOutcome, WorkResult
ids = open(sys.argv[2]).read().split()
with use_db(sys.argv[1], WorkDB.Mode.open) as db:
    db.set_multiple_results(ids, WorkResult(worker_outcome=WorkerOutcome.SKIPPED))
"""
_OVERHEAD_S = 0.5  # cosmic-ray's own cost per mutant (apply, restore, record), on top of one test run


@dataclass(frozen=True, slots=True)
class Mutant:
    target: str
    line: int
    operator: str  # e.g. "ReplaceComparisonOperator_GtE_Eq"
    original: str  # the line before ...
    mutated: str  # ... and after the change
    diff: str = ""  # cosmic-ray's unified diff of the module (what applies the mutant exactly, see rescue.py)

    def describe(self) -> str:
        return f"{self.target}:{self.line} ({self.operator}): `{self.original.strip()}` -> `{self.mutated.strip()}`"


@dataclass(frozen=True, slots=True)
class TargetScore:
    target: str
    killed: int = 0
    total: int = 0  # mutants run to a verdict (sampled ones only)
    generated: int = 0  # mutants cosmic-ray generated for the target
    survivors: list[Mutant] = field(default_factory=list)

    @property
    def score_pct(self) -> float | None:
        return round(100.0 * self.killed / self.total, 2) if self.total else None


@dataclass(frozen=True, slots=True)
class MutationReport:
    scores: list[TargetScore]
    sampled: bool = False  # fewer mutants were run than generated, to fit the budget
    budget_exhausted: bool = False  # the budget ran out before every sampled mutant ran
    note: str = ""

    def feedback(self, limit: int = 30) -> str:
        """The surviving mutants as a feedback text; '' when every mutant run was killed."""
        survivors = [m for s in self.scores for m in s.survivors]
        if not survivors:
            return ""
        lines = [f"- {m.describe()}" for m in survivors[:limit]]
        more = f"\n(and {len(survivors) - limit} more)" if len(survivors) > limit else ""
        head = "Changes to the code your tests did not notice (each left every test passing):\n"
        return head + "\n".join(lines) + more


async def mutation_score(
    bed: TestBed, kept_tests: Sequence[str], targets: Sequence[str], *, budget_s: float, seed: int = 0
) -> MutationReport:
    """Run the kept tests (node ids or files) against the targets' mutants within ``budget_s`` seconds of wall time."""
    if not kept_tests:
        return MutationReport(scores=[TargetScore(t) for t in targets], note="no kept tests to run against mutants")
    started = time.monotonic()
    work = bed.scratch / "mutation"
    work.mkdir(exist_ok=True)
    tree = bed.copy_tree("mutation-tree")
    begin = time.monotonic()
    clean = await bed.pytest(["-x", *kept_tests], name="mutation-baseline", root=tree)
    test_s = time.monotonic() - begin
    if clean.exit_code != 0:
        problem = f"the kept tests fail on the unmutated tree (pytest exit code {clean.exit_code})"
        raise ToolFailed(problem, clean.output)
    # handoff_ignore (on PYTHONPATH, cosmic-ray passes its environment on): only the kept tests' files are
    # collected, as in the run above; a project's collection error elsewhere would "kill" every mutant
    # handoff_mutants: the name cosmic-ray's exception replacement writes is defined (else NameError "kills")
    test_command = shlex.join([str(bed.python), "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-p",
                               IGNORE_PLUGIN, "-p", MUTANTS_PLUGIN, f"--rootdir={tree}", *kept_tests])  # fmt: skip
    config = work / "cosmic-ray.toml"
    config.write_text(
        "[cosmic-ray]\n"
        f"module-path = {json.dumps(list(targets))}\n"
        f"timeout = {max(10.0, 5 * test_s):.1f}\n"
        "excluded-modules = []\n"
        f"test-command = {json.dumps(test_command)}\n\n"
        '[cosmic-ray.distributor]\nname = "local"\n'
    )
    session = work / "session.sqlite"
    session.unlink(missing_ok=True)
    await _cosmic(bed, tree, "init", str(config), str(session))
    items = await _dump(bed, tree, session)
    fits = max(1, int((budget_s - (time.monotonic() - started)) / (test_s + _OVERHEAD_S)))
    sampled = len(items) > fits
    if sampled:
        chosen = set(_sample(items, fits, seed))
        skipped = work / "skipped-jobs.txt"
        skipped.write_text("\n".join(job for job in items if job not in chosen))
        await _checked(bed, tree, [str(bed.python), "-c", _SKIP_SCRIPT, str(session), str(skipped)], "skip")
    exhausted = False
    remaining_s = max(1.0, budget_s - (time.monotonic() - started))
    try:
        code, output = await bed.exec(
            [str(bed.python), "-m", "cosmic_ray.cli", "exec", str(config), str(session)],
            tree, bed.run_env(tree), remaining_s,
        )  # fmt: skip
    except CommandTimedOut:  # a wrapping Exec may raise instead of returning None
        code = None
    if code is None:
        exhausted = True
    elif code != 0:
        raise ToolFailed(f"cosmic-ray exec failed with exit code {code}", output)
    results = await _dump(bed, tree, session)
    scores = _scores(tree, targets, results)
    note = ""
    if sampled:
        note = f"sampled {fits} of {len(items)} mutants to fit the {budget_s:g} s budget"
    if exhausted:
        note = (note + "; " if note else "") + "the budget ran out before every mutant ran"
    return MutationReport(scores=scores, sampled=sampled, budget_exhausted=exhausted, note=note)


def _sample(items: dict[str, tuple[dict, dict | None]], size: int, seed: int) -> list[str]:
    """``size`` job ids, the same for the same mutants and seed in every run (cosmic-ray's job ids are random: the
    mutants are ordered by where and how they mutate), and the sample of a bigger size holds the smaller one's."""

    def where(job: str) -> tuple[str, int, int, str, int]:
        mutation = items[job][0]["mutations"][0]
        line, column = mutation.get("start_pos") or (0, 0)
        return (mutation["module_path"], line, column, mutation["operator_name"], mutation["occurrence"])

    ordered = sorted(items, key=where)
    random.Random(seed).shuffle(ordered)
    return ordered[:size]


async def _cosmic(bed: TestBed, tree, *args: str) -> str:
    return await _checked(bed, tree, [str(bed.python), "-m", "cosmic_ray.cli", *args], args[0])


async def _checked(bed: TestBed, tree, argv: list[str], what: str) -> str:
    code, output = await bed.run(argv, root=tree)
    if code != 0:
        raise ToolFailed(f"cosmic-ray {what} failed with exit code {code}", output)
    return output


async def _dump(bed: TestBed, tree, session) -> dict[str, tuple[dict, dict | None]]:
    """job id -> (work item, result or None), from ``cosmic-ray dump``."""
    output = await _cosmic(bed, tree, "dump", str(session))
    items = {}
    for line in output.splitlines():
        if line.startswith("["):
            work_item, result = json.loads(line)
            items[work_item["job_id"]] = (work_item, result)
    return items


def _scores(tree, targets: Sequence[str], items: dict[str, tuple[dict, dict | None]]) -> list[TargetScore]:
    scores = []
    for target in targets:
        killed = total = generated = 0
        survivors = []
        for work_item, result in items.values():
            mutation = work_item["mutations"][0]
            if mutation["module_path"] != target:
                continue
            generated += 1
            if result is None or result.get("worker_outcome") != "normal":
                continue  # skipped (not sampled), not reached, or cosmic-ray could not apply it
            outcome = result.get("test_outcome")
            if outcome == "killed":
                killed += 1
                total += 1
            elif outcome == "survived":
                total += 1
                survivors.append(_mutant(tree, target, mutation, result.get("diff") or ""))
        survivors.sort(key=lambda m: (m.line, m.operator))
        scores.append(TargetScore(target, killed=killed, total=total, generated=generated, survivors=survivors))
    return scores


def _mutant(tree, target: str, mutation: dict, diff: str) -> Mutant:
    line = int(mutation["start_pos"][0])
    removed = [d[1:] for d in diff.splitlines() if d.startswith("-") and not d.startswith("---")]
    added = [d[1:] for d in diff.splitlines() if d.startswith("+") and not d.startswith("+++")]
    source_lines = (tree / target).read_text().splitlines()
    original = removed[0] if removed else (source_lines[line - 1] if line <= len(source_lines) else "")
    operator = mutation["operator_name"].split("/", 1)[-1]
    return Mutant(target=target, line=line, operator=operator, original=original, mutated=added[0] if added else "",
                  diff=diff)  # fmt: skip
