"""The tests of a target go where the project keeps its tests: toolz 1.0.0 keeps them inside its package
(``toolz/tests/``, no ``__init__.py``, no top-level ``tests/``); a ``tests/`` is made only for a project with no test
folder at all, and the progress names the folder used."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest
from nats.js import JetStreamContext

from handoff.artifacts.snapshots import materialize_snapshot, upload_snapshot
from handoff.artifacts.store import get_artifact
from handoff.runners.openhands import OpenHandsTestRunner
from handoff.runners.openhands.prompt import parse_targets
from handoff.schemas.topology import Topology
from handoff.scripted_model import ScriptedModelServer
from handoff.scripted_model.replies import ChatRequest, Reply
from handoff.scripted_model.scripts import Script, create_file, finish
from tests.runners.conftest import ProgressLog, llm_settings, make_ctx, runner_settings

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]  # real pytest and coverage runs, sandboxed

CORE = """def merge(*dicts):
    if not dicts:
        return {}
    out = {}
    for d in dicts:
        out.update(d)
    return out
"""
UTILS = """def raises(err, fn):
    try:
        fn()
    except err:
        return True
    return False
"""
OWN_TESTS = """from pkg.utils import raises


def test_raises_sees_the_error():
    assert raises(ZeroDivisionError, lambda: 1 / 0)
"""
GENERATED = """from pkg.sub.core import merge


def test_merge_keeps_the_last_value():
    assert merge({"a": 1}, {"a": 2}) == {"a": 2}


def test_merge_of_nothing_is_empty():
    assert merge() == {}
"""
# upstream toolz has toolz/sandbox/tests/test_core.py, which its sdist leaves out
UPSTREAM_SUB_TESTS = """from pkg.sub.core import merge


def test_merge_one():
    assert merge({"b": 1}) == {"b": 1}
"""


def toolz_like(root: Path) -> Path:
    """pkg/ with its tests in pkg/tests/ (no __init__.py there), the target pkg/sub/core.py, no top-level tests/."""
    for path, text in {
        "pkg/__init__.py": "",
        "pkg/utils.py": UTILS,
        "pkg/sub/__init__.py": "",
        "pkg/sub/core.py": CORE,
        "pkg/tests/test_utils.py": OWN_TESTS,
    }.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    return root


def write_assigned_file(request: ChatRequest) -> Reply:
    """The model writes its tests into the file the prompt assigns."""
    workspace, (assignment,) = parse_targets(request.first_user_text)
    assert workspace is not None
    return create_file(str(workspace / assignment.test_file), GENERATED)


async def test_a_target_in_a_package_that_keeps_its_tests_inside_gets_its_file_there_and_upstreams_tests_still_collect(
    js: JetStreamContext, topology: Topology, tmp_path: Path, model_server: ScriptedModelServer
) -> None:
    """pkg/sub/core.py of a project whose tests are in pkg/tests/: the file is pkg/tests/test_sub_core.py, no
    top-level tests/ is created, the progress names pkg/tests/, and the patch applied to a checkout that also has
    upstream's pkg/sub/tests/test_core.py leaves the project's plain `pytest` collecting every test."""
    project = toolz_like(tmp_path / "project")
    model_server.policy = Script([write_assigned_file, finish("tests written")])
    source = await upload_snapshot(js, project)
    progress = ProgressLog()
    result = await OpenHandsTestRunner(runner_settings(tmp_path, llm_settings(model_server.base_url))).run(
        make_ctx(js, source, progress, targets=["pkg/sub/core.py"])
    )

    assert sorted(result.tests_kept) == [
        "pkg/tests/test_sub_core.py::test_merge_keeps_the_last_value",
        "pkg/tests/test_sub_core.py::test_merge_of_nothing_is_empty",
    ]
    assert "test files: pkg/tests/test_sub_core.py (new, in the project's test folder pkg/tests/)" in progress.text()
    assert "created the test directory" not in progress.text()
    assert result.patch is not None
    patch = await get_artifact(js, result.patch)
    assert b"+++ b/pkg/tests/test_sub_core.py" in patch and b"b/tests/" not in patch
    upstream = tmp_path / "upstream"
    await materialize_snapshot(js, source, upstream)
    (upstream / "pkg" / "sub" / "tests").mkdir()
    (upstream / "pkg" / "sub" / "tests" / "test_core.py").write_text(UPSTREAM_SUB_TESTS)
    (tmp_path / "result.patch").write_bytes(patch)
    await asyncio.to_thread(subprocess.run, ["git", "apply", str(tmp_path / "result.patch")], cwd=upstream,
                            check=True, capture_output=True)  # fmt: skip
    run = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly"],
        cwd=upstream, capture_output=True, text=True,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert "4 passed" in run.stdout


async def test_a_project_with_no_test_folder_gets_tests_created_and_the_progress_says_why(
    js: JetStreamContext, topology: Topology, tmp_path: Path, model_server: ScriptedModelServer
) -> None:
    """The same package without any test folder: tests/ is made, the file is tests/test_core.py, and the progress
    says the project has no test folder."""
    project = toolz_like(tmp_path / "project")
    (project / "pkg" / "tests" / "test_utils.py").unlink()
    (project / "pkg" / "tests").rmdir()
    model_server.policy = Script([write_assigned_file, finish("tests written")])
    source = await upload_snapshot(js, project)
    progress = ProgressLog()
    result = await OpenHandsTestRunner(runner_settings(tmp_path, llm_settings(model_server.base_url))).run(
        make_ctx(js, source, progress, targets=["pkg/sub/core.py"])
    )

    assert {name.split("::")[0] for name in result.tests_kept} == {"tests/test_core.py"}
    assert (
        "created the test directory tests/ (the project has no test folder); test files: tests/test_core.py (new)"
        in progress.text()
    )
