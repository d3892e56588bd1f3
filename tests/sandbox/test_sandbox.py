"""``Sandbox.command`` with real bubblewrap: what a sandboxed command can see, write and leave behind."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import pytest

from handoff.sandbox import Sandbox, SandboxMode, SandboxSettings, end_process_trees, probe, secret_files

ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}


@pytest.fixture(scope="module")
def sandbox() -> Sandbox:
    return probe(SandboxSettings())


def sh(sandbox: Sandbox, script: str, cwd: Path, **options: object) -> subprocess.CompletedProcess[str]:
    launch = sandbox.command(["/bin/sh", "-c", script], cwd=cwd, env=ENV, **options)  # type: ignore[arg-type]
    return subprocess.run(launch.argv, env=launch.env, cwd=launch.cwd, capture_output=True, text=True, timeout=60)


def test_only_the_writable_paths_and_a_private_tmp_can_be_written(sandbox: Sandbox, tmp_path: Path) -> None:
    """A write to the writable dir lands; one to a readable dir, the root or a sibling dir fails; /tmp is private."""
    writable, readable, sibling = tmp_path / "rw", tmp_path / "ro", tmp_path / "other"
    for path in (writable, readable, sibling):
        path.mkdir()
    (readable / "data.txt").write_text("visible")
    marker = f"private-{uuid.uuid4().hex}"
    done = sh(
        sandbox,
        f"echo a > {writable}/a; cat {readable}/data.txt; echo b > {readable}/b; echo c > {sibling}/c; "
        f"echo d > /d; echo e > /tmp/{marker} && echo tmp-ok; ls {sibling}",
        cwd=writable, writable=[writable], readable=[readable],
    )  # fmt: skip
    assert (writable / "a").read_text() == "a\n"
    assert "visible" in done.stdout and "tmp-ok" in done.stdout
    assert not (readable / "b").exists() and not (sibling / "c").exists() and not Path("/d").exists()
    assert not (Path("/tmp") / marker).exists()
    assert "Read-only file system" in done.stderr


def test_there_is_no_network_unless_asked_for(sandbox: Sandbox, tmp_path: Path) -> None:
    """Without network only the loopback interface exists; network=True sees the host's interfaces."""
    interfaces = "awk 'NR>2 {print $1}' /proc/net/dev"
    closed = sh(sandbox, interfaces, cwd=tmp_path, writable=[tmp_path])
    opened = sh(sandbox, interfaces, cwd=tmp_path, writable=[tmp_path], network=True)
    assert closed.stdout.split() == ["lo:"], closed.stderr
    assert set(opened.stdout.split()) > {"lo:"}


def test_processes_capabilities_and_secrets_of_the_host_are_out_of_sight(sandbox: Sandbox, tmp_path: Path) -> None:
    """/proc lists only the sandbox, PID 1 has an empty environment, no capabilities; /etc/shadow and hidden
    files cannot be read."""
    secret_dir = tmp_path / "venv"
    secret_dir.mkdir()
    (secret_dir / "key").write_text("s3cret")
    hiding = Sandbox.from_settings(SandboxSettings(), hidden=[secret_dir / "key"])
    done = sh(
        hiding,
        "ls /proc | grep -c '^[0-9]'; wc -c < /proc/1/environ; grep CapEff /proc/self/status; "
        f"cat /etc/shadow; cat {secret_dir}/key; echo end",
        cwd=tmp_path, readable=[secret_dir],
    )  # fmt: skip
    count, environ_bytes, caps, *rest = done.stdout.split("\n")
    assert int(count) < 6 and int(environ_bytes) == 0, done.stdout
    assert caps.split()[-1] == "0000000000000000"
    assert rest[0] == "end" and "/etc/shadow: Permission denied" in done.stderr, (done.stdout, done.stderr)
    assert Path("/etc/shadow").read_text().startswith("root:"), "control: the host's file has content"


def test_ending_the_sandbox_ends_a_setsid_child_too(sandbox: Sandbox, tmp_path: Path) -> None:
    """end_process_trees on the outer bwrap kills a `setsid sleep` started inside, before it returns."""
    marker = f"sleep 299.{uuid.uuid4().int % 10**6:06d}"
    launch = sandbox.command(
        ["/bin/sh", "-c", f"setsid {marker} > /dev/null 2>&1 & echo started; sleep 300"],
        cwd=tmp_path,
        env=ENV,
        writable=[tmp_path],
    )
    proc = subprocess.Popen(launch.argv, env=launch.env, cwd=launch.cwd, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "started"
        assert _running(marker), "the setsid child did not start"
        assert end_process_trees([proc.pid]) >= 3
        assert _running(marker) == []
    finally:
        proc.kill()
        proc.communicate()


def test_without_a_sandbox_the_command_is_run_as_given() -> None:
    """HANDOFF_SANDBOX=none: the argv and env come back unchanged, marked unsandboxed."""
    sandbox = Sandbox.from_settings(SandboxSettings(mode=SandboxMode.NONE))
    launch = sandbox.command(["pytest", "-q"], cwd=Path("/x"), env={"A": "1"}, writable=[Path("/x")])
    assert (launch.argv, launch.env, launch.sandboxed) == (["pytest", "-q"], {"A": "1"}, False)


def _running(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker in (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def test_secret_files_are_those_handoff_settings_name(tmp_path: Path) -> None:
    """Key and creds files named by HANDOFF_* settings are hidden; CA bundles and other tools' paths are not."""
    key, creds, bundle = tmp_path / "key", tmp_path / "nats.creds", tmp_path / "ca.pem"
    for path in (key, creds, bundle):
        path.write_text("x")
    environ = {
        "HANDOFF_LLM_API_KEY_FILE": str(key),
        "HANDOFF_NATS_CREDS": str(creds),
        "HANDOFF_WORK_DIR": str(tmp_path),
        "SSL_CERT_FILE": str(bundle),
        "HANDOFF_MISSING_KEY_FILE": str(tmp_path / "absent"),
    }
    assert sorted(secret_files(environ)) == sorted([key, creds])
