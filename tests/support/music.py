"""Synthesized audio of known tempo, meter and key for the estimator tests (both librosa backends)."""

from __future__ import annotations

import numpy as np

from songset.audio import Audio, AudioInfo

SR = 22050
A_MINOR = [[57, 60, 64], [50, 53, 57], [52, 56, 59], [57, 60, 64]]  # Am Dm E Am
G_MAJOR = [[55, 59, 62], [48, 52, 55], [50, 54, 57], [55, 59, 62]]  # G C D G
G_SCALE = [55, 57, 59, 60, 62, 64, 66, 67, 67, 66, 64, 62, 60, 59, 57, 55]
C_MAJOR = [[60, 64, 67], [57, 60, 64], [53, 57, 60], [55, 59, 62]]  # C Am F G


def make_audio(samples: np.ndarray, sr: int = SR) -> Audio:
    samples = np.asarray(samples, dtype=np.float32)
    peak = float(np.max(np.abs(samples))) or 1.0
    samples = (0.8 * samples / peak).astype(np.float32)
    info = AudioInfo(duration=len(samples) / sr, sample_rate=sr, channels=1, format="synthetic")
    return Audio(samples=samples, sample_rate=sr, info=info)


def midi_hz(note: float) -> float:
    return 440.0 * 2.0 ** ((note - 69) / 12)


def tone(freq: float, seconds: float, harmonics: int = 8, decay: float = 0.0, sr: int = SR) -> np.ndarray:
    """A harmonic-rich tone (1/k partials), like a bowed or plucked string."""
    t = np.arange(int(seconds * sr)) / sr
    out = sum(np.sin(2 * np.pi * k * freq * t) / k for k in range(1, harmonics + 1) if k * freq < sr / 2)
    env = np.exp(-decay * t) if decay else np.ones_like(t)
    attack = np.minimum(1.0, t / 0.01)
    release = np.minimum(1.0, (seconds - t) / 0.02)
    return np.asarray(out * env * attack * np.clip(release, 0, 1))


def kick(sr: int = SR) -> np.ndarray:
    t = np.arange(int(0.25 * sr)) / sr
    freq = 50 + 100 * np.exp(-t * 30)
    return np.sin(2 * np.pi * np.cumsum(freq) / sr) * np.exp(-t * 12)


def click(sr: int = SR, seed: int = 0) -> np.ndarray:
    t = np.arange(int(0.05 * sr)) / sr
    return np.random.default_rng(seed).standard_normal(len(t)) * np.exp(-t * 80)


def place(track: np.ndarray, sound: np.ndarray, at_s: float, gain: float, sr: int = SR) -> None:
    i = round(at_s * sr)
    n = min(len(sound), len(track) - i)
    if n > 0:
        track[i : i + n] += gain * sound[:n]


def drum_track(bpm: float, beats_per_bar: int, bars: int, sr: int = SR) -> np.ndarray:
    """Kick on the downbeat, softer clicks on the other beats, quiet off-beat hi-hats."""
    beat = 60.0 / bpm
    track = np.zeros(int((bars * beats_per_bar + 1) * beat * sr))
    for i in range(bars * beats_per_bar):
        t = i * beat
        if i % beats_per_bar == 0:
            place(track, kick(sr), t, 1.0, sr)
            place(track, click(sr, i), t, 0.5, sr)
        else:
            place(track, click(sr, i), t, 0.35, sr)
        place(track, click(sr, 1000 + i), t + beat / 2, 0.1, sr)
    return track


def chord_track(
    chords: list[list[float]], seconds_per_chord: float, repeats: int, sr: int = SR
) -> np.ndarray:
    """Sustained chords (MIDI notes) with the root doubled an octave below."""
    parts = []
    for _ in range(repeats):
        for chord in chords:
            notes = [*chord, chord[0] - 12]
            parts.append(sum(tone(midi_hz(n), seconds_per_chord, decay=0.3) for n in notes))
    return np.concatenate(parts)


def snare(sr: int = SR, seed: int = 0) -> np.ndarray:
    """High-passed noise with a 220 Hz body: next to nothing below 200 Hz, where the kick lives."""
    t = np.arange(int(0.15 * sr)) / sr
    noise = np.diff(np.random.default_rng(seed).standard_normal(len(t)), prepend=0.0)
    return (noise + 0.5 * np.sin(2 * np.pi * 220 * t)) * np.exp(-t * 30)


def hihat(sr: int = SR, seed: int = 0) -> np.ndarray:
    t = np.arange(int(0.04 * sr)) / sr
    noise = np.diff(np.random.default_rng(seed).standard_normal(len(t)), n=2, prepend=[0.0, 0.0])
    return noise * np.exp(-t * 90)


def backbeat(bpm: float, bars: int, sr: int = SR) -> np.ndarray:
    """Rock beat: kick on 1 and 3, snare on 2 and 4, hi-hat eighths."""
    beat = 60.0 / bpm
    track = np.zeros(int((bars * 4 + 1) * beat * sr))
    for i in range(bars * 4):
        t = i * beat
        if i % 2 == 0:
            place(track, kick(sr), t, 1.0, sr)
        else:
            place(track, snare(sr, i), t, 0.6, sr)
        place(track, hihat(sr, 100 + i), t, 0.15, sr)
        place(track, hihat(sr, 500 + i), t + beat / 2, 0.1, sr)
    return track


