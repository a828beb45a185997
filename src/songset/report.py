"""The dataset quality report: does the prose vary per song, or is it one template with slots filled in?

Audio LLMs rarely copy a whole description, but they reuse the same phrases and sentence shapes across
songs, and a LoRA trained on that learns the template, not the music. Exact-duplicate checks miss it,
so this module measures reuse at three grains: whole texts (exact and near duplicates), phrases (word
n-grams shared by many songs) and sentence shapes (skeletons: function words kept, content words
abstracted). It also measures repetition inside one output, lengths, sidecar field coverage and failures.

Everything here is a pure function of its inputs; the DVC stage and the `songset report` CLI only load
files (the `load_*` helpers), call `build_report`, and write `report.json`, `render_markdown(report)` and
`plots_data(report)`.

Definitions (all on lowercased word tokens, timestamps such as `0:15` or `[0:00-0:18]` stripped):

* exact duplicates: equal token sequences (so case, whitespace, punctuation and timestamps are ignored).
  Within a group of equal texts the first id (sorted) is the original; every other member gets
  `duplicate_of` = that id and is counted in `exact_duplicate_songs` (the songs one could drop).
* near duplicates: set Jaccard over word `near_duplicate_shingle`-gram shingles (3: two changed words
  in 90 change at most 6 of 88 shingles, Jaccard >= 0.87, where 5-grams fall to 0.80) of whole texts,
  pairs at or above `near_duplicate_threshold`. Candidates come from MinHash LSH (an LSH threshold
  below the reported one, for recall), each verified with its exact Jaccard.
* template reuse: a song's distinct word n-grams (n = ngram_min..ngram_max, never across a sentence
  boundary) that occur in at least K other songs, as a share of all its distinct n-grams, where
  K = max(template_min_other_songs, ceil(template_min_song_share * (N - 1))), capped at N - 1: an
  absolute floor for small sets (20 songs: 3 others) and a relative one for large ones (20,000 songs:
  400). An n-gram with fewer than two content words ("a sense of", "in the mix") is ordinary English,
  never template. The listed phrases are grown past ngram_max while they stay in K + 1 songs, and a
  phrase found in exactly the same songs as a longer one is not listed.
* frame templates: the first `FRAME_WORDS` words of a song's first sentence (its opening frame, "this
  track is") and of its last sentence (its closing frame, "overall the track"), listed when K other
  songs share them: a frame is a small share of a long text's n-grams, so template reuse alone hides it.
* skeleton reuse: the share of a song's sentences whose skeleton occurs in at least K other songs.
  Skeletons with fewer than two non-X tokens ("X", "the X") say nothing about style and are left out.
* within repetition: mean of (1 - distinct-3) and the repeated-sentence share (sentences that repeat
  an earlier sentence of the same song); 0 for varied prose, near 1 for one sentence on a loop.
"""

from __future__ import annotations

import json
import logging
import math
import re
import zlib
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from songset.lyrics.coverage import LyricsCoverage, coverage_rows, lyrics_coverage
from songset.schemas import INSTRUMENTAL_LYRICS
from songset.sidecars import CONFIDENCE_THRESHOLDS

log = logging.getLogger(__name__)

FRAME_WORDS = 3  # words of an opening/closing sentence that make its frame
MIN_CONTENT_WORDS = 2  # content words an n-gram needs before its reuse is template rather than English
SONG_TOP_PHRASES = 3  # reused phrases kept per song, for the worst-offender table
MIN_SKELETON_SIGNAL = 2  # non-X tokens a skeleton needs before its reuse means anything
_ROUND = 4  # decimals in the JSON, so re-runs give byte-equal files and short DVC diffs

# ---- text normalisation ------------------------------------------------------------------------------------

_TIME = r"\d{1,2}:\d{2}(?::\d{2})?(?:\.\d+)?"
_RANGE = rf"{_TIME}(?:\s*(?:-|–|—|to)\s*{_TIME})?"
_SECONDS_RANGE = r"\d+(?:\.\d+)?\s*s?\s*(?:-|–|—)\s*\d+(?:\.\d+)?\s*s?"
# A segment marker opens a timestamped segment: a square-bracketed time or range anywhere, or a time or
# range (bare or in parentheses, optionally bold or bulleted) at the start of a line.
_MARKER_RE = re.compile(
    rf"\[\s*(?:{_RANGE}|{_SECONDS_RANGE})\s*\]"
    rf"|^[ \t]*(?:[-*•#>]+[ \t]*)?(?:\*\*)?(?:\(\s*{_RANGE}\s*\)|{_RANGE})(?:\*\*)?[ \t]*[:\-–—]?",
    re.MULTILINE,
)
# An inline time: "enters at 0:15", "(1:02)", "from 0:30-0:45".
# Percentages of the song ("0-18%") and seconds with units ("at 45 seconds", "the 30-second mark") are
# times too: never words of a phrase, a segment or a near duplicate.
_PERCENT_RANGE = r"\d{1,3}(?:\.\d+)?\s*%?\s*(?:-|‑|–|—|to)\s*\d{1,3}(?:\.\d+)?\s*%"
_SECONDS_TEXT = r"\b\d+(?:\.\d+)?(?:\s*|-)(?:seconds?|secs?)\b(?:\s+mark\b)?"
_INLINE_TIME_RE = re.compile(  # the lookahead fails fast where no time can start (most positions)
    rf"(?=[(\d])(?:\(\s*(?:{_RANGE}|{_PERCENT_RANGE})\s*\)|{_RANGE}|{_PERCENT_RANGE}|{_SECONDS_TEXT})",
    re.IGNORECASE,
)
_SENTENCE_SPLIT_RE = re.compile(r"(?<=[.!?])\s+|\n+")
_WORD_RE = re.compile(r"[^\W_]+(?:['’\-][^\W_]+)*")
_SKELETON_TOKEN_RE = re.compile(r"NUMTIME|[^\W_]+(?:['’\-][^\W_]+)*|,")
_NUMBER_RE = re.compile(r"^\d+(?:[.,]\d+)*(?:s|st|nd|rd|th|bpm|hz|khz|db|ms|%)?$")
_TIME_PLACEHOLDER = " NUMTIME "

