"""Stage `validate`: the gate. Every sidecar against the ACE-Step contract, per file and over the set, plus
the upstream failures; writes reports/validation.json and says whether the dataset passes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from songset.config import instantiate
from songset.io import atomic_write_json
from songset.stages.base import upstream_failures
from songset.validate import ValidationReport, validate_sidecars


def run_validate(
    sidecar_dir: Path,
    reports_dir: Path,
    validation_cfg: Any,
    *,
    caption_token_budget: int,
    allow_partial: bool,
) -> ValidationReport:
    """Check the sidecars, write `validation.json` beside the reports and print the verdict.

    `validation_cfg` (config group `validation`) names the engine that evaluates the set-level suite."""
    report = validate_sidecars(
        sidecar_dir,
        caption_token_budget=caption_token_budget,
        upstream_failures=upstream_failures(reports_dir / "stages"),
        allow_partial=allow_partial,
        engine=instantiate(validation_cfg),
    )
    atomic_write_json(reports_dir / "validation.json", report)
    for line in report.lines():
        print(line)
    verdict = "passed" if report.ok else "FAILED"
    note = " (partial dataset accepted: run.allow_partial=true)" if report.partial else ""
    print(f"[validate] {report.valid_songs}/{report.songs} sidecars valid; dataset {verdict}{note}")
    return report
