"""Tempo, key and meter from librosa features that are computed once per song and shared.

`extract_features` does all the signal processing; `estimate_tempo`, `estimate_key` and
`estimate_meter` are pure functions of those features, so each can be tested and tuned on its own.
Every estimate carries a 0-1 confidence: the sidecar stage leaves out values below its thresholds,
because ACE-Step learns from a wrong bpm/key/meter but simply ignores a missing one.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydantic import Field, field_validator
from scipy import ndimage

from songset.audio import Audio
from songset.backend import BackendIdentity
from songset.estimators.base import Estimates, Estimator
from songset.schemas import BPM_MAX, BPM_MIN
from songset.settings import BackendSettings, Configured
from songset.theory import DEFAULT_PROFILE, key_correlations, key_index_name, profile_parts

# 2: meter source in details; 3: octave levels, 3rd partials; 4: x1/3..x3 levels, no C1;
# 5: beat evenness per onset band, in twos only, weighed 1.5-2.5; x3/2 penalty 1.0; lag 6 beyond lag 2
# counts as triple; combined key profile; 6: meter gated by the beat grid's steadiness, not the bpm's
# confidence; levels that change chord on most beats marked down; 7: bpm confidence lowered for drumless
# audio (percussive share); 8: bpm confidence scales with the chosen level's margin, an undecided
# half/double gets confidence 0 and is named in details
BACKEND_VERSION = "8"
LIBRARIES = ("songset", "numpy", "scipy", "librosa", "soundfile")

N_FFT = 2048
TEMPOGRAM_WIN = 384  # onset frames (~8.9 s at 512/22050); lags up to 3/4 of it are used
COMB_BEATS = 8  # a tempo is supported by onset periodicity at 1..8 beats (two 4/4 bars)
SUPPORT_WEIGHT = 3.0  # see tempo_score
BPM_GRID_STEP = 0.002  # octaves (~0.14 %), fine enough to round to 0.1 bpm
RELATIVES = {"x2": 2.0, "x1/2": 0.5, "x3/2": 1.5, "x2/3": 2 / 3, "x3": 3.0, "x1/3": 1 / 3}
CHROMA_OCTAVES = 7
CHROMA_BINS_PER_OCTAVE = 36
BASS_MAX_HZ = 200.0
LEVEL_MAX_HZ = 2500.0  # onsets below this (kick, snare body, bass, chords; not hi-hats) mark the beat level
# The tempo prior (log-normal, centre and width in octaves) weighs the beat levels with their evidence.
# Swept on the dev set's tuning half, synthetic seed 0 and acestep-generated (bench/tune_tempo.py):
# widening or raising it (110 BPM / 1 octave) lifts the rendered folk tunes from 67% to 77% Acc1 but
# drops acestep-generated from 94% to 53% (its electronic songs are then read at double time); no
# setting beats this one over the three sets together (71 of 89 right), so it stays: the prior only
# trades one kind of music for another, the octave evidence itself has to improve.
TEMPO_PRIOR_BPM = 90.0
TEMPO_PRIOR_OCTAVES = 0.6
PERIOD_PRIOR_OCTAVES = 1.0  # the period search's prior is broad: it only has to find the pulse family
LEVEL_WEIGHT = 0.75  # log-score weight of `metrical_level_evidence` against the prior and support
EVENNESS_WEIGHT = 1.5  # within that evidence, log evenness against log subdivision (1.0) ...
SPARSE_EVENNESS_WEIGHT = 1.0  # ... plus this much more as the points between beats fall silent
# Levels weighed as the beat, as ratios to the found pulse, with a log-score penalty: octaves are the
# usual confusion; x3/2 and x2/3 need clearer evidence, x2/3 most (it reads a bar of three or dotted
# beats as the beat); fast 3/4 songs often give a pulse of two thirds of their beat, so x3/2 less.
LEVEL_RATIOS = {1 / 3: 0.5, 1 / 2: 0.0, 2 / 3: 1.5, 1.0: 0.0, 3 / 2: 1.0, 2.0: 0.0, 3.0: 0.5}
THIRD_PARTIAL_WEIGHT = 0.5  # see `suppress_third_partials`
# A new chord moves a beat's chroma by 0.2-0.7 (1 - cosine, `_harmonic_change`), other notes of the same
# chord by under 0.1. A level whose median beat moves it by more than the floor changes chord on most of
# its beats: it is more likely a bar or half bar than the beat (chords rarely change on every beat).
# Goto & Muraoka (1999), "Real-time beat tracking for drumless audio signals: chord change detection
# for musical decisions", Speech Communication 27(3-4), use chord changes in the same way.
CHORD_CHANGE_FLOOR = 0.15
CHORD_CHANGE_WEIGHT = 1.0  # log-score penalty per floor's worth of median change above the floor
# Without drums nothing marks the beat level as a backbeat or a kick does: which level of an even
# arpeggio is "the beat" is a convention its onsets cannot settle, and no evidence above separates the
# right readings from the octave errors there. So the bpm confidence itself falls with the share of
# percussive energy (`Features.percussive_share`): from DRUMMED_SHARE down, linearly, to
# DRUMLESS_CONFIDENCE_FACTOR times its value at DRUMLESS_SHARE. Measured shares: drummed synthetic songs
# 0.31-0.53, drumless ones 0.16-0.31, acestep-generated 0.25-0.46 (0.25-0.29 for acoustic songs without a kit).
DRUMLESS_SHARE = 0.25
DRUMMED_SHARE = 0.32
DRUMLESS_CONFIDENCE_FACTOR = 0.5
# The bpm is only as sure as the beat level's win: its confidence scales with the log-score margin over
# the next level, reaching full at LEVEL_MARGIN (bench/tune_tempo.py: larger margins cut right bpm
# from acestep-generated's sidecars, 82% -> 65% at 0.5, without removing a wrong one).
# Below UNDECIDED_SHARE of it, with a half, double, third or triple as the runner-up, the octave is called
# undecided: the details name both readings and the bpm confidence goes to 0 (left out of the sidecar).
LEVEL_MARGIN = 0.25
UNDECIDED_SHARE = 0.5
OCTAVE_RELATIVES = (2.0, 0.5, 3.0, 1 / 3)


# ---- features ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Features:
    """Everything the three estimators need, computed in one pass over the audio."""

    sample_rate: int
    hop_length: int
    duration: float
    onset_envelope: np.ndarray  # (frames,) spectral flux over all bands
    bass_onset_envelope: np.ndarray  # (frames,) flux below ~200 Hz: kick and bass mark downbeats
    level_onset_envelope: np.ndarray  # (frames,) flux below LEVEL_MAX_HZ: which pulse level is the beat
    level_band_envelopes: np.ndarray  # (2, frames) the same flux below BASS_MAX_HZ and above it
    tempogram: np.ndarray  # (TEMPOGRAM_WIN, frames) local autocorrelation, unnormalised
    autocorrelation: np.ndarray  # (TEMPOGRAM_WIN,) global, corrected for the window's taper, lag 0 = 1
    chroma_hop_length: int
    chroma: np.ndarray  # (12, chroma frames): harmonic part, 3rd partials removed, tuning-corrected, linear
    tuning: float  # deviation from A440 in semitones (-0.5..0.5)
    percussive_share: float  # of the CQT magnitude, the share HPSS gives to percussion (drums)

    @property
    def frame_rate(self) -> float:
        return self.sample_rate / self.hop_length


def chroma_hop(hop_length: int) -> int:
    """Key and harmony need ~0.1 s frames, not onset resolution; the CQT needs a multiple of 64."""
    return 64 * max(1, round(4 * hop_length / 64))


def extract_features(audio: Audio, hop_length: int = 512) -> Features:
    """One STFT for onsets and tuning, one CQT (separated into harmonic/percussive) for chroma."""
    import librosa

    y = np.ascontiguousarray(audio.samples, dtype=np.float32)
    sr = audio.sample_rate
    mag = np.abs(librosa.stft(y, n_fft=N_FFT, hop_length=hop_length))
    mel_db = librosa.power_to_db(librosa.feature.melspectrogram(S=mag**2, sr=sr, n_mels=128))
    onset = librosa.onset.onset_strength(S=mel_db, sr=sr, hop_length=hop_length)
    mel_hz = librosa.mel_frequencies(n_mels=128, fmax=sr / 2)
    n_bass = max(2, int(np.searchsorted(mel_hz, BASS_MAX_HZ)))
    bass = librosa.onset.onset_strength(S=mel_db[:n_bass], sr=sr, hop_length=hop_length)
    # Beat-level evidence compares onset sizes, so it needs a gentler compression than dB (in which
    # any onset out of a quiet moment looks as big as a downbeat): log(1 + 100 x power / song peak).
    n_level = max(n_bass, int(np.searchsorted(mel_hz, LEVEL_MAX_HZ)))
    mel_power = librosa.db_to_power(mel_db[:n_level])
    level_spec = np.log1p(100.0 * mel_power / max(float(mel_power.max()), 1e-20))
    # Per band (below and above BASS_MAX_HZ), so a beat can be found by its kick or by its snare;
    # onset_strength averages over bins, so the weighted band mean is the whole band's flux.
    level_bands = np.stack(
        [
            librosa.onset.onset_strength(S=level_spec[:n_bass], sr=sr, hop_length=hop_length),
            librosa.onset.onset_strength(S=level_spec[n_bass:], sr=sr, hop_length=hop_length),
        ]
    )
    level = (n_bass * level_bands[0] + (n_level - n_bass) * level_bands[1]) / n_level

    # A plain autocorrelation of a positive envelope sits on a sloping baseline; remove the local
    # mean first so peaks mean periodicity, then undo the Hann window's taper so long lags count.
    trend_frames = max(3, round(sr / hop_length))  # 1 s
    detrended = onset - ndimage.uniform_filter1d(onset, trend_frames, mode="nearest")
    tempogram = librosa.feature.tempogram(
        onset_envelope=detrended, sr=sr, hop_length=hop_length, win_length=TEMPOGRAM_WIN, norm=None
    )
    taper = _hann_taper(TEMPOGRAM_WIN)
    ac = tempogram.mean(axis=1) / np.maximum(taper, 1e-3 * taper[0])
    ac = ac / ac[0] if ac[0] > 0 else np.zeros_like(ac)

    # Tuning from a quarter of the STFT frames (piptrack is the slow part; tuning does not drift).
    tuning = float(librosa.estimate_tuning(S=mag[:, ::4], sr=sr, n_fft=N_FFT)) if mag.any() else 0.0
    c_hop = chroma_hop(hop_length)
    cqt = np.abs(
        librosa.cqt(
            y,
            sr=sr,
            hop_length=c_hop,
            fmin=librosa.note_to_hz("C1"),
            n_bins=CHROMA_OCTAVES * CHROMA_BINS_PER_OCTAVE,
            bins_per_octave=CHROMA_BINS_PER_OCTAVE,
            tuning=tuning,
        )
    )
    harmonic_cqt = harmonic_part(cqt)
    total = float(cqt.sum())
    percussive_share = 1.0 - float(harmonic_cqt.sum()) / total if total > 0 else 0.0
    harmonic = suppress_third_partials(harmonic_cqt, CHROMA_BINS_PER_OCTAVE)
    # The lowest octave (C1-B1) only feeds the 3rd-partial removal above it: below 65 Hz sit kick-drum
    # tails (often tuned, and sustained enough to pass as harmonic) more than bass notes.
    chroma = librosa.feature.chroma_cqt(
        C=harmonic[CHROMA_BINS_PER_OCTAVE:],
        n_octaves=CHROMA_OCTAVES - 1,
        bins_per_octave=CHROMA_BINS_PER_OCTAVE,
        norm=None,
    )
    return Features(
        sample_rate=sr,
        hop_length=hop_length,
        duration=len(y) / sr,
        onset_envelope=onset.astype(np.float64),
        bass_onset_envelope=bass.astype(np.float64),
        level_onset_envelope=level.astype(np.float64),
        level_band_envelopes=level_bands.astype(np.float64),
        tempogram=tempogram,
        autocorrelation=ac,
        chroma_hop_length=c_hop,
        chroma=chroma.astype(np.float64),
        tuning=tuning,
        percussive_share=percussive_share,
    )


def _hann_taper(n: int) -> np.ndarray:
    """How much a Hann-windowed autocorrelation shrinks with lag (periodic Hann, as librosa's tempogram)."""
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n)
    return np.correlate(window, window, mode="full")[n - 1 :]


