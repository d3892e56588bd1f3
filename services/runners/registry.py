"""Which runner does which kind of task. The generator asks the registry for a runner per payload type.

Runners are built on first use, in a worker thread: the agent runner imports the agent SDK and reads its
settings, and the generator's event loop must keep heartbeating meanwhile. Whoever created the registry closes
it (``aclose()`` of every built runner that has one). A kind whose runner cannot be built raises
``RunnerUnavailable``, which ends that task as failed with the reason.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping

import structlog

from handoff.runners.base import Runner
from handoff.runners.sleep import SleepRunner
from handoff.schemas.events import GenerateTests, Payload, Sleep

log = structlog.get_logger(__name__)

RunnerFactory = Callable[[], Runner]


class RunnerUnavailable(Exception):
    """No runner for this kind of task on this replica (not installed, not configured, or failed to build)."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(f"no runner for task kind {kind!r}: {reason}")
        self.kind = kind
        self.reason = reason


def kind_of(payload_type: type[Payload]) -> str:
    return str(payload_type.__struct_config__.tag)


class RunnerRegistry:
    def __init__(self, factories: Mapping[type[Payload], RunnerFactory]) -> None:
        self._factories = dict(factories)
        self._built: dict[type[Payload], Runner] = {}
        self._lock = asyncio.Lock()

    @classmethod
    def of(cls, runners: Mapping[type[Payload], Runner]) -> RunnerRegistry:
        """A registry of ready-made runners (what tests and embedders pass in)."""
        registry = cls({})
        registry._built.update(runners)
        return registry

    @property
    def kinds(self) -> list[str]:
        return sorted({kind_of(t) for t in (*self._factories, *self._built)})

    async def resolve(self, payload_type: type[Payload]) -> Runner:
        runner = self._built.get(payload_type)
        if runner is not None:
            return runner
        factory = self._factories.get(payload_type)
        kind = kind_of(payload_type)
        if factory is None:
            raise RunnerUnavailable(kind, f"this replica runs only {', '.join(self.kinds) or 'nothing'}")
        async with self._lock:
            if payload_type not in self._built:
                self._built[payload_type] = await asyncio.to_thread(_build, kind, factory)
        return self._built[payload_type]

    async def aclose(self) -> None:
        """Release what built runners hold (the agent runner's scripted model server, for instance)."""
        built, self._built = list(self._built.values()), {}
        for runner in built:
            close = getattr(runner, "aclose", None)
            if close is not None:
                await close()


def _build(kind: str, factory: RunnerFactory) -> Runner:
    try:
        return factory()
    except RunnerUnavailable:
        raise
    except Exception as exc:  # a boundary: any failure to build becomes a typed, logged RunnerUnavailable
        log.error("runner could not be built", kind=kind, error=repr(exc), exc_info=True)
        raise RunnerUnavailable(kind, f"{type(exc).__name__}: {exc}") from exc


def _openhands_test_runner() -> Runner:
    try:
        from handoff.runners.openhands import OpenHandsTestRunner  # imports the agent SDK: only on first use
    except ImportError as exc:
        raise RunnerUnavailable(kind_of(GenerateTests), f"the OpenHands runner is not installed: {exc}") from exc
    runner: Runner = OpenHandsTestRunner.from_env()
    return runner


def default_registry() -> RunnerRegistry:
    """Every kind Handoff knows: tests by the OpenHands agent, and the sleep runner for benchmarks."""
    return RunnerRegistry({Sleep: SleepRunner, GenerateTests: _openhands_test_runner})
