"""Which metrical level is the beat: a small learned model over per-level evidence.

The pulse search finds a periodicity family (a beat, its halves, doubles and thirds all repeat), and
no single hand-set rule told a beat from its half or double on fast and slow, drummed and drumless
music alike. So each candidate level is described by tempo-free evidence (`level_features`: how
evenly its beats are struck per band, how much falls between them, how many notes fall on a beat,
whether the bass marks it, how often its beats change chord ...) and a conditional logit
(McFadden 1974; a softmax over the candidates of one song) turns those into the probability that
each level is the beat. The weights are fitted by `bench/train_tempo.py` on the dev set's tuning half
and synthetic songs only, and ship as `tempo_model.json` beside this module.

Tempo itself is not a model input: the training clips' tempos are spread evenly on purpose, so a
model that saw the tempo would learn that spread. The tempo enters once, at run time, as a prior for
songs in general (`tempo_log_prior`), and the fit removes the training set's own tempo distribution
(`bench/train_tempo.py`), as Bayes' rule asks.

The bpm confidence is a second, calibrated step (`TempoModel.calibrate`): a logistic function of the
chosen level's probability, of how steady and unambiguous the pulse is and of the share of drums,
fitted on out-of-fold probabilities, so a 0.8 means about 8 in 10 such values were right on the data
it was fitted on. Every training clip has a clear pulse, so the estimator multiplies this by the
pulse's strength (0 for noise and rubato, 1 for every steady clip), which no fit could learn here.
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

MODEL_PATH = Path(__file__).with_name("tempo_model.json")

# The prior for songs in general: log-normal in tempo, centred at 120 BPM, the "preferred tempo"
# around which listeners' beat choices and the tempi of large music collections cluster (van Noorden &
# Moelants 1999, "Resonance in the perception of musical pulse", J. New Music Research 28(1); Moelants
# 2002, "Preferred tempo reconsidered", ICMPC7: between 120 and 130 BPM), one octave wide as in
# Ellis (2007), "Beat tracking by dynamic programming", J. New Music Research 36(1) (librosa's
# `tempo(start_bpm=120, std_bpm=1.0)`). Not fitted to any data set here.
PRIOR_BPM = 120.0
PRIOR_OCTAVES = 1.0

LEVEL_FEATURES = (
    "support",  # comb support: onset autocorrelation at 1..8 beats of this level
    "single_lag",  # autocorrelation at exactly one beat of this level
    "log_evenness",  # log of weaker over stronger alternate beat positions (max over bands)
    "log_evenness_low",  # the same below 200 Hz only (kick, bass)
    "log_subdivision",  # log of onsets between beats over onsets on them
    "low_on_between",  # log of onsets below 200 Hz on beats over between them
    "high_on_between",  # log of onsets 200-2500 Hz on beats over between them
    "notes_per_beat",  # log2 of detected onsets per beat of this level
    "notes_per_beat_sq",  # its square: a beat holds a few notes, not dozens nor a fraction of one
    "chord_change",  # median chroma change from beat to beat
    "triple_ratio",  # 1 for x2/3 and x3/2 of the pulse (a dotted or bar reading)
    "third_ratio",  # 1 for x1/3 and x3 of the pulse
    "pulse_itself",  # 1 for the found pulse
    "percussive_evenness",  # percussive share x log_evenness: drums make evenness mean more
    "percussive_subdivision",  # percussive share x log_subdivision
    "band_alternation",  # kick and snare take turns at this level (backbeat): -(low x mid alternation)
    "low_single_lag",  # autocorrelation of the band below 200 Hz alone at one beat (kick, bass)
    "low_notes_per_beat",  # log2 of onsets below 200 Hz per beat: about one kick or bass note per beat
)


class TempoModel(BaseModel):
    """Shipped weights: feature standardisation, level weights, calibration weights."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: int
    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]
    calibration_features: tuple[str, ...]
    calibration_weights: tuple[float, ...]  # the last is the intercept
    settled_probability: float = Field(
        ge=0.0,
        le=1.0,
        description="below this calibrated probability the octave counts as not settled by the audio: the bpm"
        " is left out and both readings are named (the lowest value that kept wrong values to 1 in 30 of"
        " those written, out of fold on the training data; bench/train_tempo.py)",
    )
    trained_on: str = Field(description="the data the weights were fitted on, for the record")

    @model_validator(mode="after")
    def _shapes_agree(self) -> TempoModel:
        n = len(self.features)
        if self.features != LEVEL_FEATURES:
            raise ValueError(f"features {self.features} are not this code's {LEVEL_FEATURES}")
        if not len(self.mean) == len(self.scale) == len(self.weights) == n:
            raise ValueError("mean, scale and weights must have one value per feature")
        if len(self.calibration_weights) != len(self.calibration_features) + 1:
            raise ValueError("calibration needs one weight per feature and an intercept")
        if self.calibration_features != CALIBRATION_FEATURES:
            raise ValueError(
                f"calibration features {self.calibration_features} are not {CALIBRATION_FEATURES}"
            )
        return self

    def level_scores(self, rows: np.ndarray) -> np.ndarray:
        """Evidence log-score of each candidate level, (levels, features) -> (levels,)."""
        z = (rows - np.asarray(self.mean)) / np.asarray(self.scale)
        return z @ np.asarray(self.weights)

    def calibrate(self, values: np.ndarray) -> float:
        """P(the bpm is right) from CALIBRATION_FEATURES' values."""
        w = np.asarray(self.calibration_weights)
        return float(_sigmoid(float(values @ w[:-1] + w[-1])))


CALIBRATION_FEATURES = (
    "logit_probability",  # log odds of the chosen level
    "stability",  # share of local windows agreeing with the pulse
    "period_ambiguity",  # score of the best periodicity outside the level family
    "percussive_share",  # drums mark the beat level; without them which level is "the beat" is a convention
)


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


@lru_cache(maxsize=4)
def load_model(path: Path = MODEL_PATH) -> TempoModel:
    """The shipped model; a missing or malformed file is an error naming it."""
    try:
        return TempoModel.model_validate(json.loads(path.read_text()))
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: not a usable tempo model ({exc})") from exc


def tempo_log_prior(bpm: float | np.ndarray, centre_bpm: float, width_octaves: float) -> np.ndarray:
    """Log of the log-normal prior (PRIOR_BPM, PRIOR_OCTAVES by default)."""
    return -0.5 * (np.log2(np.asarray(bpm, dtype=np.float64) / centre_bpm) / width_octaves) ** 2


def softmax(scores: np.ndarray) -> np.ndarray:
    e = np.exp(scores - scores.max())
    return e / e.sum()


def logit(p: float) -> float:
    p = min(max(p, 1e-4), 1 - 1e-4)
    return math.log(p / (1 - p))
