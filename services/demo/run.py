"""The demo: the whole Handoff path on this machine, on the shipped sample project and a real-world module.

Starts the stack (or uses a running ``handoff up``), submits one test-generation task per module of the sample and
of an installed PyPI package (``real_world.py``), shows live progress, prints per module the tests kept, line and
branch coverage, mutation score and the summary (``report.py``), saves the patches, applies them to the copies and
runs their tests there. With no LLM configured the offline engine (CrossHair and Pynguin, real test generators that
need no model) writes the tests, with a short time limit per target, and says so.
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

from handoff.cli.waiting import wait_with_progress
from handoff.client.artifacts import per_module_payloads
from handoff.client.client import HandoffClient
from handoff.client.patches import PatchNotApplied, apply_patch
from handoff.client.settings import ClientSettings
from handoff.common.env import SettingsError
from handoff.demo.real_world import RealWorldMissing, commit_all, prepare_real_world
from handoff.demo.report import module_lines
from handoff.sandbox import SandboxMode, SandboxSettings, SandboxUnavailable, probe
from handoff.schemas.events import TaskFinished, TaskStatus
from handoff.stack.settings import StackSettings
from handoff.stack.state import running_stack
from handoff.stack.supervisor import Stack
from handoff.workflow.config import WorkflowSpec
from handoff.workflow.discovery import discover_targets

SAMPLE = Path(__file__).parent / "sample_project"
DEMO_ENGINE_S = 30.0  # the offline engines' limit per target in the demo (HANDOFF_OFFLINE_ENGINE_S wins)
DEMO_MUTATION_BUDGET_S = 30.0  # per task; HANDOFF_MUTATION_BUDGET_S overrides it
DEMO_RESCUE_BUDGET_S = 20.0  # per scoring; HANDOFF_MUTATION_RESCUE_BUDGET_S overrides it


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
    commit_all(workdir, "sample project")
    return workdir


@dataclass(frozen=True, slots=True)
class Project:
    name: str
    repo: Path
    targets: list[str]
    decides_exit: bool = True
    """False for the real-world module: what the engines make of code nobody prepared for them is shown, and a
    failure there is reported with its reason, but only the shipped sample decides the demo's exit code."""


def choose_writer() -> str:
    """What writes the tests, said once. With nothing configured: the offline engine, with the demo's limit per
    target. The generators read the same variables, so a malformed one stops the demo here (exit 2)."""
    if not os.environ.get("HANDOFF_LLM_MODEL") and not os.environ.get("HANDOFF_SCRIPTED_MODEL"):
        os.environ.setdefault("HANDOFF_OFFLINE_ENGINE_S", f"{DEMO_ENGINE_S:g}")  # inherited by the generators
    os.environ.setdefault("HANDOFF_MUTATION_BUDGET_S", f"{DEMO_MUTATION_BUDGET_S:g}")  # a demo, not a full audit
    os.environ.setdefault("HANDOFF_MUTATION_RESCUE_BUDGET_S", f"{DEMO_RESCUE_BUDGET_S:g}")
    from handoff.runners.openhands.settings import RunnerSettings  # the agent stack: only where it runs

    settings = RunnerSettings.from_env()
    if settings.offline_engine is not None:
        return (
            f"the {settings.offline_engine.label} - real test generators that need no LLM, "
            f"{settings.offline_engine.per_target_s:g} s per engine and target (HANDOFF_OFFLINE_ENGINE_S); "
            "set HANDOFF_LLM_MODEL for an agent with a model"
        )
    if settings.scripted_model:
        return "the SCRIPTED MODEL (HANDOFF_SCRIPTED_MODEL=true) - a script that writes doctest-driven tests"
    return f"an agent with {', '.join(settings.llm.models)} (from HANDOFF_LLM_MODEL)"


