"""transcriber=openai against real OpenAI-compatible HTTP servers on 127.0.0.1 (the official client)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
import yaml
from conftest import PROJECT_ROOT
from fake_openai import FakeServer, hang, malformed, rate_limited, reply_json, reply_text, send, server_error

from songset.config import compose, instantiate
from songset.runner import SongError
from songset.transcribers.base import Transcription
from songset.transcribers.openai_transcribe import OpenAITranscriber, OpenAITranscribeSettings

KEY = "sk-test-SONGSETtranscribeKey4242"
pytestmark = pytest.mark.timeout(120)

VERBOSE: dict[str, Any] = {
    "task": "transcribe",
    "language": "english",
    "duration": 11.0,
    "text": " I walked down to the river, the water running cold.",
    "segments": [
        {
            "id": 0,
            "seek": 0,
            "start": 0.0,
            "end": 4.2,
            "text": " I walked down to the river,",
            "tokens": [1, 2, 3],
            "temperature": 0.0,
            "avg_logprob": -0.21,
            "compression_ratio": 1.1,
            "no_speech_prob": 0.02,
        },
        {
            "id": 1,
            "seek": 0,
            "start": 4.2,
            "end": 12.5,  # past the 11 s sent: clipped
            "text": " the water running cold.",
            "tokens": [4, 5],
            "temperature": 0.0,
            "avg_logprob": -0.4,
            "compression_ratio": 1.2,
            "no_speech_prob": 0.1,
        },
    ],
    "words": [
        {"word": "I", "start": 0.0, "end": 0.3},
        {"word": "walked", "start": 0.3, "end": 0.8},
        {"word": "the", "start": 4.3, "end": 4.5},
    ],
}


@pytest.fixture(autouse=True)
def _project_cwd(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(PROJECT_ROOT)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)


@pytest.fixture
def server() -> Iterator[FakeServer]:
    fake = FakeServer(default=reply_json(VERBOSE), version="0.11.2")
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


def transcriber(*overrides: str, url: str | None = None) -> OpenAITranscriber:
    args = ["transcriber=openai", "transcriber.max_retries=2", *overrides]
    if url:
        args.append(f"transcriber.base_url={url}")
    cfg = compose(args, config_dir=PROJECT_ROOT / "conf")
    return instantiate(cfg.transcriber)


def test_yaml_documents_exactly_the_settings_defaults() -> None:
    """conf/transcriber/openai.yaml restates the defaults (Hydra needs the keys); it may not drift."""
    listed = yaml.safe_load((PROJECT_ROOT / "conf/transcriber/openai.yaml").read_text())
    listed.pop("_target_")
    assert listed == OpenAITranscribeSettings().model_dump(mode="json")


def test_verbose_json_request_shape_segments_signals_and_provenance(
    tmp_path: Path, server: FakeServer
) -> None:
    t = transcriber("transcriber.timestamp_granularities=[segment,word]", url=server.url)
    (result,) = t.transcribe_batch(songs(tmp_path, 1))
    assert isinstance(result, Transcription)
    request = server.requests[0]
    assert request["path"] == "/v1/audio/transcriptions" and request["auth"] == f"Bearer {KEY}"
    body = request["body"]
    assert body["model"] == "whisper-1" and body["response_format"] == "verbose_json"
    assert body["timestamp_granularities[]"] == ["segment", "word"] and body["temperature"] == "0.0"
    assert "language" not in body and "prompt" not in body
    assert body["file"]["filename"] == "song.wav" and body["file"]["content_type"] == "audio/wav"
    samples, rate = sf.read(io.BytesIO(request["files"]["file"]))
    assert rate == 16000 and len(samples) == 176000  # 11 s resampled to 16 kHz mono

    assert result.text == "I walked down to the river, the water running cold."
    assert result.language == "en"  # OpenAI says "english"
    first, second = result.segments
    assert (first.start, first.end, first.text) == (0.0, 4.2, "I walked down to the river,")
    assert (first.avg_logprob, first.no_speech_prob, first.compression_ratio) == (-0.21, 0.02, 1.1)
    assert second.end == 11.0  # clipped to the audio sent
    assert [w.text for w in first.words] == ["I", "walked"] and [w.text for w in second.words] == ["the"]
    extra = result.extra_provenance
    assert extra["server"] == server.url and extra["server_version"] == "vllm 0.11.2"
    assert extra["response_format"] == "verbose_json" and extra["language_reported"] == "english"
    assert extra["audio_seconds_sent"] == 11.0


def test_identity_keeps_transport_out_of_the_key(server: FakeServer) -> None:
    a = transcriber(url=server.url).identity()
    b = transcriber(
        "transcriber.concurrency=9", "transcriber.timeout_s=5", url="http://other:1/v1"
    ).identity()
    assert a.key_parts() == b.key_parts()
    assert a.backend == "openai_transcribe" and a.model_id == "whisper-1"
    assert "base_url" not in a.settings and "api_key_env" not in a.settings
    c = transcriber("transcriber.language=de", url=server.url).identity()
    assert c.key_parts() != a.key_parts()


def test_forced_language_and_prompt_are_sent(tmp_path: Path, server: FakeServer) -> None:
    t = transcriber("transcriber.language=de", "transcriber.prompt='Verse and Chorus'", url=server.url)
    (result,) = t.transcribe_batch(songs(tmp_path, 1))
    body = server.requests[0]["body"]
    assert body["language"] == "de" and body["prompt"] == "Verse and Chorus"
    assert isinstance(result, Transcription) and result.language == "de"
    assert result.extra_provenance["language_forced"] is True


def test_text_format_gives_text_without_segments(tmp_path: Path, server: FakeServer) -> None:
    server.default = reply_text("la la la\nmy heart goes on\n")
    (result,) = transcriber("transcriber.response_format=text", url=server.url).transcribe_batch(
        songs(tmp_path, 1)
    )
    assert isinstance(result, Transcription)
    assert result.text == "la la la\nmy heart goes on" and result.segments == [] and result.language is None
    assert "timestamp_granularities[]" not in server.requests[0]["body"]


def test_a_server_refusing_verbose_json_is_asked_for_text_once(tmp_path: Path, server: FakeServer) -> None:
    refusal = {
        "error": {"message": "response_format 'verbose_json' is not compatible with gpt-4o-transcribe"}
    }
    server.script = [lambda h: send(h, 400, refusal)]
    server.default = reply_text("we ride at dawn")
    results = transcriber("transcriber.concurrency=1", url=server.url).transcribe_batch(songs(tmp_path, 2))
    assert [r.text for r in results if isinstance(r, Transcription)] == ["we ride at dawn"] * 2
    formats = [r["body"]["response_format"] for r in server.requests]
    assert formats == ["verbose_json", "text", "text"]  # the second song goes straight to text
    assert all(
        isinstance(r, Transcription) and r.extra_provenance["response_format"] == "text" for r in results
    )


def test_refusal_without_fallback_is_that_songs_error(tmp_path: Path, server: FakeServer) -> None:
    server.default = lambda h: send(h, 400, {"error": {"message": "bad format"}})
    (result,) = transcriber("transcriber.fallback_to_text=false", url=server.url).transcribe_batch(
        songs(tmp_path, 1)
    )
    assert isinstance(result, SongError) and "HTTP 400" in str(result) and "bad format" in str(result)


def test_429_and_500_are_retried_then_succeed(tmp_path: Path, server: FakeServer) -> None:
    server.script = [rate_limited(), server_error(503)]
    (result,) = transcriber(url=server.url).transcribe_batch(songs(tmp_path, 1))
    assert isinstance(result, Transcription) and len(server.requests) == 3


def test_persistent_5xx_fails_that_song_and_the_others_still_run(tmp_path: Path, server: FakeServer) -> None:
    server.script = [server_error(500)] * 3  # the first song's request and its 2 retries
    results = transcriber("transcriber.concurrency=1", url=server.url).transcribe_batch(songs(tmp_path, 3))
    assert isinstance(results[0], SongError) and "HTTP 500 after 2 retries" in str(results[0])
    assert all(isinstance(r, Transcription) for r in results[1:])


def test_timeouts_and_malformed_answers_are_clear_per_song_errors(tmp_path: Path, server: FakeServer) -> None:
    server.script = [
        hang(3.0, reply_json(VERBOSE)),
        malformed(),
        reply_json({"segments": []}),  # JSON, but no text
        reply_json({"text": "x", "segments": [{"start": "soon", "end": 1, "text": "x"}]}),
    ]
    t = transcriber(
        "transcriber.timeout_s=0.5",
        "transcriber.max_retries=0",
        "transcriber.concurrency=1",
        url=server.url,
    )
    results = t.transcribe_batch(songs(tmp_path, 5))  # the timeout, not the 3 s hang, ends song 0
    messages = [str(r) for r in results[:4]]
    assert all(isinstance(r, SongError) for r in results[:4]), messages
    assert "no answer within 0.5 s" in messages[0]
    assert "not a transcription (not JSON)" in messages[1]
    assert "not a transcription (Field required)" in messages[2]
    assert "not a transcription" in messages[3]
    assert isinstance(results[4], Transcription)


def test_connection_refused_fails_over_and_round_robin(tmp_path: Path, server: FakeServer) -> None:
    dead = "http://127.0.0.1:9/v1"  # discard port: nothing listens
    t = transcriber(f"transcriber.base_urls=[{dead},{server.url}]", "transcriber.max_retries=0")
    results = t.transcribe_batch(songs(tmp_path, 2))
    assert all(isinstance(r, Transcription) for r in results) and len(server.requests) == 2
    (only_dead,) = transcriber("transcriber.max_retries=0", url=dead).transcribe_batch(songs(tmp_path, 1))
    assert isinstance(only_dead, SongError) and "cannot connect" in str(only_dead)
    other = FakeServer(default=reply_json(VERBOSE))
    try:
        t = transcriber(f"transcriber.base_urls=[{server.url},{other.url}]")
        t.transcribe_batch(songs(tmp_path, 6))
        assert [len(server.requests) - 2, len(other.requests)] == [3, 3]
    finally:
        other.close()


def test_concurrency_is_bounded_and_used(tmp_path: Path) -> None:
    fake = FakeServer(default=reply_json(VERBOSE), delay_s=0.3)
    try:
        t = transcriber("transcriber.concurrency=3", url=fake.url)
        assert t.batch_size == 3 and t.parallel_processes is False
        paths = songs(tmp_path, 9)
        results = t.transcribe_batch(paths)
        assert all(isinstance(r, Transcription) for r in results)
        assert fake.max_in_flight == 3  # three requests overlapped at the server: parallel, and no more
    finally:
        fake.close()


def test_the_key_is_never_written(
    tmp_path: Path, server: FakeServer, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MY_KEY", KEY)
    caplog.set_level(logging.DEBUG)
    t = OpenAITranscriber(base_url=server.url, api_key_env="MY_KEY", max_retries=0, concurrency=1)
    server.script = [malformed()]
    results = t.transcribe_batch(songs(tmp_path, 2))
    assert server.requests[0]["auth"] == f"Bearer {KEY}"  # sent, as it must be
    assert isinstance(results[0], SongError) and isinstance(results[1], Transcription)
    dead = OpenAITranscriber(base_url=f"http://user:{KEY}@127.0.0.1:9/v1?token={KEY}", max_retries=0)
    (failed,) = dead.transcribe_batch(songs(tmp_path, 1))
    assert isinstance(failed, SongError) and "cannot connect" in str(failed)
    written = json.dumps(
        [r.model_dump(mode="json") if isinstance(r, Transcription) else str(r) for r in [*results, failed]]
        + [t.identity().key_parts(), dead.identity().key_parts()]
    )
    assert KEY not in written and KEY not in caplog.text


def test_missing_key_for_the_openai_api_is_one_line_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY")
    with pytest.raises(ValueError, match="OPENAI_API_KEY is not set"):
        transcriber().check_ready()
    transcriber(url="http://127.0.0.1:9/v1").check_ready()  # a local server needs none


def test_unknown_or_bad_settings_fail_at_start_naming_the_key() -> None:
    from omegaconf import OmegaConf

    from songset.config import instantiate

    target = "songset.transcribers.openai_transcribe.OpenAITranscriber"
    for setting, expected in (
        ({"respone_format": "text"}, r"transcriber\.respone_format: no such setting"),
        ({"response_format": "srt"}, r"transcriber\.response_format"),
    ):
        cfg = OmegaConf.create({"transcriber": {"_target_": target, **setting}})
        with pytest.raises(ValueError, match=expected):
            instantiate(cfg.transcriber)
    with pytest.raises(ValueError, match=r"respone_format: no such setting"):
        OpenAITranscriber(respone_format="text")
