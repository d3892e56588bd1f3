"""The default Exec ends a whole process group on timeout and on cancel; settings read HANDOFF_* variables."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from handoff.assurance.execute import subprocess_exec
from handoff.assurance.settings import AssuranceSettings
from handoff.common.env import SettingsError

# a parent that starts a sleeping child in the same process group and prints the child's pid
PARENT = (
    "import subprocess, sys, time\n"
    "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
    "print(child.pid, flush=True)\n"
    "time.sleep(60)\n"
)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] if Path(f"/proc/{pid}").exists() else "X"
    return state not in ("Z", "X")


async def _gone(pid: int) -> bool:
    for _ in range(100):
        if not _alive(pid):
            return True
        await asyncio.sleep(0.05)
    return False


async def test_a_command_returns_its_exit_code_and_merged_output(tmp_path: Path) -> None:
    """stdout and stderr come back together with the exit code."""
    code, output = await subprocess_exec(
        [sys.executable, "-c", "import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)"],
        tmp_path, {"PATH": os.environ["PATH"]}, 30,
    )  # fmt: skip
    assert code == 3
    assert "out" in output and "err" in output


async def test_a_timeout_returns_none_and_kills_the_children_too(tmp_path: Path) -> None:
    """On timeout the exit code is None and the grandchild sleeping in the same group is gone."""
    code, output = await subprocess_exec([sys.executable, "-c", PARENT], tmp_path, {}, 10)
    assert code is None
    assert output.strip(), "the child did not start within the timeout"
    assert await _gone(int(output.split()[0]))


async def test_cancelling_the_caller_kills_the_process_group(tmp_path: Path) -> None:
    """A cancelled Exec leaves no process behind."""
    pid_file = tmp_path / "pid"
    script = PARENT.replace("print(child.pid, flush=True)", f"open({str(pid_file)!r}, 'w').write(str(child.pid))")
    task = asyncio.create_task(subprocess_exec([sys.executable, "-c", script], tmp_path, {}, 60))
    for _ in range(200):
        if pid_file.exists() and pid_file.read_text():
            break
        await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await _gone(int(pid_file.read_text()))


def test_settings_come_from_the_environment_and_bad_values_name_the_variable() -> None:
    """Defaults 3 runs / 120 s; a value below the minimum is refused with the variable's name."""
    assert AssuranceSettings.from_env({}) == AssuranceSettings(reliability_runs=3, mutation_budget_s=120.0)
    chosen = AssuranceSettings.from_env({"HANDOFF_RELIABILITY_RUNS": "5", "HANDOFF_MUTATION_BUDGET_S": "30"})
    assert (chosen.reliability_runs, chosen.mutation_budget_s) == (5, 30.0)
    assert AssuranceSettings.from_env({}).mutation_rescue_budget_s == 60.0
    assert AssuranceSettings.from_env({"HANDOFF_MUTATION_RESCUE_BUDGET_S": "0"}).mutation_rescue_budget_s == 0.0
    with pytest.raises(SettingsError, match="HANDOFF_MUTATION_RESCUE_BUDGET_S"):
        AssuranceSettings.from_env({"HANDOFF_MUTATION_RESCUE_BUDGET_S": "-1"})
    with pytest.raises(SettingsError, match="HANDOFF_RELIABILITY_RUNS"):
        AssuranceSettings.from_env({"HANDOFF_RELIABILITY_RUNS": "0"})
