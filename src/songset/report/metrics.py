"""The metric registry: every number the report shows, each described once.

An entry says what the number is called in `quality.json` (and, for per-song metrics, in each
`per_song` row and its `plots/<field>.json`), what it means, how it is computed (per song, then
summarised; or from the whole corpus), where it turns bad, which way is better, and where it is shown.
`quality.json`, `quality.md`, `quality.html`, the DVC plots and `--compare` all iterate `METRICS`, so
adding a metric is one entry here (see the README's architecture section).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from songset.report.models import FailureRow
from songset.report.settings import ReportSettings
from songset.report.stats import (
    SongText,
    compression_ratio,
    distinct,
    repeated_segments,
    repeated_sentence_share,
)
from songset.sidecar_fields import SIDECAR_FIELDS, SidecarField

Better = Literal["lower", "higher", "neither"]
Level = Literal["ok", "warn", "bad", ""]


@dataclass(frozen=True)
class SongFacts:
    """What a per-song metric may read: the song's own text and what the corpus says about it."""

    song: SongText
    template_reuse: float  # share of its distinct n-grams that are template phrasing (needs the corpus)
    skeleton_songs: Counter[str]  # skeleton -> songs using it, all songs
    k: int  # other songs a phrase or skeleton must appear in
    duration: float | None
    settings: ReportSettings


@dataclass(frozen=True)
class CorpusFacts:
    """What a dataset metric may read: the whole corpus, its duplicates, failures and sidecars."""

    songs: Sequence[SongText]
    k: int
    exact_duplicate_of: dict[str, str]
    near_duplicate_pairs: list[tuple[str, str, float]]
    near_duplicate_songs: set[str]
    failures: list[FailureRow]
    allow_partial: bool
    sidecars: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def sidecar_sources(self) -> list[dict[str, Any]]:
        return [sc.get("source") or {} for sc in self.sidecars.values()]

    @property
    def caption_tokens(self) -> list[int]:
        return [int(s["caption_tokens"]) for s in self.sidecar_sources if s.get("caption_tokens") is not None]

    def sidecar_share(self, present: Callable[[dict[str, Any]], bool]) -> float:
        return sum(1 for sc in self.sidecars.values() if present(sc)) / len(self.sidecars)

    def flagged(self, flag: str) -> int:
        return sum(1 for src in self.sidecar_sources if flag in (src.get("flags") or []))


class Levels(BaseModel):
    """Where a value stops being ok: `warn` and `bad` thresholds, read in the metric's `better` direction."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    warn: float
    bad: float | None = None  # None: the value is never worse than a warning


class Histogram(BaseModel):
    """A per-song distribution chart in the HTML page, with what a good and a bad value look like."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    caption: str
    guide: str
    lo: float | None = None  # None: the data's own range
    hi: float | None = None


