"""Music theory (songset.theory): key profiles, the spelling of keys as ACE-Step accepts them, key notations."""

from __future__ import annotations

import re

import numpy as np
import pytest

from songset.schemas import KEYSCALE_PATTERN, VALID_KEYSCALES
from songset.theory import (
    DEFAULT_PROFILE,
    PROFILES,
    key_correlations,
    key_index_name,
    parse_key_notation,
    spell_key,
)

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


# The Camelot wheel, hour -> (A = minor, B = major), spelled as `spell_key` spells estimates (charts write
# Ab minor for 1A and Db minor for 12A: the same keys).
CAMELOT = {
    1: ("G# minor", "B major"), 2: ("Eb minor", "F# major"), 3: ("Bb minor", "Db major"),
    4: ("F minor", "Ab major"), 5: ("C minor", "Eb major"), 6: ("G minor", "Bb major"),
    7: ("D minor", "F major"), 8: ("A minor", "C major"), 9: ("E minor", "G major"),
    10: ("B minor", "D major"), 11: ("F# minor", "A major"), 12: ("C# minor", "E major"),
}  # fmt: skip


@pytest.mark.parametrize(("hour", "minor", "major"), [(h, *keys) for h, keys in CAMELOT.items()])
def test_camelot_and_open_key_name_the_same_wheel(hour: int, minor: str, major: str) -> None:
    assert parse_key_notation(f"{hour}A") == minor
    assert parse_key_notation(f"{hour}B") == major
    open_key = (hour + 4) % 12 + 1  # Open Key 1 is Camelot 8
    assert parse_key_notation(f"{open_key}m") == minor
    assert parse_key_notation(f"{open_key}d") == major


@pytest.mark.parametrize(
    ("text", "expected"),
    [("Am", "A minor"), ("F#m", "F# minor"), ("Dbmaj", "Db major"), ("Dbm", "Db minor"), ("C", "C major"),
     ("a minor", "A minor"), ("Bb Major", "Bb major"), ("E♭ min", "Eb minor"), ("G♯", "G# major"),
     ("gb", "Gb major"), ("bbm", "Bb minor"), ("F sharp minor", "F# minor"), ("08A", "A minor"),
     (" 8 b ", "C major"), ("C#M", "C# major"), ("Cb major", "Cb major")],
)  # fmt: skip
def test_note_names_keep_the_spelling_they_were_written_with(text: str, expected: str) -> None:
    assert parse_key_notation(text) == expected
    assert expected in VALID_KEYSCALES


@pytest.mark.parametrize(
    "text", ["", "o", "13A", "0B", "8C", "H minor", "AB", "F##m", "C dorian", "Am7", "8"]
)
def test_unreadable_key_notations_are_none(text: str) -> None:
    assert parse_key_notation(text) is None
