"""Audio decoding with errors a person can act on: every failure names the file and what is wrong."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from songset.runner import SongError
from songset.schemas import DURATION_MAX_S, DURATION_MIN_S
from songset.storage import is_remote

# Decoded with FFmpeg (PyAV): libsndfile cannot read AAC/M4A/WebM, and decodes Opus at half the speed.
FFMPEG_SUFFIXES = frozenset({".opus", ".m4a", ".aac", ".webm"})


@dataclass(frozen=True)
class AudioInfo:
    duration: float
    sample_rate: int
    channels: int
    format: str


@dataclass(frozen=True)
class Audio:
    """Mono float32 samples at `sample_rate`, decoded once and shared by every estimator."""

    samples: np.ndarray
    sample_rate: int
    info: AudioInfo
    warnings: tuple[str, ...] = ()  # usable, but a person should know (clipping, NaN, low rate, ...)

    @property
    def duration(self) -> float:
        return len(self.samples) / self.sample_rate


def read_info(path: Path) -> AudioInfo:
    """Duration and layout from the file header, without decoding."""
    if not path.is_file():
        raise SongError(f"{path}: file not found")
    if path.stat().st_size == 0:
        raise SongError(f"{path}: file is empty (0 bytes)")
    if path.suffix.lower() in FFMPEG_SUFFIXES:
        return _ffmpeg_info(path)
    try:
        with _header_source(path) as source:
            info = sf.info(source)
    except Exception as exc:
        raise SongError(f"{path}: not a readable audio file ({_short(exc)})") from exc
    if info.samplerate <= 0 or info.frames <= 0:
        raise SongError(f"{path}: header reports no audio (frames={info.frames}, rate={info.samplerate})")
    return AudioInfo(
        duration=info.frames / info.samplerate,
        sample_rate=int(info.samplerate),
        channels=int(info.channels),
        format=f"{info.format}/{info.subtype}",
    )


@contextlib.contextmanager
def _header_source(path: Path) -> Iterator[Any]:
    """What a decoder opens to read a header: the file name, or for an fsspec URL an open object stream
    (only the header's blocks are fetched; the driver never downloads whole songs)."""
    if not is_remote(path):
        yield str(path)
        return
    with path.open("rb") as stream:
        yield stream


def check_duration(path: Path, duration: float) -> None:
    if duration < DURATION_MIN_S:
        raise SongError(f"{path}: {duration:.1f} s is shorter than ACE-Step's {DURATION_MIN_S:.0f} s minimum")
    if duration > DURATION_MAX_S:
        raise SongError(f"{path}: {duration:.1f} s is longer than ACE-Step's {DURATION_MAX_S:.0f} s maximum")


def load_audio(path: Path, sample_rate: int = 22050, *, check: bool = True) -> Audio:
    """Decode to mono at `sample_rate`; rejects empty, corrupt, silent, too short or too long files."""
    info = read_info(path)
    if check:
        check_duration(path, info.duration)
    try:
        if path.suffix.lower() in FFMPEG_SUFFIXES:
            data, sr = _ffmpeg_read(path)
        else:
            data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except SongError:
        raise
    except Exception as exc:
        raise SongError(f"{path}: decoding failed ({_short(exc)})") from exc
    if data.size == 0:
        raise SongError(f"{path}: decoded to no samples (truncated file?)")
    warnings = _quality_warnings(path, data, info)
    # a matrix-vector product: numpy's mean over a 2-wide axis is ~10x slower on long files
    mono = data @ np.full(data.shape[1], 1.0 / data.shape[1], dtype=np.float32)
    bad = ~np.isfinite(mono)
    if bad.all():
        raise SongError(f"{path}: every sample is NaN or infinite")
    if bad.any():
        warnings.append(f"{path}: {int(bad.sum())} NaN or infinite samples replaced by silence")
        mono = np.where(bad, 0.0, mono).astype(np.float32)
    if sr != sample_rate:
        import librosa

        mono = librosa.resample(mono, orig_sr=sr, target_sr=sample_rate, res_type="soxr_hq")
    decoded = len(mono) / sample_rate
    if check:
        check_duration(path, decoded)
        peak = float(np.max(np.abs(mono)))
        if peak < 1e-4:  # -80 dBFS
            raise SongError(f"{path}: silent (peak {20 * np.log10(max(peak, 1e-12)):.0f} dBFS)")
    return Audio(
        samples=np.ascontiguousarray(mono, dtype=np.float32),
        sample_rate=sample_rate,
        info=info,
        warnings=tuple(warnings),
    )


def _ffmpeg_info(path: Path) -> AudioInfo:
    import av

    try:
        with _header_source(path) as source, av.open(source) as container:
            if not container.streams.audio:
                raise SongError(f"{path}: no audio stream in the file")
            stream = container.streams.audio[0]
            rate = int(stream.codec_context.sample_rate or 0)
            channels = int(stream.codec_context.channels or 0)
            if stream.duration is not None and stream.time_base is not None:
                duration = float(stream.duration * stream.time_base)
            else:
                duration = (container.duration or 0) / 1_000_000  # av.time_base units
            fmt = f"{container.format.name}/{stream.codec_context.name}"
    except SongError:
        raise
    except Exception as exc:
        raise SongError(f"{path}: not a readable audio file ({_short(exc)})") from exc
    if rate <= 0 or duration <= 0:
        raise SongError(f"{path}: header reports no audio (duration={duration:.2f} s, rate={rate})")
    return AudioInfo(duration=duration, sample_rate=rate, channels=channels, format=fmt)


def _ffmpeg_read(path: Path) -> tuple[np.ndarray, int]:
    """All frames of the first audio stream as (samples, channels) float32, at the stream's rate.

    Called only after `read_info`, which has already rejected files without an audio stream.
    """
    import av

    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        rate = int(stream.codec_context.sample_rate)
        # planar float32 whatever the codec emits (s16, flt, fltp ...), same rate and layout
        to_float = av.AudioResampler(format="fltp", layout=stream.codec_context.layout, rate=rate)
        chunks = [out.to_ndarray() for frame in container.decode(stream) for out in to_float.resample(frame)]
        chunks += [out.to_ndarray() for out in to_float.resample(None)]
    if not chunks:
        return np.zeros((0, 1), dtype=np.float32), rate
    return np.concatenate(chunks, axis=1).T, rate


def _quality_warnings(path: Path, data: np.ndarray, info: AudioInfo) -> list[str]:
    warnings = []
    with np.errstate(invalid="ignore"):
        clipped = np.count_nonzero(np.abs(data) >= 0.999) / data.size  # NaN compares False
    if clipped > 0.001:
        warnings.append(f"{path}: {clipped:.1%} of samples are clipped (at full scale)")
    if info.sample_rate < 16000:
        warnings.append(
            f"{path}: sample rate {info.sample_rate} Hz; nothing above {info.sample_rate / 2000:.1f} kHz is there"
        )
    if info.channels > 2:
        warnings.append(f"{path}: {info.channels} channels mixed down to mono")
    return warnings


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]
