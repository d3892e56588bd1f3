"""The engines run for real, with the project's interpreter, through the exact command the agent's terminal runs."""

from __future__ import annotations

import ast
import os
import subprocess
from pathlib import Path

import pytest

from handoff.common.env import SettingsError
from handoff.environments import EnvSettings, ProjectEnvironments
from handoff.offline_engine import OfflineEngineSettings
from handoff.offline_engine.commands import FAILURE_LINE, engine_command
from handoff.offline_engine.installed import optional_packages

pytestmark = pytest.mark.slow


def run_in_terminal(command: str, project: Path, venv: Path, timeout_s: float = 300) -> subprocess.CompletedProcess:
    """As the agent's terminal would: bash in the workspace, the project's environment first on PATH."""
    env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(project.parent), "LANG": "C.UTF-8",
           "TMPDIR": str(project.parent)}  # fmt: skip
    return subprocess.run(["bash", "-c", command], cwd=project, env=env, capture_output=True, text=True,
                          timeout=timeout_s)  # fmt: skip


def pytest_and_coverage(project: Path, venv: Path, test_file: str) -> tuple[int, float]:
    python = venv / "bin" / "python"
    env = {**os.environ, "PYTHONPATH": str(project)}
    done = subprocess.run(
        [
            python,
            "-m",
            "coverage",
            "run",
            "--branch",
            "--include=pkg/calc.py",
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            test_file,
        ],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
    )
    report = subprocess.run([python, "-m", "coverage", "report", "--format=total"], cwd=project, env=env,
                            capture_output=True, text=True)  # fmt: skip
    return done.returncode, float(report.stdout.strip() or 0)


def import_only_coverage(project: Path, venv: Path) -> float:
    python = venv / "bin" / "python"
    env = {**os.environ, "PYTHONPATH": str(project)}
    (project / "import_only.py").write_text("import pkg.calc\n")
    subprocess.run([python, "-m", "coverage", "run", "--branch", "--include=pkg/calc.py", "import_only.py"],
                   cwd=project, env=env, check=True)  # fmt: skip
    report = subprocess.run([python, "-m", "coverage", "report", "--format=total"], cwd=project, env=env,
                            capture_output=True, text=True)  # fmt: skip
    return float(report.stdout.strip())


def test_both_engines_write_asserting_tests_that_pass_and_cover_more_than_an_import(
    project: Path, engine_venv: Path
) -> None:
    """CrossHair and Pynguin, merged, give passing tests with assertions that cover more than importing does."""
    settings = OfflineEngineSettings(per_target_s=20)
    done = run_in_terminal(engine_command("pkg/calc.py", "tests/test_calc.py", settings), project, engine_venv)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "offline engine: crosshair:" in done.stdout and "offline engine: pynguin:" in done.stdout
    tree = ast.parse((project / "tests" / "test_calc.py").read_text())
    tests = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")]
    # each test is named after the function it calls
    assert {n.name.rsplit("_", 1)[0] if n.name[-1].isdigit() else n.name for n in tests} <= {"test_clamp", "test_grade"}
    assert "offline engine (crosshair, pynguin)" in (project / "tests" / "test_calc.py").read_text()
    assert sum(isinstance(node, ast.Assert) for node in ast.walk(tree)) >= 3
    code, covered = pytest_and_coverage(project, engine_venv, "tests/test_calc.py")
    assert code == 0
    assert covered > import_only_coverage(project, engine_venv)
    assert covered == 100.0  # every line and branch of clamp and grade: CrossHair's paths reach each one


def test_an_engine_that_hangs_times_out_with_a_clear_reason_and_writes_nothing(
    project: Path, engine_venv: Path
) -> None:
    """A module whose import never returns: each engine is stopped at its limit and the command says so."""
    (project / "pkg" / "stuck.py").write_text("import time\ntime.sleep(3600)\n\ndef f(x: int) -> int:\n    return x\n")
    settings = OfflineEngineSettings(engines=("crosshair",), per_target_s=5)
    done = run_in_terminal(engine_command("pkg/stuck.py", "tests/test_stuck.py", settings), project, engine_venv,
                           timeout_s=60)  # fmt: skip
    assert done.returncode != 0
    assert "offline engine: crosshair timed out after 5 s" in done.stdout
    assert "no engine produced a test for pkg.stuck" in done.stdout
    assert not (project / "tests" / "test_stuck.py").exists()


