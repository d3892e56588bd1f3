"""A generator replica running the real OpenHands runner (the LLM is the scripted model), and hand-made snapshots."""

from __future__ import annotations

import contextlib
import hashlib
import io
import tarfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from nats.js import JetStreamContext

from handoff.generator import Generator
from handoff.runners.openhands import OpenHandsTestRunner
from handoff.schemas import names
from handoff.schemas.events import GenerateTests, SourceSnapshot
from handoff.scripted_model import ScriptedModelServer
from tests.generator.support import replica
from tests.runners.conftest import SAMPLE, llm_settings, runner_settings


@contextlib.asynccontextmanager
async def agent_replica(
    url: str, model: ScriptedModelServer, work: Path, *, nats_password: str | None = None, **runner: object
) -> AsyncIterator[Generator]:
    """A replica whose GenerateTests runner is the real one, talking to ``model``, with task dirs under ``work``.

    ``nats_password`` is configured on the replica (not used to connect); ``runner`` overrides runner settings."""
    settings = runner_settings(
        work.parent, llm_settings(model.base_url), **{"feedback_rounds": 0, "work_dir": work, **runner}
    )
    async with (
        OpenHandsTestRunner(settings) as runner_,
        replica(
            url, replica_id="agent-replica", runners={GenerateTests: runner_}, nats_password=nats_password
        ) as generator,
    ):
        yield generator


@dataclass(frozen=True)
class Member:
    name: str
    type: bytes = tarfile.REGTYPE
    data: bytes = b""
    link: str = ""


def sample_members() -> list[Member]:
    """The sample project's files, as tar members."""
    return [
        Member(path.relative_to(SAMPLE).as_posix(), data=path.read_bytes())
        for path in sorted(SAMPLE.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    ]


def tarball(members: list[Member]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for member in members:
            info = tarfile.TarInfo(member.name)
            info.type = member.type
            info.linkname = member.link
            info.size = len(member.data) if member.type == tarfile.REGTYPE else 0
            tar.addfile(info, io.BytesIO(member.data) if info.size else None)
    return buffer.getvalue()


async def store_raw_snapshot(js: JetStreamContext, data: bytes, files: int) -> SourceSnapshot:
    """Put ``data`` into the snapshots store under its digest, as a pipeline with store access could."""
    digest = hashlib.sha256(data).hexdigest()
    store = await js.object_store(names.SNAPSHOTS_BUCKET)
    await store.put(digest, data)
    return SourceSnapshot(digest=digest, size_bytes=len(data), files=files)
