from __future__ import annotations

from pathlib import Path

import pytest
from conftest import PROJECT_ROOT

from songset.config import compose, compose_yaml, instantiate, settings_of


def test_committed_params_yaml_is_the_composed_conf() -> None:
    """Plain `dvc repro` reads params.yaml as committed: it must equal `songset compose` output."""
    committed = (PROJECT_ROOT / "params.yaml").read_text(encoding="utf-8")
    assert committed == compose_yaml(config_dir=PROJECT_ROOT / "conf"), "run `songset compose` and commit"


def test_overrides_select_groups_and_keys() -> None:
    cfg = compose(["sidecar.caption_mode=events", "run.jobs=1"], config_dir=PROJECT_ROOT / "conf")
    assert cfg.sidecar.caption_mode == "events" and cfg.run.jobs == 1
    assert cfg.annotator._target_.endswith("DescriptorAnnotator")


def test_every_group_names_a_backend_or_settings() -> None:
    cfg = compose(config_dir=PROJECT_ROOT / "conf")
    for group in ("annotator", "cleaner", "estimator"):
        assert cfg[group]._target_.startswith("songset."), group
        assert "_target_" not in settings_of(cfg[group])


def test_instantiate_without_target_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="_target_"):
        instantiate({"sample_rate": 1})


def test_exported_json_schemas_are_current() -> None:
    import json

    from songset.schemas import json_schemas

    for name, schema in json_schemas().items():
        path = Path(PROJECT_ROOT / "schemas" / f"{name}.schema.json")
        assert json.loads(path.read_text()) == schema, f"run `songset schema -o schemas` ({name})"
