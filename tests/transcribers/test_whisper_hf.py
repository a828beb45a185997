"""transcriber=whisper_hf end to end on a tiny random Whisper built offline (the real Transformers path).

Random weights write random text: these tests check structure, times, signals, language, provenance and
determinism, never the words.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
import yaml
from conftest import PROJECT_ROOT

from songset.annotators.hf_errors import AnnotatorSetupError
from songset.config import compose, instantiate
from songset.transcribers.base import Transcription
from songset.transcribers.whisper_hf import WhisperHFSettings, WhisperHFTranscriber

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def tiny_whisper(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("transformers")
    os.environ["HF_HUB_OFFLINE"] = "1"  # nothing here may reach a hub
    from support.whisper_tiny import build_tiny_whisper

    return build_tiny_whisper(tmp_path_factory.mktemp("whisper") / "tiny")


@pytest.fixture(scope="module")
def audio(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A 70 s song (3 windows), an 11 s one at 8 kHz stereo (resampled, downmixed), and a broken file."""
    root = tmp_path_factory.mktemp("songs")
    rng = np.random.default_rng(0)
    t = np.arange(70 * 16000) / 16000
    long = 0.2 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 0.5 * t)) + 0.02 * rng.standard_normal(
        t.size
    )
    sf.write(str(root / "long.wav"), long.astype("float32"), 16000)
    t8 = np.arange(11 * 8000) / 8000
    short = np.stack([0.3 * np.sin(2 * np.pi * 330 * t8), 0.1 * rng.standard_normal(t8.size)], axis=1)
    sf.write(str(root / "short.wav"), short.astype("float32"), 8000)
    (root / "broken.wav").write_bytes(b"RIFF0000WAVEnot audio")
    return {"long": root / "long.wav", "short": root / "short.wav", "broken": root / "broken.wav"}


def transcriber(model: Path, *overrides: str) -> WhisperHFTranscriber:
    cfg = compose(
        ["transcriber=whisper_hf", f"transcriber.model={model}", "transcriber.max_new_tokens=12", *overrides],
        config_dir=PROJECT_ROOT / "conf",
    )
    return instantiate(cfg.transcriber)


def without_timings(t: Transcription) -> dict[str, Any]:
    data = t.model_dump(mode="json")
    data["extra_provenance"].pop("seconds")
    return data


def test_yaml_documents_exactly_the_settings_defaults() -> None:
    listed = yaml.safe_load((PROJECT_ROOT / "conf/transcriber/whisper_hf.yaml").read_text())
    listed.pop("_target_")
    assert listed == WhisperHFSettings().model_dump(mode="json")


def test_real_transformers_path_end_to_end(tiny_whisper: Path, audio: dict[str, Path]) -> None:
    t = transcriber(tiny_whisper, "transcriber.batch_size=2")
    assert t.parallel_processes is False and t.batch_size == 2
    t.check_ready()
    long, short, broken = t.transcribe_batch([audio["long"], audio["short"], audio["broken"]])
    assert isinstance(broken, Exception) and "broken.wav" in str(broken)
    for result, duration, windows in ((long, 70.0, 3), (short, 11.0, 1)):
        assert isinstance(result, Transcription)
        assert result.segments, "the timestamp rules always give at least one segment"
        assert result.text == "\n".join(s.text for s in result.segments)
        for seg in result.segments:
            assert 0.0 <= seg.start <= seg.end <= duration
            assert seg.text == seg.text.strip() and seg.text
            assert seg.avg_logprob is not None and seg.avg_logprob <= 0.0
            assert seg.no_speech_prob is not None and 0.0 <= seg.no_speech_prob <= 1.0
            assert seg.compression_ratio is not None and seg.compression_ratio >= 0.0
            assert seg.words == []
        starts = [s.start for s in result.segments]
        assert starts == sorted(starts)
        assert result.language is not None and 0.0 < (result.language_probability or 0) <= 1.0
        extra = result.extra_provenance
        assert extra["windows"] == windows and len(extra["no_speech_prob_by_window"]) == windows
        assert extra["language_forced"] is False and extra["device"] == "cpu" and extra["dtype"] == "float32"
        assert extra["tokens_generated"] > 0
    assert any(s.start >= 30.0 for s in long.segments), "later windows are shifted into song time"


