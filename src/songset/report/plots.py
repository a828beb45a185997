"""`reports/plots/*.json`: DVC plots data, one file per registry metric with `plot` set."""

from __future__ import annotations

from typing import Any

from songset.report.contract import RegistryModel
from songset.report.metrics import METRICS

PLOT_FIELDS = tuple(m.song_field for m in METRICS if m.plot and m.song_field)  # dvc.yaml's plots, in order


def plots_data(report: RegistryModel) -> dict[str, list[dict[str, Any]]]:
    """One list of {id, value} rows per plotted per-song metric, each a ready DVC plots file."""
    fields = [m.song_field for m in type(report).metrics if m.plot and m.song_field]
    return {
        field: [
            {"id": p.id, field: getattr(p, field)} for p in report.per_song if getattr(p, field) is not None
        ]
        for field in fields
    }
