"""``ScriptedModelServer``: ``POST /v1/chat/completions`` (JSON or server-sent events) answered by a policy.

Stateless per request: a policy decides from the request alone (usually from ``ChatRequest.step``, the number
of assistant turns so far), so any number of conversations can share one server. It runs in its own threads,
independent of the caller's event loop, and is an async context manager exposing ``base_url``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
import threading
import time
from collections import Counter
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from handoff.scripted_model.replies import (
    SCRIPTED_FINGERPRINT,
    ChatRequest,
    Fail,
    Policy,
    Reply,
    Say,
    Slow,
    ToolCall,
)

MAX_BODY_BYTES = 16 * 1024 * 1024


class ScriptedModelServer:
    def __init__(
        self,
        *,
        policy: Policy,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str | None = None,
    ) -> None:
        """``api_key``: when set, requests must carry ``Authorization: Bearer <api_key>`` (else 401)."""
        self.policy = policy
        self._host = host
        self._port = port
        self._api_key = api_key
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.requests_by_model: Counter[str] = Counter()
        self.rejected: list[str] = []

    @property
    def base_url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("the scripted model server is not running")
        return f"http://{self._host}:{self._httpd.server_port}/v1"

    @property
    def requests(self) -> int:
        with self._lock:
            return sum(self.requests_by_model.values())

    def start(self) -> None:
        server = self

        class Handler(_Handler):
            owner = server

        self._httpd = _QuietServer((self._host, self._port), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="scripted-model", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    async def __aenter__(self) -> ScriptedModelServer:
        await asyncio.to_thread(self.start)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await asyncio.to_thread(self.stop)

    # ---- called from handler threads ----------------------------------------------------------------
    def _authorized(self, header: str | None) -> bool:
        return self._api_key is None or header == f"Bearer {self._api_key}"

    def _answer(self, request: ChatRequest) -> Reply:
        with self._lock:
            self.requests_by_model[request.model] += 1
        reply = self.policy(request)
        while isinstance(reply, Slow):
            self._stopping.wait(reply.seconds)
            reply = reply.reply
        return reply

    def _next_id(self) -> str:
        with self._lock:
            return f"scripted-{next(self._ids)}"


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return  # the client went away (a cancelled agent); nothing to report
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    owner: ScriptedModelServer
    protocol_version = "HTTP/1.1"
    server_version = "HandoffScriptedModel/1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet: no access log on stderr
        return

    def do_GET(self) -> None:
        if self.path.rstrip("/") == "/v1/models":
            self._json(HTTPStatus.OK, {"object": "list", "data": [{"id": "scripted", "object": "model"}]})
        else:
            self._error(HTTPStatus.NOT_FOUND, f"no route {self.path}")

    def do_POST(self) -> None:
        if self.path.rstrip("/") != "/v1/chat/completions":
            self._error(HTTPStatus.NOT_FOUND, f"no route {self.path}")
            return
        if not self.owner._authorized(self.headers.get("Authorization")):
            self._error(HTTPStatus.UNAUTHORIZED, "invalid api key", kind="authentication_error")
            return
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            self._error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "request too large")
            return
        try:
            request = ChatRequest.from_body(self.rfile.read(length))
        except (ValueError, json.JSONDecodeError) as err:
            self._error(HTTPStatus.BAD_REQUEST, f"bad request: {err}")
            return
        reply = self.owner._answer(request)
        if isinstance(reply, Fail):
            kind = "rate_limit_error" if reply.status == 429 else "server_error"
            self._error(HTTPStatus(reply.status), reply.message, kind=kind)
            return
        problem = _check_tool_call(request, reply) if isinstance(reply, ToolCall) else None
        if problem:
            self.owner.rejected.append(problem)
            self._error(HTTPStatus.BAD_REQUEST, f"scripted reply does not fit the offered tools: {problem}")
            return
        assert isinstance(reply, ToolCall | Say)
        completion = _completion(self.owner._next_id(), request, reply)
        if request.stream:
            self._stream(completion)
        else:
            self._json(HTTPStatus.OK, completion)

    # ---- writing ----------------------------------------------------------------------------------
    def _json(self, status: HTTPStatus, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: HTTPStatus, message: str, *, kind: str = "invalid_request_error") -> None:
        self._json(status, {"error": {"message": message, "type": kind, "code": int(status)}})

    def _stream(self, completion: dict[str, Any]) -> None:
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        for chunk in _chunks(completion):
            self.wfile.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()
        self.close_connection = True


def _check_tool_call(request: ChatRequest, call: ToolCall) -> str | None:
    schema = request.tool_schema(call.name)
    if schema is None:
        return f"tool {call.name!r} is not among {sorted(request.tool_names)}"
    missing = [name for name in schema.get("required", []) if name not in call.arguments]
    if missing:
        return f"tool {call.name!r} needs {missing}"
    unknown = [name for name in call.arguments if name not in schema.get("properties", {})]
    if unknown:
        return f"tool {call.name!r} has no parameters {unknown}"
    return None


def _completion(reply_id: str, request: ChatRequest, reply: ToolCall | Say) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": None}
    if isinstance(reply, Say):
        message["content"] = reply.text
        finish = "stop"
    else:
        message["tool_calls"] = [
            {
                "id": f"call_{reply_id}",
                "type": "function",
                "function": {"name": reply.name, "arguments": json.dumps(reply.arguments)},
            }
        ]
        finish = "tool_calls"
    prompt_tokens = _estimate_tokens(json.dumps(request.messages))
    completion_tokens = _estimate_tokens(json.dumps(message))
    return {
        "id": reply_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": request.model or "scripted",
        "system_fingerprint": SCRIPTED_FINGERPRINT,
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def _chunks(completion: dict[str, Any]) -> list[dict[str, Any]]:
    message = completion["choices"][0]["message"]
    base = {k: completion[k] for k in ("id", "created", "model", "system_fingerprint")}
    base["object"] = "chat.completion.chunk"
    delta: dict[str, Any] = {"role": "assistant", "content": message["content"] or ""}
    if "tool_calls" in message:
        delta["tool_calls"] = [{"index": i, **call} for i, call in enumerate(message["tool_calls"])]
    finish = completion["choices"][0]["finish_reason"]
    return [
        {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]},
        {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]},
        {**base, "choices": [], "usage": completion["usage"]},
    ]


def _estimate_tokens(text: str) -> int:
    """Roughly four characters per token: a scripted server has no tokenizer."""
    return max(1, len(text) // 4)
