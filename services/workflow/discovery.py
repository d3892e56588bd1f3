"""Which modules get a test-generation task: listed targets, or every non-test module under a component."""

from __future__ import annotations

from pathlib import Path

from services.workflow.config import WorkflowConfigError, WorkflowSpec

_SKIP_DIRS = {".git", ".venv", "venv", "__pycache__", ".pytest_cache", "node_modules", "build", "dist", "tests"}


def is_test_module(path: Path) -> bool:
    return path.name.startswith("test_") or path.name.endswith("_test.py") or path.name == "conftest.py"


def discover_targets(repo: Path, spec: WorkflowSpec) -> list[str]:
    """Repo-relative POSIX paths, sorted. Listed targets must exist; a component must contain modules."""
    if spec.targets:
        missing = [t for t in spec.targets if not (repo / t).is_file()]
        if missing:
            raise WorkflowConfigError(f"listed targets do not exist in {repo}: {', '.join(missing)}")
        return sorted(spec.targets)
    if not spec.component:
        raise WorkflowConfigError("the workflow needs 'component' (a folder) or 'targets' (a list of modules)")
    root = (repo / spec.component).resolve()
    if not root.is_dir() or not root.is_relative_to(repo.resolve()):
        raise WorkflowConfigError(f"component {spec.component!r} is not a folder inside {repo}")
    found = [
        p.relative_to(repo.resolve()).as_posix()
        for p in sorted(root.rglob("*.py"))
        if not is_test_module(p) and p.name != "__init__.py" and not (_SKIP_DIRS & set(p.relative_to(root).parts[:-1]))
    ]
    if not found:
        raise WorkflowConfigError(f"no modules to test under {spec.component!r}")
    return found
