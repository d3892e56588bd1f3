"""The Dockerfile, checked structurally (no Docker engine runs here): stages, user, health check, entry point."""

from __future__ import annotations

import fnmatch
import re

import pytest

from tests.deploy.codebase import REPO, command_error, console_scripts, env_names_in_code, sdk_env_defaults
from tests.deploy.dockerfile import Dockerfile, Stage, parse


@pytest.fixture(scope="module")
def dockerfile() -> Dockerfile:
    return parse(REPO / "Dockerfile")


def test_the_image_builds_in_one_stage_and_runs_from_a_slim_python_in_another(dockerfile: Dockerfile) -> None:
    """Multi-stage: a build stage makes the environment, the runtime stage copies only that environment."""
    assert len(dockerfile.stages) >= 2
    assert all(re.fullmatch(r"python:3\.1[2-9]-slim", s.base) for s in dockerfile.stages), dockerfile.stages
    build, runtime = dockerfile.stage("build"), dockerfile.final
    assert runtime.name == "runtime"
    copies = [c for c in runtime.all("COPY") if c.options().get("from") == "build"]
    assert copies, "the runtime stage copies nothing from the build stage"
    assert not any(c.options().get("from") is None for c in runtime.all("COPY")), "source copied into the runtime"
    assert any("pip install" in r.args for r in build.all("RUN"))
    assert not any("pip install" in r.args for r in runtime.all("RUN")), "the runtime stage installs packages itself"


def _uid(stage: Stage) -> str:
    user = stage.last("USER")
    assert user is not None, "no USER: the container would run as root"
    return user.args.split(":")[0]


def test_the_runtime_runs_as_a_non_root_user_it_creates(dockerfile: Dockerfile) -> None:
    """A numeric non-zero uid (so Kubernetes' runAsNonRoot can check it), created in the image."""
    uid = _uid(dockerfile.final)
    assert uid.isdigit() and int(uid) > 0, f"USER {uid} is root or not numeric"
    created = " ".join(r.args for r in dockerfile.final.all("RUN"))
    assert f"--uid {uid}" in created


def test_the_health_check_asks_the_health_endpoint_with_python(dockerfile: Dockerfile) -> None:
    """No curl in slim images: the check is a Python one-liner against /healthz on HANDOFF_HEALTH_PORT."""
    runtime = dockerfile.final
    check = runtime.last("HEALTHCHECK")
    assert check is not None
    command = check.exec_form()
    assert command[0] == "python"
    assert "/healthz" in command[-1] and "HANDOFF_HEALTH_PORT" in command[-1]
    port = runtime.env()["HANDOFF_HEALTH_PORT"]
    exposed = [token for e in runtime.all("EXPOSE") for token in e.args.split()]
    assert port in exposed
    options = check.options()
    assert {"interval", "timeout", "start-period", "retries"} <= set(options)


def test_the_entry_point_is_the_handoff_console_script_and_the_default_command_is_the_generator(
    dockerfile: Dockerfile,
) -> None:
    """ENTRYPOINT runs the console script from pyproject (behind tini, which reaps agent subprocesses)."""
    runtime = dockerfile.final
    entrypoint = runtime.last("ENTRYPOINT")
    assert entrypoint is not None
    argv = entrypoint.exec_form()
    assert argv[-1] in console_scripts()
    assert console_scripts()[argv[-1]] == "handoff.cli.main:main"
    if len(argv) > 1:
        assert argv[:-1] == ["tini", "--"], argv
        assert any(re.search(r"\binstall\b.*\btini\b", r.args) for r in runtime.all("RUN"))
    cmd = runtime.last("CMD")
    assert cmd is not None
    assert cmd.exec_form() == ["generator"]
    assert command_error(cmd.exec_form()) is None


def test_the_runtime_sets_what_the_agent_sdk_reads_at_import(dockerfile: Dockerfile) -> None:
    """The same values the CLI sets before importing the SDK, plus git for task workspaces."""
    env = dockerfile.final.env()
    for name, value in sdk_env_defaults().items():
        assert env.get(name) == value, name
    assert any(re.search(r"\binstall\b.*\bgit\b", r.args) for r in dockerfile.final.all("RUN"))


def test_every_handoff_variable_the_image_sets_is_read_by_the_code(dockerfile: Dockerfile) -> None:
    """A renamed setting cannot leave a stale variable in the image."""
    names = {n for n in dockerfile.final.env() if n.startswith("HANDOFF_")}
    assert names
    assert names <= env_names_in_code(), names - env_names_in_code()


def _included(path: str, patterns: list[str]) -> bool:
    """Whether .dockerignore lets ``path`` into the build context (last matching pattern wins)."""
    keep = True
    for pattern in patterns:
        negated = pattern.startswith("!")
        bare = pattern.lstrip("!").rstrip("/")
        if fnmatch.fnmatch(path, bare) or path.startswith(f"{bare}/"):
            keep = negated
    return keep


def test_everything_the_build_copies_is_in_the_build_context(dockerfile: Dockerfile) -> None:
    """.dockerignore keeps the context small without excluding a file the build needs."""
    patterns = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    sources = []
    for stage in dockerfile.stages:
        for copy in stage.all("COPY"):
            if "from" in copy.options():
                continue
            tokens = [t for t in copy.args.split() if not t.startswith("--")]
            sources += tokens[:-1]
    assert sources
    for source in sources:
        assert (REPO / source).exists(), source
        assert _included(source.rstrip("/"), patterns), f"{source} is excluded by .dockerignore"
    assert not _included("tests", patterns) and not _included(".venv", patterns)


def test_the_image_installs_the_pinned_versions_the_suite_passed_with(dockerfile: Dockerfile) -> None:
    """Every pip install of the build stage uses .ci/constraints.txt, which the build context includes."""
    build = dockerfile.stages[0]
    installs = [run.args for run in build.all("RUN") if "pip install" in run.args]
    assert installs and all("-c constraints.txt" in args for args in installs), installs
    copies = [c.args.split() for c in build.all("COPY")]
    assert [".ci/constraints.txt", "./constraints.txt"] in copies
