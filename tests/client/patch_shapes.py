"""Patches a generator (or anyone who can write the artifacts store) can hand back, built as git writes them."""

from __future__ import annotations

from pathlib import Path


def copy_from(source: str, target: str = "tests/stolen.txt") -> bytes:
    """``git apply`` checks '..' in rename, delete and modify paths, not in copy sources."""
    return (f"diff --git a/{source} b/{target}\nsimilarity index 100%\ncopy from {source}\ncopy to {target}\n").encode()


def symlink(path: str = "tests/data", target: str = "/") -> bytes:
    return (
        f"diff --git a/{path} b/{path}\n"
        "new file mode 120000\n"
        "index 0000000..1111111\n"
        "--- /dev/null\n"
        f"+++ b/{path}\n"
        "@@ -0,0 +1 @@\n"
        f"+{target}\n"
        "\\ No newline at end of file\n"
    ).encode()


def mode_change(path: str = "tests/test_calc.py") -> bytes:
    return (f"diff --git a/{path} b/{path}\nold mode 100644\nnew mode 100755\n").encode()


def new_file(path: str, lines: list[str], mode: str = "100644") -> bytes:
    body = "".join(f"+{line}\n" for line in lines)
    return (
        f"diff --git a/{path} b/{path}\n"
        f"new file mode {mode}\n"
        "index 0000000..2222222\n"
        "--- /dev/null\n"
        f"+++ b/{path}\n"
        f"@@ -0,0 +1,{len(lines)} @@\n"
        f"{body}"
    ).encode()


def workflow_file() -> bytes:
    return new_file(".github/workflows/exfiltrate.yml", ["on: push", "jobs: {}"])


def gitattributes() -> bytes:
    return new_file(".gitattributes", ["*.py filter=evil"])


def test_module(path: str = "tests/test_calc.py") -> bytes:
    return new_file(path, ["def test_add():", "    assert 1 + 1 == 2"])


def write(tmp: Path, name: str, data: bytes) -> Path:
    path = tmp / name
    path.write_bytes(data)
    return path
