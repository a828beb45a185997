"""`python -m songset.numba_warm`: run the offline backends once on a synthetic song, filling numba's cache.

Run by `songset.numba_cache.prepare()` in a child process, so a corrupt cache kills the child (SIGSEGV),
never the stage. Importing librosa loads its `guvectorize` kernels; running the default estimator and
annotator compiles (or loads) every `jit` kernel they call.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np


def synthetic_song(path: Path, sample_rate: int = 22050, seconds: float = 12.0) -> Path:
    """Clicks at 120 bpm over an A minor triad: enough for beats, chroma and segments to do real work."""
    import soundfile as sf

    t = np.arange(int(sample_rate * seconds)) / sample_rate
    tone = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 261.63, 329.63)) / 6
    clicks = np.zeros_like(t)
    for beat in np.arange(0, seconds, 0.5):
        start = int(beat * sample_rate)
        clicks[start : start + 400] += np.hanning(400) * 0.8
    sf.write(path, (tone + clicks).astype(np.float32), sample_rate)
    return path


def main() -> int:
    from songset.annotators.descriptor import DescriptorAnnotator
    from songset.audio import load_audio
    from songset.estimators.librosa_estimator import LibrosaEstimator

    with tempfile.TemporaryDirectory() as tmp:
        song = synthetic_song(Path(tmp) / "warm.wav")
        estimator = LibrosaEstimator()
        estimator.estimate(load_audio(song, estimator.sample_rate, check=False))
        DescriptorAnnotator().annotate(song)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
