"""estimator=beat_this: the user's Beat This! checkpoint, loaded from a local path, never downloaded.

The real BeatThis model class and Beat This!'s own peak picking run here: a tiny random checkpoint, saved
in the Lightning layout the published checkpoints use, goes through the real loading code; a stand-in
module that reads onsets off the spectrogram shows that the front end, the chunking and the beat-to-tempo
arithmetic give the tempo of a metronome (a random model gives no beats worth checking).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("beat_this.model.beat_tracker")
import torch
from conftest import PROJECT_ROOT, write_tone
from support.beat_this_tiny import TINY, save_checkpoint

from songset.audio import Audio, AudioInfo
from songset.config import compose, instantiate
from songset.estimators.base import estimate_song
from songset.estimators.beat_this_estimator import (
    FPS,
    HOP,
    N_MELS,
    SAMPLE_RATE,
    BeatThisEstimator,
    chunk_starts,
    log_mel,
    meter_from_beats,
    predict_frames,
    tempo_from_beats,
)
from songset.runner import SongJob
from songset.stages.base import AudioInputs


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_checkpoint(tmp_path_factory.mktemp("beat_this") / "tiny.ckpt")


def metronome(bpm: float, seconds: float, accent_every: int = 4) -> Audio:
    """Noise clicks on every beat, a low sine thump on every `accent_every`-th."""
    rng = np.random.default_rng(0)
    track = np.zeros(int(seconds * SAMPLE_RATE), dtype=np.float32)
    t = np.arange(int(0.05 * SAMPLE_RATE)) / SAMPLE_RATE
    for i in range(int(seconds * bpm / 60)):
        at = round(i * 60 / bpm * SAMPLE_RATE)
        sound = 0.5 * rng.standard_normal(len(t)) * np.exp(-t * 80)
        if i % accent_every == 0:
            sound = sound + np.sin(2 * np.pi * 60 * t) * np.exp(-t * 12)
        n = min(len(sound), len(track) - at)
        track[at : at + n] += sound[:n]
    info = AudioInfo(duration=seconds, sample_rate=SAMPLE_RATE, channels=1, format="synthetic")
    return Audio(samples=0.5 * track / np.abs(track).max(), sample_rate=SAMPLE_RATE, info=info)


class OnsetStandIn(torch.nn.Module):
    """Beat logits from spectral flux: a model that hears clicks, in place of trained weights."""

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        flux = torch.nn.functional.pad(torch.relu(x[:, 1:] - x[:, :-1]), (0, 0, 1, 0)).sum(-1)
        beat = 20 * (flux / flux.max() - 0.25)
        return {"beat": beat, "downbeat": torch.full_like(beat, -10.0)}


# ---- beats -> tempo and meter (pure) -------------------------------------------------------------------


def grid(bpm: float, n: int, jitter_s: float = 0.0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.arange(n) * 60.0 / bpm + 1.0 + rng.uniform(-jitter_s, jitter_s, n)


@pytest.mark.parametrize("bpm", [62.0, 120.0, 174.0])
def test_steady_beats_give_their_tempo_with_full_confidence(bpm: float) -> None:
    """Beats on Beat This!'s 20 ms grid still give the tempo to 0.5 bpm."""
    beats = np.round(grid(bpm, 64) * FPS) / FPS
    tempo = tempo_from_beats(beats)
    assert tempo.bpm is not None and abs(tempo.bpm - bpm) < 0.5
    assert tempo.confidence == 1.0 and tempo.n_beats == 64


def test_a_few_lost_beats_lower_confidence_but_not_the_tempo() -> None:
    beats = np.delete(grid(100.0, 60), [10, 25, 40])  # three gaps of two beats
    tempo = tempo_from_beats(beats)
    assert tempo.bpm is not None and abs(tempo.bpm - 100.0) < 0.1
    assert tempo.confidence == pytest.approx(53 / 56)


def test_irregular_beats_get_low_confidence() -> None:
    beats = np.cumsum(np.random.default_rng(1).uniform(0.3, 0.9, 40))
    assert tempo_from_beats(beats).confidence < 0.3


