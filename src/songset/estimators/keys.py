"""Key profiles and key spelling, kept apart from the audio code so they can be checked by eye.

Profiles are 12 weights, tonic first (index 0 = tonic, 1 = minor second, ...), one for major and one
for minor. Keys are found by correlating a song's chroma with all 24 rotations.
"""

from __future__ import annotations

import numpy as np

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
    if isinstance(profile, str):
        parts = profile_parts(profile)
        return np.mean([_profile_correlations(chroma, PROFILES[part]) for part in parts], axis=0)
    return _profile_correlations(chroma, profile)


def _profile_correlations(chroma: np.ndarray, profile: KeyProfile) -> np.ndarray:
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
