"""The task prompt, its parseable target block, and the runner's settings (secrets stay secret)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from handoff.assurance.testbed import TestBed
from handoff.common.env import SettingsError
from handoff.runners.openhands.layout import assign_test_files
from handoff.runners.openhands.prompt import conventions, parse_targets, task_prompt
from handoff.runners.openhands.settings import RunnerSettings
from handoff.schemas.events import GenerateTests, SourceSnapshot
from tests.runners.conftest import API_KEY, SAMPLE

SOURCE = SourceSnapshot(digest="a" * 64, size_bytes=1, files=1)


def test_each_target_gets_a_test_file_and_colliding_stems_get_their_package() -> None:
    """pkg/calc.py -> tests/test_calc.py; two utils.py get distinct names; a package __init__ is named after it."""
    assignments = assign_test_files(["pkg/calc.py", "a/utils.py", "b/utils.py", "pkg/__init__.py"], "tests")
    assert [a.test_file for a in assignments] == [
        "tests/test_calc.py",
        "tests/test_a_utils.py",
        "tests/test_b_utils.py",
        "tests/test_pkg.py",
    ]


def test_a_test_file_name_the_project_already_uses_elsewhere_is_given_as_that_file(tmp_path: Path) -> None:
    """hashids 1.3.1: test/test_hashids.py exists, so hashids.py is assigned that file, not a second
    tests/test_hashids.py (pytest's default import mode cannot collect both); files in environments are ignored,
    and a new file goes into the project's test/ too."""
    (tmp_path / "test").mkdir()
    (tmp_path / "test" / "test_hashids.py").write_text("def test_x():\n    pass\n")
    (tmp_path / "venv" / "lib").mkdir(parents=True)
    (tmp_path / "venv" / "lib" / "test_calc.py").write_text("")
    assignments = assign_test_files(["hashids.py", "calc.py"], "tests", tmp_path)
    assert [a.test_file for a in assignments] == ["test/test_hashids.py", "test/test_calc.py"]


def toolz_tree(root: Path, *files: str) -> Path:
    """toolz 1.0.0's shape: the package with its tests inside (toolz/tests/), no top-level tests/."""
    for name in ("toolz/__init__.py", "toolz/dicttoolz.py", "toolz/sandbox/__init__.py", "toolz/sandbox/core.py",
                 "toolz/tests/test_dicttoolz.py", *files):  # fmt: skip
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("")
    return root


def test_a_package_that_keeps_its_tests_inside_gets_them_there_named_after_the_path_from_the_package(
    tmp_path: Path,
) -> None:
    """toolz: dicttoolz.py extends toolz/tests/test_dicttoolz.py; sandbox/core.py gets a new
    toolz/tests/test_sandbox_core.py (upstream's toolz/sandbox/tests/test_core.py shares no name with it)."""
    workspace = toolz_tree(tmp_path)
    assignments = assign_test_files(["toolz/dicttoolz.py", "toolz/sandbox/core.py"], "tests", workspace)
    assert [a.test_file for a in assignments] == ["toolz/tests/test_dicttoolz.py", "toolz/tests/test_sandbox_core.py"]


def test_the_test_folder_nearest_the_target_is_used_and_its_module_named_like_the_target_is_extended(
    tmp_path: Path,
) -> None:
    """With toolz/sandbox/tests/ in the snapshot, sandbox/core.py's tests go there (its test_core.py extended),
    while dicttoolz.py's stay in toolz/tests/."""
    workspace = toolz_tree(tmp_path, "toolz/sandbox/tests/test_core.py")
    assignments = assign_test_files(["toolz/sandbox/core.py", "toolz/dicttoolz.py"], "tests", workspace)
    assert [a.test_file for a in assignments] == ["toolz/sandbox/tests/test_core.py", "toolz/tests/test_dicttoolz.py"]


def test_a_top_level_tests_folder_comes_first_and_a_test_dir_the_task_names_is_used_as_given(tmp_path: Path) -> None:
    """A top-level tests/ (src layout) wins over one inside the package; a test_dir other than the default
    ``tests`` is used even where the project has another folder."""
    workspace = toolz_tree(tmp_path, "tests/test_other.py")
    assert [a.test_file for a in assign_test_files(["toolz/sandbox/core.py"], "tests", workspace)] == [
        "tests/test_core.py"
    ]
    assert [a.test_file for a in assign_test_files(["toolz/sandbox/core.py"], "checks", workspace)] == [
        "checks/test_core.py"
    ]


def test_the_prompt_says_how_a_package_test_folder_imports_the_code_under_test(tmp_path: Path) -> None:
    """toolz/tests/ with an __init__.py whose modules import relatively: the prompt names the package and shows
    their import to follow; without __init__.py it says the new module's name must be unique."""
    workspace = toolz_tree(tmp_path)
    (workspace / "toolz/tests/test_dicttoolz.py").write_text(
        "from ..dicttoolz import merge\n\n\ndef test_m():\n    pass\n"
    )
    payload = GenerateTests(source=SOURCE, targets=["toolz/sandbox/core.py"])
    assignments = assign_test_files(payload.targets, payload.test_dir, workspace)
    unpackaged = task_prompt(payload, workspace, assignments)
    assert "toolz/tests/ has no __init__.py: pytest imports its modules by file name" in unpackaged
    (workspace / "toolz/tests/__init__.py").write_text("")
    packaged = task_prompt(payload, workspace, assignments)
    assert (
        "toolz/tests/ is the package toolz.tests (it has an __init__.py); its test modules import the code under "
        "test as toolz/tests/test_dicttoolz.py does: `from ..dicttoolz import merge`" in packaged
    )
    assert "conftest.py in toolz/tests/, and the" in packaged


def test_the_prompt_names_workspace_targets_goal_and_instructions_and_parses_back(tmp_path: Path) -> None:
    """Everything the task asks for is in the prompt, and the target block parses back exactly."""
    workspace = tmp_path / "ws"
    shutil.copytree(SAMPLE, workspace)
    payload = GenerateTests(
        source=SOURCE, targets=["shapes/geometry.py"], coverage_goal_pct=90, instructions="Use hypothesis."
    )
    assignments = assign_test_files(payload.targets, payload.test_dir)
    prompt = task_prompt(payload, workspace, assignments)
    assert "at least 90 % line coverage" in prompt and "Use hypothesis." in prompt
    assert "tests/test_package.py" in prompt, "existing tests should be shown as conventions"
    assert parse_targets(prompt) == (workspace, assignments)


def test_conventions_recognise_unittest_style_and_conftest(tmp_path: Path) -> None:
    """A project of unittest classes with a conftest is described as such."""
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "conftest.py").write_text("import pytest\n")
    (tmp_path / "tests" / "test_x.py").write_text("import unittest\n\nclass T(unittest.TestCase):\n    pass\n")
    text = conventions(tmp_path, "tests")
    assert "unittest.TestCase" in text and "conftest.py defines shared fixtures" in text


