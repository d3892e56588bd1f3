"""Scripts as data: a list of steps answered by position, plus builders for the real tools' argument shapes.

The shapes follow the tools of openhands-tools 1.58: ``file_editor`` (command, path, file_text, old_str,
new_str, insert_line, view_range), ``terminal`` (command, is_input, timeout, reset), ``finish`` (message);
each accepts an optional ``summary``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from handoff.scripted_model.replies import ChatRequest, Reply, ToolCall

Step = Reply | Callable[[ChatRequest], Reply]


class Script:
    """Answer turn ``n`` (the number of assistant messages so far) with ``steps[n]``; after the last, ``then``.

    ``then`` defaults to repeating the last step, so a finished script keeps saying the same thing.
    """

    def __init__(self, steps: Sequence[Step], *, then: Step | None = None) -> None:
        if not steps:
            raise ValueError("a script needs at least one step")
        self.steps = list(steps)
        self.then = then if then is not None else self.steps[-1]

    def __call__(self, request: ChatRequest) -> Reply:
        step = self.steps[request.step] if request.step < len(self.steps) else self.then
        return step(request) if callable(step) else step


def create_file(path: str, text: str) -> ToolCall:
    return ToolCall("file_editor", {"command": "create", "path": path, "file_text": text, "summary": f"create {path}"})


def view(path: str) -> ToolCall:
    return ToolCall("file_editor", {"command": "view", "path": path, "summary": f"view {path}"})


def replace_in_file(path: str, old: str, new: str) -> ToolCall:
    return ToolCall(
        "file_editor",
        {"command": "str_replace", "path": path, "old_str": old, "new_str": new, "summary": f"edit {path}"},
    )


def run(command: str, *, timeout_s: float | None = None, summary: str | None = None) -> ToolCall:
    arguments: dict[str, object] = {"command": command, "summary": summary or f"run {command[:60]}"}
    if timeout_s is not None:
        arguments["timeout"] = timeout_s
    return ToolCall("terminal", arguments)


def finish(message: str = "[scripted model] done") -> ToolCall:
    return ToolCall("finish", {"message": message})
