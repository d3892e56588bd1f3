"""Test-generation tasks through the client: the source snapshot goes up, the patch and files come back."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
from nats.js import JetStreamContext

from handoff.artifacts.snapshots import materialize_snapshot
from handoff.artifacts.store import put_artifact
from handoff.client import ArtifactUnavailableError, HandoffClient, SubmitError
from handoff.client.artifacts import per_module_payloads
from handoff.common.clock import utcnow
from handoff.schemas import names
from handoff.schemas.codec import encode
from handoff.schemas.events import GenerateTests, TaskFinished, TaskStatus, TestGenerationResult
from handoff.schemas.topology import Topology


def sample_repo(root: Path) -> Path:
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "mod.py").write_text("def double(x):\n    return 2 * x\n")
    return root


async def test_submit_tests_uploads_the_snapshot_and_fetches_the_patch_and_files_back(
    client: HandoffClient, js: JetStreamContext, topology: Topology, tmp_path: Path
) -> None:
    """The submitted GenerateTests points at a stored snapshot of the repo; the result's artifacts come back."""
    repo = sample_repo(tmp_path / "repo")
    task_id = await client.submit_tests(repo, ["pkg/mod.py"], coverage_goal_pct=70, run_id="tests-run", run_size=1)
    status = await client.status(task_id)
    assert status.kind == "generate_tests" and status.run_id == "tests-run"
    submitted = await client.lookups.submitted_in_stream(task_id)
    assert submitted is not None and isinstance(submitted.payload, GenerateTests)
    assert submitted.payload.targets == ["pkg/mod.py"] and submitted.payload.coverage_goal_pct == 70
    unpacked = tmp_path / "unpacked"
    await materialize_snapshot(js, submitted.payload.source, unpacked)
    assert (unpacked / "pkg" / "mod.py").read_text() == (repo / "pkg" / "mod.py").read_text()

    patch = b"--- /dev/null\n+++ b/tests/test_mod.py\n@@ -0,0 +1 @@\n+def test_double(): ...\n"
    patch_ref = await put_artifact(js, f"{task_id}/patch.diff", patch, content_type="text/x-diff")
    file_ref = await put_artifact(
        js, f"{task_id}/tests/test_mod.py", b"def test_double(): ...\n", content_type="text/x-python"
    )
    finish = TaskFinished(
        task_id=task_id,
        status=TaskStatus.SUCCEEDED,
        finished_at=utcnow(),
        attempt=1,
        run_id="tests-run",
        result=TestGenerationResult(files_produced=True, patch=patch_ref, files=[file_ref]),
    )
    await js.publish(names.task_subject("tests-run", task_id, names.EventType.FINISHED), encode(finish))
    result = await client.result(task_id, timeout=10)
    assert await client.fetch_patch(result) == patch
    assert await client.fetch_files(result) == {file_ref.name: b"def test_double(): ...\n"}

    gone = TaskFinished(
        task_id=task_id,
        status=TaskStatus.SUCCEEDED,
        finished_at=utcnow(),
        result=TestGenerationResult(patch=msgspec.structs.replace(patch_ref, name="missing")),
    )
    with pytest.raises(ArtifactUnavailableError, match="missing"):
        await client.fetch_patch(gone)


async def test_submit_tests_of_a_directory_that_does_not_exist_is_refused(
    client: HandoffClient, js: JetStreamContext, topology: Topology, tmp_path: Path
) -> None:
    """A snapshot that cannot be taken gives a non-retryable SubmitError and publishes nothing."""
    with pytest.raises(SubmitError) as info:
        await client.submit_tests(tmp_path / "absent", ["x.py"], task_id="no-repo")
    assert not info.value.retryable and info.value.task_id == "no-repo"
    assert (await js.stream_info(names.EVENTS_STREAM)).state.messages == 0


async def test_per_module_payloads_carry_the_python_version_extra_packages_and_mutation_goal(
    js: JetStreamContext, topology: Topology, tmp_path: Path
) -> None:
    """One snapshot, one payload per module, each naming the environment's Python, extra packages and goals."""
    repo = sample_repo(tmp_path / "repo")
    (repo / "pkg" / "other.py").write_text("X = 1\n")
    payloads = await per_module_payloads(
        js, repo, ["pkg/mod.py", "pkg/other.py"], python="3.11", extra_packages=["toolz>=0.12"], mutation_goal_pct=60
    )
    assert [(p.targets, p.python, p.extra_packages, p.mutation_goal_pct) for p in payloads] == [
        (["pkg/mod.py"], "3.11", ["toolz>=0.12"], 60),
        (["pkg/other.py"], "3.11", ["toolz>=0.12"], 60),
    ]
    assert payloads[0].source == payloads[1].source


async def test_per_module_payloads_carry_the_test_env_and_a_reserved_name_is_refused_before_uploading(
    client: HandoffClient, js: JetStreamContext, topology: Topology, tmp_path: Path
) -> None:
    """test_env reaches every payload; submit_tests refuses HOME with a SubmitError before the snapshot is sent."""
    repo = sample_repo(tmp_path / "repo")
    (payload,) = await per_module_payloads(js, repo, ["pkg/mod.py"], test_env={"WCWIDTH_PYTHON": "1"})
    assert payload.test_env == {"WCWIDTH_PYTHON": "1"}
    with pytest.raises(SubmitError, match="test_env: HOME is set by the sandbox") as refused:
        await client.submit_tests(tmp_path / "no-such-repo", ["pkg/mod.py"], test_env={"HOME": "/root"})
    assert not refused.value.retryable


async def test_a_submit_with_an_unsafe_extra_package_is_refused_before_publishing(
    client: HandoffClient, js: JetStreamContext, topology: Topology, tmp_path: Path
) -> None:
    """An extra package that is an installer option (or a bad Python version) fails the schema: SubmitError."""
    (payload,) = await per_module_payloads(js, sample_repo(tmp_path / "repo"), ["pkg/mod.py"])
    for bad in (msgspec.structs.replace(payload, extra_packages=["--index-url=http://evil.invalid"]),
                msgspec.structs.replace(payload, python="2")):  # fmt: skip
        with pytest.raises(SubmitError) as refused:
            await client.submit(bad)
        assert not refused.value.retryable