def harmonic_part(spec: np.ndarray, time_kernel: int = 9, freq_kernel: int = 15) -> np.ndarray:
    """Median-filter HPSS (Fitzgerald 2010) with a soft mask, as librosa.decompose.hpss computes it.

    Run on the CQT rather than the STFT (7x fewer bins, 4x fewer frames) and done here because
    importing librosa.decompose pulls in scikit-learn and pandas (~1 s per process).
    """
    harmonic = ndimage.median_filter(spec, size=(1, time_kernel), mode="reflect")
    percussive = ndimage.median_filter(spec, size=(freq_kernel, 1), mode="reflect")
    h2, p2 = harmonic**2, percussive**2
    total = h2 + p2
    mask = np.divide(h2, total, out=np.full_like(total, 0.5), where=total > np.finfo(total.dtype).tiny)
    return spec * mask


def suppress_third_partials(
    spec: np.ndarray, bins_per_octave: int, weight: float = THIRD_PARTIAL_WEIGHT
) -> np.ndarray:
    """Take from each CQT bin `weight` x the bin an octave and a fifth below (whose 3rd partial it is).

    Every harmonic tone puts energy on the fifth above its root (the 3rd partial), so a plain chroma
    leans towards the dominant and profiles then read a major key a fifth too high. Octave partials
    need no correction: they land on the same pitch class.
    """
    shift = round(bins_per_octave * math.log2(3))
    out = spec.copy()
    out[shift:] -= weight * spec[:-shift]
    return np.maximum(out, 0.0)


