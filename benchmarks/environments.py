"""Project environments: building one cold vs reusing it warm, against a plain ``venv`` + ``pip install``.

    python -m benchmarks.environments [--repeats 5]

The project is a small pyproject.toml declaring three dependencies (toolz, python-slugify with its
text-unidecode, attrs); every way installs them plus pytest and coverage from this machine's configured index.

1. baseline: ``python -m venv`` then ``python -m pip install`` (what a runner without uv would do), once;
2. Handoff cold, empty uv package cache: ``ProjectEnvironments.prepare`` on an empty environment cache, with a
   fresh ``UV_CACHE_DIR`` (a replica's first task ever), once;
3. Handoff cold, uv package cache warm: an empty environment cache, uv's downloads already cached (a replica's
   first task of a project with new dependencies), ``repeats`` times;
4. Handoff warm: the environment is in the cache (every further task of the project), ``repeats`` times.

The goal: warm reuse within 1 s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.harness import header, median, quiet_logs
from handoff.environments import EnvSettings, ProjectEnvironments
from handoff.environments.installer import TOOL_PACKAGES

DEPENDENCIES = ("toolz", "python-slugify", "attrs")
WARM_GOAL_S = 1.0


def make_project(root: Path) -> Path:
    root.mkdir(parents=True)
    deps = ", ".join(f'"{d}"' for d in DEPENDENCIES)
    (root / "pyproject.toml").write_text(f'[project]\nname = "bench"\nversion = "0"\ndependencies = [{deps}]\n')
    return root


def pip_baseline(work: Path) -> float:
    started = time.monotonic()
    venv = work / "pip-venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True, timeout=600)
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", *DEPENDENCIES, *TOOL_PACKAGES],
                   check=True, capture_output=True, timeout=900)  # fmt: skip
    return time.monotonic() - started


async def prepare_once(cache_dir: Path, project: Path) -> tuple[float, bool]:
    environments = ProjectEnvironments(EnvSettings(cache_dir=cache_dir))
    await environments.index()  # pip's configuration is read once per replica, not per task
    started = time.monotonic()
    env = await environments.prepare(project)
    env.release()
    return time.monotonic() - started, env.cache_hit


async def main(repeats: int = 5, *, baseline: bool = True) -> str:
    with tempfile.TemporaryDirectory(prefix="handoff-bench-env-") as tmp:
        work = Path(tmp)
        project = make_project(work / "project")
        base_s = await asyncio.to_thread(pip_baseline, work) if baseline else float("nan")
        saved = os.environ.get("UV_CACHE_DIR")
        os.environ["UV_CACHE_DIR"] = str(work / "uv-cache")
        try:
            empty_uv_s, _ = await prepare_once(work / "cache-empty-uv", project)
        finally:
            if saved is None:
                os.environ.pop("UV_CACHE_DIR", None)
            else:
                os.environ["UV_CACHE_DIR"] = saved
        cold = [(await prepare_once(work / f"cache-cold-{i}", project))[0] for i in range(repeats)]
        warm_runs = [await prepare_once(work / "cache-cold-0", project) for _ in range(repeats)]
    assert all(hit for _s, hit in warm_runs), "a warm run rebuilt the environment"
    warm = [s for s, _hit in warm_runs]

    def row(way: str, runs: int, values: list[float]) -> str:
        ratio = f"{median(values) / base_s:.4f}" if base_s == base_s else "n/a"  # NaN: no baseline run
        return f"| {way} | {runs} | {median(values):.3f} | {min(values):.3f} | {ratio} |"

    lines = [
        header(
            "Project environments",
            f"build cold vs reuse warm; dependencies {', '.join(DEPENDENCIES)} + {', '.join(TOOL_PACKAGES)}",
        ),
        "| way | runs | median s | min s | x baseline |",
        "|---|---|---|---|---|",
        row("venv + pip install (baseline)", 1, [base_s])
        if baseline
        else "| venv + pip install (baseline) | 0 | n/a | n/a | n/a |",
        row("Handoff cold, empty uv cache", 1, [empty_uv_s]),
        row("Handoff cold, uv cache warm", repeats, cold),
        row("Handoff warm (cache hit)", repeats, warm),
        "",
        f"warm reuse: median {median(warm):.3f} s (goal <= {WARM_GOAL_S:g} s): "
        f"{'met' if median(warm) <= WARM_GOAL_S else 'NOT met'}",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    options = parser.parse_args()
    quiet_logs()
    print(asyncio.run(main(options.repeats)))