def test_a_crashing_engine_leaves_the_other_engines_tests(project: Path, engine_venv: Path) -> None:
    """A module that fails at import: each engine's failure is reported, nothing is lost silently."""
    (project / "pkg" / "broken.py").write_text("raise RuntimeError('cannot import me')\n")
    settings = OfflineEngineSettings(per_target_s=15)
    done = run_in_terminal(engine_command("pkg/broken.py", "tests/test_broken.py", settings), project, engine_venv)
    assert done.returncode != 0
    assert "offline engine: crosshair failed" in done.stdout
    assert "offline engine: pynguin failed" in done.stdout or "pynguin: no output" in done.stdout


def test_an_engine_failure_line_carries_the_engines_last_error(project: Path, engine_venv: Path) -> None:
    """The task's reason is built from the ``offline engine:`` lines alone: the failure line itself ends with the
    engine's last log line (it read ``pynguin failed (exit 1):`` and nothing more on wcwidth 0.9.4)."""
    (project / "pkg" / "broken.py").write_text("raise RuntimeError('cannot import me')\n")
    settings = OfflineEngineSettings(engines=("pynguin",), per_target_s=15)
    done = run_in_terminal(engine_command("pkg/broken.py", "tests/test_broken.py", settings), project, engine_venv)
    (failed,) = [line for line in done.stdout.splitlines() if line.startswith("offline engine: pynguin failed")]
    assert failed.split(", pynguin's log says: ", 1)[1].strip()


def test_an_engine_failure_line_says_the_reason_is_the_engines_own_words() -> None:
    """The engine's last log line is quoted as its own (prettytable: Pynguin's ``exceeded the 5s time limit`` read as
    a limit of Handoff's), and Handoff's own time limit is said with its setting."""
    command = engine_command("pkg/mod.py", "tests/test_mod.py", OfflineEngineSettings(per_target_s=15))
    assert "failed (exit $rc), $1's log says: " in command
    assert "; ended crosshair; " in command and "; ended pynguin; " in command
    assert "timed out after 15 s (HANDOFF_OFFLINE_ENGINE_S)" in command


def failure_line(log: str, tmp_path: Path) -> str:
    """What the command's ``why`` says of an engine log holding ``log``, run by bash as in the agent's terminal."""
    (tmp_path / "engine.log").write_text(log)
    done = subprocess.run(["bash", "-c", f'{FAILURE_LINE}; why "$1"', "why", str(tmp_path / "engine.log")],
                          capture_output=True, text=True, check=True)  # fmt: skip
    return done.stdout.rstrip("\n")


# Pynguin 0.48's log as its Rich console writes it at 80 columns (parse 1.20.2 on Python 3.12.1): the ERROR line is
# wrapped, the traceback boxed, and the last line is the tail of the exception's message
PYNGUIN_LOG_80 = "".join(line.ljust(80) + "\n" for line in [
    "[05:08:17] ERROR    Failed to load SUT: Failed to compute       generator.py:297",
    "                    stacksize, got negative size",
    "                    ╭───── Traceback (most recent call last) ─────╮",
    "                    │ /tmp/efb/venv/lib/python3.12/site-packa │",
    "                    │ ges/pynguin/generator.py:292 in         │",
    "                    │ _load_sut                               │",
    "                    ╰─────────────────────────────────────────╯",
    "                    RuntimeError: Failed to compute stacksize,",
    "                    got negative size",
])  # fmt: skip


def test_the_reason_quoted_from_an_engine_log_is_its_last_error_line_not_a_wrapped_fragment(tmp_path: Path) -> None:
    """parse 1.20.2: the task's line read ``pynguin's own last log line:                     got negative size``,
    the last line of a traceback Rich wrapped at 80 columns. Pynguin now logs at ``LOG_COLUMNS`` columns and the
    reason is its last ERROR line, without its time and Pynguin's own source line, spaces collapsed; a log without
    an ERROR line (CrossHair's traceback) gives its last line that is not blank."""
    wrapped = "Failed to compute       generator.py:297\n" + "stacksize, got negative size".rjust(48)
    whole = "Failed to compute stacksize, got negative size" + " " * 200 + "generator.py:297"
    wide = PYNGUIN_LOG_80.replace(wrapped, whole)
    assert wide != PYNGUIN_LOG_80
    assert failure_line(wide, tmp_path) == "ERROR Failed to load SUT: Failed to compute stacksize, got negative size"
    assert failure_line(PYNGUIN_LOG_80.replace("[05:08:17]", " " * 10), tmp_path).startswith("ERROR Failed to load")
    crosshair = 'Traceback (most recent call last):\n  File "x.py", line 1\nTypeError: f() missing 1 argument\n\n  \n'
    assert failure_line(crosshair, tmp_path) == "TypeError: f() missing 1 argument"
    assert len(failure_line("ERROR " + "x " * 300, tmp_path)) == 200


