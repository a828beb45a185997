"""`reports/quality.md`: the one-page summary for a person."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from songset.report.models import QualityReport


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
