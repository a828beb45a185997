"""A Hugging Face hub on 127.0.0.1 serving one model repository from a local folder.

Why: HF_TOKEN is read only when a model is downloaded, so a test of where that token goes must download
one. huggingface_hub talks to whatever `HF_ENDPOINT` names; this answers the two routes `snapshot_download`
uses (the revision, its file tree, then each file by HEAD and GET) and records every request's headers, so a
test can check the token was sent.
"""

from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class FakeHub:
    def __init__(self, repo: str, folder: Path) -> None:
        self.repo, self.folder = repo, folder
        self.files = {p.relative_to(folder).as_posix(): p for p in sorted(folder.rglob("*")) if p.is_file()}
        self.requests: list[dict[str, Any]] = []
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet: pytest shows failures, not traffic
                pass

            def do_HEAD(self) -> None:
                hub.answer(self, body=False)

            def do_GET(self) -> None:
                hub.answer(self, body=True)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def answer(self, handler: BaseHTTPRequestHandler, body: bool) -> None:
        path = unquote(handler.path.split("?", 1)[0])
        self.requests.append(
            {"method": handler.command, "path": path, "auth": handler.headers.get("authorization")}
        )
        info_prefix = f"/api/models/{self.repo}"
        file_prefix = f"/{self.repo}/resolve/"
        if path == info_prefix or path.startswith(f"{info_prefix}/revision/"):
            siblings = [{"rfilename": name} for name in self.files]
            payload = json.dumps({"id": self.repo, "modelId": self.repo, "sha": COMMIT, "siblings": siblings})
            self._send(handler, 200, payload.encode(), "application/json", body)
        elif path.startswith(f"{info_prefix}/tree/"):
            tree = [
                {"type": "file", "path": name, "size": file.stat().st_size, "oid": _digest(file.read_bytes())}
                for name, file in self.files.items()
            ]
            self._send(handler, 200, json.dumps(tree).encode(), "application/json", body)
        elif path.startswith(file_prefix) and path[len(file_prefix) :].split("/", 1)[-1] in self.files:
            data = self.files[path[len(file_prefix) :].split("/", 1)[1]].read_bytes()
            self._send(
                handler, 200, data, "application/octet-stream", body, etag=hashlib.sha256(data).hexdigest()
            )
        else:
            self._send(handler, 404, b'{"error": "not found"}', "application/json", body)

    @staticmethod
    def _send(
        handler: BaseHTTPRequestHandler,
        status: int,
        data: bytes,
        kind: str,
        body: bool,
        etag: str | None = None,
    ) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", kind)
        handler.send_header("Content-Length", str(len(data)))
        handler.send_header("X-Repo-Commit", COMMIT)
        if etag:
            handler.send_header("ETag", f'"{etag}"')
        if status == 404:
            handler.send_header("X-Error-Code", "EntryNotFound")
        handler.end_headers()
        if body:
            handler.wfile.write(data)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