# A fixed English function-word list: what stays visible in a skeleton. Verbs that carry meaning
# ("enters", "adds") are content words and become X.
_FUNCTION_WORDS_TEXT = """
    a an the this that these those some any each every no all both either neither another such
    i me my mine we us our ours you your yours he him his she her hers it its they them their theirs
    one ones oneself itself themselves himself herself myself ourselves yourself yourselves
    who whom whose which what whatever whichever whoever where when while whilst why how
    and or but nor so yet for if then than because although though unless until till as whether
    once since after before
    of in on at by to from with without within into onto upon over under above below between among
    through throughout across along around about against toward towards behind beyond beneath beside
    besides during near off out up down past per via amid alongside despite inside outside underneath
    is am are was were be been being do does did done doing have has had having
    will would shall should can could may might must ought
    not also just only even still too very quite rather more most less least much many
    few fewer several other others same own again ever never always often here there now
"""
FUNCTION_WORDS: frozenset[str] = frozenset(_FUNCTION_WORDS_TEXT.split())
_NUMBER_WORDS_TEXT = """
    zero two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen
    seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred thousand
    first second third fourth fifth sixth seventh eighth ninth tenth half quarter
"""
NUMBER_WORDS: frozenset[str] = frozenset(_NUMBER_WORDS_TEXT.split())


def strip_markers(text: str) -> str:
    """Segment markers become line breaks: they end a sentence but are not part of it."""
    return _MARKER_RE.sub("\n", text)


def words(text: str) -> list[str]:
    """Lowercased word tokens with every timestamp removed."""
    return _WORD_RE.findall(_INLINE_TIME_RE.sub(" ", strip_markers(text)).lower())


def split_sentences(text: str) -> list[str]:
    """Sentences of the prose, markers removed; inline times kept for the skeletons."""
    parts = _SENTENCE_SPLIT_RE.split(strip_markers(text))
    return [p.strip() for p in parts if _WORD_RE.search(_INLINE_TIME_RE.sub(" ", p))]


def normalise(text: str) -> str:
    """The form exact duplicates are compared in: only the words survive."""
    return " ".join(words(text))


_SKELETON_CLASS: dict[str, str] = {}  # raw token -> skeleton token, a cache (bounded)


def _skeleton_class(raw: str) -> str:
    if raw == "NUMTIME":
        return "NUM"
    low = raw.lower()
    if low == ",":
        return ","
    if _NUMBER_RE.match(low) or low in NUMBER_WORDS:
        return "NUM"
    return low if low in FUNCTION_WORDS else "X"


def skeleton(sentence: str) -> str:
    """Function words kept, numbers and times as NUM, runs of content words as one X."""
    marked = _INLINE_TIME_RE.sub(_TIME_PLACEHOLDER, sentence)
    out: list[str] = []
    for raw in _SKELETON_TOKEN_RE.findall(marked):
        tok = _SKELETON_CLASS.get(raw)
        if tok is None:
            tok = _skeleton_class(raw)
            if len(_SKELETON_CLASS) < 200_000:
                _SKELETON_CLASS[raw] = tok
        if tok == "X" and out and out[-1] == "X":
            continue
        if tok == "," and (not out or out[-1] == ","):
            continue
        out.append(tok)
    while out and out[-1] == ",":
        out.pop()
    return " ".join(out).replace(" ,", ",")


def _skeleton_signal(skel: str) -> int:
    return sum(1 for t in skel.replace(",", " ").split() if t != "X")


def segments(text: str) -> list[list[str]]:
    """Word tokens of each timestamped segment.

    With markers ("[0:00-0:18] ...", a line starting "0:15 -"), a segment runs to the next marker;
    without them, each sentence that mentions a time is one segment.
    """
    matches = list(_MARKER_RE.finditer(text))
    if matches:
        bounds = [m.end() for m in matches]
        ends = [m.start() for m in matches[1:]] + [len(text)]
        return [words(text[b:e]) for b, e in zip(bounds, ends, strict=True)]
    return [words(s) for s in split_sentences(text) if _INLINE_TIME_RE.search(s)]


