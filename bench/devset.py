"""Render the tempo dev set: public-domain folk tunes from the music21 corpus at known tempo.

    python bench/devset.py [--out ~/.cache/songset/bench/devset] [--per-meter 12] [--seconds 25] [--seed 0]
                           [--variety]

v9's set (what bench/estimate.py and bench/train_tempo.py read by default):
    python bench/devset.py --out ~/.cache/songset/bench/devset9 --per-meter 40 --seconds 20 --seed 9 --variety
v10's produced-music set (other tunes, produced arrangements; see `write_produced_midi`):
    python bench/devset.py --out ~/.cache/songset/bench/devset20 --per-meter 30 --seconds 20 --seed 20 \
        --produced --exclude ~/.cache/songset/bench/devset9/labels.csv

Tunes in 2/4, 3/4, 4/4 and 6/8 with a major or minor key (modal tunes are left out: their key label
would be a guess) are drawn from the corpus's ABC collections (Ryan's Mammoth, O'Neill's 1850, the
Essen folk songs, Aird's Airs ...). Each tune is rendered twice with FluidSynth and a General MIDI
soundfont: once alone (one GM melody instrument) and once with a GM drum part added here (kick, snare,
closed hi-hat in a pattern for its meter; with --variety one of two patterns, and half the renders get
a bass line), at two tempos from a grid spread evenly over 55-200 BPM, so
every tempo band has drummed and drumless clips. The beat is the quarter note in 2/4, 3/4 and 4/4 and
the dotted quarter in 6/8, as tempo data sets label them. Tunes are looped to fill the clip.

Tunes are split by tune (never one render in each half) into a "tune" half, the only one any setting
may be fitted on, and a "check" half that the README quotes. Everything follows from `--seed`, so the
same arguments render the same set; `labels.csv` in the output folder lists every clip.

Needs the `bench` extra (music21, mido) and `fluidsynth` + `fluid-soundfont-gm` (Debian packages).
"""

from __future__ import annotations

import argparse
import csv
import math
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

SR = 22050
SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
METERS = {"2/4": 2, "3/4": 3, "4/4": 4, "C": 4, "6/8": 6}  # ABC M: field -> our meter label
BEAT_QL = {2: 1.0, 3: 1.0, 4: 1.0, 6: 1.5}  # quarter lengths per labelled beat
BAR_QL = {2: 2.0, 3: 3.0, 4: 4.0, 6: 3.0}
# GM programs for the melody: plucked, bowed, blown and struck, so onsets range from sharp to soft.
PROGRAMS = (0, 24, 40, 73, 21, 46, 71, 11, 56, 68)
KICK, SNARE, HAT, OPEN_HAT = 36, 38, 42, 46
# Drum hits per bar as (position in eighths, note, velocity): two grooves for each meter, drawn per
# render, so no one pattern is what "drums" means to a model fitted here.
DRUMS = {
    2: [(0, KICK, 110), (2, SNARE, 100)] + [(e, HAT, 70) for e in range(4)],
    3: [(0, KICK, 110), (2, SNARE, 90), (4, SNARE, 90)] + [(e, HAT, 70) for e in range(6)],
    4: [(0, KICK, 110), (2, SNARE, 100), (4, KICK, 105), (6, SNARE, 100)] + [(e, HAT, 70) for e in range(8)],
    6: [(0, KICK, 110), (3, SNARE, 100)] + [(e, HAT, 70) for e in range(6)],
}
DRUMS_ALT = {  # polka, waltz with quarter hats, four-on-the-floor, 6/8 with a kick on both beats
    2: [(0, KICK, 110), (2, KICK, 100), (2, SNARE, 95), (1, OPEN_HAT, 65), (3, OPEN_HAT, 65)],
    3: [(0, KICK, 110)] + [(e, HAT, 75) for e in (0, 2, 4)],
    4: [(e, KICK, 110) for e in (0, 2, 4, 6)]
    + [(2, SNARE, 95), (6, SNARE, 95)]
    + [(e, OPEN_HAT, 65) for e in (1, 3, 5, 7)],
    6: [(0, KICK, 110), (3, KICK, 100), (3, SNARE, 90)] + [(e, HAT, 65) for e in (0, 2, 3, 5)],
}
BASS_PROGRAMS = (32, 33, 34, 38)  # GM acoustic, finger, pick and synth bass
# Bass notes per bar, in beats of the meter: on the downbeat, and mid-bar where the bar has two halves.
BASS_BEATS = {2: (0,), 3: (0,), 4: (0, 2), 6: (0, 1)}
BPM_LOW, BPM_HIGH = 55.0, 200.0
TICKS = 480  # MIDI ticks per quarter note


