"""The installed package: one distinctive import name, a light client, nothing that shadows a user's own packages."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from benchmarks.client_install import AGENT_STACK, light_install
from tests.support.net import free_port, free_port_range

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def light_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv with the wheel of this tree installed without extras (what `pip install handoff` gives)."""
    return light_install(tmp_path_factory.mktemp("wheel")).parent.parent


def run_python(venv: Path, code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run([str(venv / "bin" / "python"), "-c", textwrap.dedent(code)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip


def test_a_project_with_its_own_services_and_schemas_packages_imports_both_and_the_client(
    light_venv: Path, tmp_path: Path
) -> None:
    """Next to a project that has `services/` and `schemas/` packages, both and Handoff's client import side by side."""
    for name in ("services", "schemas"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text(f"OWNER = 'the project {name}'\n")
    done = run_python(light_venv, """
        import services, schemas
        from handoff.client import HandoffClient
        from handoff.schemas.events import TaskSubmitted
        print(services.OWNER, '|', schemas.OWNER, '|', HandoffClient.__name__, TaskSubmitted.__name__)
    """, tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "the project services | the project schemas | HandoffClient TaskSubmitted"


def test_the_light_client_imports_nothing_of_the_agent_stack_and_its_cli_runs(light_venv: Path, tmp_path: Path) -> None:
    """`pip install handoff` brings no agent SDK or LLM library; the client and `handoff submit --help` work."""
    done = run_python(light_venv, f"""
        import importlib.util, sys, time
        started = time.perf_counter()
        import handoff.client
        import handoff.cli.main
        took = time.perf_counter() - started
        print(sorted(m for m in {AGENT_STACK!r} if importlib.util.find_spec(m) is not None))
        print(sorted({{m.split('.')[0] for m in sys.modules}} & set({AGENT_STACK!r})))
        print(f"import {{took:.3f}} s")
    """, tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    installed, imported, timing = done.stdout.splitlines()
    assert installed == "[]" and imported == "[]", done.stdout
    print(timing)
    cli = subprocess.run([str(light_venv / "bin" / "handoff"), "submit", "--help"], capture_output=True, text=True,
                         timeout=60, cwd=tmp_path)  # fmt: skip
    assert cli.returncode == 0 and "--run-id" in cli.stdout, cli.stderr


def test_a_service_verb_without_the_generator_extra_names_the_install_instead_of_a_traceback(
    light_venv: Path, tmp_path: Path
) -> None:
    """`handoff up` from the light install exits 2 with the pip command that adds the services."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HANDOFF_")} | {"HANDOFF_DATA_DIR": str(tmp_path)}
    done = subprocess.run([str(light_venv / "bin" / "handoff"), "up"], capture_output=True, text=True, timeout=60,
                          cwd=tmp_path, env=env)  # fmt: skip
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "pip install 'handoff[generator]'" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_light_client_submits_waits_and_reads_results_from_a_running_stack(
    light_venv: Path, tmp_path: Path
) -> None:
    """A pipeline with only `pip install handoff`: the CLI's submit/wait/result/status and the Python client work
    against a stack that a full install runs; the Python client, given no URL, finds it where `handoff up` recorded
    its address (its port was picked at random), as the commands do."""
    health = free_port_range(2)  # the collector's port and the generator's after it
    stack_env = {k: v for k, v in os.environ.items() if k not in ("HANDOFF_NATS_URL", "HANDOFF_LLM_MODEL")}
    stack_env |= {"HANDOFF_DATA_DIR": str(tmp_path / "data"), "HANDOFF_EMBEDDED_PORT": "0",
                  "HANDOFF_WORK_DIR": str(tmp_path / "work"), "HANDOFF_LOG_FORMAT": "json"}  # fmt: skip
    up = subprocess.Popen([sys.executable, "-m", "handoff.cli.main", "up", "--generators", "1", "--slots", "2",
                           "--health-base-port", str(health)], env=stack_env, stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL, text=True)  # fmt: skip
    try:
        assert up.stdout is not None
        first = up.stdout.readline()
        assert first.startswith("Handoff is up: nats "), first
        url = first.split()[4].rstrip(",")
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV") and
               not k.startswith("HANDOFF_")} | {"HANDOFF_NATS_URL": url}  # fmt: skip

        def light(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run([str(light_venv / "bin" / "handoff"), *args], env=env, cwd=tmp_path,
                                  capture_output=True, text=True, timeout=120, check=False)  # fmt: skip

        submitted = light("submit", "--sleep-s", "0", "--count", "2", "--run-id", "light-run", "--json")
        assert submitted.returncode == 0, submitted.stderr
        task_ids = [t["task_id"] for t in json.loads(submitted.stdout)["tasks"]]
        waited = light("wait", "--run-id", "light-run", "--timeout-s", "90")
        assert waited.returncode == 0 and "2 succeeded" in waited.stdout, waited.stdout + waited.stderr
        result = light("result", task_ids[0], "--json")
        assert result.returncode == 0 and json.loads(result.stdout)["status"] == "succeeded", result.stdout
        assert light("status").returncode == 0
        api_env = {k: v for k, v in env.items() if k != "HANDOFF_NATS_URL"}  # no URL: the up's record, nothing else
        api_env |= {"HANDOFF_DATA_DIR": str(tmp_path / "data"), "HANDOFF_EMBEDDED_PORT": str(free_port())}
        done = subprocess.run([str(light_venv / "bin" / "python"), "-c", textwrap.dedent("""
            import asyncio
            from handoff.client import HandoffClient
            from handoff.schemas.events import Sleep

            async def main():
                async with HandoffClient.connect() as client:
                    task_id = await client.submit(Sleep(duration_s=0))
                    finished = await client.result(task_id, timeout=60)
                    print(finished.status)

            asyncio.run(main())
        """)], env=api_env, cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
        assert done.returncode == 0 and done.stdout.strip() == "succeeded", done.stderr
    finally:
        up.send_signal(signal.SIGINT)
        up.wait(timeout=90)
        if up.stdout is not None:
            up.stdout.close()
