"""Benchmark: songset's LibrosaEstimator against the plain librosa baseline, in one run.

    python bench/estimate.py [--data ../shared/data/acestep-generated] [--synthetic N] [--seed S] [--cc DIR]
                             [--explain-keys] [--essentia]

Data sets: the labelled ACE-Step set (prompt bpm is reliable, prompt key is a weak label), synthetic
songs rendered here at known tempo/key/meter in four arrangements (backbeat drums, four-on-the-floor,
two drumless arpeggios; bench/synth.py), and the CC recordings (informal: only a few keys are known).
Baseline = `librosa.beat.beat_track` tempo + Krumhansl profile on mean `chroma_cqt`; `--essentia` adds
Essentia's RhythmExtractor2013 (multifeature) and KeyExtractor, if installed (AGPL, never a dependency).
Speed is seconds per minute of audio on one core, decoding included (decoded once, charged to each).
This is a script that prints a table, not a test.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"
os.environ.setdefault("NUMBA_CACHE_DIR", os.path.expanduser("~/.cache/songset/numba"))

import argparse  # noqa: E402
import csv  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

from synth import SR, synthetic_songs  # noqa: E402

from songset.audio import Audio, AudioInfo, load_audio  # noqa: E402
from songset.config import compose, conf_dir, instantiate  # noqa: E402
from songset.estimators.librosa_estimator import (  # noqa: E402
    estimate_tempo,
    extract_features,
    span_chroma,
    track_beats,
)
from songset.sidecars import SidecarSettings  # noqa: E402
from songset.theory import key_correlations, key_index_name  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PITCH = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
RELATIVES = (2.0, 0.5, 3.0, 1 / 3)
TEMPO_BANDS = ((0.0, 90.0, "< 90"), (90.0, 135.0, "90-135"), (135.0, 1e9, ">= 135"))
# v9's dev set: python bench/devset.py --out ~/.cache/songset/bench/devset9 --per-meter 40 --seconds 20
#   --seed 9 --variety (v8's, ~/.cache/songset/bench/devset, is the same command's defaults)
DEVSET = Path("~/.cache/songset/bench/devset9").expanduser()
# produced-music renders of other tunes (issue 20, v10):
#   python bench/devset.py --out ~/.cache/songset/bench/devset20 --per-meter 30 --seconds 20 --seed 20
#   --produced --exclude ~/.cache/songset/bench/devset9/labels.csv
DEVSET20 = Path("~/.cache/songset/bench/devset20").expanduser()
# Informal labels for the CC recordings (see ../shared/data/README.md): only what is known.
CC_LABELS = {
    "Kevin_MacLeod_-_P_I_Tchaikovsky_Dance_of_the_Sugar_Plum_Fairy": {"key": "E minor"},
    "Hungarian_Dance_number_5_-_Allegro_in_F_sharp_minor_(string_orchestra)": {"key": "G minor"},
}


def parse_key(name: str | None) -> tuple[int, str] | None:
    if not name:
        return None
    note, mode = name.split()
    pc = PITCH[note[0].upper()] + note[1:].count("#") - note[1:].count("b")
    return pc % 12, mode.lower()


def mirex_key_score(est: str | None, ref: str | None) -> float:
    """MIREX: 1 exact, 0.5 fifth (same mode), 0.3 relative, 0.2 parallel, else 0."""
    e, r = parse_key(est), parse_key(ref)
    if e is None or r is None:
        return 0.0
    (ep, em), (rp, rm) = e, r
    d = (ep - rp) % 12
    if em == rm:
        return 1.0 if d == 0 else 0.5 if d in (5, 7) else 0.0
    if d == 0:
        return 0.2
    if (rm == "major" and d == 9) or (rm == "minor" and d == 3):
        return 0.3
    return 0.0


def tempo_ok(est: float | None, ref: float, tol: float = 0.04) -> bool:
    return est is not None and abs(est - ref) <= tol * ref


def tempo_ok2(est: float | None, ref: float) -> bool:
    return tempo_ok(est, ref) or any(tempo_ok(est, ref * r) for r in RELATIVES)


@dataclass
class Result:
    bpm: float | None
    key: str | None
    meter: str | None
    seconds: float
    bpm_conf: float | None = None
    key_conf: float | None = None
    meter_conf: float | None = None
    extra: dict = field(default_factory=dict)


@dataclass
class Track:
    name: str
    audio: Audio
    decode_s: float
    bpm: float | None = None
    key: str | None = None
    meter: str | None = None
    style: str | None = None  # synthetic arrangement
    drums: bool | None = None  # whether a drum kit plays (None: not labelled)


# which songset backend is "songset" in the tables: `--estimator NAME` (a conf/estimator file) and
# `--set estimator.KEY=VALUE` overrides, composed as the pipeline composes them; the default is the pipeline's
SONGSET: list[str] = ["estimator=librosa"]


def estimator_choices() -> list[str]:
    return sorted(p.stem for p in (conf_dir() / "estimator").glob("*.yaml"))


class Ours:
    def __init__(self) -> None:
        self.est = instantiate(compose(SONGSET).estimator)

    def __call__(self, audio: Audio) -> Result:
        t = time.perf_counter()
        e = self.est.estimate(audio)
        return Result(
            e.bpm,
            e.keyscale,
            e.timesignature,
            time.perf_counter() - t,
            e.bpm_confidence,
            e.key_confidence,
            e.timesignature_confidence,
            {"key_runner_up": e.key_runner_up},
        )


def baseline(audio: Audio) -> Result:
    import librosa

    t = time.perf_counter()
    y, sr = audio.samples, audio.sample_rate
    tempo, _ = librosa.beat.beat_track(y=y, sr=sr)
    chroma = librosa.feature.chroma_cqt(y=y, sr=sr)
    corr = key_correlations(chroma.mean(axis=1), "krumhansl")
    return Result(
        float(np.atleast_1d(tempo)[0]), key_index_name(int(np.argmax(corr))), None, time.perf_counter() - t
    )


def _fmt_bpm(r: Result) -> str:
    s = "-" if r.bpm is None else f"{r.bpm:.1f}"
    return s if r.bpm_conf is None else f"{s} ({r.bpm_conf:.2f})"


def _fmt_key(r: Result) -> str:
    s = r.key or "-"
    if r.key_conf is not None:
        s += f" ({r.key_conf:.2f}; 2nd {r.extra.get('key_runner_up')})"
    return s


def _fmt_meter(r: Result) -> str:
    s = r.meter or "-"
    return s if r.meter_conf is None else f"{s} ({r.meter_conf:.2f})"


def chord_counts(audio: Audio) -> Counter[str]:
    """Major/minor triad best matching each two-beat span of the estimator's own chroma.

    An independent look at a key disagreement: a song whose spans are nearly all one chord is in
    that chord's key whatever its label says.
    """
    features = extract_features(audio)
    tempo = estimate_tempo(features)
    if tempo.bpm is None:
        return Counter()
    spans = span_chroma(features, track_beats(features, tempo.bpm)[::2])  # two beats each
    names, templates = [], []
    for quality, third in (("", 4), ("m", 3)):
        for root in range(12):
            template = np.zeros(12)
            template[[root, (root + third) % 12, (root + 7) % 12]] = 1.0
            names.append(key_index_name(root + (12 if quality else 0)).split()[0] + quality)
            templates.append(template / np.linalg.norm(template))
    best = np.argmax(spans @ np.array(templates).T, axis=1)
    return Counter(names[int(i)] for i in best)


Method = tuple[str, Callable[[Audio], Result]]


def essentia_method(audio: Audio) -> Result:
    """Essentia (AGPL, optional: `pip install essentia`): RhythmExtractor2013 multifeature + KeyExtractor.

    Both expect 44.1 kHz; the resampling is charged to Essentia.
    """
    import essentia.standard as es
    import librosa

    t = time.perf_counter()
    y = librosa.resample(audio.samples, orig_sr=audio.sample_rate, target_sr=44100).astype(np.float32)
    bpm = float(es.RhythmExtractor2013(method="multifeature")(y)[0])
    key, scale, _strength = es.KeyExtractor(sampleRate=44100)(y)
    return Result(bpm or None, f"{key} {scale}", None, time.perf_counter() - t)


SUMMARY: list[tuple[str, list[str]]] = []  # one row per data set, printed last (`print_overview`)


def run_set(
    title: str,
    tracks: list[Track],
    others: list[Method],
    scored: bool = True,
    explain_keys: bool = False,
    short: str = "",
) -> None:
    """Score songset and each of `others` on `tracks`: one summary table, then the tracks with errors.

    With `short`, the set's headline figures also go into the closing overview (SUMMARY)."""
    methods: list[Method] = [("songset", Ours()), *others]
    rows = [(t, [method(t.audio) for _, method in methods]) for t in tracks]
    minutes = sum(t.audio.duration for t in tracks) / 60.0
    print(f"\n=== {title}: {len(tracks)} tracks, {minutes * 60:.0f} s of audio ===")
    summary: list[tuple[str, list[str]]] = []
    n = len(methods)

    def share(vals: list[bool]) -> str:
        return f"{sum(vals)}/{len(vals)} = {100 * sum(vals) / len(vals):.0f}%" if vals else "n/a"

    def per_method(
        part: list[tuple[Track, list[Result]]], right: Callable[[Track, Result], bool]
    ) -> list[str]:
        return [share([right(t, results[i]) for t, results in part]) for i in range(n)]

    def key_right(t: Track, r: Result) -> bool:
        return parse_key(r.key) == parse_key(t.key)

    with_bpm = [(t, rs) for t, rs in rows if t.bpm is not None]
    with_key = [(t, rs) for t, rs in rows if t.key is not None]
    with_meter = [(t, rs) for t, rs in rows if t.meter is not None]
    if scored and with_bpm:
        summary.append(("tempo Acc1 (4%)", per_method(with_bpm, lambda t, r: tempo_ok(r.bpm, t.bpm))))
        summary.append(
            ("tempo Acc2 (x2 x1/2 x3 x1/3)", per_method(with_bpm, lambda t, r: tempo_ok2(r.bpm, t.bpm)))
        )
    if with_key:
        summary.append(("key exact", per_method(with_key, key_right)))
        mirex = [np.mean([mirex_key_score(rs[i].key, t.key) for t, rs in with_key]) for i in range(n)]
        summary.append(("key MIREX weighted", [f"{m:.3f}" for m in mirex]))
    if with_meter:
        summary.append(("meter accuracy", [share([rs[0].meter == t.meter for t, rs in with_meter])]))
    # What ACE-Step is given: values under the sidecar thresholds are left out, so count what is
    # written and how much of that is wrong (a wrong value is trained on, a missing one ignored).
    thresholds = SidecarSettings()
    written = [
        ("bpm", with_bpm if scored else [], lambda o: o.bpm_conf, thresholds.min_bpm_confidence,
         lambda t, o: tempo_ok(o.bpm, t.bpm)),
        ("keyscale", with_key, lambda o: o.key_conf, thresholds.min_key_confidence, key_right),
        ("timesignature", with_meter, lambda o: o.meter_conf, thresholds.min_timesignature_confidence,
         lambda t, o: o.meter == t.meter),
    ]  # fmt: skip
    for name, part, conf, threshold, right in written:
        kept = [(t, rs[0]) for t, rs in part if conf(rs[0]) is not None and conf(rs[0]) >= threshold]
        if part:
            wrong = sum(not right(t, o) for t, o in kept)
            summary.append(
                (
                    f"{name} in sidecar / wrong there",
                    [f"{len(kept)}/{len(part)} ({100 * len(kept) / len(part):.0f}%) / {wrong}"],
                )
            )
    decode = sum(t.decode_s for t in tracks)
    seconds = [(decode + sum(rs[i].seconds for _, rs in rows)) / minutes for i in range(n)]
    summary.append(("s per min of audio (1 core)", [f"{x:.2f}" for x in seconds]))
    if short and scored and with_bpm:
        acc = [
            f"{100 * sum(tempo_ok(rs[i].bpm, t.bpm) for t, rs in with_bpm) / len(with_bpm):.0f}%"
            f"/{100 * sum(tempo_ok2(rs[i].bpm, t.bpm) for t, rs in with_bpm) / len(with_bpm):.0f}%"
            for i in range(min(n, 2))
        ]
        kept = [(t, rs[0]) for t, rs in with_bpm if (rs[0].bpm_conf or 0.0) >= thresholds.min_bpm_confidence]
        wrong = sum(not tempo_ok(o.bpm, t.bpm) for t, o in kept)
        key_w = (
            f"{np.mean([mirex_key_score(rs[0].key, t.key) for t, rs in with_key]):.3f}" if with_key else "-"
        )
        SUMMARY.append(
            (
                short,
                [
                    str(len(with_bpm)),
                    f"{100 * sum(tempo_ok(rs[0].bpm, t.bpm) for t, rs in with_bpm) / len(with_bpm):.0f}%",
                    f"{100 * sum(tempo_ok2(rs[0].bpm, t.bpm) for t, rs in with_bpm) / len(with_bpm):.0f}%",
                    acc[1] if len(acc) > 1 else "-",
                    f"{len(kept)} ({100 * len(kept) / len(with_bpm):.0f}%)",
                    str(wrong),
                    key_w,
                    f"{seconds[0]:.2f}",
                ],
            )
        )
    summary.append(("  of which decoding", [f"{decode / minutes:.2f}"] * n))
    print(f"{'':32s}" + "".join(f" {name:>22s}" for name, _ in methods))
    for name, values in summary:
        print(f"{name:32s}" + "".join(f" {v:>22s}" for v in values + ["n/a"] * (n - len(values))))
    if scored and with_bpm:
        print_tempo_bands(with_bpm, [name for name, _ in methods], thresholds.min_bpm_confidence)
    styles = sorted({t.style for t, _ in rows if t.style})
    if len(styles) > 1:
        print("\nsongset per arrangement:  tempo Acc1 | key exact | meter")
        for style in styles:
            part = [(t, rs[0]) for t, rs in rows if t.style == style]
            tempo = share([tempo_ok(o.bpm, t.bpm) for t, o in part if t.bpm is not None])
            key = share([key_right(t, o) for t, o in part if t.key is not None])
            meter = share([o.meter == t.meter for t, o in part if t.meter is not None])
            print(f"  {style:14s} {tempo:>16s} | {key:>16s} | {meter:>16s}")

    others_named = " | ".join(name for name, _ in methods[1:])
    print(
        f"\nper track (label | ours (confidence) | {others_named}); '*' marks an error of ours"
        if scored
        else "\nper track:"
    )
    for t, rs in rows:
        o = rs[0]
        marks = []
        if t.bpm is not None and not tempo_ok(o.bpm, t.bpm):
            marks.append("tempo")
        if t.key is not None and not key_right(t, o):
            marks.append(f"key({mirex_key_score(o.key, t.key):.1f})")
        if t.meter is not None and o.meter != t.meter:
            marks.append("meter")
        other_err = any(
            (t.bpm is not None and not tempo_ok(r.bpm, t.bpm)) or (t.key is not None and not key_right(t, r))
            for r in rs[1:]
        )
        if scored and not marks and not other_err:
            continue
        meter = "-" if t.meter is None else "6/8" if t.meter == "6" else f"{t.meter}/4"
        label = f"{t.bpm or '-'} bpm, {t.key or '-'}, {meter}"
        theirs = " | ".join(
            f"{name} {_fmt_bpm(r)} bpm, {r.key}" for (name, _), r in zip(methods[1:], rs[1:], strict=True)
        )
        print(
            f"{'*' if marks else ' '} {t.name[:44]:44s} label {label:26s} | ours {_fmt_bpm(o)} bpm, {_fmt_key(o)},"
            f" meter {_fmt_meter(o)} | {theirs}  {' '.join(marks)}"
        )
    if explain_keys:
        for t, rs in rows:
            if t.key is not None and not key_right(t, rs[0]):
                chords = ", ".join(f"{c} {k}" for c, k in chord_counts(t.audio).most_common(4))
                print(f"  chords of {t.name[:40]} (label {t.key}, ours {rs[0].key}), per two beats: {chords}")
    per_song = [(t.decode_s + rs[0].seconds) / (t.audio.duration / 60) for t, rs in rows]
    print(
        f"songset s/min per track: min {min(per_song):.2f}, median {np.median(per_song):.2f}, max {max(per_song):.2f}"
    )