@dataclass(frozen=True)
class Tune:
    source: str  # corpus-relative ABC file
    number: str  # X: field
    title: str
    meter: int
    key: str  # e.g. "G major", "E minor"
    text: str  # the tune's ABC text


ABC_PITCH = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}


def abc_key(field: str) -> str | None:
    """ABC K: field as "<tonic> major|minor"; None for modes (dor, mix ...), which have no such label."""
    m = re.fullmatch(r"([A-Ga-g])([#b]?)\s*(m|min|minor|maj|major)?", field.strip(), flags=re.IGNORECASE)
    if not m:
        return None
    tonic = m.group(1).upper() + m.group(2)
    mode = "minor" if (m.group(3) or "").lower() in ("m", "min", "minor") else "major"
    return f"{tonic} {mode}"


def find_tunes() -> list[Tune]:
    """Every single-meter, major/minor tune in the corpus's ABC files, in a stable order."""
    from music21 import corpus

    tunes = []
    for path in sorted(corpus.getCorePaths(fileExtensions=("abc",))):
        text = Path(path).read_text(errors="replace")
        source = str(path).split("/corpus/")[-1]
        for block in re.split(r"(?m)^(?=X:)", text):
            number = re.search(r"(?m)^X:\s*(\S+)", block)
            meters = re.findall(r"(?m)^M:\s*(\S+)", block)
            keys = re.findall(r"(?m)^K:\s*([^\n%]+)", block)
            if not number or len(set(meters)) != 1 or meters[0] not in METERS or len(set(keys)) != 1:
                continue
            key = abc_key(keys[0])
            title = re.search(r"(?m)^T:\s*(.+)", block)
            if key:
                tunes.append(
                    Tune(
                        source,
                        number.group(1),
                        title.group(1).strip() if title else "",
                        METERS[meters[0]],
                        key,
                        block,
                    )
                )
    return tunes


def note_events(tune: Tune) -> tuple[list[tuple[float, float, int]], float, float]:
    """(onset, length, midi pitch) in quarter lengths, the first downbeat's offset, the tune's length."""
    from music21 import converter

    score = converter.parseData(tune.text, format="abc")
    part = score.parts[0] if hasattr(score, "parts") and score.parts else score
    measures = list(part.getElementsByClass("Measure"))
    bar = BAR_QL[tune.meter]
    # a pickup (anacrusis) bar is shorter than a full one: the first downbeat is where it ends
    first_downbeat = 0.0
    if measures and measures[0].duration.quarterLength < bar - 1e-6:
        first_downbeat = float(measures[0].duration.quarterLength)
    events = []
    for n in part.flatten().notes:
        for p in n.pitches:
            if n.duration.quarterLength > 0:
                events.append((float(n.offset), float(n.duration.quarterLength), int(p.midi)))
    end = max((o + d for o, d, _ in events), default=0.0)
    return events, first_downbeat, end


