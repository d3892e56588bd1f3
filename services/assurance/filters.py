"""Per-test filtering: each generated test function is judged on its own and kept only if it collects, passes,
passes again in every re-run in random order, checks a value the code under test computed (checks.py), and adds
line or branch coverage over the project's existing tests plus the tests kept before it; then a kept test whose
lines and branches the other kept tests all run is dropped too. The others are cut from their file, with the
reason."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from handoff.assurance import declared_types, generated_source, target_names, unused_code
from handoff.assurance.checks import Checks
from handoff.assurance.coverage_delta import existing_coverage
from handoff.assurance.coverage_runs import TargetCoverage, context_of, measure, merged
from handoff.assurance.errors import CommandTimedOut
from handoff.assurance.existing_suite import failed_tests, failures, pytest_says, some_ran
from handoff.assurance.settings import AssuranceSettings
from handoff.assurance.state_leaks import find_leaks
from handoff.assurance.testbed import PytestRun, TestBed
from handoff.assurance.tree_modules import TreeModules
from handoff.schemas.events import Verdict

NO_NEW_COVERAGE = "adds no line or branch coverage over the existing tests and the tests kept before it"
REDUNDANT = "covered by the other kept tests"
PER_PROCESS_HASH = ("which for a str or bytes differs from one Python process to the next (PYTHONHASHSEED): the "
                    "value was the generator's")  # fmt: skip
OUTSIDE_TYPES = "pins behaviour for input outside the function's declared types"
LEAKS_STATE = "leaves changed state that other tests read: they pass without it"
MAX_REASON_CHARS = 300


@dataclass(frozen=True, slots=True)
class Judgement:
    test: str  # "tests/test_x.py::test_y" (pytest's node id without parameters)
    verdict: Verdict
    reason: str


@dataclass(frozen=True, slots=True)
class FilterReport:
    judgements: list[Judgement]
    baseline: dict[str, TargetCoverage]  # the targets' coverage by the existing tests (and tests kept earlier)
    kept_coverage: dict[str, TargetCoverage]  # ... plus the tests kept now
    changed_files: list[str] = field(default_factory=list)  # rewritten without dropped tests (or deleted)
    baseline_problem: str = ""  # why the baseline is not the project's suite: its tests did not collect or run
    baseline_failures: str = ""  # how many of the project's tests failed in the baseline run, the first named

    def of(self, verdict: Verdict) -> list[Judgement]:
        return [j for j in self.judgements if j.verdict == verdict]

    @property
    def counts(self) -> dict[str, int]:
        return {verdict.value: len(self.of(verdict)) for verdict in Verdict}


def adds_no_coverage(judgement: Judgement) -> bool:
    """Dropped only for its coverage (none over the tests before it, or all of it run by the other kept tests): it
    passed, passed every re-run and checks a value, so it may still kill a mutant (rescue.py)."""
    return judgement.verdict == Verdict.USELESS and (
        judgement.reason == NO_NEW_COVERAGE or judgement.reason.startswith(REDUNDANT + ":")
    )


@dataclass(slots=True)
class _Candidate:
    file: str
    function: generated_source.FoundTest
    node_ids: list[str] = field(default_factory=list)
    verdict: Verdict | None = None
    reason: str = ""

    @property
    def test(self) -> str:
        return f"{self.file}::{self.function.qualname.replace('.', '::')}"

    def drop(self, verdict: Verdict, reason: str) -> None:
        self.verdict, self.reason = verdict, reason


async def judge_tests(
    bed: TestBed,
    test_files: Sequence[str],
    targets: Sequence[str],
    *,
    settings: AssuranceSettings,
    already_kept: Sequence[str] = (),
    seed: int = 0,
    coverage_required: bool = True,
    dropped_before: Mapping[str, tuple[Verdict, str]] | None = None,
    existing: Sequence[str] = (),
    project_versions: Mapping[str, str] | None = None,
) -> FilterReport:
    """Judge every test function in ``test_files`` (paths relative to ``bed.root``) and rewrite the files.

    ``already_kept`` are node ids kept in an earlier round, ``existing`` the project's own tests in a test file the
    generator extended: both count as existing tests (part of the baseline) and are not judged.
    ``coverage_required=False`` keeps passing, checking tests that add no coverage (a round on surviving mutants,
    whose tests check covered lines more closely). ``dropped_before`` (test -> verdict and reason) are not run
    again: they keep that verdict and are cut. ``project_versions`` (file -> the snapshot's text) are the project's
    own versions of the extended files: what they import stays when the tests cut leave it unused.
    """
    judgements: list[Judgement] = []
    candidates: list[_Candidate] = []
    settled = {*already_kept, *existing}
    defined = _target_definitions(bed, targets)
    project_modules = TreeModules(bed.root)  # `from pkg import mod` binds a module when the tree holds pkg/mod.py
    for name in test_files:
        try:
            functions = generated_source.find_tests(
                (bed.root / name).read_text(), defined.classes, defined.signatures, defined.properties,
                project_modules, defined.state, defined.comparing,
            )  # fmt: skip
        except (SyntaxError, ValueError, UnicodeDecodeError) as err:
            judgements.append(Judgement(name, Verdict.FAILED, f"does not compile: {err}"))
            continue
        file_candidates = [_Candidate(name, fn) for fn in functions]
        for c in file_candidates:
            if dropped_before and c.test in dropped_before:
                c.drop(*dropped_before[c.test])
        candidates.extend(c for c in file_candidates if c.test not in settled)
        await _collect(bed, name, [c for c in file_candidates if c.test not in settled and c.verdict is None])
    await _first_run(bed, [c for c in candidates if c.verdict is None])
    await _rerun(bed, [c for c in candidates if c.verdict is None], settings.reliability_runs, seed)
    own_suite = await existing_coverage(bed, test_files, targets)
    baseline = own_suite.coverage
    failed, ran = own_suite.failed, own_suite.ran
    problem = own_suite.problem
    if settled:
        earlier = await measure(bed, sorted(settled), targets, name="kept-before")
        baseline = merged([baseline, earlier.targets], targets)
        # the project's own tests in the extended files ran here, not in the default collection
        in_extended, ran_there = failed_tests([earlier.tests], only=set(existing))
        failed, ran = {**failed, **in_extended}, ran + ran_there
        problem = some_ran(problem) if ran_there else problem
    kept_coverage = await _coverage(bed, [c for c in candidates if c.verdict is None], targets, baseline,
                                    coverage_required=coverage_required)  # fmt: skip
    judgements.extend(Judgement(c.test, c.verdict or Verdict.KEPT, c.reason) for c in candidates)
    changed = _rewrite(bed, test_files, judgements, project_versions or {})
    return FilterReport(judgements=judgements, baseline=baseline, kept_coverage=kept_coverage, changed_files=changed,
                        baseline_problem=problem,
                        baseline_failures=failures(failed, ran))  # fmt: skip


async def _collect(bed: TestBed, name: str, candidates: list[_Candidate]) -> None:
    if not candidates:
        return
    collected = await bed.pytest(["--collect-only", name], name="collect")
    code, output = collected.exit_code, collected.output
    if code not in (0, 5):
        for c in candidates:
            c.drop(Verdict.FAILED, f"does not collect: {_collection_error(collected, name)}")
        return
    by_test = {c.test: c for c in candidates}
    for line in output.splitlines():
        node = line.strip()
        if "::" in node and not node.startswith(("=", "<")):
            owner = by_test.get(node.split("[", 1)[0])
            if owner is not None:
                owner.node_ids.append(node)
    for c in candidates:
        if not c.node_ids:
            c.drop(Verdict.FAILED, "pytest does not collect it (not a test, or every case is skipped at collection)")


async def _first_run(bed: TestBed, candidates: list[_Candidate]) -> None:
    if not candidates:
        return
    try:
        run = await bed.pytest(_ids(candidates), name="first-run")
    except CommandTimedOut:  # one test hangs: run them one at a time to find it
        for c in candidates:
            try:
                run = await bed.pytest(c.node_ids, name="first-run")
            except CommandTimedOut:
                c.drop(Verdict.FAILED, f"did not finish within {bed.timeout_s:g} s")
                continue
            _judge_first(c, run)
        return
    for c in candidates:
        _judge_first(c, run)
    # a test failing after another one changed state it reads: the other one is at fault (state_leaks.py)
    failing = [c for c in candidates if any(run.outcomes.get(n) in ("failed", "error") for n in c.node_ids)]
    passing = [c for c in candidates if c.verdict is None]
    leaks = await find_leaks(bed, {c.test: c.node_ids for c in passing}, {c.test: c.node_ids for c in failing})
    by_test = {c.test: c for c in candidates}
    for test, victims in leaks.leaking.items():
        shown = ", ".join(v.rsplit("::", 1)[-1] for v in victims[:3]) + (" …" if len(victims) > 3 else "")
        by_test[test].drop(Verdict.FAILED, f"{LEAKS_STATE}: {len(victims)} other test(s) fail after it ({shown})")
    for test in leaks.cleared:
        by_test[test].verdict, by_test[test].reason = None, ""


def _judge_first(c: _Candidate, run: PytestRun) -> None:
    bad = [node for node in c.node_ids if run.outcomes.get(node) != "passed"]
    if not bad:
        return
    outcome = run.outcomes.get(bad[0], "skipped")
    detail = " ".join(run.messages.get(bad[0], "").split())[:300]
    verb = {
        "failed": "fails",
        "error": "errors in setup or teardown",
        "xfailed": "is marked to fail (xfail) and fails as marked: it pins no behaviour",
    }.get(outcome, "did not run (skipped)")
    if outcome == "failed" and c.function.hashes:  # what it pinned was one process's hash, not a behaviour
        verb = f"fails, and it asserts a hash, {PER_PROCESS_HASH}"
    c.drop(Verdict.FAILED, f"{verb}: {detail}" if detail else verb)


async def _rerun(bed: TestBed, candidates: list[_Candidate], runs: int, seed: int) -> None:
    if not candidates:
        return
    failures = {c.test: 0 for c in candidates}
    for run in range(runs):
        order = _ids(candidates)
        random.Random(seed * 1000 + run).shuffle(order)
        try:
            outcomes = (await bed.pytest(order, name="rerun")).outcomes
        except CommandTimedOut:
            outcomes = {}
        for c in candidates:
            if any(outcomes.get(node) != "passed" for node in c.node_ids):
                failures[c.test] += 1
    for c in candidates:
        if failures[c.test]:
            passed = 1 + runs - failures[c.test]
            c.drop(Verdict.FLAKY, f"flaky: passed {passed} of {1 + runs} runs (re-runs in random order, seed {seed})")


async def _coverage(
    bed: TestBed,
    candidates: list[_Candidate],
    targets: Sequence[str],
    baseline: dict[str, TargetCoverage],
    *,
    coverage_required: bool = True,
) -> dict[str, TargetCoverage]:
    total = dict(baseline)
    checking = []
    for c in candidates:
        if c.function.checks != Checks.VALUE:
            c.drop(Verdict.USELESS, c.function.checks.reason)
        elif c.function.outside_types:
            c.drop(Verdict.USELESS, f"{OUTSIDE_TYPES}: {c.function.outside_types}")
        else:
            checking.append(c)
    if not checking:
        return total
    run = await measure(bed, _ids(checking), targets, name="candidates", per_test=True)
    gains: dict[str, frozenset[_Piece]] = {}  # a kept test -> the lines and branches it runs beyond the baseline
    for c in checking:
        context = context_of(c.file, c.function.qualname, run.by_context)
        own = run.by_context.get(context, {}) if context else {}
        lines = branches = 0
        for target, cov in own.items():
            lines += len((cov.executed & cov.statements) - total[target].executed)
            branches += len((cov.taken & cov.branches) - total[target].taken)
        if lines or branches:
            c.reason = f"adds {lines} line(s) and {branches} branch(es) of coverage"
            gains[c.test] = _pieces(own, baseline)
            for target, cov in own.items():
                total[target] = total[target] | cov
        elif coverage_required:
            c.drop(Verdict.USELESS, NO_NEW_COVERAGE)
        else:
            c.reason = "adds no coverage; kept to be scored against the surviving mutants"
    if coverage_required:
        _minimise([c for c in checking if c.verdict is None], gains)
    return total


_Piece = tuple[str, str, object]  # ("line", target, 12) or ("branch", target, (12, 14))


def _pieces(own: Mapping[str, TargetCoverage], baseline: Mapping[str, TargetCoverage]) -> frozenset[_Piece]:
    """What a test runs of the targets that the baseline does not: its lines and branch arcs."""
    pieces: set[_Piece] = set()
    for target, cov in own.items():
        base = baseline.get(target, TargetCoverage())
        pieces.update(("line", target, n) for n in (cov.executed & cov.statements) - base.executed)
        pieces.update(("branch", target, arc) for arc in (cov.taken & cov.branches) - base.taken)
    return frozenset(pieces)


def _minimise(kept: list[_Candidate], gains: Mapping[str, frozenset[_Piece]]) -> None:
    """Drop the kept tests whose lines and branches the other kept tests all run too.

    The greedy pass keeps a test for what it adds over the tests before it; a later test can run all of that and
    more (iso8601's ``test_pynguin_0`` within ``test_pynguin_1``). Tried smallest gain first (then in file order),
    each against the union of the others still kept; the survivors' reasons are counted again in file order. A
    dropped test is said covered by the tests kept in the end (what the tests dropped after it ran, they run too),
    not by one dropped later.
    """
    alive = list(kept)
    redundant = []
    for c in sorted(kept, key=lambda c: (len(gains[c.test]), kept.index(c))):
        others = [k for k in alive if k is not c]
        if not others or not gains[c.test] <= frozenset().union(*(gains[k.test] for k in others)):
            continue
        redundant.append(c)
        alive.remove(c)
    for c in redundant:
        covering = [k.function.qualname for k in alive if gains[k.test] & gains[c.test]]
        shown = ", ".join(covering[:3]) + (f" and {len(covering) - 3} more" if len(covering) > 3 else "")
        c.drop(Verdict.USELESS, f"{REDUNDANT}: every line and branch it runs is run by {shown}")
    seen: set[_Piece] = set()
    for c in alive:
        new = gains[c.test] - seen
        lines = sum(piece[0] == "line" for piece in new)
        c.reason = f"adds {lines} line(s) and {len(new) - lines} branch(es) of coverage"
        seen |= gains[c.test]


def _rewrite(
    bed: TestBed, test_files: Sequence[str], judgements: list[Judgement], project_versions: Mapping[str, str]
) -> list[str]:
    """Cut the dropped tests from their files, and the imports and definitions only they
    used (unused_code.without_unused); a file left without tests is deleted. The files changed."""
    changed = []
    for name in test_files:
        path = bed.root / name
        dropped = {j.test.split("::", 1)[1].replace("::", ".") for j in judgements
                   if j.verdict != Verdict.KEPT and "::" in j.test and j.test.split("::", 1)[0] == name}  # fmt: skip
        whole_file = any(j.test == name and j.verdict != Verdict.KEPT for j in judgements)
        if whole_file:
            path.unlink()
            changed.append(name)
            continue
        if not dropped:
            continue
        source = path.read_text()
        pruned = unused_code.without_unused(
            source, generated_source.remove_tests(source, dropped), project_versions.get(name, "")
        )
        if generated_source.find_tests(pruned):
            path.write_text(pruned)
        else:
            path.unlink()
        changed.append(name)
    return changed


@dataclass(frozen=True, slots=True)
class _Definitions:
    """What the targets define that the rules judge tests against (target_names.py, declared_types.py)."""

    classes: set[str]  # building one is not a call of the code under test (checks.py)
    properties: set[str]  # reading one is
    state: set[str]  # module-level names their code changes: a check of one after a call sees what it did
    comparing: dict[str, frozenset[str]]  # class -> the comparison methods it defines: comparing its objects runs them
    signatures: dict[str, declared_types.Signature]  # their annotated functions


def _target_definitions(bed: TestBed, targets: Sequence[str]) -> _Definitions:
    """What the targets define; a target that cannot be read or parsed adds nothing."""
    found = _Definitions(set(), set(), set(), {}, {})
    per_target = []
    for target in targets:
        try:
            source = (bed.root / target).read_text()
            found.classes.update(target_names.classes(source))
            found.properties.update(target_names.properties(source))
            found.state.update(target_names.module_state(source))
            for name, methods in target_names.comparisons(source).items():
                found.comparing[name] = found.comparing.get(name, frozenset()) | methods
            per_target.append(declared_types.signatures(source))
        except (OSError, SyntaxError, ValueError, UnicodeDecodeError):
            continue
    return replace(found, signatures=declared_types.merged(per_target))


def _ids(candidates: list[_Candidate]) -> list[str]:
    return [node for c in candidates for node in c.node_ids]


def _collection_error(run: PytestRun, name: str) -> str:
    """Why ``name`` did not collect, in pytest's words: the collection error of the file itself, else of the node
    that failed on the way to it (a folder, whose conftest raised), else pytest's internal error, else its error
    lines (``existing_suite.pytest_says``; not the summary line "no tests collected, 1 error"). Only the named file
    is collected (the ``handoff_ignore`` plugin), so the project's collection errors elsewhere do not end up here."""
    errors = run.collection_errors
    if errors:
        node = name if name in errors else next(iter(errors))
        why = " ".join(errors[node].split())
        return (why if node == name else f"{node}: {why}")[:MAX_REASON_CHARS]
    if run.internal_error:
        return run.internal_error[:MAX_REASON_CHARS]
    return pytest_says(run.output, MAX_REASON_CHARS)
