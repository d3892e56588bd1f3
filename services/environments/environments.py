"""``ProjectEnvironments``: the virtualenv a task's tests run in, built from the project's own metadata.

The environment holds the project's dependencies (never the project itself, which goes on PYTHONPATH) plus
pytest and coverage, and nothing of Handoff's. Environments are cached per replica under a key made of the
requirements read from the dependency files, the exact Python version and the task's extra and optional packages,
so tasks of one project (or of projects with the same dependencies) share one. Optional packages (the offline
engines) that do not resolve with the project's requirements are fitted in or left out (optional.py); the
environment records which, so later tasks with the same key know it without resolving again. The pytest plugins the
project's pytest configuration asks for and it does not declare are extra packages too (pytest_plugins.py).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import structlog

from handoff.environments.cache import META, EnvCache, Lease
from handoff.environments.index import IndexConfig, index_config
from handoff.environments.installer import TOOL_PACKAGES, Installer, find_uv
from handoff.environments.metadata import Dependencies, read_dependencies
from handoff.environments.optional import Fitted, OptionalPackage, install_fitting
from handoff.environments.pytest_plugins import PluginPackage, plugin_packages, pytest_config
from handoff.environments.python import Interpreter, resolve_python
from handoff.environments.sandbox import InstallSandbox
from handoff.environments.settings import EnvSettings
from handoff.sandbox import Sandbox

log = structlog.get_logger(__name__)

# 2: an environment may lack optional packages it was asked for (its record says so); one of format 1 never does,
# and a replica of format 1 sharing the cache must not take a format 2 environment for complete
# 3: built with its bytecode (``--compile-bytecode``); one of format 2 has none, so every read-only run recompiled it
KEY_FORMAT = 3


@dataclass(frozen=True, slots=True)
class ProjectEnv:
    root: Path
    interpreter: Interpreter
    dependencies: Dependencies
    extra_packages: tuple[str, ...]  # what was added to the project's requirements: the extra and optional packages
    cache_hit: bool
    env_s: float
    lease: Lease
    optional: Fitted = field(default_factory=Fitted)  # which optional packages were installed, fitted in or left out
    plugins: tuple[PluginPackage, ...] = ()  # the extra packages added for the project's pytest configuration

    @property
    def python(self) -> Path:
        return self.root / "bin" / "python"

    @property
    def bin_dir(self) -> Path:
        return self.root / "bin"

    def release(self) -> None:
        self.lease.release()


def environment_key(interpreter: Interpreter, deps: Dependencies, extra_packages: Sequence[str]) -> str:
    material = {
        "format": KEY_FORMAT,
        "python": interpreter.version,
        "requirements": sorted(deps.requirements),
        "extra": sorted(extra_packages),
        "tools": list(TOOL_PACKAGES),
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()[:32]


class ProjectEnvironments:
    def __init__(
        self, settings: EnvSettings, *, sandbox: Sandbox | None = None, pip_config: Mapping[str, str] | None = None
    ) -> None:
        """``sandbox``: where builds run (the task sandbox; see sandbox.py); None runs them unsandboxed."""
        self.settings = settings
        self.uv = find_uv(settings.uv)
        self.cache = EnvCache(settings.cache_root, max_bytes=settings.cache_max_bytes)
        self._sandbox = InstallSandbox(sandbox) if sandbox is not None and sandbox.enabled else None
        self._pip_config = pip_config
        self._index: IndexConfig | None = None
        self._index_lock = asyncio.Lock()

    async def index(self) -> IndexConfig:
        """The index configuration, read from pip's configuration once per instance."""
        async with self._index_lock:
            if self._index is None:
                self._index = await asyncio.to_thread(index_config, self.settings, self._pip_config)
            return self._index

    async def prepare(
        self,
        workspace: Path,
        *,
        python: str | None = None,
        extra_packages: Sequence[str] = (),
        optional_packages: Sequence[OptionalPackage] = (),
        on_build: Callable[[str], None] | None = None,
    ) -> ProjectEnv:
        """The environment for the project in ``workspace``: from the cache, or built (once per key) and cached.

        The pytest plugins the project's pytest configuration asks for and its requirements and ``extra_packages``
        do not name are added to ``extra_packages`` (``ProjectEnv.plugins`` says which and why).
        ``optional_packages`` are installed when they resolve with the rest, else fitted in or left out
        (optional.py); ``ProjectEnv.optional`` says which. ``on_build`` is told what is being built when this call
        builds (a cold cache) rather than reuses.

        Raises an ``EnvironmentBuildError``: ``PythonNotFound``, ``DependencyFileError``, ``InstallFailed`` or
        ``IndexUnreachable`` (the only retryable one).
        """
        started = time.monotonic()
        interpreter = await asyncio.to_thread(resolve_python, python, uv=self.uv)
        deps = await asyncio.to_thread(read_dependencies, workspace)
        config = await asyncio.to_thread(pytest_config, workspace)
        plugins = plugin_packages(config, [*deps.requirements, *extra_packages])
        extra = (*extra_packages, *(p.requirement for p in plugins))
        optional = tuple(p for p in optional_packages if p.requirement not in extra)
        # the optional packages count as extra packages in the key: one asked for is one wanted, installed or not
        key = environment_key(interpreter, deps, [*extra, *(p.requirement for p in optional)])
        installer = Installer(uv=self.uv, index=await self.index(), timeout_s=self.settings.build_timeout_s,
                              max_output_chars=self.settings.max_output_chars, sandbox=self._sandbox)  # fmt: skip

        async def build(dest: Path) -> dict[str, object]:
            if on_build is not None:
                declared = (
                    f"{len(deps.requirements)} requirement(s) from {', '.join(deps.sources)}"
                    if deps.sources
                    else "no requirements declared by the project"
                )  # a setup.py may be there, declaring none
                on_build(f"building (cold): Python {interpreter.version}, {declared}, "
                         f"{len(extra) + len(optional)} extra package(s)")  # fmt: skip
            await installer.create(dest, interpreter.path)

            async def install(requirements: list[str], overrides: list[str]) -> str:
                return await installer.install(dest, interpreter.path, requirements, overrides=overrides)

            fitted = await install_fitting(install, [*deps.requirements, *extra], optional)
            return {"python": interpreter.version, "requirements": list(deps.requirements), "extra": list(extra),
                    "sources": list(deps.sources), "optional": fitted.to_json()}  # fmt: skip

        lease = await self.cache.acquire(key, build)
        try:
            meta = json.loads(await asyncio.to_thread((lease.path / META).read_text))
        except BaseException:
            lease.release()
            raise
        fitted = Fitted.from_json(meta, optional)
        added = (*extra, *(p.requirement for p in optional if p.name in fitted.installed))
        env = ProjectEnv(
            root=lease.path, interpreter=interpreter, dependencies=deps, extra_packages=added, cache_hit=lease.hit,
            env_s=round(time.monotonic() - started, 3), lease=lease, optional=fitted, plugins=plugins,
        )  # fmt: skip
        log.info("project_environment", key=key, cache_hit=env.cache_hit, env_s=env.env_s,
                 python=interpreter.version, requirements=len(deps.requirements), sources=list(deps.sources),
                 skipped=list(deps.skipped), left_out=fitted.left_out, overridden=fitted.overridden,
                 plugins=[p.note for p in plugins])  # fmt: skip
        return env