def print_tempo_bands(rows: list[tuple[Track, list[Result]]], names: list[str], threshold: float) -> None:
    """Tempo Acc1/Acc2 per tempo band (by label) and drums / no drums, with songset's written/wrong bpm."""
    print(f"\ntempo by band: Acc1 / Acc2 per method; songset's bpm in sidecar (>= {threshold}) / wrong there")
    print(f"  {'band':22s}" + "".join(f" {n:>22s}" for n in names) + f" {'written / wrong':>18s}")
    kits = sorted({t.drums for t, _ in rows}, key=str)
    for low, high, band in TEMPO_BANDS:
        for kit in [None] if kits == [None] else [None, *kits]:
            part = [(t, rs) for t, rs in rows if low <= t.bpm < high and (kit is None or t.drums == kit)]
            if not part:
                continue
            label = band + ("" if kit is None else " drums" if kit else " no drums")
            cells = []
            for i in range(len(names)):
                acc1 = sum(tempo_ok(rs[i].bpm, t.bpm) for t, rs in part)
                acc2 = sum(tempo_ok2(rs[i].bpm, t.bpm) for t, rs in part)
                cells.append(f"{acc1}/{len(part)} / {acc2}/{len(part)}")
            kept = [(t, rs[0]) for t, rs in part if (rs[0].bpm_conf or 0.0) >= threshold]
            wrong = sum(not tempo_ok(o.bpm, t.bpm) for t, o in kept)
            print(f"  {label:22s}" + "".join(f" {c:>22s}" for c in cells) + f" {len(kept):>10d} / {wrong}")


