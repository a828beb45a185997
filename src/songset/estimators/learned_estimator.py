"""estimator=librosa_learned: the librosa estimator's key and meter, with a learned beat-level model.

Opt-in, not the default (issue 20). The tempo is found in two steps, as in `librosa_estimator`: the
best-supported pulse period, then which of its multiples (x1/3 .. x3) is the beat. Here the second
step is a conditional logit over per-level evidence (`tempo_model`, weights in tempo_model.json, fitted
by bench/train_tempo.py on rendered dev sets and synthetic songs only) under a cited tempo prior (120
BPM, one octave), and the bpm confidence is a calibrated probability. Features, key and meter are
`librosa_estimator`'s own (imported, one home each).

Why it is not the default: on acestep-generated (produced songs, never fitted) it reads four slow songs at
double time with confidences of 0.9 and more, where v8 writes one wrong bpm; see README "BPM, key and
meter" and bench/estimate.py.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np
from pydantic import Field
from scipy import ndimage

from songset.audio import Audio
from songset.backend import BackendIdentity
from songset.estimators.base import Estimates
from songset.estimators.librosa_estimator import (
    BPM_GRID_STEP,
    LIBRARIES,
    RELATIVES,
    TEMPOGRAM_WIN,
    Features,
    LibrosaEstimator,
    LibrosaSettings,
    TempoCandidate,
    _harmonic_change,
    _lag_frames,
    _local_peaks,
    _near,
    _phase_evenness,
    _r4,
    _refine_peak,
    _tempo_stability,
    assemble_estimates,
    comb_support,
    estimate_key,
    estimate_meter,
    extract_features,
    tempo_score,
    track_beats,
)
from songset.estimators.tempo_model import (
    LEVEL_FEATURES,
    PRIOR_BPM,
    PRIOR_OCTAVES,
    TempoModel,
    load_model,
    logit,
    softmax,
    tempo_log_prior,
)
from songset.schemas import BPM_MAX, BPM_MIN

# 9: the beat level chosen by a learned model over per-level evidence (tempo_model.json), prior 120 BPM /
# 1 octave (cited), calibrated bpm confidence (branch h20, as the librosa backend's v9); 10: low-band
# evidence (kick/snare alternation, the low band's own periodicity and note rate), trained on
# produced-music renders too; an octave whose calibrated probability is under the model's
# settled_probability is named undecided and its bpm left out
BACKEND_VERSION = "10"

# The tempo prior for songs in general (tempo_model.PRIOR_BPM / PRIOR_OCTAVES, cited there): it weighs
# the beat levels with the learned evidence, and (never narrower than PERIOD_PRIOR_OCTAVES) the pulse search.
TEMPO_PRIOR_BPM = PRIOR_BPM
TEMPO_PRIOR_OCTAVES = PRIOR_OCTAVES
PERIOD_PRIOR_OCTAVES = 1.0  # the period search's prior is broad: it only has to find the pulse family
# Levels weighed as the beat, as ratios to the found pulse; the learned model marks each kind
# (`tempo_model.LEVEL_FEATURES`: triple_ratio, third_ratio, pulse_itself).
LEVEL_RATIOS = (1 / 3, 1 / 2, 2 / 3, 1.0, 3 / 2, 2.0, 3.0)
# Where the model gives the runner-up level, at a half, double, third or triple of the winner, at least
# this share of the winner's probability, the audio has not settled the octave: the details name both
# readings and the bpm confidence goes to 0 (left out of the sidecar). Odds of 2:1 or closer are
# undecided by definition; bench/train_tempo.py prints how many wrong and right values it removes on
# the tuning data, bench/estimate.py on the rest.
UNDECIDED_ODDS = 0.5
OCTAVE_RELATIVES = (2.0, 0.5, 3.0, 1 / 3)

# ---- tempo -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LevelCandidate:
    """One metrical level (a multiple of the found pulse: x1/3 .. x3) weighed as the beat."""

    bpm: float
    support: float  # comb support at this period, as in TempoCandidate
    evenness: float  # weaker over stronger alternate beat positions (`_phase_evenness`): ~1 at the beat
    subdivision: float  # onsets between this level's beats (halves or thirds) / onsets on them
    score: float  # log score: the model's evidence + the tempo prior (`choose_metrical_level`)
    chord_change: float  # median chroma change from one of this level's beats to the next
    probability: float = 0.0  # the model's probability that this level is the beat
    ratio: float = 1.0  # to the found pulse
    evidence: tuple[float, ...] = ()  # the model's inputs, in tempo_model.LEVEL_FEATURES order


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
    level_probability: float = 1.0  # the model's probability for the chosen level
    undecided: tuple[float, float] | None = None  # (bpm, its half/double ...) when the audio cannot tell
    calibration: tuple[
        float, ...
    ] = ()  # tempo_model.CALIBRATION_FEATURES' values (before the undecided rule)


def tempo_prior(bpm: np.ndarray, centre_bpm: float, width_octaves: float) -> np.ndarray:
    """Log-normal prior: songs cluster around a tempo; it settles octave ties, it should not win alone."""
    return np.exp(tempo_log_prior(bpm, centre_bpm, width_octaves))


@dataclass(frozen=True)
class BeatGrid:
    """Onset strength on each beat tracked at one tempo, and at the points between beats."""

    on: np.ndarray  # (beats - 1,)
    on_bands: np.ndarray  # (bands, beats - 1): the same per band of `level_band_envelopes`
    half: np.ndarray
    half_bands: np.ndarray  # (bands, beats - 1): per band, half way between beats
    first_third: np.ndarray
    second_third: np.ndarray
    chord_change: float  # median `_harmonic_change` from beat to beat


def beat_grid(features: Features, bpm: float) -> BeatGrid | None:
    """Onsets below LEVEL_MAX_HZ around beats tracked at `bpm` and between them (None: too few beats).

    Low bands only: hi-hats on the offbeats (common in dance music) would make eighths look like beats.
    The beats are also read per band (`level_band_envelopes`) for `_phase_evenness`, and the chroma
    change from beat to beat is kept.
    """
    envelope = features.level_onset_envelope
    beats = track_beats(features, bpm, envelope, tightness=400.0)  # hold this level, do not drift off it
    if len(beats) < 7 or not envelope.any():
        return None
    half_width = max(1, round(60.0 * features.frame_rate / bpm / 8))
    area = ndimage.uniform_filter1d(envelope, 2 * half_width + 1, mode="nearest")
    starts, ends = beats[:-1].astype(float), beats[1:].astype(float)

    def index(fraction: float) -> np.ndarray:
        return np.clip(np.round(starts + fraction * (ends - starts)).astype(int), 0, len(area) - 1)

    bands = ndimage.uniform_filter1d(
        features.level_band_envelopes, 2 * half_width + 1, axis=1, mode="nearest"
    )
    chord_change = float(np.median(_harmonic_change(features, beats)[1:-1]))
    return BeatGrid(
        area[beats[:-1]],
        bands[:, beats[:-1]],
        area[index(0.5)],
        bands[:, index(0.5)],
        area[index(1 / 3)],
        area[index(2 / 3)],
        chord_change,
    )


def _log_ratio(a: float, b: float, floor: float) -> float:
    """log((a + floor) / (b + floor)): bounded for silent grids, so no one clip's zeros dominate a fit."""
    return math.log((a + floor) / (b + floor))


