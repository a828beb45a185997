"""Key profiles and the spelling of keys as ACE-Step accepts them."""

from __future__ import annotations

import re

import numpy as np
import pytest

from songset.estimators.keys import DEFAULT_PROFILE, PROFILES, key_correlations, key_index_name, spell_key
from songset.schemas import KEYSCALE_PATTERN, VALID_KEYSCALES

# pitch class -> (major, minor): the key signature a musician writes
SPELLINGS = {
    0: ("C major", "C minor"),
    1: ("Db major", "C# minor"),
    2: ("D major", "D minor"),
    3: ("Eb major", "Eb minor"),
    4: ("E major", "E minor"),
    5: ("F major", "F minor"),
    6: ("F# major", "F# minor"),
    7: ("G major", "G minor"),
    8: ("Ab major", "G# minor"),
    9: ("A major", "A minor"),
    10: ("Bb major", "Bb minor"),
    11: ("B major", "B minor"),
}


@pytest.mark.parametrize(("pitch_class", "mode", "expected"), [
    (pc, mode, names[i]) for pc, names in SPELLINGS.items() for i, mode in enumerate(("major", "minor"))
])  # fmt: skip
def test_spell_key_table(pitch_class: int, mode: str, expected: str) -> None:
    assert spell_key(pitch_class, mode) == expected


def test_every_spelling_is_in_acestep_vocabulary() -> None:
    names = [spell_key(pc, mode) for pc in range(12) for mode in ("major", "minor")]
    assert len(set(names)) == 24
    for name in names:
        assert re.match(KEYSCALE_PATTERN, name)
        assert name in VALID_KEYSCALES


def test_relative_keys_share_a_signature() -> None:
    """A minor key and its relative major (3 semitones up) are spelled from the same accidentals.

    Except at six accidentals, where convention picks F# major but Eb minor (not Gb major / D# minor).
    """
    assert (spell_key(3, "minor"), spell_key(6, "major")) == ("Eb minor", "F# major")
    for pc in set(range(12)) - {3}:
        minor = spell_key(pc, "minor").split()[0]
        major = spell_key(pc + 3, "major").split()[0]
        assert not ("#" in minor and "b" in major) and not ("b" in minor and "#" in major), (minor, major)


def test_spell_key_wraps_and_rejects_bad_modes() -> None:
    assert spell_key(12 + 7, "major") == "G major"
    assert spell_key(-3, "minor") == "A minor"
    with pytest.raises(ValueError, match="mode"):
        spell_key(0, "dorian")


@pytest.mark.parametrize("name", list(PROFILES))
def test_profiles_are_twelve_weights_with_the_tonic_strongest(name: str) -> None:
    for weights in PROFILES[name]:
        assert len(weights) == 12
        assert max(weights) == weights[0]


@pytest.mark.parametrize("name", list(PROFILES))
def test_a_rotated_profile_is_recognised_as_its_own_key(name: str) -> None:
    for index in range(24):
        mode, tonic = divmod(index, 12)
        chroma = np.roll(np.asarray(PROFILES[name][mode]), tonic)
        corr = key_correlations(chroma, name)
        assert int(np.argmax(corr)) == index
        assert corr[index] == pytest.approx(1.0)
        assert key_index_name(index) == spell_key(tonic, ("major", "minor")[mode])


def test_combined_profile_is_the_mean_of_its_parts() -> None:
    chroma = np.random.default_rng(3).uniform(0.0, 1.0, 12)
    parts = [key_correlations(chroma, name) for name in ("krumhansl", "albrecht_shanahan")]
    combined = key_correlations(chroma, "krumhansl+albrecht_shanahan")
    assert combined == pytest.approx((parts[0] + parts[1]) / 2)
    with pytest.raises(ValueError, match="unknown key profile 'bach'"):
        key_correlations(chroma, "krumhansl+bach")


def test_combined_profile_keeps_a_major_key_off_its_dominant() -> None:
    """Chroma measured on a synthetic B major song (I ii V I, drums): Krumhansl alone reads F# major."""
    chroma = np.array([0.10, 0.84, 0.09, 0.71, 0.36, 0.05, 1.00, 0.05, 0.28, 0.01, 0.22, 0.75])
    assert key_index_name(int(np.argmax(key_correlations(chroma, "krumhansl")))) == "F# major"
    assert key_index_name(int(np.argmax(key_correlations(chroma, DEFAULT_PROFILE)))) == "B major"


def test_flat_or_empty_chroma_correlates_with_nothing() -> None:
    assert not key_correlations(np.ones(12), "krumhansl").any()
    assert not key_correlations(np.zeros(12), "krumhansl").any()
    with pytest.raises(ValueError, match="12"):
        key_correlations(np.ones(24), "krumhansl")
