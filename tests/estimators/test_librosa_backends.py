"""What both librosa backends share (estimator=librosa, estimator=librosa_learned): the same features,
key and meter code and the same handling of noise and rubato, so the same assertions run on each."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from support.music import (
    A_MINOR,
    SR,
    chord_track,
    close_to,
    drum_track,
    make_audio,
    rubato,
    six_eight,
    two_bar_waltz,
    waltz,
)

from songset.audio import Audio, AudioInfo
from songset.estimators.learned_estimator import LearnedEstimator
from songset.estimators.librosa_estimator import (
    LibrosaEstimator,
    _phase_evenness,
    estimate_meter,
    extract_features,
)
from songset.schemas import KEYSCALE_PATTERN, VALID_TIMESIGNATURES


@pytest.fixture(
    scope="module", params=[LibrosaEstimator, LearnedEstimator], ids=["librosa", "librosa_learned"]
)
def estimator(request: pytest.FixtureRequest) -> LibrosaEstimator:
    return request.param()


@pytest.fixture(scope="module")
def drums_4_4(estimator: LibrosaEstimator):
    return estimator.estimate(make_audio(drum_track(120, 4, 16)))


@pytest.fixture(scope="module")
def noise(estimator: LibrosaEstimator):
    return estimator.estimate(make_audio(np.random.default_rng(7).standard_normal(20 * SR)))


@pytest.fixture(scope="module")
def rubato_estimates(estimator: LibrosaEstimator):
    return estimator.estimate(make_audio(rubato()))


def test_noise_has_low_tempo_confidence(noise) -> None:
    assert noise.bpm_confidence < 0.3


def test_beat_evenness_takes_each_position_at_its_strongest_band() -> None:
    kick_band = np.tile([1.0, 0.1], 12)
    snare_band = np.tile([0.2, 0.9], 12)
    assert _phase_evenness(np.stack([kick_band, snare_band]), 2) == pytest.approx(1.0)
    # offbeats: weaker in every band
    offbeats = np.stack([np.tile([1.0, 0.4], 12), np.tile([0.8, 0.3], 12)])
    assert _phase_evenness(offbeats, 2) == pytest.approx(0.4)
    # one band alone is the plain ratio of its weakest to its strongest position
    assert _phase_evenness(np.tile([0.9, 0.3, 0.6], 8)[None, :], 3) == pytest.approx(1 / 3)


def test_accented_4_4_gives_4(drums_4_4) -> None:
    assert drums_4_4.timesignature == "4"
    assert drums_4_4.timesignature_confidence >= 0.5
    assert not any("default" in w for w in drums_4_4.warnings)


def test_accent_every_third_beat_gives_3(estimator: LibrosaEstimator) -> None:
    features = extract_features(make_audio(drum_track(120, 3, 20)))
    meter = estimate_meter(features, estimator.estimate_tempo(features))
    assert meter.timesignature == "3"
    assert meter.confidence >= 0.5 and not meter.is_default


@pytest.mark.parametrize("bpm", [90.0, 120.0])
def test_waltz_whose_bars_alternate_gives_3(estimator: LibrosaEstimator, bpm: float) -> None:
    """Six beats are also three bars of two: lag 6 counts for 3/4 only beyond what lag 2 explains."""
    features = extract_features(make_audio(two_bar_waltz(bpm, 24)))
    tempo = estimator.estimate_tempo(features)
    assert close_to(tempo.bpm, bpm)
    meter = estimate_meter(features, tempo)
    assert meter.lag_correlations[6] > 0.5 > meter.lag_correlations[3]
    assert meter.timesignature == "3" and meter.confidence >= 0.8


def test_ternary_beat_division_gives_6(estimator: LibrosaEstimator) -> None:
    features = extract_features(make_audio(six_eight(100, 16)))
    tempo = estimator.estimate_tempo(features)
    assert close_to(tempo.bpm, 100.0)
    meter = estimate_meter(features, tempo)
    assert meter.timesignature == "6"
    assert meter.ternary > 0


def test_weak_meter_evidence_defaults_to_4_with_a_warning(noise) -> None:
    assert noise.timesignature == "4"
    assert noise.timesignature_confidence < 0.5
    assert any("timesignature" in w and "default" in w for w in noise.warnings)


def test_noise_confidences_stay_under_the_sidecar_thresholds(noise) -> None:
    assert noise.bpm_confidence < 0.3
    assert noise.key_confidence < 0.3
    assert noise.timesignature_confidence < 0.5
    assert noise.details["meter_source"] == "default"


def test_rubato_gives_low_tempo_and_meter_confidence(rubato_estimates) -> None:
    """Without a steady pulse a bpm would be a guess: its confidence must fall under the sidecar's 0.3."""
    assert rubato_estimates.bpm_confidence < 0.3, rubato_estimates.details["tempo_candidates"]
    assert rubato_estimates.details["tempo_pulse_confidence"] < 0.3
    assert rubato_estimates.timesignature_confidence < 0.5
    assert rubato_estimates.details["meter_source"] == "default"
    assert any("timesignature" in w and "default" in w for w in rubato_estimates.warnings)


