"""What a script sees (``ChatRequest``) and what it may answer (``Reply``)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

SCRIPTED_FINGERPRINT = "handoff-scripted-model"


@dataclass(frozen=True, slots=True)
class ToolCall:
    """Call one of the tools offered in the request, e.g. ``file_editor`` with its real argument shape."""

    name: str
    arguments: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Say:
    """A plain assistant message without tool calls."""

    text: str


@dataclass(frozen=True, slots=True)
class Fail:
    """Answer with an HTTP error, as a provider would (429 rate limit, 503 unavailable …)."""

    status: int
    message: str = "scripted failure"


@dataclass(frozen=True, slots=True)
class Slow:
    """Wait ``seconds`` (or until the server stops), then answer ``reply``."""

    seconds: float
    reply: Reply


Reply = ToolCall | Say | Fail | Slow


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """One ``POST /v1/chat/completions`` body, with helpers that make scripts stateless."""

    model: str
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]] = field(default_factory=list)
    stream: bool = False

    @property
    def step(self) -> int:
        """How many assistant turns the conversation already holds: the index of the turn to answer."""
        return sum(1 for m in self.messages if m.get("role") == "assistant")

    @property
    def tool_names(self) -> set[str]:
        return {t.get("function", {}).get("name", "") for t in self.tools}

    def texts(self, role: str) -> list[str]:
        return [_text(m.get("content")) for m in self.messages if m.get("role") == role]

    @property
    def first_user_text(self) -> str:
        users = self.texts("user")
        return users[0] if users else ""

    @property
    def last_user_text(self) -> str:
        users = self.texts("user")
        return users[-1] if users else ""

    @property
    def last_tool_result(self) -> str | None:
        for message in reversed(self.messages):
            if message.get("role") == "tool":
                return _text(message.get("content"))
            if message.get("role") == "assistant":
                return None
        return None

    def tool_schema(self, name: str) -> dict[str, Any] | None:
        for tool in self.tools:
            function = tool.get("function", {})
            if function.get("name") == name:
                return function.get("parameters") or {}
        return None

    @classmethod
    def from_body(cls, body: bytes) -> ChatRequest:
        data = json.loads(body)
        if not isinstance(data, dict) or not isinstance(data.get("messages"), list):
            raise ValueError("a chat completion request needs a 'messages' list")
        return cls(
            model=str(data.get("model", "")),
            messages=data["messages"],
            tools=list(data.get("tools") or []),
            stream=bool(data.get("stream", False)),
        )


Policy = Callable[[ChatRequest], Reply]


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""
