"""Resource limits in the sandbox: a memory hog or a runaway writer fails inside, the worker carries on."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from handoff.common.env import SettingsError
from handoff.sandbox import ResourceLimits, Sandbox, SandboxSettings, probe

PYTHON = str(Path(sys.executable).resolve())  # the base interpreter, readable in every sandbox
ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
HOG = "data = bytearray(1024 * 2**20); data[-1] = 1; print('allocated 1 GiB')"
WRITER = "open('big.bin', 'wb').write(b'x' * 3 * 2**20); print('wrote 3 MiB')"


def sandbox_with(limits: ResourceLimits) -> Sandbox:
    return probe(SandboxSettings(limits=limits))


def python(sandbox: Sandbox, code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    launch = sandbox.command([PYTHON, "-c", code], cwd=cwd, env=ENV, writable=[cwd])
    return subprocess.run(launch.argv, env=launch.env, cwd=launch.cwd, capture_output=True, text=True, timeout=60)


def test_a_process_over_the_memory_limit_gets_a_memory_error_and_one_without_the_limit_does_not(
    tmp_path: Path,
) -> None:
    """1 GiB under a 512 MiB limit: MemoryError inside the sandbox; the same code with no limit allocates it."""
    limited = python(sandbox_with(ResourceLimits(memory_mib=512)), HOG, tmp_path)
    assert limited.returncode != 0 and "MemoryError" in limited.stderr, limited.stderr
    unlimited = python(sandbox_with(ResourceLimits()), HOG, tmp_path)
    assert unlimited.returncode == 0 and "allocated 1 GiB" in unlimited.stdout, unlimited.stderr


def test_a_file_over_the_size_limit_cannot_be_written_and_without_the_limit_it_can(tmp_path: Path) -> None:
    """A 3 MiB write under a 1 MiB file limit fails (EFBIG); with no limit the file is written."""
    limited = python(sandbox_with(ResourceLimits(file_mib=1)), WRITER, tmp_path)
    assert limited.returncode != 0 and "wrote 3 MiB" not in limited.stdout
    assert (tmp_path / "big.bin").stat().st_size <= 2**20
    unlimited = python(sandbox_with(ResourceLimits()), WRITER, tmp_path)
    assert unlimited.returncode == 0 and (tmp_path / "big.bin").stat().st_size == 3 * 2**20


def test_the_limits_have_defaults_and_come_from_the_environment() -> None:
    """4 GiB of memory and 1 GiB files per process by default; 0 turns one off; a too small memory limit is refused."""
    assert SandboxSettings.from_env({}).limits == ResourceLimits(memory_mib=4096, file_mib=1024)
    env = {"HANDOFF_SANDBOX_MEMORY_MIB": "0", "HANDOFF_SANDBOX_FILE_MIB": "64"}
    assert SandboxSettings.from_env(env).limits == ResourceLimits(memory_mib=0, file_mib=64)
    with pytest.raises(SettingsError, match=r"HANDOFF_SANDBOX_MEMORY_MIB must be 0 .* or at least 256"):
        SandboxSettings.from_env({"HANDOFF_SANDBOX_MEMORY_MIB": "100"})


def test_the_installer_keeps_the_memory_limit_but_not_the_file_limit(tmp_path: Path) -> None:
    """``file_limit=False`` (environment builds writing large wheels) lifts only the file size limit."""
    sandbox = sandbox_with(ResourceLimits(memory_mib=512, file_mib=1))
    launch = sandbox.command([PYTHON, "-c", WRITER], cwd=tmp_path, env=ENV, writable=[tmp_path],
                             file_limit=False)  # fmt: skip
    done = subprocess.run(launch.argv, env=launch.env, cwd=launch.cwd, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and (tmp_path / "big.bin").stat().st_size == 3 * 2**20, done.stderr
    assert python(sandbox, HOG, tmp_path).returncode != 0
