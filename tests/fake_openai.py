"""A real OpenAI-compatible HTTP server on 127.0.0.1 for tests: scripted replies, every request recorded.

Shared by the cleaner, the served annotators and the served transcriber, so all are tested against the
same wire behaviour: the official client sends real requests (JSON, or multipart uploads for
/v1/audio/transcriptions), and faults (429, 5xx, slow, malformed) are real HTTP.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
import time
from collections.abc import Callable
from email import policy
from email.parser import BytesParser
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
    handler: BaseHTTPRequestHandler,
    status: int,
    body: Any,
    headers: dict[str, str] | None = None,
    content_type: str = "application/json",
) -> None:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(data)))
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(data)


def ok(content: Any, model: str = "test-model") -> Reply:
    text = content if isinstance(content, str) else json.dumps(content)
    return lambda h: send(h, 200, completion(text, model=model))


def reply_json(body: Any) -> Reply:
    """200 with `body` as JSON as it is (a transcription, or anything else a test needs)."""
    return lambda h: send(h, 200, body)


def reply_text(text: str) -> Reply:
    """200 text/plain: what /v1/audio/transcriptions answers to response_format=text."""
    return lambda h: send(h, 200, text.encode(), content_type="text/plain; charset=utf-8")


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


def parse_multipart(content_type: str, data: bytes) -> tuple[dict[str, Any], dict[str, bytes]]:
    """A multipart/form-data body -> (fields, files). A file field is described by name, type, size and
    sha256 (so recorded requests stay JSON); its bytes are in `files`. `name[]` fields are lists."""
    head = f"Content-Type: {content_type}\r\n\r\n".encode()
    message = BytesParser(policy=policy.HTTP).parsebytes(head + data)
    fields: dict[str, Any] = {}
    files: dict[str, bytes] = {}
    for part in message.iter_parts():
        name = str(part.get_param("name", header="content-disposition"))
        payload = part.get_payload(decode=True) or b""
        filename = part.get_filename()
        if filename is not None:
            files[name] = payload
            fields[name] = {
                "filename": filename,
                "content_type": part.get_content_type(),
                "size": len(payload),
                "sha256": hashlib.sha256(payload).hexdigest(),
            }
        elif name.endswith("[]"):
            fields.setdefault(name, []).append(payload.decode())
        else:
            fields[name] = payload.decode()
    return fields, files


class FakeServer:
    """Plays `script` (then `default`) to POSTs; GET /version answers `version` when set (as vLLM does).

    Records each request (path, JSON or multipart body, uploaded files, Authorization header) and the most
    requests ever in flight.
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
                data = self.rfile.read(int(self.headers["Content-Length"]))
                content_type = self.headers.get("Content-Type", "")
                files: dict[str, bytes] = {}
                if content_type.startswith("multipart/form-data"):
                    body, files = parse_multipart(content_type, data)
                else:
                    body = json.loads(data)
                with server.lock:
                    server.requests.append(
                        {
                            "path": self.path,
                            "body": body,
                            "files": files,
                            "auth": self.headers.get("Authorization"),
                        }
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
