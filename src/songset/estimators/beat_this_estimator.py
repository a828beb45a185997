"""estimator=beat_this: tempo and meter from Beat This! beats and downbeats, key from the librosa features.

Beat This! (Foscarin, Schlüter, Widmer, ISMIR 2024; https://github.com/CPJKU/beat_this) is a neural beat and
downbeat tracker trained on human beat annotations, so its beat level is the annotated one: it needs no
tempo prior to choose between half and double time, which is where the signal-processing estimator fails.
It is optional and never the default: the user brings a checkpoint file (`estimator.checkpoint`), and
nothing is downloaded. The checkpoint's sha256 is the identity, so a different checkpoint re-keys the cache.

Why the audio front end is written here: `beat_this.preprocessing` and `beat_this.inference` import
torchaudio, whose wheels pin a torch other than the 2.13 this project uses (and do not load with it). The
model (`beat_this.model.beat_tracker.BeatThis`) and its peak picking (`Postprocessor`) need only torch,
einops and rotary-embedding-torch, so those are used as they are; the log-mel spectrogram (Beat This!'s
settings: 22050 Hz, 1024-point STFT, hop 441 = 50 frames a second, 128 Slaney mel bands from 30 Hz to
11 kHz, magnitudes over sqrt(n_fft), log1p(1000 x)) is built from torch.stft and librosa's mel
filters, and long songs are cut into the model's 30 s training length with a border thrown away at each cut.
Install: `pip install -e '.[beat_this]'` and `pip install --no-deps beat-this==1.1.0` (its metadata asks for
torchaudio; `make install-hf` does both).
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field, field_validator

from songset.audio import Audio
from songset.backend import BackendIdentity
from songset.estimators.base import Estimates, Estimator
from songset.io import sha256_file
from songset.schemas import BPM_MAX, BPM_MIN
from songset.settings import BackendSettings, Configured, identity_slot
from songset.theory import DEFAULT_PROFILE, profile_parts

# 1: first version
BACKEND_VERSION = "1"
LIBRARIES = ("songset", "numpy", "torch", "beat_this", "librosa", "soundfile")

# Beat This!'s input: what its checkpoints were trained on (beat_this/preprocessing.py, LogMelSpect).
SAMPLE_RATE = 22050
N_FFT = 1024
HOP = 441
FPS = SAMPLE_RATE // HOP  # 50 frames a second
N_MELS = 128
F_MIN = 30.0
F_MAX = 11000.0
LOG_MULTIPLIER = 1000.0

# A beat interval within this share of the median counts as steady: a beat-tracker's beats sit on a 20 ms
# frame grid, which alone moves an interval by up to 4% at 120 bpm.
STEADY_TOLERANCE = 0.08
BAR_SIZES = {2: "4", 3: "3", 4: "4"}  # beats between downbeats -> ACE-Step timesignature (2/4 reads as 4)


class BeatThisSettings(BackendSettings):
    """estimator=beat_this: the checkpoint is the user's file; nothing is downloaded."""

    checkpoint: str = identity_slot(
        description="local path of a Beat This! checkpoint (.ckpt); recorded by its sha256, never downloaded"
    )
    device: str = Field("cpu", description="torch device for the model (cpu, cuda, cuda:1)")
    chunk_frames: int = Field(1500, ge=100, description="frames per model call: the 30 s it was trained on")
    border_frames: int = Field(6, ge=0, description="frames dropped at each cut between chunks")
    min_beats: int = Field(8, ge=2, description="fewer beats than this: no bpm")
    key_profile: str = Field(
        DEFAULT_PROFILE,
        description="krumhansl | temperley | albrecht_shanahan | edm, or several joined by +",
    )

    @field_validator("key_profile")
    @classmethod
    def _known_profile(cls, value: str) -> str:
        profile_parts(value)
        return value


@dataclass(frozen=True)
class BeatTempo:
    bpm: float | None
    confidence: float
    steady_share: float
    n_beats: int


@dataclass(frozen=True)
class BeatMeter:
    timesignature: str
    confidence: float
    bar_counts: dict[int, int]
    is_default: bool


