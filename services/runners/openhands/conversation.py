"""One agent conversation per task: a new LLM and Agent, the real tools, ``arun()`` that cancel can interrupt.

Outcomes are mapped here, once, onto typed failures: stuck -> AGENT_STUCK, iteration cap -> MAX_ITERATIONS,
cost cap or token cap -> BUDGET_EXCEEDED (all permanent); rate limits -> the next fallback model, then LLM_RATE_LIMITED;
an unreachable LLM -> LLM_UNAVAILABLE (both transient, so the generator retries later).
Importing this module imports the SDK (~6 s); the runner does so lazily, once per process.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Sequence
from pathlib import Path

from openhands.sdk import LLM, Agent, LocalConversation
from openhands.sdk.context.condenser import LLMSummarizingCondenser
from openhands.sdk.conversation import ConversationExecutionStatus
from openhands.sdk.conversation.exceptions import ConversationRunError
from openhands.sdk.event import ActionEvent, AgentErrorEvent, MessageEvent, ObservationEvent
from openhands.sdk.event.conversation_error import ConversationErrorEvent
from openhands.sdk.event.error_classification import FailureKind, classify_error
from openhands.sdk.llm.exceptions import (
    LLMAuthenticationError,
    LLMError,
    LLMNoResponseError,
    LLMRateLimitError,
    LLMServiceUnavailableError,
    LLMTimeoutError,
)

from handoff.common.secrets import process_redactor
from handoff.runners.base import PermanentFailure, TaskFailure, TransientFailure
from handoff.runners.openhands.settings import LlmSettings
from handoff.runners.openhands.tools import tool_specs
from handoff.runners.openhands.workspace import TaskDirs
from handoff.schemas.events import ErrorCode, LlmUsage

Emit = Callable[[str, str], None]
INTERRUPT_GRACE_S = 0.5
TOKEN_CHECK_S = 0.2  # how often a running round compares the conversation's tokens with the cap
MAX_TOOL_ERROR_CHARS = 2000
SHOWN_COMMAND_CHARS = 200  # a longer command (or one of several lines) is named by its summary in the progress
_ESCAPES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")
UNAVAILABLE = (LLMServiceUnavailableError, LLMTimeoutError, LLMNoResponseError)


def build_llm(settings: LlmSettings, model: str, *, index: int, base_url: str | None, emit: Emit) -> LLM:
    """A fresh LLM (its cost and token counters are per task) with Handoff's retry and timeout settings."""

    def on_retry(attempt: int, total: int, error: BaseException | None) -> None:
        failed = type(error).__name__ if error else "error"
        emit("llm_retry", f"{model}: attempt {attempt} of {total} failed ({failed}); retrying")

    return LLM(
        model=model,
        base_url=base_url,
        api_key=settings.api_key,
        usage_id=f"handoff-{index}",
        api_mode=settings.api_mode,  # type: ignore[arg-type]
        reasoning_effort=settings.reasoning_effort,
        stream=settings.stream,
        num_retries=settings.retries + 1,  # the SDK counts attempts
        retry_multiplier=1.0,
        retry_min_wait=int(settings.retry_min_wait_s),
        retry_max_wait=int(settings.retry_max_wait_s),
        timeout=int(settings.timeout_s),
        stream_idle_timeout=settings.timeout_s,
        input_cost_per_token=settings.input_cost_per_token,
        output_cost_per_token=settings.output_cost_per_token,
        retry_listener=on_retry,
    )


