"""serving/af3_llava_think/handler.py against a stand-in `llava` package (the real runtime pins an older
Transformers and cannot be installed beside songset): the request/answer contract and the think wiring."""

from __future__ import annotations

import base64
import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import PROJECT_ROOT, write_tone

STAND_IN = """
from pathlib import Path

class GenerationConfig:
    max_new_tokens = 512
    temperature = 1.0

class Model:
    default_generation_config = GenerationConfig()

    def generate_content(self, parts, generation_config):
        sound, prompt = parts
        assert Path(sound.path).stat().st_size > 1000, "the audio reached the model"
        return f" heard {Path(sound.path).suffix} max={generation_config.max_new_tokens} prompt={prompt!r} "

def load(path, model_base=None):
    assert model_base is None
    return Model()
"""
MEDIA = """
class Sound:
    def __init__(self, path):
        self.path = path
"""


@pytest.fixture
def handler_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    package = tmp_path / "site" / "llava"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(STAND_IN)
    (package / "media.py").write_text(MEDIA)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    for name in ("llava", "llava.media"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    spec = importlib.util.spec_from_file_location(
        "llava_handler", PROJECT_ROOT / "serving/af3_llava_think/handler.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def body(audio: Path, think: bool) -> dict[str, Any]:
    return {
        "inputs": {
            "audio": base64.b64encode(audio.read_bytes()).decode(),
            "prompt": "Describe.",
            "think": think,
        },
        "parameters": {"max_new_tokens": 64, "temperature": 0.2},
    }


def test_plain_model_answers_the_shared_contract(
    handler_module: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SONGSET_THINK", "0")
    (tmp_path / "repo").mkdir()
    handler = handler_module.EndpointHandler(str(tmp_path / "repo"))
    answer = handler(body(write_tone(tmp_path / "a.wav", 11.0), think=False))
    assert answer["text"] == "heard .wav max=64 prompt='Describe.'"
    prov = answer["provenance"]
    assert prov["runtime"] == "llava" and prov["think"] is False and prov["adapter"] is None
    assert prov["settings"] == {"max_new_tokens": 64, "temperature": 0.2} and len(prov["prompt_sha256"]) == 64
    assert "error" in handler(body(tmp_path / "a.wav", think=True))
    assert "error" in handler({"inputs": {"prompt": "x"}})


def test_think_loads_stage35_and_appends_the_suffix(
    handler_module: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import peft

    wrapped: dict[str, Any] = {}

    def from_pretrained(model: Any, path: str, **kwargs: Any) -> Any:
        wrapped.update(path=path, kwargs=kwargs)
        return model

    monkeypatch.setattr(peft.PeftModel, "from_pretrained", staticmethod(from_pretrained))
    repo = tmp_path / "repo"
    (repo / "stage35").mkdir(parents=True)
    (repo / "stage35" / "adapter_model.safetensors").write_bytes(b"x" * 10)
    handler = handler_module.EndpointHandler(str(repo))
    answer = handler(body(write_tone(tmp_path / "a.wav", 11.0), think=True))
    assert wrapped["path"] == str(repo / "stage35")
    assert handler_module.THINK_SUFFIX in answer["text"]
    assert answer["provenance"]["adapter"].startswith("stage35@files:")


def test_missing_stage35_is_a_clear_error(handler_module: Any, tmp_path: Path) -> None:
    (tmp_path / "repo").mkdir()
    with pytest.raises(FileNotFoundError, match="stage35"):
        handler_module.EndpointHandler(str(tmp_path / "repo"))