def test_deterministic_and_batching_does_not_change_the_result(
    tiny_whisper: Path, audio: dict[str, Path]
) -> None:
    first = transcriber(tiny_whisper, "transcriber.batch_size=4").transcribe_batch(
        [audio["long"], audio["short"]]
    )
    again = transcriber(tiny_whisper, "transcriber.batch_size=1").transcribe(audio["short"])
    assert isinstance(first[1], Transcription)
    one, other = without_timings(first[1]), without_timings(again)
    for data in (one, other):
        data["extra_provenance"].pop("batch_size")
    assert one == other
    twice = transcriber(tiny_whisper, "transcriber.batch_size=4").transcribe_batch(
        [audio["long"], audio["short"]]
    )
    assert [without_timings(r) for r in first if isinstance(r, Transcription)] == [
        without_timings(r) for r in twice if isinstance(r, Transcription)
    ]


def test_forced_language_and_word_timestamps(tiny_whisper: Path, audio: dict[str, Path]) -> None:
    t = transcriber(tiny_whisper, "transcriber.language=de", "transcriber.word_timestamps=true")
    result = t.transcribe(audio["short"])
    assert result.language == "de" and result.language_probability is None
    assert result.extra_provenance["language_forced"] is True
    words = [w for s in result.segments for w in s.words]
    assert words, "word_timestamps gives words"
    for word in words:
        assert 0.0 <= word.start <= word.end <= 11.0 and word.text
        assert word.probability is not None and 0.0 <= word.probability <= 1.0


def test_identity_pins_the_weights_and_keeps_transport_out(tiny_whisper: Path, tmp_path: Path) -> None:
    from support.whisper_tiny import build_tiny_whisper

    a = transcriber(tiny_whisper).identity()
    b = transcriber(tiny_whisper, "transcriber.batch_size=1").identity()
    assert a.key_parts() == b.key_parts() and "batch_size" not in a.settings
    assert a.backend == "whisper_hf" and a.model_revision and a.model_revision.startswith("sha256:")
    assert a.settings["device"] == "cpu" and a.settings["dtype"] == "float32"
    other = build_tiny_whisper(tmp_path / "other", seed=1)
    assert transcriber(other).identity().model_revision != a.model_revision
    assert transcriber(tiny_whisper, "transcriber.max_new_tokens=20").identity().key_parts() != a.key_parts()


def test_setup_errors_are_one_line_before_the_first_song(tiny_whisper: Path, tmp_path: Path) -> None:
    from transformers import Qwen2Config

    not_whisper = tmp_path / "qwen"
    Qwen2Config(vocab_size=10, hidden_size=8).save_pretrained(not_whisper)
    (not_whisper / "model.safetensors").write_bytes(b"0")
    with pytest.raises(AnnotatorSetupError, match="is a 'qwen2' checkpoint"):
        WhisperHFTranscriber(model=str(not_whisper)).check_ready()
    with pytest.raises(AnnotatorSetupError, match="not one of"):
        WhisperHFTranscriber(model=str(tiny_whisper), language="xx").check_ready()
    with pytest.raises(AnnotatorSetupError, match="not in the local Hugging Face cache"):
        WhisperHFTranscriber(model="openai/whisper-nonexistent-t18").identity()
    with pytest.raises(ValueError, match=r"beams: no such setting"):
        WhisperHFTranscriber(model=str(tiny_whisper), beams=2)


def test_separate_vocals_transcribes_the_vocal_stem(
    tiny_whisper: Path, audio: dict[str, Path], tmp_path: Path
) -> None:
    """With separation on, the result is exactly that of transcribing Demucs' vocal stem as a file."""
    pytest.importorskip("demucs")
    import torch

    tiny = "{model: demucs_unittest, repo: null, shifts: 0, overlap: 0.25, device: cpu}"
    separated = transcriber(
        tiny_whisper, "transcriber.separate_vocals=true", f"transcriber.separation={tiny}"
    )
    assert separated.separator is not None
    torch.manual_seed(0)  # demucs_unittest is built with random weights on load
    stem = separated.separator.vocals(audio["short"], 16000)
    result = separated.transcribe(audio["short"])
    stem_file = tmp_path / "stem.wav"
    sf.write(str(stem_file), stem, 16000, subtype="FLOAT")
    plain = transcriber(tiny_whisper).transcribe(stem_file)
    assert [s.model_dump() for s in result.segments] == [s.model_dump() for s in plain.segments]
    ident = separated.identity()
    assert ident.settings["separation"]["model"] == "demucs_unittest" and "demucs" in ident.libraries
    assert ident.key_parts() != transcriber(tiny_whisper).identity().key_parts()


def test_an_old_transformers_is_named_for_the_transcriber_group() -> None:
    from songset.annotators.hf_errors import check_transformers

    with pytest.raises(AnnotatorSetupError, match=r"^transcriber=whisper_hf needs transformers>=4\.45"):
        check_transformers("whisper_hf", "whisper", "4.45", found="4.30.0", group="transcriber")
