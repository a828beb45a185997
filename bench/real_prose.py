"""Real audio-LLM prose through the rules cleaner and the report; planted templates at scale.

    python bench/real_prose.py [--data ../shared/data/real-annotations] [--songs 2000] [--scale 10000]

Part 1 (when the real texts are present): the 28 texts split once, by source family (each family's
texts sorted by id, alternately tuning / checking), so both halves mix Music Flamingo, MF-Think,
GPT-3.5 tag captions and people. Both halves are reported; quote the checking half.
Part 2: the planted corpus (bench/planted.py): template reuse of templated vs varied songs, near
duplicates found among the planted two-word edits and exact copies. Part 3: report time on --scale texts.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from planted import planted_corpus  # noqa: E402

from songset.cleaners.rules import RulesCleaner  # noqa: E402
from songset.provenance import make_provenance  # noqa: E402
from songset.report import ReportSettings, build_report  # noqa: E402
from songset.schemas import RawAnnotation  # noqa: E402

FAMILIES = ("mf_tf", "mf_gguf", "mf_paper", "mfskills", "mfthink", "lpmc", "human")


def family(text_id: str) -> str:
    return next((f for f in FAMILIES if text_id.startswith(f)), "other")


def split_halves(ids: list[str]) -> tuple[list[str], list[str]]:
    """(tuning, checking): within each family, sorted ids alternate, starting with tuning."""
    by_family: dict[str, list[str]] = defaultdict(list)
    for i in sorted(ids):
        by_family[family(i)].append(i)
    tuning = [i for members in by_family.values() for i in members[0::2]]
    checking = [i for members in by_family.values() for i in members[1::2]]
    return sorted(tuning), sorted(checking)


def clean_all(rows: list[dict]) -> dict[str, object]:
    prov = make_provenance(
        stage="annotate", backend="real", cache_key="-", input_sha256="0" * 64, wall_time_s=0.0, settings={}
    )
    out = {}
    for d in rows:
        raw = RawAnnotation(
            id=d["id"],
            audio_file="-",
            audio_sha256="0",
            duration=d["duration_s"],
            text=d["text"],
            provenance=prov,
        )
        out[d["id"]] = RulesCleaner().clean(raw)
    return out


def real_half(name: str, rows: list[dict]) -> None:
    cleaned = clean_all(rows)
    lyric = [d["id"] for d in rows if "lyric_sheet" in cleaned[d["id"]].flags]
    think = [d for d in rows if "<think>" in d["text"]]
    leaked = [d["id"] for d in think if cleaned[d["id"]].reasoning[:40] in cleaned[d["id"]].rich_details]
    timed = [d for d in rows if d["timestamped"]]
    untimed = [i for i, c in cleaned.items() if len(c.untimed_sections) >= 2]
    langs = {i: c.vocal_language for i, c in cleaned.items() if c.vocal_language}
    print(f"\n### {name} half: {len(rows)} texts ({', '.join(sorted({family(d['id']) for d in rows}))})\n")
    print("| check | result |\n|---|---|")
    print(f"| lyric sheets flagged | {lyric or 'none in this half'} |")
    print(
        f"| <think> texts with reasoning out of description/caption | {len(think) - len(leaked)}/{len(think)} |"
    )
    for d in timed:
        c = cleaned[d["id"]]
        print(f"| timed `{d['id']}` sections | {[(s.start, s.end, s.label) for s in c.sections]} |")
    print(f"| texts with >= 2 ordered untimed sections | {len(untimed)}/{len(rows)} |")
    for i in untimed:
        print(f"| `{i}` untimed | {' > '.join(s.label for s in cleaned[i].untimed_sections)} |")
    print(f"| sung languages found | {langs} |")
    print(f"| truncated flagged | {[i for i, c in cleaned.items() if 'truncated' in c.flags]} |")
    report = build_report({d["id"]: d["text"] for d in rows}, settings=ReportSettings())
    frames = [(f.position, f.frame, f.songs) for f in report.frame_templates]
    print(f"| frame templates (K={report.template_min_songs}) | {frames} |")


def planted(songs: int) -> None:
    scale = songs / 2000
    corpus = planted_corpus(
        templated=round(300 * scale),
        varied=round(1500 * scale),
        exact=round(100 * scale),
        near=round(100 * scale),
    )
    started = time.perf_counter()
    report = build_report(corpus.texts, settings=ReportSettings())
    wall = time.perf_counter() - started
    reuse = {p.id: p.template_reuse for p in report.per_song}
    templ = sum(reuse[i] for i in corpus.templated) / len(corpus.templated)
    var = sum(reuse[i] for i in corpus.varied) / len(corpus.varied)
    found = {(a, b) for a, b, _ in report.near_duplicate_pairs}
    near_hits = sum(1 for a, b in corpus.near_pairs if tuple(sorted((a, b))) in found)
    exact_hits = sum(1 for a, b in corpus.exact_pairs if tuple(sorted((a, b))) in found)
    planted_pairs = {tuple(sorted(p)) for p in corpus.near_pairs + corpus.exact_pairs}
    false_pairs = len(found - planted_pairs)
    print(f"\n### planted corpus: {len(corpus.texts)} texts (K={report.template_min_songs})\n")
    print("| metric | value | target |\n|---|---|---|")
    print(f"| template reuse, templated songs (mean) | {templ:.3f} | |")
    print(f"| template reuse, varied songs (mean) | {var:.4f} | |")
    ratio = f"{templ / var:.1f}" if var > 0 else "unbounded (varied songs reuse nothing)"
    print(f"| ratio templated / varied | {ratio} | >= 3 |")
    print(f"| two-word-edit near duplicates found | {near_hits}/{len(corpus.near_pairs)} | >= 95% |")
    print(f"| exact copies found as pairs | {exact_hits}/{len(corpus.exact_pairs)} | |")
    print(f"| pairs reported that were not planted | {false_pairs} | |")
    print(f"| frame templates | {[(f.position, f.frame, f.songs) for f in report.frame_templates]} | |")
    print(f"| build_report wall time | {wall:.1f} s | |")


def timing(n: int) -> None:
    corpus = planted_corpus(templated=n * 3 // 20, varied=n * 15 // 20, exact=n // 20, near=n // 20, seed=1)
    cpu0, started = time.process_time(), time.perf_counter()
    build_report(corpus.texts, settings=ReportSettings())
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu0
    print(
        f"\n### scale: {len(corpus.texts)} texts, build_report {wall:.1f} s wall, {cpu:.1f} s CPU (target < 30 s)"
    )
    print("(CPU time is what one free core would take; wall time includes waiting on a shared machine)\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared/data/real-annotations")
    ap.add_argument("--songs", type=int, default=2000)
    ap.add_argument("--scale", type=int, default=10000)
    args = ap.parse_args()
    texts = args.data / "texts.jsonl"
    if texts.is_file():
        rows = [json.loads(line) for line in texts.read_text(encoding="utf-8").splitlines() if line.strip()]
        tuning, checking = split_halves([r["id"] for r in rows])
        by_id = {r["id"]: r for r in rows}
        real_half("tuning", [by_id[i] for i in tuning])
        real_half("checking", [by_id[i] for i in checking])
    else:
        print(f"{texts} not found: real-prose part skipped")
    planted(args.songs)
    if args.scale:
        timing(args.scale)


if __name__ == "__main__":
    main()