# ---- tempo -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TempoCandidate:
    bpm: float
    support: float  # mean onset autocorrelation at 1..COMB_BEATS beat lags (~0 for noise, ~1 for a metronome)
    score: float  # support weighed by the tempo prior (`tempo_score`), relative to the winner's


@dataclass(frozen=True)
class LevelCandidate:
    """One metrical level (a multiple of the found pulse: x1/3 .. x3) weighed as the beat."""

    bpm: float
    support: float  # comb support at this period, as in TempoCandidate
    evenness: float  # weaker over stronger alternate beat positions (`_phase_evenness`): ~1 at the beat
    subdivision: float  # onsets between this level's beats (halves or thirds) / onsets on them
    score: float  # log score: prior + level evidence + support - penalties (`choose_metrical_level`)
    chord_change: float  # median chroma change from one of this level's beats to the next


@dataclass(frozen=True)
class TempoEstimate:
    bpm: float | None  # rounded to 0.1
    confidence: float
    runner_up_bpm: float | None
    candidates: tuple[TempoCandidate, ...] = ()  # periodicity peaks, best first
    relatives: dict[str, float] = field(default_factory=dict)  # support at x2, x1/2, x3/2 ... of the winner
    stability: float = 0.0  # share of local (~9 s) windows whose own best tempo agrees with the winner
    pulse_stability: float = 0.0  # ... whose best tempo is the winner's pulse or a level of it (x1/3 .. x3)
    pulse_confidence: float = 0.0  # confidence in the beat grid, whichever level of it is the beat
    levels: tuple[LevelCandidate, ...] = ()  # the metrical levels weighed, best first
    percussion_factor: float = 1.0  # the confidence's factor for a lack of drums (`percussion_factor()`)
    level_margin: float = 0.0  # log-score margin of the chosen level over the next (inf: no other level)
    undecided: tuple[float, float] | None = None  # (bpm, its half/double ...) when the audio cannot tell


def percussion_factor(percussive_share: float) -> float:
    """1 for drummed audio, down to DRUMLESS_CONFIDENCE_FACTOR for drumless: see DRUMLESS_SHARE."""
    ramp = (percussive_share - DRUMLESS_SHARE) / (DRUMMED_SHARE - DRUMLESS_SHARE)
    return DRUMLESS_CONFIDENCE_FACTOR + (1.0 - DRUMLESS_CONFIDENCE_FACTOR) * float(np.clip(ramp, 0.0, 1.0))


def tempo_prior(bpm: np.ndarray, centre_bpm: float, width_octaves: float) -> np.ndarray:
    """Log-normal prior: songs cluster around a tempo; it settles octave ties, it should not win alone."""
    return np.exp(-0.5 * (np.log2(bpm / centre_bpm) / width_octaves) ** 2)


def tempo_score(support: np.ndarray, prior: np.ndarray) -> np.ndarray:
    """exp(SUPPORT_WEIGHT * support) x prior: a clear difference in periodicity outweighs the prior.

    With a plain product the prior decides every close call, e.g. 6/8 read as 3/4 (x3/2) because
    the dotted-quarter beat is further from the prior's centre though better supported.
    """
    return np.exp(SUPPORT_WEIGHT * np.maximum(support, 0.0)) * prior


def _lag_frames(bpm: np.ndarray | float, frame_rate: float) -> np.ndarray:
    return 60.0 * frame_rate / np.asarray(bpm, dtype=np.float64)


