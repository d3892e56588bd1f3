"""The test-quality benchmark at a tiny size (one module, short engine limits, a real project venv built with uv),
plus its corpus copying and its goal verdict on known figures. Structure and consistency only, never speed."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import quality
from benchmarks.quality_corpus import CORPUS, TOOLS, make_project, package_dir
from handoff.assurance.coverage_runs import TargetCoverage
from handoff.assurance.settings import MUTATION_PACKAGES, AssuranceSettings
from handoff.offline_engine.settings import ENGINE_PACKAGES
from tests.benchmarks.test_benchmarks import check_common, number, tables


def test_the_corpus_has_ten_real_modules_and_copies_each_package_without_its_own_tests(tmp_path: Path) -> None:
    """Every corpus module exists in its installed package; the copy has the module and no test files of its own."""
    assert len(CORPUS) >= 10
    for module in CORPUS:
        assert (package_dir(module) / module.module).is_file(), module.target
    shortuuid = next(m for m in CORPUS if m.package == "shortuuid")
    assert (package_dir(shortuuid) / "test_shortuuid.py").exists()  # the installed package ships a test module
    root = make_project(shortuuid, tmp_path / "project")
    assert (root / shortuuid.target).read_text() == (package_dir(shortuuid) / shortuuid.module).read_text()
    assert not list(root.rglob("test_*.py")) and (root / "tests").is_dir()
    assert 'name = "shortuuid-copy"' in (root / "pyproject.toml").read_text()


def test_the_benchmark_venv_gets_the_engine_versions_the_offline_engine_installs() -> None:
    """The engines alone are measured at the versions Handoff's project environments get, not whatever resolves."""
    assert {ENGINE_PACKAGES["crosshair"], ENGINE_PACKAGES["pynguin"], *MUTATION_PACKAGES} <= set(TOOLS)
    assert all(any(op in tool for op in "<>=") for tool in TOOLS if tool not in ("pytest", "coverage"))


def _result(line_cov: tuple[int, int], mutation: dict[str, float]) -> quality.ModuleResult:
    """Three columns whose coverage is ``executed`` of 10 statements, no branches, and the given mutation scores."""
    columns = {}
    for name in quality.COLUMNS:
        executed = line_cov[0] if name == "handoff" else line_cov[1]
        cov = TargetCoverage(statements=frozenset(range(10)), executed=frozenset(range(executed)))
        columns[name] = quality.Column(coverage=cov, mutation_pct=mutation[name])
    return quality.ModuleResult(CORPUS[0], columns)


def test_the_goal_is_met_only_when_handoff_matches_the_better_engine_on_both_medians() -> None:
    """Coverage at least the better engine's and mutation score at least the better engine's: MET; either lower: NOT."""
    equal = [_result((8, 8), {"crosshair": 50.0, "pynguin": 60.0, "handoff": 60.0})]
    assert "MET;" in quality.verdict(equal)
    weaker_mutation = [_result((9, 8), {"crosshair": 50.0, "pynguin": 60.0, "handoff": 55.0})]
    text = quality.verdict(weaker_mutation)
    assert "NOT met" in text and "mutation score 55.0 % vs Pynguin alone 60.0 % (below)" in text
    lower_coverage = [_result((7, 8), {"crosshair": 50.0, "pynguin": 60.0, "handoff": 90.0})]
    assert "NOT met" in quality.verdict(lower_coverage) and "(below)" in quality.verdict(lower_coverage)


@pytest.mark.slow
@pytest.mark.timeout(1200)
async def test_the_quality_benchmark_prints_one_row_per_module_and_the_median(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One module end to end: every column's cells are numbers, the median row and the goal verdict are printed."""
    monkeypatch.delenv("HANDOFF_LLM_MODEL", raising=False)
    # the smallest limits the benchmark accepts, one re-run: the table's shape is under test, not the engines
    assurance = AssuranceSettings(reliability_runs=1, mutation_budget_s=3.0)
    text = await quality.main(modules=1, engine_s=5.0, mutation_budget_s=3.0, venv=tmp_path / "venv",
                              assurance=assurance)  # fmt: skip
    check_common(text)
    (table,) = tables(text)
    assert [r["module"] for r in table] == ["dateutil/easter.py", "**median of 1**"]
    row, median_row = table
    for short in ("CrossHair", "Pynguin", "Handoff"):
        cov = number(row[f"{short} L+B % (line/branch)"])
        assert 0 <= cov <= 100 and cov == number(median_row[f"{short} L+B % (line/branch)"])
        assert number(row[f"{short} s"]) > 0
    assert row["Handoff + real model"] == "not run"
    assert "not run: no HANDOFF_LLM_MODEL" in text
    assert "goal (median line+branch coverage and mutation score" in text
    kept, dropped = (int(part) for part in row["Handoff kept / dropped"].split("/"))
    assert kept >= 0 and dropped >= 0