def write_midi(
    path: Path,
    tune: Tune,
    bpm: float,
    seconds: float,
    program: int,
    drums: bool,
    groove: int = 0,
    bass_program: int | None = None,
) -> None:
    """The tune looped to `seconds` at `bpm` (beats of its meter), with a drum part if asked (`groove`
    0: DRUMS, 1: DRUMS_ALT) and a bass line if `bass_program` is given: each bar's first melody note
    two octaves down (at least to E1-E2), on BASS_BEATS, as a plain accompaniment marks the bar."""
    import mido

    events, first_downbeat, end = note_events(tune)
    if not events:
        raise ValueError(f"{tune.source} X:{tune.number}: no notes")
    bar = BAR_QL[tune.meter]
    quarter_bpm = bpm * BEAT_QL[tune.meter]
    total_ql = seconds * quarter_bpm / 60.0 + bar
    loop = math.ceil(end / bar - 1e-6) * bar  # whole bars, so every repeat keeps the drums' downbeats
    messages: list[tuple[float, int, mido.Message]] = []  # (ql, order, message): offs before ons
    repeat = 0
    while repeat * loop < total_ql:
        for onset, length, pitch in events:
            at = repeat * loop + onset
            if at >= total_ql:
                continue
            # players lean on downbeats and beats: a mild accent, as any performance has
            position = (at - first_downbeat) % bar
            velocity = 92 if position < 1e-6 else 80 if (position / BEAT_QL[tune.meter]) % 1 < 1e-6 else 68
            messages.append((at, 1, mido.Message("note_on", channel=0, note=pitch, velocity=velocity)))
            messages.append((at + 0.95 * length, 0, mido.Message("note_off", channel=0, note=pitch)))
        repeat += 1
    if bass_program is not None:
        bar_start = first_downbeat - bar if first_downbeat > 0 else 0.0
        while bar_start < total_ql:
            in_loop = (bar_start % loop) if loop > 0 else 0.0
            pitch = next((p for o, _, p in sorted(events) if o >= in_loop - 1e-6), events[0][2])
            while pitch > 52:
                pitch -= 12
            for beat in BASS_BEATS[tune.meter]:
                at = bar_start + beat * BEAT_QL[tune.meter]
                if 0 <= at < total_ql:
                    messages.append((at, 1, mido.Message("note_on", channel=1, note=pitch, velocity=85)))
                    messages.append(
                        (at + 0.9 * BEAT_QL[tune.meter], 0, mido.Message("note_off", channel=1, note=pitch))
                    )
            bar_start += bar
    if drums:
        bar_start = first_downbeat - bar if first_downbeat > 0 else 0.0
        pattern = DRUMS_ALT if groove else DRUMS
        while bar_start < total_ql:
            for eighth, note, velocity in pattern[tune.meter]:
                at = bar_start + 0.5 * eighth
                if 0 <= at < total_ql:
                    messages.append((at, 1, mido.Message("note_on", channel=9, note=note, velocity=velocity)))
                    messages.append((at + 0.25, 0, mido.Message("note_off", channel=9, note=note)))
            bar_start += bar
    track = mido.MidiTrack()
    track.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(quarter_bpm)))
    track.append(mido.Message("program_change", channel=0, program=program))
    if bass_program is not None:
        track.append(mido.Message("program_change", channel=1, program=bass_program))
    now = 0
    for at, _, message in sorted(messages, key=lambda m: (m[0], m[1])):
        tick = round(at * TICKS)
        track.append(message.copy(time=tick - now))
        now = tick
    midi = mido.MidiFile(ticks_per_beat=TICKS)
    midi.tracks.append(track)
    midi.save(path)


