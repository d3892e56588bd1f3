"""A project whose package imports the version module its build writes and git ignores (isodate 0.7.2's
setuptools_scm ``write_to = "src/isodate/version.py"``): the snapshot holds what git tracks, so the runner writes
that module into every extraction; the package imports, the baseline runs, and the module is never handed over."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from nats.js import JetStreamContext

from handoff.artifacts.snapshots import upload_snapshot
from handoff.artifacts.store import get_artifact
from handoff.runners.base import PermanentFailure
from handoff.runners.openhands import OpenHandsTestRunner
from handoff.schemas.events import ErrorCode
from handoff.schemas.topology import Topology
from handoff.scripted_model import ScriptedModelServer
from handoff.scripted_model.replies import ChatRequest, Reply
from handoff.scripted_model.scripts import Script, create_file, finish, run
from tests.runners.conftest import ProgressLog, llm_settings, make_ctx, runner_settings, workspace_of

TARGET = "src/clock/hours.py"
VERSION_FILE = "src/clock/version.py"
GEN = "tests/test_generated.py"
PYPROJECT = """[build-system]
requires = ["setuptools>=64", "setuptools_scm>=8"]
build-backend = "setuptools.build_meta"

[project]
name = "clock"
dynamic = ["version"]

[tool.setuptools_scm]
write_to = "src/clock/version.py"
"""
INIT = "from clock.version import version as __version__\n\n__all__ = ['__version__']\n"
MODULE = """def period(hour):
    if hour < 12:
        return "am"
    return "pm"
"""
EXISTING = "from clock.hours import period\n\n\ndef test_morning():\n    assert period(9) == 'am'\n"
GENERATED = "from clock.hours import period\n\n\ndef test_afternoon():\n    assert period(15) == 'pm'\n"

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]  # real pytest and coverage runs, sandboxed


@pytest.fixture
def clock_project(tmp_path: Path) -> Path:
    """A git checkout: the version module is listed in .gitignore and was never built, as in a fresh clone."""
    return checkout(tmp_path / "clock", PYPROJECT)


def checkout(root: Path, pyproject: str, files: dict[str, str] | None = None) -> Path:
    """A git checkout of ``files`` (by default the clock project, its version module ignored) and ``pyproject``."""
    if files is None:
        files = {".gitignore": f"{VERSION_FILE}\n", "src/clock/__init__.py": INIT, TARGET: MODULE,
                 "tests/test_hours.py": EXISTING}  # fmt: skip
    for path, text in {"pyproject.toml": pyproject, **files}.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@localhost", "-c", "commit.gpgsign=false"]
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    subprocess.run([*git, "commit", "-qm", "init"], cwd=root, check=True)
    return root


async def test_the_version_module_the_build_writes_is_written_so_the_package_imports_and_never_handed_over(
    js: JetStreamContext, topology: Topology, clock_project: Path, tmp_path: Path, model_server: ScriptedModelServer
) -> None:
    """The agent's shell imports the package (version 0.0.0+unknown); the project's test counts in the baseline; the
    generated test is kept; the patch and the stored files hold the test alone; the summary says what was written."""
    seen: list[str] = []

    def write_tests(request: ChatRequest) -> Reply:
        seen.append(json.dumps(request.messages))  # holds the output of the command before
        return create_file(str(workspace_of(request) / GEN), GENERATED)

    model_server.policy = Script([run("python -c 'import clock; print(\"version=\" + clock.__version__)'"),
                                  write_tests, finish("tests written")])  # fmt: skip
    source = await upload_snapshot(js, clock_project)
    assert source.files == 5  # git tracks no version module
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
    written = (f"wrote {VERSION_FILE}, which the build generates (setuptools_scm write_to), version 0.0.0+unknown "
               "(no git metadata in the snapshot and no fallback version declared)")  # fmt: skip
    assert written in progress.text()
    assert written in result.summary
    assert result.patch is not None
    patch = (await get_artifact(js, result.patch)).decode()
    assert "diff --git a/tests/test_generated.py b/tests/test_generated.py" in patch
    assert "version.py" not in patch
    assert [f.name.rsplit("/", 1)[-1] for f in result.files] == ["test_generated.py"]
    assert result.refused == []


async def test_a_version_module_whose_template_needs_git_is_named_in_the_failure(
    js: JetStreamContext, topology: Topology, tmp_path: Path, model_server: ScriptedModelServer
) -> None:
    """The project's template asks for the commit (``{scm_version.node}``): nothing is written, the package does
    not import, and the failure's detail names the missing build output and why."""
    pyproject = PYPROJECT + 'write_to_template = "version = {version!r}; node = {scm_version.node!r}"\n'
    project = checkout(tmp_path / "clock", pyproject)
    model_server.policy = Script([
        lambda request: create_file(str(workspace_of(request) / GEN), GENERATED), finish("tests written"),
    ])  # fmt: skip
    source = await upload_snapshot(js, project)
    progress = ProgressLog()
    with pytest.raises(PermanentFailure) as failed:
        await OpenHandsTestRunner(runner_settings(tmp_path, llm_settings(model_server.base_url))).run(
            make_ctx(js, source, progress, targets=[TARGET])
        )

    assert failed.value.code is ErrorCode.VALIDATION_FAILED
    missing = (f"{VERSION_FILE}, which the build generates (setuptools_scm write_to), is not in the snapshot and was "
               "not written: its template needs what only git can tell")  # fmt: skip
    assert f"build output not in the snapshot: {missing}" in failed.value.detail
    assert missing in progress.text()
    assert "No module named 'clock.version'" in failed.value.detail
