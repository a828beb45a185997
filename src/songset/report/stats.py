"""Text statistics: per-song measures, n-gram templates, skeletons, frames and MinHash near duplicates."""

from __future__ import annotations

import logging
import math
import zlib
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from difflib import SequenceMatcher

import numpy as np

from songset.report.models import FrameTemplate
from songset.report.settings import ReportSettings
from songset.report.text import (
    _INLINE_TIME_RE,
    _NUMBER_RE,
    _WORD_RE,
    FUNCTION_WORDS,
    NUMBER_WORDS,
    _skeleton_signal,
    segments,
    skeleton,
    split_sentences,
)

log = logging.getLogger(__name__)

FRAME_WORDS = 3  # words of an opening/closing sentence that make its frame
MIN_CONTENT_WORDS = 2  # content words an n-gram needs before its reuse is template rather than English
SONG_TOP_PHRASES = 3  # reused phrases kept per song, for the worst-offender table
MIN_SKELETON_SIGNAL = 2  # non-X tokens a skeleton needs before its reuse means anything
_ROUND = 4  # decimals in the JSON, so re-runs give byte-equal files and short DVC diffs


# ---- per-song analysis -------------------------------------------------------------------------------------


def mean(values: Iterable[float]) -> float:
    vals = list(values)
    return sum(vals) / len(vals) if vals else 0.0


def rounded(x: float) -> float:
    """JSON floats at _ROUND decimals: re-runs give byte-equal files and short DVC diffs."""
    return round(float(x), _ROUND)


class SongText:
    """Everything derived from one text that does not need the rest of the corpus, computed once."""

    def __init__(self, song_id: str, text: str) -> None:
        self.id = song_id
        self.sentences = split_sentences(text)
        # the sentences have no markers left, so only inline times need removing (what words() does)
        self.sentence_tokens = [_WORD_RE.findall(_INLINE_TIME_RE.sub(" ", s).lower()) for s in self.sentences]
        self.tokens = [t for toks in self.sentence_tokens for t in toks]
        self.normalised = " ".join(self.tokens)
        self.skeletons = [skeleton(s) for s in self.sentences]
        self.segments = segments(text)

    @property
    def informative_skeletons(self) -> list[str]:
        """Skeletons with enough function words to say something about style (see MIN_SKELETON_SIGNAL)."""
        return [sk for sk in self.skeletons if _skeleton_signal(sk) >= MIN_SKELETON_SIGNAL]


def distinct(tokens: Sequence[str], n: int) -> float:
    total = len(tokens) - n + 1
    return len(set(zip(*(tokens[i:] for i in range(n)), strict=False))) / total if total > 0 else 1.0


def repeated_sentence_share(song: SongText) -> float:
    keys = [" ".join(t) for t in song.sentence_tokens if t]
    return (len(keys) - len(set(keys))) / len(keys) if keys else 0.0


def repeated_segments(segs: list[list[str]], threshold: float) -> int:
    """Segments identical or near-identical (token sequence ratio >= threshold) to an earlier one."""
    seen: list[tuple[list[str], Counter[str]]] = []
    repeats = 0
    for seg in segs:
        if not seg:
            continue
        bag = Counter(seg)
        # ratio() is at most 2 * (shared words, with multiplicity) / (both lengths): a cheap bound that
        # skips SequenceMatcher for almost every pair of different segments, with the same answers
        if any(
            seg == prev
            or (
                2 * sum((bag & prev_bag).values()) >= threshold * (len(seg) + len(prev)) - 1e-9
                and SequenceMatcher(None, seg, prev, autojunk=False).ratio() >= threshold
            )
            for prev, prev_bag in seen
        ):
            repeats += 1
        seen.append((seg, bag))
    return repeats


def compression_ratio(normalised: str) -> float:
    raw = normalised.encode("utf-8")
    return len(zlib.compress(raw, 9)) / len(raw) if raw else 0.0


# ---- corpus-level analysis ---------------------------------------------------------------------------------


def template_threshold(n_songs: int, share: float, floor: int = 1) -> int:
    """K: how many OTHER songs must share a phrase before it counts as template phrasing.

    The larger of an absolute floor and a share of the other songs, never more than there are others.
    """
    relative = math.ceil(share * (n_songs - 1) - 1e-9)
    return max(1, min(max(floor, relative), n_songs - 1))