def test_too_few_beats_or_an_impossible_tempo_give_no_bpm() -> None:
    assert tempo_from_beats(grid(120.0, 7), min_beats=8).bpm is None
    assert tempo_from_beats(grid(120.0, 8), min_beats=8).bpm == 120.0
    assert tempo_from_beats(grid(400.0, 40)).bpm is None  # beyond the sidecar's bpm range
    halves = np.cumsum([0.0] + [0.3, 1.0] * 10)  # 20 intervals: the median falls between the two kinds
    assert tempo_from_beats(halves).bpm is None and tempo_from_beats(halves).confidence == 0.0


def bars(beats_per_bar: list[int], bpm: float = 120.0) -> tuple[np.ndarray, np.ndarray]:
    beats, downbeats, t = [], [], 0.0
    for size in beats_per_bar:
        downbeats.append(t)
        for _ in range(size):
            beats.append(t)
            t += 60.0 / bpm
    downbeats.append(t)
    beats.append(t)
    return np.array(beats), np.array(downbeats)


def test_three_beats_a_bar_is_three_and_two_or_four_are_common_time() -> None:
    waltz = meter_from_beats(*bars([3] * 8))
    assert (waltz.timesignature, waltz.confidence, waltz.is_default) == ("3", 1.0, False)
    assert meter_from_beats(*bars([4] * 8)).timesignature == "4"
    assert meter_from_beats(*bars([2] * 8)).timesignature == "4"
    mixed = meter_from_beats(*bars([4, 4, 4, 2, 4, 4, 3, 4]))  # a 2/4 bar counts with 4/4, a 3 against
    assert mixed.timesignature == "4" and mixed.confidence == pytest.approx(7 / 8)


def test_too_few_bars_or_odd_counts_are_a_flagged_default() -> None:
    short = meter_from_beats(*bars([3, 3, 3]))
    assert (short.timesignature, short.confidence, short.is_default) == ("4", 0.0, True)
    odd = meter_from_beats(*bars([5] * 8))
    assert (odd.timesignature, odd.confidence, odd.is_default) == ("4", 0.0, True)


# ---- front end and chunking ----------------------------------------------------------------------------