def test_measured_meter_is_named_as_measured(drums_4_4) -> None:
    assert drums_4_4.details["meter_source"] == "measured"


def test_details_are_plain_json(drums_4_4) -> None:
    text = json.dumps(drums_4_4.details, allow_nan=False)
    details = json.loads(text)
    assert set(details) >= {"tempo_candidates", "key_scores", "meter_scores", "tuning_semitones"}
    assert len(details["key_scores"]) == 3

    def floats(x: object) -> list[float]:
        if isinstance(x, float):
            return [x]
        if isinstance(x, dict):
            return [f for v in x.values() for f in floats(v)]
        if isinstance(x, list):
            return [f for v in x for f in floats(v)]
        return []

    assert all(f == round(f, 4) for f in floats(details))


@pytest.mark.parametrize("bpm", [120.0, 150.0])
def test_waltz_gives_3(estimator: LibrosaEstimator, bpm: float) -> None:
    est = estimator.estimate(make_audio(waltz(bpm, 16)))
    assert close_to(est.bpm, bpm)
    assert est.timesignature == "3"
    assert est.timesignature_confidence >= 0.5


def test_estimates_fit_the_acestep_vocabularies(drums_4_4, noise, estimator: LibrosaEstimator) -> None:
    est = estimator.estimate(make_audio(chord_track(A_MINOR, 2.0, 3)))
    for e in (drums_4_4, noise, est):
        assert e.keyscale is None or re.match(KEYSCALE_PATTERN, e.keyscale)
        assert e.key_runner_up is None or re.match(KEYSCALE_PATTERN, e.key_runner_up)
        assert e.timesignature in VALID_TIMESIGNATURES
        for c in (e.bpm_confidence, e.key_confidence, e.timesignature_confidence):
            assert 0.0 <= c <= 1.0
        assert e.bpm is None or e.bpm == round(e.bpm, 1)


def test_silence_gives_empty_values_not_an_error(estimator: LibrosaEstimator) -> None:
    silent = Audio(
        samples=np.zeros(15 * SR, dtype=np.float32),
        sample_rate=SR,
        info=AudioInfo(duration=15.0, sample_rate=SR, channels=1, format="synthetic"),
    )
    est = estimator.estimate(silent)
    assert est.bpm is None and est.keyscale is None
    assert est.bpm_confidence == 0.0 and est.key_confidence == 0.0
    assert est.timesignature == "4" and est.timesignature_confidence == 0.0
    assert len(est.warnings) == 3
    json.dumps(est.details, allow_nan=False)


def test_other_sample_rate_and_hop_still_work(estimator: LibrosaEstimator) -> None:
    sr = 16000
    est = type(estimator)(sample_rate=sr, hop_length=256).estimate(make_audio(drum_track(120, 4, 12, sr), sr))
    assert close_to(est.bpm, 120.0)
    assert est.timesignature == "4"
