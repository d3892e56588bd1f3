"""One pytest run under coverage.py (line and branch), read back per target and, optionally, per test function."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from handoff.assurance.errors import ToolFailed
from handoff.assurance.plugins_off import plugins_off_args
from handoff.assurance.testbed import PytestRun, TestBed

Arc = tuple[int, int]

# Run by the project's interpreter: prints {context: {file: {"lines": [...], "arcs": [...]}}} for a data file.
_CONTEXTS_SCRIPT = """
import json, sys
from coverage import CoverageData
data = CoverageData(sys.argv[1])
data.read()
out = {}
for context in sorted(data.measured_contexts()):
    data.set_query_context(context)
    out[context] = {f: {"lines": sorted(data.lines(f) or []), "arcs": sorted(data.arcs(f) or [])}
                    for f in data.measured_files()}
print(json.dumps(out))
"""


@dataclass(frozen=True, slots=True)
class TargetCoverage:
    """What ran of one target: statements and branch arcs that exist, and those that were executed.

    ``measured``: coverage.py reported the file (a test imported it). A measured target without statements has
    nothing to measure (every line excluded, ``# pragma: no cover``, or an empty module); an unmeasured one was
    not imported."""

    statements: frozenset[int] = frozenset()
    executed: frozenset[int] = frozenset()
    branches: frozenset[Arc] = frozenset()
    taken: frozenset[Arc] = frozenset()
    measured: bool = False

    def __or__(self, other: TargetCoverage) -> TargetCoverage:
        return TargetCoverage(
            statements=self.statements | other.statements,
            executed=self.executed | other.executed,
            branches=self.branches | other.branches,
            taken=self.taken | other.taken,
            measured=self.measured or other.measured,
        )

    @property
    def line_pct(self) -> float:
        return _pct(len(self.executed & self.statements), len(self.statements))

    @property
    def branch_pct(self) -> float:
        return _pct(len(self.taken & self.branches), len(self.branches))

    @property
    def combined_pct(self) -> float:
        """coverage.py's own figure with branch=True: (covered lines + taken branches) / (lines + branches)."""
        covered = len(self.executed & self.statements) + len(self.taken & self.branches)
        return _pct(covered, len(self.statements) + len(self.branches))


@dataclass(frozen=True, slots=True)
class CoverageRun:
    tests: PytestRun
    targets: dict[str, TargetCoverage]  # per target (relative path); absent targets were not imported
    by_context: dict[str, dict[str, TargetCoverage]] = field(default_factory=dict)  # test context -> target -> ...


def merged(runs: Iterable[dict[str, TargetCoverage]], targets: Sequence[str]) -> dict[str, TargetCoverage]:
    """Union per target of several runs (a target no run imported is empty: 0 %)."""
    total = {target: TargetCoverage() for target in targets}
    for run in runs:
        for target, cov in run.items():
            if target in total:
                total[target] = total[target] | cov
    return total


async def measure(
    bed: TestBed, pytest_args: Sequence[str], targets: Sequence[str], *, name: str, per_test: bool = False
) -> CoverageRun:
    """Run ``pytest pytest_args`` under coverage with branch=True, measuring only ``targets``.

    With ``per_test`` each test function's lines and arcs are recorded too (coverage.py's test_function contexts).
    """
    data = bed.scratch / f"{name}.coverage"
    report = bed.scratch / f"{name}.coverage.json"
    rcfile = bed.scratch / f"{name}.coveragerc"
    rcfile.write_text("[run]\nbranch = True\n" + ("dynamic_context = test_function\n" if per_test else ""))
    for stale in (data, report):
        stale.unlink(missing_ok=True)
    include = ",".join(str(bed.root / t) for t in targets)
    tests = await bed.pytest(
        [*plugins_off_args(bed.python), *pytest_args],
        name=name,
        prefix=["-m", "coverage", "run", f"--rcfile={rcfile}", f"--data-file={data}", f"--include={include}"],
    )
    if not data.exists():  # nothing imported a target (or pytest never started)
        return CoverageRun(tests=tests, targets={})
    json_code, json_output = await bed.run(
        [str(bed.python), "-m", "coverage", "json", f"--rcfile={rcfile}", f"--data-file={data}", "-o", str(report),
         "--quiet"]
    )  # fmt: skip
    if json_code == 1 and not report.exists():  # "no data to report": the data file holds no target
        return CoverageRun(tests=tests, targets={})
    if json_code != 0 or not report.exists():
        raise ToolFailed(f"coverage json failed with exit code {json_code}", json_output)
    files = _by_target(bed.root, json.loads(report.read_text()).get("files", {}), targets)
    run = CoverageRun(tests=tests, targets=files)
    if not per_test:
        return run
    script_code, script_output = await bed.run([str(bed.python), "-c", _CONTEXTS_SCRIPT, str(data)])
    if script_code != 0:
        raise ToolFailed("reading coverage contexts failed", script_output)
    raw = json.loads(script_output.strip().splitlines()[-1])
    contexts: dict[str, dict[str, TargetCoverage]] = {}
    for context, per_file in raw.items():
        if not context:
            continue
        contexts[context] = {}
        for path, entry in per_file.items():
            target = _target_of(bed.root, path, targets)
            if target is None or target not in files:
                continue
            arcs = {(a, b) for a, b in entry["arcs"]}
            contexts[context][target] = TargetCoverage(
                statements=files[target].statements,
                executed=frozenset(entry["lines"]),
                branches=files[target].branches,
                taken=frozenset(arcs & files[target].branches),
                measured=True,
            )
    return CoverageRun(tests=tests, targets=files, by_context=contexts)


def context_of(test_file: str, qualname: str, contexts: Iterable[str]) -> str | None:
    """The coverage context of a test function: ``<module>.<qualname>`` whose module ends with the file's stem."""
    stem = Path(test_file).stem
    for context in contexts:
        module, _, rest = context.rpartition("." + qualname)
        if rest == "" and module and module.rsplit(".", 1)[-1] == stem:
            return context
    return None


def _by_target(root: Path, files: dict[str, dict], targets: Sequence[str]) -> dict[str, TargetCoverage]:
    found = {}
    for path, entry in files.items():
        target = _target_of(root, path, targets)
        if target is None:
            continue
        executed_branches = {(a, b) for a, b in entry.get("executed_branches", [])}
        missing_branches = {(a, b) for a, b in entry.get("missing_branches", [])}
        found[target] = TargetCoverage(
            statements=frozenset(entry.get("executed_lines", [])) | frozenset(entry.get("missing_lines", [])),
            executed=frozenset(entry.get("executed_lines", [])),
            branches=frozenset(executed_branches | missing_branches),
            taken=frozenset(executed_branches),
            measured=True,
        )
    return found


def _target_of(root: Path, path: str, targets: Sequence[str]) -> str | None:
    resolved = (root / path).resolve()
    for target in targets:
        if (root / target).resolve() == resolved:
            return target
    return None


def _pct(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 2) if whole else 0.0
