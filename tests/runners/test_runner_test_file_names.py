"""The test file a target is given never shares its name with a project's test module pytest also collects:
under pytest's default import mode two ``test_x.py`` in folders without ``__init__.py`` stop the collection."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest
from nats.js import JetStreamContext

from handoff.artifacts.snapshots import materialize_snapshot, upload_snapshot
from handoff.artifacts.store import get_artifact
from handoff.runners.base import PermanentFailure
from handoff.runners.openhands import OpenHandsTestRunner
from handoff.runners.openhands.prompt import parse_targets
from handoff.schemas.events import ErrorCode
from handoff.schemas.topology import Topology
from handoff.scripted_model import ScriptedModelServer
from handoff.scripted_model.replies import ChatRequest, Reply
from handoff.scripted_model.scripts import Script, create_file, finish, replace_in_file, run
from tests.runners.conftest import ProgressLog, in_workspace, llm_settings, make_ctx, runner_settings

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]  # real pytest and coverage runs, sandboxed

MODULE = """def encode(number):
    if number < 0:
        raise ValueError("negative")
    if number == 0:
        return "a"
    return "b" * number
"""
# hashids 1.3.1: hashids.py, its tests in test/test_hashids.py, no test/__init__.py
OWN_TESTS = """from codec import encode


def test_zero_is_a():
    assert encode(0) == "a"
"""
OWN_LAST_LINE = '    assert encode(0) == "a"\n'
GENERATED = """

def test_a_positive_number_repeats_b():
    assert encode(3) == "bbb"


def test_a_negative_number_is_refused():
    import pytest

    with pytest.raises(ValueError):
        encode(-1)
"""


def write_assigned_file(request: ChatRequest) -> Reply:
    """The model writes its tests into the file the prompt assigns: extending it when the project has it."""
    workspace, (assignment,) = parse_targets(request.first_user_text)
    assert workspace is not None
    path = workspace / assignment.test_file
    if path.is_file():
        return replace_in_file(str(path), OWN_LAST_LINE, OWN_LAST_LINE + GENERATED)
    return create_file(str(path), "from codec import encode\n" + GENERATED)


async def test_a_target_whose_test_name_the_project_uses_elsewhere_extends_that_file_and_the_applied_suite_collects(
    js: JetStreamContext, topology: Topology, tmp_path: Path, model_server: ScriptedModelServer
) -> None:
    """codec.py with its tests in test/test_codec.py: the generated tests go into that file (not a second
    tests/test_codec.py), and after applying the patch the project's own `python -m pytest` runs all three."""
    project = tmp_path / "codec"
    (project / "test").mkdir(parents=True)
    (project / "codec.py").write_text(MODULE)
    (project / "test" / "test_codec.py").write_text(OWN_TESTS)
    model_server.policy = Script([write_assigned_file, finish("tests written")])
    source = await upload_snapshot(js, project)
    result = await OpenHandsTestRunner(runner_settings(tmp_path, llm_settings(model_server.base_url))).run(
        make_ctx(js, source, ProgressLog(), targets=["codec.py"])
    )

    assert sorted(result.tests_kept) == [
        "test/test_codec.py::test_a_negative_number_is_refused",
        "test/test_codec.py::test_a_positive_number_repeats_b",
    ]
    assert result.patch is not None
    applied = tmp_path / "applied"
    await materialize_snapshot(js, source, applied)
    patch = tmp_path / "result.patch"
    patch.write_bytes(await get_artifact(js, result.patch))
    await asyncio.to_thread(subprocess.run, ["git", "apply", str(patch)], cwd=applied, check=True, capture_output=True)
    run = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly"],
        cwd=applied, capture_output=True, text=True,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert "3 passed" in run.stdout


async def test_kept_tests_that_stop_the_projects_own_collection_fail_validation_with_pytests_reason(
    js: JetStreamContext, topology: Topology, tmp_path: Path, model_server: ScriptedModelServer
) -> None:
    """A model that writes tests/test_codec_cases.py beside the project's test/test_codec_cases.py (no
    __init__.py): each file passes alone, but the project's `pytest` stops at "import file mismatch"; the round
    fails validation saying so instead of handing over a patch that breaks the project's run."""
    project = tmp_path / "codec"
    (project / "test").mkdir(parents=True)
    (project / "codec.py").write_text(MODULE)
    (project / "test" / "test_codec_cases.py").write_text(OWN_TESTS)
    model_server.policy = Script([
        run("mkdir -p tests"),  # a folder of its own: the task's test files go into the project's test/
        in_workspace("tests/test_codec_cases.py", lambda p: create_file(p, "from codec import encode\n" + GENERATED)),
        finish("tests written"),
    ])  # fmt: skip
    source = await upload_snapshot(js, project)
    settings = runner_settings(tmp_path, llm_settings(model_server.base_url), feedback_rounds=0)
    with pytest.raises(PermanentFailure) as failed:
        await OpenHandsTestRunner(settings).run(make_ctx(js, source, ProgressLog(), targets=["codec.py"]))

    assert failed.value.code == ErrorCode.VALIDATION_FAILED
    assert "with the kept tests the project's own pytest run no longer collects (exit code 2" in str(failed.value)
    assert "import file mismatch" in str(failed.value)
