"""Which package index environments are installed from: explicit settings, else this machine's pip configuration.

uv does not read pip's configuration files, so the index, extra indexes, find-links folders and constraint files
that pip would use are read once (``python -m pip config list``, which merges pip's files and ``PIP_*`` variables
the way pip does) and passed to uv explicitly.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass

import structlog

from handoff.environments.settings import EnvSettings

log = structlog.get_logger(__name__)

PIP_CONFIG_TIMEOUT_S = 60.0
# later sections win, as in pip: [global] < [install] < PIP_* variables
SECTION_ORDER = ("global", "install", ":env:")


@dataclass(frozen=True, slots=True)
class IndexConfig:
    index_url: str | None = None
    extra_index_urls: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()
    constraints: tuple[str, ...] = ()
    cert: str | None = None

    def uv_options(self) -> list[str]:
        """Options for ``uv pip install``; ``unsafe-best-match`` lets every index offer every package, as pip does."""
        options = ["--index-strategy", "unsafe-best-match"]
        if self.index_url:
            options += ["--index-url", self.index_url]
        for url in self.extra_index_urls:
            options += ["--extra-index-url", url]
        for link in self.find_links:
            options += ["--find-links", link]
        for constraint in self.constraints:
            options += ["--constraint", constraint]
        return options

    def uv_environment(self) -> dict[str, str]:
        """The indexes and wheel folders as uv's environment variables (for a plain ``uv venv`` / ``uv pip``)."""
        env = {"UV_INDEX_STRATEGY": "unsafe-best-match"}
        if self.index_url:
            env["UV_INDEX_URL"] = self.index_url
        if self.extra_index_urls:
            env["UV_EXTRA_INDEX_URL"] = " ".join(dict.fromkeys(self.extra_index_urls))
        if self.find_links:
            env["UV_FIND_LINKS"] = ",".join(dict.fromkeys(self.find_links))
        return env


def index_config(settings: EnvSettings, pip: Mapping[str, str] | None = None) -> IndexConfig:
    """Settings override pip's configuration item by item; ``pip`` is ``read_pip_config()`` when not given."""
    pip = read_pip_config() if pip is None else pip
    return IndexConfig(
        index_url=settings.index_url or pip.get("index-url") or None,
        extra_index_urls=(
            settings.extra_index_urls if settings.extra_index_urls is not None else _split(pip.get("extra-index-url"))
        ),
        find_links=settings.find_links if settings.find_links is not None else _split(pip.get("find-links")),
        constraints=_split(pip.get("constraint")),
        cert=pip.get("cert") or None,
    )


def read_pip_config() -> dict[str, str]:
    """pip's effective configuration as ``{key: value}`` (empty when pip is missing or fails)."""
    try:
        done = subprocess.run(
            [sys.executable, "-m", "pip", "config", "list"],
            capture_output=True, text=True, timeout=PIP_CONFIG_TIMEOUT_S, check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as err:
        log.warning("pip_config_unreadable", error=str(err))
        return {}
    if done.returncode != 0:
        log.warning("pip_config_unreadable", error=done.stderr.strip()[-500:])
        return {}
    return parse_pip_config(done.stdout)


def parse_pip_config(text: str) -> dict[str, str]:
    """Parse ``pip config list`` lines such as ``global.extra-index-url='a b'`` into the effective values."""
    ranked: dict[str, tuple[int, str]] = {}
    for line in text.splitlines():
        name, sep, raw = line.partition("=")
        section, dot, key = name.rpartition(".")
        if not sep or not dot or section not in SECTION_ORDER:
            continue
        try:
            value = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            value = raw
        rank = SECTION_ORDER.index(section)
        if key not in ranked or rank >= ranked[key][0]:
            ranked[key] = (rank, str(value))
    return {key: value for key, (_rank, value) in ranked.items()}


def _split(value: str | None) -> tuple[str, ...]:
    return tuple(value.split()) if value else ()