# ---- produced-music renders (--produced) ------------------------------------------------------------------
# Produced songs (ballads, lo-fi, R&B, dance, trap) put dense subdivisions over a slow beat (16th hats,
# hat rolls, ghost snares), play half-time grooves at fast written tempos, hold pad chords and lock the
# bass to the kick: none of which the folk grooves above have. Each groove is drawn independently of the
# tempo, so no groove stands for a tempo band; the label stays the tempo the tune is written at.
GROOVE_FAMILIES = ("ballad16", "halftime", "four_floor", "breakbeat", "trap")
CLAP, RIM = 39, 37
PAD_PROGRAMS = (88, 89, 90, 91, 94, 48, 49, 50)  # GM pads and string ensembles
COMP_PROGRAMS = (0, 4, 5, 46, 24)  # piano, electric pianos, harp, nylon guitar: 16th-note arpeggios
SCALES = {"major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 10)}


def backbeats(beats_per_bar: int) -> tuple[int, ...]:
    """Beats of a bar that take the snare: 2 and 4 in four, the second beat in two (and of 6/8's two)."""
    return (1, 2) if beats_per_bar == 3 else tuple(range(1, beats_per_bar, 2))


def groove_hits(family: str, meter: int) -> list[tuple[float, int, int]]:
    """(quarter lengths into a two-bar cycle, GM drum note, velocity) for one groove family and meter."""
    beat, bar = BEAT_QL[meter], BAR_QL[meter]
    per_bar = round(bar / beat)
    cycle = 2 * bar
    hits: list[tuple[float, int, int]] = []

    def grid(step: float, note: int, on_beat: int, off_beat: int) -> None:
        for i in range(round(cycle / step)):
            at = i * step
            hits.append((at, note, on_beat if (at / beat) % 1 < 1e-6 else off_beat))

    snare_beats = [b * beat + k * bar for k in (0, 1) for b in backbeats(per_bar)]
    # half time: one snare every two bars of two beats, or mid-bar in bars of three or four
    half_time = [bar] if per_bar == 2 else [2 * beat, bar + 2 * beat] if per_bar == 4 else [bar]
    if family == "ballad16":
        grid(0.25, HAT, 72, 48)
        hits += [(0.0, KICK, 110), (bar, KICK, 105), (bar + beat + 0.5 * beat, KICK, 90)]
        hits += [(at, SNARE, 100) for at in snare_beats]
    elif family == "halftime":
        grid(0.5, HAT, 75, 60)
        hits += [(0.0, KICK, 112), (1.5 * beat, KICK, 95), (bar + 0.75 * beat, KICK, 90)]
        hits += [(at, SNARE, 108) for at in half_time]
    elif family == "four_floor":
        grid(0.25, HAT, 50, 40)
        hits += [(b * beat, KICK, 112) for b in range(2 * per_bar)]
        hits += [(b * beat + 0.5 * beat, OPEN_HAT, 80) for b in range(2 * per_bar)]
        hits += [(at, CLAP, 100) for at in snare_beats]
    elif family == "breakbeat":
        grid(0.5, HAT, 70, 58)
        hits += [(0.0, KICK, 110), (0.5 * beat, KICK, 90), (bar + 0.75 * beat, KICK, 95)]
        hits += [(at, SNARE, 105) for at in snare_beats]
        hits += [(at + 0.75 * beat, SNARE, 42) for at in snare_beats] + [(bar - 0.25, SNARE, 45)]
    elif family == "trap":
        grid(0.25, HAT, 70, 55)
        roll_start = cycle - beat
        hits += [(roll_start + 0.125 * i, HAT, 50 + 4 * i) for i in range(round(beat / 0.125))]
        hits += [(0.0, KICK, 115), (0.75 * beat, KICK, 100), (bar + 0.5 * beat, KICK, 100)]
        hits += [(at, CLAP, 105) for at in half_time] + [(at, RIM, 60) for at in half_time]
    else:
        raise ValueError(f"unknown groove family {family!r}")
    return [(at, note, velocity) for at, note, velocity in hits if at < cycle - 1e-9]


def bar_triads(tune: Tune, events: list[tuple[float, float, int]], first_downbeat: float) -> list[int]:
    """One triad root per bar of the tune, as a scale degree (0-6): the degree nearest the bar's first
    melody note, a plain harmonisation that keeps the pad in the tune's key."""
    tonic_name, mode = tune.key.split()
    tonic = (ABC_PITCH[tonic_name[0]] + tonic_name[1:].count("#") - tonic_name[1:].count("b")) % 12
    scale = [(tonic + step) % 12 for step in SCALES[mode]]
    bar = BAR_QL[tune.meter]
    end = max(o + d for o, d, _ in events)
    roots = []
    start = first_downbeat - bar if first_downbeat > 0 else 0.0
    while start < end:
        pitch = next((p for o, _, p in sorted(events) if o >= start - 1e-6), events[0][2])
        pc = pitch % 12
        roots.append(min(range(7), key=lambda d: min((scale[d] - pc) % 12, (pc - scale[d]) % 12)))
        start += bar
    return roots


def write_produced_midi(
    path: Path,
    tune: Tune,
    bpm: float,
    seconds: float,
    program: int,
    family: str | None,
    pad_program: int,
    bass_program: int,
    comp_program: int | None,
) -> None:
    """The tune's melody at `bpm` over a produced arrangement: a groove (`family`, None for none), a pad
    holding each bar's triad, a bass on every kick (on the bar's strong beats without drums) and, if
    `comp_program` is given, a 16th-note arpeggio of the triad."""
    import mido

    events, first_downbeat, end = note_events(tune)
    if not events:
        raise ValueError(f"{tune.source} X:{tune.number}: no notes")
    tonic_name, mode = tune.key.split()
    tonic = (ABC_PITCH[tonic_name[0]] + tonic_name[1:].count("#") - tonic_name[1:].count("b")) % 12
    scale = [(tonic + step) % 12 for step in SCALES[mode]]
    degrees = bar_triads(tune, events, first_downbeat)
    bar, beat = BAR_QL[tune.meter], BEAT_QL[tune.meter]
    quarter_bpm = bpm * beat
    total_ql = seconds * quarter_bpm / 60.0 + bar
    loop = math.ceil(end / bar - 1e-6) * bar
    origin = first_downbeat - bar if first_downbeat > 0 else 0.0
    messages: list[tuple[float, int, mido.Message]] = []

    def note(at: float, length: float, channel: int, pitch: int, velocity: int) -> None:
        if 0 <= at < total_ql:
            messages.append((at, 1, mido.Message("note_on", channel=channel, note=pitch, velocity=velocity)))
            messages.append((at + length, 0, mido.Message("note_off", channel=channel, note=pitch)))

    repeat = 0
    while repeat * loop < total_ql:
        for onset, length, pitch in events:
            note(repeat * loop + onset, 0.95 * length, 0, pitch, 84)
        repeat += 1
    cycle = 2 * bar
    hits = groove_hits(family, tune.meter) if family else []
    kicks = sorted(at for at, n, _ in hits if n == KICK) or [
        k * bar + b * beat for k in (0, 1) for b in BASS_BEATS[tune.meter]
    ]
    bar_index = 0
    start = origin
    while start < total_ql:
        in_loop_bar = round(((start - origin) % loop) / bar) % max(len(degrees), 1)
        degree = degrees[in_loop_bar]
        triad = [scale[(degree + k) % 7] for k in (0, 2, 4)]
        pad = [55 + (pc - 55) % 12 for pc in triad]  # G3 .. F#4
        for pitch in pad:
            note(start, 0.98 * bar, 1, pitch, 62)
        root = 36 + (triad[0] - 36) % 12  # C2 .. B2
        cycle_start = start - (bar_index % 2) * bar
        for at in kicks:
            if start - 1e-9 <= cycle_start + at < start + bar - 1e-9:
                nxt = [k for k in kicks if k > at]
                length = min((nxt[0] if nxt else cycle) - at, bar) * 0.9
                note(cycle_start + at, length, 2, root, 95)
        if comp_program is not None:
            arpeggio = [p + 12 for p in pad] + [pad[1] + 24, pad[0] + 12]
            for i in range(round(bar / 0.25)):
                note(start + 0.25 * i, 0.22, 3, arpeggio[i % len(arpeggio)], 60 if i % 4 else 72)
        start += bar
        bar_index += 1
    if hits:
        start = origin
        while start < total_ql:
            for at, pitch, velocity in hits:
                note(start + at, 0.2, 9, pitch, velocity)
            start += cycle
    track = mido.MidiTrack()
    track.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(quarter_bpm)))
    for channel, prog in ((0, program), (1, pad_program), (2, bass_program), (3, comp_program)):
        if prog is not None:
            track.append(mido.Message("program_change", channel=channel, program=prog))
    now = 0
    for at, _, message in sorted(messages, key=lambda m: (m[0], m[1])):
        tick = round(at * TICKS)
        track.append(message.copy(time=tick - now))
        now = tick
    midi = mido.MidiFile(ticks_per_beat=TICKS)
    midi.tracks.append(track)
    midi.save(path)


