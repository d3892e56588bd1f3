"""The real agent, driven by the scripted model over HTTP, writes tests that the runner validates and stores."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import pytest
from nats.js import JetStreamContext

from handoff.artifacts.snapshots import materialize_snapshot, upload_snapshot
from handoff.artifacts.store import get_artifact
from handoff.runners.openhands import OpenHandsTestRunner
from handoff.schemas.topology import Topology
from handoff.scripted_model import ScriptedModelServer
from handoff.scripted_model.scripts import Script, create_file, finish, run, view
from tests.runners.conftest import (
    PASSING_TEST,
    TARGET,
    TEST_FILE,
    ProgressLog,
    in_workspace,
    llm_settings,
    make_ctx,
    runner_settings,
)


def _git_apply(tree: Path, patch: Path) -> None:
    subprocess.run(["git", "apply", "--check", str(patch)], cwd=tree, check=True, capture_output=True)
    subprocess.run(["git", "apply", str(patch)], cwd=tree, check=True, capture_output=True)


def writes_passing_test() -> Script:
    return Script(
        [
            in_workspace(TARGET, view),
            in_workspace(TEST_FILE, lambda path: create_file(path, PASSING_TEST)),
            run(f"python -m pytest -q {TEST_FILE}"),
            finish("tests written"),
        ]
    )


async def test_a_submitted_module_comes_back_as_a_validated_patch_that_applies(
    js: JetStreamContext, topology: Topology, sample_project: Path, tmp_path: Path, model_server: ScriptedModelServer
) -> None:
    """Snapshot -> agent writes a test over HTTP -> runner runs it with coverage -> patch applies to the snapshot."""
    model_server.policy = writes_passing_test()
    source = await upload_snapshot(js, sample_project)
    progress = ProgressLog()
    llm = llm_settings(model_server.base_url, input_cost_per_token=1e-6, output_cost_per_token=2e-6)
    runner = OpenHandsTestRunner(runner_settings(tmp_path, llm))
    result = await runner.run(make_ctx(js, source, progress, coverage_goal_pct=80.0))

    assert result.files_produced
    assert result.test_files == [TEST_FILE]
    assert (result.tests_collected, result.tests_passed, result.tests_failed) == (3, 3, 0)
    assert [(c.target, c.percent) for c in result.coverage] == [(TARGET, 100.0)]
    assert result.goal_met and result.rounds_used == 1
    usage = result.usage
    assert usage.prompt_tokens > 0 and usage.completion_tokens > 0 and usage.model == "openai/scripted-test"
    assert usage.cost_usd == pytest.approx(usage.prompt_tokens * 1e-6 + usage.completion_tokens * 2e-6)
    assert result.patch is not None and [f.name for f in result.files] == [f"task-1/1/files/{TEST_FILE}"]
    assert await get_artifact(js, result.files[0]) == PASSING_TEST.encode()

    original = tmp_path / "original"
    await materialize_snapshot(js, source, original)
    patch = tmp_path / "result.patch"
    patch.write_bytes(await get_artifact(js, result.patch))
    await asyncio.to_thread(_git_apply, original, patch)
    assert (original / TEST_FILE).read_text() == PASSING_TEST

    stages = progress.stages()
    for stage in ("workspace", "round", "agent_action", "agent_observation", "validation", "result"):
        assert stage in stages, f"no {stage} progress in {stages}"
    assert not list((tmp_path / "work").iterdir()), "the task workspace was not cleaned up"


async def test_concurrent_tasks_in_one_process_keep_to_their_own_workspaces(
    js: JetStreamContext, topology: Topology, sample_project: Path, tmp_path: Path, model_server: ScriptedModelServer
) -> None:
    """Three tasks at once share the process and the model server; each patch holds only its own test."""
    bodies = {f"t{n}": PASSING_TEST.replace("def test_area_multiplies_sides", f"def test_area_{n}") for n in range(3)}

    def body_for(request) -> str:  # type: ignore[no-untyped-def]
        return next(text for marker, text in bodies.items() if f"/{marker}-1-" in request.first_user_text)

    model_server.policy = Script(
        [lambda r: in_workspace(TEST_FILE, lambda p: create_file(p, body_for(r)))(r), finish("tests written")]
    )
    source = await upload_snapshot(js, sample_project)
    runner = OpenHandsTestRunner(runner_settings(tmp_path, llm_settings(model_server.base_url)))
    results = await asyncio.gather(
        *(runner.run(make_ctx(js, source, ProgressLog(), task_id=marker)) for marker in bodies)
    )
    for marker, result in zip(bodies, results, strict=True):
        assert result.tests_passed == 3
        assert (await get_artifact(js, result.files[0])).decode() == bodies[marker]
        assert result.files[0].name == f"{marker}/1/files/{TEST_FILE}"