def comb_support(ac: np.ndarray, lags: np.ndarray, beats: int = COMB_BEATS) -> np.ndarray:
    """Mean autocorrelation at 1..`beats` multiples of each (fractional) lag.

    Checking several multiples rejects the dotted (x4/3) and triplet (x3/2) periods that a single
    autocorrelation peak often prefers, and gives sub-frame tempo resolution.
    """
    max_lag = 0.75 * (ac.shape[0] - 1)  # the longest lags rest on too little overlap to trust
    index = np.arange(ac.shape[0])
    total = np.zeros(np.shape(lags))
    count = np.zeros(np.shape(lags))
    for k in range(1, beats + 1):
        lag = k * lags
        ok = lag <= max_lag
        total += np.where(ok, np.interp(np.minimum(lag, max_lag), index, ac), 0.0)
        count += ok
    return np.where(count > 0, total / np.maximum(count, 1), 0.0)


def _local_peaks(x: np.ndarray) -> np.ndarray:
    inner = np.flatnonzero((x[1:-1] > x[:-2]) & (x[1:-1] >= x[2:])) + 1
    return inner[np.argsort(-x[inner], kind="stable")]


def _near(a: float, b: float, tol: float = 0.04) -> bool:
    return abs(a - b) <= tol * b


@dataclass(frozen=True)
class BeatGrid:
    """Onset strength on each beat tracked at one tempo, and at the points between beats."""

    on: np.ndarray  # (beats - 1,)
    on_bands: np.ndarray  # (bands, beats - 1): the same per band of `level_band_envelopes`
    half: np.ndarray
    first_third: np.ndarray
    second_third: np.ndarray
    chord_change: float  # median `_harmonic_change` from beat to beat


def beat_grid(features: Features, bpm: float) -> BeatGrid | None:
    """Onsets below LEVEL_MAX_HZ around beats tracked at `bpm` and between them (None: too few beats).

    Low bands only: hi-hats on the offbeats (common in dance music) would make eighths look like beats.
    The beats are also read per band (`level_band_envelopes`) for `_phase_evenness`, and the chroma
    change from beat to beat is kept (CHORD_CHANGE_FLOOR).
    """
    envelope = features.level_onset_envelope
    beats = track_beats(features, bpm, envelope, tightness=400.0)  # hold this level, do not drift off it
    if len(beats) < 7 or not envelope.any():
        return None
    half_width = max(1, round(60.0 * features.frame_rate / bpm / 8))
    area = ndimage.uniform_filter1d(envelope, 2 * half_width + 1, mode="nearest")
    starts, ends = beats[:-1].astype(float), beats[1:].astype(float)

    def between(fraction: float) -> np.ndarray:
        index = np.round(starts + fraction * (ends - starts)).astype(int)
        return area[np.clip(index, 0, len(area) - 1)]

    bands = ndimage.uniform_filter1d(
        features.level_band_envelopes, 2 * half_width + 1, axis=1, mode="nearest"
    )
    chord_change = float(np.median(_harmonic_change(features, beats)[1:-1]))
    return BeatGrid(
        area[beats[:-1]],
        bands[:, beats[:-1]],
        between(0.5),
        between(1 / 3),
        between(2 / 3),
        chord_change,
    )


def _phase_evenness(strength: np.ndarray, group: int) -> float:
    """Weakest over strongest beat position when beats are grouped in `group`s, over onset bands.

    Each band's position medians are scaled to that band's strongest, and a position counts as strong
    as its strongest band: a backbeat's snare is weak below 200 Hz and its kick weak above, yet both
    are beats, while an offbeat eighth is weaker in every band.
    """
    medians = np.array([[np.median(band[phase::group]) for phase in range(group)] for band in strength])
    medians = medians / np.maximum(medians.max(axis=1, keepdims=True), 1e-12)
    per_position = medians.max(axis=0)
    return float(per_position.min() / max(float(per_position.max()), 1e-12))


def metrical_level_evidence(grid: BeatGrid) -> tuple[float, float, float]:
    """(evidence, evenness, subdivision) for one level; evidence = log(evenness^w / subdivision).

    At the beat, every tracked position carries a real beat (kick, snare, bass, chord): split into
    alternate positions, the weaker half stays near the stronger. The points between beats hold only
    lighter subdivisions. Twice the beat fails the first test (every other position is an offbeat),
    half the beat the second (its "subdivisions" are beats). Evenness weighs more than subdivision
    (w = EVENNESS_WEIGHT): at twice the beat the points between are nearly always empty, which alone
    would favour it. It weighs more still (up to SPARSE_EVENNESS_WEIGHT more) the emptier those
    points are: weak alternate positions with nothing between them are offbeats, while with busy
    points between they are as likely a groove's accents. Positions are not also split in threes:
    that mistakes a 3/4 bar's downbeat accent for offbeats (triple readings carry a LEVEL_RATIOS
    penalty instead). Ratios are capped at 1.5 and floored by 0.05 so that one silent grid or one huge
    accent cannot decide alone.
    """
    evenness = _phase_evenness(grid.on_bands, 2)
    on = max(float(np.median(grid.on)), 1e-12)
    thirds = min(float(np.median(grid.first_third)), float(np.median(grid.second_third)))
    subdivision = max(float(np.median(grid.half)), thirds) / on
    weight = EVENNESS_WEIGHT + SPARSE_EVENNESS_WEIGHT * (1.0 - min(subdivision, 1.0))
    evidence = weight * math.log(min(evenness, 1.5) + 0.05) - math.log(min(subdivision, 1.5) + 0.05)
    return evidence, evenness, subdivision


