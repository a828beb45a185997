"""`reports/quality.json`'s models, built from the metric registry.

The report, its per-song rows and its per-stack summaries get one field per registry entry (in
registry order: metrics first, then the fixed details), so a new metric reaches the JSON, and every
renderer that reads it, without a second edit. Each model class carries its registry as `metrics`, so
renderers read a report's metrics from the report itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import BaseModel, Field, create_model

from songset.lyrics.coverage import LyricsCoverage
from songset.report.metrics import Metric, check_registry, registry
from songset.report.models import FailureRow, FrameTemplate, Phrase, SkeletonCount, StageRow


class RegistryModel(BaseModel):
    """A model whose metric fields come from a registry, kept on the class."""

    metrics: ClassVar[tuple[Metric, ...]] = ()


@dataclass(frozen=True)
class ReportModels:
    """The three models one registry defines."""

    report: type[RegistryModel]
    song: type[RegistryModel]
    stack: type[RegistryModel]


def _field(m: Metric, type_: Any) -> tuple[Any, Any]:
    return (type_, Field(description=m.meaning))


def _build(metrics: tuple[Metric, ...]) -> ReportModels:
    song_fields: dict[str, Any] = {"id": (str, ...)}
    song_fields |= {m.song_field: _field(m, m.song_type) for m in metrics if m.song_field}
    song_fields |= {
        "duration": (float | None, ...),
        "duplicate_of": (str | None, ...),
        "near_duplicates": (list[str], ...),
        "top_phrases": (list[str], Field(description="this song's most widely shared template phrases")),
    }
    song = create_model("SongQuality", __base__=RegistryModel, **song_fields)

    stack_fields: dict[str, Any] = {
        "songs": (int, ...),
        "prompts": (
            dict[str, int],
            Field(
                default_factory=dict,
                description="prompt sha256[:8] -> texts: the prompt variants of this stack",
            ),
        ),
    }
    stack_fields |= {
        m.name: _field(m, int if m.count else m.json_type) for m in metrics if m.by_stack and m.name
    }
    stack = create_model("StackSummary", __base__=RegistryModel, **stack_fields)
    stack.__doc__ = (
        "The headline figures of one annotator stack (backend + model), measured on its own outputs."
    )

    report_fields: dict[str, Any] = {m.name: _field(m, m.json_type) for m in metrics if m.name}
    report_fields |= {
        "frame_templates": (list[FrameTemplate], Field(default_factory=list)),
        "omitted_fields": (dict[str, dict[str, int]], Field(description="field -> reason -> songs")),
        "mean_confidences": (dict[str, float], ...),
        "failures_by_stage": (dict[str, int], ...),
        "failures_by_reason": (dict[str, int], ...),
        "failure_list": (list[FailureRow], ...),
        "stages": (list[StageRow], ...),
        "exact_duplicate_groups": (list[list[str]], ...),
    }
    report_fields |= {
        f"worst_by_{m.song_field}": (list[str], Field(description="ids, worst first, at most worst_songs"))
        for m in metrics
        if m.worst
    }
    report_fields |= {
        "top_phrases": (list[Phrase], ...),
        "top_skeletons": (list[SkeletonCount], ...),
        "per_song": (list[song], ...),  # type: ignore[valid-type]
        "by_stack": (
            dict[str, stack],  # type: ignore[valid-type]
            Field(
                default_factory=dict, description="stack group -> its figures, each stack measured on its own"
            ),
        ),
        "confidence_histograms": (
            dict[str, list[int]],
            Field(
                default_factory=dict,
                description="sidecar field -> songs per confidence decile (0-0.1, ..., 0.9-1)",
            ),
        ),
        "confidence_thresholds": (
            dict[str, float],
            Field(
                default_factory=dict, description="sidecar field -> confidence below which it was left out"
            ),
        ),
        "flagged": (
            dict[str, list[str]],
            Field(
                default_factory=dict,
                description="sidecar flag (caption_over_budget, over_240s, ...) -> songs",
            ),
        ),
        "skipped": (
            list[FailureRow],
            Field(
                default_factory=list,
                description="byte-identical copies of another song: built once, not failures",
            ),
        ),
        "lyrics": (
            LyricsCoverage | None,
            Field(
                None,
                description="lyrics and language coverage by source, vocal/instrumental counts (lyrics stage)",
            ),
        ),
    }
    report = create_model("QualityReport", __base__=RegistryModel, **report_fields)
    report.__doc__ = (
        "`reports/quality.json`: the registry's metrics at the top level (DVC metrics), then details."
    )
    for model in (song, stack, report):
        model.metrics = metrics
    return ReportModels(report=report, song=song, stack=stack)


_BUILT: dict[tuple[Metric, ...], ReportModels] = {}


def report_models(metrics: Sequence[Metric] | None = None) -> ReportModels:
    """The models of a registry (default: `metrics.METRICS` as it is now), built once per registry."""
    key = registry() if metrics is None else tuple(metrics)
    if key not in _BUILT:
        check_registry(key)
        _BUILT[key] = _build(key)
    return _BUILT[key]


_DEFAULT = report_models()
QualityReport = _DEFAULT.report
SongQuality = _DEFAULT.song
StackSummary = _DEFAULT.stack
