"""Deprecated: the stage orchestration moved to one module per stage under `songset.stages`.

Kept for one release so that code written against the old hub keeps working; each name is imported from
its new home only when asked for, so importing this module loads no stage. New code imports
`songset.stages.<stage>` (or `songset.stages.base` for what the stages share).
"""

from __future__ import annotations

import importlib
from typing import Any

_MOVED: dict[str, str] = {
    "RunOptions": "songset.stages.base",
    "AudioJobs": "songset.stages.base",
    "check_config": "songset.stages.check",
    "finish_stage": "songset.stages.base",
    "load_stage_summaries": "songset.stages.base",
    "upstream_failures": "songset.stages.base",
    "run_annotate": "songset.stages.annotate",
    "run_estimate": "songset.stages.estimate",
    "run_clean": "songset.stages.clean",
    "usage_totals": "songset.stages.clean",
    "run_sidecars": "songset.stages.sidecars",
    "load_attributions": "songset.stages.sidecars",
    "write_manifest": "songset.stages.sidecars",
    "write_quality_report": "songset.stages.report",
}
_RENAMED: dict[str, tuple[str, str]] = {
    "_audio_jobs": ("songset.stages.base", "audio_jobs"),
    "_cache": ("songset.stages.base", "open_cache"),
    "_write_model": ("songset.stages.base", "json_writer"),
}


def __getattr__(name: str) -> Any:
    if name in _MOVED:
        return getattr(importlib.import_module(_MOVED[name]), name)
    if name in _RENAMED:
        module, new_name = _RENAMED[name]
        return getattr(importlib.import_module(module), new_name)
    raise AttributeError(f"module 'songset.pipeline' has no attribute {name!r}")
