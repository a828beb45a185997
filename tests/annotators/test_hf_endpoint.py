"""annotator=hf_endpoint against real local HTTP servers: auth, retries, errors, token hygiene."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from conftest import PROJECT_ROOT
from fake_openai import FakeServer, send, server_error

from songset.config import compose
from songset.songs import songs_from_paths
from songset.stages.annotate import run_annotate
from songset.stages.base import RunOptions

TOKEN = "hf_SONGSETclientToken8080"


def answer(h: Any) -> None:
    send(
        h,
        200,
        {"text": "[0:00-0:11] A tone.", "provenance": {"model_type": "audioflamingo3", "seconds": 0.1}},
    )


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(PROJECT_ROOT)
    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "hf_token", "HUGGINGFACE_TOKEN"):
        monkeypatch.delenv(name, raising=False)


def run(tmp_path: Path, url: str, n: int = 2) -> Any:
    folder = tmp_path / "audio"
    folder.mkdir(parents=True, exist_ok=True)
    t = np.arange(11 * 8000) / 8000
    paths = []
    for i in range(n):
        sf.write(
            str(folder / f"s{i}.wav"), 0.3 * np.sin(2 * np.pi * (330 + 20 * i) * t), 8000
        )  # distinct songs
        paths.append(folder / f"s{i}.wav")
    cfg = compose(
        [
            "annotator=hf_endpoint",
            f"annotator.url={url}",
            "annotator.backoff_s=0.01",
            "annotator.max_retries=2",
        ],
        config_dir=PROJECT_ROOT / "conf",
    )
    return run_annotate(
        songs_from_paths(paths), cfg.annotator, tmp_path / "raw", RunOptions(cache_dir=None, workers=1)
    )


def test_posts_audio_prompt_and_settings_with_bearer_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    fake = FakeServer(default=answer)
    fake.script = [server_error(503)]  # scaled to zero: waking up
    try:
        result = run(tmp_path, fake.root + "/")
        assert sorted(result.summary.computed) == ["s0", "s1"], result.summary.failed
        body = fake.requests[-1]["body"]
        assert body["inputs"]["prompt"].startswith("Listen") and body["parameters"]["max_new_tokens"] == 1024
        assert fake.requests[-1]["auth"] == f"Bearer {TOKEN}" and len(fake.requests) == 3
        for path in (tmp_path / "raw").glob("*.json"):
            assert TOKEN not in path.read_text()
    finally:
        fake.close()


def test_wrong_token_name_warns_and_401_names_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("HUGGINGFACE_TOKEN", TOKEN)
    fake = FakeServer(default=lambda h: send(h, 401, {"error": "unauthorized"}))
    try:
        with caplog.at_level(logging.WARNING, logger="songset"):
            result = run(tmp_path, fake.root + "/", n=1)
        assert "HUGGINGFACE_TOKEN is set but never read" in caplog.text and TOKEN not in caplog.text
        assert "only HF_TOKEN is read" in result.summary.failed[0].reason
        assert fake.requests[0]["auth"] is None
    finally:
        fake.close()


def test_persistent_5xx_and_wrong_schema_fail_per_song(tmp_path: Path) -> None:
    fake = FakeServer(default=lambda h: send(h, 200, [{"generated_text": "x"}]))
    fake.script = [server_error(500)] * 3
    try:
        first = run(tmp_path / "a", fake.root + "/", n=1)
        assert (
            "HTTP 500" in first.summary.failed[0].reason
            and "after 2 retries" in first.summary.failed[0].reason
        )
        second = run(tmp_path / "b", fake.root + "/", n=1)
        assert "has no 'text'" in second.summary.failed[0].reason
    finally:
        fake.close()
