"""``handoff --help`` is where a newcomer starts: core verbs first, every option explained, a version to report."""

from __future__ import annotations

import argparse
import subprocess
import sys

from handoff.cli.main import CORE_VERBS, build_parser
from handoff.demo.real_world import REAL_WORLD_PACKAGE


def undocumented(parser: argparse.ArgumentParser, path: str = "handoff") -> list[str]:
    missing = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                missing += undocumented(sub, f"{path} {name}")
        elif not isinstance(action, argparse._HelpAction | argparse._VersionAction) and not action.help:
            missing.append(f"{path} {'/'.join(action.option_strings) or action.dest}")
    return missing


def test_every_option_and_argument_of_every_command_has_a_help_text() -> None:
    """No option of any command shows up in --help without saying what it does."""
    assert undocumented(build_parser()) == []


def test_the_core_verbs_come_first_in_the_command_list() -> None:
    """up, submit, wait and result lead the list of commands."""
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert list(sub.choices)[: len(CORE_VERBS)] == list(CORE_VERBS) == ["up", "submit", "wait", "result"]


def test_handoff_version_prints_the_version() -> None:
    """'handoff --version' prints 'handoff X.Y.Z' and exits 0."""
    command = [sys.executable, "-m", "handoff.cli.main", "--version"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("handoff ") and done.stdout.split()[1][0].isdigit()


def test_demo_help_names_both_projects_the_demo_runs() -> None:
    """'handoff demo --help' names the shipped sample and the real-world module installed from the package index."""
    command = [sys.executable, "-m", "handoff.cli.main", "demo", "--help"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    text = " ".join(done.stdout.split())
    assert "shipped sample project and a real-world module" in text
    assert f"({REAL_WORLD_PACKAGE}, from the package index" in text


def test_submit_help_says_the_coverage_goal_is_line_and_branch_coverage_with_the_existing_tests() -> None:
    """The goal is judged on line+branch coverage by the project's tests and the kept ones, not line coverage."""
    command = [sys.executable, "-m", "handoff.cli.main", "submit", "--help"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    text = " ".join(done.stdout.split())
    assert "line+branch coverage together, by the project's existing tests and the kept generated ones" in text
    assert "line coverage each module should reach" not in text
