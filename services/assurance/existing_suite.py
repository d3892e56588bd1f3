"""Whether the project's own tests ran in the baseline's pytest run, and if not, why (in pytest's words).

The baseline (the targets' coverage by the project's existing tests) is only the project's suite when pytest
collected and ran it. pytest can stop before any test ran (a module that does not import, a bad conftest, an
``unittest.main()`` at module level that exits) and still leave coverage of what was imported on the way: without
this check that figure would read as "the existing tests cover the imports only".

Modules that look like test modules under names pytest's defaults do not collect (pytimeparse 1.1.10's
``pytimeparse/tests/testtimeparse.py``, roman 4.2's ``src/tests.py``) are run by naming them on pytest's command line,
which collects a file given so whatever ``python_files`` says (:func:`uncollected_suites`); their tests count as the
project's. So are the test modules of a folder whose collection failed as a whole (docopt 0.6.2's conftest raises on
its ``testcases.docopt`` under pytest >= 6, failing the root folder and every test module in it): named, each is
collected alone, and the baseline counts the tests that can run, beside the sentence saying the others could not.

Tests that ran and failed leave the baseline the project's suite, but a smaller one (what a test runs after its
failing line is not counted) and a kept test in the same file may fail for the same reason: :func:`failures` names
them (prettytable 3.19.0's ``test_version``, failing on the version Handoff writes, was said nowhere).
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from itertools import islice
from pathlib import Path

from handoff.assurance.testbed import PytestRun

MAX_REASON_CHARS = 600
MAX_LISTED = 3
# folders a project's own test files are not looked for in (environments, build output, caches)
NOT_SEARCHED = frozenset({"node_modules", "site-packages", "build", "dist", "venv", "env", "__pycache__"})
NOT_THE_SUITE = "the coverage baseline is not the project's suite (only what ran before pytest stopped)"
NOTHING_RAN = (
    "the coverage baseline is not the project's suite (none of its tests ran: at most what importing them ran)"
)
ONLY_WHAT_RAN = "the coverage baseline counts only the tests that ran"
PARTIAL = "some of the project's existing tests could not be collected or run"
NONE_RAN = "the project's existing tests could not be collected or run"
TEST_FOLDERS = frozenset({"test", "tests"})
MAX_NAMED = 500  # test modules of folders that did not collect, named on the command line, at most
MAX_READ = 200  # modules read for a TestCase subclass, at most
MAX_READ_BYTES = 200_000
TESTCASE_CLASS = re.compile(r"^class\s+\w+\s*\([^)]*\bTestCase\b", re.MULTILINE)
TEST_DEFINITION = re.compile(r"^(class\s+Test\w*\s*[(:]|(async\s+)?def\s+test\w*\s*\()", re.MULTILINE)
ERROR_LINES = ("ERROR", "E ", "ImportError while loading conftest")
USAGE_ERROR = re.compile(r"^[^:]+: error: ")  # argparse's line after pytest's usage: what it refused
MAX_FAILURE_CHARS = 160
FAILED_OUTCOMES = frozenset({"failed", "error"})


def problem(run: PytestRun, root: Path, generated_files: Sequence[str], named: PytestRun | None = None) -> str:
    """'' when pytest collected and ran the project's tests (passing or failing) or the project has no test files;
    else a sentence saying they could not be collected or run, pytest's reason, and what the baseline is instead
    (paths in the tree relative to it). ``named`` is the run of the modules :func:`uncollected_suites` found, given
    on pytest's command line (None when there are none)."""
    return _why(run, root, generated_files, named).replace(f"{root}{os.sep}", "")


def _why(run: PytestRun, root: Path, generated_files: Sequence[str], named: PytestRun | None) -> str:
    ran = bool(run.outcomes) or bool(named and named.outcomes)
    stopped = _stopped(run, ran)
    if stopped:
        return stopped
    if named is not None and named.exit_code != 5:
        stopped = _stopped(named, ran)
        if stopped:
            return stopped
    if run.exit_code != 5:
        return ""
    found = test_files(root, generated_files)
    if found:
        shown = ", ".join(found[:MAX_LISTED]) + (" …" if len(found) > MAX_LISTED else "")
        return _sentence(f"pytest collected no test although the project has test files ({shown})",
                         partial=ran, nothing_collected=True)  # fmt: skip
    if ran:
        return ""  # the modules pytest's names miss ran: they are the suite
    unmatched = modules_like_tests(root, generated_files)
    if not unmatched:
        return ""  # no tests: the baseline is truly empty
    shown = ", ".join(unmatched[:MAX_LISTED]) + (" …" if len(unmatched) > MAX_LISTED else "")
    looks = "looks like one" if len(unmatched) == 1 else "look like test modules"
    tried = ", and named on its command line they give no test either" if named is not None else ""
    return _sentence(f"pytest collected no test, but {shown} {looks} (not matched by pytest's python_files, by "
                     f"default test_*.py and *_test.py){tried}", partial=False, nothing_collected=True)  # fmt: skip


