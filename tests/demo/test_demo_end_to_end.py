"""``handoff demo`` as a newcomer runs it: no LLM configured, real tests from the offline engine, exit code 0."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.runners.conftest import ENV_CACHE

WRITER_VARIABLES = (
    "HANDOFF_LLM_MODEL",
    "HANDOFF_LLM_BASE_URL",
    "HANDOFF_SCRIPTED_MODEL",
    "HANDOFF_OFFLINE_ENGINES",
    "HANDOFF_OFFLINE_ENGINE_S",
    "HANDOFF_MUTATION_BUDGET_S",
    "HANDOFF_NATS_URL",
)
# Half the demo's own limits (30 s per engine and target, 30 s of mutation testing per task): enough for the
# sample's small modules, and the whole path still runs: both engines, the filters, mutation testing, the report.
# That the demo sets its limits and keeps a user's is tested in test_demo_parts.py.
ENGINE_S, MUTATION_BUDGET_S = "15", "15"


@pytest.mark.slow
@pytest.mark.timeout(480)  # the demo's own --timeout-s and the subprocess' timeout below, plus start-up
def test_the_demo_without_an_llm_writes_engine_tests_for_the_sample_and_reports_each_module(tmp_path: Path) -> None:
    """Sample tests come from CrossHair/Pynguin and pass; every module, the real-world one too, gets its lines."""
    env = {k: v for k, v in os.environ.items() if k not in WRITER_VARIABLES}
    env.update({"HANDOFF_DATA_DIR": str(tmp_path / "data"), "HANDOFF_ENV_CACHE_DIR": str(ENV_CACHE),
                "HANDOFF_SANDBOX": "bwrap", "HANDOFF_OFFLINE_ENGINE_S": ENGINE_S,
                "HANDOFF_MUTATION_BUDGET_S": MUTATION_BUDGET_S})  # fmt: skip
    work = tmp_path / "demo"
    done = subprocess.run(
        [sys.executable, "-m", "handoff.cli.main", "demo", "--workdir", str(work), "--timeout-s", "360"],
        env=env, capture_output=True, text=True, timeout=420, check=False,
    )  # fmt: skip
    out = done.stdout
    assert done.returncode == 0, out + done.stderr[-3000:]
    assert "using the offline engine: crosshair+pynguin - real test generators that need no LLM" in out, out
    assert "SCRIPTED" not in out and "tasks run in a bubblewrap sandbox" in out
    for target in ("inventory/pricing.py", "inventory/stock.py"):
        assert f"{target}: succeeded" in out, out
    assert "inflection/__init__.py: " in out, out  # shown whatever its outcome, with a reason if it failed
    assert out.count("tests kept: ") >= 2 and out.count("mutation score: ") >= 2, out
    assert out.count("summary: [offline engine: crosshair+pynguin]") >= 2, out
    assert "demo finished: the sample project's tests were generated and pass" in out
    for name in ("pricing", "stock"):
        tree = ast.parse((work / "sample" / "tests" / f"test_{name}.py").read_text())
        tests = [n.name for n in tree.body if isinstance(n, ast.FunctionDef)]
        # the engines name each test after the function or class of the module it calls
        subjects = public_names(work / "sample" / "inventory" / f"{name}.py")
        assert any(t.startswith(tuple(f"test_{s}" for s in subjects)) for t in tests), (tests, subjects)
        assert sum(isinstance(n, ast.Assert) for n in ast.walk(tree)) >= 2


def public_names(module: Path) -> list[str]:
    """The module's public functions and classes, snake case (``StockLevel`` -> ``stock_level``)."""
    tree = ast.parse(module.read_text())
    names = [n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.ClassDef) and not n.name.startswith("_")]
    return [re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower() for name in names]