class Metric(BaseModel):
    """One number of the report: its name, meaning, computation, levels and where it is shown."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    name: str | None = None  # the quality.json key; None for a per-song-only figure
    meaning: str  # the sentence people read; `{k}` is replaced by the report's K
    label: str  # short, for table columns and headings
    card_label: str | None = None  # the HTML headline card's label (default `label`); `{k}` as in meaning
    json_type: Any = float  # the quality.json value's type
    # per song: the per_song row's key (also the plot's file name and y field) and how it is computed
    song_field: str | None = None
    song_type: Any = float
    per_song: Callable[[SongFacts], Any] | None = None
    # the dataset value: "mean"/"sum" of the per-song values, or computed from the corpus
    summary: Literal["mean", "sum"] | Callable[[CorpusFacts], Any] = "mean"
    count: bool = False  # the JSON value is a list; people see (and stacks record) its length
    needs_sidecars: bool = False  # None (and not shown) when no sidecars were measured
    better: Better = "neither"
    levels: Levels | None = None
    level_of: Callable[[Any], Level] | None = None  # a rule needing the whole report, instead of levels
    # where it is shown
    headline: bool = False  # quality.md headline table
    card: bool = False  # quality.html headline card
    sidecar_table: bool = False  # quality.md sidecar coverage table
    coverage_bar: bool = False  # quality.html sidecar coverage chart (a share in [0, 1])
    column: bool = False  # a column of the per-song (worst offender) tables
    worst: bool = False  # songs ranked by it: `worst_by_<song_field>`, and side by side in --compare
    plot: bool = False  # a DVC plot: plots/<song_field>.json, x=id, y=<song_field>
    histogram: Histogram | None = None  # a distribution chart in the HTML page
    by_stack: bool = False  # measured per annotator stack
    compare: bool = False  # a row of the --compare table, coloured by `better`

    def shown(self, report: Any) -> Any:
        """The value a person sees: the JSON value, or the length of a listed one."""
        value = getattr(report, self.name or "")
        return len(value) if self.count and value is not None else value

    def meaning_for(self, report: Any) -> str:
        return self.meaning.format(k=getattr(report, "template_min_songs", "K"))

    def card_for(self, report: Any) -> str:
        return (self.card_label or self.label).format(k=getattr(report, "template_min_songs", "K"))

    def level(self, report: Any) -> Level:
        if self.level_of is not None:
            return self.level_of(report)
        value = self.shown(report)
        return self.level_of_value(value)

    def level_of_value(self, value: float | None) -> Level:
        """ok, warn or bad by `levels` in the `better` direction; "" when the metric has no levels."""
        if self.levels is None or value is None:
            return ""
        worse: Callable[[float, float], bool] = (
            (lambda v, t: v < t) if self.better == "higher" else (lambda v, t: v >= t)
        )
        if self.levels.bad is not None and worse(value, self.levels.bad):
            return "bad"
        return "warn" if worse(value, self.levels.warn) else "ok"

    def delta_class(self, a: float | None, b: float | None) -> Literal["worse", "better", ""]:
        """Whether going from A to B made things worse or better, in the metric's direction."""
        if a is None or b is None or a == b or self.better == "neither":
            return ""
        return "worse" if (b > a) == (self.better == "lower") else "better"


def _failed_songs_level(report: Any) -> Level:
    return "bad" if report.failures and not report.accepted else "warn" if report.failures else "ok"


def has_value(field: SidecarField, sidecar: Mapping[str, Any]) -> bool:
    """Whether a sidecar (JSON) gives the field a value the coverage counts: not missing, not blank, not
    one of the field's `not_counted` values (an instrumental's `[Instrumental]`, an unknown language)."""
    value = sidecar.get(field.name)
    if isinstance(value, str):
        return value.strip() not in ("", *field.not_counted)
    return value is not None


def coverage_metrics(fields: Mapping[str, SidecarField] = SIDECAR_FIELDS) -> tuple[Metric, ...]:
    """One coverage share per sidecar field whose table row names a `coverage` key, in table order."""
    return tuple(
        Metric(
            name=f.coverage,
            meaning=f"share of sidecars with a {f.name} value",
            label=f.name,
            json_type=float | None,
            summary=lambda c, f=f: c.sidecar_share(lambda sc: has_value(f, sc)),
            needs_sidecars=True,
            better="higher",
            levels=_COVERAGE,
            sidecar_table=True,
            coverage_bar=True,
        )
        for f in fields.values()
        if f.coverage
    )


def _skeleton_reuse(f: SongFacts) -> float:
    informative = f.song.informative_skeletons
    return (
        sum(1 for sk in informative if f.skeleton_songs[sk] - 1 >= f.k) / len(informative)
        if informative
        else 0.0
    )


def _within_repetition(f: SongFacts) -> float:
    return ((1 - distinct(f.song.tokens, 3)) + repeated_sentence_share(f.song)) / 2 if f.song.tokens else 0.0