def onset_rate(features: Features) -> float:
    """Detected onsets (below LEVEL_MAX_HZ) per second: how many notes the music plays."""
    import librosa

    onsets = librosa.onset.onset_detect(
        onset_envelope=features.level_onset_envelope,
        sr=features.sample_rate,
        hop_length=features.hop_length,
        units="frames",
    )
    return len(onsets) / max(features.duration, 1e-9)


@dataclass(frozen=True)
class LowBand:
    """What the band below BASS_MAX_HZ (kick, bass) says on its own, computed once per song."""

    autocorrelation: np.ndarray  # lag 0 = 1, as Features.autocorrelation
    notes_per_second: float


def low_band(features: Features) -> LowBand:
    """Produced songs fill the beat with hi-hats, ghost notes and arpeggios, but their kick and bass
    move at the beat or slower: the low band's own periodicity and note rate are read apart."""
    import librosa

    envelope = features.level_band_envelopes[0]
    trend_frames = max(3, round(features.frame_rate))
    detrended = envelope - ndimage.uniform_filter1d(envelope, trend_frames, mode="nearest")
    n = min(TEMPOGRAM_WIN, len(detrended))
    ac = librosa.autocorrelate(detrended, max_size=n)
    overlap = len(detrended) - np.arange(n)  # unbiased: each lag averages over its own overlap
    ac = ac / np.maximum(overlap, 1)
    ac = ac / ac[0] if ac[0] > 0 else np.zeros_like(ac)
    onsets = librosa.onset.onset_detect(
        onset_envelope=envelope, sr=features.sample_rate, hop_length=features.hop_length, units="frames"
    )
    return LowBand(ac, len(onsets) / max(features.duration, 1e-9))


