"""A corpus with planted templates and near duplicates, where the right answer is known by construction.

Varied texts are English-shaped sentences whose content words come from a large synthetic vocabulary,
so two varied texts share only function words; templated texts open and close with the same frame
sentences and fill the rest like varied ones; exact duplicates copy a varied text; near duplicates
copy a varied text of about 90 words and replace two of its content words.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

_SYLLABLES = [c + v for c in "bcdfghjklmnprstvz" for v in ("a", "e", "i", "o", "u", "ai", "ou")]
_FRAMES = (
    "This track is a {a} {b} piece that blends the {c} sensibilities of {d} with the driving pulse of {e}.",
    "The production is polished and high-fidelity, featuring a wide stereo mix that places {a} front and centre.",
    "Overall, the track exudes a {a}, {b} atmosphere that makes it a quintessential {c} anthem.",
)
_SHAPES = (
    "the {a} {b} {c} over a {d} {e}.",
    "a {a} {b} {c} the {d} while {e} {f}.",
    "{a} {b} and {c} {d} across the {e}.",
    "its {a} {b} {c} with {d} {e} {f}.",
    "then the {a} {b} into {c} {d}.",
)


@dataclass
class Planted:
    texts: dict[str, str]
    templated: list[str]
    varied: list[str]
    exact_pairs: list[tuple[str, str]] = field(default_factory=list)
    near_pairs: list[tuple[str, str]] = field(default_factory=list)


def _vocabulary(rng: random.Random, size: int) -> list[str]:
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4))))
    return sorted(words)


def _varied(rng: random.Random, vocab: list[str], words: int) -> str:
    out: list[str] = []
    count = 0
    while count < words:
        shape = rng.choice(_SHAPES)
        sentence = shape.format(**{k: rng.choice(vocab) for k in "abcdef"})
        out.append(sentence[0].upper() + sentence[1:])
        count += len(sentence.split())
    return " ".join(out)


def planted_corpus(
    templated: int = 300, varied: int = 1500, exact: int = 100, near: int = 100, seed: int = 0
) -> Planted:
    rng = random.Random(seed)
    vocab = _vocabulary(rng, 20000)
    known = set(vocab)
    texts: dict[str, str] = {}
    corpus = Planted(texts, [], [])
    for i in range(varied):
        sid = f"varied{i:05d}"
        texts[sid] = _varied(rng, vocab, rng.randint(60, 120))
        corpus.varied.append(sid)
    for i in range(templated):
        sid = f"templated{i:05d}"
        fill = {k: rng.choice(vocab) for k in "abcde"}
        opening = " ".join(f.format(**fill) for f in _FRAMES[:2])
        texts[sid] = f"{opening} {_varied(rng, vocab, rng.randint(40, 80))} {_FRAMES[2].format(**fill)}"
        corpus.templated.append(sid)
    sources = rng.sample(corpus.varied, exact + near)
    for i, src in enumerate(sources[:exact]):
        sid = f"exact{i:05d}"
        texts[sid] = texts[src]
        corpus.exact_pairs.append((src, sid))
    for i, src in enumerate(sources[exact:]):
        sid = f"near{i:05d}"
        tokens = texts[src].split()[:95]
        texts[src] = " ".join(tokens)  # the source trimmed to about 90 words, as the check asks
        content = [j for j, t in enumerate(tokens) if t.strip(".").lower() in known]
        for j in rng.sample(content, 2):
            tokens[j] = rng.choice(vocab) + ("." if tokens[j].endswith(".") else "")
        texts[sid] = " ".join(tokens)
        corpus.near_pairs.append((src, sid))
    return corpus