def _exact_duplicates(songs: list[SongText]) -> tuple[dict[str, str], list[list[str]]]:
    groups: dict[str, list[str]] = defaultdict(list)
    for s in songs:
        if s.normalised:
            groups[s.normalised].append(s.id)
    dup_of: dict[str, str] = {}
    out: list[list[str]] = []
    for ids in groups.values():
        if len(ids) > 1:
            ids = sorted(ids)
            out.append(ids)
            dup_of.update({other: ids[0] for other in ids[1:]})
    return dup_of, sorted(out)


# n-grams are counted as 64-bit rolling hashes over one flat token array (collisions: ~1e-7 for ten
# million distinct n-grams), so ten thousand songs need arrays, not ten million Python strings.
_HASH_MULT = np.uint64(0x9E3779B97F4A7C15)
_HASH_LEN = np.uint64(0xC2B2AE3D27D4EB4F)


class _Flat:
    """All songs' sentence tokens, end to end, with the song and sentence of every token."""

    def __init__(self, songs: Sequence[SongText]) -> None:
        vocab: dict[str, int] = {}
        self.tokens: list[str] = []
        ids: list[int] = []
        song_of: list[int] = []
        sentence_of: list[int] = []
        sentence = 0
        for si, s in enumerate(songs):
            for toks in s.sentence_tokens:
                if not toks:
                    continue
                self.tokens.extend(toks)
                ids.extend([vocab.setdefault(t, len(vocab)) for t in toks])
                song_of.extend([si] * len(toks))
                sentence_of.extend([sentence] * len(toks))
                sentence += 1
        table = np.random.default_rng(0x50F6).integers(0, 2**63, size=max(1, len(vocab)), dtype=np.uint64)
        self.values = table[np.array(ids, dtype=np.int64)] if ids else np.zeros(0, dtype=np.uint64)
        self.song_of = np.array(song_of, dtype=np.int64)
        self.sentence_of = np.array(sentence_of, dtype=np.int64)
        content = np.array(  # per distinct word, then looked up per token
            [w not in FUNCTION_WORDS and w not in NUMBER_WORDS and not _NUMBER_RE.match(w) for w in vocab],
            dtype=np.int64,
        )
        self.is_content = content[np.array(ids, dtype=np.int64)] if ids else np.zeros(0, dtype=np.int64)

    def windows(
        self, n_min: int, n_max: int, group: np.ndarray
    ) -> Iterable[tuple[int, np.ndarray, np.ndarray]]:
        """(n, start positions, hashes) of the n-token windows that stay inside one group."""
        size = len(self.values)
        h = self.values.copy()
        with np.errstate(over="ignore"):
            for n in range(1, n_max + 1):
                if n > 1:
                    h = h[: size - n + 1] * _HASH_MULT + self.values[n - 1 :]
                if n >= n_min and size - n + 1 > 0:
                    starts = np.nonzero(group[: size - n + 1] == group[n - 1 :])[0]
                    yield n, starts, h[starts] + np.uint64(n) * _HASH_LEN

    def text(self, start: int, n: int) -> str:
        return " ".join(self.tokens[start : start + n])


def _longer_phrases(flat: _Flat, starts: Iterable[int], n_max: int, min_songs: int) -> dict[str, set[int]]:
    """Template phrases longer than n_max words, with the songs that use them.

    A phrase is template phrasing only if both its one-word-shorter parts are, so each round extends
    the places where two template phrases overlap by all but one word (two overlapping windows inside
    one sentence make a longer window inside it), then keeps those found in enough songs; it stops
    when nothing grows. `starts` are the flat positions of the template phrases of n_max words.
    Returns phrase -> indices of songs containing it.
    """
    found: dict[str, set[int]] = {}
    song_of = flat.song_of.tolist()
    current = set(starts)
    length = n_max
    while current:
        length += 1
        songs_of: dict[str, set[int]] = defaultdict(set)
        where: dict[str, list[int]] = defaultdict(list)
        for p in current:
            if p + 1 in current:
                gram = flat.text(p, length)
                songs_of[gram].add(song_of[p])
                where[gram].append(p)
        current = set()
        for gram, members in songs_of.items():
            if len(members) >= min_songs:
                found[gram] = members
                current.update(where[gram])
    return found


