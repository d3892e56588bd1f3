"""The runner's own check of the agent's work: tests exist, compile, pass under pytest, and cover the targets.

pytest runs as ``python -m coverage run -m pytest`` with the project environment's interpreter (never the
worker's: Handoff's own pytest plugins stay out of the project's run), in ``tree`` (the clean copy: the snapshot
plus the accepted part of the agent's changes, see changes.py), inside a fresh sandbox (the tree, the validation
directory, HOME and TMPDIR are its only writable places), with the agent's scrubbed environment and a time limit;
its junit xml and coverage json are parsed from the task's validation directory. The agent's own claims are not
consulted.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

from handoff.assurance.named_paths import beside
from handoff.assurance.plugins_off import plugins_off_args
from handoff.common.secrets import process_redactor
from handoff.runners.openhands.junit_report import junit_address, read_junit
from handoff.runners.openhands.workspace import Change, TaskDirs
from handoff.sandbox import Sandbox, end_process_trees
from handoff.schemas.events import TargetCoverage

PYTEST_EXIT = {
    2: "the test run was interrupted (usually an import or collection error)",
    3: "pytest hit an internal error",
    4: "pytest was called wrongly (usage error)",
    5: "no tests were collected",
}

COLLECTION_BROKEN = (2, 3, 4)  # pytest's exit codes of a collection that stopped
COLLECTION_LINES = 4
COLLECTION_CHARS = 600


@dataclass(frozen=True, slots=True)
class ValidationReport:
    ok: bool
    problem: str = ""
    output: str = ""
    test_files: list[str] = field(default_factory=list)
    collected: int = 0
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    coverage: list[TargetCoverage] = field(default_factory=list)
    gaps: list[str] = field(default_factory=list)
    # every generated test was dropped and the project's own tests already reach the goal: nothing to hand over
    existing_tests_suffice: bool = False
    # ... and that round wrote no test at all (the summary says so, with the agent's last message: why)
    no_test_written: bool = False
    # a failed run of judged tests: each test's verdict and the coverage it started from (for the failure's detail)
    judgement: str = ""
    # extended project test files run whole (their kept tests could not be named): the project's own tests of these
    # files are in the counts and the coverage
    run_whole: list[str] = field(default_factory=list)
    # the failed or erroring test cases of the run reported, junit's "classname::name" -> its message
    failures: dict[str, str] = field(default_factory=dict)

    def failing(self, tests: Sequence[str]) -> dict[str, str]:
        """Of ``tests`` (node ids without parameters), those a failed case of the run reported belongs to, with its
        message."""
        found = {}
        for test in tests:
            address = junit_address(test)
            for case, message in self.failures.items():
                if case == address or case.startswith(address + "["):
                    found[test] = message
                    break
        return found

    @property
    def goal_met(self) -> bool:
        return self.ok and not self.gaps


def select_test_files(changes: Sequence[Change], test_dir: str) -> list[str]:
    """Added or modified Python test modules: ``test_*.py`` / ``*_test.py`` anywhere, or any module in test_dir."""
    found = []
    for change in changes:
        path = PurePosixPath(change.path)
        if change.status == "D" or path.suffix != ".py" or path.name == "conftest.py":
            continue
        in_test_dir = path.parts[: len(PurePosixPath(test_dir).parts)] == PurePosixPath(test_dir).parts
        if (
            path.name.startswith("test_")
            or path.name.endswith("_test.py")
            or (in_test_dir and path.name != "__init__.py")
        ):
            found.append(change.path)
    return sorted(found)


async def validate(
    *,
    dirs: TaskDirs,
    python: Path,
    tree: Path,
    env: Mapping[str, str],
    test_files: Sequence[str],
    targets: Sequence[str],
    goal_pct: float,
    timeout_s: float,
    max_output_chars: int,
    sandbox: Sandbox,
    selection: Sequence[str] = (),
    run_whole: Sequence[str] = (),
) -> ValidationReport:
    """Run ``test_files`` as a whole under coverage: they must pass. The counts and the coverage are those of
    ``selection`` (pytest's arguments naming the kept tests; default: the files), run on its own when it differs.

    ``selection`` names the kept tests of a project test file the generator extended by their node ids, so that the
    counts and the coverage are the kept tests' alone, not the project's own tests' of that file too; ``run_whole``
    lists the extended files it names whole (their project tests are in the figures).
    """
    if not test_files:
        return ValidationReport(ok=False, problem="no test files were written")
    for name in test_files:
        problem = _compile_problem(tree, name)
        if problem:
            return ValidationReport(ok=False, problem=problem, test_files=list(test_files))
    measured = functools.partial(_measured_run, dirs=dirs, python=python, tree=tree, env=env, targets=targets,
                                 goal_pct=goal_pct, timeout_s=timeout_s, max_output_chars=max_output_chars,
                                 sandbox=sandbox)  # fmt: skip
    run = await measured(test_files)
    if run.ok and selection and list(selection) != list(test_files):
        alone = await measured(selection)
        problem = alone.problem and f"the kept tests run by themselves: {alone.problem}"
        run = replace(alone, problem=problem)
    return ValidationReport(
        ok=run.ok,
        problem=run.problem,
        output=run.output,
        test_files=list(test_files),
        collected=run.collected,
        passed=run.passed,
        failed=run.failed,
        skipped=run.skipped,
        coverage=run.coverage,
        gaps=run.gaps,
        run_whole=list(run_whole),
        failures=run.failures,
    )


@dataclass(frozen=True, slots=True)
class _Run:
    problem: str
    output: str
    collected: int = 0
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    coverage: list[TargetCoverage] = field(default_factory=list)
    gaps: list[str] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problem


async def _measured_run(
    tests: Sequence[str],
    *,
    dirs: TaskDirs,
    python: Path,
    tree: Path,
    env: Mapping[str, str],
    targets: Sequence[str],
    goal_pct: float,
    timeout_s: float,
    max_output_chars: int,
    sandbox: Sandbox,
) -> _Run:
    """``pytest tests`` under coverage in a fresh sandbox: its junit counts and the targets' line coverage."""
    junit = dirs.validation / "junit.xml"
    data = dirs.validation / ".coverage"
    rcfile = dirs.validation / "coveragerc"
    rcfile.write_text("[run]\nbranch = False\n")  # ignore the project's coverage config: measure targets only
    for stale in (junit, data, dirs.validation / "coverage.json"):
        stale.unlink(missing_ok=True)
    include = ",".join(str(tree / t) for t in targets)
    run_env = _with_pythonpath(env, tree)
    writable = [tree, dirs.validation, *dirs.writable]

    async def pytest(ignored: Sequence[str] = ()) -> tuple[int | None, str]:
        return await _run(
            [str(python), "-m", "coverage", "run", f"--rcfile={rcfile}", f"--data-file={data}",
             f"--include={include}", "-m", "pytest", "-q", "-p", "no:cacheprovider", *plugins_off_args(python),
             f"--junitxml={junit}", "-o", "junit_family=xunit2", *(f"--ignore={p}" for p in ignored), *tests],
            cwd=tree, env=run_env, timeout_s=timeout_s, sandbox=sandbox, writable=writable,
        )  # fmt: skip

    code, output = await pytest()
    if code in COLLECTION_BROKEN and (ignored := beside(tree, tests)):
        # the project's conftest may fail a folder on another of its files: the named tests' run leaves them out
        for stale in (junit, data):
            stale.unlink(missing_ok=True)
        first = output
        code, output = await pytest(ignored)
        if code in COLLECTION_BROKEN:
            output = first  # not the files beside: the named tests' own collection error
    output = _tail(process_redactor()(output), max_output_chars)  # before cutting: half a secret is not recognised
    if code is None:
        return _Run(problem=f"pytest did not finish within {timeout_s:g} s", output=output)
    counted = read_junit(junit)
    collected, failed, skipped, failures = counted.collected, counted.failed, counted.skipped, counted.failures
    passed = max(0, collected - failed - skipped)
    coverage, gaps = await _coverage(
        dirs, python, tree, run_env, rcfile, data, targets, goal_pct, timeout_s, sandbox, writable
    )
    problem = ""
    if code != 0:
        problem = PYTEST_EXIT.get(code, f"{failed} of {collected} tests failed")
    elif passed == 0:
        problem = "no test passed (all skipped?)"
    return _Run(problem=problem, output=output, collected=collected, passed=passed, failed=failed, skipped=skipped,
                coverage=coverage, gaps=gaps, failures=failures)  # fmt: skip


async def collection_problem(
    *,
    tree: Path,
    python: Path,
    env: Mapping[str, str],
    writable: Sequence[Path],
    timeout_s: float,
    sandbox: Sandbox,
) -> tuple[int | None, str]:
    """``(exit code, pytest's error lines)`` of ``pytest --collect-only`` over the project's whole default collection
    in ``tree``, as a user runs it (exit code None on timeout)."""
    code, output = await _run(
        [str(python), "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *plugins_off_args(python)],
        cwd=tree, env=_with_pythonpath(env, tree), timeout_s=timeout_s, sandbox=sandbox, writable=[tree, *writable],
    )  # fmt: skip
    lines = [line.strip() for line in process_redactor()(output).splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith(("ERROR", "E ", "import file mismatch"))]
    return code, " / ".join(errors[:COLLECTION_LINES])[:COLLECTION_CHARS]


def _compile_problem(workspace: Path, name: str) -> str:
    try:
        source = (workspace / name).read_bytes()
        compile(source, name, "exec", dont_inherit=True)
    except SyntaxError as err:
        return f"{name} does not compile: {err.msg} (line {err.lineno})"
    except (ValueError, OSError) as err:
        return f"{name} cannot be compiled: {err}"
    return ""


async def _coverage(
    dirs: TaskDirs,
    python: Path,
    tree: Path,
    env: Mapping[str, str],
    rcfile: Path,
    data: Path,
    targets: Sequence[str],
    goal_pct: float,
    timeout_s: float,
    sandbox: Sandbox,
    writable: Sequence[Path],
) -> tuple[list[TargetCoverage], list[str]]:
    report = dirs.validation / "coverage.json"
    await _run(
        [str(python), "-m", "coverage", "json", f"--rcfile={rcfile}", f"--data-file={data}", "-o", str(report),
         "--quiet"],
        cwd=tree, env=env, timeout_s=timeout_s, sandbox=sandbox, writable=writable,
    )  # fmt: skip
    return _parse_coverage(tree, report, targets, goal_pct)


def _parse_coverage(
    workspace: Path, report: Path, targets: Sequence[str], goal_pct: float
) -> tuple[list[TargetCoverage], list[str]]:
    """Per-target coverage from coverage.py's json report (absent when nothing ran: 0 % for every target)."""
    files: dict[str, dict] = {}
    if report.exists():
        raw = json.loads(report.read_text()).get("files", {})
        files = {str((workspace / name).resolve()): entry for name, entry in raw.items()}
    coverage, gaps = [], []
    for target in targets:
        entry = files.get(str((workspace / target).resolve()))
        if entry is None:
            coverage.append(TargetCoverage(target=target, percent=0.0))
            gaps.append(f"{target}: not imported by the tests (0 %)")
            continue
        summary = entry["summary"]
        percent = round(float(summary["percent_covered"]), 2)
        coverage.append(TargetCoverage(target=target, percent=percent, covered_lines=summary["covered_lines"],
                                       total_lines=summary["num_statements"]))  # fmt: skip
        if percent < goal_pct:
            gaps.append(f"{target}: {percent:g} %, lines not covered: {_ranges(entry.get('missing_lines', []))}")
    return coverage, gaps


async def _run(
    command: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    timeout_s: float,
    sandbox: Sandbox,
    writable: Sequence[Path],
) -> tuple[int | None, str]:
    """``(exit code, output)`` of ``command`` in a new sandbox where ``writable`` (the tree it runs in first) are
    the only writable places; exit code None on timeout. Everything it started dies on timeout or cancel."""
    launch = sandbox.command(command, cwd=cwd, env=env, writable=writable)
    process = await asyncio.create_subprocess_exec(
        *launch.argv,
        cwd=launch.cwd,
        env=launch.env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        stdout, _ = await asyncio.wait_for(process.communicate(), timeout=timeout_s)
    except TimeoutError:
        await asyncio.to_thread(_end, process.pid)
        stdout, _ = await process.communicate()
        return None, stdout.decode(errors="replace")
    except asyncio.CancelledError:
        await asyncio.shield(asyncio.to_thread(_end, process.pid))
        await process.wait()
        raise
    return process.returncode, stdout.decode(errors="replace")


def _end(pid: int) -> None:
    """The sandbox as a whole (its PID namespace) and, unsandboxed, the process group."""
    end_process_trees([pid])
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _with_pythonpath(env: Mapping[str, str], workspace: Path) -> dict[str, str]:
    paths = [str(workspace)] + ([str(workspace / "src")] if (workspace / "src").is_dir() else [])
    return {**env, "PYTHONPATH": os.pathsep.join(paths)}


def _tail(text: str, limit: int) -> str:
    return text if len(text) <= limit else "…(truncated)…\n" + text[-limit:]


def _ranges(lines: Sequence[int]) -> str:
    if not lines:
        return "none"
    spans, start, prev = [], lines[0], lines[0]
    for n in [*lines[1:], None]:
        if n is not None and n == prev + 1:
            prev = n
            continue
        spans.append(f"{start}-{prev}" if prev != start else str(start))
        if n is not None:
            start = prev = n
    return ", ".join(spans[:40]) + (" …" if len(spans) > 40 else "")
