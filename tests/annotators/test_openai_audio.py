"""annotator=openai_audio against real OpenAI-compatible HTTP servers on 127.0.0.1 (the official client)."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from conftest import PROJECT_ROOT
from fake_openai import FakeServer, hang, malformed, ok, rate_limited, server_error

from songset.cli import main
from songset.config import compose
from songset.songs import songs_from_paths
from songset.stages.annotate import run_annotate
from songset.stages.base import RunOptions

KEY = "sk-test-SONGSETaudioKey9137"
TEXT = "[0:00-0:02] A soft sine tone holds steady."
pytestmark = pytest.mark.timeout(120)


@pytest.fixture(autouse=True)
def _project_cwd(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(PROJECT_ROOT)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)


def make_servers(n: int, **kw: Any) -> list[FakeServer]:
    return [FakeServer(default=ok(TEXT, model="served/af3"), **kw) for _ in range(n)]


@pytest.fixture
def server() -> Iterator[FakeServer]:
    (fake,) = make_servers(1, version="0.11.2")
    yield fake
    fake.close()


def songs(tmp_path: Path, n: int) -> list[Path]:
    folder = tmp_path / "audio"
    folder.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(11.0 * 8000)) / 8000
    paths = []
    for i in range(n):
        path = folder / f"song{i}.wav"
        sf.write(str(path), 0.3 * np.sin(2 * np.pi * (220 + 20 * i) * t), 8000)
        paths.append(path)
    return paths


def run(tmp_path: Path, urls: list[str], *overrides: str, n: int = 1) -> Any:
    url_arg = f"annotator.base_url={urls[0]}" if len(urls) == 1 else f"annotator.base_urls=[{','.join(urls)}]"
    cfg = compose(
        [
            "annotator=openai_audio",
            url_arg,
            "annotator.model=served/af3",
            "annotator.max_retries=2",
            *overrides,
        ],
        config_dir=PROJECT_ROOT / "conf",
    )
    options = RunOptions(cache_dir=None, workers=1)
    return run_annotate(songs_from_paths(songs(tmp_path, n)), cfg.annotator, tmp_path / "raw", options)


def raw(tmp_path: Path, song: str = "song0") -> dict[str, Any]:
    return json.loads((tmp_path / "raw" / f"{song}.json").read_text())


def test_valid_answer_request_shape_and_provenance(tmp_path: Path, server: FakeServer) -> None:
    result = run(tmp_path, [server.url], "annotator.think=true")
    assert result.summary.computed == ["song0"], result.summary.failed
    request = server.requests[0]
    assert request["path"] == "/v1/chat/completions" and request["auth"] == f"Bearer {KEY}"
    body = request["body"]
    assert body["model"] == "served/af3" and body["max_tokens"] == 1024 and body["temperature"] == 0.0
    text_part, audio = body["messages"][0]["content"]
    assert text_part["text"].endswith("Please think and reason about the input audio before you respond.")
    assert audio["type"] == "input_audio" and audio["input_audio"]["format"] == "wav"
    samples, rate = sf.read(io.BytesIO(base64.b64decode(audio["input_audio"]["data"])))
    assert rate == 16000 and len(samples) == 176000  # 11 s resampled to 16 kHz mono
    data = raw(tmp_path)
    assert data["text"] == TEXT
    prov = data["provenance"]
    assert prov["backend"] == "openai_audio" and prov["model_id"] == "served/af3"
    assert prov["extra"]["served_model"] == "served/af3" and prov["extra"]["server_version"] == "vllm 0.11.2"
    assert prov["extra"]["server"] == server.url and prov["settings"]["think"] is True
    assert KEY not in (tmp_path / "raw" / "song0.json").read_text()


def test_audio_url_data_urls_and_audio_first(tmp_path: Path, server: FakeServer) -> None:
    result = run(tmp_path, [server.url], "annotator.audio_format=audio_url", "annotator.audio_first=true")
    assert result.summary.computed == ["song0"]
    audio, text_part = server.requests[0]["body"]["messages"][0]["content"]
    assert audio["type"] == "audio_url" and audio["audio_url"]["url"].startswith("data:audio/wav;base64,")
    assert text_part["type"] == "text"


def test_server_without_version_endpoint_records_none(tmp_path: Path) -> None:
    (fake,) = make_servers(1)
    try:
        run(tmp_path, [fake.url])
        assert raw(tmp_path)["provenance"]["extra"]["server_version"].startswith("BaseHTTP")
    finally:
        fake.close()  # http.server's `server` header is the fallback when GET /version is missing


def test_429_and_500_are_retried_then_succeed(tmp_path: Path, server: FakeServer) -> None:
    server.script = [rate_limited(), server_error(503)]
    result = run(tmp_path, [server.url])
    assert result.summary.computed == ["song0"] and len(server.requests) == 3


def test_persistent_5xx_fails_that_song_and_the_others_still_run(tmp_path: Path, server: FakeServer) -> None:
    server.script = [server_error(500)] * 3  # the first song's request and its 2 retries
    result = run(tmp_path, [server.url], "annotator.concurrency=1", n=3)
    assert [f.id for f in result.summary.failed] == ["song0"]
    assert "HTTP 500 after 2 retries" in result.summary.failed[0].reason
    assert result.summary.computed == ["song1", "song2"]


def test_timeout_and_malformed_answers_are_clear_per_song_errors(tmp_path: Path, server: FakeServer) -> None:
    server.script = [hang(3.0, ok(TEXT)), malformed()]
    result = run(  # the timeout, not the 3 s hang, ends song 0
        tmp_path,
        [server.url],
        "annotator.timeout_s=0.5",
        "annotator.max_retries=0",
        "annotator.concurrency=1",
        n=3,
    )
    reasons = {f.id: f.reason for f in result.summary.failed}
    assert "no answer within 0.5 s" in reasons["song0"]
    assert "not a chat completion" in reasons["song1"]
    assert result.summary.computed == ["song2"]


def test_connection_refused_fails_over_to_the_other_server(tmp_path: Path, server: FakeServer) -> None:
    dead = "http://127.0.0.1:9/v1"  # discard port: nothing listens
    result = run(tmp_path, [dead, server.url], "annotator.max_retries=0", n=2)
    assert sorted(result.summary.computed) == ["song0", "song1"] and len(server.requests) == 2
    only_dead = run(tmp_path / "b", [dead], "annotator.max_retries=0")
    assert "cannot connect" in only_dead.summary.failed[0].reason


def test_round_robin_over_two_servers(tmp_path: Path) -> None:
    servers = make_servers(2)
    try:
        result = run(tmp_path, [s.url for s in servers], n=6)
        assert len(result.summary.computed) == 6
        assert [len(s.requests) for s in servers] == [3, 3]
    finally:
        for s in servers:
            s.close()


def test_concurrency_is_bounded_and_used(tmp_path: Path) -> None:
    from songset import numba_cache

    numba_cache.prepare()  # the once-per-machine kernel check is not what this times
    (fake,) = make_servers(1, delay_s=0.3)
    try:
        result = run(tmp_path, [fake.url], "annotator.concurrency=3", n=9)
        assert len(result.summary.computed) == 9
        assert fake.max_in_flight == 3  # three requests overlapped at the server: parallel, and no more
    finally:
        fake.close()


def test_cli_spelling_and_no_key_in_outputs(tmp_path: Path, server: FakeServer) -> None:
    audio = songs(tmp_path, 1)[0]
    out = tmp_path / "out"
    code = main(
        ["annotate", str(audio), "-o", str(out), "annotator=openai_audio",
         f"annotator.base_url={server.url}", "annotator.model=NAME", "annotator.api_key_env=MY_KEY", "--no-cache"]
    )  # fmt: skip
    assert code == 0 and server.requests[0]["body"]["model"] == "NAME"
    assert server.requests[0]["auth"] == "Bearer not-needed"  # MY_KEY unset: local servers need none
    for path in out.rglob("*"):
        if path.is_file():
            assert KEY not in path.read_text()
