"""Stage `report`: raw annotations, metadata, sidecars and stage summaries -> reports/quality.json (DVC
metrics), quality.md, quality.html and plots/.

The metrics themselves live in songset.report; this module only gathers the inputs and writes the files.
"""

from __future__ import annotations

import errno
from pathlib import Path
from typing import Any

from songset.config import settings_of
from songset.io import atomic_write_json, atomic_write_text
from songset.stages.base import load_stage_summaries


def write_quality_report(
    raw_dir: Path,
    out_dir: Path,
    report_cfg: Any,
    *,
    sidecar_dir: Path | None = None,
    metadata_dir: Path | None = None,
    stages_dir: Path | None = None,
    allow_partial: bool = False,
    compare_dir: Path | None = None,
) -> Any:
    """quality.json (metrics), quality.md and quality.html (for people) and plots/ (DVC plots data).

    Annotations are searched recursively; with several stacks (provenance groups) the headline pools
    them (keys `group/id`) and `by_stack` measures each stack on its own outputs. `compare_dir`, another
    raw-annotation folder (another experiment), adds a side-by-side section to the HTML.
    """
    from songset import report as quality

    settings = quality.ReportSettings.model_validate(settings_of(report_cfg))
    for folder in (raw_dir, compare_dir):
        if folder is not None and not folder.is_dir():
            raise FileNotFoundError(errno.ENOENT, "annotation folder not found", str(folder))
    records = quality.load_annotations(raw_dir)
    texts = quality.corpus_texts(records)
    durations = quality.load_durations(metadata_dir) if metadata_dir and metadata_dir.is_dir() else {}
    durations = {
        key: durations[sid] for key in texts if (sid := quality.song_of_key(key, records)) in durations
    }
    summaries = [s.model_dump() for s in load_stage_summaries(stages_dir)] if stages_dir else []
    report = quality.build_report(
        texts,
        settings=settings,
        sidecars=quality.load_sidecars(sidecar_dir) if sidecar_dir and sidecar_dir.is_dir() else None,
        stage_summaries=summaries,
        durations=durations or None,
        allow_partial=allow_partial,
        by_stack=quality.stack_summaries(records, settings),
    )
    if not report.by_stack and records:
        report.by_stack = {records[0].group: quality.summarise(report)}
    comparison = None
    if compare_dir is not None:
        other_records = quality.load_annotations(compare_dir)
        if not other_records:  # else every metric would fall to 0 and look like an improvement
            raise ValueError(f"{compare_dir}: no raw annotations to compare with")
        other = quality.corpus_texts(other_records)
        comparison = quality.compare_reports(
            report,
            texts,
            quality.build_report(other, settings=settings),
            other,
            label_a=str(raw_dir),
            label_b=str(compare_dir),
        )
    atomic_write_json(out_dir / "quality.json", report)
    atomic_write_text(out_dir / "quality.md", quality.render_markdown(report))
    atomic_write_text(out_dir / "quality.html", quality.render_html(report, texts, comparison=comparison))
    for name, rows in quality.plots_data(report).items():
        atomic_write_json(out_dir / "plots" / f"{name}.json", rows)
    print(
        f"[report] {report.songs} songs, {report.failed_songs} failed songs, template reuse {report.template_reuse:.2f}, "
        f"within-output repetition {report.within_repetition:.2f} -> {out_dir / 'quality.html'}"
    )
    return report