def test_settings_read_the_key_from_a_file_and_never_show_it(tmp_path: Path) -> None:
    """HANDOFF_LLM_API_KEY_FILE is read; repr and str of the settings mask the key."""
    key_file = tmp_path / "key"
    key_file.write_text(API_KEY + "\n")
    settings = RunnerSettings.from_env(
        {
            "HANDOFF_LLM_MODEL": "openai/gpt-4o-mini",
            "HANDOFF_LLM_API_KEY_FILE": str(key_file),
            "HANDOFF_LLM_FALLBACK_MODELS": "openai/a, openai/b",
            "HANDOFF_AGENT_MAX_BUDGET_USD": "0.5",
            "HANDOFF_FEEDBACK_ROUNDS": "3",
            "HANDOFF_AGENT_MAX_TOKENS": "50000",
        }
    )
    assert settings.llm.api_key is not None and settings.llm.api_key.get_secret_value() == API_KEY
    assert settings.llm.models == ("openai/gpt-4o-mini", "openai/a", "openai/b")
    assert (settings.max_budget_usd, settings.feedback_rounds, settings.max_tokens) == (0.5, 3, 50_000)
    assert API_KEY not in repr(settings) and API_KEY not in str(settings.llm)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"HANDOFF_LLM_MODEL": "m", "HANDOFF_LLM_API_KEY": "k", "HANDOFF_LLM_API_KEY_FILE": "/x"}, "not both"),
        ({"HANDOFF_LLM_MODEL": "m", "HANDOFF_LLM_API_KEY_FILE": "/nonexistent/key"}, "cannot be read"),
        ({"HANDOFF_LLM_MODEL": "m", "HANDOFF_SCRIPTED_MODEL": "true"}, "choose one"),
        ({"HANDOFF_LLM_MODEL": "m", "HANDOFF_AGENT_MAX_ITERATIONS": "0"}, "HANDOFF_AGENT_MAX_ITERATIONS"),
        ({"HANDOFF_LLM_MODEL": "m", "HANDOFF_LLM_API_MODE": "fast"}, "HANDOFF_LLM_API_MODE"),
        ({"HANDOFF_LLM_MODEL": "m", "HANDOFF_AGENT_MAX_TOKENS": "-1"}, "HANDOFF_AGENT_MAX_TOKENS"),
        ({"HANDOFF_SCRIPTED_MODEL": "maybe"}, "HANDOFF_SCRIPTED_MODEL"),
        ({"HANDOFF_OFFLINE_ENGINES": "crosshair,crosshair"}, "HANDOFF_OFFLINE_ENGINES"),
    ],
)
def test_contradictory_or_invalid_settings_are_refused_by_name(env: dict[str, str], message: str) -> None:
    """Bad settings fail at start with the variable's name, never half-configured."""
    with pytest.raises(SettingsError, match=message):
        RunnerSettings.from_env(env)


