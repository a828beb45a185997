from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import TEST_DATA, write_tone

from songset.audio import load_audio, read_info
from songset.runner import SongError


def test_header_info_without_decoding(tmp_path: Path) -> None:
    info = read_info(write_tone(tmp_path / "st.wav", 11.0, sr=44100, channels=2))
    assert info.channels == 2 and info.sample_rate == 44100 and abs(info.duration - 11.0) < 1e-6


def test_decodes_to_mono_at_the_requested_rate(tmp_path: Path) -> None:
    audio = load_audio(write_tone(tmp_path / "st.wav", 11.0, sr=44100, channels=2), sample_rate=22050)
    assert audio.samples.ndim == 1 and audio.samples.dtype == np.float32
    assert abs(audio.duration - 11.0) < 0.01


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"", "empty (0 bytes)"), (b"this is not audio at all" * 100, "not a readable audio file")],
)
def test_unreadable_files_name_the_file_and_problem(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad song.ogg"
    path.write_bytes(content)
    with pytest.raises(SongError) as err:
        load_audio(path)
    assert str(path) in str(err.value) and message in str(err.value)


def test_too_short_silent_and_nan_inputs(tmp_path: Path) -> None:
    with pytest.raises(SongError, match="shorter than ACE-Step's 10 s minimum"):
        load_audio(TEST_DATA / "sorohanro_-_solo-trumpet-06.ogg")
    silent = tmp_path / "silent.wav"
    sf.write(str(silent), np.zeros(22050 * 12, dtype=np.float32), 22050)
    with pytest.raises(SongError, match="silent"):
        load_audio(silent)
    nan = tmp_path / "nan.wav"
    data = np.full(22050 * 12, np.nan, dtype=np.float32)
    sf.write(str(nan), data, 22050, subtype="FLOAT")
    with pytest.raises(SongError, match="NaN"):
        load_audio(nan)
