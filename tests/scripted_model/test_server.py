"""The scripted model server speaks OpenAI chat completions (JSON and SSE) and keeps scripts honest."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from typing import Any

import pytest

from handoff.runners.openhands.prompt import Assignment, task_prompt
from handoff.scripted_model import Fail, ScriptedModelServer, ToolCall
from handoff.scripted_model.policies import TestWriterPolicy, module_name
from handoff.scripted_model.replies import SCRIPTED_FINGERPRINT, ChatRequest
from handoff.scripted_model.scripts import Script, create_file, finish, run

TERMINAL = {
    "type": "function",
    "function": {
        "name": "terminal",
        "parameters": {
            "type": "object",
            "properties": {"command": {}, "summary": {}, "timeout": {}},
            "required": ["command"],
        },
    },
}
FINISH = {
    "type": "function",
    "function": {
        "name": "finish",
        "parameters": {"type": "object", "properties": {"message": {}}, "required": ["message"]},
    },
}


def _post(base_url: str, body: dict[str, Any], *, key: str | None = "k") -> tuple[int, bytes]:
    request = urllib.request.Request(f"{base_url}/chat/completions", data=json.dumps(body).encode(), method="POST")
    request.add_header("Content-Type", "application/json")
    if key:
        request.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def _body(messages: list[dict[str, Any]], *, stream: bool = False) -> dict[str, Any]:
    return {"model": "scripted", "messages": messages, "tools": [TERMINAL, FINISH], "stream": stream}


async def test_turns_are_answered_by_position_with_real_tool_calls() -> None:
    """Turn n answers step n: a terminal call first, then finish, labelled as scripted."""
    script = Script([run("ls"), finish("done")])
    async with ScriptedModelServer(policy=script, api_key="k") as server:
        first = [{"role": "user", "content": "go"}]
        status, raw = await asyncio.to_thread(_post, server.base_url, _body(first))
        assert status == 200
        reply = json.loads(raw)
        assert reply["system_fingerprint"] == SCRIPTED_FINGERPRINT
        call = reply["choices"][0]["message"]["tool_calls"][0]["function"]
        assert call["name"] == "terminal" and json.loads(call["arguments"])["command"] == "ls"
        assert reply["usage"]["prompt_tokens"] > 0
        second = [*first, reply["choices"][0]["message"], {"role": "tool", "tool_call_id": "x", "content": "a b"}]
        status, raw = await asyncio.to_thread(_post, server.base_url, _body(second))
        assert json.loads(raw)["choices"][0]["message"]["tool_calls"][0]["function"]["name"] == "finish"


async def test_streaming_requests_get_server_sent_events_ending_in_done() -> None:
    """stream=true answers with chat.completion.chunk events, usage, then [DONE]."""
    async with ScriptedModelServer(policy=Script([run("ls")])) as server:
        status, raw = await asyncio.to_thread(
            _post, server.base_url, _body([{"role": "user", "content": "go"}], stream=True)
        )
    assert status == 200
    events = [line.removeprefix("data: ") for line in raw.decode().splitlines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert chunks[0]["object"] == "chat.completion.chunk"
    assert chunks[0]["choices"][0]["delta"]["tool_calls"][0]["function"]["name"] == "terminal"
    assert chunks[-1]["usage"]["total_tokens"] > 0


async def test_a_scripted_call_that_does_not_fit_the_offered_tools_is_rejected_loudly() -> None:
    """A tool that is not offered, or missing required arguments, is a 400 naming the problem."""
    async with ScriptedModelServer(policy=lambda r: ToolCall("file_editor", {"command": "view"})) as server:
        status, raw = await asyncio.to_thread(_post, server.base_url, _body([{"role": "user", "content": "go"}]))
        assert status == 400 and b"file_editor" in raw
        server.policy = lambda r: ToolCall("terminal", {"summary": "no command"})
        status, raw = await asyncio.to_thread(_post, server.base_url, _body([{"role": "user", "content": "go"}]))
        assert status == 400 and b"needs ['command']" in raw
        assert len(server.rejected) == 2


async def test_provider_errors_and_wrong_keys_get_provider_status_codes() -> None:
    """Fail(429) answers 429; a wrong bearer key answers 401 before the policy runs."""
    async with ScriptedModelServer(policy=lambda r: Fail(429, "slow down"), api_key="right") as server:
        status, raw = await asyncio.to_thread(
            _post, server.base_url, _body([{"role": "user", "content": "x"}]), key="right"
        )
        assert status == 429 and json.loads(raw)["error"]["type"] == "rate_limit_error"
        status, _ = await asyncio.to_thread(
            _post, server.base_url, _body([{"role": "user", "content": "x"}]), key="wrong"
        )
        assert status == 401
        assert server.requests == 1


def test_the_test_writer_policy_creates_each_test_file_then_runs_them_then_finishes(tmp_path: Any) -> None:
    """Read from the runner's prompt: one create per target at its test path, a pytest run, finish."""
    from handoff.schemas.events import GenerateTests, SourceSnapshot

    payload = GenerateTests(source=SourceSnapshot(digest="a" * 64, size_bytes=1, files=1), targets=["src/pkg/calc.py"])
    prompt = task_prompt(payload, tmp_path, [Assignment("src/pkg/calc.py", "tests/test_calc.py")])
    policy = TestWriterPolicy(bodies={})

    def at(step: int) -> ToolCall:
        messages = [{"role": "user", "content": prompt}] + [{"role": "assistant", "content": "x"}] * step
        reply = policy(ChatRequest(model="m", messages=messages))
        assert isinstance(reply, ToolCall)
        return reply

    created = at(0)
    assert created == create_file(str(tmp_path / "tests/test_calc.py"), created.arguments["file_text"])
    assert 'import_module("pkg.calc")' in created.arguments["file_text"]
    assert at(1).name == "terminal" and "tests/test_calc.py" in at(1).arguments["command"]
    assert at(2).name == "finish"


@pytest.mark.parametrize(
    ("target", "module"),
    [("src/pkg/calc.py", "pkg.calc"), ("pkg/__init__.py", "pkg"), ("tool.py", "tool")],
)
def test_module_names_follow_python_import_rules(target: str, module: str) -> None:
    """Paths map onto importable module names (src layout and packages included)."""
    assert module_name(target) == module


def test_the_test_writer_policy_takes_canned_bodies_from_an_answers_dir(tmp_path: Any) -> None:
    """A file at answers_dir/<target> is written verbatim as that target's test."""
    from handoff.schemas.events import GenerateTests, SourceSnapshot

    (tmp_path / "answers" / "pkg").mkdir(parents=True)
    (tmp_path / "answers" / "pkg" / "calc.py").write_text("def test_canned():\n    assert True\n")
    payload = GenerateTests(source=SourceSnapshot(digest="a" * 64, size_bytes=1, files=1), targets=["pkg/calc.py"])
    prompt = task_prompt(payload, tmp_path, [Assignment("pkg/calc.py", "tests/test_calc.py")])
    policy = TestWriterPolicy(answers_dir=tmp_path / "answers")
    reply = policy(ChatRequest(model="m", messages=[{"role": "user", "content": prompt}]))
    assert isinstance(reply, ToolCall) and reply.arguments["file_text"] == "def test_canned():\n    assert True\n"
