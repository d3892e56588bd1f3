"""A scripted, OpenAI-compatible chat-completions server: the LLM stand-in for integration tests and demos.

It is not a model. Every answer comes from a script or a small policy written in Python, and every response
says so (``system_fingerprint`` and the model name carry ``scripted``). The agent, its tools and the runner
around it are the real ones; only the LLM at the HTTP boundary is replaced.
"""

from handoff.scripted_model.replies import ChatRequest, Fail, Reply, Say, Slow, ToolCall
from handoff.scripted_model.server import ScriptedModelServer

__all__ = ["ChatRequest", "Fail", "Reply", "Say", "ScriptedModelServer", "Slow", "ToolCall"]