def render(midi_path: Path, out_path: Path, seconds: float, soundfont: Path) -> None:
    """FluidSynth to a WAV, cut to `seconds` with a short fade, peak-normalised, saved as FLAC."""
    wav = midi_path.with_suffix(".wav")
    subprocess.run(
        [
            "fluidsynth",
            "-ni",
            "-q",
            "-g",
            "0.5",
            "-r",
            str(SR),
            "-F",
            str(wav),
            str(soundfont),
            str(midi_path),
        ],
        check=True,
        capture_output=True,
    )
    y, sr = sf.read(wav, dtype="float32")
    y = y.mean(axis=1) if y.ndim == 2 else y
    y = y[: int(seconds * sr)]
    fade = int(0.05 * sr)
    y[-fade:] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
    y = 0.9 * y / max(float(np.abs(y).max()), 1e-9)
    sf.write(out_path, y, sr, format="FLAC")


def choose(tunes: list[Tune], per_meter: int, rng: np.random.Generator) -> list[Tune]:
    """`per_meter` tunes of each meter, drawn without replacement, one per title at most."""
    chosen = []
    for meter in sorted(set(METERS.values())):
        pool = [t for t in tunes if t.meter == meter]
        seen: set[str] = set()
        for i in rng.permutation(len(pool)):
            tune = pool[int(i)]
            if tune.title.lower() in seen:
                continue
            seen.add(tune.title.lower())
            chosen.append(tune)
            if sum(t.meter == meter for t in chosen) == per_meter:
                break
    return chosen


