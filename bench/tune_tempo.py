"""Sweep the tempo prior and the level margin on the tuning data; print one table, per data set.

    python bench/tune_tempo.py [--devset ~/.cache/songset/bench/devset] [--half tune] [--synthetic 24]
                               [--data ../shared/data/acestep-generated]

The tuning data: the dev set's tuning half, synthetic seed 0 and acestep-generated (tuned on since v3:
fair to fit on, never to quote). For each tempo prior (centre x width) every clip's tempo is
estimated once from cached features; the bpm confidence for each LEVEL_MARGIN candidate follows from
the chosen level's margin (`level_confidence`). Printed per setting and set: tempo Acc1, Acc2, the
share of clips whose bpm reaches `sidecar.min_bpm_confidence` and how many of those are wrong. The
estimator's defaults cite this table; `bench/estimate.py` reports the checking half, which this only
reads when `--half check` is asked for after the fact.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"
os.environ.setdefault("NUMBA_CACHE_DIR", os.path.expanduser("~/.cache/songset/numba"))

import argparse  # noqa: E402
import csv  # noqa: E402
import itertools  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

from estimate import DEVSET, ROOT, Track, load_devset, load_tracks, tempo_ok, tempo_ok2  # noqa: E402
from synth import SR, synthetic_songs  # noqa: E402

from songset.audio import Audio, AudioInfo  # noqa: E402
from songset.estimators.librosa_estimator import (  # noqa: E402
    estimate_tempo,
    extract_features,
    level_confidence,
)
from songset.sidecars import SidecarSettings  # noqa: E402

CENTRES = (90.0, 100.0, 110.0, 120.0)
WIDTHS = (0.6, 0.8, 1.0, 1.5)
MARGINS = (0.25, 0.5, 1.0, 1.5)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--devset", type=Path, default=DEVSET)
    ap.add_argument("--half", default="tune", choices=("tune", "check"))
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared/data/acestep-generated")
    ap.add_argument("--synthetic", type=int, default=24, help="synthetic songs (seed 0)")
    args = ap.parse_args(argv)
    sets: dict[str, list[Track]] = {"devset": load_devset(args.devset)[args.half], "synthetic": []}
    for s in synthetic_songs(args.synthetic, seed=0):
        audio = Audio(s.samples, SR, AudioInfo(len(s.samples) / SR, SR, 1, "synthetic"))
        sets["synthetic"].append(Track(s.name, audio, 0.0, s.bpm, drums="arpeggio" not in s.style))
    if (args.data / "labels.csv").is_file():  # tuned on since v3: fair to fit on, not to quote
        with (args.data / "labels.csv").open() as f:
            rows = list(csv.DictReader(f))
        sets["acestep"] = load_tracks([args.data / r["file"] for r in rows])
        for t, r in zip(sets["acestep"], rows, strict=True):
            t.bpm = float(r["prompt_bpm"])
    features = {name: [extract_features(t.audio) for t in tracks] for name, tracks in sets.items()}
    threshold = SidecarSettings().min_bpm_confidence
    print(f"devset {args.half} half; per set: Acc1 Acc2 written% wrong-written")
    print(f"{'centre':>6s} {'width':>5s} {'margin':>6s}" + "".join(f" {name:>26s}" for name in sets))
    for centre, width in itertools.product(CENTRES, WIDTHS):
        estimates = {
            name: [estimate_tempo(f, centre, width, level_margin=1e-9) for f in fs]
            for name, fs in features.items()
        }
        for margin in MARGINS:
            cells = []
            for name, tracks in sets.items():
                n = max(len(tracks), 1)
                acc1 = acc2 = written = wrong = 0
                for e, t in zip(estimates[name], tracks, strict=True):
                    acc1 += tempo_ok(e.bpm, t.bpm)
                    acc2 += tempo_ok2(e.bpm, t.bpm)
                    factor, _ = level_confidence(e.levels, margin)
                    base, _ = level_confidence(e.levels, 1e-9)
                    confidence = e.confidence * factor / base if base > 0 else 0.0
                    if confidence >= threshold:
                        written += 1
                        wrong += not tempo_ok(e.bpm, t.bpm)
                cells.append(
                    f"{100 * acc1 / n:4.0f}% {100 * acc2 / n:4.0f}% {100 * written / n:5.0f}% {wrong:3d}"
                )
            print(
                f"{centre:6.0f} {width:5.1f} {margin:6.2f}" + "".join(f" {c:>26s}" for c in cells), flush=True
            )


if __name__ == "__main__":
    main()
