"""LibrosaEstimator on synthesized audio whose tempo, key and meter are known by construction."""

from __future__ import annotations

import dataclasses
import itertools
import json

import numpy as np
import pytest
from support.music import (
    A_MINOR,
    G_MAJOR,
    G_SCALE,
    SR,
    arpeggio,
    backbeat,
    chord_track,
    close_to,
    drum_track,
    make_audio,
    midi_hz,
    tone,
    waltz,
)

from songset.estimators.librosa_estimator import (
    CHORD_CHANGE_FLOOR,
    DRUMLESS_CONFIDENCE_FACTOR,
    DRUMLESS_SHARE,
    DRUMMED_SHARE,
    LEVEL_MARGIN,
    LEVEL_RATIOS,
    UNDECIDED_SHARE,
    LevelCandidate,
    LibrosaEstimator,
    estimate_key,
    estimate_meter,
    estimate_tempo,
    extract_features,
    level_confidence,
    percussion_factor,
)
from songset.theory import PROFILES


@pytest.fixture(scope="module")
def estimator() -> LibrosaEstimator:
    return LibrosaEstimator()


@pytest.fixture(scope="module")
def drums_4_4(estimator: LibrosaEstimator):
    return estimator.estimate(make_audio(drum_track(120, 4, 16)))


@pytest.fixture(scope="module")
def noise(estimator: LibrosaEstimator):
    return estimator.estimate(make_audio(np.random.default_rng(7).standard_normal(20 * SR)))


# ---- tempo -------------------------------------------------------------------------------------------------


def test_drums_at_120_bpm_give_120_with_confidence(drums_4_4) -> None:
    assert close_to(drums_4_4.bpm, 120.0), drums_4_4.details["tempo_candidates"]
    assert drums_4_4.bpm_confidence >= 0.3  # kept by the sidecar's default threshold


@pytest.mark.parametrize("bpm", [87.0, 99.0, 132.0])
def test_tempo_is_precise_to_a_fraction_of_a_bpm(bpm: float) -> None:
    tempo = estimate_tempo(extract_features(make_audio(drum_track(bpm, 4, 14))))
    assert tempo.bpm is not None and abs(tempo.bpm - bpm) <= 0.5


def test_tempo_prior_settles_the_octave() -> None:
    """Beats at 120 with audible eighths: a prior near 240 reads eighths, one near 60 reads half notes.

    The eighths are a tenth as loud as the beats with nothing between them, so the evidence against
    reading them as beats is strong: only a narrow prior overrides it.
    """
    features = extract_features(make_audio(drum_track(120, 4, 16)))
    assert close_to(estimate_tempo(features, prior_bpm=110.0).bpm, 120.0)
    assert close_to(estimate_tempo(features, prior_bpm=60.0, prior_octaves=0.5).bpm, 60.0)
    assert close_to(estimate_tempo(features, prior_bpm=240.0, prior_octaves=0.5).bpm, 120.0)
    assert close_to(estimate_tempo(features, prior_bpm=240.0, prior_octaves=0.4).bpm, 240.0)


@pytest.mark.parametrize("bpm", [150.0, 160.0])
def test_fast_backbeat_is_not_read_at_half_time(bpm: float) -> None:
    """Kick and snare alternate: below 200 Hz every other beat looks empty, above it the other half.

    Read in one band, the snare beats look like offbeats and the prior pulls the tempo to half.
    """
    assert close_to(estimate_tempo(extract_features(make_audio(backbeat(bpm, 24)))).bpm, bpm)


def _level(bpm: float, score: float) -> LevelCandidate:
    return LevelCandidate(bpm, support=0.5, evenness=1.0, subdivision=0.2, score=score, chord_change=0.0)


