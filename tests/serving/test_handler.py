"""serving/af3_transformers/handler.py in process on the tiny AF3, then behind a local HTTP server end to end."""

from __future__ import annotations

import base64
import importlib.util
import json
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from conftest import PROJECT_ROOT

sys.path.insert(0, str(PROJECT_ROOT / "tests" / "annotators"))
import hf_fixtures

from songset.config import compose
from songset.songs import songs_from_paths
from songset.stages.annotate import run_annotate
from songset.stages.base import RunOptions

pytestmark = pytest.mark.timeout(300)
tiny_models = hf_fixtures.tiny_models
clips = hf_fixtures.clips
TOKEN = "hf_SONGSETendpointToken5521"


def load_handler_module() -> Any:
    spec = importlib.util.spec_from_file_location(
        "af3_handler", PROJECT_ROOT / "serving/af3_transformers/handler.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def request(clip: Path, think: bool = False) -> dict[str, Any]:
    return {
        "inputs": {
            "audio": base64.b64encode(clip.read_bytes()).decode(),
            "prompt": "Describe.",
            "think": think,
        },
        "parameters": {"max_new_tokens": 6, "seed": 0},
    }


def test_handler_in_process_returns_text_and_provenance(
    tiny_models: dict[str, Path], clips: dict[str, Path]
) -> None:
    handler = load_handler_module().EndpointHandler(str(tiny_models["af3"]))
    answer = handler(request(clips["a"]))
    assert isinstance(answer["text"], str)
    prov = answer["provenance"]
    assert prov["model_type"] == "audioflamingo3" and prov["think"] is False
    assert prov["settings"]["max_new_tokens"] == 6 and prov["libraries"]["transformers"]
    assert 0 < prov["tokens_generated"] <= 6 and prov["audio_seconds"] == pytest.approx(11.0, abs=0.01)
    assert "error" in handler(request(clips["a"], think=True))  # a think request to a plain endpoint
    assert "error" in handler({"inputs": {"prompt": "x"}})


def test_handler_think_adapter(
    tiny_models: dict[str, Path], clips: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SONGSET_THINK", "1")
    handler = load_handler_module().EndpointHandler(str(tiny_models["af3_think"]))
    answer = handler(request(clips["a"], think=True))
    assert answer["provenance"]["think"] is True and answer["provenance"]["adapter"].startswith("think")


@pytest.fixture
def endpoint(tiny_models: dict[str, Path]) -> Iterator[dict[str, Any]]:
    """The handler behind a real HTTP server, checking the bearer token like an Inference Endpoint."""
    handler = load_handler_module().EndpointHandler(str(tiny_models["af3"]))
    seen: dict[str, Any] = {"auth": []}

    class Http(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            seen["auth"].append(self.headers.get("Authorization"))
            data = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            status, body = (
                (200, handler(data)) if self.headers.get("Authorization") == f"Bearer {TOKEN}" else (401, {})
            )
            raw = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Http)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield {"url": f"http://127.0.0.1:{httpd.server_address[1]}/", "seen": seen}
    httpd.shutdown()


def test_hf_endpoint_end_to_end_through_the_handler(
    tmp_path: Path, endpoint: dict[str, Any], clips: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(PROJECT_ROOT)
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    cfg = compose(
        ["annotator=hf_endpoint", f"annotator.url={endpoint['url']}", "annotator.max_new_tokens=6"],
        config_dir=PROJECT_ROOT / "conf",
    )
    result = run_annotate(
        songs_from_paths([clips["a"], clips["b"]]),
        cfg.annotator,
        tmp_path / "raw",
        RunOptions(cache_dir=None, workers=1),
    )
    assert sorted(result.summary.computed) == ["calm", "vibe"], result.summary.failed
    text = (tmp_path / "raw" / "vibe.json").read_text()
    prov = json.loads(text)["provenance"]
    assert prov["backend"] == "hf_endpoint" and prov["extra"]["handler"]["model_type"] == "audioflamingo3"
    assert prov["extra"]["handler"]["settings"]["max_new_tokens"] == 6
    assert TOKEN not in text and endpoint["seen"]["auth"] == [f"Bearer {TOKEN}"] * 2


def test_handler_and_in_process_annotator_give_the_same_text(
    tiny_models: dict[str, Path], clips: dict[str, Path]
) -> None:
    """The endpoint's standalone copy of the generation code must not drift from songset.annotators.hf."""
    from songset.annotators.hf import AF3Annotator
    from songset.prompts import load_prompt

    settings = {"max_new_tokens": 6, "min_new_tokens": 6, "seed": 0}
    annotator = AF3Annotator(model=str(tiny_models["af3"]), prompt="timestamped_v1", **settings)
    handler = load_handler_module().EndpointHandler(str(tiny_models["af3"]))
    for clip in (clips["a"], clips["b"]):
        body = request(clip)
        body["inputs"]["prompt"] = load_prompt("timestamped_v1").text
        body["parameters"] = {**annotator.generation, "seed": 0}  # what annotator=hf_endpoint sends
        assert handler(body)["text"] == annotator.annotate(clip).text
