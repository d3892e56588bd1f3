"""The workflow file: parsed strictly, with errors that name the problem; targets discovered like the seed did."""

from __future__ import annotations

from pathlib import Path

import pytest

from handoff.workflow.config import Mode, StageKind, WorkflowConfigError, WorkflowSpec, parse_workflow
from handoff.workflow.discovery import discover_targets
from handoff.workflow.prediction import predict_wall_s

EXAMPLE = """
[workflow]
component = "src/pkg"
join_timeout_s = 60

[[stages]]
name = "testing"
run = "true"

[[stages]]
name = "test-generation"
kind = "generate_tests"

[[stages]]
name = "refactoring"
call = "mypkg.steps:refactor"

[[stages]]
name = "deploy"
run = "true"
needs_generated_tests = true
"""


def test_a_valid_workflow_file_parses_into_typed_stages() -> None:
    """Stages keep their order, kinds and flags; workflow settings keep their values."""
    wf = parse_workflow(EXAMPLE)
    assert [s.name for s in wf.stages] == ["testing", "test-generation", "refactoring", "deploy"]
    assert wf.stages[1].kind == StageKind.GENERATE_TESTS
    assert wf.stages[3].needs_generated_tests
    assert wf.workflow.join_timeout_s == 60


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[[stages]]\nname = 'a'\n", "exactly one of 'run' or 'call'"),
        ("[[stages]]\nname = 'a'\nrun = 'x'\ncall = 'm:f'\n", "exactly one of 'run' or 'call'"),
        ("[[stages]]\nname = 'a'\ncall = 'nocolon'\n", "module:function"),
        ("[[stages]]\nname = 'a'\nrun = 'x'\n[[stages]]\nname = 'a'\nrun = 'y'\n", "unique"),
        ("[[stages]]\nname = 'a'\nrun = 'x'\ncolour = 'red'\n", "colour"),
        ("stages = 3", "Expected `array`"),
        ("[[stages]\n", "not valid TOML"),
        (
            "[[stages]]\nname='d'\nrun='x'\nneeds_generated_tests=true\n[[stages]]\nname='g'\nkind='generate_tests'\n",
            "waits for tests generated after it",
        ),
    ],
)
def test_invalid_workflow_files_are_rejected_with_the_reason(text: str, fragment: str) -> None:
    """Each mistake in a workflow file produces a WorkflowConfigError that says what is wrong."""
    with pytest.raises(WorkflowConfigError) as info:
        parse_workflow(text)
    assert fragment in str(info.value)


def test_discovery_finds_every_non_test_module_under_the_component(tmp_path: Path) -> None:
    """__init__, test_*.py, *_test.py, conftest and tests/ folders are skipped; the rest is sorted."""
    pkg = tmp_path / "src" / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "tests").mkdir()
    for name in ["__init__.py", "a.py", "test_a.py", "b_test.py", "conftest.py", "sub/c.py", "tests/d.py"]:
        (pkg / name).write_text("x = 1\n")
    wf = parse_workflow(EXAMPLE)
    assert discover_targets(tmp_path, wf.workflow) == ["src/pkg/a.py", "src/pkg/sub/c.py"]


def test_listed_targets_must_exist(tmp_path: Path) -> None:
    """A listed target that is not a file is an error naming it."""
    wf = parse_workflow("[workflow]\ntargets = ['nope.py']\n[[stages]]\nname='g'\nkind='generate_tests'\n")
    with pytest.raises(WorkflowConfigError, match=r"nope\.py"):
        discover_targets(tmp_path, wf.workflow)


def test_the_critical_path_model_overlaps_generation_with_later_stages() -> None:
    """Blocking adds N generations; non-blocking overlaps ceil(N/K) waves with the stages before the join."""
    wf = parse_workflow(EXAMPLE)
    durations = {"testing": 1.0, "refactoring": 2.0, "deploy": 0.5}
    blocking = predict_wall_s(wf.stages, durations, modules=8, generation_s=3.0, slots=4, mode=Mode.BLOCKING)
    overlapped = predict_wall_s(wf.stages, durations, modules=8, generation_s=3.0, slots=4, mode=Mode.NON_BLOCKING)
    assert blocking == 1.0 + 2.0 + 0.5 + 8 * 3.0
    assert overlapped == 1.0 + max(2.0, 2 * 3.0) + 0.5
    short = predict_wall_s(wf.stages, durations, modules=2, generation_s=0.5, slots=4, mode=Mode.NON_BLOCKING)
    assert short == 1.0 + 2.0 + 0.5  # generation hidden entirely behind refactoring


def test_discovery_keeps_an_init_with_code_and_skips_entry_points(tmp_path: Path) -> None:
    """An __init__.py defining functions is a target; __main__.py and __version__.py are not."""
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("def helper():\n    return 1\n")
    (pkg / "__main__.py").write_text("def main():\n    pass\n")
    (pkg / "__version__.py").write_text("__version__ = '1.0'\n")
    (pkg / "core.py").write_text("def f():\n    return 2\n")
    assert discover_targets(tmp_path, WorkflowSpec(component="pkg")) == ["pkg/__init__.py", "pkg/core.py"]


def test_a_component_may_be_a_dotted_module_path(tmp_path: Path) -> None:
    """'pkg.sub' names the folder pkg/sub; 'pkg.core' names the single module pkg/core.py."""
    (tmp_path / "pkg" / "sub").mkdir(parents=True)
    (tmp_path / "pkg" / "sub" / "a.py").write_text("def a():\n    pass\n")
    (tmp_path / "pkg" / "core.py").write_text("def f():\n    pass\n")
    assert discover_targets(tmp_path, WorkflowSpec(component="pkg.sub")) == ["pkg/sub/a.py"]
    assert discover_targets(tmp_path, WorkflowSpec(component="pkg.core")) == ["pkg/core.py"]


def test_discovery_leaves_out_suite_modules_packaging_scripts_and_docs(tmp_path: Path) -> None:
    """roman 4.2: '--component src' gave src/tests.py (its unittest suite) a task; '--component .' added setup.py,
    and on itsdangerous 2.2.0 docs/conf.py."""
    for name in ["src/roman.py", "src/tests.py", "setup.py", "noxfile.py", "docs/conf.py", "test/helpers.py"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("def f():\n    return 1\n")
    assert discover_targets(tmp_path, WorkflowSpec(component="src")) == ["src/roman.py"]
    assert discover_targets(tmp_path, WorkflowSpec(component=".")) == ["src/roman.py"]