def tempo_from_beats(beats: np.ndarray, min_beats: int = 8) -> BeatTempo:
    """bpm from the steady beat intervals; confidence is the share of intervals that are steady.

    The median interval picks the beat period; the mean of the intervals near it refines it past the
    20 ms frame grid. A song that changes tempo or loses the beat has fewer steady intervals.
    """
    beats = np.asarray(beats, dtype=float)
    if len(beats) < max(min_beats, 2):
        return BeatTempo(None, 0.0, 0.0, len(beats))
    intervals = np.diff(beats)
    intervals = intervals[intervals > 0]
    if len(intervals) == 0:
        return BeatTempo(None, 0.0, 0.0, len(beats))
    median = float(np.median(intervals))
    steady = np.abs(intervals - median) <= STEADY_TOLERANCE * median
    share = float(steady.mean())
    if share == 0.0:  # an even count whose two middle intervals are far apart: no steady beat at all
        return BeatTempo(None, 0.0, 0.0, len(beats))
    bpm = 60.0 / float(intervals[steady].mean())
    if not BPM_MIN <= bpm <= BPM_MAX:
        return BeatTempo(None, 0.0, share, len(beats))
    return BeatTempo(round(bpm, 1), share, share, len(beats))


def meter_from_beats(beats: np.ndarray, downbeats: np.ndarray, min_bars: int = 4) -> BeatMeter:
    """Beats per bar counted between consecutive downbeats; the commonest count is the meter.

    2 and 4 beats a bar both read as "4", as the librosa estimator reports duple time: ACE-Step's
    prompts use "4" for common time. Too few bars, or an unusual count winning: "4", flagged default.
    """
    beats = np.asarray(beats, dtype=float)
    downbeats = np.asarray(downbeats, dtype=float)
    counts = Counter(
        int(np.count_nonzero((beats >= start - 1e-6) & (beats < end - 1e-6)))
        for start, end in itertools.pairwise(downbeats)
    )
    bars = sum(counts.values())
    if bars < min_bars:
        return BeatMeter("4", 0.0, dict(counts), True)
    size = counts.most_common(1)[0][0]
    if size not in BAR_SIZES:
        return BeatMeter("4", 0.0, dict(counts), True)
    same = sum(c for s, c in counts.items() if BAR_SIZES.get(s) == BAR_SIZES[size])
    return BeatMeter(BAR_SIZES[size], same / bars, dict(counts), False)


def log_mel(samples: np.ndarray) -> Any:
    """Beat This!'s input spectrogram, (frames, 128), from mono samples at 22050 Hz."""
    import librosa
    import torch

    x = torch.from_numpy(np.ascontiguousarray(samples, dtype=np.float32))
    window = torch.hann_window(N_FFT)
    # torchaudio's normalized="frame_length" is torch.stft's normalized=True: magnitudes over sqrt(n_fft)
    spec = torch.stft(
        x,
        N_FFT,
        hop_length=HOP,
        window=window,
        center=True,
        pad_mode="reflect",
        normalized=True,
        return_complex=True,
    ).abs()
    mel = librosa.filters.mel(
        sr=SAMPLE_RATE, n_fft=N_FFT, n_mels=N_MELS, fmin=F_MIN, fmax=F_MAX, htk=False, norm=None
    )
    return torch.log1p(LOG_MULTIPLIER * (torch.from_numpy(mel) @ spec)).T.contiguous()


def chunk_starts(n_frames: int, chunk: int, border: int) -> list[int]:
    """Start frames of the model calls: consecutive chunks overlap by two borders, so every frame is
    predicted away from a chunk's edge; the last chunk ends at the song's end (a short tail would be
    predicted with little context). A song shorter than one chunk is one call starting at -border."""
    step = chunk - 2 * border
    starts = list(range(-border, n_frames - border, step))
    if n_frames > step:
        starts[-1] = n_frames + border - chunk
    return starts


def predict_frames(spect: Any, model: Any, chunk: int, border: int) -> tuple[Any, Any]:
    """Beat and downbeat logits per frame for a whole song; earlier chunks win where chunks overlap."""
    import torch

    n = spect.shape[0]
    beat = torch.full((n,), -1000.0)
    downbeat = torch.full((n,), -1000.0)
    filled = torch.zeros(n, dtype=torch.bool)
    for start in chunk_starts(n, chunk, border):
        lo, hi = max(start, 0), min(start + chunk, n)
        piece = spect[lo:hi]
        pad_left, pad_right = lo - start, max(0, min(border, start + chunk - n))
        piece = torch.nn.functional.pad(piece, (0, 0, pad_left, pad_right))
        out = model(piece.unsqueeze(0))
        # frames of this call that are inside the song and away from the call's edges
        first, last = max(start + border, 0), min(start + chunk - border, n)
        keep = torch.arange(first, last)
        keep = keep[~filled[keep]]
        offset = keep - start
        beat[keep] = out["beat"][0][offset].float()
        downbeat[keep] = out["downbeat"][0][offset].float()
        filled[keep] = True
    return beat, downbeat


