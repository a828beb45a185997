"""Tiny real audio files of each container, for tag tests: a second of sine, encoded, then tagged."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

SR = 44100


def sine(seconds: float = 1.0, sr: int = SR) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)


def write_audio(path: Path, seconds: float = 1.0) -> Path:
    """MP3, FLAC, Ogg Vorbis and Opus through libsndfile; M4A (AAC) through PyAV (FFmpeg)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix.lower()
    if suffix == ".m4a":
        import av

        with av.open(str(path), "w", format="mp4") as container:
            stream = container.add_stream("aac", rate=SR)
            stream.layout = "mono"
            frame = av.AudioFrame.from_ndarray(sine(seconds)[None, :], format="fltp", layout="mono")
            frame.sample_rate = SR
            for packet in stream.encode(frame):
                container.mux(packet)
            for packet in stream.encode(None):
                container.mux(packet)
        return path
    formats = {
        ".mp3": ("MP3", None),
        ".flac": ("FLAC", None),
        ".ogg": ("OGG", "VORBIS"),
        ".opus": ("OGG", "OPUS"),
    }
    fmt, subtype = formats[suffix]
    sr = 48000 if suffix == ".opus" else SR
    sf.write(str(path), sine(seconds, sr), sr, format=fmt, subtype=subtype)
    return path