def _band_alternation(on_bands: np.ndarray) -> float:
    """-(alternation below 200 Hz x alternation above): positive where kick and snare take turns from
    one beat to the next (a backbeat read at its beat), negative where both land on every other
    position (the same groove read at twice its beat); about 0 without drums. Phase-free."""
    alternation = []
    for band in on_bands:
        even, odd = float(np.mean(band[0::2])), float(np.mean(band[1::2]))
        alternation.append((even - odd) / max(even + odd, 1e-12))
    return -alternation[0] * alternation[1]


def level_evidence(
    features: Features,
    grid: BeatGrid,
    bpm: float,
    ratio: float,
    support: float,
    notes_per_second: float,
    low: LowBand | None = None,
) -> tuple[float, ...]:
    """The model's inputs for one level, in tempo_model.LEVEL_FEATURES order (tempo itself is not one).

    At the beat every tracked position carries a real beat, so alternate positions are about as strong
    (evenness), and the points between hold lighter subdivisions; twice the beat fails the first,
    half the beat the second. Ratios are floored (a silent grid) so that no single clip decides.
    """
    evenness = _phase_evenness(grid.on_bands, 2)
    evenness_low = _phase_evenness(grid.on_bands[:1], 2)
    on = float(np.median(grid.on))
    thirds = min(float(np.median(grid.first_third)), float(np.median(grid.second_third)))
    between = max(float(np.median(grid.half)), thirds)
    lag = float(_lag_frames(bpm, features.frame_rate))
    ac = features.autocorrelation
    single = float(np.interp(lag, np.arange(ac.shape[0]), ac)) if lag <= ac.shape[0] - 1 else 0.0
    low_on, high_on = (float(np.median(b)) for b in grid.on_bands)
    low_half, high_half = (float(np.median(b)) for b in grid.half_bands)
    scale = max(on, 1e-6)
    notes = math.log2(max(notes_per_second * 60.0 / bpm, 1 / 16))
    log_evenness = math.log(min(evenness, 1.0) + 0.05)
    log_subdivision = _log_ratio(min(between, 1.5 * scale), on, 0.05 * scale)
    share = features.percussive_share
    low = low or low_band(features)
    low_single = (
        float(np.interp(lag, np.arange(low.autocorrelation.shape[0]), low.autocorrelation))
        if lag <= low.autocorrelation.shape[0] - 1
        else 0.0
    )
    values = {
        "support": support,
        "single_lag": single,
        "log_evenness": log_evenness,
        "log_evenness_low": math.log(min(evenness_low, 1.0) + 0.05),
        "log_subdivision": log_subdivision,
        "low_on_between": _log_ratio(low_on, low_half, 0.05 * max(low_on, low_half, 1e-6)),
        "high_on_between": _log_ratio(high_on, high_half, 0.05 * max(high_on, high_half, 1e-6)),
        "notes_per_beat": notes,
        "notes_per_beat_sq": notes * notes,
        "chord_change": grid.chord_change,
        "triple_ratio": float(_near(ratio, 2 / 3, 0.01) or _near(ratio, 1.5, 0.01)),
        "third_ratio": float(_near(ratio, 1 / 3, 0.01) or _near(ratio, 3.0, 0.01)),
        "pulse_itself": float(_near(ratio, 1.0, 0.01)),
        "percussive_evenness": share * log_evenness,
        "percussive_subdivision": share * log_subdivision,
        "band_alternation": _band_alternation(grid.on_bands),
        "low_single_lag": low_single,
        "low_notes_per_beat": math.log2(max(low.notes_per_second * 60.0 / bpm, 1 / 16)),
    }
    return tuple(float(values[name]) for name in LEVEL_FEATURES)


