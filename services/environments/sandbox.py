"""The sandbox an environment build runs in: what uv (and the build scripts it runs) may read, write and reach.

Writable: the environment being built and uv's package cache (downloads and built wheels are shared between
builds, which is what makes a cold build take a second rather than a minute). Readable, besides the system
directories: the interpreter the environment is made from, the uv binary, and the local folders of the index
configuration (file:// indexes with the folder around their ``simple/`` root, find-links folders, constraint
files, the CA bundle). The network is shared only
when an index is not a local folder. HOME is the sandbox's private /tmp.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from handoff.environments.index import IndexConfig
from handoff.sandbox import Launch, Sandbox


def uv_cache_dir(env: Mapping[str, str]) -> Path:
    """Where uv keeps its package cache for an installer started with ``env`` (uv's own rule on Linux)."""
    if env.get("UV_CACHE_DIR"):
        return Path(env["UV_CACHE_DIR"])
    if env.get("XDG_CACHE_HOME"):
        return Path(env["XDG_CACHE_HOME"]) / "uv"
    return Path(env.get("HOME") or os.path.expanduser("~")) / ".cache" / "uv"


def local_path(location: str) -> Path | None:
    """The folder or file of a local index location (``file://...`` or a plain path), None for a remote one."""
    parsed = urlparse(location)
    if parsed.scheme == "file":
        return Path(parsed.path)
    if parsed.scheme == "" and location.startswith("/"):
        return Path(location)
    return None


def needs_network(index: IndexConfig) -> bool:
    """True unless every index and find-links location is local (no index URL at all means PyPI)."""
    if index.index_url is None:
        return True
    return any(local_path(url) is None for url in (index.index_url, *index.extra_index_urls, *index.find_links))


def readable_paths(index: IndexConfig, *, python: Path, uv: Path) -> list[Path]:
    paths = [Path(python).resolve().parent.parent, Path(uv).resolve().parent]
    for url in (index.index_url or "", *index.extra_index_urls):
        local = local_path(url) if url else None
        if local is not None and local.exists():
            # a local index's pages link to files beside its root (<root>/simple/<name>/ -> <root>/files/...)
            paths.append(local.parent if local.name == "simple" else local)
    for location in (*index.find_links, *index.constraints):
        local = local_path(location)
        if local is not None and local.exists():
            paths.append(local)
    if index.cert:
        paths.append(Path(index.cert))
    return paths


@dataclass(frozen=True, slots=True)
class InstallSandbox:
    """The task sandbox, applied to one installer command at a time."""

    sandbox: Sandbox

    def launch(
        self, argv: Sequence[str], *, env: Mapping[str, str], dest: Path, python: Path, uv: Path, index: IndexConfig
    ) -> Launch:
        cache = uv_cache_dir(env)
        cache.mkdir(parents=True, exist_ok=True)
        inside = {**env, "HOME": "/tmp", "UV_CACHE_DIR": str(cache), "PATH": "/usr/local/bin:/usr/bin:/bin"}
        inside.pop("XDG_CACHE_HOME", None)
        return self.sandbox.command(
            argv,
            cwd=dest,
            env=inside,
            writable=[dest, cache],
            readable=readable_paths(index, python=python, uv=uv),
            network=needs_network(index),
            file_limit=False,  # wheels and their files can be larger than a test run's limit
        )