def choose_sandbox() -> str:
    """bubblewrap where it works; where it cannot start and nothing was chosen, the demo's own trusted projects run
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
            "and its copy of an installed package UNSANDBOXED. A generator refuses real work like this: "
            "install bubblewrap (`apt-get install bubblewrap`) or set HANDOFF_SANDBOX=none explicitly"
        )
    return "tasks run in a bubblewrap sandbox"


async def run_demo(options: DemoOptions) -> int:
    say(f"Handoff demo: test generation for a sample project and a real-world module, using {choose_writer()}")
    say(await asyncio.to_thread(choose_sandbox))
    projects = await asyncio.to_thread(prepare_projects, options.workdir)
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
        return await _submit_and_report(existing.url, projects, options)
    async with Stack(stack_settings) as stack:
        say(
            f"stack up: nats {stack.url}, 1 collector, {options.generators} generator(s) "
            f"(logs in {stack.children[0].log_path.parent})"
        )
        return await _submit_and_report(stack.url, projects, options)


def prepare_projects(workdir: Path) -> list[Project]:
    """The sample project and the real-world module, each a git repository of its own under ``workdir``."""
    sample = prepare_workdir(workdir / "sample")
    projects = [Project("the sample project", sample, discover_targets(sample, WorkflowSpec(component="inventory")))]
    try:
        real = prepare_real_world(workdir / "real-world")
    except RealWorldMissing as exc:
        raise SettingsError(f"the demo's real-world module: {exc}") from exc
    projects.append(
        Project(f"the PyPI package {real.package} (installed copy)", real.repo, real.targets, decides_exit=False)
    )
    return projects


async def _submit_and_report(url: str, projects: list[Project], options: DemoOptions) -> int:
    run_id = f"demo-{uuid.uuid4().hex[:8]}"
    size = sum(len(p.targets) for p in projects)
    owners: list[tuple[Project, str, str]] = []  # (project, target, task id)
    async with HandoffClient.connect(ClientSettings.from_env(), url=url) as client:
        for project in projects:
            payloads = await per_module_payloads(client.js, project.repo, project.targets, coverage_goal_pct=80.0)
            for target, payload in zip(project.targets, payloads, strict=True):
                task_id = await client.submit(payload, task_id=f"{run_id}-{len(owners)}", run_id=run_id,
                                              run_size=size)  # fmt: skip
                owners.append((project, target, task_id))
        say(
            f"submitted {len(owners)} task(s) in run {run_id}: "
            + "; ".join(f"{p.name}: {', '.join(p.targets)}" for p in projects)
            + " - waiting (a generator's first task imports the agent SDK and builds the project environment)"
        )
        ids = [task_id for _, _, task_id in owners]
        finals, _ = await wait_with_progress(  # a task without a result is reported, and fails its project
            client, ids, run_id=run_id, timeout_s=options.timeout_s, quiet=False
        )
        patches = {t: await client.fetch_patch(f) for t, f in finals.items()}
    verdicts = []
    for project in projects:
        mine = [(target, task_id) for p, target, task_id in owners if p is project]
        verdicts.append((project, await _report(project, mine, finals, patches)))
    say("")
    for project, succeeded in verdicts:
        state = "every task succeeded and its tests pass" if succeeded else "NOT every task succeeded (see above)"
        note = "" if project.decides_exit else " (shown, not part of the exit code)"
        say(f"{project.name}: {state}{note}")
    ok = all(succeeded for project, succeeded in verdicts if project.decides_exit)  # each task had a result
    say("demo finished: the sample project's tests were generated and pass" if ok else "demo finished: FAILED")
    return 0 if ok else 1


async def _report(
    project: Project, tasks: list[tuple[str, str]], finals: dict[str, TaskFinished], patches: dict[str, bytes | None]
) -> bool:
    """Print each module's lines, save and apply its patch, then run the project's tests with them."""
    say(f"\n== {project.name} ({project.repo})")
    for target, task_id in tasks:
        finished = finals.get(task_id)
        say("\n".join(module_lines(target, finished)))
        patch = patches.get(task_id)
        if patch:
            path = project.repo / f"handoff-{task_id}.patch"
            path.write_bytes(patch)
            try:
                await apply_patch(project.repo, patch)
                state = "applied to the copy"
            except PatchNotApplied as exc:
                state = f"NOT applied: {exc}"
            say(f"  patch saved to {path} ({state})")
    ok = all(task_id in finals and finals[task_id].status == TaskStatus.SUCCEEDED for _, task_id in tasks)
    if ok:
        check = await asyncio.to_thread(
            subprocess.run, [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=project.repo,
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        last = (check.stdout.strip().splitlines() or ["(no output)"])[-1]
        say(f"{project.name} with the generated tests: pytest says: {last}")
        ok = check.returncode == 0
    return ok


def default_workdir() -> Path:
    import platformdirs

    return (
        Path(os.environ.get("HANDOFF_DATA_DIR") or platformdirs.user_data_dir("handoff"))
        / "demo"
        / uuid.uuid4().hex[:8]
    )
