"""Which engines a task's environment holds: the engines as optional packages of the project's environment, what the
progress and the result say of one fitted in or left out, and the prompt line that tells the policy which to run.

An engine whose requirements contradict the project's is left out of that project's environment
(environments/optional.py) and the task runs with the others; the policy is shared by all tasks of a replica, so it
reads the engines of each task from the task's prompt (as it reads the targets).
"""

from __future__ import annotations

from collections.abc import Sequence

from handoff.environments import Fitted, OptionalPackage
from handoff.offline_engine.settings import ENGINE_NAMES, ENGINE_OVERRIDABLE, ENGINE_PACKAGES

ENGINES_LABEL = "Offline engines installed:"


def optional_packages(engines: Sequence[str]) -> list[OptionalPackage]:
    return [OptionalPackage(name=e, requirement=ENGINE_PACKAGES[e], overridable=ENGINE_OVERRIDABLE.get(e, ()))
            for e in engines]  # fmt: skip


def engines_line(engines: Sequence[str]) -> str:
    """The prompt line naming the engines to run (``parse_engines`` reads it)."""
    return f"{ENGINES_LABEL} {', '.join(engines)}"


def parse_engines(prompt: str) -> tuple[str, ...] | None:
    """The engines a prompt's ``engines_line`` names, in order; None without such a line (run the configured ones)."""
    for line in prompt.splitlines():
        if line.startswith(ENGINES_LABEL):
            named = (part.strip() for part in line.removeprefix(ENGINES_LABEL).split(","))
            return tuple(e for e in named if e in ENGINE_PACKAGES)
    return None


def fitted_notes(fitted: Fitted, engines: Sequence[str]) -> list[str]:
    """One sentence per engine installed otherwise than asked: with the project's requirement in place of its pin,
    or left out with uv's reason and which engines still run. Empty when every engine was installed as asked."""
    kept = [ENGINE_NAMES[e] for e in engines if e in fitted.installed]
    notes = []
    for engine in engines:
        name, why = ENGINE_NAMES[engine], fitted.conflicts.get(engine, "")
        if engine in fitted.overridden:
            notes.append(f"{name} is installed with the project's own {', '.join(fitted.overridden[engine])} in "
                         f"place of its pin (uv: {why})")  # fmt: skip
        elif engine in fitted.left_out:
            rest = f"the tests come from {' and '.join(kept)} alone" if kept else "no engine is left to run"
            notes.append(f"{name} was left out: it cannot be installed with the project's requirements (uv: {why}); "
                         f"{rest}")  # fmt: skip
    return notes


def none_installed(fitted: Fitted, engines: Sequence[str]) -> str:
    """The failure of a task none of whose engines can be installed, naming each conflict."""
    reasons = "; ".join(f"{ENGINE_NAMES[e]} (uv: {fitted.conflicts.get(e, 'not installed')})" for e in engines)
    return f"no offline engine can be installed with the project's requirements: {reasons}"
