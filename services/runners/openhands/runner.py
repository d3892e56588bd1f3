"""``OpenHandsTestRunner``: the generator's runner for ``GenerateTests`` tasks (see docs/runner.md).

One instance lives as long as its generator process. Each task gets a new LLM, Agent and conversation in a
fresh workspace; the SDK's imports stay warm between tasks. With ``HANDOFF_SCRIPTED_MODEL=true`` and no base
URL, the runner starts an in-process scripted model server (labelled as such in every result and progress).
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

import msgspec
import structlog
from pydantic import SecretStr

from handoff.common.secrets import process_redactor
from handoff.environments import ProjectEnvironments
from handoff.runners.base import PermanentFailure, TaskContext, TaskFailure
from handoff.runners.openhands.progress import ProgressPump
from handoff.runners.openhands.sdk import load_sdk
from handoff.runners.openhands.settings import SCRIPTED_MODEL_NAME, RunnerSettings
from handoff.runners.openhands.task_run import TaskRun
from handoff.sandbox import Sandbox, secret_files
from handoff.schemas.events import ErrorCode, GenerateTests, TestGenerationResult
from handoff.scripted_model.replies import Policy
from handoff.scripted_model.server import ScriptedModelServer

log = structlog.get_logger(__name__)


class OpenHandsTestRunner:
    def __init__(self, settings: RunnerSettings, *, scripted_policy: Policy | None = None) -> None:
        self.settings = settings
        self._scripted_policy = scripted_policy
        self._scripted_server: ScriptedModelServer | None = None
        self._ready = asyncio.Lock()
        self._loaded = False
        self._redact = process_redactor()
        if settings.llm.api_key is not None:
            self._redact.add(settings.llm.api_key.get_secret_value())
        # validation runs this interpreter's environment: readable in every sandbox; secret files never are
        self.sandbox = Sandbox.from_settings(
            settings.sandbox, ro_paths=[Path(sys.prefix)], hidden=secret_files(os.environ)
        )
        # project environments are built in the same sandbox: source distributions run their build scripts there
        self.environments = ProjectEnvironments(settings.environments, sandbox=self.sandbox)

    @classmethod
    def from_env(cls) -> OpenHandsTestRunner:
        return cls(RunnerSettings.from_env())

    def __repr__(self) -> str:
        return f"OpenHandsTestRunner(settings={self.settings.llm!r}, scripted={self.settings.scripted_model})"

    async def __aenter__(self) -> OpenHandsTestRunner:
        await self._ensure_ready()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._scripted_server is not None:
            await self._scripted_server.__aexit__(None, None, None)
            self._scripted_server = None

    async def run(self, ctx: TaskContext) -> TestGenerationResult:
        payload = ctx.task.payload
        if not isinstance(payload, GenerateTests):
            raise PermanentFailure(ErrorCode.INVALID_TASK, f"OpenHandsTestRunner cannot run {type(payload).__name__}")
        await self._ensure_ready()
        with structlog.contextvars.bound_contextvars(task_id=ctx.task.task_id, attempt=ctx.attempt):
            async with ProgressPump(ctx.progress, redact=self._redact, label=self.settings.label) as pump:
                llms = self._llms(pump.emit)
                run = TaskRun(
                    ctx, payload, settings=self.settings, llms=llms, pump=pump, redact=self._redact,
                    sandbox=self.sandbox, environments=self.environments,
                )  # fmt: skip
                try:
                    return await run.execute()
                except TaskFailure as failure:
                    self._scrub(failure)
                    raise

    def _scrub(self, failure: TaskFailure) -> None:
        """Failure texts can quote foreign error messages: the key must not travel in them."""
        failure.message = self._redact(failure.message)
        failure.detail = self._redact(failure.detail)
        failure.args = (failure.message,)

    async def _ensure_ready(self) -> None:
        async with self._ready:
            if not self._loaded:
                # pip's index configuration is read once (a pip subprocess) while the SDK imports
                await asyncio.gather(asyncio.to_thread(load_sdk), self.environments.index())
                self._loaded = True
                self._warn_unpriced()
            if self.settings.scripted_model and self.settings.llm.base_url is None and self._scripted_server is None:
                policy = self._scripted_policy or self._default_policy()
                server = ScriptedModelServer(policy=policy)
                self._scripted_server = await server.__aenter__()
                log.info("scripted_model_started", base_url=self._scripted_server.base_url)

    def _warn_unpriced(self) -> None:
        """A cost budget for a model litellm cannot price is never reached: say so once, at start."""
        llm = self.settings.llm
        if self.settings.scripted_model or self.settings.max_budget_usd is None or llm.input_cost_per_token:
            return
        from handoff.runners.openhands.pricing import unpriced_models

        if missing := unpriced_models(llm.models):
            log.warning(
                "llm_budget_not_enforceable",
                models=missing,
                max_budget_usd=self.settings.max_budget_usd,
                hint="litellm has no price for these models, so their cost counts as 0: set "
                "HANDOFF_LLM_INPUT_COST_PER_TOKEN / _OUTPUT_COST_PER_TOKEN, "
                "or cap tokens with HANDOFF_AGENT_MAX_TOKENS",
            )

    def _default_policy(self) -> Policy:
        if self.settings.offline_engine is not None:
            from handoff.offline_engine.policy import OfflineEnginePolicy

            return OfflineEnginePolicy(self.settings.offline_engine)
        from handoff.scripted_model.policies import TestWriterPolicy

        return TestWriterPolicy(answers_dir=self.settings.scripted_answers_dir)

    def _llms(self, emit: Callable[[str, str], None]) -> list[Any]:
        """New LLM objects for one task: the primary model and its fallbacks, or the scripted model."""
        from handoff.runners.openhands.conversation import build_llm

        llm = self.settings.llm
        if not self.settings.scripted_model:
            return [build_llm(llm, m, index=i, base_url=llm.base_url, emit=emit) for i, m in enumerate(llm.models)]
        server = self._scripted_server
        scripted = msgspec.structs.replace(
            llm,
            api_mode="chat",
            api_key=llm.api_key or SecretStr("scripted-model-needs-no-key"),  # the OpenAI client insists on one
            input_cost_per_token=llm.input_cost_per_token or 0.0,
            output_cost_per_token=llm.output_cost_per_token or 0.0,
        )
        base_url = llm.base_url or (server.base_url if server else None)
        return [build_llm(scripted, SCRIPTED_MODEL_NAME, index=0, base_url=base_url, emit=emit)]
