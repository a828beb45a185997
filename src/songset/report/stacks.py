"""Per-stack figures: each annotator stack measured on its own outputs."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence

from songset.report.build import build_report
from songset.report.load import AnnotationRecord, _song_key
from songset.report.models import QualityReport, StackSummary
from songset.report.settings import ReportSettings


def stack_summaries(records: Sequence[AnnotationRecord], settings: ReportSettings) -> dict[str, StackSummary]:
    """The headline figures per stack group, each stack's template reuse measured among its own outputs."""
    groups: dict[str, dict[str, str]] = defaultdict(dict)
    prompts: dict[str, Counter[str]] = defaultdict(Counter)
    for r in records:
        groups[r.group][_song_key(r, records)] = r.text
        prompts[r.group][r.prompt or "none"] += 1
    if len(groups) == 1:
        return {}  # the headline is that stack's; build_report's by_stack is filled by the caller
    return {
        g: summarise(build_report(texts, settings=settings)).model_copy(update={"prompts": dict(prompts[g])})
        for g, texts in sorted(groups.items())
    }


def summarise(report: QualityReport) -> StackSummary:
    return StackSummary(
        songs=report.songs,
        template_reuse=report.template_reuse,
        skeleton_reuse=report.skeleton_reuse,
        within_repetition=report.within_repetition,
        mean_words=report.mean_words,
        exact_duplicate_songs=report.exact_duplicate_songs,
        near_duplicate_pairs=len(report.near_duplicate_pairs),
    )