def test_log_mel_has_beat_this_frame_rate_and_puts_a_tone_in_its_band() -> None:
    import librosa

    seconds = 3.0
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    spect = log_mel(np.sin(2 * np.pi * 1000.0 * t).astype(np.float32))
    assert spect.shape == (1 + len(t) // HOP, N_MELS) and FPS == 50
    centres = librosa.mel_frequencies(N_MELS + 2, fmin=30.0, fmax=11000.0)[1:-1]
    assert abs(int(spect[len(spect) // 2].argmax()) - int(np.abs(centres - 1000.0).argmin())) <= 1
    assert float(spect.min()) >= 0.0  # log1p of a magnitude


def test_log_mel_matches_torchaudio_as_beat_this_configures_it() -> None:
    """The reference was made once with torchaudio 2.11.1's own spectrogram and melscale_fbanks code
    (functional.py), called with Beat This! 1.1.0's LogMelSpect settings (normalized="frame_length",
    mel_scale="slaney", power 1, log1p(1000 x)), on this 1 s signal: a 50 -> 5050 Hz chirp plus an A3.
    torchaudio itself cannot be imported beside torch 2.13, so the figures are kept as data."""
    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    chirp = 0.3 * np.sin(2 * np.pi * (50 * t + 2500 * t**2)) + 0.2 * np.sin(2 * np.pi * 220 * t)
    reference = np.load(Path(__file__).parents[1] / "data" / "beat_this_log_mel_reference.npz")["log_mel"]
    ours = log_mel(chirp.astype(np.float32)).numpy()
    assert ours.shape == reference.shape == (51, N_MELS)
    assert float(np.abs(ours - reference).max()) < 1e-3  # float32 rounding; a scale error moves it by ~0.5


@pytest.mark.parametrize("n_frames", [50, 1487, 1488, 1500, 1501, 4000])
def test_chunks_cover_every_frame_once_and_match_one_pass(n_frames: int) -> None:
    """A model that only looks at each frame gives the same frames chunked as in one pass."""

    class PerFrame(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
            return {"beat": x[..., 0] * 2.0, "downbeat": x[..., 1] - 1.0}

    spect = torch.randn(n_frames, N_MELS)
    beat, downbeat = predict_frames(spect, PerFrame(), 1500, 6)
    assert torch.equal(beat, spect[:, 0] * 2.0) and torch.equal(downbeat, spect[:, 1] - 1.0)
    starts = chunk_starts(n_frames, 1500, 6)
    assert starts[0] == -6 and (len(starts) == 1 or starts[-1] + 1500 == n_frames + 6)


@pytest.mark.parametrize("bpm", [92.0, 174.0])
def test_a_metronome_reads_at_its_tempo_through_the_whole_path(bpm: float, checkpoint: Path) -> None:
    """Audio -> log-mel -> 30 s chunks -> Beat This!'s peak picking -> bpm, on a 50 s metronome."""
    estimator = BeatThisEstimator(checkpoint=str(checkpoint))
    estimator.model = OnsetStandIn()
    est = estimator.estimate(metronome(bpm, 50.0))
    assert est.bpm is not None and abs(est.bpm - bpm) / bpm < 0.02
    assert est.bpm_confidence > 0.9
    assert est.details["beats"] == pytest.approx(50 * bpm / 60, abs=2)
    assert est.timesignature == "4" and est.timesignature_confidence == 0.0  # no downbeats: a default
    assert any("default" in w for w in est.warnings)


# ---- loading: local file only, clear errors, identity ----------------------------------------------------


def test_the_checkpoint_loads_through_config_and_is_recorded_by_sha256(
    checkpoint: Path, tmp_path: Path
) -> None:
    import hashlib

    cfg = compose(
        ["estimator=beat_this", f"estimator.checkpoint={checkpoint}"], config_dir=PROJECT_ROOT / "conf"
    )
    estimator = instantiate(cfg.estimator)
    assert isinstance(estimator, BeatThisEstimator)
    ident = estimator.identity()
    assert ident.model_id == "tiny.ckpt"
    assert ident.model_revision == "sha256:" + hashlib.sha256(checkpoint.read_bytes()).hexdigest()
    assert "checkpoint" not in ident.settings  # a moved file with the same weights keeps its cache
    song = write_tone(tmp_path / "song.wav", 12.0)
    job = SongJob(id="song", file=song, key="k", inputs=AudioInputs(audio_sha256="0" * 64, duration=12.0))
    meta = estimate_song(job, estimator)
    assert meta.provenance.backend == "beat_this"
    assert meta.provenance.extra["backend_version"] == "1"
    assert 0.0 <= meta.bpm_confidence <= 1.0 and meta.timesignature in {"3", "4"}


def test_other_weights_are_another_cache_key(checkpoint: Path, tmp_path: Path) -> None:
    other = save_checkpoint(tmp_path / "tiny.ckpt", seed=1)
    a = BeatThisEstimator(checkpoint=str(checkpoint)).identity().key_parts()
    b = BeatThisEstimator(checkpoint=str(other)).identity().key_parts()
    assert a["model_id"] == b["model_id"] and a["model_revision"] != b["model_revision"]


def test_a_missing_checkpoint_is_named_and_never_fetched(tmp_path: Path) -> None:
    missing = tmp_path / "final0.ckpt"
    with pytest.raises(ValueError, match=r"final0\.ckpt: no such file .*never downloaded"):
        BeatThisEstimator(checkpoint=str(missing))
    with pytest.raises(ValueError, match="final0"):  # a published checkpoint's short name is not a path
        BeatThisEstimator(checkpoint="final0")


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"not a checkpoint", "not a readable torch checkpoint"),
        ({"weights": {}}, "not a Beat This! checkpoint"),
        ({"state_dict": {"model.nothing": torch.zeros(1)}, "hyper_parameters": TINY}, "weights do not fit"),
    ],
)
def test_a_wrong_file_is_named_with_its_problem(tmp_path: Path, content: Any, problem: str) -> None:
    path = tmp_path / "weights.ckpt"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        torch.save(content, path)
    with pytest.raises(ValueError, match=problem) as err:
        BeatThisEstimator(checkpoint=str(path))
    assert str(path) in str(err.value)


def test_the_checkpoint_is_required() -> None:
    with pytest.raises(ValueError, match="checkpoint"):
        BeatThisEstimator()
