"""What ``handoff submit`` checks before it uploads anything, so that a task that could never run is refused at
once, in words: the options' ranges, and each target being a Python source file the snapshot will contain."""

from __future__ import annotations

import argparse
import ast
import os
import subprocess
import warnings
from pathlib import Path, PurePosixPath

from handoff.cli.errors import CliError
from handoff.cli.exit_codes import Exit


def check_options(args: argparse.Namespace) -> None:
    """Ranges of the numeric options and the shape of --test-dir (the schema would refuse them after the upload)."""
    if args.count < 1:
        raise _usage(f"--count must be at least 1, got {args.count}")
    if args.timeout_s is not None and args.timeout_s <= 0:
        raise _usage(f"--timeout-s must be more than 0 seconds, got {args.timeout_s:g}")
    if args.max_attempts < 1:
        raise _usage(f"--max-attempts must be at least 1, got {args.max_attempts}")
    if args.sleep_s is not None and args.sleep_s < 0:
        raise _usage(f"--sleep-s must not be negative, got {args.sleep_s:g}")
    if not 0 <= args.coverage_goal <= 100:
        raise _usage(f"--coverage-goal is a percentage between 0 and 100, got {args.coverage_goal:g}")
    if args.mutation_goal is not None and not 0 <= args.mutation_goal <= 100:
        raise _usage(f"--mutation-goal is a percentage between 0 and 100, got {args.mutation_goal:g}")
    test_dir = PurePosixPath(args.test_dir)
    if not args.test_dir or test_dir.is_absolute() or ".." in test_dir.parts or "\\" in args.test_dir:
        raise _usage(
            f"--test-dir must be a folder inside the repo, relative to it (like 'tests'), got {args.test_dir!r}"
        )


def repo_relative(repo: Path, targets: list[str]) -> list[str]:
    """The targets as paths relative to ``repo`` (POSIX): an absolute path or one with ``..`` inside the repo is
    made relative to it; one outside it is refused in words."""
    given = Path(os.path.abspath(repo))
    relative = []
    for target in targets:
        path = Path(os.path.normpath(given / target))  # an absolute target stays itself
        if path.is_relative_to(given):
            relative.append(path.relative_to(given).as_posix())
        elif path.resolve().is_relative_to(given.resolve()):  # the repo given through a link
            relative.append(path.resolve().relative_to(given.resolve()).as_posix())
        else:
            raise _usage(f"target {target} is outside --repo {repo}; give paths relative to the repository")
    return relative


def check_targets(repo: Path, targets: list[str]) -> None:
    """Every target is a UTF-8 Python source that parses, and git tracks it when the repo is a git work tree."""
    for target in targets:
        path = repo / target
        if path.suffix != ".py":
            raise _usage(f"{target} is not a Python module (.py): Handoff writes tests for Python code")
        data = path.read_bytes()
        if b"\x00" in data:
            raise _usage(f"{target} is a binary file, not Python source")
        try:
            with warnings.catch_warnings():  # the target's own invalid escapes are the project's, not submit's
                warnings.simplefilter("ignore", SyntaxWarning)
                warnings.simplefilter("ignore", DeprecationWarning)
                ast.parse(data.decode("utf-8"), filename=target)
        except UnicodeDecodeError:
            raise _usage(f"{target} is not UTF-8 text, so not Python source Handoff can read") from None
        except SyntaxError as exc:
            raise _usage(f"{target} is not valid Python (line {exc.lineno}: {exc.msg})") from None
    untracked = _untracked(repo, targets)
    if untracked:
        shown = " ".join(untracked)
        raise _usage(
            f"not tracked by git, so not in the snapshot (it takes the files git tracks): {', '.join(untracked)}; "
            f"'git add {shown}' first"
        )


def _untracked(repo: Path, targets: list[str]) -> list[str]:
    try:
        inside = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "--is-inside-work-tree"], capture_output=True, text=True, check=False
        )
    except FileNotFoundError:  # no git: the snapshot walks the folder
        return []
    if inside.returncode != 0 or inside.stdout.strip() != "true":
        return []
    tracked = subprocess.run(
        ["git", "-C", str(repo), "ls-files", "--cached", "--", *targets],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    listed = set(tracked.stdout.splitlines())
    return [t for t in targets if PurePosixPath(t).as_posix() not in listed]


def _usage(message: str) -> CliError:
    return CliError(Exit.USAGE, message)
