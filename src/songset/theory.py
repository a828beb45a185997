"""Music theory in one place: pitch classes, key profiles, key spelling, enharmonics, key notations.

Kept apart from the audio code so it can be checked by eye, and free of heavy imports (numpy loads only
where a chroma is correlated) so the sidecar stage and the lyrics tags can use it without audio libraries.

Profiles are 12 weights, tonic first (index 0 = tonic, 1 = minor second, ...), one for major and one
for minor. Keys are found by correlating a song's chroma with all 24 rotations.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

# Natural notes -> pitch class (C = 0); an accidental moves it by a semitone ("#" up, "b" down).
NATURAL_PITCH_CLASSES: dict[str, int] = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
# ACE-Step's `keyscale` vocabulary: a note with at most one accidental, then the mode.
KEYSCALE_PATTERN = r"^[A-G][#b]? (major|minor)$"
VALID_KEYSCALES: tuple[str, ...] = tuple(
    f"{note}{acc} {mode}" for note in "ABCDEFG" for acc in ("", "#", "b") for mode in ("major", "minor")
)
# Chord and key names in the descriptor's prose: one spelling per pitch class whatever the mode (the
# descriptor's wording since its first version; estimates use `spell_key`).
PROSE_NOTE_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
# Triad templates, root first: the intervals (in semitones) of a major and a minor chord.
MAJOR_TRIAD = (0, 4, 7)
MINOR_TRIAD = (0, 3, 7)

KeyProfile = tuple[tuple[float, ...], tuple[float, ...]]  # (major, minor), tonic first

# fmt: off
PROFILES: dict[str, KeyProfile] = {
    # Krumhansl & Kessler (1982), probe-tone ratings; Psychological Review 89(4):334-368.
    "krumhansl": (
        (6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88),
        (6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17),
    ),
    # Temperley (1999), "What's key for key?", Music Perception 17(1):65-100 (revised K-S profiles).
    "temperley": (
        (5.0, 2.0, 3.5, 2.0, 4.5, 4.0, 2.0, 4.5, 2.0, 3.5, 1.5, 4.0),
        (5.0, 2.0, 3.5, 4.5, 2.0, 4.0, 2.0, 4.5, 3.5, 2.0, 1.5, 4.0),
    ),
    # Albrecht & Shanahan (2013), corpus-trained; Music Perception 31(1):59-67.
    "albrecht_shanahan": (
        (0.238, 0.006, 0.111, 0.006, 0.137, 0.094, 0.016, 0.214, 0.009, 0.080, 0.008, 0.081),
        (0.220, 0.006, 0.104, 0.123, 0.019, 0.103, 0.012, 0.214, 0.062, 0.022, 0.061, 0.052),
    ),
    # Faraldo, Gómez, Jordà & Herrera (2016), "Key Estimation in Electronic Dance Music", ECIR 2016:
    # the automatically extracted "edma" profiles (as published with Essentia's Key algorithm).
    "edm": (
        (0.16519551, 0.04749026, 0.08293076, 0.06687112, 0.09994645, 0.09274123,
         0.05294487, 0.13159476, 0.05218986, 0.07443653, 0.06940723, 0.0642515),
        (0.17235348, 0.05336489, 0.0761009, 0.10043649, 0.05621498, 0.08527853,
         0.0497915, 0.13451001, 0.07458916, 0.05003023, 0.09187879, 0.05545106),
    ),
}
# fmt: on

MODES: tuple[str, str] = ("major", "minor")
# Probe-tone ratings spread weight over every diatonic degree and corpus counts sit on tonic and
# dominant; each alone mistakes some keys for their dominant or relative, and their mean fewer.
DEFAULT_PROFILE = "krumhansl+albrecht_shanahan"

# The spelling a musician writes, i.e. the key signature with the fewest accidentals; at six
# accidentals the conventional choice (F# major, Eb minor). Index = tonic pitch class, C = 0.
_MAJOR_NAMES = ("C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
_MINOR_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "G#", "A", "Bb", "B")


def spell_key(tonic_pitch_class: int, mode: str) -> str:
    """Name a key the way ACE-Step accepts it ("<A-G>[#|b] major|minor"), with conventional spelling."""
    if mode not in MODES:
        raise ValueError(f"mode must be 'major' or 'minor', not {mode!r}")
    names = _MAJOR_NAMES if mode == "major" else _MINOR_NAMES
    return f"{names[int(tonic_pitch_class) % 12]} {mode}"


def key_index_name(index: int) -> str:
    """Name of entry `index` of `key_correlations` (0-11 major on C..B, 12-23 minor on C..B)."""
    return spell_key(index % 12, MODES[index // 12])


def profile_parts(profile: str) -> tuple[str, ...]:
    """The profiles named by `profile`: one name from PROFILES, or several joined by "+"."""
    parts = tuple(part.strip() for part in profile.split("+"))
    unknown = [part for part in parts if part not in PROFILES]
    if unknown:
        raise ValueError(
            f"unknown key profile {unknown[0]!r} in {profile!r}; choose from {', '.join(PROFILES)},"
            ' or several joined by "+"'
        )
    return parts


def key_correlations(chroma: np.ndarray, profile: str | KeyProfile) -> np.ndarray:
    """Pearson correlation of a 12-bin chroma (C first) with the 24 rotated profiles.

    Returns 24 values: majors on C..B, then minors on C..B (see `key_index_name`). A combined
    profile ("a+b") gives the mean of its parts' correlations.
    """
    import numpy as np

    if isinstance(profile, str):
        parts = profile_parts(profile)
        return np.mean([_profile_correlations(chroma, PROFILES[part]) for part in parts], axis=0)
    return _profile_correlations(chroma, profile)


def _profile_correlations(chroma: np.ndarray, profile: KeyProfile) -> np.ndarray:
    import numpy as np  # here, not at the top: key names and spelling need no numpy

    major, minor = profile
    x = np.asarray(chroma, dtype=np.float64)
    if x.shape != (12,):
        raise ValueError(f"chroma must have 12 bins, got shape {x.shape}")
    x = x - x.mean()
    norm = np.linalg.norm(x)
    if norm <= 0 or not np.isfinite(norm):
        return np.zeros(24)
    x = x / norm
    out = np.empty(24)
    for m, weights in enumerate((major, minor)):
        p = np.asarray(weights, dtype=np.float64)
        p = p - p.mean()
        p = p / np.linalg.norm(p)
        # profile rotated so that its tonic sits on pitch class t
        out[12 * m : 12 * m + 12] = [float(x @ np.roll(p, t)) for t in range(12)]
    return out


def profile_names() -> tuple[str, ...]:
    return tuple(PROFILES)


def key_identity(keyscale: str | None) -> tuple[int, str] | None:
    """Pitch class and mode, so enharmonic spellings (F# minor, Gb minor) count as the same key."""
    if not keyscale:
        return None
    note, _, mode = keyscale.partition(" ")
    pitch = NATURAL_PITCH_CLASSES.get(note[:1].upper())
    if pitch is None:
        return None
    pitch += note[1:].count("#") - note[1:].count("b")
    return pitch % 12, mode


# DJ notations: the wheel number steps a fifth (7 semitones) per hour; the letter is the mode.
# Camelot: 8B = C major, 8A = A minor. Open Key: 1d = C major, 1m = A minor.
_WHEEL = re.compile(r"^(1[0-2]|0?[1-9])\s*([ABabdDmM])$")
_WHEEL_TONIC = {"camelot": (8, 0, 9), "open_key": (1, 0, 9)}  # (hour of C major, C major pc, A minor pc)
_NOTE_KEY = re.compile(
    r"^([A-Ga-g])\s*(#|b|♯|♭|sharp|flat)?\s*(major|minor|maj|min|m|dur|moll)?$", flags=re.IGNORECASE
)
_ACCIDENTAL = {"#": "#", "♯": "#", "sharp": "#", "b": "b", "♭": "b", "flat": "b"}


def parse_key_notation(text: str) -> str | None:
    """A key as people and DJ software write it, in ACE-Step's spelling (`A minor`); None when unreadable.

    Why: ID3 `TKEY` tags, spreadsheets and DJ tools write `Am`, `F#m`, `Dbmaj`, Camelot `8A` or Open Key
    `1m`; the dataset holds one spelling. A note name keeps the accidental it was written with (a human
    chose `Gb`, not `F#`); a wheel position is spelled as an estimate would be (`spell_key`). A bare note
    is major (ID3's convention: minor is written `m`); `o` (ID3's "off key") and anything else is None.
    """
    value = " ".join(text.strip().split())
    wheel = _WHEEL.match(value)
    if wheel:
        hour, letter = int(wheel.group(1)), wheel.group(2)
        system = "camelot" if letter.upper() in "AB" else "open_key"
        minor = letter.upper() == "A" if system == "camelot" else letter.lower() == "m"
        c_hour, major_pc, minor_pc = _WHEEL_TONIC[system]
        tonic = (minor_pc if minor else major_pc) + 7 * (hour - c_hour)
        return spell_key(tonic, "minor" if minor else "major")
    note = _NOTE_KEY.match(value)
    if not note:
        return None
    letter, accidental, mode = note.group(1).upper(), note.group(2), note.group(3)
    if accidental is not None and accidental.lower() not in ("sharp", "flat") and accidental == "B":
        return None  # "AB": an upper-case B is a note, not a flat
    sign = _ACCIDENTAL.get((accidental or "").lower(), "") if accidental else ""
    if mode is None:
        mode_name = "major"
    elif mode == "m" or mode.lower() in ("minor", "min", "moll"):
        mode_name = "minor"
    elif mode == "M" or mode.lower() in ("major", "maj", "dur"):
        mode_name = "major"
    else:
        return None
    return f"{letter}{sign} {mode_name}"
