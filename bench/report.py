"""Time and memory of `build_report` on synthetic annotation corpora of growing size.

    python bench/report.py                 # n = 1000, 2000, 5000, 10000
    python bench/report.py 500 1000        # other sizes

Each corpus is drawn from one seeded generator: ~45% of the texts fill one of three LLM-style templates (one of them in 35%)
(the template collapse the report must find), the rest are varied prose over a Zipf-distributed
vocabulary of a few thousand made-up words; 1% are exact copies and 1% near copies (one word changed).
Every text has 5-9 timestamped segments and 120-250 words, like an audio LLM's output.

Each size runs in a fresh subprocess so peak memory (ru_maxrss) is that size's alone. The last
columns divide the time by n and by n log2 n (scaled to the first row): flat means that growth.
"""

from __future__ import annotations

import itertools
import json
import math
import random
import resource
import subprocess
import sys
import time

SIZES = (1000, 2000, 5000, 10000)
SEED = 7

TEMPLATES = [
    [
        "The track opens with a {adj} {instr} line that sets a {mood} tone for the rest of the piece.",
        "The {instr2} enters, adding {adj2} texture while the {drum} drums keep a steady pulse.",
        "Around the midpoint the energy rises steadily toward the chorus and the mix grows fuller.",
        "The mix stays balanced throughout, with the {instr} carrying the melody until the final fade.",
    ],
    [
        "A {mood} {genre} piece built around {adj} {instr} chords and a {drum} groove.",
        "The vocals are {vadj} and sit slightly behind the {instr2} in the mix.",
        "The arrangement builds gradually, layering {adj2} pads and percussion as it progresses.",
        "Overall the production is clean and polished with a strong sense of space.",
    ],
    [
        "This section features a {adj} {instr} melody supported by {drum} percussion.",
        "The harmony remains stable while the {instr2} adds {adj2} counterpoint.",
        "The dynamics stay {mood} and controlled, creating a cohesive listening experience.",
    ],
]
SLOTS = {
    "adj": [
        "warm",
        "bright",
        "gritty",
        "airy",
        "dark",
        "glassy",
        "dusty",
        "lush",
        "hazy",
        "crisp",
        "mellow",
        "sharp",
    ],
    "adj2": ["shimmering", "textural", "rhythmic", "harmonic", "percussive", "melodic", "subtle", "layered"],
    "instr": [
        "piano",
        "cello",
        "synth",
        "trumpet",
        "guitar",
        "violin",
        "organ",
        "flute",
        "bass",
        "harp",
        "marimba",
        "sax",
    ],
    "instr2": ["strings", "brass", "choir", "pad", "lead", "bassline", "rhodes", "clarinet"],
    "mood": [
        "wistful",
        "tense",
        "playful",
        "somber",
        "dreamy",
        "urgent",
        "calm",
        "hopeful",
        "melancholic",
        "upbeat",
    ],
    "drum": ["brushed", "booming", "crisp", "muted", "tight", "loose", "heavy", "light"],
    "genre": ["ambient", "folk", "jazz", "electronic", "pop", "rock", "soul", "cinematic"],
    "vadj": ["breathy", "soaring", "raspy", "hushed", "layered", "distant"],
}
GLUE = [
    "the",
    "a",
    "with",
    "and",
    "over",
    "under",
    "while",
    "as",
    "then",
    "into",
    "of",
    "its",
    "through",
    "against",
    "beneath",
]


def _vocabulary(rng: random.Random, size: int = 4000) -> list[str]:
    syllables = [c + v for c in "bdfgklmnprstvz" for v in ("a", "e", "i", "o", "u", "ai", "ou")]
    vocab: set[str] = set()
    while len(vocab) < size:
        vocab.add("".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))))
    return sorted(vocab)


def _stamp(seconds: int) -> str:
    return f"{seconds // 60}:{seconds % 60:02d}"


