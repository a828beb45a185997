"""Vocal separation before transcription: the real Demucs path (the library's own tiny random model,
`demucs_unittest`) when Demucs is installed, and the one-line error at start when it is not."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from songset.transcribers.openai_transcribe import OpenAITranscriber
from songset.transcribers.separation import (
    DemucsSeparator,
    SeparationSettings,
    SeparationUnavailable,
    vocal_separator,
)

pytestmark = pytest.mark.timeout(300)
TINY = {"model": "demucs_unittest", "shifts": 0}


@pytest.fixture
def song(tmp_path: Path) -> Path:
    t = np.arange(int(10.5 * 22050)) / 22050
    path = tmp_path / "song.wav"
    sf.write(str(path), (0.3 * np.sin(2 * np.pi * 220 * t)).astype("float32"), 22050)
    return path


def test_not_installed_is_one_line_at_start_naming_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "demucs", None)  # what Python does for a package that is not there
    monkeypatch.delitem(sys.modules, "demucs.apply", raising=False)
    monkeypatch.delitem(sys.modules, "demucs.pretrained", raising=False)
    with pytest.raises(
        SeparationUnavailable, match=r"needs the demucs package.*pip install -e '\.\[separation\]'"
    ):
        OpenAITranscriber(base_url="http://127.0.0.1:9/v1", separate_vocals=True)
    assert OpenAITranscriber(base_url="http://127.0.0.1:9/v1").separator is None  # off: never imported
    assert vocal_separator(False, SeparationSettings()) is None


def test_unknown_model_is_a_clear_error(tmp_path: Path, song: Path) -> None:
    pytest.importorskip("demucs")
    separator = DemucsSeparator(SeparationSettings(model="no_such_model", repo=str(tmp_path)))
    with pytest.raises(SeparationUnavailable, match=r"'no_such_model'.*could not be loaded"):
        separator.vocals(song, 16000)


def test_demucs_vocal_stem_is_what_gets_transcribed(song: Path) -> None:
    pytest.importorskip("demucs")
    import torch

    separator = DemucsSeparator(SeparationSettings.model_validate(TINY))
    torch.manual_seed(0)  # demucs_unittest is built with random weights on load
    vocals = separator.vocals(song, 16000)
    assert vocals.dtype == np.float32 and vocals.ndim == 1
    assert abs(len(vocals) - 10.5 * 16000) <= 2 and np.isfinite(vocals).all()
    again = separator.vocals(song, 16000)
    assert np.array_equal(vocals, again)  # deterministic
    t = OpenAITranscriber(base_url="http://127.0.0.1:9/v1", separate_vocals=True, separation=TINY)
    torch.manual_seed(0)
    wav, sent_s = t.wav(song)
    assert sent_s == 10.5
    uploaded, rate = sf.read(io.BytesIO(wav), dtype="float32")
    assert rate == 16000 and np.allclose(uploaded, np.clip(vocals, -1, 1), atol=1 / 16000 + 1e-4)
    ident = t.identity()
    assert ident.settings["separation"]["model"] == "demucs_unittest" and "demucs" in ident.libraries
    assert ident.settings["separation"]["demucs"]
    plain = OpenAITranscriber(base_url="http://127.0.0.1:9/v1").identity()
    assert plain.key_parts() != ident.key_parts()
