"""With a model configured, CrossHair is installed in the project's environment and offered to the agent."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from nats.js import JetStreamContext

from handoff.artifacts.snapshots import upload_snapshot
from handoff.artifacts.store import get_artifact
from handoff.runners.openhands import OpenHandsTestRunner
from handoff.schemas.topology import Topology
from handoff.scripted_model import ChatRequest, ScriptedModelServer
from handoff.scripted_model.scripts import Script, finish, run
from tests.runners.conftest import TEST_FILE, ProgressLog, llm_settings, make_ctx, runner_settings

pytestmark = pytest.mark.slow


async def test_the_agent_is_told_about_crosshair_and_can_seed_its_tests_with_it(
    js: JetStreamContext, topology: Topology, sample_project: Path, tmp_path: Path, model_server: ScriptedModelServer
) -> None:
    """The prompt names the tool; the 'model' runs it in its sandboxed terminal; its tests are validated and kept."""
    prompts: list[str] = []

    def remember(request: ChatRequest) -> None:
        prompts.append(request.first_user_text)

    script = Script(
        [
            run(
                f"mkdir -p tests && python -m crosshair cover --example_output_format=pytest "
                f"--per_condition_timeout=2 shapes.geometry > {TEST_FILE}",
                timeout_s=180,
            ),
            run(f"python -m pytest -q {TEST_FILE}"),
            finish("seeded with CrossHair"),
        ]
    )

    def policy(request: ChatRequest):  # type: ignore[no-untyped-def]
        remember(request)
        return script(request)

    model_server.policy = policy
    source = await upload_snapshot(js, sample_project)
    runner = OpenHandsTestRunner(runner_settings(tmp_path, llm_settings(model_server.base_url), feedback_rounds=0))
    result = await runner.run(make_ctx(js, source, ProgressLog(), coverage_goal_pct=10.0))

    assert "python -m crosshair cover --example_output_format=pytest" in prompts[0]
    assert result.files_produced and result.test_files == [TEST_FILE] and result.tests_failed == 0
    assert result.patch is not None
    patch = (await get_artifact(js, result.patch)).decode()
    added = "\n".join(line[1:] for line in patch.splitlines() if line.startswith("+") and not line.startswith("+++"))
    tree = ast.parse(added)
    assert any(isinstance(node, ast.Assert) for node in ast.walk(tree)), "CrossHair's tests assert results"