def test_bpm_confidence_follows_the_level_margin() -> None:
    clear = (_level(150.0, 3.0), _level(75.0, 3.0 - LEVEL_MARGIN))
    assert level_confidence(clear, LEVEL_MARGIN) == (1.0, False)
    half_way = (_level(150.0, 3.0), _level(75.0, 3.0 - 0.6 * LEVEL_MARGIN))
    assert level_confidence(half_way, LEVEL_MARGIN) == (pytest.approx(0.6), False)
    assert level_confidence((_level(150.0, 3.0),), LEVEL_MARGIN) == (1.0, False)


@pytest.mark.parametrize("runner_up", [75.0, 300.0, 50.0])
def test_a_close_half_or_double_leaves_the_octave_undecided(runner_up: float) -> None:
    close = (_level(150.0, 3.0), _level(runner_up, 3.0 - 0.5 * UNDECIDED_SHARE * LEVEL_MARGIN))
    assert level_confidence(close, LEVEL_MARGIN) == (0.0, True)


def test_a_close_non_octave_runner_up_only_lowers_the_confidence() -> None:
    """x3/2 or x2/3 is another reading of the pulse, not a half/double: no undecided octave to report."""
    close = (_level(150.0, 3.0), _level(100.0, 3.0 - 0.5 * UNDECIDED_SHARE * LEVEL_MARGIN))
    factor, undecided = level_confidence(close, LEVEL_MARGIN)
    assert not undecided and 0.0 < factor < UNDECIDED_SHARE


def test_tempo_reports_candidates_and_relatives() -> None:
    tempo = estimate_tempo(extract_features(make_audio(drum_track(120, 4, 16))))
    assert close_to(tempo.bpm, 120.0)
    assert tempo.candidates[0].score == pytest.approx(1.0)
    assert any(close_to(c.bpm, 120.0) for c in tempo.candidates)
    # the weighed levels are multiples (x1/3 .. x3) of one pulse, the chosen one first
    bpms = sorted(level.bpm for level in tempo.levels)
    periods = {round(bpms[0] / r, 3) for r in LEVEL_RATIOS}
    assert any(
        all(any(b == pytest.approx(period * r, rel=1e-3) for r in LEVEL_RATIOS) for b in bpms)
        for period in periods
    ), bpms
    assert len(bpms) >= 5
    assert tempo.levels[0].bpm == pytest.approx(tempo.bpm, abs=0.05)
    assert tempo.levels[0].score == max(level.score for level in tempo.levels)
    assert set(tempo.relatives) >= {"x2", "x1/2", "x3/2", "x2/3"}
    assert tempo.runner_up_bpm is not None and not close_to(tempo.runner_up_bpm, tempo.bpm or 0.0)


def test_details_list_the_metrical_levels_weighed(drums_4_4) -> None:
    levels = drums_4_4.details["tempo_levels"]
    assert levels and close_to(levels[0]["bpm"], drums_4_4.bpm or 0.0, tol=0.001)
    assert {"bpm", "evenness", "subdivision", "chord_change", "score"} <= set(levels[0])
    assert drums_4_4.details["tempo_octave_undecided"] is None
    assert drums_4_4.details["tempo_level_margin"] >= LEVEL_MARGIN
    json.dumps(drums_4_4.details, allow_nan=False)


def test_an_undecided_octave_is_named_in_details_and_kept_out() -> None:
    """Chords over quiet clicks whose beat positions are uneven (evenness ~0.3 at 120). Under a prior
    broad enough to weigh 240 (the eighths) as fairly as 120, the two score within UNDECIDED_SHARE of
    LEVEL_MARGIN: neither is written, and both are named."""
    n = 24 * SR
    mix = 0.5 * np.concatenate([drum_track(120, 4, 8)] * 2)[:n] + chord_track(A_MINOR, 2.0, 3)[:n]
    est = LibrosaEstimator(tempo_prior_bpm=100.0, tempo_prior_octaves=1.0).estimate(make_audio(mix))
    readings = est.details["tempo_octave_undecided"]
    assert readings is not None and est.bpm == readings[0], est.details["tempo_levels"]
    assert sorted(round(r / 120.0) for r in readings) == [1, 2]
    assert est.bpm_confidence == 0.0
    assert any("half/double" in w for w in est.warnings)


