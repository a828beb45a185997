"""A real OpenAI-compatible HTTP server on 127.0.0.1 for tests: scripted replies, every request recorded.

Shared by the cleaner and the served annotators, so both are tested against the same wire behaviour:
the official client sends real requests, and faults (429, 5xx, slow, malformed) are real HTTP.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Reply = Callable[[BaseHTTPRequestHandler], None]


def completion(content: str | None, refusal: str | None = None, model: str = "test-model") -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{time.monotonic_ns()}",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {"role": "assistant", "content": content, "refusal": refusal},
            }
        ],
        "usage": {"prompt_tokens": 120, "completion_tokens": 80, "total_tokens": 200},
    }


def send(
    handler: BaseHTTPRequestHandler, status: int, body: Any, headers: dict[str, str] | None = None
) -> None:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(data)


def ok(content: Any, model: str = "test-model") -> Reply:
    text = content if isinstance(content, str) else json.dumps(content)
    return lambda h: send(h, 200, completion(text, model=model))


def refuse(reason: str) -> Reply:
    return lambda h: send(h, 200, completion(None, refusal=reason))


def rate_limited() -> Reply:
    return lambda h: send(
        h, 429, {"error": {"message": "slow down", "type": "rate_limit"}}, {"retry-after-ms": "10"}
    )


def server_error(status: int = 500) -> Reply:
    return lambda h: send(h, status, {"error": {"message": "engine crashed"}}, {"retry-after-ms": "10"})


def malformed() -> Reply:
    return lambda h: send(h, 200, b"{not json")


def hang(seconds: float, then: Reply) -> Reply:
    def reply(handler: BaseHTTPRequestHandler) -> None:
        time.sleep(seconds)
        with contextlib.suppress(OSError):  # the client gave up
            then(handler)

    return reply


class FakeServer:
    """Plays `script` (then `default`) to POSTs; GET /version answers `version` when set (as vLLM does).

    Records each request (path, JSON body, Authorization header) and the most requests ever in flight.
    """

    def __init__(self, default: Reply, version: str | None = None, delay_s: float = 0.0) -> None:
        self.script: list[Reply] = []
        self.requests: list[dict[str, Any]] = []
        self.default = default
        self.version = version
        self.delay_s = delay_s
        self.in_flight = 0
        self.max_in_flight = 0
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.rstrip("/") == "/version" and server.version:
                    send(self, 200, {"version": server.version})
                else:
                    send(self, 404, {"error": {"message": "not found"}})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with server.lock:
                    server.requests.append(
                        {"path": self.path, "body": body, "auth": self.headers.get("Authorization")}
                    )
                    reply = server.script.pop(0) if server.script else server.default
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                try:
                    if server.delay_s:
                        time.sleep(server.delay_s)
                    reply(self)
                finally:
                    with server.lock:
                        server.in_flight -= 1

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.root = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.url = f"{self.root}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
