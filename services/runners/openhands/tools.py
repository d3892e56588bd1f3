"""The agent's tools: the SDK's real file editor, confined to the task workspace, and its real terminal.

The file editor is the SDK's ``FileEditorTool`` (same name, schema and description the model knows), with
its executor wrapped so paths outside the workspace are refused, and its edit history kept in the task's
temporary directory instead of a never-deleted ``/tmp/oh_editor_history_*``. Importing this module imports
the SDK; the runner does that lazily, once per process.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from openhands.sdk import Tool
from openhands.sdk.tool import ToolExecutor, register_tool
from openhands.tools.file_editor import FileEditorTool
from openhands.tools.file_editor.definition import FileEditorAction, FileEditorObservation
from openhands.tools.file_editor.utils.history import FileHistoryManager

if TYPE_CHECKING:
    from openhands.sdk.conversation.state import ConversationState

FILE_EDITOR_SPEC = "handoff_workspace_file_editor"
HISTORY_PER_FILE = 10


class WorkspaceFileEditorTool(FileEditorTool):
    """``file_editor`` as the model knows it; the executor refuses paths outside the workspace."""

    name = "file_editor"

    @classmethod
    def create(  # type: ignore[override]
        cls, conv_state: ConversationState, history_dir: str
    ) -> Sequence[FileEditorTool]:
        tools = super().create(conv_state)
        root = Path(conv_state.workspace.working_dir).resolve()
        return [
            tool.set_executor(_ConfinedExecutor(tool.executor, root=root, history_dir=Path(history_dir)))
            for tool in tools
        ]


class _ConfinedExecutor(ToolExecutor):
    def __init__(self, inner: Any, *, root: Path, history_dir: Path) -> None:
        self.inner = inner
        self.root = root
        editor = getattr(inner, "editor", None)
        manager = getattr(editor, "_history_manager", None)
        if editor is None or manager is None:  # guards an SDK upgrade
            raise RuntimeError("the SDK's file editor no longer keeps a history manager where Handoff expects it")
        default_dir = Path(manager.cache.directory)
        history_dir.mkdir(parents=True, exist_ok=True)
        editor._history_manager = FileHistoryManager(max_history_per_file=HISTORY_PER_FILE, history_dir=history_dir)
        shutil.rmtree(default_dir, ignore_errors=True)

    def __call__(self, action: FileEditorAction, conversation: Any = None) -> FileEditorObservation:
        path = Path(action.path)
        if path.is_absolute() and not _inside(path.resolve(), self.root):
            return FileEditorObservation.from_text(
                text=f"Refused: {action.path} is outside the workspace {self.root}. Only files inside it may be used.",
                command=action.command,
                is_error=True,
            )
        return self.inner(action, conversation)

    def close(self) -> None:
        self.inner.close()


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def register_tools() -> None:
    register_tool(FILE_EDITOR_SPEC, WorkspaceFileEditorTool)


def tool_specs(*, history_dir: Path, shell_path: Path) -> list[Tool]:
    return [
        Tool(name=FILE_EDITOR_SPEC, params={"history_dir": str(history_dir)}),
        Tool(name="terminal", params={"terminal_type": "subprocess", "shell_path": str(shell_path)}),
    ]


register_tools()
