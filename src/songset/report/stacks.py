"""Per-stack figures: each annotator stack measured on its own outputs."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

from songset.report.build import build_report
from songset.report.contract import RegistryModel, report_models
from songset.report.load import AnnotationRecord, _song_key
from songset.report.metrics import Metric
from songset.report.settings import ReportSettings


def stack_summaries(
    records: Sequence[AnnotationRecord], settings: ReportSettings, metrics: Sequence[Metric] | None = None
) -> dict[str, Any]:
    """The headline figures per stack group, each stack's template reuse measured among its own outputs."""
    groups: dict[str, dict[str, str]] = defaultdict(dict)
    prompts: dict[str, Counter[str]] = defaultdict(Counter)
    for r in records:
        groups[r.group][_song_key(r, records)] = r.text
        prompts[r.group][r.prompt or "none"] += 1
    if len(groups) == 1:
        return {}  # the headline is that stack's; build_report's by_stack is filled by the caller
    return {
        g: summarise(build_report(texts, settings=settings, metrics=metrics)).model_copy(
            update={"prompts": dict(prompts[g])}
        )
        for g, texts in sorted(groups.items())
    }


def summarise(report: RegistryModel) -> RegistryModel:
    """The report's `by_stack` metrics (a listed value by its length) as one stack's summary."""
    metrics = type(report).metrics
    values = {m.name: m.shown(report) for m in metrics if m.by_stack and m.name}
    return report_models(metrics).stack(songs=report.songs, **values)
