"""README "Secrets": the backends that read OPENAI_API_KEY and HF_TOKEN write them nowhere.

The offline stack never reads a key, so a scan over its outputs passes by construction. Here the served
annotators (`openai_audio`, `hf_endpoint`), the LLM cleaner and the OpenAI transcriber (`transcriber=openai`,
through the lyrics stage) run against real HTTP servers on 127.0.0.1,
through the command line, with a per-song cache, a failing song and every later stage; the servers must have
received the secrets (so they were read and used), and no output file, cache entry, params file, report,
printed line or log record (DEBUG included) may contain them.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import PROJECT_ROOT, song_metadata, tool_env, write_tone
from fake_openai import FakeServer, ok, reply_json, send, server_error

from songset.cli import main
from songset.config import compose
from songset.io import atomic_write_json
from songset.lineage import lineage_stamp
from songset.songs import discover_songs
from songset.stages.base import RunOptions, finish_stage
from songset.stages.lyrics import run_lyrics
from songset.stages.report import write_quality_report
from songset.stages.sidecars import run_sidecars

SECRETS = {
    "OPENAI_API_KEY": "sk-SONGSETservedKey61f0",
    "HF_TOKEN": "hf_SONGSETservedToken2b7d",
}
TEXT = "[0:00-0:05] A soft tone. [0:05-0:11] The tone holds, steady and warm."
CLEAN_ANSWER = {
    "caption": "A soft sustained tone, warm and steady",
    "genre": ["ambient"],
    "mood": ["calm"],
    "instruments": ["synth"],
    "texture": ["warm"],
    "sections": [{"start": 0, "end": 11, "label": "drone", "description": "one tone"}],
    "events": [],
    "vocal_presence": "vocal",
    "vocal_language": "en",
}
SUNG = "I walked down to the river where the water runs cold and clear"
TRANSCRIPTION = {
    "task": "transcribe",
    "language": "english",
    "duration": 11.0,
    "text": SUNG,
    "segments": [
        {"id": 0, "start": 0.5, "end": 5.0, "text": SUNG, "avg_logprob": -0.2, "no_speech_prob": 0.02},
    ],
}
pytestmark = pytest.mark.timeout(180)


def endpoint_answer(handler: Any) -> None:
    send(handler, 200, {"text": TEXT, "provenance": {"model_type": "audioflamingo3", "seconds": 0.1}})


@pytest.fixture
def servers() -> Iterator[dict[str, FakeServer]]:
    made = {
        "audio": FakeServer(default=ok(TEXT, model="served/af3"), version="0.11.2"),
        "endpoint": FakeServer(default=endpoint_answer),
        "cleaner": FakeServer(default=ok(CLEAN_ANSWER)),
        "transcriber": FakeServer(default=reply_json(TRANSCRIPTION), version="0.11.2"),
    }
    yield made
    for server in made.values():
        server.close()


def test_served_stack_reads_the_secrets_and_writes_none_of_them(
    tmp_path: Path,
    servers: dict[str, FakeServer],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.chdir(PROJECT_ROOT)  # prompts live under conf/
    for name in ("HUGGING_FACE_HUB_TOKEN", "hf_token", "HUGGINGFACE_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    caplog.set_level(logging.DEBUG)
    work = tmp_path / "work"
    audio = [write_tone(work / "audio" / f"song{i}.wav", 11.0, freq=220.0 + 110 * i) for i in range(2)]
    cache = ["--cache-dir", str(work / "cache"), "--jobs", "1"]
    served_audio = [
        "annotator=openai_audio",
        f"annotator.base_url={servers['audio'].url}",
        "annotator.model=served/af3",
    ]
    endpoint = [
        "annotator=hf_endpoint",
        f"annotator.url={servers['endpoint'].root}/",
        "annotator.max_retries=0",
        "annotator.concurrency=1",
    ]
    cleaner = ["cleaner=openai", f"cleaner.base_url={servers['cleaner'].url}", "cleaner.model=test-model"]

    assert main(["compose", "-o", str(work / "params.yaml"), *served_audio, *cleaner]) == 0
    raw = work / "raw"
    assert main(["annotate", *map(str, audio), "-o", str(raw), *cache, *served_audio]) == 0
    servers["endpoint"].script = [server_error(500)]  # one song fails there, and its reason is printed
    assert main(["annotate", *map(str, audio), "-o", str(work / "raw_endpoint"), *cache, *endpoint]) == 1
    clean = work / "clean"
    assert main(["clean", *map(str, sorted(raw.glob("*.json"))), "-o", str(clean), *cache, *cleaner]) == 0
    assert main(["annotate", *map(str, audio), "-o", str(raw), *cache, *served_audio]) == 0  # from cache

    # Each secret went over the wire: the backends really read them.
    for server in (servers["audio"], servers["cleaner"]):
        assert server.requests and {r["auth"] for r in server.requests} == {
            f"Bearer {SECRETS['OPENAI_API_KEY']}"
        }
    assert {r["auth"] for r in servers["endpoint"].requests} == {f"Bearer {SECRETS['HF_TOKEN']}"}

    # Lyrics transcribed by transcriber=openai; the first upload fails, so its song's error is recorded.
    servers["transcriber"].script = [server_error(500)]
    transcribe = [
        "transcriber=openai",
        f"transcriber.base_url={servers['transcriber'].url}",
        "transcriber.max_retries=0",
        "transcriber.concurrency=1",
    ]
    composed = compose(transcribe, config_dir=PROJECT_ROOT / "conf")
    song_lyrics = work / "song_lyrics"
    lyrics_result = run_lyrics(
        discover_songs(work / "audio"),
        composed.transcriber,
        composed.lyrics,
        work / "lyrics",
        work / "overrides",
        clean,
        song_lyrics,
        RunOptions(cache_dir=work / "cache"),
    )
    finish_stage(lyrics_result, work / "reports")
    assert len(lyrics_result.summary.failed) == 1 and "500" in lyrics_result.summary.failed[0].reason
    assert [lyrics_result.outputs[s].lyrics_source for s in lyrics_result.summary.computed] == [
        "transcription"
    ]
    assert {r["auth"] for r in servers["transcriber"].requests} == {f"Bearer {SECRETS['OPENAI_API_KEY']}"}

    metadata = work / "metadata"
    for path in audio:
        atomic_write_json(metadata / f"{path.stem}.json", song_metadata(path.stem, audio_file=path.name))
    sidecars = work / "sidecars"
    run_sidecars(
        clean,
        metadata,
        song_lyrics,
        work / "overrides",
        {},
        sidecars,
        RunOptions(cache_dir=work / "cache"),
        lineage=lineage_stamp(PROJECT_ROOT, work / "params.yaml"),
    )
    write_quality_report(raw, work / "reports", {}, sidecar_dir=sidecars, metadata_dir=metadata)
    assert main(["validate", str(sidecars), "-o", str(work / "reports" / "validation.json")]) == 0

    captured = capsys.readouterr()
    haystacks = {
        "stdout": captured.out,
        "stderr": captured.err,
        "log": "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records),
    }
    for path in work.rglob("*"):
        if path.is_file() and path.suffix != ".wav":
            haystacks[str(path.relative_to(work))] = path.read_bytes().decode("utf-8", "replace")
    assert "engine crashed" in captured.err or "500" in captured.err, "the failing song must be reported"
    written = set(haystacks)
    for expected in (
        "params.yaml",
        "raw/song0.json",
        "raw_endpoint",
        "clean/song0.json",
        "song_lyrics/",
        "cache/",
    ):
        assert any(w.startswith(expected) for w in written), f"nothing written under {expected}"
    for where, text in haystacks.items():
        for name, secret in SECRETS.items():
            assert secret not in text, f"{name} leaked into {where}"


# transcriber=whisper_hf reads HF_TOKEN only to download its model: here from a hub on 127.0.0.1, in a fresh
# process (huggingface_hub reads HF_ENDPOINT when imported), through the lyrics stage with a per-song cache.
WHISPER_RUN = """
import json, sys
from pathlib import Path
from songset.config import compose
from songset.songs import discover_songs
from songset.stages.base import RunOptions, finish_stage
from songset.stages.lyrics import run_lyrics