def ngrams(tokens: Sequence[str], n: int) -> list[str]:
    return [" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]


# ---- settings and report models ----------------------------------------------------------------------------


class ReportSettings(BaseModel):
    """`conf/report/*.yaml`; unknown keys are rejected so a typo does not silently keep a default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ngram_min: int = Field(3, ge=1)
    ngram_max: int = Field(6, ge=1)
    template_min_other_songs: int = Field(3, ge=1, description="K's absolute floor (other songs)")
    template_min_song_share: float = Field(0.02, ge=0, le=1, description="K's relative floor")
    near_duplicate_threshold: float = Field(0.8, gt=0, le=1)
    near_duplicate_shingle: int = Field(3, ge=1, description="words per near-duplicate shingle")
    minhash_permutations: int = Field(128, ge=16)
    minhash_lsh_threshold: float = Field(
        0.5, gt=0, le=1, description="candidate threshold, below the reported"
    )
    worst_songs: int = Field(10, ge=0)
    top_phrases: int = Field(20, ge=0)

    @model_validator(mode="before")
    @classmethod
    def _drop_target(cls, data: Any) -> Any:
        if isinstance(data, dict) and "_target_" in data:
            data = {k: v for k, v in data.items() if k != "_target_"}
        return data

    @model_validator(mode="after")
    def _ordered(self) -> ReportSettings:
        if self.ngram_max < self.ngram_min:
            raise ValueError(f"ngram_max ({self.ngram_max}) is below ngram_min ({self.ngram_min})")
        return self


class Phrase(BaseModel):
    phrase: str
    songs: int = Field(description="songs whose text contains the phrase")
    words: int


class SkeletonCount(BaseModel):
    skeleton: str
    songs: int = Field(description="songs with at least one sentence of this shape")
    sentences: int = Field(description="sentences of this shape, all songs together")


class FailureRow(BaseModel):
    id: str
    file: str
    stage: str
    reason: str


class StageRow(BaseModel):
    stage: str
    songs: int
    computed: int
    cached: int
    failed: int
    wall_time_s: float


class SongQuality(BaseModel):
    id: str
    words: int
    sentences: int
    segments: int
    duration: float | None
    segments_per_minute: float | None
    template_reuse: float
    skeleton_reuse: float
    within_repetition: float
    repeated_sentence_share: float
    repeated_segments: int = Field(description="segments saying (nearly) what an earlier segment said")
    distinct_1: float
    distinct_2: float
    distinct_3: float
    compression_ratio: float
    duplicate_of: str | None
    near_duplicates: list[str]
    top_phrases: list[str] = Field(description="this song's most widely shared template phrases")


class FrameTemplate(BaseModel):
    position: str = Field(description="opening (first sentence) or closing (last sentence)")
    frame: str
    songs: int


class StackSummary(BaseModel):
    """The headline figures of one annotator stack (backend + model), measured on its own outputs only."""

    songs: int
    prompts: dict[str, int] = Field(
        default_factory=dict, description="prompt sha256[:8] -> texts: the prompt variants of this stack"
    )
    template_reuse: float
    skeleton_reuse: float
    within_repetition: float
    mean_words: float
    exact_duplicate_songs: int
    near_duplicate_pairs: int


class QualityReport(BaseModel):
    """`reports/quality.json`: numeric summaries at the top level (DVC metrics), details in lists."""

    songs: int
    failures: int
    failed_songs: int
    partial: bool = Field(description="failures exist and the run allowed a partial dataset")
    accepted: bool = Field(description="no failures, or failures allowed")
    empty_texts: int
    exact_duplicate_songs: int
    near_duplicate_pairs: list[tuple[str, str, float]]
    near_duplicate_songs: int
    template_reuse: float
    template_min_songs: int = Field(description="K: other songs a phrase or skeleton must appear in")
    frame_templates: list[FrameTemplate] = Field(default_factory=list)
    skeleton_reuse: float
    within_repetition: float
    repeated_sentence_share: float
    repeated_segments: int
    distinct_1: float
    distinct_2: float
    distinct_3: float
    compression_ratio: float
    mean_words: float
    mean_sentences: float
    mean_segments_per_minute: float | None
    sidecars: int
    bpm_coverage: float | None
    key_coverage: float | None
    timesignature_coverage: float | None
    lyrics_coverage: float | None
    language_coverage: float | None
    mean_caption_tokens: float | None
    max_caption_tokens: int | None
    captions_over_budget: int | None
    songs_over_240s: int | None
    omitted_fields: dict[str, dict[str, int]] = Field(description="field -> reason -> songs")
    mean_confidences: dict[str, float]
    failures_by_stage: dict[str, int]
    failures_by_reason: dict[str, int]
    failure_list: list[FailureRow]
    stages: list[StageRow]
    exact_duplicate_groups: list[list[str]]
    worst_by_template_reuse: list[str] = Field(description="ids, worst first, at most worst_songs")
    worst_by_within_repetition: list[str] = Field(description="ids, worst first, at most worst_songs")
    top_phrases: list[Phrase]
    top_skeletons: list[SkeletonCount]
    per_song: list[SongQuality]
    by_stack: dict[str, StackSummary] = Field(
        default_factory=dict, description="stack group -> its figures, each stack measured on its own"
    )
    confidence_histograms: dict[str, list[int]] = Field(
        default_factory=dict, description="sidecar field -> songs per confidence decile (0-0.1, ..., 0.9-1)"
    )
    confidence_thresholds: dict[str, float] = Field(
        default_factory=dict, description="sidecar field -> confidence below which it was left out"
    )
    flagged: dict[str, list[str]] = Field(
        default_factory=dict, description="sidecar flag (caption_over_budget, over_240s, ...) -> songs"
    )
    skipped: list[FailureRow] = Field(
        default_factory=list, description="byte-identical copies of another song: built once, not failures"
    )
    lyrics: LyricsCoverage | None = Field(
        None, description="lyrics and language coverage by source, vocal/instrumental counts (lyrics stage)"
    )


# ---- per-song analysis -------------------------------------------------------------------------------------


class _Song:
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


def _distinct(tokens: Sequence[str], n: int) -> float:
    total = len(tokens) - n + 1
    return len(set(zip(*(tokens[i:] for i in range(n)), strict=False))) / total if total > 0 else 1.0


def _repeated_sentence_share(song: _Song) -> float:
    keys = [" ".join(t) for t in song.sentence_tokens if t]
    return (len(keys) - len(set(keys))) / len(keys) if keys else 0.0


def _repeated_segments(segs: list[list[str]], threshold: float) -> int:
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


def _compression_ratio(normalised: str) -> float:
    raw = normalised.encode("utf-8")
    return len(zlib.compress(raw, 9)) / len(raw) if raw else 0.0


# ---- corpus-level analysis ---------------------------------------------------------------------------------


def template_threshold(n_songs: int, share: float, floor: int = 1) -> int:
    """K: how many OTHER songs must share a phrase before it counts as template phrasing.

    The larger of an absolute floor and a share of the other songs, never more than there are others.
    """
    relative = math.ceil(share * (n_songs - 1) - 1e-9)
    return max(1, min(max(floor, relative), n_songs - 1))


def _exact_duplicates(songs: list[_Song]) -> tuple[dict[str, str], list[list[str]]]:
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

    def __init__(self, songs: Sequence[_Song]) -> None:
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

    def __init__(self, songs: Sequence[_Song], settings: ReportSettings, k: int) -> None:
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


def _song_shingles(flat: _Flat, songs: Sequence[_Song], shingle: int) -> list[np.ndarray]:
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


def _mean(values: Iterable[float]) -> float:
    vals = list(values)
    return sum(vals) / len(vals) if vals else 0.0


def _r(x: float) -> float:
    return round(float(x), _ROUND)


def _worst(per_song: Sequence[SongQuality], metric: str, limit: int) -> list[str]:
    scored = sorted(
        (p for p in per_song if getattr(p, metric) > 0), key=lambda p: (-getattr(p, metric), p.id)
    )
    return [p.id for p in scored[:limit]]


def _omission_kind(reason: str) -> str:
    """'confidence 0.21 below 0.30' -> 'confidence below 0.30': the song's own value out, the rule kept."""
    return (
        re.sub(r"^(\w+) -?\d+(?:\.\d+)? (below|above|outside) ", r"\1 \2 ", reason.strip())[:120] or "unknown"
    )


def _reason_kind(reason: str, file: str = "", song_id: str = "") -> str:
    """Group reasons that differ only in the file they name or the numbers they quote."""
    text = reason.strip()
    for prefix in (file, song_id):
        if prefix and text.startswith(prefix):
            text = text[len(prefix) :].lstrip(" :-")
    text = re.sub(r"\d+(?:\.\d+)?", "#", text)
    return text[:120] or "unknown"


# ---- sidecars and failures ---------------------------------------------------------------------------------


def _sidecar_summary(sidecars: dict[str, dict[str, Any]]) -> dict[str, Any]:
    n = len(sidecars)
    if not n:
        return {
            "sidecars": 0,
            **dict.fromkeys(
                (
                    "bpm_coverage",
                    "key_coverage",
                    "timesignature_coverage",
                    "lyrics_coverage",
                    "language_coverage",
                ),
            ),
            "mean_caption_tokens": None,
            "max_caption_tokens": None,
            "captions_over_budget": None,
            "songs_over_240s": None,
            "omitted_fields": {},
            "mean_confidences": {},
        }

    def share(pred: Any) -> float:
        return _r(sum(1 for sc in sidecars.values() if pred(sc)) / n)

    def lyrics_present(sc: dict[str, Any]) -> bool:
        lyr = sc.get("lyrics")
        return isinstance(lyr, str) and bool(lyr.strip()) and lyr.strip() != INSTRUMENTAL_LYRICS

    def language_present(sc: dict[str, Any]) -> bool:
        return any(sc.get(k) not in (None, "", "unknown") for k in ("language", "vocal_language"))

    sources = [sc.get("source") or {} for sc in sidecars.values()]
    tokens = [int(src["caption_tokens"]) for src in sources if src.get("caption_tokens") is not None]
    omitted: dict[str, Counter[str]] = defaultdict(Counter)
    confidences: dict[str, list[float]] = defaultdict(list)
    for src in sources:
        for field, why in (src.get("omitted") or {}).items():
            omitted[field][_omission_kind(str(why))] += 1
        for key, value in (src.get("confidences") or {}).items():
            if isinstance(value, int | float):
                confidences[key].append(float(value))
    thresholds: dict[str, float] = {}
    for src in sources:  # the thresholds the sidecars were built with, from their own provenance
        built_with = ((src.get("provenance") or {}).get("sidecar") or {}).get("settings") or {}
        for field, setting in CONFIDENCE_THRESHOLDS.items():
            if isinstance(built_with.get(setting), int | float):
                thresholds.setdefault(field, float(built_with[setting]))
    flagged: dict[str, list[str]] = defaultdict(list)
    for stem, sc in sidecars.items():
        for flag in (sc.get("source") or {}).get("flags") or []:
            flagged[str(flag)].append(stem)
    return {
        "confidence_histograms": {k: _histogram(v) for k, v in sorted(confidences.items())},
        "confidence_thresholds": dict(sorted(thresholds.items())),
        "flagged": {f: sorted(stems) for f, stems in sorted(flagged.items())},
        "sidecars": n,
        "bpm_coverage": share(lambda sc: sc.get("bpm") is not None),
        "key_coverage": share(lambda sc: bool(sc.get("keyscale"))),
        "timesignature_coverage": share(lambda sc: sc.get("timesignature") is not None),
        "lyrics_coverage": share(lyrics_present),
        "language_coverage": share(language_present),
        "mean_caption_tokens": _r(_mean(tokens)) if tokens else None,
        "max_caption_tokens": max(tokens) if tokens else None,
        "captions_over_budget": sum(
            1 for src in sources if "caption_over_budget" in (src.get("flags") or [])
        ),
        "songs_over_240s": sum(1 for src in sources if "over_240s" in (src.get("flags") or [])),
        "omitted_fields": {f: dict(sorted(c.items())) for f, c in sorted(omitted.items())},
        "mean_confidences": {k: _r(_mean(v)) for k, v in sorted(confidences.items())},
    }


def _histogram(values: Sequence[float], bins: int = 10) -> list[int]:
    """Counts per equal-width bin of [0, 1]; 1.0 falls in the last bin, values outside are clipped."""
    counts = [0] * bins
    for v in values:
        counts[min(bins - 1, max(0, int(v * bins)))] += 1
    return counts


def _collect_failures(
    failures: Sequence[dict[str, Any]], stage_summaries: Sequence[dict[str, Any]]
) -> list[FailureRow]:
    """Failures from both sources, each once (a stage summary repeats what the failure list says)."""
    rows: dict[tuple[str, str, str, str], FailureRow] = {}
    items = list(failures) + [f for s in stage_summaries for f in (s.get("failed") or [])]
    for item in items:
        row = FailureRow(
            id=str(item.get("id", "")),
            file=str(item.get("file", "")),
            stage=str(item.get("stage", "")) or "unknown",
            reason=str(item.get("reason", "")),
        )
        rows.setdefault((row.id, row.file, row.stage, row.reason), row)
    return sorted(rows.values(), key=lambda r: (r.stage, r.id, r.reason))


# ---- the entry point ---------------------------------------------------------------------------------------


def build_report(
    texts: dict[str, str],
    *,
    settings: ReportSettings,
    sidecars: dict[str, dict[str, Any]] | None = None,
    failures: list[dict[str, Any]] | None = None,
    stage_summaries: list[dict[str, Any]] | None = None,
    durations: dict[str, float] | None = None,
    allow_partial: bool = False,
    by_stack: dict[str, StackSummary] | None = None,
) -> QualityReport:
    """Measure a corpus of annotation texts (song id -> prose); sidecar and failure inputs are optional.

    Durations fall back to the sidecar's `duration` when a song has none in `durations`. `by_stack`
    (from `stack_summaries`) is passed through to the report.
    """
    sidecars = sidecars or {}
    durations = dict(durations or {})
    for sid, sc in sidecars.items():
        if sid not in durations and isinstance(sc.get("duration"), int | float):
            durations[sid] = float(sc["duration"])

    songs = [_Song(sid, texts[sid]) for sid in sorted(texts)]
    ids = [s.id for s in songs]
    k = template_threshold(len(songs), settings.template_min_song_share, settings.template_min_other_songs)

    # phrases: document frequency of each n-gram; template = shared by >= K other songs
    phrases = _Phrases(songs, settings, k)
    longer = phrases.longer
    phrase_songs = phrases.template | {g: len(members) for g, members in longer.items()}
    maximal = sorted(_maximal_phrases(phrase_songs), key=lambda g: (-phrase_songs[g], -g.count(" "), g))
    song_top: dict[int, list[str]] = defaultdict(list)
    for g in maximal:
        members = longer[g] if g in longer else phrases.songs_of[g].tolist()
        for si in members:
            if len(song_top[si]) < SONG_TOP_PHRASES:
                song_top[si].append(g)

    # skeletons
    skel_songs: Counter[str] = Counter()
    skel_sentences: Counter[str] = Counter()
    for s in songs:
        informative = [sk for sk in s.skeletons if _skeleton_signal(sk) >= MIN_SKELETON_SIGNAL]
        skel_sentences.update(informative)
        skel_songs.update(set(informative))

    dup_of, dup_groups = _exact_duplicates(songs)
    pairs = minhash_near_duplicates(
        _song_shingles(phrases.flat, songs, settings.near_duplicate_shingle),
        ids,
        threshold=settings.near_duplicate_threshold,
        permutations=settings.minhash_permutations,
        lsh_threshold=min(settings.minhash_lsh_threshold, settings.near_duplicate_threshold),
    )
    near: dict[str, list[str]] = defaultdict(list)
    for a, b, _ in pairs:
        near[a].append(b)
        near[b].append(a)

    per_song: list[SongQuality] = []
    for si, s in enumerate(songs):
        reuse = float(phrases.reuse[si])
        informative = [sk for sk in s.skeletons if _skeleton_signal(sk) >= MIN_SKELETON_SIGNAL]
        skel_reuse = (
            sum(1 for sk in informative if skel_songs[sk] - 1 >= k) / len(informative) if informative else 0.0
        )
        d1, d2, d3 = (_distinct(s.tokens, n) for n in (1, 2, 3))
        rep_sent = _repeated_sentence_share(s)
        duration = durations.get(s.id)
        per_minute = len(s.segments) / (duration / 60) if duration and duration > 0 else None
        per_song.append(
            SongQuality(
                id=s.id,
                words=len(s.tokens),
                sentences=len(s.sentences),
                segments=len(s.segments),
                duration=duration,
                segments_per_minute=_r(per_minute) if per_minute is not None else None,
                template_reuse=_r(reuse),
                skeleton_reuse=_r(skel_reuse),
                within_repetition=_r(((1 - d3) + rep_sent) / 2 if s.tokens else 0.0),
                repeated_sentence_share=_r(rep_sent),
                repeated_segments=_repeated_segments(s.segments, settings.near_duplicate_threshold),
                distinct_1=_r(d1),
                distinct_2=_r(d2),
                distinct_3=_r(d3),
                compression_ratio=_r(_compression_ratio(s.normalised)),
                duplicate_of=dup_of.get(s.id),
                near_duplicates=sorted(near.get(s.id, [])),
                top_phrases=song_top.get(si, []),
            )
        )

    fail_rows = _collect_failures(failures or [], stage_summaries or [])
    skipped = {
        str(item.get("file", "")): FailureRow(
            id=str(item.get("id", "")),
            file=str(item.get("file", "")),
            stage=str(item.get("stage", "")) or "unknown",
            reason=str(item.get("reason", "")),
        )
        for sm in stage_summaries or []
        for item in sm.get("skipped") or []
    }
    stages = [
        StageRow(
            stage=str(sm.get("stage", "")),
            songs=int(sm.get("songs") or 0),
            computed=len(sm.get("computed") or []),
            cached=len(sm.get("cached") or []),
            failed=len(sm.get("failed") or []),
            wall_time_s=_r(sm.get("wall_time_s") or 0.0),
        )
        for sm in (stage_summaries or [])
    ]
    per_minute_values = [p.segments_per_minute for p in per_song if p.segments_per_minute is not None]

    def mean_of(attr: str) -> float:
        return _r(_mean(getattr(p, attr) for p in per_song))

    return QualityReport(
        songs=len(songs),
        failures=len(fail_rows),
        failed_songs=len({r.id or r.file for r in fail_rows}),
        partial=bool(fail_rows) and allow_partial,
        accepted=not fail_rows or allow_partial,
        empty_texts=sum(1 for s in songs if not s.tokens),
        exact_duplicate_songs=len(dup_of),
        near_duplicate_pairs=pairs,
        near_duplicate_songs=len(near),
        template_reuse=mean_of("template_reuse"),
        template_min_songs=k,
        frame_templates=frame_templates([s.sentence_tokens for s in songs], k),
        skeleton_reuse=mean_of("skeleton_reuse"),
        within_repetition=mean_of("within_repetition"),
        repeated_sentence_share=mean_of("repeated_sentence_share"),
        repeated_segments=sum(p.repeated_segments for p in per_song),
        distinct_1=mean_of("distinct_1"),
        distinct_2=mean_of("distinct_2"),
        distinct_3=mean_of("distinct_3"),
        compression_ratio=mean_of("compression_ratio"),
        mean_words=mean_of("words"),
        mean_sentences=mean_of("sentences"),
        mean_segments_per_minute=_r(_mean(per_minute_values)) if per_minute_values else None,
        **_sidecar_summary(sidecars),
        lyrics=lyrics_coverage(sidecars) if sidecars else None,
        failures_by_stage=dict(sorted(Counter(r.stage for r in fail_rows).items())),
        failures_by_reason=dict(
            sorted(Counter(_reason_kind(r.reason, r.file, r.id) for r in fail_rows).items())
        ),
        failure_list=fail_rows,
        skipped=[skipped[f] for f in sorted(skipped)],
        stages=stages,
        exact_duplicate_groups=dup_groups,
        worst_by_template_reuse=_worst(per_song, "template_reuse", settings.worst_songs),
        worst_by_within_repetition=_worst(per_song, "within_repetition", settings.worst_songs),
        top_phrases=[
            Phrase(phrase=g, songs=phrase_songs[g], words=g.count(" ") + 1)
            for g in maximal[: settings.top_phrases]
        ],
        top_skeletons=[
            SkeletonCount(skeleton=sk, songs=c, sentences=skel_sentences[sk])
            for sk, c in sorted(skel_songs.items(), key=lambda kv: (-kv[1], -skel_sentences[kv[0]], kv[0]))
            if c - 1 >= k
        ][: settings.top_phrases],
        per_song=per_song,
        by_stack=by_stack or {},
    )


# ---- outputs -----------------------------------------------------------------------------------------------

PLOT_FIELDS = ("template_reuse", "skeleton_reuse", "within_repetition", "words", "segments_per_minute")


def plots_data(report: QualityReport) -> dict[str, list[dict[str, Any]]]:
    """One list of {id, value} rows per per-song metric, each a ready DVC plots file."""
    return {
        field: [
            {"id": p.id, field: getattr(p, field)} for p in report.per_song if getattr(p, field) is not None
        ]
        for field in PLOT_FIELDS
    }


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".") if value != int(value) else str(int(value))
    return str(value).replace("|", "\\|").replace("\n", " ")


