"""A fresh directory tree per task: the workspace, its own HOME and TMPDIR, a baseline to diff against.

Layout under ``<work dir>/<task>-<attempt>-<random>/``::

    workspace/      the materialised snapshot; the agent's working directory
    home/, tmp/     HOME and TMPDIR of the agent's terminal and of validation runs
    conversation/   the SDK's persisted conversation
    validation/     junit xml and coverage data of validation runs
    baseline.git/   a git dir outside the workspace holding the snapshot as first commit
    shell           the agent's shell: ``env -i`` with an allowlist, so no worker secret reaches it
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import structlog

log = structlog.get_logger(__name__)

ENV_ALLOWLIST = ("LANG", "LC_ALL", "LC_CTYPE", "TZ", "TERM")
BASELINE_EXCLUDES = ("__pycache__/", "*.py[co]", ".pytest_cache/", ".coverage", ".coverage.*", ".hypothesis/")
GIT_TIMEOUT_S = 60.0


class WorkspaceError(Exception):
    """The task's directories or its git baseline could not be set up or read."""


@dataclass(frozen=True, slots=True)
class TaskDirs:
    root: Path

    @property
    def workspace(self) -> Path:
        return self.root / "workspace"

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def tmp(self) -> Path:
        return self.root / "tmp"

    @property
    def conversation(self) -> Path:
        return self.root / "conversation"

    @property
    def validation(self) -> Path:
        return self.root / "validation"

    @property
    def editor_history(self) -> Path:
        return self.tmp / "editor-history"

    @property
    def git_dir(self) -> Path:
        return self.root / "baseline.git"

    @property
    def shell(self) -> Path:
        return self.root / "shell"

    @property
    def shell_pids(self) -> Path:
        return self.root / "shell.pids"

    @classmethod
    def create(cls, parent: Path, task_id: str, attempt: int) -> TaskDirs:
        parent.mkdir(parents=True, exist_ok=True)
        dirs = cls(Path(tempfile.mkdtemp(prefix=f"{task_id}-{attempt}-", dir=parent)))
        for path in (dirs.home, dirs.tmp, dirs.conversation, dirs.validation):
            path.mkdir(mode=0o700)
        return dirs