def waltz(bpm: float, bars: int, sr: int = SR) -> np.ndarray:
    """Oom-pah-pah: bass note and kick on 1, short chord stabs on 2 and 3, a new chord each bar."""
    beat = 60.0 / bpm
    progression = [[57, 60, 64], [50, 53, 57], [52, 56, 59], [57, 60, 64]]  # Am Dm E Am
    track = np.zeros(int((bars * 3 + 1) * beat * sr))
    for bar in range(bars):
        chord = progression[bar % len(progression)]
        t0 = bar * 3 * beat
        place(track, tone(midi_hz(chord[0] - 24), 2.5 * beat, decay=2.0, sr=sr), t0, 1.0, sr)
        place(track, kick(sr), t0, 1.0, sr)
        for b in (1, 2):
            stab = sum(tone(midi_hz(n), 0.4 * beat, decay=6.0, sr=sr) for n in chord)
            place(track, stab, t0 + b * beat, 0.35, sr)
    return track


def two_bar_waltz(bpm: float, bars: int, sr: int = SR) -> np.ndarray:
    """3/4 with a kick on every beat; every other bar opens with a bass note and a new chord.

    Its accents repeat every six beats and hardly every three.
    """
    beat = 60.0 / bpm
    track = np.zeros(int((bars * 3 + 1) * beat * sr))
    for bar in range(bars):
        t0 = bar * 3 * beat
        if bar % 2 == 0:
            chord = A_MINOR[(bar // 2) % len(A_MINOR)]
            for n in chord:
                place(track, tone(midi_hz(n), 6 * beat, decay=0.5, sr=sr), t0, 0.2, sr)
            place(track, tone(midi_hz(chord[0] - 12), 1.5 * beat, decay=2.0, sr=sr), t0, 0.6, sr)
        for i in range(3):
            place(track, kick(sr), t0 + i * beat, 0.8, sr)
            if i == 1:
                place(track, snare(sr, 3 * bar + i), t0 + i * beat, 0.3, sr)
            place(track, hihat(sr, 500 + 3 * bar + i), t0 + (i + 0.5) * beat, 0.15, sr)
    return track


def six_eight(dotted_quarter_bpm: float, bars: int, sr: int = SR) -> np.ndarray:
    """6/8: kick on eighth 1, a lighter accent on eighth 4, soft clicks on the others."""
    eighth = 60.0 / dotted_quarter_bpm / 3
    track = np.zeros(int((bars * 6 + 2) * eighth * sr))
    for i in range(bars * 6):
        t = i * eighth
        if i % 6 == 0:
            place(track, kick(sr), t, 1.0, sr)
            place(track, click(sr, i), t, 0.5, sr)
        else:
            place(track, click(sr, i), t, 0.6 if i % 6 == 3 else 0.2, sr)
    return track


def close_to(bpm: float | None, target: float, tol: float = 0.04) -> bool:
    return bpm is not None and abs(bpm - target) <= tol * target


def arpeggio(bpm: float, beats_per_bar: int, bars: int, sr: int = SR) -> np.ndarray:
    """No drums: a held chord and a bass note each bar, the chord broken into eighths, louder on the beat."""
    beat = 60.0 / bpm
    track = np.zeros(int((bars * beats_per_bar + 1) * beat * sr))
    for bar in range(bars):
        chord = C_MAJOR[bar % len(C_MAJOR)]
        t0 = bar * beats_per_bar * beat
        for n in chord:
            place(track, tone(midi_hz(n - 12), beats_per_bar * beat, decay=0.8, sr=sr), t0, 0.15, sr)
        place(track, tone(midi_hz(chord[0] - 24), beat, decay=3.0, sr=sr), t0, 0.5, sr)
        for i in range(2 * beats_per_bar):
            note = chord[i % 3] + 12 * ((i // 3) % 2)
            gain = 0.25 if i % 2 == 0 else 0.14
            place(track, tone(midi_hz(note), 0.45 * beat, decay=4.0, sr=sr), t0 + i * beat / 2, gain, sr)
    return track


def rubato(seed: int = 3, seconds: float = 24.0) -> np.ndarray:
    """Chords and clicks whose beat period wanders freely (0.35-1.1 s, no two alike): no steady pulse."""
    rng = np.random.default_rng(seed)
    track = np.zeros(int((seconds + 2) * SR))
    t, i = 0.0, 0
    while t < seconds:
        chord = A_MINOR[i % len(A_MINOR)]
        period = float(rng.uniform(0.35, 1.1))
        stab = sum(tone(midi_hz(n), 0.3, decay=5.0) for n in chord)
        place(track, stab, t, float(rng.uniform(0.3, 1.0)))
        place(track, click(SR, i), t, float(rng.uniform(0.1, 0.6)))
        t += period
        i += 1
    return track