def _table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return lines


def stack_rows(r: QualityReport) -> list[tuple[Any, ...]]:
    """One row per annotator stack, in the column order both the md and the html tables use."""
    return [
        (
            group,
            stats.songs,
            stats.template_reuse,
            stats.skeleton_reuse,
            stats.within_repetition,
            stats.mean_words,
            stats.exact_duplicate_songs,
            stats.near_duplicate_pairs,
        )
        for group, stats in r.by_stack.items()
    ]


def render_markdown(report: QualityReport) -> str:
    """A one-page summary for a person; the JSON stays the record."""
    r = report
    out = [
        "# Dataset quality report",
        "",
        f"{r.songs} songs, {r.failed_songs} failed song{'' if r.failed_songs == 1 else 's'}"
        + (f" ({r.failures} failures across stages)" if r.failures != r.failed_songs else "")
        + (f", {len(r.skipped)} byte-identical copies skipped" if r.skipped else "")
        + (" — **partial dataset**" if r.partial else "")
        + ("" if r.accepted else " — **not accepted** (failures and allow_partial is off)"),
        "",
        "## Headline",
        "",
        *_table(
            ("metric", "value", "meaning"),
            [
                (
                    "template_reuse",
                    r.template_reuse,
                    f"share of a song's phrases used by ≥{r.template_min_songs} other songs; "
                    "lower is better, over 0.3 the texts share templates",
                ),
                (
                    "skeleton_reuse",
                    r.skeleton_reuse,
                    f"share of sentences shaped like ≥{r.template_min_songs} other songs'; "
                    "lower is better, over 0.6 most sentences are one mould",
                ),
                (
                    "within_repetition",
                    r.within_repetition,
                    "repetition inside one output: 0 varied (good), over 0.25 looping (bad)",
                ),
                (
                    "exact_duplicate_songs",
                    r.exact_duplicate_songs,
                    "songs whose text copies an earlier song's; should be 0",
                ),
                (
                    "near_duplicate_pairs",
                    len(r.near_duplicate_pairs),
                    "pairs of texts with high 5-gram overlap; should be 0",
                ),
                (
                    "distinct_3",
                    r.distinct_3,
                    "unique word trigrams / all trigrams, mean; higher is better (1: no trigram repeats)",
                ),
                (
                    "repeated_segments",
                    r.repeated_segments,
                    "timestamped segments repeating an earlier one; should be 0",
                ),
                (
                    "mean_words",
                    r.mean_words,
                    "words per text: too few says little, past ~200 captions get cut",
                ),
                (
                    "mean_segments_per_minute",
                    r.mean_segments_per_minute,
                    "timestamped sections per minute: about 1-4 follows a song's form",
                ),
                ("empty_texts", r.empty_texts, "texts with no words; should be 0"),
            ],
        ),
    ]
    if r.by_stack:
        out += [
            "",
            "## By annotator stack",
            "",
            "Each stack measured on its own outputs (its template reuse is against its own other songs).",
            "",
            *_table(
                (
                    "stack",
                    "songs",
                    "template_reuse",
                    "skeleton_reuse",
                    "within_repetition",
                    "mean_words",
                    "exact_duplicate_songs",
                    "near_duplicate_pairs",
                ),
                stack_rows(r),
            ),
        ]
    if r.failure_list:
        out += [
            "",
            "## Failures",
            "",
            *_table(
                ("file", "stage", "reason"), ((f.file or f.id, f.stage, f.reason) for f in r.failure_list)
            ),
        ]

    if r.skipped:
        out += [
            "",
            "## Skipped: byte-identical copies",
            "",
            "Each is the same audio as another file and is built once, under that file; not a failure.",
            "",
            *_table(("file", "reason"), ((f.file, f.reason) for f in r.skipped)),
        ]

    out += ["", "## Worst offenders", ""]
    by_id = {p.id: p for p in r.per_song}
    for worst_ids, label in (
        (r.worst_by_template_reuse, "template reuse"),
        (r.worst_by_within_repetition, "within-song repetition"),
    ):
        worst = [by_id[i] for i in worst_ids]
        out += [f"### By {label}", ""]
        if not worst:
            out += ["none", ""]
            continue
        out += _table(
            ("song", "template reuse", "within repetition", "skeleton reuse", "most reused phrases"),
            (
                (
                    p.id,
                    p.template_reuse,
                    p.within_repetition,
                    p.skeleton_reuse,
                    "; ".join(f"“{x}”" for x in p.top_phrases),
                )
                for p in worst
            ),
        )
        out.append("")

    out += ["## Top reused phrases", ""]
    out += (
        _table(("phrase", "songs"), ((p.phrase, p.songs) for p in r.top_phrases))
        if r.top_phrases
        else ["none"]
    )
    if r.frame_templates:
        out += ["", "## Frame templates", "", "Opening/closing sentence frames shared by many songs.", ""]
        out += _table(
            ("position", "frame", "songs"), ((f.position, f.frame, f.songs) for f in r.frame_templates)
        )
    out += ["", "## Top sentence skeletons", ""]
    out += (
        _table(
            ("skeleton", "songs", "sentences"), ((s.skeleton, s.songs, s.sentences) for s in r.top_skeletons)
        )
        if r.top_skeletons
        else ["none"]
    )
    if r.near_duplicate_pairs or r.exact_duplicate_groups:
        out += ["", "## Duplicates", ""]
        exact = {p.id: p.duplicate_of for p in r.per_song if p.duplicate_of}
        near_only = [
            (a, b, sim) for a, b, sim in r.near_duplicate_pairs if exact.get(a, a) != exact.get(b, b)
        ]  # an exact copy is also a near duplicate; list it once
        out += _table(
            ("song", "like", "similarity"),
            [(", ".join(g[1:]), g[0], "exact copy") for g in r.exact_duplicate_groups] + near_only,
        )
    if r.sidecars:
        out += ["", "## Sidecar coverage", ""]
        out += _table(
            ("field", "value"),
            [
                ("sidecars", r.sidecars),
                ("bpm", r.bpm_coverage),
                ("keyscale", r.key_coverage),
                ("timesignature", r.timesignature_coverage),
                ("lyrics", r.lyrics_coverage),
                ("language", r.language_coverage),
                ("mean caption tokens", r.mean_caption_tokens),
                ("max caption tokens", r.max_caption_tokens),
                ("captions over budget", r.captions_over_budget),
                ("songs over 240 s", r.songs_over_240s),
            ],
        )
        if r.lyrics is not None:
            out += ["", "## Lyrics and language", "", *_table(("measure", "value"), coverage_rows(r.lyrics))]
        out += ["", "## Flagged songs", ""]
        out += (
            _table(
                ("flag", "songs", "which"), ((f, len(ids), ", ".join(ids)) for f, ids in r.flagged.items())
            )
            if r.flagged
            else ["none"]
        )
        if r.omitted_fields:
            out += [
                "",
                "Left out of the sidecars (ACE-Step is given no value rather than a doubtful one):",
                "",
                *_table(
                    ("omitted field", "reason", "songs"),
                    ((f, why, c) for f, rs in r.omitted_fields.items() for why, c in rs.items()),
                ),
            ]
    return "\n".join(out) + "\n"