def candidate_levels(features: Features, period_bpm: float) -> list[LevelCandidate]:
    """x1/3 .. x3 of the found pulse (LEVEL_RATIOS) within the bpm range, with their evidence; unscored."""
    fr = features.frame_rate
    rate = onset_rate(features)
    low = low_band(features)
    levels = []
    for ratio in LEVEL_RATIOS:
        bpm = period_bpm * ratio
        if not BPM_MIN <= bpm <= BPM_MAX:
            continue
        grid = beat_grid(features, bpm)
        if grid is None:
            continue
        support = float(comb_support(features.autocorrelation, _lag_frames(bpm, fr)))
        evidence = level_evidence(features, grid, bpm, ratio, support, rate, low)
        evenness = _phase_evenness(grid.on_bands, 2)
        on = max(float(np.median(grid.on)), 1e-12)
        thirds = min(float(np.median(grid.first_third)), float(np.median(grid.second_third)))
        subdivision = max(float(np.median(grid.half)), thirds) / on
        levels.append(
            LevelCandidate(bpm, support, evenness, subdivision, 0.0, grid.chord_change, 0.0, ratio, evidence)
        )
    return levels


def choose_metrical_level(
    features: Features,
    period_bpm: float,
    prior_bpm: float,
    prior_octaves: float,
    model: TempoModel | None = None,
) -> tuple[LevelCandidate, ...]:
    """Weigh x1/3 .. x3 of the found pulse as the beat with the learned model and the prior; best first."""
    model = model or load_model()
    levels = candidate_levels(features, period_bpm)
    if not levels:  # too short to track beats at any level: keep the pulse itself
        support = float(comb_support(features.autocorrelation, _lag_frames(period_bpm, features.frame_rate)))
        return (LevelCandidate(period_bpm, support, 1.0, 1.0, 0.0, 0.0, 1.0, 1.0),)
    rows = np.array([level.evidence for level in levels])
    bpms = np.array([level.bpm for level in levels])
    scores = model.level_scores(rows) + tempo_log_prior(bpms, prior_bpm, prior_octaves)
    probabilities = softmax(scores)
    scored = [
        dataclasses.replace(level, score=float(score), probability=float(p))
        for level, score, p in zip(levels, scores, probabilities, strict=True)
    ]
    return tuple(sorted(scored, key=lambda c: -c.score))


@dataclass(frozen=True)
class Pulse:
    """The pulse search's result: the best-supported period and how clear it is."""

    period: float
    grid: np.ndarray  # bpm grid
    support: np.ndarray  # comb support on the grid
    score: np.ndarray  # prior-weighed, relative to the best peak
    peaks: np.ndarray  # grid indices of local maxima, best first
    prior: np.ndarray


def find_pulse(features: Features, prior_bpm: float, prior_octaves: float) -> Pulse | None:
    """The best-supported periodicity (None: no periodic onsets)."""
    ac = features.autocorrelation
    if not np.any(ac[1:]):
        return None
    grid = BPM_MIN * 2.0 ** np.arange(0.0, math.log2(BPM_MAX / BPM_MIN) + 1e-9, BPM_GRID_STEP)
    support = comb_support(ac, _lag_frames(grid, features.frame_rate))
    prior = tempo_prior(grid, prior_bpm, max(prior_octaves, PERIOD_PRIOR_OCTAVES))
    score = tempo_score(support, prior)
    peaks = _local_peaks(score)
    if peaks.size == 0 or support[peaks[0]] <= 0:
        return None
    score = score / score[peaks[0]]
    return Pulse(_refine_peak(grid, score, int(peaks[0])), grid, support, score, peaks, prior)


