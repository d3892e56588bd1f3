"""The task sandbox's cost: start-up, per terminal command, and memory, each against no sandbox in the same run.

    python -m benchmarks.sandbox [--runs 50] [--commands 50]

1. start: a command that does nothing (``true``) as a plain subprocess, and inside a new bubblewrap sandbox
   (``Sandbox.command``, what every validation run pays), and the agent's shell wrapper starting bash with
   ``-c true`` with and without the sandbox;
2. per terminal command: the agent's real terminal (the SDK's ``TerminalSession`` on the runner's shell wrapper)
   runs ``true`` ``commands`` times, unsandboxed and sandboxed; the goal is at most 50 ms added per command;
3. memory: the proportional set size (PSS, MiB) of an idle agent shell's whole process tree, with and without
   the sandbox (the sandbox adds the outer ``bwrap`` and its PID 1).
"""

from __future__ import annotations

import argparse
import functools
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.harness import descendants, header, median, percentile, pss_mb
from handoff.runners.openhands import workspace as ws
from handoff.sandbox import Sandbox, SandboxMode, SandboxSettings, probe

PER_COMMAND_GOAL_MS = 50.0
ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}


def timed(run: Callable[[], object], runs: int) -> list[float]:
    """Wall milliseconds of ``runs`` calls (one warm-up call first)."""
    run()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        run()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def _check(argv: list[str], env: dict[str, str], cwd: Path) -> None:
    subprocess.run(argv, env=env, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _task_dirs(root: Path, name: str) -> ws.TaskDirs:
    dirs = ws.TaskDirs.create(root, name, 1)
    dirs.workspace.mkdir()
    return dirs


def start_rows(sandbox: Sandbox, plain: Sandbox, root: Path, runs: int) -> list[tuple[str, list[float]]]:
    true = shutil.which("true") or "/bin/true"
    launch = sandbox.command([true], cwd=root, env=ENV, writable=[root])
    rows = [
        ("`true`, plain subprocess", timed(lambda: _check([true], ENV, root), runs)),
        ("`true` in a new sandbox (validation's path)", timed(lambda: _check(launch.argv, launch.env, root), runs)),
    ]
    for label, mode in (("unsandboxed", plain), ("sandboxed", sandbox)):
        dirs = _task_dirs(root, label)
        shell = ws.write_shell(dirs, ws.agent_env(dirs), sandbox=mode)
        start_shell = functools.partial(_check, [str(shell), "-c", "true"], ENV, root)
        rows.append((f"agent shell wrapper, `bash -c true`, {label}", timed(start_shell, runs)))
    return rows


def terminal_rows(sandbox: Sandbox, plain: Sandbox, root: Path, commands: int) -> list[tuple[str, list[float], float]]:
    """Per-command latency of the SDK's terminal on each wrapper, and the PSS of the idle shell's process tree."""
    from openhands.tools.terminal.definition import TerminalAction
    from openhands.tools.terminal.terminal.subprocess_terminal import SubprocessTerminal
    from openhands.tools.terminal.terminal.terminal_session import TerminalSession

    rows = []
    for label, mode in (("unsandboxed", plain), ("sandboxed", sandbox)):
        dirs = _task_dirs(root, f"terminal-{label}")
        shell = ws.write_shell(dirs, ws.agent_env(dirs), sandbox=mode)
        terminal = SubprocessTerminal(work_dir=str(dirs.workspace), shell_path=str(shell))
        session = TerminalSession(terminal, no_change_timeout_seconds=30)
        session.initialize()
        try:

            def command(s: TerminalSession = session) -> None:
                observation = s.execute(TerminalAction(command="true"))
                if observation.exit_code != 0:
                    raise RuntimeError(f"the terminal failed: {observation.text[-300:]}")

            samples = timed(command, commands)
            assert terminal.process is not None
            memory = tree_pss_mb(terminal.process.pid)
        finally:
            session.close()
            ws.end_agent_processes(dirs)
        rows.append((f"agent terminal command (`true`), {label}", samples, memory))
    return rows


def tree_pss_mb(pid: int) -> float:
    total = 0.0
    for member in [pid, *descendants(pid)]:
        try:
            total += pss_mb(member)
        except OSError:  # exited between listing and reading
            continue
    return total


def main(runs: int, commands: int) -> str:
    sandbox = probe(SandboxSettings(), ro_paths=[Path(sys.prefix)])
    plain = Sandbox(SandboxMode.NONE)
    root = Path(tempfile.mkdtemp(prefix="handoff-bench-sandbox-"))
    try:
        starts = start_rows(sandbox, plain, root, runs)
        terminals = terminal_rows(sandbox, plain, root, commands)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    out = [
        header(
            "Sandbox",
            f"bubblewrap ({sandbox.bwrap}) against no sandbox, same run; {runs} starts and {commands} terminal "
            f"commands per row after one warm-up; wall milliseconds",
        ),
        "| what | runs | median ms | p95 ms | added vs unsandboxed (median ms) |",
        "|---|---|---|---|---|",
    ]
    base = median(starts[0][1])
    for i, (label, samples) in enumerate(starts):
        if i == 2:
            base = median(samples)
        added = "" if i in (0, 2) else f"{median(samples) - base:+.1f}"
        out.append(f"| {label} | {len(samples)} | {median(samples):.1f} | {percentile(samples, 0.95):.1f} | {added} |")
    out += [
        "",
        "| agent terminal | commands | median ms | p95 ms | added per command (ms) | x goal (50 ms) | "
        "idle shell PSS (MiB) |",
        "|---|---|---|---|---|---|---|",
    ]
    (plain_label, plain_samples, plain_mb), (box_label, box_samples, box_mb) = terminals
    per_command = float(median(box_samples)) - float(median(plain_samples))
    ratio = max(per_command, 0.0) / PER_COMMAND_GOAL_MS
    out.append(f"| {plain_label} | {len(plain_samples)} | {median(plain_samples):.1f} | "
               f"{percentile(plain_samples, 0.95):.1f} |  |  | {plain_mb:.1f} |")  # fmt: skip
    out.append(f"| {box_label} | {len(box_samples)} | {median(box_samples):.1f} | {percentile(box_samples, 0.95):.1f} "
               f"| {per_command:+.1f} | {ratio:.2f} | {box_mb:.1f} |")  # fmt: skip
    out.append(f"\nmemory added by the sandbox per in-flight task (idle shell): {box_mb - plain_mb:+.1f} MiB")
    return "\n".join(out)


if __name__ == "__main__":
    os.environ.setdefault("LOG_AUTO_CONFIG", "false")
    os.environ.setdefault("OPENHANDS_SUPPRESS_BANNER", "1")
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--commands", type=int, default=50)
    args = parser.parse_args()
    print(main(args.runs, args.commands))