class AgentSession:
    def __init__(
        self,
        *,
        llms: Sequence[LLM],
        dirs: TaskDirs,
        shell: Path,
        emit: Emit,
        max_iterations: int,
        max_budget_usd: float | None,
        max_tokens: int | None = None,
        condense_after_events: int | None = None,
        condenser_llm: LLM | None = None,
    ) -> None:
        if not llms:
            raise ValueError("an agent session needs at least one LLM")
        self._llms = list(llms)
        self._current = 0
        self._emit = emit
        self._last_error: ConversationErrorEvent | None = None
        self._max_tokens = max_tokens
        self._token_cap_hit = False
        self.last_message = ""
        """The agent's last message or finish text (an offline engine says there why it wrote nothing)."""
        self.last_tool_error = ""
        """The last tool error of the current round (``tool: error``), for the failure's detail."""
        condenser = None
        if condense_after_events:  # rounds of pytest output must not overflow the context window
            summarizer = condenser_llm or self._llms[0].model_copy(update={"usage_id": "handoff-condenser"})
            condenser = LLMSummarizingCondenser(llm=summarizer, max_size=condense_after_events, keep_first=2)
        agent = Agent(
            llm=self._llms[0],
            tools=tool_specs(history_dir=dirs.editor_history, shell_path=shell),
            condenser=condenser,
        )
        self.conversation = LocalConversation(
            agent=agent,
            workspace=str(dirs.workspace),
            persistence_dir=str(dirs.conversation),
            profile_store_dir=str(dirs.home / "profiles"),
            callbacks=[self._on_event],
            visualizer=None,
            max_iteration_per_run=max_iterations,
            max_budget_per_run=max_budget_usd,
            stuck_detection=True,
        )

    @property
    def model(self) -> str:
        return self._llms[self._current].model

    async def run_round(self, message: str) -> None:
        """Send ``message`` and run the agent until it finishes; raise a ``TaskFailure`` for any other end."""
        self.last_tool_error = ""
        self.conversation.send_message(message)  # type: ignore[arg-type, misc]  # the SDK's decorator hides the signature
        while True:
            try:
                await self._arun()
            except ConversationRunError as err:
                cause = err.original_exception
                if isinstance(cause, LLMRateLimitError) and self._current + 1 < len(self._llms):
                    self._current += 1
                    self._emit("llm_fallback", f"rate limited; switching to {self.model}")
                    self.conversation.switch_llm(self._llms[self._current])
                    continue
                raise _failure(cause, self.model) from err
            break
        self._check_outcome()

    async def _arun(self) -> None:
        run: asyncio.Task[None] = asyncio.create_task(
            self.conversation.arun(),  # type: ignore[misc]  # the SDK's decorator hides the signature
            name="agent-run",
        )
        try:
            while not run.done():
                await asyncio.wait({run}, timeout=TOKEN_CHECK_S)
                if not run.done() and self._max_tokens is not None and self.tokens_used() > self._max_tokens:
                    self._token_cap_hit = True  # the cost cap is 0 for models litellm cannot price; tokens are not
                    self.conversation.interrupt()
                    await asyncio.wait({run}, timeout=INTERRUPT_GRACE_S)
                    return
            run.result()
        except asyncio.CancelledError:
            self.conversation.interrupt()
            await asyncio.wait({run}, timeout=INTERRUPT_GRACE_S)
            raise

    def tokens_used(self) -> int:
        tokens = self.conversation.conversation_stats.get_combined_metrics().accumulated_token_usage
        return (tokens.prompt_tokens + tokens.completion_tokens) if tokens else 0

    def _check_outcome(self) -> None:
        if self._token_cap_hit or (self._max_tokens is not None and self.tokens_used() > self._max_tokens):
            raise PermanentFailure(
                ErrorCode.BUDGET_EXCEEDED,
                f"the agent used {self.tokens_used()} tokens, over its cap of {self._max_tokens} "
                "(HANDOFF_AGENT_MAX_TOKENS)",
            )
        status = self.conversation.state.execution_status
        if status == ConversationExecutionStatus.FINISHED:
            return
        if status == ConversationExecutionStatus.STUCK:
            raise PermanentFailure(ErrorCode.AGENT_STUCK, "the agent repeated itself without progress (stuck)")
        error = self._last_error
        code = error.code if error else ""
        detail = error.detail if error else ""
        kind = error.classification.kind if error is not None and error.classification is not None else None
        if kind == FailureKind.QUOTA:  # the SDK's own classification: MaxBudgetReached, exhausted provider quota
            raise PermanentFailure(ErrorCode.BUDGET_EXCEEDED, detail or "the agent spent its cost budget")
        if code == "MaxIterationsReached":  # the SDK classifies it only as an agent outcome; its code tells which
            raise PermanentFailure(ErrorCode.MAX_ITERATIONS, detail or "the agent hit its iteration limit")
        raise PermanentFailure(ErrorCode.INTERNAL, f"the agent stopped with status {status.value}", detail=detail)

    def usage(self) -> LlmUsage:
        metrics = self.conversation.conversation_stats.get_combined_metrics()
        tokens = metrics.accumulated_token_usage
        return LlmUsage(
            model=self.model[:200],
            prompt_tokens=tokens.prompt_tokens if tokens else 0,
            completion_tokens=tokens.completion_tokens if tokens else 0,
            cost_usd=max(0.0, float(metrics.accumulated_cost)),
        )

    def close(self) -> None:
        self.conversation.close()

    # ---- SDK callbacks (any thread) ---------------------------------------------------------------------
    def _on_event(self, event: object) -> None:
        match event:
            case ActionEvent():
                if event.tool_name == "finish" and isinstance(getattr(event.action, "message", None), str):
                    self.last_message = _cut(event.action.message)  # type: ignore[union-attr]
                self._emit("agent_action", _describe_action(event))
            case ObservationEvent():
                if event.observation.is_error:
                    self.last_tool_error = _cut(f"{event.tool_name}: {event.observation.text}")
                exit_code = getattr(event.observation, "exit_code", None)
                suffix = f" (exit {exit_code})" if exit_code is not None else ""
                line = _telling_line(event.observation.text, last=exit_code is not None)
                self._emit("agent_observation", f"{event.tool_name}{suffix}: {line}")
            case AgentErrorEvent():
                self.last_tool_error = _cut(f"{event.tool_name}: {event.error}")
                self._emit("agent_error", f"{event.tool_name}: {event.error}")
            case ConversationErrorEvent():
                self._last_error = event
                self._emit("agent_error", f"{event.code}: {event.detail}")
            case MessageEvent(source="agent"):
                texts = [getattr(c, "text", "") for c in event.llm_message.content]
                self.last_message = _cut(" ".join(t for t in texts if t)) or self.last_message
                self._emit("agent_message", " ".join(t for t in texts if t))
            case _:
                return


