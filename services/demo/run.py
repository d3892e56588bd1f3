"""The demo: the whole Handoff path on this machine, on the shipped sample project.

Starts the stack (or uses a running ``handoff up``), submits one test-generation task per module of the sample,
shows live progress, prints each validated result, saves the patches, applies them to a copy of the sample and
runs its tests there. With no LLM configured, the scripted model (a script, not an LLM) stands in and says so.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import msgspec

from schemas.events import TaskFinished, TaskStatus
from services.cli.result_cmd import summarize
from services.cli.waiting import wait_with_progress
from services.client.artifacts import per_module_payloads
from services.client.client import HandoffClient
from services.client.patches import PatchNotApplied, apply_patch
from services.client.settings import ClientSettings
from services.sandbox import SandboxMode, SandboxSettings, SandboxUnavailable, probe
from services.stack.settings import StackSettings
from services.stack.state import running_stack
from services.stack.supervisor import Stack
from services.workflow.config import WorkflowSpec
from services.workflow.discovery import discover_targets

SAMPLE = Path(__file__).parent / "sample_project"


@dataclass(frozen=True, slots=True)
class DemoOptions:
    workdir: Path
    generators: int = 2
    timeout_s: float = 300.0


def say(text: str) -> None:
    print(text, flush=True)


def prepare_workdir(workdir: Path) -> Path:
    """A fresh copy of the sample project, committed to git so patches apply as they would in a user's repo."""
    shutil.copytree(SAMPLE, workdir, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    git = ["git", "-c", "user.name=handoff-demo", "-c", "user.email=demo@handoff.invalid"]
    if shutil.which("git"):
        subprocess.run([*git, "init", "-q"], cwd=workdir, check=True)
        subprocess.run([*git, "add", "-A"], cwd=workdir, check=True)
        subprocess.run([*git, "commit", "-qm", "sample project"], cwd=workdir, check=True)
    return workdir


def choose_model() -> str:
    if os.environ.get("HANDOFF_LLM_MODEL"):
        return f"LLM {os.environ['HANDOFF_LLM_MODEL']} (from HANDOFF_LLM_MODEL)"
    os.environ["HANDOFF_SCRIPTED_MODEL"] = "true"  # inherited by the generator processes
    return (
        "the SCRIPTED MODEL - a script that writes doctest-driven tests, not an LLM "
        "(set HANDOFF_LLM_MODEL for a real one)"
    )


def choose_sandbox() -> str:
    """bubblewrap where it works; where it cannot start and nothing was chosen, the demo's own trusted sample runs
    unsandboxed (a generator on its own refuses real work then). An explicit HANDOFF_SANDBOX is obeyed."""
    if os.environ.get("HANDOFF_SANDBOX"):
        sandbox = probe(SandboxSettings.from_env())  # SandboxUnavailable ends the demo with exit code 2
        if not sandbox.enabled:
            return "tasks run UNSANDBOXED (HANDOFF_SANDBOX=none)"
        return "tasks run in a bubblewrap sandbox"
    try:
        probe(SandboxSettings(mode=SandboxMode.BWRAP))
    except SandboxUnavailable as exc:
        os.environ["HANDOFF_SANDBOX"] = SandboxMode.NONE.value  # inherited by the generator processes
        return (
            f"NO SANDBOX: bubblewrap cannot start here ({exc.reason}); the demo runs its own trusted sample project "
            "UNSANDBOXED. A generator refuses real work like this: install bubblewrap (`apt-get install bubblewrap`) "
            "or set HANDOFF_SANDBOX=none explicitly"
        )
    return "tasks run in a bubblewrap sandbox"


async def run_demo(options: DemoOptions) -> int:
    say(f"Handoff demo: test generation for the sample project, using {choose_model()}")
    say(await asyncio.to_thread(choose_sandbox))
    repo = prepare_workdir(options.workdir)
    stack_settings = StackSettings.from_env()
    if "HANDOFF_EMBEDDED_PORT" not in os.environ:  # any free port: the demo must not collide with anything
        embedded = msgspec.structs.replace(stack_settings.common.embedded, port=0)
        stack_settings = msgspec.structs.replace(
            stack_settings, common=msgspec.structs.replace(stack_settings.common, embedded=embedded)
        )
    stack_settings = msgspec.structs.replace(stack_settings, generators=options.generators)
    existing = None if stack_settings.common.nats.url else running_stack(stack_settings.common.embedded.data_dir)
    if existing is not None:
        say(f"using the stack already running at {existing.url}")
        return await _submit_and_report(existing.url, repo, options)
    async with Stack(stack_settings) as stack:
        say(
            f"stack up: nats {stack.url}, 1 collector, {options.generators} generator(s) "
            f"(logs in {stack.children[0].log_path.parent})"
        )
        return await _submit_and_report(stack.url, repo, options)


async def _submit_and_report(url: str, repo: Path, options: DemoOptions) -> int:
    run_id = f"demo-{uuid.uuid4().hex[:8]}"
    async with HandoffClient.connect(ClientSettings.from_env(), url=url) as client:
        targets = discover_targets(repo, WorkflowSpec(component="inventory"))
        ids = []
        for i, payload in enumerate(await per_module_payloads(client.js, repo, targets, coverage_goal_pct=80.0)):
            ids.append(await client.submit(payload, task_id=f"{run_id}-{i}", run_id=run_id, run_size=len(targets)))
        say(
            f"submitted {len(ids)} task(s) in run {run_id}: {', '.join(targets)} "
            "- waiting (a generator's first task imports the agent SDK, ~10 s)"
        )
        finals, timed_out = await wait_with_progress(
            client, ids, run_id=run_id, timeout_s=options.timeout_s, quiet=False
        )
        patches = {t: await client.fetch_patch(f) for t, f in finals.items()}
    return await _report(repo, ids, finals, patches, timed_out is not None)


async def _report(
    repo: Path, ids: list[str], finals: dict[str, TaskFinished], patches: dict[str, bytes | None], timed_out: bool
) -> int:
    say("")
    for task_id in ids:
        finished = finals.get(task_id)
        if finished is None:
            say(f"task {task_id}: no result within the timeout (it keeps running)")
            continue
        say("\n".join(summarize(finished)))
        patch = patches.get(task_id)
        if patch:
            path = repo / f"handoff-{task_id}.patch"
            path.write_bytes(patch)
            try:
                await apply_patch(repo, patch)
                state = "applied to the copy"
            except PatchNotApplied as exc:
                state = f"NOT applied: {exc}"
            say(f"  patch saved to {path} ({state})")
    ok = not timed_out and all(f.status == TaskStatus.SUCCEEDED for f in finals.values()) and len(finals) == len(ids)
    if ok:
        check = await asyncio.to_thread(
            subprocess.run, [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=repo,
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        last = (check.stdout.strip().splitlines() or ["(no output)"])[-1]
        say(f"\nthe sample project with the generated tests, in {repo}: pytest says: {last}")
        ok = check.returncode == 0
    say("demo finished: all tasks succeeded" if ok else "demo finished: not every task succeeded (see above)")
    return 0 if ok else 1


def default_workdir() -> Path:
    import platformdirs

    return (
        Path(os.environ.get("HANDOFF_DATA_DIR") or platformdirs.user_data_dir("handoff"))
        / "demo"
        / uuid.uuid4().hex[:8]
    )
