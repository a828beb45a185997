"""Synthetic songs with known tempo, key and meter for `bench/estimate.py`.

Each song is a chord progression (triads plus a bass line, additive synthesis with decaying partials)
in 3/4 or 4/4, in one of four arrangements, so the estimator is not tuned to one drum pattern:
- "backbeat": kick on 1 (and 3), snare on the other beats, hi-hats on eighths (rock, pop);
- "four_on_floor": kick on every beat, clap on 2 and 4, open hi-hat on the offbeats (dance music);
- "arpeggio": no drums; the chord broken into eighth notes, the beat marked only by the bass and accents;
- "low_arpeggio": no drums either, but the pad an octave lower, one bass note a bar (on 1) and offbeats
  nearly as loud as the beats, so less marks the beat (the arrangement the tests' `arpeggio` uses).
Everything is drawn from one seeded generator, so a given (n, seed) renders the same audio.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SR = 22050

# Scale degrees (semitones above the tonic) of chord roots and chord qualities.
MAJOR_PROGRESSIONS = [
    [(0, "maj"), (5, "maj"), (7, "maj"), (0, "maj")],  # I IV V I
    [(0, "maj"), (9, "min"), (5, "maj"), (7, "maj")],  # I vi IV V
    [(0, "maj"), (7, "maj"), (9, "min"), (5, "maj")],  # I V vi IV
    [(0, "maj"), (2, "min"), (7, "maj"), (0, "maj")],  # I ii V I
]
MINOR_PROGRESSIONS = [
    [(0, "min"), (5, "min"), (7, "maj"), (0, "min")],  # i iv V i (harmonic minor V)
    [(0, "min"), (8, "maj"), (3, "maj"), (7, "maj")],  # i VI III V
    [(0, "min"), (10, "maj"), (8, "maj"), (7, "maj")],  # i VII VI V (Andalusian)
    [(0, "min"), (5, "min"), (0, "min"), (7, "maj")],  # i iv i V
]
QUALITY = {"maj": (0, 4, 7), "min": (0, 3, 7)}
STYLES = ("backbeat", "four_on_floor", "arpeggio", "low_arpeggio")
PITCH_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "G#", "A", "Bb", "B")


@dataclass(frozen=True)
class SynthSong:
    name: str
    bpm: float
    tonic: int  # pitch class, C = 0
    mode: str  # "major" | "minor"
    meter: int  # beats per bar
    style: str  # see STYLES
    samples: np.ndarray  # mono float32 at SR


def _hz(midi: float) -> float:
    return 440.0 * 2.0 ** ((midi - 69) / 12)


def _tone(
    freq: float, seconds: float, rng: np.random.Generator, decay: float, harmonics: int = 6
) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    out = np.zeros_like(t)
    for k in range(1, harmonics + 1):
        if k * freq >= SR / 2:
            break
        out += np.sin(2 * np.pi * k * freq * t + rng.uniform(0, 2 * np.pi)) / k**1.3
    env = np.exp(-decay * t) * np.minimum(1.0, t / 0.008) * np.clip((seconds - t) / 0.03, 0.0, 1.0)
    return out * env


def _kick() -> np.ndarray:
    t = np.arange(int(0.3 * SR)) / SR
    freq = 45 + 110 * np.exp(-t * 35)
    return np.sin(2 * np.pi * np.cumsum(freq) / SR) * np.exp(-t * 10)


def _snare(rng: np.random.Generator) -> np.ndarray:
    t = np.arange(int(0.2 * SR)) / SR
    noise = rng.standard_normal(len(t)) * np.exp(-t * 25)
    body = np.sin(2 * np.pi * 190 * t) * np.exp(-t * 30)
    return 0.6 * noise + 0.5 * body


def _hihat(rng: np.random.Generator) -> np.ndarray:
    t = np.arange(int(0.06 * SR)) / SR
    noise = rng.standard_normal(len(t))
    noise = np.diff(noise, prepend=0.0)  # crude high-pass
    return noise * np.exp(-t * 70)


def _place(track: np.ndarray, sound: np.ndarray, at_s: float, gain: float) -> None:
    i = round(at_s * SR)
    n = min(len(sound), len(track) - i)
    if n > 0 and i >= 0:
        track[i : i + n] += gain * sound[:n]


def _open_hat(rng: np.random.Generator) -> np.ndarray:
    t = np.arange(int(0.18 * SR)) / SR
    noise = np.diff(rng.standard_normal(len(t)), prepend=0.0)
    return noise * np.exp(-t * 18)


def _broken_chord(
    track: np.ndarray,
    chord: list[int],
    meter: int,
    t0: float,
    beat: float,
    rng: np.random.Generator,
    octave: int,
    gains: tuple[float, float],
) -> None:
    """One bar of the chord broken into eighths, climbing an octave every three notes from `octave`
    above it; `gains` are (on the beat, between beats)."""
    for i in range(2 * meter):
        note = chord[i % 3] + 12 * (octave + (i // 3) % 2)
        _place(track, _tone(_hz(note), 0.45 * beat, rng, decay=4.0), t0 + i * beat / 2, gains[i % 2])


def render(
    bpm: float,
    tonic: int,
    mode: str,
    meter: int,
    seconds: float,
    rng: np.random.Generator,
    style: str = "backbeat",
) -> np.ndarray:
    beat = 60.0 / bpm
    bar = meter * beat
    n_bars = max(4, int(np.ceil(seconds / bar)))
    length = int(seconds * SR)
    harmony = np.zeros(length + SR)
    drums = np.zeros(length + SR)
    progs = MAJOR_PROGRESSIONS if mode == "major" else MINOR_PROGRESSIONS
    prog = progs[int(rng.integers(len(progs)))]
    base = 48 + tonic if tonic <= 6 else 36 + tonic  # chord register C3..F#3 / G2..B2
    for b in range(n_bars):
        t0 = b * bar
        if t0 >= seconds:
            break
        root, quality = prog[b % len(prog)]
        chord = [base + root + q for q in QUALITY[quality]]
        chord = [n + 12 if n < base else n for n in chord]
        if style == "low_arpeggio":
            for n in chord:
                _place(harmony, _tone(_hz(n - 12), bar, rng, decay=0.8), t0, 0.15)
            _place(harmony, _tone(_hz(chord[0] - 24), beat, rng, decay=3.0, harmonics=4), t0, 0.5)
            _broken_chord(harmony, chord, meter, t0, beat, rng, octave=0, gains=(0.25, 0.14))
            continue
        # pad: sustained chord for the bar
        for n in chord:
            _place(harmony, _tone(_hz(n), bar, rng, decay=0.8), t0, 0.25)
        # bass: root on beat 1, fifth on a later beat
        bass_root = base + root - 12
        _place(harmony, _tone(_hz(bass_root), 0.9 * beat, rng, decay=3.0, harmonics=4), t0, 0.5)
        _place(
            harmony,
            _tone(_hz(bass_root + 7), 0.9 * beat, rng, decay=3.0, harmonics=4),
            t0 + (meter - 1) * beat,
            0.35,
        )
        scale = (0, 2, 4, 5, 7, 9, 11) if mode == "major" else (0, 2, 3, 5, 7, 8, 11)
        if style == "arpeggio":
            _broken_chord(harmony, chord, meter, t0, beat, rng, octave=1, gains=(0.22, 0.12))
            continue
        # a melody note per beat from the chord / scale
        for i in range(meter):
            pc = chord[i % 3] + 12 if i % 2 == 0 else base + 12 + scale[int(rng.integers(7))]
            _place(harmony, _tone(_hz(pc), 0.8 * beat, rng, decay=2.5), t0 + i * beat, 0.18)
        # drums
        for i in range(meter):
            t = t0 + i * beat
            if style == "four_on_floor":
                _place(drums, _kick(), t, 1.0)
                if i % 2 == 1:
                    _place(drums, _snare(rng), t, 0.45)
                _place(drums, _open_hat(rng), t + beat / 2, 0.2)
                continue
            if i == 0:
                _place(drums, _kick(), t, 1.0)
            elif meter == 4 and i == 2:
                _place(drums, _kick(), t, 0.8)
            if (meter == 4 and i in (1, 3)) or (meter == 3 and i in (1, 2)):
                _place(drums, _snare(rng), t, 0.55 if meter == 4 else 0.3)
            _place(drums, _hihat(rng), t, 0.25)
            _place(drums, _hihat(rng), t + beat / 2, 0.12)
    mix = harmony + 0.8 * drums
    mix = mix[:length]
    mix += 0.003 * rng.standard_normal(length)
    return (0.8 * mix / max(float(np.max(np.abs(mix))), 1e-9)).astype(np.float32)


def synthetic_songs(
    n: int, seed: int = 0, seconds: float = 30.0, styles: tuple[str, ...] = STYLES
) -> list[SynthSong]:
    """`n` songs; keys cycle through all 24 (so n >= 24 covers every key), tempos spread over 60-180 bpm,
    every third song in 3/4, arrangements taken in turn from `styles`."""
    rng = np.random.default_rng(seed)
    keys = [(pc, mode) for mode in ("major", "minor") for pc in range(12)]
    order = rng.permutation(len(keys))
    # tempos: stratified over 60..180 on a log scale, shuffled
    edges = np.geomspace(60, 180, n + 1)
    tempos = rng.permutation(np.round(rng.uniform(edges[:-1], edges[1:]), 1))
    songs = []
    for i in range(n):
        tonic, mode = keys[order[i % 24]]
        meter = 3 if i % 3 == 2 else 4
        style = styles[(i // 3) % len(styles)]
        bpm = float(tempos[i])
        samples = render(bpm, tonic, mode, meter, seconds, rng, style)
        key = f"{PITCH_NAMES[tonic]}{'m' if mode == 'minor' else ''}"
        name = f"synth{i:02d}_{key}_{meter}-4_{bpm:g}_{style}"
        songs.append(SynthSong(name, bpm, tonic, mode, meter, style, samples))
    return songs
