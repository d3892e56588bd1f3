"""``handoff generator`` as a user runs it: clear errors with their own exit codes."""

from __future__ import annotations

import subprocess
import sys

from handoff.broker.embedded import EmbeddedNats
from tests.generator.processes import replica_env


def handoff_generator(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "handoff.cli.main", "generator"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_generator_without_its_consumer_exits_4_and_says_to_apply_the_topology(nats_server: EmbeddedNats) -> None:
    """On a server without the topology and HANDOFF_APPLY_TOPOLOGY=false, the command exits 4 with advice."""
    done = handoff_generator(replica_env(nats_server.url, "no-topology"))
    assert done.returncode == 4, done.stderr
    assert "apply the topology" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_malformed_generator_setting_is_a_usage_error(nats_server: EmbeddedNats) -> None:
    """HANDOFF_GENERATOR_SLOTS=many exits 2 and names the variable."""
    done = handoff_generator(replica_env(nats_server.url, "bad", {"HANDOFF_GENERATOR_SLOTS": "many"}))
    assert done.returncode == 2
    assert "HANDOFF_GENERATOR_SLOTS must be an integer" in done.stderr
