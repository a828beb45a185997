"""quality.json's models are built from the registry (songset.report.contract) and read back what they wrote."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from test_report import DIFFERENT, SETTINGS, sidecar, template_song

from songset.io import dumps_json
from songset.report.build import build_report
from songset.report.contract import QualityReport, report_models
from songset.report.metrics import METRICS


def test_one_model_set_per_registry_and_it_knows_its_registry() -> None:
    assert report_models() is report_models(METRICS)
    assert report_models(METRICS).report is QualityReport
    assert QualityReport.metrics == METRICS
    shorter = report_models(METRICS[:-1])
    assert shorter.report is not QualityReport and METRICS[-1].name not in shorter.report.model_fields


def test_worst_lists_follow_the_registry() -> None:
    worst = {f"worst_by_{m.song_field}" for m in METRICS if m.worst}
    assert worst == {k for k in QualityReport.model_fields if k.startswith("worst_by_")}


def test_a_report_missing_a_metric_is_rejected_naming_it() -> None:
    data = build_report(DIFFERENT, settings=SETTINGS).model_dump()
    del data["template_reuse"]
    with pytest.raises(ValidationError, match="template_reuse"):
        QualityReport.model_validate(data)


def test_quality_json_reads_back_equal() -> None:
    texts = {f"t{i}": template_song(i) for i in range(5)}
    report = build_report(texts, settings=SETTINGS, sidecars={"t0": sidecar()}, durations={"t1": 120.0})
    again = QualityReport.model_validate_json(dumps_json(report))
    assert again == report
    assert again.per_song[1].segments_per_minute == report.per_song[1].segments_per_minute