CONF_MODULE = """raise RuntimeError(
    "the configuration file settings.ini has no [server] section, so the module cannot be imported"
)


def port(default: int) -> int:
    return default
"""


def test_pynguins_failure_is_quoted_whole_not_as_the_last_line_of_its_wrapped_log(
    project: Path, engine_venv: Path
) -> None:
    """A real Pynguin failure whose reason is longer than a line of its 80-column log: the task's line quoted only
    ``the module cannot be imported``, the tail of the wrapped traceback; it now quotes Pynguin's ERROR line whole."""
    (project / "pkg" / "conf.py").write_text(CONF_MODULE)
    # it fails in about 6 s alone; 15 s ran out beside another engine test
    settings = OfflineEngineSettings(engines=("pynguin",), per_target_s=30)
    done = run_in_terminal(engine_command("pkg/conf.py", "tests/test_conf.py", settings), project, engine_venv)
    failed = [line for line in done.stdout.splitlines() if line.startswith("offline engine: pynguin failed")]
    assert failed == [("offline engine: pynguin failed (exit 1), pynguin's log says: ERROR Failed to load "
                      "SUT: the configuration file settings.ini has no [server] section, so the module cannot be "
                      "imported")], done.stdout  # fmt: skip


LITERAL_MODULE = """from typing import Literal


def trim(text: str, side: Literal["both", "pre", "post"] = "both") -> str:
    if side == "pre":
        return text.lstrip()
    if side == "post":
        return text.rstrip()
    return text.strip()


def grade(score: int) -> str:
    if score >= 50:
        return "pass"
    return "fail"
"""


def test_a_function_crosshair_crashes_on_costs_that_function_not_the_whole_module(
    project: Path, engine_venv: Path
) -> None:
    """CrossHair 0.0.113 stops the whole `cover` run on a `Literal[...]` parameter (python-slugify 9.2.0's
    slugify.py): the engine then covers the module function by function and keeps the tests of the others."""
    (project / "pkg" / "trim.py").write_text(LITERAL_MODULE)
    settings = OfflineEngineSettings(engines=("crosshair",), per_target_s=30)
    done = run_in_terminal(engine_command("pkg/trim.py", "tests/test_trim.py", settings), project, engine_venv)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "crosshair failed on the module (exit 1)" in done.stdout and "function by function" in done.stdout
    assert "offline engine: crosshair failed on pkg.trim.trim" in done.stdout
    tree = ast.parse((project / "tests" / "test_trim.py").read_text())
    names = [n.name for n in tree.body if isinstance(n, ast.FunctionDef)]
    assert names and all(name.startswith("test_grade") for name in names), names


def tallies(count: int) -> str:
    """A module of ``count`` functions, each looping over a string, so that CrossHair spends its whole per-function
    time on each (it never exhausts the paths)."""
    return "\n\n".join(f"""def tally_{i}(text: str) -> int:
    total = 0
    for ch in text:
        if ch == "{chr(97 + i % 26)}":
            total += {i + 1}
    return total
""" for i in range(count))  # fmt: skip


def crosshair_tests(path: Path) -> list[str]:
    return [n.name for n in ast.parse(path.read_text()).body if isinstance(n, ast.FunctionDef)]


