"""Fit the tempo prior and the level margin on the dev set's tuning half; print the sweep as a table.

    python bench/tune_tempo.py [--devset ~/.cache/songset/bench/devset] [--half tune] [--synthetic 24]

For each tempo prior (centre x width) every clip's tempo is estimated once from cached features; the
bpm confidence for each LEVEL_MARGIN candidate follows from the chosen level's margin
(`level_confidence`). Printed per setting: tempo Acc1 and Acc2, the share of clips whose bpm reaches
`sidecar.min_bpm_confidence` and how many of those are wrong. The defaults in the estimator are the
setting picked here on the tuning half (best Acc1, then the smallest margin that keeps wrong written
bpm at or under 1 in 30); `bench/estimate.py` then reports the checking half, which this never reads
unless `--half check` is asked for after the fact.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"
os.environ.setdefault("NUMBA_CACHE_DIR", os.path.expanduser("~/.cache/songset/numba"))

import argparse  # noqa: E402
import itertools  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

from estimate import DEVSET, Track, load_devset, tempo_ok, tempo_ok2  # noqa: E402
from synth import SR, synthetic_songs  # noqa: E402

from songset.audio import Audio, AudioInfo  # noqa: E402
from songset.estimators.librosa_estimator import (  # noqa: E402
    estimate_tempo,
    extract_features,
    level_confidence,
)
from songset.sidecars import SidecarSettings  # noqa: E402

CENTRES = (90.0, 100.0, 110.0, 120.0, 130.0)
WIDTHS = (0.6, 0.8, 1.0, 1.5, 2.0)
MARGINS = (0.25, 0.5, 0.75, 1.0, 1.5, 2.0)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--devset", type=Path, default=DEVSET)
    ap.add_argument("--half", default="tune", choices=("tune", "check"))
    ap.add_argument("--synthetic", type=int, default=0, help="add this many synthetic songs (seed 0)")
    args = ap.parse_args(argv)
    tracks: list[Track] = load_devset(args.devset)[args.half]
    for s in synthetic_songs(args.synthetic, seed=0):
        audio = Audio(s.samples, SR, AudioInfo(len(s.samples) / SR, SR, 1, "synthetic"))
        tracks.append(Track(s.name, audio, 0.0, s.bpm, drums="arpeggio" not in s.style))
    features = [extract_features(t.audio) for t in tracks]
    threshold = SidecarSettings().min_bpm_confidence
    n = len(tracks)
    print(f"{n} clips ({args.half} half{f' + {args.synthetic} synthetic' if args.synthetic else ''})")
    print(
        f"{'centre':>6s} {'width':>5s} {'margin':>6s} {'Acc1':>5s} {'Acc2':>5s} {'written':>8s} {'wrong':>5s}"
    )
    for centre, width in itertools.product(CENTRES, WIDTHS):
        estimates = [estimate_tempo(f, centre, width, level_margin=1e-9) for f in features]
        acc1 = sum(tempo_ok(e.bpm, t.bpm) for e, t in zip(estimates, tracks, strict=True))
        acc2 = sum(tempo_ok2(e.bpm, t.bpm) for e, t in zip(estimates, tracks, strict=True))
        for margin in MARGINS:
            written = wrong = 0
            for e, t in zip(estimates, tracks, strict=True):
                factor, _ = level_confidence(e.levels, margin)
                base, _ = level_confidence(e.levels, 1e-9)
                confidence = e.confidence * factor / base if base > 0 else 0.0
                if confidence >= threshold:
                    written += 1
                    wrong += not tempo_ok(e.bpm, t.bpm)
            print(
                f"{centre:6.0f} {width:5.1f} {margin:6.2f} {100 * acc1 / n:4.0f}% {100 * acc2 / n:4.0f}%"
                f" {100 * written / n:7.0f}% {wrong:5d}"
            )


if __name__ == "__main__":
    main()
