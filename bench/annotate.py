"""Seconds per song and tokens per second for the Transformers annotators, per backend and batch size.

Why a script, not a test: speed depends on the machine. With no arguments it builds the tiny random
models offline and runs them on CPU (a smoke benchmark of the code path, not of the real models); pass
`--model backend=PATH_OR_ID` to time a real checkpoint on whatever device is available.

    python bench/annotate.py [--songs 4] [--seconds 30] [--tokens 32] [--batch 1 2 4] [--model af3_hf=PATH]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))  # the tiny-model builder is test-support code, not part of songset

from support.hf_tiny import build_tiny_model  # noqa: E402

from songset.annotators.hf import AF3Annotator, MusicFlamingoAnnotator, Qwen2AudioAnnotator  # noqa: E402

BACKENDS = {
    "af3_hf": ("af3", AF3Annotator),
    "music_flamingo_hf": ("music_flamingo", MusicFlamingoAnnotator),
    "qwen2_audio": ("qwen2_audio", Qwen2AudioAnnotator),
}


def demo_clips(folder: Path, n: int, seconds: float) -> list[Path]:
    """`n` clips of `seconds` cut from the bundled demo songs (looped when a song is shorter)."""
    sources = sorted(p for p in (ROOT / "data" / "audio").iterdir() if p.suffix in (".ogg", ".opus"))
    clips = []
    for i in range(n):
        data, sr = sf.read(str(sources[i % len(sources)]), dtype="float32", always_2d=True)
        mono = np.resize(data.mean(axis=1), int(seconds * sr))
        path = folder / f"clip{i}.wav"
        sf.write(str(path), mono, sr)
        clips.append(path)
    return clips


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--songs", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--tokens", type=int, default=32)
    ap.add_argument("--batch", type=int, nargs="+", default=[1, 2, 4])
    ap.add_argument("--model", action="append", default=[], help="backend=PATH_OR_ID (default: tiny models)")
    args = ap.parse_args()
    chosen = dict(item.split("=", 1) for item in args.model)
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        clips = demo_clips(tmp_path, args.songs, args.seconds)
        print(f"{'backend':<18} {'model':<6} {'batch':>5} {'s/song':>8} {'tok/s':>8} {'device':>6}")
        for name, (kind, cls) in BACKENDS.items():
            if chosen and name not in chosen:
                continue
            model = chosen.get(name) or str(build_tiny_model(tmp_path / kind, kind))
            for batch in args.batch:
                annotator = cls(
                    model=model, max_new_tokens=args.tokens, min_new_tokens=args.tokens, batch_size=batch
                )
                annotator.load()  # loading is once per stage run: not part of the per-song cost
                annotator.annotate_batch(clips[:1])  # warm-up
                started = time.perf_counter()
                results = annotator.annotate_batch(clips)
                wall = time.perf_counter() - started
                tokens = sum(
                    r.extra_provenance["tokens_generated"] for r in results if not isinstance(r, Exception)
                )
                device = annotator.runtime()[0]
                label = "real" if name in chosen else "tiny"
                print(
                    f"{name:<18} {label:<6} {batch:>5} {wall / len(clips):>8.3f} {tokens / wall:>8.1f} {device:>6}"
                )


if __name__ == "__main__":
    main()
