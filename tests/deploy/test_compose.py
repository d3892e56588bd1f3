"""docker-compose.yml: valid Compose, real commands and settings, each service as its role, scalable generators."""

from __future__ import annotations

import importlib.resources
import json
import re
import subprocess
import sys
from typing import Any

import jsonschema
import pytest

from handoff.collector.settings import CollectorSettings
from handoff.generator.settings import GeneratorSettings
from tests.deploy import compose
from tests.deploy.codebase import REPO, command_error, env_names_in_code
from tests.deploy.servers import NATS_DIR, env_references

HANDOFF_IMAGE_SERVICES = ("topology", "collector", "generator")
ROLE_OF_SERVICE = {"topology": "admin", "collector": "collector", "generator": "generator"}


@pytest.fixture(scope="module")
def services() -> dict[str, dict[str, Any]]:
    return compose.load()["services"]  # type: ignore[no-any-return]


def test_the_compose_file_validates_against_the_compose_specification() -> None:
    """check-jsonschema's vendored compose-spec accepts the file, before and after interpolation."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.compose-spec",
            str(compose.COMPOSE_FILE),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    vendored = importlib.resources.files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json"
    schema = json.loads(vendored.read_text())
    jsonschema.Draft7Validator(schema).validate(compose.load())  # its $schema names draft 7


def test_the_compose_file_refuses_to_start_without_the_passwords() -> None:
    """Every password is a required variable: a missing one is an error, never an empty password."""
    env = compose.env_file()
    del env["NATS_GENERATOR_PASSWORD"]
    with pytest.raises(compose.InterpolationError, match="NATS_GENERATOR_PASSWORD"):
        compose.load(env)
    required = {name for name, op in compose.variables().items() if op in (":?", "?")}
    assert {f"NATS_{role.upper()}_PASSWORD" for role in ROLE_OF_SERVICE.values()} <= required


def test_every_variable_the_compose_file_reads_is_documented_in_the_example_env() -> None:
    """deploy/env.example names every variable; the required ones have a (placeholder) value there."""
    example = compose.ENV_EXAMPLE.read_text()
    documented = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", example, flags=re.MULTILINE))
    used = compose.variables()
    assert set(used) <= documented, set(used) - documented
    values = compose.env_file()
    for name, op in used.items():
        if op in (":?", "?"):
            assert values.get(name), f"{name} is required but has no value in deploy/env.example"
    secrets = compose.load()["secrets"]
    assert {s["environment"] for s in secrets.values() if "environment" in s} <= set(values)


def test_the_nats_service_runs_the_deploy_config_with_exactly_the_variables_it_reads(
    services: dict[str, dict[str, Any]],
) -> None:
    """The mounted nats.conf and accounts.conf, their variables set, JetStream on a named volume."""
    nats = services["nats"]
    assert nats["image"].startswith("nats:") and "alpine" in nats["image"]  # wget for the health check
    mounts = {m.split(":")[1]: m.split(":")[0] for m in nats["volumes"]}
    config_path = nats["command"][nats["command"].index("--config") + 1]
    assert mounts[config_path] == "./deploy/nats/nats.conf"
    config_dir = config_path.rsplit("/", 1)[0]
    assert mounts[f"{config_dir}/accounts.conf"] == "./deploy/nats/accounts.conf"
    env = compose.environment(nats)
    assert set(env) == env_references("nats.conf", "accounts.conf")
    assert mounts[env["NATS_STORE_DIR"]] in compose.load()["volumes"]  # a named volume, not the container layer
    assert "/healthz" in " ".join(nats["healthcheck"]["test"])


def test_every_handoff_service_runs_a_real_command_with_settings_the_code_reads(
    services: dict[str, dict[str, Any]],
) -> None:
    """Commands parse with `handoff`'s own parser; every HANDOFF_* name is read somewhere in services/."""
    known = env_names_in_code()
    unknown: dict[str, set[str]] = {}
    for name in HANDOFF_IMAGE_SERVICES:
        service = services[name]
        assert service["image"] == compose.load()["services"]["generator"]["image"]
        assert command_error(service["command"]) is None, (name, command_error(service["command"]))
        env = set(compose.environment(service))
        assert all(v.startswith("HANDOFF_") for v in env), env
        if env - known:
            unknown[name] = env - known
    assert not unknown, f"variables no code reads: {unknown}"