def estimate_tempo(
    features: Features,
    prior_bpm: float = TEMPO_PRIOR_BPM,
    prior_octaves: float = TEMPO_PRIOR_OCTAVES,
    n_candidates: int = 5,
    model: TempoModel | None = None,
) -> TempoEstimate:
    """Tempo in two steps: the best-supported pulse period, then which of its multiples is the beat.

    Periodicity alone cannot tell a beat from its half, double or bar (all repeat); the second step
    weighs x1/3 .. x3 with the learned model (tempo_model) and the prior. The confidence is the
    model's calibrated probability that the bpm is right.
    """
    model = model or load_model()
    pulse = find_pulse(features, prior_bpm, prior_octaves)
    if pulse is None:
        return TempoEstimate(bpm=None, confidence=0.0, runner_up_bpm=None)
    grid, support, score, peaks, period = pulse.grid, pulse.support, pulse.score, pulse.peaks, pulse.period
    candidates = tuple(
        TempoCandidate(bpm=round(float(grid[i]), 1), support=float(support[i]), score=float(score[i]))
        for i in peaks[:n_candidates]
    )
    levels = choose_metrical_level(features, period, prior_bpm, prior_octaves, model)
    bpm = levels[0].bpm
    # the best periodicity peak outside the weighed family (x4/3, x5/4 ...: another reading)
    family = [period * ratio for ratio in LEVEL_RATIOS]
    other = next((i for i in peaks[1:] if not any(_near(float(grid[i]), f) for f in family)), None)
    period_ambiguity = float(score[other]) if other is not None else 0.0
    runner_level = levels[1] if len(levels) > 1 else None
    if runner_level is not None and runner_level.probability >= period_ambiguity * levels[0].probability:
        runner_bpm: float | None = round(runner_level.bpm, 1)
    else:
        runner_bpm = round(float(grid[other]), 1) if other is not None else None
    relatives = {}
    for name, ratio in RELATIVES.items():
        target = bpm * ratio
        if BPM_MIN <= target <= BPM_MAX:
            window = np.abs(np.log2(grid / target)) <= 0.03  # +-2 %
            relatives[name] = float(support[window].max())

    stability, pulse_stability = _tempo_stability(features, period, bpm, grid, pulse.prior)
    strength = float(np.clip((levels[0].support - 0.05) / 0.4, 0.0, 1.0))
    calibration = (logit(levels[0].probability), stability, period_ambiguity, features.percussive_share)
    # the calibrated probability holds for audio with a pulse, as every training clip has; `strength`
    # (comb support 0.05 -> 0.45 mapped to 0 -> 1) takes it to 0 for noise and rubato
    probability_right = model.calibrate(np.array(calibration))
    confidence = probability_right * strength
    undecided = None
    if runner_level is not None and octave_undecided(levels[0], runner_level):
        undecided = (round(bpm, 1), round(runner_level.bpm, 1))
        confidence = 0.0
    elif probability_right < model.settled_probability and strength > 0:
        # a clear pulse whose octave the evidence does not settle well enough for a sidecar
        other_reading = octave_alternative(levels) or runner_level
        undecided = (round(bpm, 1), round(other_reading.bpm, 1))
        confidence = 0.0
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
        level_probability=levels[0].probability,
        undecided=undecided,
        calibration=calibration,
    )


def octave_alternative(levels: tuple[LevelCandidate, ...]) -> LevelCandidate | None:
    """The likeliest level at a half, double, third or triple of the chosen one (levels: best first)."""
    best = levels[0]
    return next((lv for lv in levels[1:] if any(_near(lv.bpm, best.bpm * r) for r in OCTAVE_RELATIVES)), None)


def octave_undecided(best: LevelCandidate, runner_up: LevelCandidate) -> bool:
    """A runner-up at a half, double, third or triple of the winner with odds of UNDECIDED_ODDS or closer."""
    octave = any(_near(runner_up.bpm, best.bpm * r) for r in OCTAVE_RELATIVES)
    return octave and runner_up.probability >= UNDECIDED_ODDS * best.probability


# ---- the estimator -----------------------------------------------------------------------------------------


class LearnedSettings(LibrosaSettings):
    """estimator=librosa_learned: v8's settings with the learned model's tempo prior."""

    tempo_prior_bpm: float = Field(
        TEMPO_PRIOR_BPM,
        gt=0,
        description="centre of the log-normal tempo prior (preferred tempo: Moelants 2002; see tempo_model.py)",
    )
    tempo_prior_octaves: float = Field(
        TEMPO_PRIOR_OCTAVES,
        gt=0,
        description="its width, in octaves (it weighs T/2, T, 2T with the learned level evidence)",
    )


class LearnedEstimator(LibrosaEstimator):
    """v8's signal processing with a learned beat level: its weights ship (tempo_model.json), deterministic."""

    Settings = LearnedSettings

    def identity(self) -> BackendIdentity:
        return BackendIdentity(
            backend="librosa_learned",
            version=BACKEND_VERSION,
            settings=self.settings.output_settings(),
            libraries=LIBRARIES,
        )

    def estimate_tempo(self, features: Features) -> TempoEstimate:  # type: ignore[override]
        return estimate_tempo(features, self.tempo_prior_bpm, self.tempo_prior_octaves)

    def estimate(self, audio: Audio) -> Estimates:
        features = extract_features(audio, self.hop_length)
        tempo = self.estimate_tempo(features)
        key = estimate_key(features, self.key_profile)
        meter = estimate_meter(features, tempo)
        return assemble_estimates(
            features,
            tempo,
            key,
            meter,
            self.key_profile,
            # the model's probability for the chosen beat level (tempo_model.json), and for each level
            tempo_extra={"tempo_level_probability": _r4(tempo.level_probability)},
            level_extra=lambda level: {"probability": _r4(level.probability)},
        )
