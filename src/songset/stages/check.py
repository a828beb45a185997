"""`songset check`: every group of a composed config checked at start, as the stages will read it.

Its own module (not `base`) because it reaches every stage's settings model; a stage loads only its own.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError


def check_config(cfg: Any) -> None:
    """Every group of a composed config, checked as the stages will read it; one ValueError naming the key.

    A group naming a backend (`_target_`) is checked against that backend's settings model; the groups
    without one (sidecar, report, lyrics) against the model `conf_files.SETTINGS_GROUPS` names for them.
    """
    from songset.conf_files import SETTINGS_GROUPS, group_model
    from songset.config import check_settings, settings_of
    from songset.settings import settings_problem

    for group in cfg:
        block = cfg.get(group)
        if group in SETTINGS_GROUPS:
            model = group_model(group)
            try:
                model.model_validate(settings_of(block or {}))
            except ValidationError as exc:
                raise ValueError(settings_problem(exc, str(group), list(model.model_fields))) from None
        elif hasattr(block, "get") and block.get("_target_") is not None:
            check_settings(block)