# ---- loading -----------------------------------------------------------------------------------------------


def _json_objects(directory: Path) -> Iterable[tuple[Path, dict[str, Any]]]:
    for path in sorted(Path(directory).glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            log.warning("skipping %s: %s", path, exc)
            continue
        if isinstance(data, dict):
            yield path, data


def _song_id(path: Path, data: dict[str, Any]) -> str:
    sid = data.get("id")
    return sid if isinstance(sid, str) and sid else path.stem


def load_texts(directory: Path) -> dict[str, str]:
    """Song id -> prose from raw annotations (`text`) or clean annotations (`rich_details`)."""
    texts: dict[str, str] = {}
    for path, data in _json_objects(directory):
        text = data.get("text")
        if not isinstance(text, str):
            text = data.get("rich_details")
        if not isinstance(text, str):
            continue
        sid = _song_id(path, data)
        if sid in texts:
            raise ValueError(f"{path}: song id {sid!r} appears in two files of {directory}")
        texts[sid] = text
    return texts


def load_durations(directory: Path) -> dict[str, float]:
    """Song id -> seconds, from any annotation or metadata JSON that records a duration."""
    return {
        _song_id(path, data): float(data["duration"])
        for path, data in _json_objects(directory)
        if isinstance(data.get("duration"), int | float) and not isinstance(data.get("duration"), bool)
    }


def load_sidecars(directory: Path) -> dict[str, dict[str, Any]]:
    """Stem -> sidecar dict for every `<stem>.json` shaped like a sidecar (caption plus source)."""
    return {
        path.stem: data
        for path, data in _json_objects(directory)
        if "caption" in data and isinstance(data.get("source"), dict)
    }


# ---- annotator stacks --------------------------------------------------------------------------------------


class AnnotationRecord(NamedTuple):
    """One annotation text with the stack that wrote it; one song may have a record per stack."""

    id: str
    group: str
    text: str
    prompt: str = ""  # sha256[:8] of the prompt; variants of one stack share its group


def prompt_of(provenance: Any) -> str:
    """sha256[:8] of the prompt that produced the text, or "" when there was none."""
    prompt = provenance.get("prompt") if isinstance(provenance, dict) else None
    return str(prompt.get("sha256") or "")[:8] if isinstance(prompt, dict) else ""


def stack_group(provenance: Any) -> str:
    """`backend[:model_id][+adapter]`, e.g. `af3_hf:nvidia/audio-flamingo-3-hf+think`.

    Settings and prompt are left out on purpose: a stack is the model; its prompt variants are counted
    under it (`StackSummary.prompts`), so one model asked two ways is one group, not many one-song groups.
    """
    if not isinstance(provenance, dict):
        return "unknown"
    key = str(provenance.get("backend") or "unknown")
    if provenance.get("model_id"):
        key += f":{provenance['model_id']}"
    if provenance.get("adapter"):
        key += f"+{provenance['adapter']}"
    return key


def load_annotations(directory: Path) -> list[AnnotationRecord]:
    """Every annotation text under `directory` (subfolders too), with its stack group.

    Raw annotations carry `text`, clean ones `rich_details`; the group comes from `provenance`. The
    same song may appear once per group; twice in one group is an error naming both files.
    """
    root = Path(directory)
    seen: dict[tuple[str, str, str], Path] = {}
    out: list[AnnotationRecord] = []
    for path in sorted(root.rglob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            log.warning("skipping %s: %s", path, exc)
            continue
        if not isinstance(data, dict):
            continue
        text = data.get("text")
        if not isinstance(text, str):
            text = data.get("rich_details")
        if not isinstance(text, str):
            continue
        sid, group = _song_id(path, data), stack_group(data.get("provenance"))
        prompt = prompt_of(data.get("provenance"))
        if (sid, group, prompt) in seen:
            raise ValueError(
                f"{path}: song id {sid!r} of stack {group!r} is also in {seen[sid, group, prompt]}"
            )
        seen[sid, group, prompt] = path
        out.append(AnnotationRecord(sid, group, text, prompt))
    return sorted(out, key=lambda r: (r.group, r.id, r.prompt))


def _song_key(r: AnnotationRecord, records: Sequence[AnnotationRecord]) -> str:
    """The song id, with `#prompt` when the same stack wrote this song under several prompts."""
    twice = sum(1 for o in records if o.group == r.group and o.id == r.id) > 1
    return f"{r.id}#{r.prompt}" if twice else r.id


def corpus_texts(records: Sequence[AnnotationRecord]) -> dict[str, str]:
    """Report key -> text: the song id for one stack; `group/id` when several stacks are pooled."""
    several = len({r.group for r in records}) > 1
    return {
        (f"{r.group}/{_song_key(r, records)}" if several else _song_key(r, records)): r.text for r in records
    }


def song_of_key(key: str, records: Sequence[AnnotationRecord]) -> str:
    """The song id behind a `corpus_texts` key."""
    song = key.rsplit("/", 1)[-1] if len({r.group for r in records}) > 1 else key
    return song.split("#", 1)[0]


def stack_summaries(records: Sequence[AnnotationRecord], settings: ReportSettings) -> dict[str, StackSummary]:
    """The headline figures per stack group, each stack's template reuse measured among its own outputs."""
    groups: dict[str, dict[str, str]] = defaultdict(dict)
    prompts: dict[str, Counter[str]] = defaultdict(Counter)
    for r in records:
        groups[r.group][_song_key(r, records)] = r.text
        prompts[r.group][r.prompt or "none"] += 1
    if len(groups) == 1:
        return {}  # the headline is that stack's; build_report's by_stack is filled by the caller
    return {
        g: summarise(build_report(texts, settings=settings)).model_copy(update={"prompts": dict(prompts[g])})
        for g, texts in sorted(groups.items())
    }


def summarise(report: QualityReport) -> StackSummary:
    return StackSummary(
        songs=report.songs,
        template_reuse=report.template_reuse,
        skeleton_reuse=report.skeleton_reuse,
        within_repetition=report.within_repetition,
        mean_words=report.mean_words,
        exact_duplicate_songs=report.exact_duplicate_songs,
        near_duplicate_pairs=len(report.near_duplicate_pairs),
    )


# ---- two experiments side by side --------------------------------------------------------------------------

COMPARED_METRICS = (
    "songs",
    "template_reuse",
    "skeleton_reuse",
    "within_repetition",
    "exact_duplicate_songs",
    "near_duplicate_songs",
    "distinct_3",
    "mean_words",
    "repeated_segments",
)


class ComparedSong(BaseModel):
    id: str
    text_a: str
    text_b: str
    template_reuse_a: float
    template_reuse_b: float
    within_repetition_a: float
    within_repetition_b: float


class Comparison(BaseModel):
    """Experiment A against experiment B: dataset deltas and, per song in both, the two texts."""

    label_a: str
    label_b: str
    metrics: dict[str, tuple[float | None, float | None]] = Field(description="metric -> (A, B)")
    only_a: list[str]
    only_b: list[str]
    songs: list[ComparedSong] = Field(description="songs in both, biggest change in reuse first")


def compare_reports(
    a: QualityReport,
    texts_a: dict[str, str],
    b: QualityReport,
    texts_b: dict[str, str],
    *,
    label_a: str = "A",
    label_b: str = "B",
) -> Comparison:
    rows_a, rows_b = {p.id: p for p in a.per_song}, {p.id: p for p in b.per_song}
    songs = [
        ComparedSong(
            id=sid,
            text_a=texts_a.get(sid, ""),
            text_b=texts_b.get(sid, ""),
            template_reuse_a=rows_a[sid].template_reuse,
            template_reuse_b=rows_b[sid].template_reuse,
            within_repetition_a=rows_a[sid].within_repetition,
            within_repetition_b=rows_b[sid].within_repetition,
        )
        for sid in sorted(rows_a.keys() & rows_b.keys())
    ]
    songs.sort(
        key=lambda s: (
            -(
                abs(s.template_reuse_b - s.template_reuse_a)
                + abs(s.within_repetition_b - s.within_repetition_a)
            ),
            s.id,
        )
    )
    return Comparison(
        label_a=label_a,
        label_b=label_b,
        metrics={m: (getattr(a, m), getattr(b, m)) for m in COMPARED_METRICS},
        only_a=sorted(rows_a.keys() - rows_b.keys()),
        only_b=sorted(rows_b.keys() - rows_a.keys()),
        songs=songs,
    )


def compare_annotation_dirs(
    dir_a: Path,
    dir_b: Path,
    settings: ReportSettings,
    *,
    label_a: str | None = None,
    label_b: str | None = None,
) -> Comparison:
    """Two raw-annotation folders (two experiments' workspaces) measured alike and set side by side."""
    texts_a, texts_b = corpus_texts(load_annotations(dir_a)), corpus_texts(load_annotations(dir_b))
    return compare_reports(
        build_report(texts_a, settings=settings),
        texts_a,
        build_report(texts_b, settings=settings),
        texts_b,
        label_a=label_a or str(dir_a),
        label_b=label_b or str(dir_b),
    )