work, conf = Path(sys.argv[1]), Path(sys.argv[2])
cfg = compose(
    ["transcriber=whisper_hf", "transcriber.model=songset-test/tiny-whisper", "transcriber.max_new_tokens=8"],
    config_dir=conf,
)
result = run_lyrics(
    discover_songs(work / "audio"), cfg.transcriber, cfg.lyrics, work / "lyrics", work / "overrides",
    work / "clean", work / "song_lyrics", RunOptions(cache_dir=work / "cache"),
)
finish_stage(result, work / "reports")
print(json.dumps({"computed": result.summary.computed, "failed": [f.reason for f in result.summary.failed]}))
"""


@pytest.mark.timeout(420)  # a fresh process imports torch and Transformers
def test_whisper_hf_sends_hf_token_to_the_hub_and_writes_it_nowhere(tmp_path: Path) -> None:
    pytest.importorskip("transformers")
    from fake_hub import FakeHub
    from support.whisper_tiny import build_tiny_whisper

    hub = FakeHub("songset-test/tiny-whisper", build_tiny_whisper(tmp_path / "tiny"))
    work = tmp_path / "work"
    write_tone(work / "audio" / "song0.wav", 11.0)
    (work / "audio" / "broken.wav").write_bytes(b"RIFF0000WAVEnot audio")  # fails alone, and is reported
    env = {k: v for k, v in tool_env().items() if k not in ("HUGGING_FACE_HUB_TOKEN", "HUGGINGFACE_TOKEN")}
    env.update(
        HF_ENDPOINT=hub.url,
        HF_HOME=str(tmp_path / "hf"),
        HF_HUB_OFFLINE="0",
        HF_TOKEN=SECRETS["HF_TOKEN"],
        PYTHONPATH=os.pathsep.join([str(PROJECT_ROOT / "src"), str(PROJECT_ROOT / "tests")]),
    )
    try:
        done = subprocess.run(
            [sys.executable, "-c", WHISPER_RUN, str(work), str(PROJECT_ROOT / "conf")],
            env=env,
            capture_output=True,
            text=True,
            timeout=400,
            check=False,
        )
    finally:
        hub.close()
    assert done.returncode == 0, done.stdout + done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["computed"] == ["song0"] and len(summary["failed"]) == 1
    repo = [r for r in hub.requests if "songset-test/tiny-whisper" in r["path"]]
    assert any("/resolve/" in r["path"] for r in repo), "the model was downloaded"
    assert {r["auth"] for r in repo} == {f"Bearer {SECRETS['HF_TOKEN']}"}  # so HF_TOKEN was read and sent

    haystacks = {"stdout": done.stdout, "stderr": done.stderr}
    for path in work.rglob("*"):
        if path.is_file() and path.suffix != ".wav":
            haystacks[str(path.relative_to(work))] = path.read_bytes().decode("utf-8", "replace")
    assert any(name.startswith("song_lyrics/") for name in haystacks) and any("cache" in n for n in haystacks)
    for where, text in haystacks.items():
        assert SECRETS["HF_TOKEN"] not in text, f"HF_TOKEN leaked into {where}"