def _stopped(run: PytestRun, ran: bool) -> str:
    """The sentence of a run that stopped or could not collect everything ('' when it did not); ``ran``: whether
    some of the project's tests ran (in this run or the other)."""
    code = run.exit_code
    if run.internal_error or code == 3:
        reason = run.internal_error or pytest_says(run.output)
        return _sentence(f"pytest stopped with an internal error: {reason}", partial=False)
    if run.collection_errors:
        count = len(run.collection_errors)
        listed = "; ".join(f"{node}: {why}" for node, why in list(run.collection_errors.items())[:MAX_LISTED])
        more = f" (and {count - MAX_LISTED} more)" if count > MAX_LISTED else ""
        return _sentence(f"{count} test module(s) could not be collected: {listed}{more}", partial=ran)
    if code == 4:
        return _sentence(f"pytest refused its command line or configuration: {pytest_says(run.output)}",
                         partial=False)  # fmt: skip
    if code not in (0, 1, 5):
        return _sentence(f"pytest ended with exit code {code}: {pytest_says(run.output)}", partial=ran)
    return ""


def failed_tests(runs: Iterable[PytestRun], only: Collection[str] | None = None) -> tuple[dict[str, str], int]:
    """The tests that failed or errored in ``runs`` (node id -> pytest's one-line reason, the first line of its
    message) and how many tests ran; ``only``: the tests to count (node ids without parameters), None for all."""
    failed: dict[str, str] = {}
    ran = 0
    for run in runs:
        for node, outcome in run.outcomes.items():
            if only is not None and node.split("[", 1)[0] not in only:
                continue
            ran += 1
            if outcome in FAILED_OUTCOMES:
                why = (run.messages.get(node) or outcome).strip().splitlines()[0][:MAX_FAILURE_CHARS]
                failed[node] = why if outcome == "failed" else f"error outside the test: {why}"
    return failed, ran


def failures(failed: Mapping[str, str], ran: int) -> str:
    """'' when none of the project's tests failed in the baseline run, else how many of the ``ran`` did and the
    first ``MAX_LISTED`` of them with pytest's reason."""
    if not failed:
        return ""
    listed = "; ".join(f"{node} ({why})" for node, why in list(failed.items())[:MAX_LISTED])
    more = f" and {len(failed) - MAX_LISTED} more" if len(failed) > MAX_LISTED else ""
    return (f"{len(failed)} of the project's {ran} tests failed in the baseline run: {listed}{more} "
            f"(it counts what they ran up to the failure)")  # fmt: skip


def uncollected_suites(root: Path, generated_files: Sequence[str], collected: PytestRun | None = None) -> list[str]:
    """The modules of :func:`modules_like_tests` to run by naming them: named like a test module (``test*.py``,
    ``*tests.py``: pytimeparse's ``testtimeparse.py``, roman's ``tests.py``) and defining a ``TestCase`` subclass, a
    ``Test*`` class or a ``test*`` function; those ``collected`` (the default collection's run) already ran or tried
    to collect are left out. Helpers of a test folder (``tests/helpers.py``) are not run. The test modules of a
    folder whose collection failed in ``collected`` come first: that run could not reach them (docopt 0.6.2's
    conftest fails the root folder)."""
    seen = set(collected.outcomes) | set(collected.collection_errors) if collected is not None else set()
    done = {node.split("::", 1)[0] for node in seen}
    found = [path for path in _in_broken_folders(root, generated_files, collected) if path not in done]
    for path in modules_like_tests(root, generated_files):
        stem = Path(path).stem
        if path in done or not (stem.startswith("test") or stem.endswith("tests")):
            continue
        file = root / path
        if file.stat().st_size > MAX_READ_BYTES:
            continue
        text = file.read_text(errors="replace")
        if TESTCASE_CLASS.search(text) or TEST_DEFINITION.search(text):
            found.append(path)
    return found


def _in_broken_folders(root: Path, generated_files: Sequence[str], collected: PytestRun | None) -> list[str]:
    """The project's test modules (``test_*.py``, ``*_test.py``) in the folders whose collection failed in the
    ``collected`` run (a folder's node is ``.`` for the root): the folder's conftest raised on another of its
    files, so none of its modules was collected; named, they are (the ``handoff_ignore`` plugin collects only what
    is named)."""
    if collected is None:
        return []
    folders = [Path(node) for node in collected.collection_errors if "::" not in node and (root / node).is_dir()]
    if not folders:
        return []
    return [path for path in test_files(root, generated_files, limit=MAX_NAMED)
            if any(folder == Path(".") or folder in Path(path).parents for folder in folders)]  # fmt: skip


