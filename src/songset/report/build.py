"""`build_report`: a corpus of texts (plus optional sidecars, failures, stage summaries) in, a QualityReport out."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from songset.report.models import (
    FailureRow,
    Phrase,
    QualityReport,
    SkeletonCount,
    SongQuality,
    StackSummary,
    StageRow,
)
from songset.report.settings import ReportSettings
from songset.report.stats import (
    _ROUND,
    MIN_SKELETON_SIGNAL,
    SONG_TOP_PHRASES,
    _compression_ratio,
    _distinct,
    _exact_duplicates,
    _maximal_phrases,
    _Phrases,
    _repeated_segments,
    _repeated_sentence_share,
    _Song,
    _song_shingles,
    frame_templates,
    minhash_near_duplicates,
    template_threshold,
)
from songset.report.text import _skeleton_signal
from songset.schemas import INSTRUMENTAL_LYRICS
from songset.sidecars import CONFIDENCE_THRESHOLDS


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
