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


def _encode_with_ffmpeg(path: Path, codec: str, seconds: float = 12.0, sr: int = 48000) -> Path:
    """Encode a stereo tone with PyAV's bundled FFmpeg (AAC in M4A, Opus in Ogg)."""
    import av

    t = np.arange(int(seconds * sr)) / sr
    tone = (0.3 * np.sin(2 * np.pi * 440.0 * t)).astype(np.float32)
    planes = np.stack([tone, tone])
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=sr, layout="stereo")
        for start in range(0, planes.shape[1], 960):
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(planes[:, start : start + 960]), format="fltp", layout="stereo"
            )
            frame.sample_rate = sr
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


@pytest.mark.parametrize(("name", "codec"), [("song.m4a", "aac"), ("song.opus", "libopus")])
def test_ffmpeg_formats_decode_like_the_rest(tmp_path: Path, name: str, codec: str) -> None:
    """AAC/M4A is unreadable to libsndfile and Opus is twice as fast through FFmpeg: same contract."""
    path = _encode_with_ffmpeg(tmp_path / name, codec)
    info = read_info(path)
    assert info.channels == 2 and info.sample_rate == 48000 and abs(info.duration - 12.0) < 0.1
    audio = load_audio(path, sample_rate=22050)
    assert audio.samples.ndim == 1 and audio.samples.dtype == np.float32
    assert abs(audio.duration - 12.0) < 0.1
    spectrum = np.abs(np.fft.rfft(audio.samples[22050:44100]))
    assert abs(np.argmax(spectrum) - 440) <= 2  # 1 s of samples: bin = Hz


def test_bundled_opus_decodes_the_same_as_libsndfile() -> None:
    path = Path(__file__).resolve().parent.parent / "data/audio/calm_acoustic_1.opus"
    ours = load_audio(path, sample_rate=22050).samples
    data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    import librosa

    reference = librosa.resample(data.mean(axis=1), orig_sr=sr, target_sr=22050, res_type="soxr_hq")
    n = min(len(ours), len(reference))
    assert abs(len(ours) - len(reference)) <= 1
    assert np.corrcoef(ours[:n], reference[:n])[0, 1] > 0.9999


@pytest.mark.parametrize("name", ["broken.opus", "broken.m4a"])
def test_broken_ffmpeg_files_name_the_file(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"OggS" + b"\x00garbage" * 500)
    with pytest.raises(SongError) as err:
        load_audio(path)
    assert str(path) in str(err.value)


def test_truncated_opus_keeps_what_decodes_or_fails_clearly(tmp_path: Path) -> None:
    whole = _encode_with_ffmpeg(tmp_path / "whole.opus", "libopus", seconds=14.0)
    cut = tmp_path / "cut.opus"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    try:
        audio = load_audio(cut, check=False)
    except SongError as err:
        assert str(cut) in str(err)
    else:
        assert 3.0 < audio.duration < 14.0
