"""Source snapshots in, artifacts out: what a test-generation task needs and what it produced."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nats.js import JetStreamContext

from handoff.artifacts.errors import ArtifactError
from handoff.artifacts.snapshots import store_snapshot, upload_snapshot
from handoff.artifacts.store import get_artifact
from handoff.client.errors import ArtifactUnavailableError, SubmitError
from handoff.schemas.events import ArtifactRef, GenerateTests, TaskFinished, TestGenerationResult, reserved_env_var

if TYPE_CHECKING:
    from handoff.client.client import HandoffClient


async def submit_tests(
    client: HandoffClient,
    repo: Path | str,
    targets: list[str],
    *,
    coverage_goal_pct: float = 80.0,
    test_dir: str = "tests",
    instructions: str = "",
    feedback_rounds: int | None = None,
    files: list[str] | None = None,
    python: str | None = None,
    extra_packages: Sequence[str] = (),
    test_env: Mapping[str, str] | None = None,
    **submit_options: Any,
) -> str:
    """Upload a snapshot of ``repo`` (the files git tracks, a directory walk, or exactly ``files``) and submit a
    GenerateTests task for ``targets`` (paths relative to ``repo``). ``test_env``: environment variables the tests
    need (see ``GenerateTests.test_env``; a reserved name raises ValueError). Other options go to ``client.submit``."""
    for name in test_env or {}:
        if problem := reserved_env_var(name):  # before uploading anything
            raise SubmitError(f"test_env: {problem}", task_id=submit_options.get("task_id"), retryable=False)
    try:
        snapshot = await upload_snapshot(client.js, Path(repo), files=files)
    except ArtifactError as exc:
        raise SubmitError(
            f"cannot snapshot {repo}: {exc}", task_id=submit_options.get("task_id"), retryable=False
        ) from exc
    payload = GenerateTests(
        source=snapshot,
        targets=list(targets),
        coverage_goal_pct=coverage_goal_pct,
        test_dir=test_dir,
        instructions=instructions,
        feedback_rounds=feedback_rounds,
        python=python,
        extra_packages=list(extra_packages),
        test_env=dict(test_env or {}),
    )
    return await client.submit(payload, **submit_options)


@dataclass(frozen=True, slots=True)
class ModulePayloads:
    payloads: list[GenerateTests]
    skipped_links: tuple[str, ...]  # symbolic links of the repo, left out of the snapshot


async def per_module_payloads(
    js: JetStreamContext,
    repo: Path | str,
    targets: list[str],
    *,
    coverage_goal_pct: float = 80.0,
    mutation_goal_pct: float | None = None,
    test_dir: str = "tests",
    instructions: str = "",
    python: str | None = None,
    extra_packages: Sequence[str] = (),
    test_env: Mapping[str, str] | None = None,
) -> list[GenerateTests]:
    """Upload one snapshot of ``repo`` and build one GenerateTests per target module, all sharing it (the fan-out
    the old system did: one task per module). Raises the snapshot's ArtifactError if ``repo`` cannot be stored."""
    planned = await module_payloads(
        js, repo, targets, coverage_goal_pct=coverage_goal_pct, mutation_goal_pct=mutation_goal_pct,
        test_dir=test_dir, instructions=instructions, python=python, extra_packages=extra_packages, test_env=test_env,
    )  # fmt: skip
    return planned.payloads


async def module_payloads(
    js: JetStreamContext,
    repo: Path | str,
    targets: list[str],
    *,
    coverage_goal_pct: float = 80.0,
    mutation_goal_pct: float | None = None,
    test_dir: str = "tests",
    instructions: str = "",
    python: str | None = None,
    extra_packages: Sequence[str] = (),
    test_env: Mapping[str, str] | None = None,
) -> ModulePayloads:
    """``per_module_payloads``, also naming the symbolic links that were left out of the snapshot."""
    stored = await store_snapshot(js, Path(repo))
    payloads = [
        GenerateTests(
            source=stored.snapshot,
            targets=[target],
            coverage_goal_pct=coverage_goal_pct,
            mutation_goal_pct=mutation_goal_pct,
            test_dir=test_dir,
            instructions=instructions,
            python=python,
            extra_packages=list(extra_packages),
            test_env=dict(test_env or {}),
        )
        for target in targets
    ]
    return ModulePayloads(payloads=payloads, skipped_links=stored.skipped_links)


async def fetch_artifact(js: JetStreamContext, ref: ArtifactRef) -> bytes:
    try:
        return await get_artifact(js, ref)
    except ArtifactError as exc:
        raise ArtifactUnavailableError(str(exc)) from exc


async def fetch_patch(js: JetStreamContext, finished: TaskFinished) -> bytes | None:
    result = finished.result
    if not isinstance(result, TestGenerationResult) or result.patch is None:
        return None
    return await fetch_artifact(js, result.patch)


async def fetch_files(js: JetStreamContext, finished: TaskFinished) -> dict[str, bytes]:
    result = finished.result
    if not isinstance(result, TestGenerationResult):
        return {}
    return {ref.name: await fetch_artifact(js, ref) for ref in result.files}
