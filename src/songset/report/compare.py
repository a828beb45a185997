"""Two experiments side by side (`songset report --compare`)."""

from __future__ import annotations

from pathlib import Path

from songset.report.build import build_report
from songset.report.load import corpus_texts, load_annotations
from songset.report.models import ComparedSong, Comparison, QualityReport
from songset.report.settings import ReportSettings

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
