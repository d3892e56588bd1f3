"""A newcomer with no LLM configured: ``handoff up`` + ``submit`` + ``wait`` get real tests from the offline engine;
a malformed choice of test writer stops ``handoff up`` and ``handoff generator`` before they start (exit 2)."""

from __future__ import annotations

import ast
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.test_cli_as_a_user import Stack
from tests.runners.conftest import ENV_CACHE

NO_DOCTESTS = """
def clamp(x: int, lo: int, hi: int) -> int:
    if lo > hi:
        raise ValueError("lo > hi")
    if x < lo:
        return lo
    if x > hi:
        return hi
    return x


def grade(score: float) -> str:
    if score >= 90:
        return "A"
    if score >= 75:
        return "B"
    return "C"
"""
WRITER_VARIABLES = ("HANDOFF_LLM_MODEL", "HANDOFF_LLM_BASE_URL", "HANDOFF_SCRIPTED_MODEL", "HANDOFF_OFFLINE_ENGINES",
                    "HANDOFF_NATS_URL")  # fmt: skip


def user_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of a user who configured nothing about models (and a private data dir)."""
    env = {k: v for k, v in os.environ.items() if k not in WRITER_VARIABLES}
    env.update({
        "HANDOFF_DATA_DIR": str(tmp_path / "data"),
        "HANDOFF_EMBEDDED_PORT": "0",
        "HANDOFF_LOG_FORMAT": "json",
        "HANDOFF_WORK_DIR": str(tmp_path / "work"),
        "HANDOFF_ENV_CACHE_DIR": str(ENV_CACHE),
        "HANDOFF_SANDBOX": "bwrap",
        "HANDOFF_OFFLINE_ENGINE_S": "15",
        "HANDOFF_MUTATION_BUDGET_S": "0",  # the CLI path is under test; mutation: tests/runners, tests/demo
        "HANDOFF_RELIABILITY_RUNS": "1",
        **extra,
    })  # fmt: skip
    return env


@pytest.fixture
def offline_stack(tmp_path: Path) -> Iterator[tuple[Stack, list[str]]]:
    """``handoff up`` with no LLM settings; yields the stack and the lines it printed at start."""
    env = user_env(tmp_path)
    proc = subprocess.Popen(
        [sys.executable, "-m", "handoff.cli.main", "up", "--generators", "1", "--slots", "1"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    lines = [proc.stdout.readline()]
    assert lines[0].startswith("Handoff is up: nats "), lines[0]
    while not lines[-1].startswith("Ctrl-C") and lines[-1]:
        lines.append(proc.stdout.readline())
    yield Stack(env, proc, lines[0].split()[4].rstrip(","), 0), lines
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=90)
    proc.stdout.close()


def module_repo(root: Path) -> Path:
    repo = root / "repo"
    (repo / "calc").mkdir(parents=True)
    (repo / "calc" / "__init__.py").write_text("")
    (repo / "calc" / "ranges.py").write_text(NO_DOCTESTS)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t.invalid"]
    subprocess.run([*git, "init", "-q"], cwd=repo, check=True)
    subprocess.run([*git, "add", "-A"], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-qm", "base"], cwd=repo, check=True)
    return repo


def import_only_coverage(repo: Path, tmp_path: Path) -> float:
    """Line coverage of the module when it is only imported: what a doctest-less "import check" reaches."""
    data = str(tmp_path / "import-only.coverage")
    env = {**os.environ, "COVERAGE_FILE": data}
    subprocess.run([sys.executable, "-m", "coverage", "run", "--source=calc", "-m", "calc.ranges"],
                   cwd=repo, env=env, check=True)  # fmt: skip
    total = subprocess.run([sys.executable, "-m", "coverage", "report", "--format=total", "--precision=1"],
                           cwd=repo, env=env, capture_output=True, text=True, check=True)  # fmt: skip
    return float(total.stdout.strip())


@pytest.mark.slow
def test_with_nothing_configured_up_submit_wait_give_asserting_tests_from_the_offline_engine(
    offline_stack: tuple[Stack, list[str]], tmp_path: Path
) -> None:
    """No LLM, no scripted model: the task succeeds with the engines' tests, and nothing claims an LLM wrote them."""
    stack, started = offline_stack
    printed = "".join(started)
    assert "no LLM configured: using the offline engine: crosshair+pynguin" in printed, printed
    assert "task sandbox: bubblewrap" in printed, printed
    # a data dir of its own: the other commands must be given it (a user's submit went to the default, exit 4)
    assert f"  clients: HANDOFF_DATA_DIR={tmp_path / 'data'} finds this stack (or HANDOFF_NATS_URL={stack.url})\n" in (
        started
    ), printed
    repo = module_repo(tmp_path)

    submitted = stack.handoff("submit", "--repo", str(repo), "calc/ranges.py", "--run-id", "offline", "--json")
    assert submitted.returncode == 0, submitted.stderr
    task_id = json.loads(submitted.stdout)["tasks"][0]["task_id"]
    waited = stack.handoff("wait", "--run-id", "offline", "--timeout-s", "300", timeout_s=330)
    assert waited.returncode == 0, waited.stdout + waited.stderr

    shown = stack.handoff("result", task_id)
    assert shown.returncode == 0, shown.stderr
    written = stack.handoff("result", task_id, "--written")
    assert written.returncode == 0, written.stderr
    assert "def test" in written.stdout and "before they were judged" in written.stderr, written
    assert "offline engine: crosshair+pynguin" in shown.stdout and "llm" not in shown.stdout.lower(), shown.stdout
    finished = json.loads(stack.handoff("result", task_id, "--json").stdout)
    result = finished["result"]
    assert result["summary"].startswith("[offline engine: crosshair+pynguin] ")
    assert "llm" not in result["summary"].lower() and "model" not in result["summary"].lower(), result["summary"]
    assert result["sandbox"] == "bwrap"
    # no model: the usage is the engine's, not the token counts of the driver that types its commands
    assert result["usage"]["model"] == "offline engine: crosshair+pynguin", result["usage"]
    assert result["usage"].get("prompt_tokens", 0) == result["usage"].get("completion_tokens", 0) == 0
    assert result["coverage"][0]["percent"] > import_only_coverage(repo, tmp_path)

    patch = stack.handoff("result", task_id, "--patch")
    assert patch.returncode == 0 and "tests/test_ranges.py" in patch.stdout
    assert stack.handoff("result", task_id, "--apply", str(repo)).returncode == 0
    tree = ast.parse((repo / "tests" / "test_ranges.py").read_text())
    tests = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")]
    # the engines' tests, named after the function they call
    assert any(n.name.startswith(("test_clamp", "test_grade")) for n in tests), [n.name for n in tests]
    assert sum(isinstance(node, ast.Assert) for node in ast.walk(tree)) >= 3
    check = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=repo,
                           capture_output=True, text=True, check=False)  # fmt: skip
    assert check.returncode == 0, check.stdout


@pytest.mark.parametrize("verb", ["up", "generator"])
@pytest.mark.parametrize(
    ("variable", "value"), [("HANDOFF_SCRIPTED_MODEL", "sometimes"), ("HANDOFF_OFFLINE_ENGINES", "crosshare")]
)
def test_a_malformed_test_writer_setting_stops_the_verb_with_exit_2_naming_the_variable(
    verb: str, variable: str, value: str, tmp_path: Path
) -> None:
    """A typo in how tests get written is a start-up error, never a stack that fails every task later."""
    done = subprocess.run(
        [sys.executable, "-m", "handoff.cli.main", verb], env=user_env(tmp_path, **{variable: value}),
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    assert variable in done.stderr and value in done.stderr, done.stderr
    assert "Handoff is up" not in done.stdout
