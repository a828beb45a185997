"""`songset check`: every group of a composed config checked at start, as the stages will read it.

Its own module (not `base`) because it reaches every stage's settings model; a stage loads only its own.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError


def check_config(cfg: Any) -> None:
    """Every group of a composed config, checked as the stages will read it; one ValueError naming the key."""
    from songset.config import check_settings, settings_of
    from songset.report import ReportSettings
    from songset.sidecars import SidecarSettings

    for group in ("annotator", "cleaner", "estimator"):
        if cfg.get(group) is not None:
            check_settings(cfg[group])
    for group, model in (("sidecar", SidecarSettings), ("report", ReportSettings)):
        try:
            model.model_validate(settings_of(cfg.get(group) or {}))
        except ValidationError as exc:
            err = exc.errors()[0]
            key = ".".join(str(p) for p in err["loc"])
            raise ValueError(f"{group}.{key}: {err['msg']}") from None