def test_files(root: Path, generated_files: Sequence[str], limit: int = 20) -> list[str]:
    """Up to ``limit`` of the project's own test modules (``test_*.py``, ``*_test.py``), the generated ones left out,
    hidden folders and environments not searched."""
    return list(islice((path for path, file in _modules(root, generated_files) if _collected_name(file.name)), limit))


def modules_like_tests(root: Path, generated_files: Sequence[str], limit: int = 20) -> list[str]:
    """Up to ``limit`` modules pytest's default names miss that look like tests: ``tests.py``, ``test.py``,
    ``*_tests.py``, modules in a ``test``/``tests`` folder, or (among the first ``MAX_READ`` modules of at most
    ``MAX_READ_BYTES``) a module defining a ``unittest.TestCase`` subclass (roman 4.2: src/tests.py)."""
    found: list[str] = []
    read = 0
    for path, file in _modules(root, generated_files):
        name = file.name
        if _collected_name(name) or name in ("__init__.py", "conftest.py", "setup.py"):
            continue
        parts = Path(path).parts[:-1]
        looks = name in ("tests.py", "test.py") or name.endswith("_tests.py") or bool(TEST_FOLDERS & set(parts))
        if not looks and read < MAX_READ and file.stat().st_size <= MAX_READ_BYTES:
            read += 1
            looks = TESTCASE_CLASS.search(file.read_text(errors="replace")) is not None
        if looks:
            found.append(path)
            if len(found) >= limit:
                break
    return found


def _modules(root: Path, generated_files: Sequence[str]) -> Iterator[tuple[str, Path]]:
    """The project's Python modules (relative path, path) in path order, the generated ones left out, hidden
    folders and environments not searched."""
    skip = set(generated_files)
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in NOT_SEARCHED)
        for name in sorted(files):
            if name.endswith(".py"):
                file = Path(folder) / name
                relative = file.relative_to(root).as_posix()
                if relative not in skip:
                    yield relative, file


def _collected_name(name: str) -> bool:
    return name.startswith("test_") or name.endswith("_test.py")


def _sentence(reason: str, *, partial: bool, nothing_collected: bool = False) -> str:
    if partial:
        return f"{PARTIAL}: {reason}; {ONLY_WHAT_RAN}"
    return f"{NONE_RAN}: {reason}; {NOTHING_RAN if nothing_collected else NOT_THE_SUITE}"


def some_ran(problem: str) -> str:
    """A :func:`problem` sentence saying none of the project's tests ran, made to say some did (the project's tests
    in a test file the generator extended run apart from the default collection: docopt 0.6.2's ``test_docopt.py``,
    whose folder its conftest fails); other sentences unchanged."""
    for end in (NOT_THE_SUITE, NOTHING_RAN):
        if problem.startswith(f"{NONE_RAN}: ") and problem.endswith(f"; {end}"):
            return _sentence(problem[len(NONE_RAN) + 2 : -len(end) - 2], partial=True)
    return problem


def is_partial(problem: str) -> bool:
    """Whether a :func:`problem` sentence says some of the project's tests ran (others could not be collected)."""
    return problem.startswith(PARTIAL)


def baseline_words(problem: str) -> str:
    """What a coverage baseline is, in a summary's 'Coverage (X -> with the kept tests)', given its problem."""
    if not problem:
        return "existing tests"
    whose = "only some of" if is_partial(problem) else "without"
    return f"baseline {whose} the project's tests, see above"


_MISSING_MODULE = re.compile(r"No module named '([A-Za-z_][\w.]*)'")


def missing_modules(problem: str) -> list[str]:
    """The top-level modules a :func:`problem` sentence says could not be imported (``No module named 'x.y'``
    gives ``x``), each once, in order."""
    return list(dict.fromkeys(name.partition(".")[0] for name in _MISSING_MODULE.findall(problem)))


def pytest_says(output: str, limit: int = MAX_REASON_CHARS) -> str:
    """pytest's reason from its output: its error lines (``ERROR: ...``, ``ImportError while loading conftest ...``,
    ``E   ...``, and its command line's ``__main__.py: error: unrecognized arguments: ...`` after the usage line),
    else the first lines."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    errors = [line.removeprefix("E ").strip() for line in lines
              if line.startswith(ERROR_LINES) or USAGE_ERROR.match(line)]  # fmt: skip
    text = " / ".join((errors or lines)[:MAX_LISTED]) or "no output"
    return text[:limit]