def test_a_zero_budget_means_no_budget_and_the_default_work_dir_is_temporary() -> None:
    """HANDOFF_AGENT_MAX_BUDGET_USD=0 disables the cap; without HANDOFF_WORK_DIR tasks go to the temp dir."""
    settings = RunnerSettings.from_env({"HANDOFF_SCRIPTED_MODEL": "1", "HANDOFF_AGENT_MAX_BUDGET_USD": "0"})
    assert settings.max_budget_usd is None and settings.scripted_model
    assert settings.max_tokens is None  # no token cap unless HANDOFF_AGENT_MAX_TOKENS is set (> 0)
    assert settings.workspace_root.name == "handoff-tasks"


def test_validation_and_every_assurance_command_share_one_pytest_timeout_set_or_not(tmp_path: Path) -> None:
    """HANDOFF_PYTEST_TIMEOUT_S unset: 120 s for validation, the checks and a TestBed alike; set: all move."""
    unset = RunnerSettings.from_env({})
    assert unset.pytest_timeout_s == unset.assurance.command_timeout_s == 120.0
    assert TestBed(root=tmp_path, python=Path(sys.executable), scratch=tmp_path / "scratch").timeout_s == 120.0
    chosen = RunnerSettings.from_env({"HANDOFF_PYTEST_TIMEOUT_S": "45"})
    assert chosen.pytest_timeout_s == chosen.assurance.command_timeout_s == 45.0
    with pytest.raises(SettingsError, match="HANDOFF_PYTEST_TIMEOUT_S"):
        RunnerSettings.from_env({"HANDOFF_PYTEST_TIMEOUT_S": "0"})


def test_with_nothing_configured_the_offline_engine_writes_the_tests_and_says_so() -> None:
    """No LLM and no scripted model: the offline engine stands in, and its label names it, never a model."""
    settings = RunnerSettings.from_env({})
    assert settings.scripted_model and settings.offline_engine is not None
    assert settings.offline_engine.engines == ("crosshair", "pynguin")
    assert settings.label == "[offline engine: crosshair+pynguin] "
    assert RunnerSettings.from_env({"HANDOFF_SCRIPTED_MODEL": "true"}).label == "[scripted model] "
    assert RunnerSettings.from_env({"HANDOFF_LLM_MODEL": "openai/m"}).label == ""
