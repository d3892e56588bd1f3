"""A fresh directory tree per task: the workspace, its own HOME and TMPDIR, clean copies to validate in.

Layout under ``<work dir>/<task>-<attempt>-<random>/``::

    workspace/      the materialised snapshot; the agent's working directory
    home/, tmp/     HOME and TMPDIR of the agent's terminal and of validation runs
    conversation/   the SDK's persisted conversation
    validation/     junit xml and coverage data of validation runs
    clean-<n>/      after round n: a fresh extraction of the snapshot plus the accepted part of the agent's
                    changes; validation runs here (see changes.py)
    clean-<n>.git/  a git dir recording clean-<n> before the changes, to write the patch from
    shell           the agent's shell: a fresh sandbox (services/sandbox) with exactly the allowlisted env
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import structlog

from handoff.sandbox import Sandbox, end_process_trees
from handoff.schemas.events import reserved_env_var

log = structlog.get_logger(__name__)

ENV_ALLOWLIST = ("LANG", "LC_ALL", "LC_CTYPE", "TZ", "TERM")
SHELL_PASSTHROUGH = ("TERM", "PS1", "PS2")  # set by the SDK's terminal when it starts the shell
_FROM_CALLER = "\0from-caller:"  # marks a value the wrapper takes from its caller (no env value holds a NUL)
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
    def assurance(self) -> Path:
        """Scratch of the per-test filters, coverage runs and mutation testing (outside every tree)."""
        return self.root / "assurance"

    def clean(self, round_no: int) -> Path:
        return self.root / f"clean-{round_no}"

    def clean_git(self, round_no: int) -> Path:
        return self.root / f"clean-{round_no}.git"

    @property
    def shell(self) -> Path:
        return self.root / "shell"

    @property
    def shell_pids(self) -> Path:
        return self.root / "shell.pids"

    @property
    def writable(self) -> list[Path]:
        """What the task's sandboxed commands may write besides the tree they run in: its HOME and TMPDIR."""
        return [self.home, self.tmp]

    @classmethod
    def create(cls, parent: Path, task_id: str, attempt: int) -> TaskDirs:
        parent.mkdir(parents=True, exist_ok=True)
        dirs = cls(Path(tempfile.mkdtemp(prefix=f"{task_id}-{attempt}-", dir=parent)))
        for path in (dirs.home, dirs.tmp, dirs.conversation, dirs.validation):
            path.mkdir(mode=0o700)
        return dirs


