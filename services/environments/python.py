"""Find an interpreter for the Python version a task asks for.

Order: the generator's own interpreter if its version matches (or none was asked for), then pyenv's
``versions/X.Y.*``, then ``/usr/bin/pythonX.Y``, then ``uv python find X.Y`` (which never downloads here).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from handoff.environments.errors import PythonNotFound

PROBE_TIMEOUT_S = 30.0
VERSION = re.compile(r"^3\.\d{1,2}$")


@dataclass(frozen=True, slots=True)
class Interpreter:
    path: Path
    version: str  # full version, e.g. "3.12.1"

    @property
    def minor(self) -> str:
        return ".".join(self.version.split(".")[:2])


def resolve_python(wanted: str | None, *, uv: str) -> Interpreter:
    """The interpreter for ``wanted`` ("3.12"), or the generator's own when ``wanted`` is None."""
    own = Interpreter(Path(sys.executable), ".".join(map(str, sys.version_info[:3])))
    if wanted is None or wanted == own.minor:
        return own
    if not VERSION.match(wanted):
        raise PythonNotFound(f"python version {wanted!r} is not of the form 3.X")
    for candidate in (*_pyenv_candidates(wanted), Path(f"/usr/bin/python{wanted}")):
        found = _probe(candidate)
        if found is not None and found.minor == wanted:
            return found
    found = _uv_find(wanted, uv)
    if found is not None and found.minor == wanted:
        return found
    raise PythonNotFound(f"no Python {wanted} on this replica; available: {', '.join(available_versions(own))}")


def available_versions(own: Interpreter | None = None) -> list[str]:
    """Versions an operator can offer (for the error message): the generator's, pyenv's, /usr/bin's."""
    found = {own.version} if own else {".".join(map(str, sys.version_info[:3]))}
    root = _pyenv_root()
    if root is not None and (root / "versions").is_dir():
        found |= {p.name for p in (root / "versions").iterdir() if re.match(r"^3\.\d+\.\d+$", p.name)}
    found |= {
        p.name.removeprefix("python") for p in Path("/usr/bin").glob("python3.*") if re.match(r"^python3\.\d+$", p.name)
    }
    return sorted(found, key=lambda v: tuple(int(x) for x in v.split(".")))


def _pyenv_root() -> Path | None:
    root = os.environ.get("PYENV_ROOT") or str(Path.home() / ".pyenv")
    return Path(root) if Path(root).is_dir() else None


def _pyenv_candidates(wanted: str) -> list[Path]:
    root = _pyenv_root()
    if root is None:
        return []
    versions = [p for p in (root / "versions").glob(f"{wanted}.*") if re.match(r"^3\.\d+\.\d+$", p.name)]
    versions.sort(key=lambda p: int(p.name.rsplit(".", 1)[1]), reverse=True)  # newest patch release first
    return [p / "bin" / "python3" for p in versions]


@lru_cache(maxsize=64)
def _probe(path: Path) -> Interpreter | None:
    """Run the candidate once to learn its exact version; None if it does not run."""
    if not path.is_file() or not os.access(path, os.X_OK):
        return None
    try:
        done = subprocess.run(
            [str(path), "-c", "import platform; print(platform.python_version())"],
            capture_output=True, text=True, timeout=PROBE_TIMEOUT_S, check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return None
    version = done.stdout.strip()
    if done.returncode != 0 or not re.match(r"^3\.\d+\.\d+", version):
        return None
    return Interpreter(path, version)


def _uv_find(wanted: str, uv: str) -> Interpreter | None:
    try:
        done = subprocess.run(
            [uv, "python", "find", "--no-python-downloads", wanted],
            capture_output=True, text=True, timeout=PROBE_TIMEOUT_S, check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0 or not done.stdout.strip():
        return None
    return _probe(Path(done.stdout.strip()))