def choose_metrical_level(
    features: Features, period_bpm: float, prior_bpm: float, prior_octaves: float
) -> tuple[LevelCandidate, ...]:
    """Weigh x1/3 .. x3 of the found pulse as the beat (LEVEL_RATIOS); best first.

    A level that changes chord on most of its beats is marked down (CHORD_CHANGE_FLOOR): in a drumless
    arpeggio, bars are as even as beats and as empty between, and only the harmony tells them apart.
    """
    fr = features.frame_rate
    levels = []
    for ratio, penalty in LEVEL_RATIOS.items():
        bpm = period_bpm * ratio
        if not BPM_MIN <= bpm <= BPM_MAX:
            continue
        grid = beat_grid(features, bpm)
        if grid is None:
            continue
        evidence, evenness, subdivision = metrical_level_evidence(grid)
        support = float(comb_support(features.autocorrelation, _lag_frames(bpm, fr)))
        log_prior = math.log(float(tempo_prior(np.array(bpm), prior_bpm, prior_octaves)))
        chord_penalty = (
            CHORD_CHANGE_WEIGHT * max(0.0, grid.chord_change - CHORD_CHANGE_FLOOR) / CHORD_CHANGE_FLOOR
        )
        score = (
            log_prior + LEVEL_WEIGHT * evidence + SUPPORT_WEIGHT * max(support, 0.0) - penalty - chord_penalty
        )
        levels.append(LevelCandidate(bpm, support, evenness, subdivision, score, grid.chord_change))
    if not levels:  # too short to track beats at any level: keep the pulse itself
        support = float(comb_support(features.autocorrelation, _lag_frames(period_bpm, fr)))
        levels.append(LevelCandidate(period_bpm, support, 1.0, 1.0, 0.0, 0.0))
    return tuple(sorted(levels, key=lambda c: -c.score))


def estimate_tempo(
    features: Features,
    prior_bpm: float = TEMPO_PRIOR_BPM,
    prior_octaves: float = TEMPO_PRIOR_OCTAVES,
    n_candidates: int = 5,
    level_margin: float = LEVEL_MARGIN,
) -> TempoEstimate:
    """Tempo in two steps: the best-supported pulse period, then which of its multiples is the beat.

    Periodicity alone cannot tell a beat from its half, double or bar (all repeat); the second step
    weighs x1/3 .. x3 by how onsets fall on and between their beats, and by the prior.
    """
    ac = features.autocorrelation
    if not np.any(ac[1:]):
        return TempoEstimate(bpm=None, confidence=0.0, runner_up_bpm=None)
    fr = features.frame_rate
    grid = BPM_MIN * 2.0 ** np.arange(0.0, math.log2(BPM_MAX / BPM_MIN) + 1e-9, BPM_GRID_STEP)
    support = comb_support(ac, _lag_frames(grid, fr))
    prior = tempo_prior(grid, prior_bpm, max(prior_octaves, PERIOD_PRIOR_OCTAVES))
    score = tempo_score(support, prior)
    peaks = _local_peaks(score)
    if peaks.size == 0 or support[peaks[0]] <= 0:
        return TempoEstimate(bpm=None, confidence=0.0, runner_up_bpm=None)
    score = score / score[peaks[0]]

    best = int(peaks[0])
    period = _refine_peak(grid, score, best)
    candidates = tuple(
        TempoCandidate(bpm=round(float(grid[i]), 1), support=float(support[i]), score=float(score[i]))
        for i in peaks[:n_candidates]
    )
    levels = choose_metrical_level(features, period, prior_bpm, prior_octaves)
    bpm = levels[0].bpm
    # the best periodicity peak outside the weighed family (x4/3, x5/4 ...: another reading)
    family = [period * ratio for ratio in LEVEL_RATIOS]
    other = next((i for i in peaks[1:] if not any(_near(float(grid[i]), f) for f in family)), None)
    period_ambiguity = float(score[other]) if other is not None else 0.0
    margin = levels[0].score - levels[1].score if len(levels) > 1 else math.inf
    level_ambiguity = math.exp(-margin)
    if len(levels) > 1 and level_ambiguity >= period_ambiguity:
        runner_bpm: float | None = round(levels[1].bpm, 1)
    else:
        runner_bpm = round(float(grid[other]), 1) if other is not None else None
    relatives = {}
    for name, ratio in RELATIVES.items():
        target = bpm * ratio
        if BPM_MIN <= target <= BPM_MAX:
            window = np.abs(np.log2(grid / target)) <= 0.03  # +-2 %
            relatives[name] = float(support[window].max())

    stability, pulse_stability = _tempo_stability(features, period, bpm, grid, prior)
    strength = float(np.clip((levels[0].support - 0.05) / 0.4, 0.0, 1.0))
    drums = percussion_factor(features.percussive_share)
    level_factor, octave_undecided = level_confidence(levels, level_margin)
    undecided = (round(bpm, 1), round(levels[1].bpm, 1)) if octave_undecided else None
    confidence = strength * stability * (1.0 - 0.5 * period_ambiguity**2) * level_factor * drums
    pulse_confidence = strength * pulse_stability * (1.0 - 0.5 * period_ambiguity**2)
    return TempoEstimate(
        bpm=round(bpm, 1),
        confidence=float(np.clip(confidence, 0.0, 1.0)),
        runner_up_bpm=runner_bpm,
        candidates=candidates,
        relatives=relatives,
        stability=stability,
        pulse_stability=pulse_stability,
        pulse_confidence=float(np.clip(pulse_confidence, 0.0, 1.0)),
        levels=levels,
        percussion_factor=drums,
        level_margin=margin,
        undecided=undecided,
    )


