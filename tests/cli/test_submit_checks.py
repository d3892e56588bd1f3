"""``handoff submit`` refuses what could never run before it connects or uploads anything: exit 2, in words.

The commands point at a port where no NATS listens: a check that happened only after connecting would show as
exit 4 (unavailable) instead."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from handoff.cli.submit_checks import repo_relative
from handoff.demo.run import SAMPLE

NOWHERE = "nats://127.0.0.1:9"  # discard port: nothing answers


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    shutil.copytree(SAMPLE, root, ignore=shutil.ignore_patterns("__pycache__"))
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t.invalid"]
    subprocess.run([*git, "init", "-q"], cwd=root, check=True)
    subprocess.run([*git, "add", "-A"], cwd=root, check=True)
    subprocess.run([*git, "commit", "-qm", "base"], cwd=root, check=True)
    (root / "inventory" / "fresh.py").write_text("def fresh():\n    return 1\n")  # not added
    (root / "inventory" / "blob.py").write_bytes(b"\x7fELF\x00\x00binary")
    (root / "NOTES.md").write_text("# notes\n")
    subprocess.run([*git, "add", "inventory/blob.py", "NOTES.md"], cwd=root, check=True)
    return root


def submit(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "handoff.cli.main", "submit", "--repo", str(repo), *args],
        env={**os.environ, "HANDOFF_NATS_URL": NOWHERE}, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["inventory/fresh.py"], "git add inventory/fresh.py"),
        (["NOTES.md"], "not a Python module"),
        (["inventory/blob.py"], "binary file"),
        (["--sleep-s", "1", "--count", "0"], "--count must be at least 1"),
        (["--sleep-s", "1", "--timeout-s", "-1"], "--timeout-s must be more than 0"),
        (["../outside.py"], "target ../outside.py is outside --repo"),
        (["inventory/stock.py", "--test-dir", "../x"], "--test-dir must be a folder inside the repo"),
        (["inventory/stock.py", "--coverage-goal", "150"], "--coverage-goal is a percentage between 0 and 100"),
        (["inventory/stock.py", "--mutation-goal", "-5"], "--mutation-goal is a percentage between 0 and 100"),
        (["inventory/stock.py", "--max-attempts", "0"], "--max-attempts must be at least 1"),
        (["inventory/stock.py", "--test-env", "WCWIDTH_PYTHON"], "--test-env 'WCWIDTH_PYTHON': expected NAME=VALUE"),
        (["inventory/stock.py", "--test-env", "1X=1"], "a name is letters, digits and '_'"),
        (["inventory/stock.py", "--test-env", "PATH=/tmp"], "PATH is set by the sandbox for every run"),
        (["inventory/stock.py", "--test-env", "HANDOFF_X=1"], "names starting with HANDOFF_ are reserved"),
        (["inventory/stock.py", "--test-env", "A=1", "--test-env", "A=2"], "--test-env A is given twice"),
        (["inventory/stock.py", "--test-env", "A=" + "x" * 4097], "the value is longer than 4096 characters"),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else None,
)
def test_submit_refuses_what_could_never_run_before_connecting(repo: Path, args: list[str], says: str) -> None:
    """Each mistake ends with exit 2 and a sentence naming it, not a later failure or a schema regex."""
    done = submit(repo, *args)
    assert done.returncode == 2, (done.returncode, done.stderr)
    assert says in done.stderr
    assert "pattern" not in done.stderr and "Traceback" not in done.stderr


def test_submit_refuses_an_absolute_target_outside_the_repo_in_words(repo: Path) -> None:
    """Not a schema error with a regex: the target, the repo, and how to give paths."""
    outside = repo.parent / "other.py"
    outside.write_text("def f():\n    return 1\n")
    done = submit(repo, str(outside))
    assert done.returncode == 2, (done.returncode, done.stderr)
    assert f"target {outside} is outside --repo {repo}; give paths relative to the repository" in done.stderr
    assert "pattern" not in done.stderr and "Traceback" not in done.stderr


def test_a_target_inside_the_repo_given_absolutely_or_through_dots_is_made_relative_to_it(repo: Path) -> None:
    """/repo/inventory/stock.py, ./inventory/stock.py and inventory/../inventory/stock.py all name one target."""
    done = submit(repo, str(repo / "inventory" / "stock.py"))
    assert done.returncode == 4, (done.returncode, done.stderr)  # checked and accepted: then no NATS answers
    given = [str(repo / "inventory" / "stock.py"), "./inventory/stock.py", "inventory/../inventory/stock.py"]
    assert repo_relative(repo, given) == ["inventory/stock.py"] * 3
    linked = repo.parent / "linked"
    linked.symlink_to(repo)
    assert repo_relative(linked, [str(repo / "inventory" / "stock.py")]) == ["inventory/stock.py"]


def test_submit_does_not_print_the_targets_own_syntax_warnings(repo: Path) -> None:
    """A target with an invalid escape in a string (docopt.py has four) parses with a SyntaxWarning: that is the
    project's business, not a message of submit's, so stderr holds only the outage (exit 4)."""
    (repo / "inventory" / "escapes.py").write_text('PATTERN = "\\S+"\n\n\ndef words(text):\n    return text.split()\n')
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t.invalid"]
    subprocess.run([*git, "add", "inventory/escapes.py"], cwd=repo, check=True)
    done = submit(repo, "inventory/escapes.py")
    assert done.returncode == 4, (done.returncode, done.stderr)  # checked and accepted: then no NATS answers
    assert "SyntaxWarning" not in done.stderr and "invalid escape" not in done.stderr, done.stderr