def render_produced(
    tune: Tune,
    index: int,
    tempos: np.ndarray,
    program: int,
    half: str,
    rng: np.random.Generator,
    args: argparse.Namespace,
    tmp: Path,
) -> list[dict[str, object]]:
    """Two produced-style renders of one tune (`write_produced_midi`), each with its own draws."""
    rows: list[dict[str, object]] = []
    for take in (0, 1):
        family = None if rng.random() < 0.2 else GROOVE_FAMILIES[int(rng.integers(len(GROOVE_FAMILIES)))]
        pad = PAD_PROGRAMS[int(rng.integers(len(PAD_PROGRAMS)))]
        bass = BASS_PROGRAMS[int(rng.integers(len(BASS_PROGRAMS)))]
        comp = COMP_PROGRAMS[int(rng.integers(len(COMP_PROGRAMS)))] if rng.random() < 0.5 else None
        bpm = round(float(tempos[2 * index + take]), 1)
        name = f"{index:03d}_{tune.meter}_{family or 'nodrums'}_{bpm:.1f}.flac"
        midi_path = tmp / f"{index}_{take}.mid"
        try:
            write_produced_midi(midi_path, tune, bpm, args.seconds, program, family, pad, bass, comp)
            render(midi_path, args.out / name, args.seconds, args.soundfont)
        except Exception as exc:  # one unreadable tune must not sink the set
            print(f"skipped {tune.source} X:{tune.number}: {exc}")
            continue
        rows.append(
            {
                "file": name,
                "bpm": bpm,
                "key": tune.key,
                "meter": tune.meter,
                "drums": int(family is not None),
                "half": half,
                "piece": f"{tune.source}#{tune.number}",
                "title": tune.title,
                "program": program,
                "groove": family or "",
                "bass": bass,
            }
        )
        print(f"{name}  {tune.key:9s}  {half:5s}  {tune.title[:40]}")
    return rows


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("~/.cache/songset/bench/devset").expanduser())
    ap.add_argument("--per-meter", type=int, default=12, help="tunes per meter (each rendered twice)")
    ap.add_argument("--seconds", type=float, default=25.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--soundfont", type=Path, default=SOUNDFONT)
    ap.add_argument(
        "--variety",
        action="store_true",
        help="draw one of two grooves per meter and, for half the renders, a bass line (the v9 set)",
    )
    ap.add_argument(
        "--produced",
        action="store_true",
        help="produced-music arrangements: a groove family (GROOVE_FAMILIES, none for a fifth), pad chords,"
        " a bass on the kick, a 16th arpeggio for half the renders; every render of a tune has drums or not"
        " by draw, not by a fixed pair",
    )
    ap.add_argument(
        "--exclude",
        type=Path,
        action="append",
        default=[],
        help="labels.csv of another set whose tunes this one must not use (no tune in two sets' halves)",
    )
    args = ap.parse_args(argv)
    if not shutil.which("fluidsynth") or not args.soundfont.is_file():
        raise SystemExit("needs fluidsynth and a GM soundfont: apt-get install fluidsynth fluid-soundfont-gm")
    rng = np.random.default_rng(args.seed)
    used = set()
    for labels in args.exclude:
        with labels.open() as f:
            used |= {row["piece"] for row in csv.DictReader(f)}
    tunes = choose([t for t in find_tunes() if f"{t.source}#{t.number}" not in used], args.per_meter, rng)
    n_renders = 2 * len(tunes)
    tempos = np.linspace(BPM_LOW, BPM_HIGH, n_renders)[rng.permutation(n_renders)]
    # split by tune, half of each meter to each side
    half = {}
    for meter in sorted(set(METERS.values())):
        of_meter = [t for t in tunes if t.meter == meter]
        for rank, i in enumerate(rng.permutation(len(of_meter))):
            half[id(of_meter[int(i)])] = "tune" if rank % 2 == 0 else "check"
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for index, tune in enumerate(tunes):
            program = PROGRAMS[int(rng.integers(len(PROGRAMS)))]
            if args.produced:
                rows += render_produced(tune, index, tempos, program, half[id(tune)], rng, args, Path(tmp))
                continue
            for drums in (False, True):
                # v9 sets (--variety) draw a groove and a bass line per render; v8's set had neither
                groove = int(rng.integers(2)) if args.variety else 0
                bass = BASS_PROGRAMS[int(rng.integers(len(BASS_PROGRAMS)))] if args.variety else None
                if args.variety and rng.random() < 0.5:
                    bass = None
                bpm = round(float(tempos[2 * index + drums]), 1)
                name = f"{index:03d}_{tune.meter}_{'drums' if drums else 'nodrums'}_{bpm:.1f}.flac"
                midi_path = Path(tmp) / f"{index}_{drums}.mid"
                try:
                    write_midi(midi_path, tune, bpm, args.seconds, program, drums, groove, bass)
                    render(midi_path, args.out / name, args.seconds, args.soundfont)
                except Exception as exc:  # one unreadable tune must not sink the set
                    print(f"skipped {tune.source} X:{tune.number}: {exc}")
                    continue
                rows.append(
                    {
                        "file": name,
                        "bpm": bpm,
                        "key": tune.key,
                        "meter": tune.meter,
                        "drums": int(drums),
                        "half": half[id(tune)],
                        "piece": f"{tune.source}#{tune.number}",
                        "title": tune.title,
                        "program": program,
                        "groove": groove if drums else "",
                        "bass": "" if bass is None else bass,
                    }
                )
                print(f"{name}  {tune.key:9s}  {half[id(tune)]:5s}  {tune.title[:40]}")
    tmp_labels = args.out / "labels.csv.tmp"
    with tmp_labels.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    tmp_labels.replace(args.out / "labels.csv")
    print(f"{len(rows)} clips in {args.out}")


if __name__ == "__main__":
    main()
