"""`build_report`: a corpus of texts (plus optional sidecars, failures, stage summaries) in, a report out.

The corpus-wide work (template phrases, skeleton counts, duplicates) is done once here; every number
then comes from the metric registry (`metrics.METRICS`): per-song values from each entry's `per_song`,
dataset values from its `summary`.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any, get_args

from songset.lyrics.coverage import lyrics_coverage
from songset.report.contract import RegistryModel, report_models
from songset.report.metrics import CorpusFacts, Metric, SongFacts, registry
from songset.report.models import FailureRow, Phrase, SkeletonCount, StageRow
from songset.report.settings import ReportSettings
from songset.report.stats import (
    SONG_TOP_PHRASES,
    SongText,
    _exact_duplicates,
    _maximal_phrases,
    _Phrases,
    _song_shingles,
    frame_templates,
    mean,
    minhash_near_duplicates,
    rounded,
    template_threshold,
)
from songset.sidecars import CONFIDENCE_THRESHOLDS


def _json_number(value: Any) -> Any:
    """Floats rounded for the JSON; ints, bools, None and lists as they are."""
    return rounded(value) if isinstance(value, float) else value


def _summary(m: Metric, rows: Sequence[dict[str, Any]], corpus: CorpusFacts) -> Any:
    """A metric's dataset value: its corpus function, or the mean/sum of its (rounded) per-song values."""
    if m.needs_sidecars and not corpus.sidecars:
        return None
    if callable(m.summary):
        return _json_number(m.summary(corpus))
    values = [row[m.song_field] for row in rows if row[m.song_field] is not None]
    if m.summary == "sum":
        return sum(values)
    if not values and type(None) in get_args(m.song_type):
        return None  # a per-song value nobody has (no durations): not measured, not zero
    return rounded(mean(values))


def _worst(rows: Sequence[dict[str, Any]], field: str, limit: int) -> list[str]:
    """Song ids by the metric, worst (highest) first; songs at 0 are nobody's worst."""
    scored = sorted((r for r in rows if (r[field] or 0) > 0), key=lambda r: (-r[field], r["id"]))
    return [r["id"] for r in scored[:limit]]


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


def _sidecar_details(sidecars: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """What the sidecars left out and how sure they were: details behind the registry's sidecar metrics."""
    if not sidecars:
        return {"omitted_fields": {}, "mean_confidences": {}}
    sources = [sc.get("source") or {} for sc in sidecars.values()]
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
        "omitted_fields": {f: dict(sorted(c.items())) for f, c in sorted(omitted.items())},
        "mean_confidences": {k: rounded(mean(v)) for k, v in sorted(confidences.items())},
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
    by_stack: dict[str, Any] | None = None,
    metrics: Sequence[Metric] | None = None,
) -> RegistryModel:
    """Measure a corpus of annotation texts (song id -> prose); sidecar and failure inputs are optional.

    Durations fall back to the sidecar's `duration` when a song has none in `durations`. `by_stack`
    (from `stack_summaries`) is passed through to the report. `metrics` is the registry measured
    (and the returned model's fields): `metrics.METRICS` unless a test brings its own.
    """
    metrics = registry() if metrics is None else tuple(metrics)
    models = report_models(metrics)
    sidecars = sidecars or {}
    durations = dict(durations or {})
    for sid, sc in sidecars.items():
        if sid not in durations and isinstance(sc.get("duration"), int | float):
            durations[sid] = float(sc["duration"])

    songs = [SongText(sid, texts[sid]) for sid in sorted(texts)]
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
        informative = s.informative_skeletons
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

    # every number from the registry: per song first, then the dataset values
    rows: list[dict[str, Any]] = []
    for si, s in enumerate(songs):
        facts = SongFacts(
            song=s,
            template_reuse=float(phrases.reuse[si]),
            skeleton_songs=skel_songs,
            k=k,
            duration=durations.get(s.id),
            settings=settings,
        )
        row: dict[str, Any] = {"id": s.id}
        row |= {m.song_field: _json_number(m.per_song(facts)) for m in metrics if m.song_field and m.per_song}
        row |= {
            "duration": facts.duration,
            "duplicate_of": dup_of.get(s.id),
            "near_duplicates": sorted(near.get(s.id, [])),
            "top_phrases": song_top.get(si, []),
        }
        rows.append(row)
    fail_rows = _collect_failures(failures or [], stage_summaries or [])
    corpus = CorpusFacts(
        songs=songs,
        k=k,
        exact_duplicate_of=dup_of,
        near_duplicate_pairs=pairs,
        near_duplicate_songs=set(near),
        failures=fail_rows,
        allow_partial=allow_partial,
        sidecars=sidecars,
    )
    values = {m.name: _summary(m, rows, corpus) for m in metrics if m.name}
    worst = {
        f"worst_by_{m.song_field}": _worst(rows, m.song_field, settings.worst_songs)
        for m in metrics
        if m.worst and m.song_field
    }

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
            wall_time_s=rounded(sm.get("wall_time_s") or 0.0),
        )
        for sm in (stage_summaries or [])
    ]
    return models.report(
        **values,
        frame_templates=frame_templates([s.sentence_tokens for s in songs], k),
        **_sidecar_details(sidecars),
        failures_by_stage=dict(sorted(Counter(r.stage for r in fail_rows).items())),
        failures_by_reason=dict(
            sorted(Counter(_reason_kind(r.reason, r.file, r.id) for r in fail_rows).items())
        ),
        failure_list=fail_rows,
        skipped=[skipped[f] for f in sorted(skipped)],
        lyrics=lyrics_coverage(sidecars) if sidecars else None,
        stages=stages,
        exact_duplicate_groups=dup_groups,
        **worst,
        top_phrases=[
            Phrase(phrase=g, songs=phrase_songs[g], words=g.count(" ") + 1)
            for g in maximal[: settings.top_phrases]
        ],
        top_skeletons=[
            SkeletonCount(skeleton=sk, songs=c, sentences=skel_sentences[sk])
            for sk, c in sorted(skel_songs.items(), key=lambda kv: (-kv[1], -skel_sentences[kv[0]], kv[0]))
            if c - 1 >= k
        ][: settings.top_phrases],
        per_song=rows,
        by_stack=by_stack or {},
    )
