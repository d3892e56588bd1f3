"""Real uv, real index: environments are built from project metadata, reused, rebuilt on change, bounded."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from handoff.environments import (
    EnvSettings,
    IndexUnreachable,
    InstallFailed,
    ProjectEnvironments,
    PythonNotFound,
)
from handoff.environments.python import resolve_python
from tests.environments.conftest import make_project
from tests.support.net import free_port


def run_python(python: Path, code: str) -> str:
    done = subprocess.run([str(python), "-c", code], capture_output=True, text=True, timeout=60, check=True)
    return done.stdout.strip()


async def test_an_environment_holds_the_project_dependencies_and_the_test_tools_but_nothing_of_handoff(
    environments: ProjectEnvironments, tmp_path: Path
) -> None:
    """toolz, pytest and coverage import in the env; pytest-asyncio (a Handoff test plugin) does not exist there."""
    project = make_project(tmp_path / "p", ["toolz"])
    env = await environments.prepare(project)
    try:
        assert not env.cache_hit
        found = run_python(env.python, "import importlib.util as u; print([bool(u.find_spec(m)) for m in "
                                       "('toolz', 'pytest', 'coverage', 'pytest_asyncio', 'msgspec')])")  # fmt: skip
        assert found == "[True, True, True, False, False]"
    finally:
        env.release()


async def test_a_cold_build_says_how_many_requirements_come_from_which_files_or_that_none_are_declared(
    environments: ProjectEnvironments, tmp_path: Path
) -> None:
    """toolz 1.0.0 has a setup.py that declares no requirement: the build said ``0 requirement(s) from no dependency
    files``, though the file is there."""
    declaring = make_project(tmp_path / "p", ["toolz"])
    silent = tmp_path / "s"
    silent.mkdir()
    (silent / "setup.py").write_text("from setuptools import setup\n\nsetup(name='silent', py_modules=['silent'])\n")
    said: list[str] = []
    for project in (declaring, silent):
        env = await environments.prepare(project, on_build=said.append)
        env.release()
    assert len(said) == 2, said
    assert ", 1 requirement(s) from pyproject.toml, " in said[0], said
    assert ", no requirements declared by the project, " in said[1], said


async def test_an_environment_is_built_with_its_bytecode_so_read_only_runs_do_not_compile_it_each_time(
    environments: ProjectEnvironments, tmp_path: Path
) -> None:
    """The sandbox mounts the environment read-only and the checks run with PYTHONDONTWRITEBYTECODE: without the
    bytecode written at build, every pytest run compiled pytest, coverage and the project's packages again."""
    project = make_project(tmp_path / "p", ["toolz"])
    env = await environments.prepare(project)
    try:
        code = (
            "import importlib.util as u, os; print([os.path.exists(u.cache_from_source(u.find_spec(m).origin))"
            " for m in ('toolz', 'pytest', '_pytest.main')])"
        )
        cached = run_python(env.python, code)
        assert cached == "[True, True, True]"
    finally:
        env.release()


async def test_the_second_task_with_the_same_dependencies_reuses_the_environment(
    environments: ProjectEnvironments, tmp_path: Path
) -> None:
    """Same dependency list in another folder (other unrelated files): cache hit, same directory."""
    first = await environments.prepare(make_project(tmp_path / "a", ["toolz"]))
    first.release()
    other = make_project(tmp_path / "b", ["toolz"])
    (other / "README.md").write_text("different project, same dependencies\n")
    second = await environments.prepare(other)
    second.release()
    assert second.cache_hit and second.root == first.root


async def test_changed_dependencies_or_extra_packages_get_a_new_environment(
    environments: ProjectEnvironments, tmp_path: Path
) -> None:
    """Editing the dependency list or naming an extra package changes the key and builds anew."""
    project = make_project(tmp_path / "p", ["toolz"])
    base = await environments.prepare(project)
    base.release()
    with_extra = await environments.prepare(project, extra_packages=["text-unidecode"])
    with_extra.release()
    make_project(project, ["toolz", "text-unidecode"])
    edited = await environments.prepare(project)
    edited.release()
    assert not with_extra.cache_hit and not edited.cache_hit
    assert len({base.root, with_extra.root, edited.root}) == 3
    assert run_python(edited.python, "import text_unidecode; print('ok')") == "ok"


async def test_a_poetry_dev_group_is_installed_and_adding_one_builds_a_new_environment(
    environments: ProjectEnvironments, tmp_path: Path
) -> None:
    """A Poetry project whose test dependency is only in [tool.poetry.group.dev.dependencies] (iso8601 2.1.0's
    hypothesis): the environment holds it, and the key differs from the same project without the group."""
    project = tmp_path / "p"
    project.mkdir()
    head = '[tool.poetry]\nname = "p"\n[tool.poetry.dependencies]\npython = ">=3.8,<4.0"\ntoolz = "^1.0"\n'
    (project / "pyproject.toml").write_text(head)
    base = await environments.prepare(project)
    base.release()
    (project / "pyproject.toml").write_text(head + '[tool.poetry.group.dev.dependencies]\ntext-unidecode = "*"\n')
    with_group = await environments.prepare(project)
    with_group.release()
    assert not with_group.cache_hit and with_group.root != base.root
    assert run_python(with_group.python, "import toolz, text_unidecode; print('ok')") == "ok"


