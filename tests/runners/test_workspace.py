"""Task directories: the scrubbed environment, the agent's shell wrapper, and patches of a recorded tree."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path

import pytest

from handoff.runners.openhands import workspace as ws
from tests.runners.conftest import SAMPLE, task_sandbox
from tests.support.nats import eventually


def _dirs(tmp_path: Path) -> ws.TaskDirs:
    dirs = ws.TaskDirs.create(tmp_path / "work", "task", 1)
    shutil.copytree(SAMPLE, dirs.workspace)
    return dirs


def test_the_agent_environment_is_an_allowlist_with_its_own_home_and_tmp(tmp_path: Path) -> None:
    """Only allowlisted variables pass; HOME/TMPDIR point into the task; the interpreter comes first on PATH."""
    dirs = _dirs(tmp_path)
    source = {"PATH": "/usr/bin", "LANG": "C.UTF-8", "OPENAI_API_KEY": "sk-x", "EXTRA": "1", "HOME": "/root"}
    env = ws.agent_env(dirs, allow=("EXTRA",), source=source)
    assert "OPENAI_API_KEY" not in env
    assert env["EXTRA"] == "1" and env["LANG"] == "C.UTF-8"
    assert env["HOME"] == str(dirs.home) and env["TMPDIR"] == str(dirs.tmp)
    assert env["PATH"].endswith("/usr/bin")


def test_the_tasks_test_env_reaches_the_agents_sandboxed_shell_over_the_allowlist(tmp_path: Path) -> None:
    """A task's test_env (wcwidth's WCWIDTH_PYTHON=1) is in the agent's shell; it may set TZ, never PATH or HOME."""
    dirs = _dirs(tmp_path)
    env = ws.agent_env(dirs, source={"PATH": "/usr/bin:/bin", "TZ": "Europe/Paris"},
                       test_env={"WCWIDTH_PYTHON": "1", "TZ": "UTC"})  # fmt: skip
    assert env["TZ"] == "UTC"
    shell = ws.write_shell(dirs, env, sandbox=task_sandbox())
    done = subprocess.run([str(shell), "-c", "echo $WCWIDTH_PYTHON"], env={"PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True, check=True)  # fmt: skip
    assert done.stdout.strip() == "1"
    with pytest.raises(ValueError, match="HOME is set by the sandbox"):
        ws.agent_env(dirs, source={}, test_env={"HOME": "/root"})


def test_the_shell_wrapper_starts_bash_with_exactly_the_given_environment(tmp_path: Path) -> None:
    """Whatever the caller's environment holds, the wrapped shell sees only the task env, and records its pid."""
    dirs = _dirs(tmp_path)
    shell = ws.write_shell(
        dirs, {"PATH": "/usr/bin:/bin", "HOME": str(dirs.home), "ONLY": "this"}, sandbox=task_sandbox()
    )
    done = subprocess.run(
        [str(shell), "-c", "env"],
        env={"PATH": "/usr/bin:/bin", "SECRET_TOKEN": "leak"},
        capture_output=True,
        text=True,
        check=True,
    )
    names = {line.split("=", 1)[0] for line in done.stdout.splitlines() if "=" in line}
    assert "SECRET_TOKEN" not in names and "ONLY=this" in done.stdout
    assert dirs.shell_pids.read_text().strip().isdigit()


def test_the_diff_of_a_recorded_tree_applies_to_the_original_tree(tmp_path: Path) -> None:
    """Added, modified and deleted paths (named literally, globs included) become one patch `git apply` accepts
    on a copy of the snapshot; paths not named stay out of it."""
    dirs = _dirs(tmp_path)
    env = ws.agent_env(dirs)
    git_dir = dirs.clean_git(1)
    paths = ["tests/test_new.py", "tests/test_[ab].py", "shapes/geometry.py", "README.md"]
    ws.record_tree(git_dir, dirs.workspace, env, paths)
    (dirs.workspace / "tests" / "test_new.py").write_text("def test_new():\n    assert True\n")
    (dirs.workspace / "tests" / "test_[ab].py").write_text("def test_glob():\n    assert True\n")
    (dirs.workspace / "tests" / "test_a.py").write_text("not named\n")
    (dirs.workspace / "shapes" / "geometry.py").write_text("changed\n")
    (dirs.workspace / "README.md").unlink()
    patch = ws.diff_tree(git_dir, dirs.workspace, env, paths)
    assert b"test_a.py" not in patch.replace(b"test_[ab].py", b"")
    copy = tmp_path / "copy"
    shutil.copytree(SAMPLE, copy)
    (tmp_path / "p.diff").write_bytes(patch)
    subprocess.run(["git", "apply", str(tmp_path / "p.diff")], cwd=copy, check=True, capture_output=True)
    assert (copy / "shapes" / "geometry.py").read_text() == "changed\n" and not (copy / "README.md").exists()
    assert (copy / "tests" / "test_[ab].py").exists() and not (copy / "tests" / "test_a.py").exists()
    assert ws.diff_tree(git_dir, dirs.workspace, env, []) == b""


async def test_processes_left_in_the_agent_session_are_killed(tmp_path: Path) -> None:
    """A background job started from the agent's shell dies with end_agent_processes."""
    dirs = _dirs(tmp_path)
    shell = ws.write_shell(dirs, ws.agent_env(dirs), sandbox=task_sandbox())
    proc = await asyncio.create_subprocess_exec(str(shell), "-c", "sleep 59.75 & wait", start_new_session=True)
    try:

        async def job_running() -> bool:
            return dirs.shell_pids.exists() and len(ws._processes_in_sessions({proc.pid})) >= 2

        # generous bounds: a sandbox starts in well under a second, but a loaded machine has taken over five
        await eventually(job_running, timeout_s=30, what="the shell and its background job")
        assert ws.end_agent_processes(dirs) >= 2
        # the shell ends long before its 60 s job would have (its exit code depends on which process the kill
        # reached first: a bash whose job died first ends its 'wait' with 0), and nothing of its session is left
        await asyncio.wait_for(proc.wait(), timeout=30)

        async def session_gone() -> bool:  # a killed process may show a moment longer, or as a zombie
            return all(_state(pid) in ("Z", "") for pid in ws._processes_in_sessions({proc.pid}))

        await eventually(session_gone, timeout_s=10, what="every process of the shell's session gone")
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


def _state(pid: int) -> str:
    """A process's state letter from /proc ('' once it is gone)."""
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[-1].split()[0]
    except (OSError, IndexError):
        return ""