def _cut(text: str) -> str:
    """Redacted, then cut to ``MAX_TOOL_ERROR_CHARS`` (half a secret would no longer be recognised)."""
    return process_redactor()(text)[:MAX_TOOL_ERROR_CHARS]


def _telling_line(text: str, *, last: bool) -> str:
    """The first (or, for terminal output, the last) non-empty line, without terminal escape sequences."""
    lines = [line.strip() for line in _ESCAPES.sub("", text).splitlines() if line.strip()]
    if not lines:
        return ""
    return lines[-1] if last else lines[0]


def _describe_action(event: ActionEvent) -> str:
    """The action as a progress line: its command, path or message; a command too long or too many lines to read on
    one line (the offline engine's packed script) is named by the summary the model gave it, if any."""
    action = event.action
    if action is None:
        return f"{event.tool_name} (arguments not understood)"
    for field in ("command", "path", "message", "thought"):
        value = getattr(action, field, None)
        if not isinstance(value, str) or not value:
            continue
        if field == "command" and isinstance(getattr(action, "path", None), str):
            return f"{event.tool_name} {value} {action.path}"  # type: ignore[attr-defined]
        summary = event.summary
        if field == "command" and summary and (len(value) > SHOWN_COMMAND_CHARS or "\n" in value.strip()):
            return f"{event.tool_name}: {summary}"
        return f"{event.tool_name}: {value}"
    return event.tool_name


def _failure(cause: BaseException, model: str) -> TaskFailure:
    text = _cut(f"{type(cause).__name__}: {cause}")
    if isinstance(cause, LLMRateLimitError):
        return TransientFailure(ErrorCode.LLM_RATE_LIMITED, f"{model} is rate limited (all models tried)", detail=text)
    if isinstance(cause, UNAVAILABLE):
        return TransientFailure(ErrorCode.LLM_UNAVAILABLE, f"{model} is unreachable or failing", detail=text)
    if isinstance(cause, LLMAuthenticationError):
        return PermanentFailure(ErrorCode.LLM_UNAVAILABLE, f"{model} rejected the API key", detail=text)
    # errors the SDK did not map onto its own types: its classifier reads the provider's code and message
    kind = classify_error(type(cause).__name__, str(cause)).kind
    if kind == FailureKind.RATE_LIMIT:
        return TransientFailure(ErrorCode.LLM_RATE_LIMITED, f"{model} is rate limited (all models tried)", detail=text)
    if kind == FailureKind.TRANSIENT:
        return TransientFailure(ErrorCode.LLM_UNAVAILABLE, f"{model} is unreachable or failing", detail=text)
    if kind == FailureKind.AUTH:
        return PermanentFailure(ErrorCode.LLM_UNAVAILABLE, f"{model} rejected the API key", detail=text)
    if kind == FailureKind.QUOTA:
        return PermanentFailure(ErrorCode.BUDGET_EXCEEDED, f"{model}: the provider's quota is exhausted", detail=text)
    if isinstance(cause, LLMError):
        return PermanentFailure(ErrorCode.INTERNAL, f"{model} rejected the request", detail=text)
    return PermanentFailure(ErrorCode.INTERNAL, "the agent run failed", detail=text)