async def test_a_dependency_declared_only_in_a_hatch_test_environment_is_installed(
    environments: ProjectEnvironments, tmp_path: Path
) -> None:
    """soupsieve 4.1.3's tests import beautifulsoup4, declared only in [tool.hatch.envs.dev]: a project whose
    test dependency is only in a Hatch environment gets it, and the extra of the project its features name."""
    project = tmp_path / "p"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        '[project]\nname = "p"\n[project.optional-dependencies]\nslug = ["text-unidecode"]\n'
        '[tool.hatch.envs.test]\ndependencies = ["toolz"]\nfeatures = ["slug"]\n'
    )
    env = await environments.prepare(project)
    try:
        assert env.dependencies.requirements == ("text-unidecode", "toolz")
        assert run_python(env.python, "import toolz, text_unidecode; print('ok')") == "ok"
    finally:
        env.release()


async def test_concurrent_preparations_of_one_key_build_it_once(cache_dir: Path, tmp_path: Path) -> None:
    """Four tasks (two ProjectEnvironments, like two replicas sharing a disk) at once: one build, three reuse."""
    project = make_project(tmp_path / "p", ["toolz"])
    replicas = [ProjectEnvironments(EnvSettings(cache_dir=cache_dir)) for _ in range(2)]
    envs = await asyncio.gather(*(replicas[i % 2].prepare(project) for i in range(4)))
    for env in envs:
        env.release()
    assert sorted(env.cache_hit for env in envs) == [False, True, True, True]
    assert len({env.root for env in envs}) == 1
    assert list((cache_dir / "building").iterdir()) == []


async def test_a_failed_build_leaves_nothing_that_is_reused(
    environments: ProjectEnvironments, cache_dir: Path, tmp_path: Path
) -> None:
    """An unknown package: permanent InstallFailed with uv's output; nothing in the cache; the next try fails too."""
    project = make_project(tmp_path / "p", ["handoff-no-such-package-4711"])
    for _ in range(2):
        with pytest.raises(InstallFailed) as failure:
            await environments.prepare(project)
        assert not failure.value.retryable
        assert "handoff-no-such-package-4711" in failure.value.output
        assert list((cache_dir / "envs").iterdir()) == [] and list((cache_dir / "building").iterdir()) == []


async def test_an_unreachable_index_is_a_retryable_failure(
    cache_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A closed port as the only index: uv's connection error becomes IndexUnreachable (retry later)."""
    monkeypatch.setenv("UV_HTTP_RETRIES", "0")
    settings = EnvSettings(cache_dir=cache_dir, index_url=f"http://127.0.0.1:{free_port()}/simple",
                           extra_index_urls=(), find_links=())  # fmt: skip
    environments = ProjectEnvironments(settings, pip_config={})
    with pytest.raises(IndexUnreachable) as failure:
        await environments.prepare(make_project(tmp_path / "p", ["handoff-no-such-package-4711"]))
    assert failure.value.retryable
    assert "127.0.0.1" in failure.value.output


async def test_least_recently_used_environments_are_evicted_but_never_one_in_use(
    cache_dir: Path, tmp_path: Path
) -> None:
    """With room for about two environments, building a third removes the oldest one nobody holds."""
    probe = ProjectEnvironments(EnvSettings(cache_dir=tmp_path / "probe"))
    sized = await probe.prepare(make_project(tmp_path / "probe-project", []))
    sized.release()
    one_env = probe.cache.total_bytes()
    environments = ProjectEnvironments(EnvSettings(cache_dir=cache_dir, cache_max_bytes=int(one_env * 2.5)))
    held = await environments.prepare(make_project(tmp_path / "held", ["toolz"]))  # oldest, but in use
    old = await environments.prepare(make_project(tmp_path / "old", ["text-unidecode"]))
    old.release()
    new = await environments.prepare(make_project(tmp_path / "new", ["inflection"]))
    new.release()
    assert held.root.is_dir() and new.root.is_dir()
    assert not old.root.exists()
    assert environments.cache.total_bytes() <= int(one_env * 2.5) + one_env  # the held one may exceed the bound
    held.release()


async def test_an_incomplete_environment_in_the_cache_is_rebuilt_not_used(
    environments: ProjectEnvironments, tmp_path: Path
) -> None:
    """A folder under envs/ without its metadata (a crash mid-way by an older layout) is replaced by a build."""
    project = make_project(tmp_path / "p", ["toolz"])
    env = await environments.prepare(project)
    env.release()
    (env.root / "handoff-env.json").unlink()
    (env.root / "bin" / "python").unlink()
    again = await environments.prepare(project)
    again.release()
    assert not again.cache_hit and run_python(again.python, "import toolz; print('ok')") == "ok"


async def test_a_task_can_ask_for_another_installed_python_version(
    environments: ProjectEnvironments, tmp_path: Path
) -> None:
    """python='3.11' (installed here) builds an env whose interpreter is 3.11, not the generator's."""
    if sys.version_info[:2] == (3, 11):
        pytest.skip("the generator itself runs 3.11")
    env = await environments.prepare(make_project(tmp_path / "p", []), python="3.11")
    env.release()
    assert env.interpreter.minor == "3.11"
    assert run_python(env.python, "import sys; print(sys.version_info[:2])") == "(3, 11)"


def test_a_python_version_that_is_not_installed_names_what_exists() -> None:
    """3.99 is nowhere: PythonNotFound (permanent) listing the versions this replica has."""
    with pytest.raises(PythonNotFound) as failure:
        resolve_python("3.99", uv="uv")
    assert not failure.value.retryable
    assert "3.99" in failure.value.message and f"{sys.version_info[0]}.{sys.version_info[1]}" in failure.value.message


def test_no_version_or_the_generators_own_means_the_generators_interpreter() -> None:
    """None and the generator's X.Y both resolve to sys.executable without probing anything."""
    own = f"{sys.version_info[0]}.{sys.version_info[1]}"
    assert resolve_python(None, uv="uv").path == resolve_python(own, uv="uv").path == Path(sys.executable)