def test_a_module_too_big_for_one_crosshair_run_gives_the_tests_of_the_functions_there_is_time_for(
    project: Path, engine_venv: Path
) -> None:
    """parse 1.20.2 (45 functions and methods): the one CrossHair run over the whole module was stopped at the limit
    and, since CrossHair prints only at the end, gave nothing, whatever the limit. A module with more functions than
    one run covers in the limit is now covered function by function, and says so; the time left stops the rest."""
    (project / "pkg" / "many.py").write_text(tallies(40))
    settings = OfflineEngineSettings(engines=("crosshair",), per_target_s=20)
    done = run_in_terminal(engine_command("pkg/many.py", "tests/test_many.py", settings), project, engine_venv)
    assert done.returncode == 0, done.stdout + done.stderr
    assert ("offline engine: crosshair: pkg.many has 40 functions and methods, too many for one run within 20 s; "
            "trying function by function") in done.stdout  # fmt: skip
    assert "offline engine: crosshair: no time left for pkg.many.tally_" in done.stdout, done.stdout
    names = crosshair_tests(project / "tests" / "test_many.py")
    assert names and names[0] == "test_tally_0", names
    ran = subprocess.run([engine_venv / "bin" / "python", "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          "tests/test_many.py"], cwd=project, env={**os.environ, "PYTHONPATH": str(project)},
                         capture_output=True, text=True)  # fmt: skip
    assert ran.returncode == 0 and f"{len(names)} passed" in ran.stdout, ran.stdout


def ledger(count: int) -> str:
    """A module of ``count`` functions of 11 statements each, with branches and a loop: many mutants."""
    return "\n\n".join(f"""def rule_{i}(amount: int, rate: int) -> int:
    if amount < {i}:
        return amount * {i + 2}
    total = 0
    for step in range(rate % 5):
        if step % 2 == {i % 2}:
            total += amount - step
        else:
            total -= {i}
    if total > {10 * i}:
        return total // 2
    return total + rate
""" for i in range(count))  # fmt: skip


def test_a_module_too_big_for_pynguins_assertion_time_gets_its_tests_within_the_limit(
    project: Path, engine_venv: Path
) -> None:
    """toolz 1.0.0's functoolz.py (421 statements): Pynguin's start-up, analysis, mutants, minimisation and writing
    took 82 s beside its 24 s search and 12 s of mutation analysis, so the 60 s limit killed it and it wrote nothing.
    A module with more statements than mutation analysis checks in its time (440 here, over 40 at a 20 s limit) gets
    SIMPLE assertions and a shorter search, and Pynguin writes asserting tests that pass, within the limit."""
    (project / "pkg" / "big.py").write_text(ledger(40))
    settings = OfflineEngineSettings(engines=("pynguin",), per_target_s=20)
    done = run_in_terminal(engine_command("pkg/big.py", "tests/test_big.py", settings), project, engine_venv)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "timed out" not in done.stdout and "offline engine: pynguin: " in done.stdout, done.stdout
    tree = ast.parse((project / "tests" / "test_big.py").read_text())
    assert sum(isinstance(node, ast.Assert) for node in ast.walk(tree)) >= 10
    ran = subprocess.run([engine_venv / "bin" / "python", "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          "tests/test_big.py"], cwd=project, env={**os.environ, "PYTHONPATH": str(project)},
                         capture_output=True, text=True)  # fmt: skip
    assert ran.returncode == 0 and " passed" in ran.stdout, ran.stdout


def test_pynguin_chooses_assertions_by_mutation_analysis_for_a_small_module_and_simple_ones_for_a_big_one(
    project: Path,
) -> None:
    """The flags the command gives Pynguin, as its shell sets them: the sample module (12 statements) keeps 40 % of
    the limit searching and 20 % of mutation analysis; a module of 440 statements, more than 10 per second of that
    analysis, gets SIMPLE assertions and 25 % searching; one that does not parse keeps the small module's flags."""
    (project / "pkg" / "big.py").write_text(ledger(40))
    (project / "pkg" / "bad.py").write_text("def broken(:\n")
    flags = {}
    for name in ("calc", "big", "bad"):
        command = engine_command(f"pkg/{name}.py", f"tests/test_{name}.py",
                                 OfflineEngineSettings(engines=("pynguin",), per_target_s=60))  # fmt: skip
        budget = command[command.index("; python -c 'from ast") + 2 : command.index("; PYNGUIN_DANGER_AWARE")]
        done = subprocess.run(["bash", "-c", f'{budget}; echo "--maximum-search-time $s $a"'], cwd=project,
                              capture_output=True, text=True, check=True)  # fmt: skip
        flags[name] = done.stdout.strip()
    assert flags == {"calc": "--maximum-search-time 24 --maximum-mutation-time 12",
                     "big": "--maximum-search-time 15 --assertion-generation SIMPLE",
                     "bad": "--maximum-search-time 24 --maximum-mutation-time 12"}  # fmt: skip


SCORES_MODULE = """from functools import cached_property


class Score:
    def __init__(self, points: int) -> None:
        self.points = points

    @property
    def grade(self) -> str:
        if self.points >= 50:
            return "pass"
        return "fail"

    @cached_property
    def doubled(self) -> int:
        return self.points * 2

    @classmethod
    def zero(cls) -> "Score":
        return cls(0)

    def add(self, more: int) -> int:
        if more < 0:
            raise ValueError("negative")
        return self.points + more

    def beats(self, other: int) -> bool:
        return self.points > other


""" + "\n\n".join(f"""def sign_{i}(x: int) -> int:
    if x < {i}:
        return -1
    return 1
""" for i in range(5))  # fmt: skip


def test_crosshair_function_by_function_leaves_out_properties_and_classmethods_and_still_covers_the_methods(
    project: Path, engine_venv: Path
) -> None:
    """parse 1.20.2's `Parser.named_fields`, a property, was handed to CrossHair as a method: its tests call it
    through the class (`Parser.named_fields(Parser(...))`) and fail with `'property' object is not callable`; a
    classmethod's pass the class twice. Function by function, properties (`cached_property` too) and classmethods
    are left out, and the other methods still get tests that pass."""
    (project / "pkg" / "scores.py").write_text(SCORES_MODULE)
    settings = OfflineEngineSettings(engines=("crosshair",), per_target_s=30)
    done = run_in_terminal(engine_command("pkg/scores.py", "tests/test_scores.py", settings), project, engine_venv)
    assert done.returncode == 0, done.stdout + done.stderr
    assert ("offline engine: crosshair: pkg.scores has 8 functions and methods, too many for one run within 30 s; "
            "trying function by function") in done.stdout  # fmt: skip
    names = crosshair_tests(project / "tests" / "test_scores.py")
    assert any(name.startswith("test_score_add") for name in names), names
    ran = subprocess.run([engine_venv / "bin" / "python", "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          "tests/test_scores.py"], cwd=project, env={**os.environ, "PYTHONPATH": str(project)},
                         capture_output=True, text=True)  # fmt: skip
    assert "not callable" not in ran.stdout and "positional argument" not in ran.stdout, ran.stdout
    assert ran.returncode == 0 and f"{len(names)} passed" in ran.stdout, ran.stdout


SLOW_MODULE = """import hashlib


def grade(score: int) -> str:
    if score >= 50:
        return "pass"
    return "fail"


def digest(text: str) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", text.encode(), b"salt", 10**9)
"""


def test_a_crosshair_run_over_the_module_that_is_stopped_leaves_time_for_the_functions_one_by_one(
    project: Path, engine_venv: Path
) -> None:
    """A function CrossHair's per-function time does not stop (a long call into C) held the module run until the
    limit, and the other function's tests were lost with it. The module run now stops earlier and the rest of the
    limit covers the functions one by one."""
    (project / "pkg" / "slow.py").write_text(SLOW_MODULE)
    settings = OfflineEngineSettings(engines=("crosshair",), per_target_s=30)
    done = run_in_terminal(engine_command("pkg/slow.py", "tests/test_slow.py", settings), project, engine_venv)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "offline engine: crosshair timed out on the module after 22 s; trying function by function" in done.stdout
    names = crosshair_tests(project / "tests" / "test_slow.py")
    assert names and all(name.startswith("test_grade") for name in names), names


def test_a_malformed_engine_list_is_a_settings_error_naming_the_variable() -> None:
    """An unknown engine name is refused at start-up, not at the first task."""
    with pytest.raises(SettingsError, match="HANDOFF_OFFLINE_ENGINES"):
        OfflineEngineSettings.from_env({"HANDOFF_OFFLINE_ENGINES": "crosshair,gpt"})
    assert OfflineEngineSettings.from_env({"HANDOFF_OFFLINE_ENGINES": "pynguin"}).label == "offline engine: pynguin"


async def test_pynguin_installed_with_the_projects_pytest_9_writes_tests_that_pass_under_pytest_9(
    project: Path, tmp_path: Path
) -> None:
    """Pynguin 0.48 pins pytest<9; a project requiring pytest>=9 (prettytable 3.19.0) gets it with the project's
    requirement in place of the pin. It then runs as it does with pytest 8: its search, its assertions chosen by
    mutation analysis and its export give asserting tests, and they pass under the environment's pytest 9."""
    (project / "pyproject.toml").write_text('[project]\nname = "pkg"\nversion = "1"\n'
                                            '[project.optional-dependencies]\ntest = ["pytest>=9"]\n')  # fmt: skip
    environments = ProjectEnvironments(EnvSettings(cache_dir=tmp_path / "cache"))
    env = await environments.prepare(project, optional_packages=optional_packages(["pynguin"]))
    try:
        assert env.optional.overridden == {"pynguin": ("pytest>=9",)}
        settings = OfflineEngineSettings(engines=("pynguin",), per_target_s=30)  # 20 s timed out on a loaded machine
        done = run_in_terminal(engine_command("pkg/calc.py", "tests/test_calc.py", settings), project, env.root)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "offline engine: pynguin:" in done.stdout and "test(s)" in done.stdout, done.stdout
        tree = ast.parse((project / "tests" / "test_calc.py").read_text())
        assert sum(isinstance(node, ast.Assert) for node in ast.walk(tree)) >= 3
        version = run_in_terminal("python -m pytest --version", project, env.root)
        assert version.stdout.startswith("pytest 9."), version
        code, covered = pytest_and_coverage(project, env.root, "tests/test_calc.py")
        assert code == 0 and covered > import_only_coverage(project, env.root)
    finally:
        env.release()


DICE_MODULE = """import random


def roll(sides: int) -> int:
    if sides < 1:
        raise ValueError("a die has at least one side")
    return random.randint(1, sides)


def label(value: int) -> str:
    if value > 3:
        return "high"
    return "low"
"""
OWN_DICE_TESTS = """\"\"\"The project's own tests of pkg.dice.\"\"\"

import random

from pkg.dice import label


def test_label_of_a_low_value():
    assert label(1) == "low"


def test_fresh_generators_differ():
    assert random.Random().random() != random.Random().random()
"""


def test_engine_tests_added_to_a_projects_file_read_as_one_module_and_leave_its_random_state_alone(
    project: Path, engine_venv: Path
) -> None:
    """Both engines on a module that uses ``random``, extending the project's test file: one docstring, one import
    block at the top without repeats, tests named after what they call, and Pynguin's seeding confined to its own
    tests (its prelude replaced ``random.Random.seed`` for the whole session), so the project's tests still pass."""
    (project / "pkg" / "dice.py").write_text(DICE_MODULE)
    (project / "tests").mkdir()
    (project / "tests" / "test_dice.py").write_text(OWN_DICE_TESTS)
    settings = OfflineEngineSettings(per_target_s=20)
    done = run_in_terminal(engine_command("pkg/dice.py", "tests/test_dice.py", settings), project, engine_venv)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "offline engine: pynguin:" in done.stdout, done.stdout
    text = (project / "tests" / "test_dice.py").read_text()
    tree = ast.parse(text)
    strings = [n for n in tree.body if isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)]
    assert strings == [tree.body[0]], text
    kinds = [isinstance(n, ast.Import | ast.ImportFrom) or "sys.modules" in ast.unparse(n) for n in tree.body[1:]]
    assert kinds == sorted(kinds, reverse=True), text  # every import before the first other statement
    imports = [ast.unparse(n) for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
    assert len(imports) == len(set(imports)) and "_pynguin_" not in text, text
    added = [n.name for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")][2:]
    assert added and all(name.startswith(("test_roll", "test_label")) for name in added), added

    python = engine_venv / "bin" / "python"
    ran = subprocess.run([python, "-m", "pytest", "-rA", "-p", "no:cacheprovider", "tests/test_dice.py"], cwd=project,
                         env={**os.environ, "PYTHONPATH": str(project)}, capture_output=True, text=True)  # fmt: skip
    for own in ("test_label_of_a_low_value", "test_fresh_generators_differ"):
        assert f"PASSED tests/test_dice.py::{own}" in ran.stdout, ran.stdout
