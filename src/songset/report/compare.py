"""Two experiments side by side (`songset report --compare`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from songset.report.build import build_report
from songset.report.contract import RegistryModel
from songset.report.load import corpus_texts, load_annotations
from songset.report.metrics import METRICS, Metric
from songset.report.models import ComparedSong, Comparison
from songset.report.settings import ReportSettings

COMPARED_METRICS = tuple(m.name for m in METRICS if m.compare and m.name)  # the default table's rows


def compare_reports(
    a: RegistryModel,
    texts_a: dict[str, str],
    b: RegistryModel,
    texts_b: dict[str, str],
    *,
    label_a: str = "A",
    label_b: str = "B",
) -> Comparison:
    """A against B: every `compare` metric's pair, and the songs in both ranked by how much their
    `worst` metrics (the per-song ones songs are ranked by) changed."""
    metrics = type(a).metrics
    ranked = [m.song_field for m in metrics if m.worst and m.song_field]
    rows_a, rows_b = {p.id: p for p in a.per_song}, {p.id: p for p in b.per_song}
    songs = [
        ComparedSong(
            id=sid,
            text_a=texts_a.get(sid, ""),
            text_b=texts_b.get(sid, ""),
            values={f: (getattr(rows_a[sid], f), getattr(rows_b[sid], f)) for f in ranked},
        )
        for sid in sorted(rows_a.keys() & rows_b.keys())
    ]
    songs.sort(key=lambda s: (-sum(abs((vb or 0) - (va or 0)) for va, vb in s.values.values()), s.id))
    return Comparison(
        label_a=label_a,
        label_b=label_b,
        metrics={m.name: (m.shown(a), m.shown(b)) for m in metrics if m.compare and m.name},
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
    metrics: Sequence[Metric] | None = None,
) -> Comparison:
    """Two raw-annotation folders (two experiments' workspaces) measured alike and set side by side."""
    texts_a, texts_b = corpus_texts(load_annotations(dir_a)), corpus_texts(load_annotations(dir_b))
    return compare_reports(
        build_report(texts_a, settings=settings, metrics=metrics),
        texts_a,
        build_report(texts_b, settings=settings, metrics=metrics),
        texts_b,
        label_a=label_a or str(dir_a),
        label_b=label_b or str(dir_b),
    )