def test_drums_change_no_chords_at_any_level(drums_4_4) -> None:
    """The chord-change penalty must leave unpitched music alone: drum chroma is noise, alike at every beat."""
    assert all(level["chord_change"] < CHORD_CHANGE_FLOOR / 2 for level in drums_4_4.details["tempo_levels"])


def test_drumless_3_4_arpeggio_is_not_read_at_the_bar_rate() -> None:
    """Its bars are as even as its beats and as empty between; only the harmony says which is the bar.

    At 132 bpm the bar level (44) won before chord changes were weighed.
    """
    tempo = estimate_tempo(extract_features(make_audio(arpeggio(132, 3, 20))))
    assert close_to(tempo.bpm, 132.0), [(round(c.bpm), round(c.score, 2)) for c in tempo.levels]
    bar = next(level for level in tempo.levels if close_to(level.bpm, 44.0))
    assert bar.chord_change > CHORD_CHANGE_FLOOR > tempo.levels[0].chord_change


def test_drums_are_percussive_and_an_arpeggio_is_not(drums_4_4) -> None:
    drums = extract_features(make_audio(backbeat(120, 12)))
    arp = extract_features(make_audio(arpeggio(120, 4, 12)))
    assert drums.percussive_share > DRUMMED_SHARE
    assert arp.percussive_share < DRUMMED_SHARE
    assert drums_4_4.details["percussive_share"] > DRUMMED_SHARE
    assert drums_4_4.details["tempo_percussion_factor"] == 1.0


def test_percussion_factor_falls_from_drummed_to_drumless() -> None:
    shares = np.linspace(0.0, 1.0, 41)
    factors = [percussion_factor(float(s)) for s in shares]
    assert factors[0] == percussion_factor(DRUMLESS_SHARE) == DRUMLESS_CONFIDENCE_FACTOR
    assert factors[-1] == percussion_factor(DRUMMED_SHARE) == 1.0
    assert all(a <= b for a, b in itertools.pairwise(factors))
    assert DRUMLESS_CONFIDENCE_FACTOR < percussion_factor((DRUMLESS_SHARE + DRUMMED_SHARE) / 2) < 1.0


def test_drumless_bpm_confidence_is_lowered_and_the_bpm_kept() -> None:
    """Which level of an even arpeggio is the beat is a convention; the confidence must say so."""
    features = extract_features(make_audio(arpeggio(132, 4, 20)))
    tempo = estimate_tempo(features)
    assert tempo.percussion_factor == pytest.approx(percussion_factor(features.percussive_share))
    assert tempo.percussion_factor < 1.0
    as_if_drummed = estimate_tempo(dataclasses.replace(features, percussive_share=DRUMMED_SHARE))
    assert as_if_drummed.bpm == tempo.bpm and as_if_drummed.percussion_factor == 1.0
    assert tempo.confidence == pytest.approx(as_if_drummed.confidence * tempo.percussion_factor)
    assert tempo.pulse_confidence == as_if_drummed.pulse_confidence  # the grid is as steady


# ---- meter -------------------------------------------------------------------------------------------------


def test_meter_needs_a_steady_beat_grid_not_certainty_about_its_level() -> None:
    """Fast 3/4 also repeats at the bar, so which level is the beat can be in doubt (a low bpm
    confidence) while the grid the accents are read from is steady; only an unsteady grid voids them."""
    features = extract_features(make_audio(waltz(150, 16)))
    tempo = estimate_tempo(features)
    assert tempo.pulse_confidence >= tempo.confidence
    level_in_doubt = dataclasses.replace(tempo, confidence=0.02)
    meter = estimate_meter(features, level_in_doubt)
    assert meter.timesignature == "3" and meter.confidence >= 0.5
    unsteady = dataclasses.replace(tempo, pulse_confidence=0.02)
    meter = estimate_meter(features, unsteady)
    assert meter.is_default and meter.timesignature == "4"


# ---- key ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def a_minor_features():
    return extract_features(make_audio(chord_track(A_MINOR, 2.0, 3)))


