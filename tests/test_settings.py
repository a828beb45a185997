"""Settings have one home: each backend's pydantic model. conf/ is written from it, keys follow one policy.

Why: a default stated twice drifts (af3_hf once defaulted to temperature 1.0 in code and 0.7 in its conf
file), and a cache key that holds a URL re-annotates a dataset when a replica is added.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import PROJECT_ROOT
from pydantic import Field

from songset.annotators.hf import AF3Annotator, HFSettings, MusicFlamingoAnnotator
from songset.annotators.hf_endpoint import HFEndpointAnnotator
from songset.annotators.openai_audio import OpenAIAudioAnnotator
from songset.cleaners.openai_cleaner import OpenAICleaner
from songset.cli import main
from songset.conf_files import render, stale_conf_files, write_conf_files
from songset.config import check_settings, compose, conf_dir
from songset.settings import BackendSettings, Configured, conf_values, transport

CONF = PROJECT_ROOT / "conf"


def test_committed_conf_files_are_what_the_models_write() -> None:
    stale = stale_conf_files(CONF)
    assert not stale, f"run `songset conf --write` and commit: {[str(p) for p in stale]}"


def test_a_model_default_changed_without_regenerating_fails_the_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = tmp_path / "conf"
    shutil.copytree(CONF, copy)
    assert stale_conf_files(copy) == []
    field = HFSettings.model_fields["temperature"]
    monkeypatch.setattr(field, "default", 0.3)
    assert sorted(p.name for p in stale_conf_files(copy)) == [
        "af3_hf.yaml",
        "music_flamingo_hf.yaml",
        "qwen2_audio.yaml",
    ]
    write_conf_files(copy)
    assert yaml.safe_load((copy / "annotator" / "af3_hf.yaml").read_text())["temperature"] == 0.3
    assert stale_conf_files(copy) == []


def test_cli_conf_check_and_write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    copy = tmp_path / "conf"
    shutil.copytree(CONF, copy)
    monkeypatch.setenv("SONGSET_CONF_DIR", str(copy))
    assert conf_dir() == copy.resolve()
    assert main(["conf", "--check"]) == 0
    librosa = copy / "estimator" / "librosa.yaml"
    librosa.write_text(librosa.read_text().replace("tempo_prior_bpm: 90.0", "tempo_prior_bpm: 95.0"))
    assert main(["conf", "--check"]) == 1
    assert main(["conf", "--write"]) == 0
    assert "tempo_prior_bpm: 90.0" in librosa.read_text()


def test_header_and_target_are_kept_settings_rewritten(tmp_path: Path) -> None:
    path = tmp_path / "annotator" / "descriptor.yaml"
    path.parent.mkdir()
    path.write_text(
        "# my own words\n_target_: songset.annotators.descriptor.DescriptorAnnotator\nmax_segments: 3\n"
    )
    text = render(path)
    assert text.startswith("# my own words\n_target_: songset.annotators.descriptor.DescriptorAnnotator\n")
    data = yaml.safe_load(text)
    assert data["max_segments"] == 12 and set(data) == {"_target_", *DescriptorFields}
    assert "# about one section per this many seconds" in text


DescriptorFields = ("sample_rate", "hop_length", "target_segment_s", "min_segment_s", "max_segments")


def test_a_variant_file_holds_its_preset_over_the_shared_model() -> None:
    af3 = yaml.safe_load((CONF / "annotator" / "af3_hf.yaml").read_text())
    flamingo = yaml.safe_load((CONF / "annotator" / "music_flamingo_hf.yaml").read_text())
    differing = {k for k in af3 if af3[k] != flamingo.get(k)}
    assert differing == {"_target_", *MusicFlamingoAnnotator.preset}
    assert conf_values(MusicFlamingoAnnotator)["chunk_s"] is None
    built = MusicFlamingoAnnotator(prompt="timestamped_v1")  # Python gets the preset too
    assert built.settings.max_new_tokens == 2048 and built.settings.model == "nvidia/music-flamingo-hf"


def test_python_and_hydra_get_the_same_defaults() -> None:
    """The settled disagreement: code said temperature 1.0, top_p 1.0, repetition_penalty 1.0."""
    from songset.config import settings_of

    hydra = AF3Annotator.validate_settings(settings_of(compose(["annotator=af3_hf"]).annotator))
    assert hydra == AF3Annotator().settings
    assert (hydra.temperature, hydra.top_p, hydra.repetition_penalty) == (0.7, 0.9, 1.1)


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ("+annotator.temprature=0.5", "annotator.temprature: no such setting"),
        ("annotator.max_new_tokens=many", "annotator.max_new_tokens='many'"),
        ("annotator.top_p=2", "annotator.top_p=2"),
    ],
)
def test_unknown_or_mistyped_setting_fails_naming_the_key(override: str, named: str) -> None:
    cfg = compose(["annotator=af3_hf", override], config_dir=CONF)
    with pytest.raises(ValueError, match=named.replace("+", r"\+")) as err:
        check_settings(cfg.annotator)
    assert "annotator." in str(err.value)


def test_a_required_setting_is_named() -> None:
    cfg = compose(["annotator=hf_endpoint"], config_dir=CONF)  # url: ??? in the conf file
    with pytest.raises(ValueError, match=r"annotator\.url: required setting is missing"):
        check_settings(cfg.annotator)
    with pytest.raises(ValueError, match=r"^url: required setting is missing"):
        HFEndpointAnnotator()


class _Toy(BackendSettings):
    answer: int = Field(1, description="changes output")
    url: str = transport("http://127.0.0.1:9", description="does not")


class _ToyBackend(Configured[_Toy]):
    Settings = _Toy


def test_output_settings_leave_transport_out() -> None:
    toy = _ToyBackend(answer=2, url="http://127.0.0.1:10")
    assert toy.settings.output_settings() == {"answer": 2}
    with pytest.raises(ValueError, match="no such setting"):
        _ToyBackend(answr=2)


@pytest.fixture
def _project_cwd(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(PROJECT_ROOT)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-SONGSETsettings000")


def _key(backend: Any) -> dict[str, Any]:
    return backend.identity().key_parts()


@pytest.mark.usefixtures("_project_cwd")
@pytest.mark.parametrize(
    ("backend", "base", "transport_change", "output_change"),
    [
        (
            OpenAIAudioAnnotator,
            {"base_url": "http://127.0.0.1:9/v1"},
            {"base_url": "http://127.0.0.1:10/v1", "concurrency": 9, "timeout_s": 1.0, "max_retries": 0},
            {"max_audio_s": 30.0},
        ),
        (
            HFEndpointAnnotator,
            {"url": "http://127.0.0.1:9/"},
            {"url": "http://127.0.0.1:10/", "concurrency": 9, "backoff_s": 0.1, "max_retries": 0},
            {"max_new_tokens": 10},
        ),
        (
            OpenAICleaner,
            {"base_url": "http://127.0.0.1:9/v1"},
            {"base_url": "http://127.0.0.1:10/v1", "timeout_s": 1.0, "price_per_1m_input_tokens": 9.0},
            {"schema_retries": 0},
        ),
    ],
)
def test_one_key_policy_urls_and_transport_out_output_in(
    backend: Any, base: dict[str, Any], transport_change: dict[str, Any], output_change: dict[str, Any]
) -> None:
    one = backend(**base)
    assert _key(backend(**{**base, **transport_change})) == _key(one)
    assert _key(backend(**{**base, **output_change})) != _key(one)
    settings = one.identity().settings
    assert settings == one.settings.output_settings()
    assert not {"base_url", "url", "api_key_env", "concurrency", "timeout_s", "max_retries"} & set(settings)