def print_overview() -> None:
    """One line per data set: the figures the issue's targets name, songset next to the baseline."""
    if not SUMMARY:
        return
    heads = ["clips", "Acc1", "Acc2", "baseline", "bpm written", "wrong", "key MIREX", "s/min"]
    print(
        "\n=== overview: songset tempo Acc1, Acc2; librosa baseline right at 1 / 2; bpm written, wrong there ==="
    )
    print(f"  {'set':34s}" + "".join(f" {h:>13s}" for h in heads))
    for name, cells in SUMMARY:
        print(f"  {name:34s}" + "".join(f" {c:>13s}" for c in cells))


def load_devset(folder: Path) -> dict[str, list[Track]]:
    """The rendered dev set (bench/devset.py), as {"tune": [...], "check": [...]}."""
    with (folder / "labels.csv").open() as f:
        rows = list(csv.DictReader(f))
    halves: dict[str, list[Track]] = {"tune": [], "check": []}
    for r, t in zip(rows, load_tracks([folder / r["file"] for r in rows]), strict=True):
        # 2/4 and 4/4 give the same accent pattern: the estimator reports duple meters as "4"
        t.bpm, t.key, t.meter = float(r["bpm"]), r["key"], "4" if r["meter"] == "2" else r["meter"]
        groove = r.get("groove", "")
        drums = f"+{groove}" if groove and not groove.isdigit() else "+drums" if r["drums"] == "1" else ""
        t.drums, t.style = r["drums"] == "1", f"{r['meter']}{drums}"
        halves[r["half"]].append(t)
    return halves