class _Phrases:
    """Document frequency of every n-gram (n_min..n_max, inside one sentence) and each song's reuse."""

    def __init__(self, songs: Sequence[SongText], settings: ReportSettings, k: int) -> None:
        n_songs = len(songs)
        flat = self.flat = _Flat(songs)
        parts = list(flat.windows(settings.ngram_min, settings.ngram_max, flat.sentence_of))
        if parts:
            keys = np.concatenate([h for _, _, h in parts])
            starts = np.concatenate([st for _, st, _ in parts])
            lengths = np.concatenate([np.full(len(st), n, dtype=np.int64) for n, st, _ in parts])
        else:
            keys = np.zeros(0, dtype=np.uint64)
            starts = lengths = np.zeros(0, dtype=np.int64)
        song = flat.song_of[starts]
        order = np.lexsort((song, keys))
        keys, song, starts, lengths = keys[order], song[order], starts[order], lengths[order]
        first = np.ones(len(keys), dtype=bool)
        first[1:] = (keys[1:] != keys[:-1]) | (song[1:] != song[:-1])
        keys, song, starts, lengths = keys[first], song[first], starts[first], lengths[first]
        # ordinary English ("a sense of", "in the mix"): too few content words to be anyone's template
        content = np.r_[0, np.cumsum(flat.is_content)]
        english = (content[starts + lengths] - content[starts]) < MIN_CONTENT_WORDS
        # runs of one key: its songs, each once
        run_start = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]]) if len(keys) else np.zeros(0, int)
        run_len = np.diff(np.r_[run_start, len(keys)])
        df = np.repeat(run_len, run_len)
        is_template = (df - 1 >= k) & ~english
        distinct = np.bincount(song, minlength=n_songs)
        shared = np.bincount(song, weights=is_template, minlength=n_songs)
        self.reuse = np.divide(shared, distinct, out=np.zeros(n_songs), where=distinct > 0)
        # the template phrases as text, with their songs
        self.template: dict[str, int] = {}
        self.songs_of: dict[str, np.ndarray] = {}
        for rs, rl in zip(run_start.tolist(), run_len.tolist(), strict=True):
            if rl - 1 >= k and not english[rs]:
                gram = flat.text(int(starts[rs]), int(lengths[rs]))
                self.template[gram] = rl
                self.songs_of[gram] = song[rs : rs + rl]
        template_keys = keys[run_start[(run_len - 1 >= k) & ~english[run_start]]]
        n_max = settings.ngram_max
        seeds: list[int] = []
        for n, st, h in parts:
            if n == n_max:
                seeds = st[np.isin(h, template_keys)].tolist()
        self.longer = _longer_phrases(flat, seeds, n_max, k + 1)


def frame_templates(sentence_tokens: Sequence[Sequence[Sequence[str]]], k: int) -> list[FrameTemplate]:
    """Opening and closing frames (first FRAME_WORDS words of the first/last sentence) shared by > k songs."""
    found: list[FrameTemplate] = []
    for position, index in (("opening", 0), ("closing", -1)):
        counts: Counter[str] = Counter()
        for sentences in sentence_tokens:
            full = [t for t in sentences if len(t) >= FRAME_WORDS]
            if full:
                counts[" ".join(full[index][:FRAME_WORDS])] += 1
        found += [
            FrameTemplate(position=position, frame=frame, songs=c)
            for frame, c in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
            if c - 1 >= k
        ]
    return found


