"""How the OpenHands runner reaches its LLM and bounds each task, read from ``HANDOFF_*`` environment variables.

The API key is a ``pydantic.SecretStr``: its repr and str are masked, and nothing in Handoff prints
``get_secret_value()``. The SDK's slow defaults (5 retries waiting 8-64 s, 300 s per attempt, high reasoning
effort) are replaced by settings with short defaults.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path

import msgspec
from pydantic import SecretStr

from handoff.assurance.settings import AssuranceSettings
from handoff.common.env import SettingsError, env_bool, env_float, env_int, env_list, env_str
from handoff.environments.settings import EnvSettings
from handoff.offline_engine.settings import OfflineEngineSettings
from handoff.sandbox import SandboxSettings

SCRIPTED_MODEL_NAME = "openai/handoff-scripted"


class LlmSettings(msgspec.Struct, kw_only=True, frozen=True):
    model: str | None = None
    base_url: str | None = None
    api_key: SecretStr | None = None
    fallback_models: tuple[str, ...] = ()
    timeout_s: float = 120.0
    retries: int = 2
    retry_min_wait_s: float = 2.0
    retry_max_wait_s: float = 10.0
    reasoning_effort: str | None = None
    api_mode: str = "auto"
    stream: bool = False
    input_cost_per_token: float | None = None
    output_cost_per_token: float | None = None

    def __repr__(self) -> str:
        key = "set" if self.api_key is not None else "unset"
        return (
            f"LlmSettings(model={self.model!r}, base_url={self.base_url!r}, api_key={key}, "
            f"fallback_models={self.fallback_models!r}, timeout_s={self.timeout_s}, retries={self.retries})"
        )

    __str__ = __repr__

    @property
    def models(self) -> tuple[str, ...]:
        """The primary model, then the fallbacks tried in order on rate limits."""
        return ((self.model,) if self.model else ()) + self.fallback_models

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> LlmSettings:
        d = cls()
        effort = env_str("HANDOFF_LLM_REASONING_EFFORT", None, env)
        api_mode = env_str("HANDOFF_LLM_API_MODE", d.api_mode, env) or d.api_mode
        if api_mode not in ("auto", "chat", "responses"):
            raise SettingsError(f"HANDOFF_LLM_API_MODE must be auto, chat or responses, got {api_mode!r}")
        return cls(
            model=env_str("HANDOFF_LLM_MODEL", None, env),
            base_url=env_str("HANDOFF_LLM_BASE_URL", None, env),
            api_key=_api_key(env),
            fallback_models=env_list("HANDOFF_LLM_FALLBACK_MODELS", (), env),
            timeout_s=env_float("HANDOFF_LLM_TIMEOUT_S", d.timeout_s, env, minimum=1.0),
            retries=env_int("HANDOFF_LLM_RETRIES", d.retries, env, minimum=0),
            retry_min_wait_s=env_float("HANDOFF_LLM_RETRY_MIN_WAIT_S", d.retry_min_wait_s, env, minimum=0.0),
            retry_max_wait_s=env_float("HANDOFF_LLM_RETRY_MAX_WAIT_S", d.retry_max_wait_s, env, minimum=0.0),
            reasoning_effort=None if effort in (None, "none") else effort,
            api_mode=api_mode,
            stream=env_bool("HANDOFF_LLM_STREAM", d.stream, env),
            input_cost_per_token=_optional_float("HANDOFF_LLM_INPUT_COST_PER_TOKEN", env),
            output_cost_per_token=_optional_float("HANDOFF_LLM_OUTPUT_COST_PER_TOKEN", env),
        )


class RunnerSettings(msgspec.Struct, kw_only=True, frozen=True):
    llm: LlmSettings = LlmSettings()
    scripted_model: bool = False  # a scripted server stands in for the LLM (the scripted model or the offline engine)
    scripted_answers_dir: Path | None = None
    offline_engine: OfflineEngineSettings | None = None  # set when no LLM is configured
    max_iterations: int = 60
    max_budget_usd: float | None = 2.0
    max_tokens: int | None = None  # prompt + completion tokens per task over all rounds; None: no cap
    condense_after_events: int | None = 120  # the SDK's summarizing condenser keeps the history below this; None: off
    feedback_rounds: int = 2
    work_dir: Path | None = None
    keep_workspaces: bool = False
    agent_env_allow: tuple[str, ...] = ()
    max_output_chars: int = 20_000
    sandbox: SandboxSettings = SandboxSettings()
    environments: EnvSettings = EnvSettings()
    assurance: AssuranceSettings = AssuranceSettings()
    allow_source_changes: bool = False
    """Hand over changes to non-test files too (``HANDOFF_ALLOW_SOURCE_CHANGES``); by default they are dropped."""

    @property
    def label(self) -> str:
        """The prefix of every progress line and summary when no LLM writes the tests ("" with a real model)."""
        if self.offline_engine is not None:
            return f"[{self.offline_engine.label}] "
        return "[scripted model] " if self.scripted_model else ""

    @property
    def writer(self) -> str:
        """One line for start-up: what writes the tests on this replica."""
        if self.offline_engine is not None:
            return (f"no LLM configured: using the {self.offline_engine.label}; "
                    "set HANDOFF_LLM_MODEL for an agent with a model")  # fmt: skip
        if self.scripted_model:
            return "HANDOFF_SCRIPTED_MODEL=true: the scripted model (a script, not an LLM) writes the tests"
        return f"tests are written by an agent with {', '.join(self.llm.models)}"

    @property
    def pytest_timeout_s(self) -> float:
        """A validation run's bound: the assurance checks' ``HANDOFF_PYTEST_TIMEOUT_S``, read there only."""
        return self.assurance.command_timeout_s

    @property
    def workspace_root(self) -> Path:
        return self.work_dir if self.work_dir is not None else Path(tempfile.gettempdir()) / "handoff-tasks"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> RunnerSettings:
        d = cls()
        llm = LlmSettings.from_env(env)
        scripted = env_bool("HANDOFF_SCRIPTED_MODEL", False, env)
        offline = OfflineEngineSettings.from_env(env)  # validated even when unused: a typo is a start-up error
        if llm.model is not None and scripted:
            raise SettingsError("HANDOFF_SCRIPTED_MODEL=true and HANDOFF_LLM_MODEL are both set; choose one")
        work_dir = env_str("HANDOFF_WORK_DIR", None, env)
        answers = env_str("HANDOFF_SCRIPTED_ANSWERS_DIR", None, env)
        budget = env_float("HANDOFF_AGENT_MAX_BUDGET_USD", d.max_budget_usd or 0.0, env, minimum=0.0)
        return cls(
            llm=llm,
            scripted_model=scripted or llm.model is None,
            offline_engine=offline if llm.model is None and not scripted else None,
            scripted_answers_dir=Path(answers) if answers else None,
            max_iterations=env_int("HANDOFF_AGENT_MAX_ITERATIONS", d.max_iterations, env, minimum=1),
            max_budget_usd=budget if budget > 0 else None,
            max_tokens=env_int("HANDOFF_AGENT_MAX_TOKENS", 0, env, minimum=0) or None,
            condense_after_events=env_int("HANDOFF_AGENT_CONDENSE_AFTER_EVENTS", 120, env, minimum=0) or None,
            feedback_rounds=env_int("HANDOFF_FEEDBACK_ROUNDS", d.feedback_rounds, env, minimum=0),
            work_dir=Path(work_dir) if work_dir else None,
            keep_workspaces=env_bool("HANDOFF_KEEP_WORKSPACES", False, env),
            agent_env_allow=env_list("HANDOFF_AGENT_ENV_ALLOW", (), env),
            sandbox=SandboxSettings.from_env(env),
            environments=EnvSettings.from_env(env),
            assurance=AssuranceSettings.from_env(env),
            allow_source_changes=env_bool("HANDOFF_ALLOW_SOURCE_CHANGES", False, env),
        )


def _api_key(env: Mapping[str, str] | None) -> SecretStr | None:
    key = env_str("HANDOFF_LLM_API_KEY", None, env)
    key_file = env_str("HANDOFF_LLM_API_KEY_FILE", None, env)
    if key and key_file:
        raise SettingsError("set HANDOFF_LLM_API_KEY or HANDOFF_LLM_API_KEY_FILE, not both")
    if key_file:
        try:
            key = Path(key_file).read_text().strip()
        except OSError as err:
            raise SettingsError(f"HANDOFF_LLM_API_KEY_FILE cannot be read: {err.strerror}") from None
        if not key:
            raise SettingsError("HANDOFF_LLM_API_KEY_FILE is empty")
    return SecretStr(key) if key else None


def _optional_float(name: str, env: Mapping[str, str] | None) -> float | None:
    if env_str(name, None, env) is None:
        return None
    return env_float(name, 0.0, env, minimum=0.0)