def level_confidence(levels: tuple[LevelCandidate, ...], level_margin: float) -> tuple[float, bool]:
    """(factor on the bpm confidence, whether the octave is undecided) from the chosen level's margin.

    The factor rises linearly with the margin over the next level to 1 at `level_margin`. Below
    UNDECIDED_SHARE of that, a runner-up at half, double, a third or three times the bpm means the
    audio does not settle the octave: the factor is then 0, so the bpm is not written.
    """
    if len(levels) < 2:
        return 1.0, False
    margin = levels[0].score - levels[1].score
    factor = float(np.clip(margin / level_margin, 0.0, 1.0))
    octave = any(_near(levels[1].bpm, levels[0].bpm * r) for r in OCTAVE_RELATIVES)
    if factor < UNDECIDED_SHARE and octave:
        return 0.0, True
    return factor, False


def _refine_peak(grid: np.ndarray, score: np.ndarray, i: int) -> float:
    """Parabolic interpolation on the log-bpm grid."""
    if 0 < i < len(grid) - 1:
        a, b, c = score[i - 1], score[i], score[i + 1]
        denom = a - 2 * b + c
        if denom < 0:
            offset = float(np.clip(0.5 * (a - c) / denom, -0.5, 0.5))
            return float(grid[i] * 2.0 ** (offset * BPM_GRID_STEP))
    return float(grid[i])


def _tempo_stability(
    features: Features, period: float, beat: float, grid: np.ndarray, prior: np.ndarray
) -> tuple[float, float]:
    """Shares of local windows (every ~2 s) whose own best tempo is the global pulse `period`, and
    whose best is a level of the `beat` (LEVEL_RATIOS): both are low for rubato or noise; only the
    first also when windows hear different levels of one steady grid (fast 3/4 repeats at the bar)."""
    tg = features.tempogram
    step = max(1, round(2.0 * features.frame_rate))
    cols = tg[:, ::step]
    zero = cols[0]
    keep = zero > 0
    if not keep.any():
        return 0.0, 0.0
    taper = _hann_taper(tg.shape[0])
    local = cols[:, keep] / np.maximum(taper, 1e-3 * taper[0])[:, None]
    local = local / local[0]
    lags = _lag_frames(grid, features.frame_rate)
    agree = in_family = 0
    for col in local.T:
        best = float(grid[int(np.argmax(tempo_score(comb_support(col, lags), prior)))])
        agree += _near(best, period)
        in_family += any(_near(best, beat * ratio) for ratio in LEVEL_RATIOS)
    return agree / local.shape[1], in_family / local.shape[1]


# ---- key ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KeyEstimate:
    keyscale: str | None
    confidence: float
    runner_up: str | None
    scores: tuple[tuple[str, float], ...] = ()  # top three (key, correlation), best first


def song_chroma(features: Features) -> np.ndarray:
    """Whole-song pitch-class profile (magnitude summed over time, after the 3rd partials are removed)."""
    return np.maximum(features.chroma, 0.0).sum(axis=1)


def estimate_key(features: Features, profile: str = DEFAULT_PROFILE) -> KeyEstimate:
    """Best of 24 rotated key profiles; confidence from how clearly it beats the runner-up."""
    profile_parts(profile)  # a bad name fails even on silence, which returns before any correlation
    chroma = song_chroma(features)
    if not np.any(chroma > 0):
        return KeyEstimate(keyscale=None, confidence=0.0, runner_up=None)
    corr = key_correlations(chroma, profile)
    order = np.argsort(-corr, kind="stable")
    best, second = float(corr[order[0]]), float(corr[order[1]])
    # Two things must hold: the chroma looks tonal at all (noise and drums still correlate ~0.3-0.45
    # with some profile) and the winner stands clear of the runner-up (often the relative or parallel key).
    tonal = np.clip((best - 0.4) / 0.25, 0.0, 1.0)
    clear = np.clip((best - second) / 0.2, 0.0, 1.0)
    confidence = float(tonal * clear)
    return KeyEstimate(
        keyscale=key_index_name(int(order[0])),
        confidence=confidence,
        runner_up=key_index_name(int(order[1])),
        scores=tuple((key_index_name(int(i)), float(corr[i])) for i in order[:3]),
    )


# ---- meter -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MeterEstimate:
    timesignature: str
    confidence: float
    duple: float = 0.0  # accents repeating every 2 or 4 beats (-1..1)
    triple: float = 0.0  # accents repeating every 3 (and 6) beats (-1..1)
    ternary: float = 0.0  # >0 when beats divide in three (6/8), <0 when in two
    lag_correlations: dict[int, float] = field(default_factory=dict)  # accent autocorrelation per lag
    n_beats: int = 0
    is_default: bool = False


def track_beats(
    features: Features, bpm: float, envelope: np.ndarray | None = None, tightness: float = 100.0
) -> np.ndarray:
    """Beat frames following the estimated tempo (dynamic programming, librosa)."""
    import librosa

    _, beats = librosa.beat.beat_track(
        onset_envelope=features.onset_envelope if envelope is None else envelope,
        sr=features.sample_rate,
        hop_length=features.hop_length,
        bpm=bpm,
        tightness=tightness,
        units="frames",
    )
    return np.asarray(beats, dtype=int)


def _beat_accents(envelope: np.ndarray, beats: np.ndarray, half_width: int) -> np.ndarray:
    """Envelope area around each beat: a peak's height depends on where the onset falls between frames
    (which drifts with the beat period), its area hardly does; the window also absorbs tracking jitter."""
    area = ndimage.uniform_filter1d(envelope, 2 * half_width + 1, mode="nearest")
    return area[np.clip(beats, 0, len(envelope) - 1)]


def span_chroma(features: Features, beats: np.ndarray) -> np.ndarray:
    """(len(beats) - 1, 12): mean square-root chroma from each beat (onset frame) to the next.

    The square root keeps one loud note from standing for the whole span. An empty span takes the
    chroma frame it starts on.
    """
    frames = np.clip(
        np.round(beats * features.hop_length / features.chroma_hop_length).astype(int),
        0,
        features.chroma.shape[1],
    )
    chroma = np.sqrt(np.maximum(features.chroma, 0.0))
    segments = [
        chroma[:, a:b].mean(axis=1) if b > a else chroma[:, min(a, chroma.shape[1] - 1)]
        for a, b in itertools.pairwise(frames)
    ]
    return np.array(segments).reshape(-1, chroma.shape[0])


