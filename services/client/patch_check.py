"""Reading a task's patch before anything applies it: a small parser of git's diff format and its extended headers.

A patch comes from a generator (or from whoever could write to the artifacts store), so it is checked as
untrusted input. ``inspect_patch`` names every file the patch touches and every reason to refuse it:

- no copies or renames (``git apply`` does not check copy sources: ``copy from ../../x`` reads outside the tree);
- no symbolic links, submodules, executable files or mode changes: only regular ``100644`` files;
- no binary patches; no path that is absolute, has ``..``, ``.`` or empty segments, a backslash or a control
  character; nothing named ``.git*`` at any depth (``.git/``, ``.gitattributes``, ``.gitmodules``, ``.github/``);
- by default only test paths: under the task's test folder, or a ``test_*.py`` / ``*_test.py`` file anywhere
  (``allow_source`` lifts this rule, none of the others);
- nothing ``git apply`` would read that this parser does not understand: text before the first ``diff --git``,
  unknown header lines, hunks whose line counts do not match their ``@@`` header.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Literal

REGULAR_MODE = "100644"
_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
_INDEX = re.compile(r"^index [0-9a-f]+\.\.[0-9a-f]+(?: (\d{6}))?$")
_TEST_FILE = re.compile(r"^(test_.*|.*_test)\.py$")
_ESCAPES = {"a": "\a", "b": "\b", "t": "\t", "n": "\n", "v": "\v", "f": "\f", "r": "\r", '"': '"', "\\": "\\"}
_IGNORED_HEADERS = ("similarity index ", "dissimilarity index ")


@dataclass(frozen=True, slots=True)
class PatchPolicy:
    """What a patch may touch: test paths under ``test_dir`` (and test modules anywhere), or any ordinary source
    path with ``allow_source``."""

    test_dir: str = "tests"
    allow_source: bool = False


@dataclass(slots=True)
class FileChange:
    path: str
    kind: Literal["add", "modify", "delete"] = "modify"


@dataclass(slots=True)
class PatchReport:
    changes: list[FileChange] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)


def inspect_patch(patch: bytes, policy: PatchPolicy) -> PatchReport:
    """Every file ``patch`` changes and every reason to refuse it (an empty ``refusals`` means it may be applied)."""
    report = PatchReport()
    text = patch.decode("utf-8", errors="surrogateescape")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    i = 0
    while i < len(lines) and lines[i].strip() == "":
        i += 1
    if i < len(lines) and not lines[i].startswith("diff --git "):
        report.refusals.append(f"line {i + 1}: text before the first 'diff --git' header ({_show(lines[i])})")
        return report
    seen: set[str] = set()
    while i < len(lines):
        i = _section(lines, i, policy, report, seen)
    if not report.changes and not report.refusals:
        report.refusals.append("the patch changes no file")
    return report


def _section(lines: list[str], i: int, policy: PatchPolicy, report: PatchReport, seen: set[str]) -> int:
    """Parse one ``diff --git`` section starting at ``lines[i]``; return the index of the next section."""
    header = lines[i]
    names = _header_paths(header[len("diff --git ") :])
    if names is None:
        report.refusals.append(f"line {i + 1}: cannot read the paths of {_show(header)}")
        return _next_section(lines, i + 1)
    old, new = names
    change = FileChange(path=new)
    problems: list[str] = []
    if old != new:
        problems.append(f"renames {old!r} to {new!r}")
    i += 1
    while i < len(lines) and not lines[i].startswith(("@@", "diff --git ")):
        line = lines[i]
        if line.startswith(("copy from ", "copy to ")):
            problems.append(f"is a copy ({_show(line)}); copies are refused")
        elif line.startswith(("rename from ", "rename to ")):
            problems.append(f"is a rename ({_show(line)}); renames are refused")
        elif line.startswith(("old mode ", "new mode ")):
            problems.append(f"changes the file mode ({_show(line)})")
        elif line.startswith("new file mode "):
            change.kind = "add"
            _check_mode(line[len("new file mode ") :], problems)
        elif line.startswith("deleted file mode "):
            change.kind = "delete"
            _check_mode(line[len("deleted file mode ") :], problems)
        elif line.startswith("index "):
            match = _INDEX.match(line)
            if match is None:
                problems.append(f"has an unreadable index line ({_show(line)})")
            elif match.group(1) is not None:
                _check_mode(match.group(1), problems)
        elif line.startswith(("Binary files ", "GIT binary patch")):
            problems.append("is a binary patch")
            return _refuse(report, change, problems, _next_section(lines, i + 1))
        elif line.startswith("--- "):
            if not _same_file(line[4:], "a/", old, change.kind != "add"):
                problems.append(f"names another file in {_show(line)}")
        elif line.startswith("+++ "):
            if not _same_file(line[4:], "b/", new, change.kind != "delete"):
                problems.append(f"names another file in {_show(line)}")
        elif line.startswith(_IGNORED_HEADERS):
            pass
        else:
            problems.append(f"line {i + 1}: unexpected header line {_show(line)}")
        i += 1
    while i < len(lines) and lines[i].startswith("@@"):
        i = _hunk(lines, i, problems)
    if i < len(lines) and not lines[i].startswith("diff --git "):
        problems.append(f"line {i + 1}: unexpected line after a hunk {_show(lines[i])}")
        i = _next_section(lines, i + 1)
    problems += _path_problems(new, policy)
    if new in seen:
        problems.append("is changed twice in one patch")
    seen.add(new)
    return _refuse(report, change, problems, i)


def _refuse(report: PatchReport, change: FileChange, problems: list[str], next_index: int) -> int:
    report.changes.append(change)
    report.refusals += [f"{change.path}: {problem}" for problem in problems]
    return next_index


def _hunk(lines: list[str], i: int, problems: list[str]) -> int:
    match = _HUNK.match(lines[i])
    if match is None:
        problems.append(f"line {i + 1}: unreadable hunk header {_show(lines[i])}")
        return _next_section(lines, i + 1)
    old_left = int(match.group(2) if match.group(2) is not None else 1)
    new_left = int(match.group(4) if match.group(4) is not None else 1)
    i += 1
    while i < len(lines) and (old_left > 0 or new_left > 0):
        line = lines[i]
        tag = line[:1]
        if tag in (" ", ""):
            old_left, new_left = old_left - 1, new_left - 1
        elif tag == "-":
            old_left -= 1
        elif tag == "+":
            new_left -= 1
        elif tag != "\\":
            break
        i += 1
    if old_left != 0 or new_left != 0:
        problems.append(f"line {i + 1}: a hunk does not match the line counts of its header")
        return _next_section(lines, i)
    while i < len(lines) and lines[i].startswith("\\"):
        i += 1  # "\ No newline at end of file"
    return i


def _next_section(lines: list[str], i: int) -> int:
    while i < len(lines) and not lines[i].startswith("diff --git "):
        i += 1
    return i


def _check_mode(mode: str, problems: list[str]) -> None:
    if mode == "120000":
        problems.append("is a symbolic link; only regular files are applied")
    elif mode == "160000":
        problems.append("is a submodule; only regular files are applied")
    elif mode != REGULAR_MODE:
        problems.append(f"has mode {mode}; only regular {REGULAR_MODE} files are applied")


def _same_file(name: str, prefix: str, path: str, exists: bool) -> bool:
    name = name.split("\t", 1)[0]
    if name == "/dev/null":
        return not exists
    decoded = _unquote(name) if name.startswith('"') else name
    return exists and decoded == prefix + path


def _header_paths(rest: str) -> tuple[str, str] | None:
    """``(old, new)`` of ``a/<old> b/<new>`` (each possibly C-quoted as git writes unusual names)."""
    if rest.startswith('"'):
        end = _quoted_end(rest)
        if end is None:
            return None
        first, rest_b = _unquote(rest[: end + 1]), rest[end + 2 :]
        second = _unquote(rest_b) if rest_b.startswith('"') else rest_b
    elif rest.endswith('"'):
        start = rest.rfind(' "')
        if start < 0:
            return None
        first, second = rest[:start], _unquote(rest[start + 1 :])
    else:
        half = (len(rest) - 1) // 2  # "a/P b/P" (the same P twice) splits in the middle
        first, second = rest[:half], rest[half + 1 :]
        if len(rest) % 2 == 0 or rest[half] != " " or first[2:] != second[2:]:
            if rest.count(" b/") != 1:  # two different names: only readable when one " b/" separates them
                return None
            first, second = rest.split(" b/")
            second = "b/" + second
    if not first.startswith("a/") or not second.startswith("b/"):
        return None
    return first[2:], second[2:]


def _quoted_end(text: str) -> int | None:
    i = 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == '"':
            return i
        i += 1
    return None


def _unquote(quoted: str) -> str:
    """git's C-style quoting: ``"a/caf\\303\\251"`` -> ``a/café``."""
    body = quoted[1:-1] if len(quoted) >= 2 and quoted.endswith('"') else quoted[1:]
    out = bytearray()
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            octal = body[i + 1 : i + 4]
            if len(octal) == 3 and all(c in "01234567" for c in octal):
                out.append(int(octal, 8) & 0xFF)
                i += 4
                continue
            out += _ESCAPES.get(nxt, "\\" + nxt).encode()
            i += 2
            continue
        out += ch.encode("utf-8", errors="surrogateescape")
        i += 1
    return out.decode("utf-8", errors="surrogateescape")


def _path_problems(path: str, policy: PatchPolicy) -> list[str]:
    parts = path.split("/")
    if not path or path.startswith("/") or any(p in ("", ".", "..") for p in parts):
        return ["is not a plain relative path inside the tree"]
    if "\\" in path or any(not ch.isprintable() for ch in path):
        return ["has a backslash or a control character in its name"]
    if any(p.lower().startswith(".git") for p in parts):
        return ["is git metadata or configuration (.git*, .github/); never applied"]
    if not policy.allow_source and not is_test_path(path, policy.test_dir):
        return [f"is not a test file (under {policy.test_dir}/, or test_*.py); --allow-source applies it"]
    return []


def is_test_path(path: str, test_dir: str) -> bool:
    folder = PurePosixPath(test_dir.strip("/") or "tests")
    pure = PurePosixPath(path)
    return folder in pure.parents or _TEST_FILE.match(pure.name) is not None


def _show(line: str) -> str:
    return repr(line[:120])