def test_each_service_connects_as_its_own_role_and_only_admin_changes_the_topology(
    services: dict[str, dict[str, Any]],
) -> None:
    """Users and passwords match accounts.conf; generators and collectors do not apply the topology."""
    accounts = (NATS_DIR / "accounts.conf").read_text()
    password_var = dict(re.findall(r"\{user: (\w+), password: \$(\w+)", accounts))
    example = compose.env_file()
    for name, role in ROLE_OF_SERVICE.items():
        env = compose.environment(services[name])
        assert env["HANDOFF_NATS_USER"] == role
        assert env["HANDOFF_NATS_PASSWORD"] == example[password_var[role]]
        assert env["HANDOFF_NATS_URL"] == "nats://nats:4222"
        if role != "admin":
            assert env["HANDOFF_APPLY_TOPOLOGY"] == "false"
            assert services[name]["depends_on"]["topology"]["condition"] == "service_completed_successfully"
    assert services["topology"]["depends_on"]["nats"]["condition"] == "service_healthy"
    assert compose.environment(services["topology"])["HANDOFF_REPLICAS"] == "1"  # one server


def test_generators_scale_out_and_get_longer_to_stop_than_their_shutdown_takes(
    services: dict[str, dict[str, Any]],
) -> None:
    """`--scale generator=N` works (no fixed name or host port); stop grace exceeds grace + interrupt + publish."""
    generator = services["generator"]
    assert "container_name" not in generator and "ports" not in generator
    settings = GeneratorSettings.from_env(compose.environment(generator))
    needed = settings.shutdown_grace_s + settings.interrupt_grace_s + settings.publish_timeout_s
    assert compose.duration_s(generator["stop_grace_period"]) > needed
    assert settings.slots >= 1

    collector = CollectorSettings.from_env(compose.environment(services["collector"]))
    assert compose.duration_s(services["collector"]["stop_grace_period"]) > collector.shutdown_grace_s
    lame_duck = re.search(r"^lame_duck_duration: (\S+)$", (NATS_DIR / "nats.conf").read_text(), re.MULTILINE)
    assert lame_duck is not None
    assert compose.duration_s(services["nats"]["stop_grace_period"]) > compose.duration_s(lame_duck.group(1))


def test_the_llm_key_reaches_only_the_generator_and_only_as_a_secret_file(
    services: dict[str, dict[str, Any]],
) -> None:
    """Keys stay out of environments (the agent's tools can read those): a Compose secret mounted as a file."""
    for service in services.values():
        assert "HANDOFF_LLM_API_KEY" not in compose.environment(service)
    generator = services["generator"]
    [secret] = generator["secrets"]
    assert compose.environment(generator)["HANDOFF_LLM_API_KEY_FILE"] == f"/run/secrets/{secret}"
    assert compose.load()["secrets"][secret] == {"environment": "HANDOFF_LLM_API_KEY"}
    assert not any("secrets" in s for n, s in services.items() if n != "generator")


def test_the_generator_passes_the_llm_settings_through(services: dict[str, dict[str, Any]]) -> None:
    """Model, endpoint, fallbacks and the agent's guards come from the host's .env."""
    env = compose.environment(compose.load_raw()["services"]["generator"])
    for name in (
        "HANDOFF_LLM_MODEL",
        "HANDOFF_LLM_BASE_URL",
        "HANDOFF_LLM_FALLBACK_MODELS",
        "HANDOFF_AGENT_MAX_ITERATIONS",
        "HANDOFF_AGENT_MAX_BUDGET_USD",
        "HANDOFF_FEEDBACK_ROUNDS",
    ):
        assert env[name] == f"${{{name}:-}}", name
    assert (REPO / "Dockerfile").exists()
