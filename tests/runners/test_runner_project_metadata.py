"""A project whose package reads its own version from its installed metadata (``importlib.metadata.version``): the
project is never installed, so the runner writes its distribution metadata into every extraction; the package
imports, the baseline runs, and the metadata is never handed over."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from nats.js import JetStreamContext

from handoff.artifacts.snapshots import upload_snapshot
from handoff.artifacts.store import get_artifact
from handoff.runners.openhands import OpenHandsTestRunner
from handoff.schemas.topology import Topology
from handoff.scripted_model import ScriptedModelServer
from handoff.scripted_model.replies import ChatRequest, Reply
from handoff.scripted_model.scripts import Script, create_file, finish, run
from tests.runners.conftest import ProgressLog, llm_settings, make_ctx, runner_settings, workspace_of
from tests.runners.test_runner_build_outputs import checkout

TARGET = "src/mypkg/hours.py"
GEN = "tests/test_generated.py"
PYPROJECT = """[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[project]
name = "mypkg"
dynamic = ["version"]

[project.scripts]
mypkg = "mypkg.hours:main"
"""
FILES = {
    "src/mypkg/__init__.py": 'from importlib.metadata import version\n\n__version__ = version("mypkg")\n',
    TARGET: 'def period(hour):\n    if hour < 12:\n        return "am"\n    return "pm"\n',
    "tests/test_hours.py": "from mypkg.hours import period\n\n\ndef test_morning():\n    assert period(9) == 'am'\n",
}
GENERATED = "from mypkg.hours import period\n\n\ndef test_afternoon():\n    assert period(15) == 'pm'\n"

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]  # real pytest and coverage runs, sandboxed


async def test_a_package_reading_its_installed_version_imports_and_its_metadata_is_never_handed_over(
    js: JetStreamContext, topology: Topology, tmp_path: Path, model_server: ScriptedModelServer
) -> None:
    """The agent's shell imports the package (version 0.0.0+unknown); the project's test counts in the baseline; the
    generated test is kept; the patch and the stored files hold the test alone; the summary says what was made
    visible."""
    project = checkout(tmp_path / "mypkg", PYPROJECT, FILES)
    seen: list[str] = []

    def write_tests(request: ChatRequest) -> Reply:
        seen.append(json.dumps(request.messages))  # holds the output of the command before
        return create_file(str(workspace_of(request) / GEN), GENERATED)

    model_server.policy = Script([run("python -c 'import mypkg; print(\"version=\" + mypkg.__version__)'"),
                                  write_tests, finish("tests written")])  # fmt: skip
    source = await upload_snapshot(js, project)
    progress = ProgressLog()
    result = await OpenHandsTestRunner(runner_settings(tmp_path, llm_settings(model_server.base_url))).run(
        make_ctx(js, source, progress, targets=[TARGET])
    )

    assert "version=0.0.0+unknown" in seen[0]
    assert result.baseline_problem == ""
    (q,) = result.quality
    assert q.baseline_line_pct == 75.0  # the project's test_morning ran
    assert q.final_line_pct == 100.0
    assert result.tests_kept == [f"{GEN}::test_afternoon"]
    visible = ("made the project's metadata visible: mypkg 0.0.0+unknown "
               "(no static version declared; a dynamic one is not read without a build)")  # fmt: skip
    assert visible in progress.text()
    assert "metadata" not in result.summary  # said in the progress only: most projects get it
    assert result.patch is not None
    patch = (await get_artifact(js, result.patch)).decode()
    assert "diff --git a/tests/test_generated.py b/tests/test_generated.py" in patch
    assert "dist-info" not in patch
    assert [f.name.rsplit("/", 1)[-1] for f in result.files] == ["test_generated.py"]
    assert result.refused == []