def _harmonic_change(features: Features, beats: np.ndarray) -> np.ndarray:
    """Chroma distance between consecutive beats: chords change on downbeats far more than elsewhere."""
    seg = span_chroma(features, beats)
    seg = seg / np.maximum(np.linalg.norm(seg, axis=1, keepdims=True), 1e-12)
    change = np.zeros(len(beats))
    change[1:-1] = 1.0 - np.sum(seg[1:] * seg[:-1], axis=1)  # change at beat i: segment i vs i-1
    change[0] = change[1] if len(change) > 2 else 0.0
    change[-1] = change[-2] if len(change) > 2 else 0.0
    return change


def _lag_correlation(x: np.ndarray, lag: int) -> float:
    if len(x) <= lag + 2:
        return 0.0
    a, b = x[:-lag], x[lag:]
    denom = math.sqrt(float(np.sum(a * a) * np.sum(b * b)))
    return float(np.sum(a * b) / denom) if denom > 0 else 0.0


def _normalise_accents(x: np.ndarray) -> np.ndarray:
    """Remove slow dynamics with a 12-beat mean (12 is a multiple of 2, 3, 4 and 6, so no bar leaks in)."""
    x = x - ndimage.uniform_filter1d(x, 12, mode="nearest")
    sd = float(x.std())
    return x / sd if sd > 0 else x


def _ternary_subdivision(envelope: np.ndarray, beats: np.ndarray, half_width: int) -> float:
    """Onset strength at 1/3, 2/3 of each beat against 1/2: positive means beats divide in three."""
    if len(beats) < 3:
        return 0.0
    envelope = ndimage.uniform_filter1d(envelope, 2 * half_width + 1, mode="nearest")
    starts, ends = beats[:-1].astype(float), beats[1:].astype(float)
    span = ends - starts

    def at(frac: float) -> float:
        idx = np.clip(np.round(starts + frac * span).astype(int), 0, len(envelope) - 1)
        return float(np.mean(envelope[idx]))

    on_beat = float(np.mean(envelope[np.clip(beats, 0, len(envelope) - 1)]))
    if on_beat <= 0:
        return 0.0
    thirds = min(at(1 / 3), at(2 / 3))
    halves = at(1 / 2)
    return (thirds - halves) / on_beat


def estimate_meter(features: Features, tempo: TempoEstimate, min_confidence: float = 0.5) -> MeterEstimate:
    """Beats per bar from how accents (onsets, bass hits, chord changes) repeat every 2, 3, 4 or 6 beats.

    Only 3 vs 4 (and 6/8 from a ternary beat division) is decidable this way: a 2/4 bar and half a
    4/4 bar give the same accent pattern, so duple evidence is reported as "4". Weak evidence also
    yields "4", flagged `is_default`, since that is by far the likeliest meter of a song.
    """
    if tempo.bpm is None:
        return MeterEstimate(timesignature="4", confidence=0.0, is_default=True)
    beats = track_beats(features, tempo.bpm)
    n = len(beats)
    if n < 16:
        return MeterEstimate(timesignature="4", confidence=0.0, n_beats=n, is_default=True)
    beat_frames = 60.0 * features.frame_rate / tempo.bpm
    half_width = max(1, round(beat_frames / 8))
    series = [
        _beat_accents(features.onset_envelope, beats, half_width),
        _beat_accents(features.bass_onset_envelope, beats, half_width),
        _harmonic_change(features, beats),
    ]
    # Each stream votes with the weight of its own clearest periodicity, so a stream that carries no
    # bar structure (chroma of a drum loop, onsets of a pad) does not dilute one that does.
    per_stream = []
    for s in series:
        z = _normalise_accents(s)
        per_stream.append({lag: _lag_correlation(z, lag) for lag in (2, 3, 4, 6)})
    weights = np.array([max(0.0, *rs.values()) ** 2 for rs in per_stream])
    weights = weights / weights.sum() if weights.sum() > 0 else np.full(len(series), 1.0 / len(series))
    r = {
        lag: float(sum(w * rs[lag] for w, rs in zip(weights, per_stream, strict=True)))
        for lag in (2, 3, 4, 6)
    }
    duple = max(r[2], r[4])
    # Six beats are a multiple of two as well: lag 6 counts as triple only beyond what lag 2 explains
    # (a 3/4 song whose bars alternate, strong bar and weak, repeats at 6 but hardly at 3).
    triple = max(0.5 * (r[3] + r[6]), r[6] - max(r[2], 0.0))
    ternary = _ternary_subdivision(features.onset_envelope, beats, max(1, round(beat_frames / 12)))
    # r(lag) of n unrelated accents scatters by ~1/sqrt(n): express the margin in those units
    z_margin = (triple - duple) * math.sqrt(n)
    confidence = float(math.tanh(abs(z_margin) / 3.0))
    # Accents read off an unreliable beat grid (rubato, no pulse) say nothing about bars. Doubt about
    # which level of a steady grid is the beat (fast 3/4 also repeats at the bar) does not count here.
    confidence *= float(np.clip(tempo.pulse_confidence / 0.3, 0.0, 1.0))
    if z_margin > 0:
        meter = "3"
    elif ternary > 0.15:
        meter = "6"
        confidence = min(confidence, float(np.clip(ternary / 0.3, 0.0, 1.0)))
    else:
        meter = "4"
    is_default = confidence < min_confidence
    return MeterEstimate(
        timesignature="4" if is_default else meter,
        confidence=confidence,
        duple=duple,
        triple=triple,
        ternary=ternary,
        lag_correlations=r,
        n_beats=n,
        is_default=is_default,
    )


