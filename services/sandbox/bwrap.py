"""The bubblewrap command line for one sandboxed command: pure, so it can be read and tested on its own.

Inside: new user, PID, IPC and UTS namespaces (and network unless asked for), no capabilities, a fresh ``/proc``
showing only the sandbox's processes, a minimal ``/dev``, a private ``/tmp``, the system directories and the
interpreter read-only, the caller's readable paths read-only and its writable paths read-write, everything at the
same path as outside. Nothing else of the host's file system exists inside; the root itself is read-only.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

SYSTEM_DIRS = ("/usr", "/etc")
ROOT_ENTRIES = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
ETC_MASKED = (
    "shadow", "shadow-", "gshadow", "gshadow-", "sudoers", "sudoers.d", "ssh", "ssl/private", "security/opasswd",
    "pip.conf", "netrc", "krb5.keytab", "docker", "kubernetes", "credstore", "credstore.encrypted",
    "NetworkManager/system-connections", "wireguard", "openvpn", "handoff",
)  # fmt: skip
"""Parts of /etc that hold secrets of the host (password hashes, host keys, index and cluster credentials)."""
SANDBOX_PATH = "/usr/local/bin:/usr/bin:/bin"


def bwrap_argv(
    bwrap: str,
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    writable: Iterable[Path] = (),
    readable: Iterable[Path] = (),
    hidden: Iterable[Path] = (),
    network: bool = False,
    terminal_leader: str | None = None,
) -> list[str]:
    """The full argv. ``terminal_leader``: the ``setsid`` binary, to make the command the session leader of the
    terminal on its stdin (the agent's interactive shell needs job control and Ctrl-C; the terminal is the
    shell's own, so it can feed input only to itself); without it the command runs in a new session with no
    terminal (``--new-session``)."""
    args = [bwrap, "--unshare-user", "--unshare-pid", "--unshare-ipc", "--unshare-uts"]
    if not network:
        args.append("--unshare-net")
    if terminal_leader is None:
        # PR_SET_PDEATHSIG follows the thread that started bwrap: the SDK starts the agent's shell from a thread
        # that ends long before the shell, so the shell's sandbox is ended explicitly instead (teardown.py)
        args += ["--die-with-parent", "--new-session"]
    args += ["--cap-drop", "ALL"]
    args.append("--clearenv")
    for name, value in sorted(env.items()):
        args += ["--setenv", name, value]
    args += _system()
    args += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    readable = [Path(p).resolve() for p in readable]
    args += _binds(readable=readable, writable=writable)
    visible = [*SYSTEM_DIRS, *(str(p) for p in readable)]
    args += _masks([*(Path("/etc") / name for name in ETC_MASKED), *hidden], visible=visible)
    args += ["--remount-ro", "/", "--chdir", str(cwd), "--"]
    if terminal_leader is not None:  # on a terminal: lead it; without one (``shell -c ...``): run as is
        args += ["/bin/sh", "-c", 'if [ -t 0 ]; then exec "$0" -w --ctty "$@"; fi; exec "$@"', terminal_leader]
    return args + list(argv)


def _system() -> list[str]:
    args: list[str] = []
    for entry in ROOT_ENTRIES:
        path = Path(entry)
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), entry]
        elif path.is_dir():
            args += ["--ro-bind", entry, entry]
    for entry in SYSTEM_DIRS:
        if Path(entry).is_dir():
            args += ["--ro-bind", entry, entry]
    return args


def _binds(*, readable: Iterable[Path], writable: Iterable[Path]) -> list[str]:
    """Read-only and read-write binds, parents before children so a nested bind is not hidden by its parent."""
    binds: dict[str, str] = {}
    for path in readable:
        resolved = str(Path(path).resolve())
        if not _under(resolved, SYSTEM_DIRS):
            binds.setdefault(resolved, "--ro-bind")
    for path in writable:
        binds[str(Path(path).resolve())] = "--bind"  # writable wins over readable for the same path
    args: list[str] = []
    for target in sorted(binds, key=lambda p: (len(Path(p).parts), p)):
        if Path(target).exists():
            args += [binds[target], target, target]
    return args


def _masks(paths: Iterable[Path], *, visible: Sequence[str]) -> list[str]:
    """Existing secret files under a read-only tree become empty files, secret directories empty directories."""
    args: list[str] = []
    masked: list[str] = []
    for target in sorted({Path(p).resolve() for p in paths}, key=lambda p: (len(p.parts), str(p))):
        if not _under(str(target), visible) or _under(str(target), masked):
            continue  # not bound read-only (so absent in the sandbox), or inside a directory already hidden
        masked.append(str(target))
        if target.is_dir():
            args += ["--tmpfs", str(target), "--remount-ro", str(target)]
        elif target.exists():
            args += ["--ro-bind", "/dev/null", str(target)]
    return args


def _under(path: str, roots: Sequence[str]) -> bool:
    return any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)