def load_beat_this(checkpoint: Path, device: str) -> Any:
    """The BeatThis model from a Lightning checkpoint: its hyper-parameters build it, its weights fill it."""
    import inspect

    import torch

    try:
        from beat_this.model.beat_tracker import BeatThis
    except ImportError as exc:
        raise ValueError(
            "estimator=beat_this needs the beat_this package: pip install -e '.[beat_this]' && "
            f"pip install --no-deps beat-this==1.1.0 ({exc})"
        ) from None
    if not checkpoint.is_file():
        raise ValueError(
            f"estimator.checkpoint={checkpoint}: no such file (Beat This! weights are never downloaded; "
            "give the path of a .ckpt you have)"
        )
    try:
        data = torch.load(checkpoint, map_location=device, weights_only=True)
    except Exception as exc:
        raise ValueError(
            f"estimator.checkpoint={checkpoint}: not a readable torch checkpoint ({exc})"
        ) from None
    if not isinstance(data, dict) or not {"state_dict", "hyper_parameters"} <= set(data):
        raise ValueError(
            f"estimator.checkpoint={checkpoint}: not a Beat This! checkpoint (it needs 'state_dict' and "
            "'hyper_parameters')"
        )
    accepted = set(inspect.signature(BeatThis).parameters)
    model = BeatThis(**{k: v for k, v in data["hyper_parameters"].items() if k in accepted})
    weights = {k.removeprefix("model."): v for k, v in data["state_dict"].items()}
    try:
        model.load_state_dict(weights)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise ValueError(
            f"estimator.checkpoint={checkpoint}: weights do not fit the model ({first})"
        ) from None
    return model.to(device).eval()


class BeatThisEstimator(Configured[BeatThisSettings], Estimator):
    """Neural beats and downbeats (the user's Beat This! checkpoint); key from the librosa features."""

    Settings = BeatThisSettings
    sample_rate = SAMPLE_RATE

    def setup(self) -> None:
        self.checkpoint = Path(self.settings.checkpoint).expanduser()
        self.model = load_beat_this(self.checkpoint, self.settings.device)
        self.checkpoint_sha256 = sha256_file(self.checkpoint)

    def identity(self) -> BackendIdentity:
        return BackendIdentity(
            backend="beat_this",
            version=BACKEND_VERSION,
            settings=self.settings.output_settings(),
            model_id=self.checkpoint.name,
            model_revision=f"sha256:{self.checkpoint_sha256}",
            libraries=LIBRARIES,
        )

    def beats(self, audio: Audio) -> tuple[np.ndarray, np.ndarray]:
        """Beat and downbeat times in seconds (Beat This!'s own peak picking)."""
        import torch
        from beat_this.model.postprocessor import Postprocessor

        s = self.settings
        spect = log_mel(audio.samples).to(s.device)
        with torch.inference_mode():
            beat, downbeat = predict_frames(spect, self.model, s.chunk_frames, s.border_frames)
        beats, downbeats = Postprocessor(type="minimal", fps=FPS)(beat.cpu(), downbeat.cpu())
        return np.asarray(beats, dtype=float), np.asarray(downbeats, dtype=float)

    def estimate(self, audio: Audio) -> Estimates:
        from songset.estimators.librosa_estimator import estimate_key, extract_features

        if audio.sample_rate != SAMPLE_RATE:
            raise ValueError(f"Beat This! needs {SAMPLE_RATE} Hz audio, got {audio.sample_rate} Hz")
        beats, downbeats = self.beats(audio)
        tempo = tempo_from_beats(beats, self.settings.min_beats)
        meter = meter_from_beats(beats, downbeats)
        key = estimate_key(extract_features(audio), self.settings.key_profile)
        warnings: list[str] = []
        if tempo.bpm is None:
            warnings.append(f"tempo: {tempo.n_beats} beats found; bpm left empty")
        if key.keyscale is None:
            warnings.append("key: no pitched content found; keyscale left empty")
        if meter.is_default:
            warnings.append("timesignature: '4' is a default, not a measurement (too few clear bars)")
        return Estimates(
            bpm=tempo.bpm,
            bpm_confidence=tempo.confidence,
            keyscale=key.keyscale,
            key_confidence=key.confidence,
            key_runner_up=key.runner_up,
            timesignature=meter.timesignature,
            timesignature_confidence=meter.confidence,
            warnings=warnings,
            details={
                "beats": len(beats),
                "downbeats": len(downbeats),
                "tempo_steady_share": round(tempo.steady_share, 4),
                "beats_per_bar": {str(k): v for k, v in sorted(meter.bar_counts.items())},
            },
        )
