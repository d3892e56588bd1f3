"""Facts about the code that the deployment files must agree with: commands, console scripts, env names."""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import tomllib
from functools import cache
from pathlib import Path

from handoff.cli.main import build_parser

REPO = Path(__file__).resolve().parents[2]
SERVICES = REPO / "services"

_QUOTED_ENV_NAME = re.compile(r"""["'](HANDOFF_[A-Z0-9_]+)["']""")
_SETDEFAULT = re.compile(r"""os\.environ\.setdefault\(\s*["']([A-Z_]+)["']\s*,\s*["']([^"']*)["']\s*\)""")


def console_scripts() -> dict[str, str]:
    with (REPO / "pyproject.toml").open("rb") as f:
        return dict(tomllib.load(f)["project"]["scripts"])


@cache
def env_names_in_code() -> frozenset[str]:
    """Every ``HANDOFF_*`` name that appears as a string literal in the services' source."""
    found: set[str] = set()
    for path in SERVICES.rglob("*.py"):
        found.update(_QUOTED_ENV_NAME.findall(path.read_text(errors="replace")))
    return frozenset(found)


def sdk_env_defaults() -> dict[str, str]:
    """The variables the CLI sets before the agent SDK is imported, with their values."""
    return dict(_SETDEFAULT.findall((SERVICES / "cli" / "main.py").read_text()))


def command_error(argv: list[str]) -> str | None:
    """None if ``handoff <argv>`` parses as a real command line, else argparse's complaint."""
    parser = build_parser()
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr):
            parser.parse_args(argv)
    except SystemExit:
        return stderr.getvalue().strip() or f"not a handoff command line: {argv}"
    except argparse.ArgumentError as exc:
        return str(exc)
    return None