def _segments_per_minute(f: SongFacts) -> float | None:
    return len(f.song.segments) / (f.duration / 60) if f.duration and f.duration > 0 else None


_SHARE = "Good: near 0 (varied text)."
_COVERAGE = Levels(warn=0.8, bad=0.5)  # under 80% of the songs is a warning, under half is bad
_ANY = Levels(warn=1)  # one is worth a look
_ANY_BAD = Levels(warn=1, bad=1)  # one is one too many

# The registry. Order is the order of quality.json's keys, of the tables' rows and of the HTML's cards.
METRICS: tuple[Metric, ...] = (
    Metric(
        name="songs",
        meaning="annotation texts measured",
        label="songs",
        json_type=int,
        summary=lambda c: len(c.songs),
        card=True,
        compare=True,
    ),
    Metric(
        name="template_reuse",
        meaning="share of a song's phrases used by ≥{k} other songs; "
        "lower is better, over 0.3 the texts share templates",
        label="template reuse",
        card_label="template reuse (phrases in ≥{k} other songs)",
        song_field="template_reuse",
        per_song=lambda f: f.template_reuse,
        better="lower",
        levels=Levels(warn=0.15, bad=0.3),
        headline=True,
        card=True,
        column=True,
        worst=True,
        plot=True,
        histogram=Histogram(
            caption="template reuse per song",
            guide="Good: bars at the left (each text in its own words). Bad: songs at 0.3 and above "
            "share template phrases, and a model trained on them learns the template.",
            lo=0,
            hi=1,
        ),
        by_stack=True,
        compare=True,
    ),
    Metric(
        name="template_min_songs",
        meaning="K: other songs a phrase or skeleton must appear in",
        label="K",
        json_type=int,
        summary=lambda c: c.k,
    ),
    Metric(
        name="skeleton_reuse",
        meaning="share of sentences shaped like ≥{k} other songs'; "
        "lower is better, over 0.6 most sentences are one mould",
        label="skeleton reuse",
        card_label="skeleton reuse (sentence shapes)",
        song_field="skeleton_reuse",
        per_song=_skeleton_reuse,
        better="lower",
        levels=Levels(warn=0.3, bad=0.6),
        headline=True,
        card=True,
        column=True,
        plot=True,
        histogram=Histogram(
            caption="skeleton reuse per song",
            guide="Good: low. Bad: above 0.6 most sentences are one mould with the nouns swapped.",
            lo=0,
            hi=1,
        ),
        by_stack=True,
        compare=True,
    ),
    Metric(
        name="within_repetition",
        meaning="repetition inside one output: 0 varied (good), over 0.25 looping (bad)",
        label="within repetition",
        card_label="within-output repetition",
        song_field="within_repetition",
        per_song=_within_repetition,
        better="lower",
        levels=Levels(warn=0.1, bad=0.25),
        headline=True,
        card=True,
        column=True,
        worst=True,
        plot=True,
        histogram=Histogram(
            caption="within-output repetition per song",
            guide=f"{_SHARE} Bad: 0.25 and above, the text loops on itself.",
            lo=0,
            hi=1,
        ),
        by_stack=True,
        compare=True,
    ),
    Metric(
        name="exact_duplicate_songs",
        meaning="songs whose text copies an earlier song's; should be 0",
        label="exact dups",
        card_label="exact duplicate songs",
        json_type=int,
        summary=lambda c: len(c.exact_duplicate_of),
        better="lower",
        levels=_ANY_BAD,
        headline=True,
        card=True,
        by_stack=True,
        compare=True,
    ),
    Metric(
        name="near_duplicate_pairs",
        meaning="pairs of texts with high word-shingle overlap (MinHash, verified Jaccard); should be 0",
        label="near-dup pairs",
        card_label="near-duplicate pairs",
        json_type=list[tuple[str, str, float]],
        summary=lambda c: c.near_duplicate_pairs,
        count=True,
        better="lower",
        levels=_ANY,
        headline=True,
        card=True,
        by_stack=True,
    ),
    Metric(
        name="near_duplicate_songs",
        meaning="songs in at least one near-duplicate pair",
        label="near-duplicate songs",
        json_type=int,
        summary=lambda c: len(c.near_duplicate_songs),
        better="lower",
        compare=True,
    ),
    Metric(
        name="failures",
        meaning="failures across stages (a song failing in two stages counts twice)",
        label="failures",
        json_type=int,
        summary=lambda c: len(c.failures),
        better="lower",
    ),
    Metric(
        name="failed_songs",
        meaning="songs that failed in some stage",
        label="failed songs",
        json_type=int,
        summary=lambda c: len({r.id or r.file for r in c.failures}),
        better="lower",
        level_of=_failed_songs_level,
        card=True,
    ),
    Metric(
        name="partial",
        meaning="failures exist and the run allowed a partial dataset",
        label="partial",
        json_type=bool,
        summary=lambda c: bool(c.failures) and c.allow_partial,
    ),
    Metric(
        name="accepted",
        meaning="no failures, or failures allowed",
        label="accepted",
        json_type=bool,
        summary=lambda c: not c.failures or c.allow_partial,
    ),
    Metric(
        name="distinct_3",
        meaning="unique word trigrams / all trigrams, mean; higher is better (1: no trigram repeats)",
        label="distinct-3",
        song_field="distinct_3",
        per_song=lambda f: distinct(f.song.tokens, 3),
        better="higher",
        headline=True,
        compare=True,
    ),
    Metric(
        name="repeated_segments",
        meaning="timestamped segments repeating an earlier one; should be 0",
        label="repeated segments",
        json_type=int,
        song_field="repeated_segments",
        song_type=int,
        per_song=lambda f: repeated_segments(f.song.segments, f.settings.near_duplicate_threshold),
        summary="sum",
        better="lower",
        headline=True,
        compare=True,
    ),
    Metric(
        name="mean_words",
        meaning="words per text: too few says little, past ~200 captions get cut",
        label="words",
        card_label="mean words per song",
        song_field="words",
        song_type=int,
        per_song=lambda f: len(f.song.tokens),
        headline=True,
        card=True,
        column=True,
        plot=True,
        histogram=Histogram(
            caption="words per song",
            guide="Good: a few dozen to ~200 words. Bad: a handful says little; far more is cut from the prompt.",
        ),
        by_stack=True,
        compare=True,
    ),
    Metric(
        name="mean_segments_per_minute",
        meaning="timestamped sections per minute: about 1-4 follows a song's form",
        label="segments per minute",
        json_type=float | None,
        song_field="segments_per_minute",
        song_type=float | None,
        per_song=_segments_per_minute,
        headline=True,
        plot=True,
    ),
    Metric(
        name="empty_texts",
        meaning="texts with no words; should be 0",
        label="empty texts",
        json_type=int,
        summary=lambda c: sum(1 for s in c.songs if not s.tokens),
        better="lower",
        headline=True,
    ),
    Metric(
        name="repeated_sentence_share",
        meaning="share of a song's sentences that repeat an earlier sentence of it, mean",
        label="repeated sentences",
        song_field="repeated_sentence_share",
        per_song=lambda f: repeated_sentence_share(f.song),
        better="lower",
    ),
    Metric(
        name="distinct_1",
        meaning="unique words / all words, mean",
        label="distinct-1",
        song_field="distinct_1",
        per_song=lambda f: distinct(f.song.tokens, 1),
        better="higher",
    ),
    Metric(
        name="distinct_2",
        meaning="unique word bigrams / all bigrams, mean",
        label="distinct-2",
        song_field="distinct_2",
        per_song=lambda f: distinct(f.song.tokens, 2),
        better="higher",
    ),
    Metric(
        name="compression_ratio",
        meaning="zlib-compressed / raw size of the words, mean: low means repetitive text",
        label="compression ratio",
        song_field="compression_ratio",
        per_song=lambda f: compression_ratio(f.song.normalised),
        better="higher",
    ),
    Metric(
        name="mean_sentences",
        meaning="sentences per text",
        label="sentences",
        song_field="sentences",
        song_type=int,
        per_song=lambda f: len(f.song.sentences),
    ),
    Metric(
        meaning="timestamped segments in the text",
        label="segments",
        song_field="segments",
        song_type=int,
        per_song=lambda f: len(f.song.segments),
    ),
    Metric(
        name="sidecars",
        meaning="sidecars measured",
        label="sidecars",
        json_type=int,
        summary=lambda c: len(c.sidecars),
        sidecar_table=True,
    ),
    *coverage_metrics(),
    Metric(
        name="mean_caption_tokens",
        meaning="caption tokens per sidecar, mean",
        label="mean caption tokens",
        json_type=float | None,
        summary=lambda c: (sum(c.caption_tokens) / len(c.caption_tokens)) if c.caption_tokens else None,
        needs_sidecars=True,
        sidecar_table=True,
    ),
    Metric(
        name="max_caption_tokens",
        meaning="caption tokens of the longest caption",
        label="max caption tokens",
        json_type=int | None,
        summary=lambda c: max(c.caption_tokens) if c.caption_tokens else None,
        needs_sidecars=True,
        sidecar_table=True,
    ),
    Metric(
        name="captions_over_budget",
        meaning="captions longer than the token budget (cut by ACE-Step)",
        label="captions over budget",
        card_label="captions over token budget",
        json_type=int | None,
        summary=lambda c: c.flagged("caption_over_budget"),
        needs_sidecars=True,
        better="lower",
        levels=_ANY,
        sidecar_table=True,
        card=True,
    ),
    Metric(
        name="songs_over_240s",
        meaning="songs longer than 240 s (ACE-Step trains on at most 240 s)",
        label="songs over 240 s",
        json_type=int | None,
        summary=lambda c: c.flagged("over_240s"),
        needs_sidecars=True,
        better="lower",
        levels=_ANY,
        sidecar_table=True,
        card=True,
    ),
)


