"""How the modules of a test folder inside a package are imported, and how they import the code under test.

A folder with ``__init__.py`` is a package (pytest imports ``toolz/tests/test_x.py`` as ``toolz.tests.test_x``), and
its modules may import the code relatively (``from ..core import f``); a new module there follows them. A folder
without it has its modules imported by file name, so a new one needs a name no other test module has.
"""

from __future__ import annotations

import ast
from pathlib import Path, PurePosixPath

from handoff.runners.openhands.layout import is_test_name

MAX_READ_BYTES = 200_000  # a test module larger than this is not read for its imports


def folder_note(workspace: Path, folder: str) -> str:
    """One paragraph for the prompt about ``folder`` (relative to ``workspace``); empty for a top-level folder."""
    path = PurePosixPath(folder)
    if path.parent == PurePosixPath("."):
        return ""
    if not (workspace / folder / "__init__.py").is_file():
        return (
            f"{folder}/ has no __init__.py: pytest imports its modules by file name, so a new test module needs a "
            "name no other test module in the project has (the one named above); import the target by its full "
            "module name."
        )
    package = package_name(workspace, path)
    found = code_import(workspace, path, top=package.split(".")[0])
    if found is None:
        return f"{folder}/ is the package {package} (it has an __init__.py); import the target by its full name."
    source, line = found
    return (
        f"{folder}/ is the package {package} (it has an __init__.py); its test modules import the code under test "
        f"as {source} does: `{line}`. Import the target the same way."
    )


def package_name(workspace: Path, folder: PurePosixPath) -> str:
    """The dotted name pytest gives the package ``folder``: its path from the first parent without ``__init__``."""
    parts = list(folder.parts)
    start = len(parts) - 1
    while start > 0 and (workspace.joinpath(*parts[:start]) / "__init__.py").is_file():
        start -= 1
    return ".".join(parts[start:])


def code_import(workspace: Path, folder: PurePosixPath, *, top: str) -> tuple[str, str] | None:
    """The first import of the project's code in the folder's test modules (relative, or from ``top``), with its
    file, in name order."""
    for module in sorted((workspace / folder).glob("*.py")):
        if not is_test_name(module.name) or module.is_symlink() or module.stat().st_size > MAX_READ_BYTES:
            continue
        try:
            tree = ast.parse(module.read_bytes())
        except (SyntaxError, ValueError):
            continue
        for node in tree.body:
            if isinstance(node, ast.ImportFrom) and (node.level > 0 or (node.module or "").split(".")[0] == top):
                return f"{folder / module.name}", ast.unparse(node)
            if isinstance(node, ast.Import) and any(a.name.split(".")[0] == top for a in node.names):
                return f"{folder / module.name}", ast.unparse(node)
    return None
