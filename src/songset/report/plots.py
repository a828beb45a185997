"""`reports/plots/*.json`: DVC plots data, one file per per-song metric."""

from __future__ import annotations

from typing import Any

from songset.report.models import QualityReport

PLOT_FIELDS = ("template_reuse", "skeleton_reuse", "within_repetition", "words", "segments_per_minute")


def plots_data(report: QualityReport) -> dict[str, list[dict[str, Any]]]:
    """One list of {id, value} rows per per-song metric, each a ready DVC plots file."""
    return {
        field: [
            {"id": p.id, field: getattr(p, field)} for p in report.per_song if getattr(p, field) is not None
        ]
        for field in PLOT_FIELDS
    }