def check_registry(metrics: Sequence[Metric]) -> None:
    """Names are unique and every entry can be computed and shown; raised at import, not at report time."""
    names = [m.name for m in metrics if m.name]
    fields = [m.song_field for m in metrics if m.song_field]
    for kind, seen in (("name", names), ("song_field", fields)):
        twice = sorted(n for n, c in Counter(seen).items() if c > 1)
        if twice:
            raise ValueError(f"report metrics: {kind} used twice: {twice}")
    for m in metrics:
        if m.name is None and m.song_field is None:
            raise ValueError(f"report metric {m.label!r}: needs a name or a song_field")
        if m.song_field and m.per_song is None:
            raise ValueError(f"report metric {m.label!r}: a song_field needs a per_song function")
        if m.name and not callable(m.summary) and not m.song_field:
            raise ValueError(
                f"report metric {m.name!r}: '{m.summary}' of what? give a per_song or a function"
            )
        needs_song = m.plot or m.column or m.worst or m.histogram is not None
        if needs_song and not m.song_field:
            raise ValueError(f"report metric {m.label!r}: per-song outputs need a song_field")
        if m.worst and m.better != "lower":
            raise ValueError(
                f"report metric {m.label!r}: worst lists rank the highest first; needs better='lower'"
            )
        needs_name = m.headline or m.card or m.sidecar_table or m.coverage_bar or m.by_stack or m.compare
        if needs_name and not m.name:
            raise ValueError(f"report metric {m.label!r}: dataset outputs need a name")


def registry() -> tuple[Metric, ...]:
    """The metrics a report measures: `METRICS` as it is when the report is built."""
    return METRICS


check_registry(METRICS)