def _timestamped(sentences: list[str], rng: random.Random) -> str:
    n_seg = min(len(sentences), rng.randint(5, 9))
    cuts = sorted(rng.sample(range(1, len(sentences)), n_seg - 1)) if n_seg > 1 else []
    bounds = [0, *cuts, len(sentences)]
    t, lines = 0, []
    for a, b in itertools.pairwise(bounds):
        dt = rng.randint(12, 40)
        lines.append(f"[{_stamp(t)}-{_stamp(t + dt)}] " + " ".join(sentences[a:b]))
        t += dt
    return "\n".join(lines)


def _varied_sentence(rng: random.Random, vocab: list[str], weights: list[float]) -> str:
    n = rng.randint(9, 18)
    picked = rng.choices(vocab, weights=weights, k=n)
    out = [w if rng.random() > 0.3 else f"{rng.choice(GLUE)} {w}" for w in picked]
    return (" ".join(out)).capitalize() + "."


def corpus(n: int, seed: int = SEED) -> dict[str, str]:
    """n song id -> text, the same for the same (n, seed)."""
    rng = random.Random(seed)
    vocab = _vocabulary(rng)
    weights = [1 / (r + 1) for r in range(len(vocab))]  # Zipf
    texts: dict[str, str] = {}
    for i in range(n):
        sid = f"song{i:05d}"
        roll = rng.random()
        if roll < 0.01 and texts:
            texts[sid] = texts[rng.choice(list(texts))]  # exact copy
            continue
        if roll < 0.02 and texts:
            words = texts[rng.choice(list(texts))].split(" ")
            words[rng.randrange(len(words))] = rng.choice(vocab)
            texts[sid] = " ".join(words)  # near copy
            continue
        sentences: list[str] = []
        target = rng.randint(120, 250)
        if roll < 0.47:  # one dominant template (35%) and two rarer ones (6% each)
            template = TEMPLATES[0 if roll < 0.37 else 1 if roll < 0.42 else 2]
            fill = {k: rng.choice(v) for k, v in SLOTS.items()}
            sentences = [s.format(**fill) for s in template]
        while sum(len(s.split()) for s in sentences) < target:
            sentences.append(_varied_sentence(rng, vocab, weights))
        texts[sid] = _timestamped(sentences, rng)
    return texts


def run_one(n: int) -> dict[str, float]:
    import tracemalloc

    from songset.report import ReportSettings, build_report

    texts = corpus(n)
    words = sum(len(t.split()) for t in texts.values()) / n
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    report = build_report(texts, settings=ReportSettings())
    wall = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    tracemalloc.start()  # a second, traced run for the Python-heap peak alone
    if n <= 2000:
        build_report(texts, settings=ReportSettings())
        traced = tracemalloc.get_traced_memory()[1] / 2**20
    else:
        traced = float("nan")  # tracing makes large runs several times slower; maxrss says enough
    tracemalloc.stop()
    return {
        "n": n,
        "wall_s": wall,
        "maxrss_mb": peak,
        "before_mb": base,
        "traced_mb": traced,
        "mean_words": words,
        "template_reuse": report.template_reuse,
        "near_pairs": len(report.near_duplicate_pairs),
        "exact_dups": report.exact_duplicate_songs,
    }


def main(argv: list[str]) -> int:
    if argv[:1] == ["--one"]:
        print(json.dumps(run_one(int(argv[1]))))
        return 0
    sizes = [int(a) for a in argv] or list(SIZES)
    rows = []
    for n in sizes:
        out = subprocess.run(
            [sys.executable, __file__, "--one", str(n)], check=True, capture_output=True, text=True
        )
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    first = rows[0]
    print(
        "| n | words/song | wall s | peak RSS MB | time/n (rel) | time/(n log n) (rel) "
        "| template reuse | near pairs | exact dups |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        per_n = (r["wall_s"] / r["n"]) / (first["wall_s"] / first["n"])
        per_nlogn = (r["wall_s"] / (r["n"] * math.log2(r["n"]))) / (
            first["wall_s"] / (first["n"] * math.log2(first["n"]))
        )
        print(
            f"| {r['n']} | {r['mean_words']:.0f} | {r['wall_s']:.1f} | {r['maxrss_mb']:.0f} | {per_n:.2f} "
            f"| {per_nlogn:.2f} | {r['template_reuse']:.3f} | {r['near_pairs']} | {r['exact_dups']} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