# ---- the estimator -----------------------------------------------------------------------------------------


def _r4(x: float) -> float:
    return round(float(x), 4)


def assemble_estimates(
    features: Features,
    tempo: Any,
    key: KeyEstimate,
    meter: MeterEstimate,
    key_profile: str,
    *,
    tempo_extra: dict[str, object],
    level_extra: Callable[[Any], dict[str, object]] = lambda level: {},
) -> Estimates:
    """Estimates, warnings and details from the three estimates: one place for what every librosa-based
    backend reports; a backend adds its own tempo details (`tempo_extra`, `level_extra`)."""
    warnings: list[str] = []
    if tempo.bpm is None:
        warnings.append("tempo: no periodic onsets found; bpm left empty")
    if tempo.undecided is not None:
        warnings.append(
            f"tempo: the beat may be {tempo.undecided[0]} or {tempo.undecided[1]} bpm (half/double not"
            " decidable from the audio); bpm confidence set to 0"
        )
    if key.keyscale is None:
        warnings.append("key: no pitched content found; keyscale left empty")
    if meter.is_default:
        warnings.append(
            f"timesignature: '4' is a default, not a measurement (confidence {meter.confidence:.2f})"
        )
    details: dict[str, object] = {
        "tempo_candidates": [
            {"bpm": c.bpm, "support": _r4(c.support), "score": _r4(c.score)} for c in tempo.candidates
        ],
        "tempo_levels": [
            {
                "bpm": round(level.bpm, 1),
                "evenness": _r4(level.evenness),
                "subdivision": _r4(level.subdivision),
                "chord_change": _r4(level.chord_change),
                "score": _r4(level.score),
                **level_extra(level),
            }
            for level in tempo.levels
        ],
        "tempo_relatives": {k: _r4(v) for k, v in tempo.relatives.items()},
        "tempo_stability": _r4(tempo.stability),
        "tempo_pulse_stability": _r4(tempo.pulse_stability),
        "tempo_pulse_confidence": _r4(tempo.pulse_confidence),
        "tempo_runner_up": tempo.runner_up_bpm,
        **tempo_extra,
        # both readings when half/double cannot be decided from the audio (the bpm is then left out)
        "tempo_octave_undecided": list(tempo.undecided) if tempo.undecided else None,
        "percussive_share": _r4(features.percussive_share),
        "key_scores": [{"key": k, "correlation": _r4(v)} for k, v in key.scores],
        "key_profile": key_profile,
        "meter_scores": {
            "duple": _r4(meter.duple),
            "triple": _r4(meter.triple),
            "ternary_division": _r4(meter.ternary),
        },
        "meter_lag_correlations": {str(k): _r4(v) for k, v in meter.lag_correlations.items()},
        "meter_beats": meter.n_beats,
        # "4" with meter_source "default" is the likeliest meter assumed for lack of evidence
        "meter_source": "default" if meter.is_default else "measured",
        "tuning_semitones": _r4(features.tuning),
    }
    return Estimates(
        bpm=tempo.bpm,
        bpm_confidence=_r4(tempo.confidence),
        keyscale=key.keyscale,
        key_confidence=_r4(key.confidence),
        key_runner_up=key.runner_up,
        timesignature=meter.timesignature,
        timesignature_confidence=_r4(meter.confidence),
        warnings=warnings,
        details=details,
    )


class LibrosaSettings(BackendSettings):
    """estimator=librosa: every field changes the estimates."""

    sample_rate: int = Field(22050, gt=0, description="analysis rate")
    hop_length: int = Field(512, gt=0, description="onset and chroma frame hop")
    tempo_prior_bpm: float = Field(
        TEMPO_PRIOR_BPM, gt=0, description="centre of the log-normal tempo prior (swept: bench/tune_tempo.py)"
    )
    tempo_prior_octaves: float = Field(
        TEMPO_PRIOR_OCTAVES,
        gt=0,
        description="its width, in octaves (it weighs T/2, T, 2T with the onset evidence)",
    )
    key_profile: str = Field(
        DEFAULT_PROFILE,
        description="krumhansl | temperley | albrecht_shanahan | edm, or several joined by +",
    )

    @field_validator("key_profile")
    @classmethod
    def _known_profile(cls, value: str) -> str:
        profile_parts(value)  # raises ValueError naming the unknown part
        return value


class LibrosaEstimator(Configured[LibrosaSettings], Estimator):
    """Signal-processing estimator: no model weights, deterministic, a few seconds per song on one core."""

    Settings = LibrosaSettings

    def setup(self) -> None:
        s = self.settings
        self.sample_rate = s.sample_rate
        self.hop_length = s.hop_length
        self.tempo_prior_bpm = s.tempo_prior_bpm
        self.tempo_prior_octaves = s.tempo_prior_octaves
        self.key_profile = s.key_profile

    def identity(self) -> BackendIdentity:
        return BackendIdentity(
            backend="librosa",
            version=BACKEND_VERSION,
            settings=self.settings.output_settings(),
            libraries=LIBRARIES,
        )

    def estimate_tempo(self, features: Features) -> TempoEstimate:
        """The tempo step with this estimator's prior: the one step the learned backend replaces."""
        return estimate_tempo(features, self.tempo_prior_bpm, self.tempo_prior_octaves)

    def estimate(self, audio: Audio) -> Estimates:
        features = extract_features(audio, self.hop_length)
        tempo = self.estimate_tempo(features)
        key = estimate_key(features, self.key_profile)
        meter = estimate_meter(features, tempo)
        extra = {
            "tempo_percussion_factor": _r4(tempo.percussion_factor),
            "tempo_level_margin": None if math.isinf(tempo.level_margin) else _r4(tempo.level_margin),
        }
        return assemble_estimates(features, tempo, key, meter, self.key_profile, tempo_extra=extra)