@pytest.mark.parametrize("profile", list(PROFILES))
def test_a_minor_progression_gives_a_minor(a_minor_features, profile: str) -> None:
    key = estimate_key(a_minor_features, profile)
    assert key.keyscale == "A minor", key.scores
    assert key.runner_up is not None and key.runner_up != key.keyscale
    assert len(key.scores) == 3 and key.scores[0][0] == "A minor"
    assert 0.0 < key.confidence <= 1.0


def test_g_major_chords_and_scale_give_g_major(estimator: LibrosaEstimator) -> None:
    chords = estimator.estimate(make_audio(chord_track(G_MAJOR, 2.0, 3)))
    assert chords.keyscale == "G major"
    assert chords.key_confidence >= 0.3
    scale = np.concatenate([tone(midi_hz(n), 0.5, decay=1.0) for n in G_SCALE * 2])
    assert estimator.estimate(make_audio(scale)).keyscale == "G major"


def test_key_survives_drums(estimator: LibrosaEstimator) -> None:
    n = 24 * SR
    mix = 0.5 * np.concatenate([drum_track(120, 4, 8)] * 2)[:n] + chord_track(A_MINOR, 2.0, 3)[:n]
    est = estimator.estimate(make_audio(mix))
    assert est.keyscale == "A minor"
    # a kick on 1 only, quiet clicks elsewhere, chords every bar: 120 and 60 are both fair readings
    assert close_to(est.bpm, 120.0) or close_to(est.bpm, 60.0)


def test_untuned_recording_still_gives_the_key() -> None:
    """A band tuned a third of a semitone sharp: tuning estimation keeps the chroma on the right notes."""
    sharp = [[n + 0.33 for n in chord] for chord in A_MINOR]
    features = extract_features(make_audio(chord_track(sharp, 2.0, 3)))
    assert features.tuning == pytest.approx(0.33, abs=0.06)
    assert estimate_key(features).keyscale == "A minor"


def test_drums_and_noise_have_low_key_confidence(drums_4_4, noise) -> None:
    assert drums_4_4.key_confidence < 0.3
    assert noise.key_confidence < 0.3


def test_unknown_key_profile_is_rejected() -> None:
    with pytest.raises(ValueError, match="key_profile"):
        LibrosaEstimator(key_profile="bach")
    with pytest.raises(ValueError, match="'bach' in 'krumhansl\\+bach'"):
        LibrosaEstimator(key_profile="krumhansl+bach")
    silence = extract_features(make_audio(np.zeros(5 * SR)))
    with pytest.raises(ValueError, match="unknown key profile 'bach'"):
        estimate_key(silence, "bach")


def test_combined_profile_is_the_default(a_minor_features) -> None:
    assert LibrosaEstimator().key_profile == "krumhansl+albrecht_shanahan"
    assert estimate_key(a_minor_features, "temperley+edm").keyscale == "A minor"


# ---- the estimator as the pipeline sees it -----------------------------------------------------------------


def test_identity_names_every_setting() -> None:
    kwargs = {
        "sample_rate": 16000,
        "hop_length": 256,
        "tempo_prior_bpm": 100.0,
        "tempo_prior_octaves": 0.8,
        "key_profile": "temperley",
    }
    ident = LibrosaEstimator(**kwargs).identity()
    assert ident.backend == "librosa" and ident.version == "8"
    assert ident.settings == kwargs
    assert ident.libraries == ("songset", "numpy", "scipy", "librosa", "soundfile")


def test_hydra_config_constructs_the_estimator() -> None:
    from pathlib import Path

    import yaml

    conf = Path(__file__).resolve().parents[2] / "conf" / "estimator" / "librosa.yaml"
    kwargs = yaml.safe_load(conf.read_text())
    assert kwargs.pop("_target_") == "songset.estimators.librosa_estimator.LibrosaEstimator"
    est = LibrosaEstimator(**kwargs)
    assert est.identity().settings == kwargs