def load_tracks(paths: list[Path], check: bool = True) -> list[Track]:
    out = []
    for p in paths:
        t = time.perf_counter()
        audio = load_audio(p, 22050, check=check)
        out.append(Track(p.stem, audio, time.perf_counter() - t))
    return out


def warm_up(others: list[Method]) -> None:
    """Load numba kernels and caches once, so the first track's timing is not a compile."""
    y = np.random.default_rng(0).standard_normal(5 * SR).astype(np.float32) * 0.1
    audio = Audio(y, SR, AudioInfo(5.0, SR, 1, "synthetic"))
    Ours()(audio)
    for _, method in others:
        method(audio)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared/data/acestep-generated")
    ap.add_argument("--cc", type=Path, default=ROOT.parent / "shared/data/cc-music")
    ap.add_argument(
        "--synthetic",
        type=int,
        default=24,
        help="number of synthetic songs (24 covers every key; arrangements cycle every 3 songs)",
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--explain-keys", action="store_true", help="print the chords of each track whose key disagrees"
    )
    ap.add_argument(
        "--essentia", action="store_true", help="also compare Essentia (AGPL; `pip install essentia` first)"
    )
    ap.add_argument(
        "--devset",
        type=Path,
        action="append",
        help=f"rendered dev set(s) (bench/devset.py); default {DEVSET.name} and {DEVSET20.name}",
    )
    ap.add_argument(
        "--sets",
        default="acestep,synthetic,devset,cc",
        help="comma-separated data sets to run: acestep, synthetic, devset, cc",
    )
    ap.add_argument(
        "--estimator",
        choices=estimator_choices(),
        default="librosa",
        help="the songset backend measured (librosa_learned: the opt-in learned beat-level model; "
        "beat_this: needs --set estimator.checkpoint=PATH)",
    )
    ap.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="estimator.KEY=VALUE",
        help="a setting of the measured backend, as on the command line of dvc exp run -S",
    )
    args = ap.parse_args(argv)
    sets = set(args.sets.split(","))
    others: list[Method] = [("librosa baseline", baseline)]
    if args.essentia:
        others.append(("essentia", essentia_method))
    warm_up(others)
    SONGSET[:] = [f"estimator={args.estimator}", *args.set]
    ident = instantiate(compose(SONGSET).estimator).identity()
    print(f"songset estimator {ident.backend} v{ident.version}; threads pinned to 1")

    labels = args.data / "labels.csv"
    if "acestep" not in sets:
        pass
    elif labels.is_file():
        with labels.open() as f:
            rows = list(csv.DictReader(f))
        tracks = load_tracks([args.data / r["file"] for r in rows])
        for t, r in zip(tracks, rows, strict=True):
            t.bpm, t.key = float(r["prompt_bpm"]), r["prompt_keyscale"]
        run_set(
            f"acestep-generated ({args.data}; key labels are weak)",
            tracks,
            others,
            explain_keys=args.explain_keys,
            short="acestep-generated (tuned on < v9)",
        )
    else:
        print(f"\n=== acestep-generated: skipped, {labels} not found ===")

    if "synthetic" in sets and args.synthetic > 0:
        tracks = []
        for s in synthetic_songs(args.synthetic, seed=args.seed):
            audio = Audio(s.samples, SR, AudioInfo(len(s.samples) / SR, SR, 1, "synthetic"))
            key = f"{key_index_name(s.tonic + (12 if s.mode == 'minor' else 0))}"
            tracks.append(Track(s.name, audio, 0.0, s.bpm, key, str(s.meter), s.style))
        run_set(
            f"synthetic (seed {args.seed})",
            tracks,
            others,
            explain_keys=args.explain_keys,
            short=f"synthetic seed {args.seed}",
        )

    if "devset" not in sets:
        pass
    else:
        for folder in args.devset or [DEVSET, DEVSET20]:
            if not (folder / "labels.csv").is_file():
                print(
                    f"\n=== devset: skipped, {folder / 'labels.csv'} not found (python bench/devset.py) ==="
                )
                continue
            for half, tracks in load_devset(folder).items():
                title = (
                    "tuning half (settings may be fitted here)"
                    if half == "tune"
                    else "checking half (quote this)"
                )
                run_set(f"{folder.name} {title}", tracks, others, short=f"{folder.name} {half} half")

    print_overview()
    cc = args.cc if args.cc.is_dir() else ROOT / "data/audio"
    paths = sorted(p for p in cc.glob("*.ogg")) if "cc" in sets else []
    if paths:
        tracks = load_tracks(paths, check=False)  # the trumpet loop is under 10 s
        for t in tracks:
            t.key = CC_LABELS.get(t.name, {}).get("key")
        run_set(f"cc-music ({cc}; informal, keys known for 2)", tracks, others, scored=False)
    else:
        print("\n=== cc-music: skipped, not found ===")


if __name__ == "__main__":
    main()