def _lsh_bands(permutations: int, threshold: float) -> tuple[int, int]:
    """(bands, rows): the banding whose S-curve threshold (1/bands)^(1/rows) is highest at or below
    `threshold`, so pairs at the reported threshold almost always share a band (Leskovec et al., MMDS 3.4)."""
    options = [(permutations // r, r) for r in range(1, permutations + 1) if permutations % r == 0]
    below = [(b, r) for b, r in options if (1 / b) ** (1 / r) <= threshold]
    return max(below, key=lambda br: (1 / br[0]) ** (1 / br[1])) if below else options[-1]


def _song_shingles(flat: _Flat, songs: Sequence[SongText], shingle: int) -> list[np.ndarray]:
    """Each song's distinct shingle hashes (word `shingle`-grams of the whole text), sorted."""
    parts = list(flat.windows(shingle, shingle, flat.song_of))
    per_song: list[list[np.ndarray]] = [[] for _ in songs]
    if parts:
        _, starts, hashes = parts[0]
        song = flat.song_of[starts]
        order = np.argsort(song, kind="stable")
        song, hashes = song[order], hashes[order]
        bounds = np.searchsorted(song, np.arange(len(songs) + 1))
        for si in range(len(songs)):
            per_song[si].append(hashes[bounds[si] : bounds[si + 1]])
    out = []
    for si, s in enumerate(songs):
        found = np.concatenate(per_song[si]) if per_song[si] else np.zeros(0, dtype=np.uint64)
        if not len(found) and s.tokens:  # shorter than one shingle: the whole text is its one shingle
            found = np.array([(1 << 63) | zlib.crc32(s.normalised.encode("utf-8"))], dtype=np.uint64)
        out.append(np.unique(found))
    return out


def minhash_near_duplicates(
    shingle_sets: Sequence[np.ndarray],
    ids: Sequence[str],
    *,
    threshold: float,
    permutations: int = 128,
    lsh_threshold: float = 0.5,
    seed: int = 0x5EED,
) -> list[tuple[str, str, float]]:
    """Pairs of sets (sorted uint64 shingle hashes) with exact Jaccard >= threshold.

    MinHash (Broder 1997): per permutation, the minimum of a random odd multiply-add of the 64-bit
    shingle hashes, all songs at once in numpy. Banding (LSH) makes candidates: songs agreeing on
    every row of some band, with the bands tuned to `lsh_threshold` (below `threshold`, for recall).
    Every candidate's Jaccard is then computed exactly on its shingle sets, so no reported pair is
    approximate; only a pair no band caught can be missed. Written with numpy rather than datasketch,
    whose per-song Python MinHash objects cost seconds per thousand texts.
    """
    live = [i for i, sh in enumerate(shingle_sets) if len(sh)]
    if len(live) < 2:
        return []
    values = np.concatenate([shingle_sets[i] for i in live])
    starts = np.r_[0, np.cumsum([len(shingle_sets[i]) for i in live])[:-1]]
    rng = np.random.default_rng(seed)
    mult = rng.integers(1, 2**63, size=permutations, dtype=np.uint64) | np.uint64(1)
    add = rng.integers(0, 2**63, size=permutations, dtype=np.uint64)
    signature = np.empty((len(live), permutations), dtype=np.uint64)
    mixed = np.empty_like(values)
    shifted = np.empty_like(values)
    with np.errstate(over="ignore"):
        for p in range(permutations):  # one permutation at a time, in place: cache-sized, no temporaries
            np.multiply(values, mult[p], out=mixed)
            mixed += add[p]
            np.right_shift(mixed, np.uint64(29), out=shifted)
            mixed ^= shifted
            signature[:, p] = np.minimum.reduceat(mixed, starts)
    bands, rows = _lsh_bands(permutations, lsh_threshold)
    candidates: set[tuple[int, int]] = set()
    for band in range(bands):
        keys = (
            np.ascontiguousarray(signature[:, band * rows : (band + 1) * rows]).view(f"V{8 * rows}").ravel()
        )
        _, bucket = np.unique(keys, return_inverse=True)
        order = np.argsort(bucket, kind="stable")
        sorted_bucket = bucket[order]
        edges = np.flatnonzero(np.r_[True, sorted_bucket[1:] != sorted_bucket[:-1], True])
        for a, b in zip(edges[:-1].tolist(), edges[1:].tolist(), strict=True):
            if b - a > 1:
                members = sorted(order[a:b].tolist())
                candidates.update((x, y) for i, x in enumerate(members) for y in members[i + 1 :])
    pairs: list[tuple[str, str, float]] = []
    for x, y in candidates:
        sx, sy = shingle_sets[live[x]], shingle_sets[live[y]]
        shared = len(np.intersect1d(sx, sy, assume_unique=True))
        jac = shared / (len(sx) + len(sy) - shared)
        if jac >= threshold - 1e-12:
            a_id, b_id = sorted((ids[live[x]], ids[live[y]]))
            pairs.append((a_id, b_id, round(jac, _ROUND)))
    return sorted(pairs, key=lambda p: (-p[2], p[0], p[1]))


def _maximal_phrases(template: dict[str, int]) -> list[str]:
    """Template phrases not contained in a one-word-longer template phrase found in the same songs.

    Equal song counts mean equal song sets (a longer phrase's songs are a subset), so a dropped
    sub-phrase adds nothing that its extension does not already show.
    """
    covered: set[str] = set()
    for gram, count in template.items():
        toks = gram.split(" ")
        if len(toks) < 2:
            continue
        for sub in (" ".join(toks[:-1]), " ".join(toks[1:])):
            if template.get(sub) == count:
                covered.add(sub)
    return [g for g in template if g not in covered]
