"""`reports/quality.md`: the one-page summary for a person."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from songset.lyrics.coverage import coverage_rows
from songset.report.contract import RegistryModel
from songset.report.format import fmt
from songset.report.metrics import Metric


def _cell(value: Any) -> str:
    return fmt(value).replace("|", "\\|").replace("\n", " ")


def _table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return lines


def stack_metrics(r: RegistryModel) -> list[Metric]:
    """The registry's per-stack metrics: the stack tables' columns after stack and songs."""
    return [m for m in type(r).metrics if m.by_stack and m.name]


def stack_rows(r: RegistryModel) -> list[tuple[Any, ...]]:
    """One row per annotator stack, in the column order both the md and the html tables use."""
    columns = stack_metrics(r)
    return [
        (group, stats.songs, *(getattr(stats, m.name or "") for m in columns))
        for group, stats in r.by_stack.items()
    ]


def song_columns(r: RegistryModel) -> list[Metric]:
    """The registry's per-song table columns (worst offenders), after the song id."""
    return [m for m in type(r).metrics if m.column and m.song_field]


def render_markdown(report: RegistryModel) -> str:
    """A one-page summary for a person; the JSON stays the record. Its tables iterate the report's registry."""
    r = report
    metrics = type(r).metrics
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
            [(m.name, m.shown(r), m.meaning_for(r)) for m in metrics if m.headline],
        ),
    ]
    if r.by_stack:
        out += [
            "",
            "## By annotator stack",
            "",
            "Each stack measured on its own outputs (its template reuse is against its own other songs).",
            "",
            *_table(("stack", "songs", *(m.name or "" for m in stack_metrics(r))), stack_rows(r)),
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
    columns = song_columns(r)
    for m in metrics:
        if not m.worst:
            continue
        worst = [by_id[i] for i in getattr(r, f"worst_by_{m.song_field}")]
        out += [f"### By {m.label}", ""]
        if not worst:
            out += ["none", ""]
            continue
        out += _table(
            ("song", *(c.label for c in columns), "most reused phrases"),
            (
                (
                    p.id,
                    *(getattr(p, c.song_field or "") for c in columns),
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
        out += _table(("field", "value"), [(m.label, m.shown(r)) for m in metrics if m.sidecar_table])
        if getattr(r, "lyrics", None) is not None:
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