def agent_env(
    dirs: TaskDirs,
    *,
    allow: Iterable[str] = (),
    source: Mapping[str, str] | None = None,
    venv: Path | None = None,
    test_env: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The whole environment the agent's tools and validation runs get: an allowlist, never the worker's env.

    With ``venv`` (the project's environment) its ``bin`` comes first on PATH and it is the ``VIRTUAL_ENV``, so
    ``python -m pytest`` in the agent's terminal runs with the project's dependencies and not with Handoff's.
    ``test_env`` (the task's ``test_env``) is added over the allowlist; a reserved name (see
    ``reserved_env_var``) raises ValueError, though a decoded submit cannot hold one.
    """
    source = os.environ if source is None else source
    env = {name: source[name] for name in (*ENV_ALLOWLIST, *allow) if name in source}
    interpreter_dir = str(venv / "bin") if venv is not None else str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join([interpreter_dir, source.get("PATH", "/usr/local/bin:/usr/bin:/bin")])
    if venv is not None:
        env["VIRTUAL_ENV"] = str(venv)
        paths = [dirs.workspace, dirs.workspace / "src"]
        env["PYTHONPATH"] = os.pathsep.join(str(p) for p in paths if p == dirs.workspace or p.is_dir())
    for name, value in (test_env or {}).items():
        if problem := reserved_env_var(name):
            raise ValueError(f"test_env: {problem}")
        env[name] = value
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


def write_shell(dirs: TaskDirs, env: Mapping[str, str], *, sandbox: Sandbox) -> Path:
    """A shell wrapper that records its pid (to end it later) and execs bash in a new sandbox with exactly ``env``.

    The wrapper itself is started with the worker's environment; it passes on nothing of it but the terminal
    settings the SDK gives every shell (TERM, PS1, PS2), and starts the sandbox with an empty environment.
    """
    bash = shutil.which("bash", path=env.get("PATH")) or "/bin/bash"
    inner = {**env, "GIT_PAGER": "cat", "PAGER": "cat", **{name: _FROM_CALLER + name for name in SHELL_PASSTHROUGH}}
    launch = sandbox.command(
        [bash, "--noprofile", "--norc"], cwd=dirs.workspace, env=inner, writable=[dirs.workspace, *dirs.writable],
        terminal=True,
    )  # fmt: skip
    words = [*(f"{name}={_word(value)}" for name, value in sorted(launch.env.items())), *map(_word, launch.argv)]
    script = [
        "#!/bin/sh",
        f"echo $$ >> {shlex.quote(str(dirs.shell_pids))}",
        f'exec /usr/bin/env -i {" ".join(words)} "$@"',
    ]
    dirs.shell.write_text("\n".join(script) + "\n")
    dirs.shell.chmod(0o700)
    return dirs.shell


def _word(value: str) -> str:
    if value.startswith(_FROM_CALLER):
        return f'"${value.removeprefix(_FROM_CALLER)}"'
    return shlex.quote(value)


def end_agent_processes(dirs: TaskDirs) -> int:
    """SIGKILL what the agent's shells left running: each shell's sandbox as a whole (its PID namespace, setsid
    children included), and without a sandbox every process in the shells' sessions. Linux only."""
    try:
        leaders = {int(line) for line in dirs.shell_pids.read_text().split() if line.strip().isdigit()}
    except FileNotFoundError:
        return 0
    killed = end_process_trees(leaders, marker=str(dirs.workspace))
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


# ---- patches: a git dir outside the tree records it, then the staged difference is the patch -------------
def record_tree(git_dir: Path, tree: Path, env: Mapping[str, str], paths: Sequence[str]) -> None:
    """Commit ``paths`` of ``tree`` as they are now (those that exist) into a new ``git_dir`` outside the tree.

    Only the paths a patch will touch are recorded, so the cost follows the change set, not the repository.
    """
    _git(git_dir, tree, env, "init", "-q")
    (git_dir / "info").mkdir(exist_ok=True)
    (git_dir / "info" / "exclude").write_text("\n".join(BASELINE_EXCLUDES) + "\n")
    existing = [p for p in paths if (tree / p).is_file() or (tree / p).is_symlink()]
    if existing:
        _git(git_dir, tree, env, "add", *_pathspecs(git_dir, existing))
    _git(git_dir, tree, env, "commit", "-q", "--no-verify", "--allow-empty", "-m", "snapshot")


def recorded_file(git_dir: Path, tree: Path, env: Mapping[str, str], path: str) -> bytes | None:
    """``path`` as ``record_tree`` recorded it (the snapshot's version), or None when it was not there."""
    listed = _git(git_dir, tree, env, "ls-tree", "--name-only", "-z", "HEAD", "--", path)
    if not listed:
        return None
    return _git(git_dir, tree, env, "show", f"HEAD:{path}")


@dataclass(frozen=True, slots=True)
class Change:
    status: str  # A added, M modified, D deleted, T type changed
    path: str


def diff_tree(git_dir: Path, tree: Path, env: Mapping[str, str], paths: Sequence[str]) -> bytes:
    """A binary-safe patch ``git apply`` accepts on the tree ``record_tree`` recorded, for ``paths`` as they are now."""
    if not paths:
        return b""
    _git(git_dir, tree, env, "add", "-A", *_pathspecs(git_dir, paths))
    return _git(git_dir, tree, env, "diff", "--cached", "--binary", "--no-renames", "--no-color", "HEAD")


def _pathspecs(git_dir: Path, paths: Sequence[str]) -> list[str]:
    """Options naming ``paths`` literally (no glob magic), through a file: any number of them fits."""
    listing = (git_dir / "pathspecs").absolute()  # git reads it from the work tree
    listing.write_bytes(b"\0".join(p.encode("utf-8", errors="surrogateescape") for p in paths))
    return [f"--pathspec-from-file={listing}", "--pathspec-file-nul"]


def _git(git_dir: Path, tree: Path, env: Mapping[str, str], *args: str) -> bytes:
    command = [
        "git",
        "--literal-pathspecs",
        f"--git-dir={git_dir}",
        f"--work-tree={tree}",
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
        "-c",
        "core.hooksPath=/dev/null",
        *args,
    ]
    try:
        done = subprocess.run(command, env=dict(env), capture_output=True, timeout=GIT_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise WorkspaceError(f"git {args[0]} failed: {err}") from err
    if done.returncode != 0:
        raise WorkspaceError(f"git {args[0]} failed: {done.stderr.decode(errors='replace').strip()[:2000]}")
    return done.stdout


def ensure_test_dir(workspace: Path, test_dir: str) -> bool:
    """Create the task's test directory when the snapshot has none (an empty directory is no change by itself).

    True if it was created. Nothing is created through a symlink or over a file of that name.
    """
    path = workspace
    for part in Path(test_dir).parts:
        path = path / part
        if path.is_symlink() or (path.exists() and not path.is_dir()):
            return False
    if path.is_dir():
        return False
    path.mkdir(parents=True)
    return True