def agent_env(dirs: TaskDirs, *, allow: Iterable[str] = (), source: Mapping[str, str] | None = None) -> dict[str, str]:
    """The whole environment the agent's tools and validation runs get: an allowlist, never the worker's env."""
    source = os.environ if source is None else source
    env = {name: source[name] for name in (*ENV_ALLOWLIST, *allow) if name in source}
    interpreter_dir = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join([interpreter_dir, source.get("PATH", "/usr/local/bin:/usr/bin:/bin")])
    env.setdefault("LANG", "C.UTF-8")
    env |= {
        "HOME": str(dirs.home),
        "TMPDIR": str(dirs.tmp),
        "TMP": str(dirs.tmp),
        "TEMP": str(dirs.tmp),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PIP_NO_INPUT": "1",
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    return env


def write_shell(dirs: TaskDirs, env: Mapping[str, str]) -> Path:
    """A shell wrapper that records its pid (to end the session later) and execs bash with exactly ``env``."""
    bash = shutil.which("bash", path=env.get("PATH")) or "/bin/bash"
    assignments = " ".join(f"{name}={shlex.quote(value)}" for name, value in sorted(env.items()))
    passthrough = 'TERM="$TERM" PS1="$PS1" PS2="$PS2" GIT_PAGER=cat PAGER=cat'
    dirs.shell.write_text(
        "#!/bin/sh\n"
        f"echo $$ >> {shlex.quote(str(dirs.shell_pids))}\n"
        f'exec /usr/bin/env -i {assignments} {passthrough} {shlex.quote(bash)} --noprofile --norc "$@"\n'
    )
    dirs.shell.chmod(0o700)
    return dirs.shell


def end_agent_processes(dirs: TaskDirs) -> int:
    """SIGKILL every process in the sessions of the agent's shells (commands it left running). Linux only."""
    try:
        leaders = {int(line) for line in dirs.shell_pids.read_text().split() if line.strip().isdigit()}
    except FileNotFoundError:
        return 0
    killed = 0
    for pid in _processes_in_sessions(leaders):
        try:
            os.kill(pid, signal.SIGKILL)
            killed += 1
        except ProcessLookupError:
            continue
    return killed


def _processes_in_sessions(sessions: set[int]) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir() if Path("/proc").is_dir() else ():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[-1].split()
        if len(fields) > 3 and int(fields[3]) in sessions:
            found.append(int(entry.name))
    return found


def remove(dirs: TaskDirs) -> None:
    shutil.rmtree(dirs.root, ignore_errors=True)


# ---- the git baseline (outside the workspace, so the agent neither sees nor changes it) -------------
def record_baseline(dirs: TaskDirs, env: Mapping[str, str]) -> None:
    _git(dirs, env, "init", "-q")
    (dirs.git_dir / "info").mkdir(exist_ok=True)
    (dirs.git_dir / "info" / "exclude").write_text("\n".join(BASELINE_EXCLUDES) + "\n")
    _git(dirs, env, "add", "-A")
    _git(dirs, env, "commit", "-q", "--no-verify", "--allow-empty", "-m", "snapshot")


@dataclass(frozen=True, slots=True)
class Change:
    status: str  # A added, M modified, D deleted, T type changed
    path: str


def diff_against_baseline(dirs: TaskDirs, env: Mapping[str, str]) -> tuple[bytes, list[Change]]:
    """``(patch, changes)``: a binary-safe patch ``git apply`` accepts on the snapshot, and what it touches."""
    _git(dirs, env, "add", "-A")
    patch = _git(dirs, env, "diff", "--cached", "--binary", "--no-renames", "--no-color", "HEAD")
    listing = _git(dirs, env, "diff", "--cached", "--name-status", "--no-renames", "-z", "HEAD")
    parts = [p.decode("utf-8", errors="surrogateescape") for p in listing.split(b"\0") if p]
    changes = [Change(status=parts[i][:1], path=parts[i + 1]) for i in range(0, len(parts) - 1, 2)]
    return patch, changes


def changed_files(dirs: TaskDirs, changes: Iterable[Change]) -> dict[str, bytes | None]:
    """The current content of each changed path (None: deleted), to put back later with ``restore``."""
    files: dict[str, bytes | None] = {}
    for change in changes:
        path = dirs.workspace / change.path
        files[change.path] = None if change.status == "D" or not path.is_file() else path.read_bytes()
    return files


def restore(dirs: TaskDirs, env: Mapping[str, str], files: Mapping[str, bytes | None]) -> None:
    """Put the workspace back to the snapshot plus ``files`` (as ``changed_files`` returned them)."""
    _git(dirs, env, "reset", "-q", "--hard", "HEAD")
    _git(dirs, env, "clean", "-fdq")
    for name, content in files.items():
        path = dirs.workspace / name
        if content is None:
            path.unlink(missing_ok=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)


def _git(dirs: TaskDirs, env: Mapping[str, str], *args: str) -> bytes:
    command = [
        "git",
        f"--git-dir={dirs.git_dir}",
        f"--work-tree={dirs.workspace}",
        "-c",
        "user.name=Handoff",
        "-c",
        "user.email=handoff@localhost",
        "-c",
        "commit.gpgsign=false",
        "-c",
        "core.autocrlf=false",
        "-c",
        "core.fileMode=true",
        *args,
    ]
    try:
        done = subprocess.run(command, env=dict(env), capture_output=True, timeout=GIT_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise WorkspaceError(f"git {args[0]} failed: {err}") from err
    if done.returncode != 0:
        raise WorkspaceError(f"git {args[0]} failed: {done.stderr.decode(errors='replace').strip()[:2000]}")
    return done.stdout
