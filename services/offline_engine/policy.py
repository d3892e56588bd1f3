"""``OfflineEnginePolicy``: the scripted policy that has the real agent run the offline engines, then pytest.

Turn i < n runs the engines for target i in the agent's terminal; turn n runs pytest on the written test files;
then it finishes with what the engines reported. A later round (the runner's feedback) ends at once, repeating
that: the engines already did what they can. It is a script, not a model; its messages say ``offline engine``.
It runs the engines the prompt names as installed (``installed.py``: one may have been left out of the project's
environment), else the configured ones.
"""

from __future__ import annotations

import msgspec

from handoff.offline_engine.commands import engine_command
from handoff.offline_engine.installed import parse_engines
from handoff.offline_engine.settings import OfflineEngineSettings
from handoff.runners.openhands.prompt import parse_targets
from handoff.scripted_model.replies import ChatRequest, Reply, Say
from handoff.scripted_model.scripts import finish, run

SLACK_S = 30.0


class OfflineEnginePolicy:
    def __init__(self, settings: OfflineEngineSettings | None = None) -> None:
        self.settings = settings or OfflineEngineSettings()

    def __call__(self, request: ChatRequest) -> Reply:
        settings = self.settings
        if installed := parse_engines(request.first_user_text):
            settings = msgspec.structs.replace(settings, engines=installed)
        label = settings.label
        workspace, assignments = parse_targets(request.first_user_text)
        if workspace is None or not assignments:
            return Say(f"[{label}] I found no targets in the prompt; nothing to do.")
        step = request.step
        per_target_s = len(settings.engines) * (settings.per_target_s + 5) + SLACK_S
        if step < len(assignments):
            a = assignments[step]
            said = (
                f"{' and '.join(settings.engines)} on {a.target}, up to {settings.per_target_s:g} s each, "
                f"tests into {a.test_file}"
            )  # the progress line: the packed command itself is unreadable
            return run(engine_command(a.target, a.test_file, settings), timeout_s=per_target_s, summary=said)
        if step == len(assignments):
            files = " ".join(a.test_file for a in assignments)
            return run(f"python -m pytest -q -p no:cacheprovider {files}", timeout_s=300)
        if step == len(assignments) + 1:
            return finish(f"[{label}] " + "; ".join(_engine_lines(request)))
        # the last message is what a failed task reports: it keeps what the engines said
        return finish(f"[{label}] the engines already ran; nothing more to add in this round. They reported: "
                      + "; ".join(_engine_lines(request)))  # fmt: skip


def _engine_lines(request: ChatRequest) -> list[str]:
    """The ``offline engine:`` lines the commands printed, in order (what each engine produced or why not)."""
    found = []
    for message in request.messages:
        if message.get("role") != "tool":
            continue
        text = message.get("content")
        texts = [text] if isinstance(text, str) else [str(p.get("text", "")) for p in text or [] if isinstance(p, dict)]
        for chunk in texts:
            found += [line.strip() for line in chunk.splitlines() if line.strip().startswith("offline engine:")]
    lines = [line.removeprefix("offline engine: ") for line in found if "(limit " not in line]  # not the headers
    return lines or ["no engine output"]
