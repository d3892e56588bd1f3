"""Runner test fixtures: the sample project, a scripted model server shared per module, task contexts."""

from __future__ import annotations

import functools
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
from nats.js import JetStreamContext
from pydantic import SecretStr

from handoff.assurance.settings import AssuranceSettings
from handoff.environments import EnvSettings
from handoff.runners.base import TaskContext
from handoff.runners.openhands.prompt import parse_targets
from handoff.runners.openhands.settings import LlmSettings, RunnerSettings
from handoff.sandbox import Sandbox, SandboxSettings, probe
from handoff.schemas.events import GenerateTests, SourceSnapshot, TaskSubmitted, TestGenerationResult
from handoff.scripted_model import ScriptedModelServer
from handoff.scripted_model.replies import ChatRequest, Reply, Say

collect_ignore = ["sample_project", "env_project"]

SAMPLE = Path(__file__).parent / "sample_project"
ENV_PROJECT = Path(__file__).parent / "env_project"  # imports toolz; filterwarnings = ["error"]
API_KEY = "sk-handoff-test-0123456789abcdef"
# Project environments are keyed by content, so every test run (and session) can share one warm cache.
ENV_CACHE = Path(tempfile.gettempdir()) / "handoff-test-environments"
TARGET = "shapes/geometry.py"
TEST_FILE = "tests/test_geometry.py"
PASSING_TEST = """import pytest

from shapes.geometry import area, describe


def test_area_multiplies_sides():
    assert area(2, 3) == 6


def test_area_refuses_negative_sides():
    with pytest.raises(ValueError):
        area(-1, 2)


def test_describe_tells_squares_from_rectangles():
    assert describe(2, 2) == "square"
    assert describe(2, 3) == "rectangle"
"""
FAILING_TEST = PASSING_TEST.replace("== 6", "== 7")
ONLY_FAILING_TEST = (
    "from shapes.geometry import area\n\n\ndef test_area_multiplies_sides():\n    assert area(2, 3) == 7\n"
)


def verdict_of(result: TestGenerationResult, name: str) -> str:
    """'kept', or the verdict the filters dropped the test function ``name`` with ('' when never judged)."""
    if any(test.rsplit("::", 1)[1] == name for test in result.tests_kept):
        return "kept"
    return next((d.verdict.value for d in result.tests_dropped if d.test.rsplit("::", 1)[1] == name), "")


@functools.cache
def task_sandbox() -> Sandbox:
    """The runner's sandbox (bubblewrap, checked once), with this interpreter's environment readable."""
    return probe(SandboxSettings(), ro_paths=[Path(sys.prefix)])


@dataclass
class ProgressLog:
    events: list[tuple[str, str]] = field(default_factory=list)

    async def __call__(self, stage: str, message: str) -> None:
        self.events.append((stage, message))

    def stages(self) -> list[str]:
        return [stage for stage, _ in self.events]

    def text(self) -> str:
        return "\n".join(f"{stage}: {message}" for stage, message in self.events)


@pytest.fixture
def sample_project(tmp_path: Path) -> Path:
    dest = tmp_path / "sample"
    shutil.copytree(SAMPLE, dest)
    return dest


@pytest.fixture(scope="module")
def model_server() -> Iterator[ScriptedModelServer]:
    """One scripted model server per module; each test sets ``model_server.policy``."""
    server = ScriptedModelServer(policy=lambda request: Say("no policy set"), api_key=API_KEY)
    server.start()
    yield server
    server.stop()


def llm_settings(base_url: str, **overrides: object) -> LlmSettings:
    values: dict[str, object] = {
        "model": "openai/scripted-test",
        "base_url": base_url,
        "api_key": SecretStr(API_KEY),
        "api_mode": "chat",
        "retries": 0,
        "retry_min_wait_s": 0.0,
        "retry_max_wait_s": 0.0,
        "timeout_s": 30.0,
        "input_cost_per_token": 0.0,
        "output_cost_per_token": 0.0,
    }
    values.update(overrides)
    return LlmSettings(**values)  # type: ignore[arg-type]


def runner_settings(tmp_path: Path, llm: LlmSettings, **overrides: object) -> RunnerSettings:
    values: dict[str, object] = {
        "llm": llm,
        "work_dir": tmp_path / "work",
        "feedback_rounds": 1,
        "max_iterations": 20,
        "environments": EnvSettings(cache_dir=ENV_CACHE),
        # one re-run and no mutation testing unless a test asks for more: bounded test time
        "assurance": AssuranceSettings(reliability_runs=1, mutation_budget_s=0, command_timeout_s=60.0),
    }
    values.update(overrides)
    return RunnerSettings(**values)  # type: ignore[arg-type]


def workspace_of(request: ChatRequest) -> Path:
    """The task workspace named in the runner's prompt (the first user message)."""
    workspace, _ = parse_targets(request.first_user_text)
    assert workspace is not None, "no workspace in the prompt"
    return workspace


def in_workspace(relative: str, step: Callable[[str], Reply]) -> Callable[[ChatRequest], Reply]:
    """A script step that needs the absolute path of ``relative`` inside the task workspace."""
    return lambda request: step(str(workspace_of(request) / relative))


def make_ctx(js: JetStreamContext, source: SourceSnapshot, progress: ProgressLog, **payload: object) -> TaskContext:
    targets = payload.pop("targets", [TARGET])
    task = TaskSubmitted(
        task_id=str(payload.pop("task_id", "task-1")),
        payload=GenerateTests(source=source, targets=targets, **payload),  # type: ignore[arg-type]
        submitted_at=datetime.now(UTC),
    )
    return TaskContext(task=task, attempt=1, replica_id="test-replica", js=js, report=progress)
