"""Each benchmark runs end to end at a tiny size and prints its tables, so the scripts cannot rot.

These tests check structure (every row, every ratio computed, every task succeeded), never speed: the figures
of a tiny run on a shared machine mean nothing.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from benchmarks import (
    client_install,
    environments,
    long_tasks,
    memory,
    profile_loop,
    roundtrip,
    sandbox,
    scale_out,
    workflow,
)
from benchmarks.harness import machine

Table = list[dict[str, str]]


def tables(text: str) -> list[Table]:
    """The markdown tables in ``text``, as rows keyed by their column headers."""
    found: list[Table] = []
    block: list[list[str]] = []
    for line in [*text.splitlines(), ""]:
        if line.startswith("|"):
            block.append([cell.strip() for cell in line.strip().strip("|").split("|")])
            continue
        if block:
            head, _separator, *rows = block
            found.append([dict(zip(head, row, strict=True)) for row in rows])
            block = []
    return found


def number(cell: str) -> float:
    """A table cell as a finite number (units and thousands separators stripped)."""
    value = float(cell.replace(",", "").replace("%", "").replace("+", "").split()[0])
    assert math.isfinite(value), cell
    return value


def check_common(text: str) -> None:
    assert machine() in text
    assert "load average" in text
    assert "did not succeed" not in text and "NOT every" not in text


async def test_the_round_trip_prints_the_floor_and_both_handoff_paths_with_ratios() -> None:
    """Floor before/after/mean, Handoff in one process and as processes in both modes, x baseline on every row,
    CPU per process for each mode."""
    text = await roundtrip.main(tasks=40, in_flight=8, processes=True)
    check_common(text)
    results, *cpus = tables(text)
    assert [r["path"] for r in results] == [
        "raw nats-py floor (before)",
        "raw nats-py floor (after)",
        "raw nats-py floor (mean)",
        "Handoff, one process",
        "Handoff, services as processes",
        "Handoff, services as processes, result() per task",
    ]
    assert all(number(r["tasks"]) == 40 and number(r["tasks/s"]) > 0 for r in results)
    assert number(results[2]["x baseline"]) == 1.0
    assert all(number(r["x baseline"]) > 0 and number(r["p99 ms"]) >= number(r["p50 ms"]) for r in results)
    assert len(cpus) == 2 and "watch mode" in text and "result mode" in text
    for cpu in cpus:
        assert [r["process"] for r in cpu] == ["client (this process)", "generator", "collector", "nats-server"]
        assert all(number(r["CPU ms per task"]) >= 0 for r in cpu)


async def test_the_round_trip_profiles_the_deployed_services_when_asked(tmp_path: Path) -> None:
    """With a profile directory, the generator and collector processes write their cProfile stats there, and the
    output has each one's top entries, with Handoff's own functions among them."""
    text = await roundtrip.main(
        tasks=40, in_flight=8, processes=True, modes=("result",), profile=roundtrip.Profiling(tmp_path, top=400)
    )
    check_common(text)
    for command in ("generator", "collector"):
        assert (tmp_path / "result" / f"{command}.prof").stat().st_size > 0
        assert f"Profile of the {command} process" in text
    _results, _cpu, generator, collector = tables(text)
    for profile in (generator, collector):
        assert len(profile) == 400  # 40 tasks: the start-up's own calls are many of the entries
        assert all(0 <= number(r["%"]) <= 100 and number(r["calls per task"]) >= 0 for r in profile)
        assert max(number(r["calls per task"]) for r in profile) >= 1
    assert any("generator/execution.py" in r["function (own time)"] for r in generator)
    assert any("collector/collector.py" in r["function (own time)"] for r in collector)


async def test_long_tasks_prints_the_overhead_over_the_wave_floor_and_its_breakdown() -> None:
    """Raw and Handoff rows (one and two generator processes) against ceil(tasks/slots) x task time; the
    overhead breakdown has every line."""
    text = await long_tasks.main(tasks=6, task_s=0.05, slots=2, replicas=(1, 2))
    check_common(text)
    results, where = tables(text)
    assert [r["path"].split(" (")[0] for r in results] == ["raw nats-py, 2 slots", "Handoff", "Handoff"]
    assert "2 generator processes x 1 slots" in results[2]["path"]
    assert [number(r["floor s"]) for r in results] == [0.15, 0.15, 0.15]  # 3 waves of 0.05 s
    for r in results:
        assert number(r["wall s"]) >= 0.15
        assert math.isclose(number(r["overhead s"]), number(r["wall s"]) - 0.15, abs_tol=0.002)
    assert number(results[0]["x raw"]) == 1.0
    assert len(where) == 4 and all(number(r["ms"]) >= 0 for r in where)


async def test_scale_out_prints_one_row_per_replica_count_against_the_first() -> None:
    """Rows for 1 and 2 generator processes, each with its ideal rate and its ratio to the single replica."""
    text = await scale_out.main([1, 2], tasks=8, task_s=0.05, slots=2)
    check_common(text)
    (rows,) = tables(text)
    assert [r["replicas"] for r in rows] == ["1", "2"]
    assert [number(r["ideal tasks/s"]) for r in rows] == [40.0, 80.0]
    assert number(rows[0]["x baseline (1st row)"]) == 1.0 and number(rows[1]["x baseline (1st row)"]) > 0


@pytest.mark.slow
@pytest.mark.timeout(300)  # a real generator process: SDK import, a project environment, one agent task (~150 s loaded)
async def test_memory_prints_idle_loaded_and_per_task_figures() -> None:
    """Idle and SDK-loaded RSS of a real generator process, the growth per scripted agent task in flight, and the
    growth a large snapshot adds (a small one here)."""
    text = await memory.main([1], turn_s=0.05, snapshot_mib=8)
    check_common(text)
    states, levels, snapshots = tables(text)
    assert [r["state"] for r in states] == ["idle, after start-up", "agent SDK loaded, nothing in flight"]
    idle, loaded = (number(r["RSS generator"]) for r in states)
    assert 0 < idle < loaded  # the agent SDK is imported by the first test-generation task, not at start-up
    assert [r["tasks submitted"] for r in levels] == ["1"] and levels[0]["most running at once"] == "1"
    assert number(levels[0]["peak RSS"]) > 0
    assert [r["snapshot"] for r in snapshots] == ["sample project", "sample project + data files"]
    assert number(snapshots[0]["size (MiB)"]) < 1 and 7 < number(snapshots[1]["size (MiB)"]) < 9
    share, ratio = number(snapshots[1]["added by the large snapshot"]), number(snapshots[1]["x goal"])
    assert (share > 0) == (ratio > 0)  # the goal scales with the snapshot's size (20 MiB per 100 MiB)


async def test_the_workflow_prints_both_modes_next_to_the_prediction() -> None:
    """Blocking and non-blocking rows with their critical-path predictions, the speed-up line and the timelines."""
    full = workflow.Durations(testing_s=60, generation_s=110, refactoring_s=120, deploy_s=30)
    text = await workflow.main(modules=2, slots=2, scale=1000, full=full)
    check_common(text)
    (rows,) = tables(text)
    assert [r["mode"] for r in rows] == ["blocking", "non-blocking"]
    predicted = [number(r["predicted s"]) for r in rows]
    assert math.isclose(predicted[0], 0.06 + 2 * 0.11 + 0.12 + 0.03)  # every stage plus N x generation
    assert math.isclose(predicted[1], 0.06 + max(0.12, 0.11) + 0.03)  # one wave of 2 tasks under refactoring
    assert all(number(r["measured wall s"]) > 0 for r in rows)
    assert "speed-up of non-blocking over blocking: measured" in text
    assert text.count("workflow run wf-") == 2


@pytest.mark.slow
def test_the_sandbox_benchmark_prints_start_and_per_command_costs_against_no_sandbox() -> None:
    """Four start rows, both terminal rows with the added cost and its ratio to the goal, and the memory line."""
    text = sandbox.main(runs=2, commands=2)
    check_common(text)
    starts, terminal = tables(text)
    assert len(starts) == 4 and all(number(r["runs"]) == 2 and number(r["median ms"]) > 0 for r in starts)
    assert starts[1]["added vs unsandboxed (median ms)"] and starts[3]["added vs unsandboxed (median ms)"]
    assert [r["agent terminal"].rsplit(", ", 1)[1] for r in terminal] == ["unsandboxed", "sandboxed"]
    number(terminal[1]["added per command (ms)"])
    assert number(terminal[1]["x goal (50 ms)"]) >= 0 and number(terminal[1]["idle shell PSS (MiB)"]) > 0
    assert "memory added by the sandbox per in-flight task" in text


async def test_environments_prints_baseline_cold_and_warm_builds_with_ratios() -> None:
    """pip baseline, cold builds (empty and warm uv cache) and warm reuse, each with a ratio and the goal line."""
    text = await environments.main(repeats=1)
    check_common(text)
    (rows,) = tables(text)
    assert [r["way"] for r in rows] == [
        "venv + pip install (baseline)",
        "Handoff cold, empty uv cache",
        "Handoff cold, uv cache warm",
        "Handoff warm (cache hit)",
    ]
    assert number(rows[0]["x baseline"]) == 1.0
    assert all(number(r["median s"]) >= 0 and number(r["x baseline"]) >= 0 for r in rows)
    assert "warm reuse: median" in text and "goal <= 1 s" in text


@pytest.mark.slow
def test_client_install_times_the_light_client_against_its_dependencies_and_sizes_both_installs() -> None:
    """Baseline, client import, CLI and start-up rows with ratios; no agent module in the light install."""
    text = client_install.main(repeats=1)
    check_common(text)
    timings, sizes = tables(text)
    assert number(timings[0]["x baseline"]) == 1.0 and timings[0]["what"].startswith("baseline")
    assert "handoff.client" in timings[1]["what"] and number(timings[1]["median s"]) > 0
    assert len(timings) == 5 and all(number(r["x baseline"]) > 0 for r in timings)
    assert 0 < number(sizes[0]["site-packages MiB"]) < number(sizes[1]["site-packages MiB"])
    assert "agent stack modules in the light install: none" in text


async def test_the_loop_profile_prints_messages_per_connection_and_the_top_functions() -> None:
    """Calls per task, messages out and in for the client, generator and collector, and the top entries."""
    text = await profile_loop.main(tasks=40, in_flight=8, top=5)
    check_common(text)
    assert "Python function calls per task" in text and "all succeeded" in text
    messages, top = tables(text)
    assert [r["connection"] for r in messages] == ["client", "generator", "collector"]
    assert all(number(r["messages out per task"]) > 0 for r in messages)
    assert len(top) == 5 and all(number(r["%"]) >= 0 for r in top)
