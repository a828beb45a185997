"""Hugging Face Inference Endpoint custom handler: Audio Flamingo 3 / Music Flamingo through Transformers.

Copy this file to the TOP LEVEL of the endpoint's model repo (next to config.json), with requirements.txt.
Without a top-level handler.py the endpoint fails at start with "Unknown task custom".

Why standalone (no `import songset`): the endpoint image installs only the repo's requirements.txt, and
songset is not on PyPI and would drag dvc, librosa and great-expectations into the image. The loading,
think-adapter merge and generation below mirror songset.annotators.hf (a test checks that both give the
same text for the same audio and settings).

Request (JSON): {"inputs": {"audio": <base64 WAV/FLAC/OGG>, "prompt": str, "system_prompt": str|null,
"think": bool}, "parameters": {"max_new_tokens": int, "do_sample": bool, "temperature": float, ...,
"seed": int}}. Answer: {"text": str, "provenance": {...}} or {"error": str}.
Environment: SONGSET_THINK=1 merges the think/ LoRA at start; SONGSET_DTYPE (auto|bfloat16|float32).
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import time
from pathlib import Path
from typing import Any

HANDLER_VERSION = "1"
SAMPLE_RATE = 16000
FAMILIES = {  # config.json model_type -> (model class, processor class)
    "audioflamingo3": ("AudioFlamingo3ForConditionalGeneration", "AudioFlamingo3Processor"),
    "musicflamingo": ("MusicFlamingoForConditionalGeneration", "MusicFlamingoProcessor"),
}
GENERATION_KEYS = {
    "max_new_tokens": int,
    "min_new_tokens": int,
    "do_sample": bool,
    "temperature": float,
    "top_p": float,
    "top_k": int,
    "repetition_penalty": float,
    "num_beams": int,
}


def _fingerprint(folder: Path) -> str:
    """Cheap identity of the weights on disk: names and sizes (hashing 16 GB at start would be slow)."""
    digest = hashlib.sha256()
    for path in sorted(folder.glob("*.safetensors")):
        digest.update(f"{path.name}\0{path.stat().st_size}\n".encode())
    return f"files:{digest.hexdigest()[:16]}"


def _decode_audio(data: str) -> Any:
    """Base64 audio -> mono float32 at 16 kHz."""
    import numpy as np
    import soundfile as sf

    samples, rate = sf.read(io.BytesIO(base64.b64decode(data)), dtype="float32", always_2d=True)
    mono = samples.mean(axis=1)
    if rate != SAMPLE_RATE:
        n = round(len(mono) * SAMPLE_RATE / rate)
        mono = np.interp(np.linspace(0, len(mono) - 1, n), np.arange(len(mono)), mono).astype("float32")
    return mono


class EndpointHandler:
    """Loaded once when the endpoint starts; `__call__` answers one request."""

    def __init__(self, path: str = "") -> None:
        import torch
        import transformers

        self.path = Path(path or ".")
        self.think = os.environ.get("SONGSET_THINK", "0").lower() in ("1", "true", "yes")
        config = transformers.AutoConfig.from_pretrained(self.path)
        self.model_type = getattr(config, "model_type", None)
        if self.model_type not in FAMILIES:
            raise ValueError(
                f"{self.path}: model_type {self.model_type!r} is not one of {sorted(FAMILIES)}; "
                "this handler runs the Transformers AF3 / Music Flamingo checkpoints (*-hf repos)"
            )
        model_class, processor_class = FAMILIES[self.model_type]
        self.processor = transformers.AutoProcessor.from_pretrained(self.path)
        if type(self.processor).__name__ != processor_class:
            raise ValueError(
                f"{self.path} loads processor {type(self.processor).__name__}; {self.model_type} needs "
                f"{processor_class}: the repo's processor_config.json names another family"
            )
        self.processor.tokenizer.padding_side = "left"
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        dtype = os.environ.get("SONGSET_DTYPE", "auto")
        self.dtype = ("bfloat16" if self.device == "cuda" else "float32") if dtype == "auto" else dtype
        model = getattr(transformers, model_class).from_pretrained(
            self.path, dtype=getattr(torch, self.dtype)
        )
        self.adapter: str | None = None
        if self.think:
            model = self._apply_think(model, self.path / "think")
            self.adapter = f"think ({_fingerprint(self.path / 'think')})"
        self.model = model.to(self.device).eval()
        self.model_class = model_class
        self.revision = os.environ.get("SONGSET_MODEL_REVISION") or _fingerprint(self.path)

    def _apply_think(self, model: Any, think: Path) -> Any:
        """Non-LoRA trainables (strict=False, keys mapped onto this model), then the LoRA, merged."""
        import torch
        from peft import PeftModel
        from safetensors.torch import load_file

        if not (think / "adapter_config.json").is_file():
            raise ValueError(f"SONGSET_THINK=1 but {think}/adapter_config.json is missing")
        own = model.state_dict()
        for file in sorted(think.glob("non_lora_trainables*")):
            if file.suffix == ".safetensors":
                tensors = load_file(str(file))
            else:
                tensors = torch.load(file, map_location="cpu", weights_only=True)
            mapped = {}
            for key, value in tensors.items():
                for candidate in (key, f"model.{key}", key.removeprefix("base_model.model.")):
                    if candidate in own:
                        mapped[candidate] = value.to(own[candidate].dtype)
                        break
            model.load_state_dict(mapped, strict=False)
        return PeftModel.from_pretrained(model, str(think)).merge_and_unload()

    def _generation(self, parameters: dict[str, Any]) -> tuple[dict[str, Any], int]:
        gen: dict[str, Any] = {"max_new_tokens": 1024, "do_sample": False}
        for key, cast in GENERATION_KEYS.items():
            if parameters.get(key) is not None:
                gen[key] = cast(parameters[key])
        if not gen["do_sample"]:
            for key in ("temperature", "top_p", "top_k"):  # ignored by greedy search; passing them warns
                gen.pop(key, None)
        return gen, int(parameters.get("seed") or 0)

    def __call__(self, data: dict[str, Any]) -> dict[str, Any]:
        import torch
        import transformers

        inputs = data.get("inputs", data)
        if not isinstance(inputs, dict) or not inputs.get("audio") or not inputs.get("prompt"):
            return {"error": "send {'inputs': {'audio': <base64>, 'prompt': <text>}, 'parameters': {...}}"}
        if bool(inputs.get("think")) != self.think:
            return {
                "error": f"request think={bool(inputs.get('think'))} but this endpoint runs think={self.think}"
                " (set SONGSET_THINK on the endpoint to match annotator.think)"
            }
        try:
            audio = _decode_audio(inputs["audio"])
        except Exception as exc:
            return {"error": f"audio could not be decoded: {type(exc).__name__}: {exc}"}
        gen, seed = self._generation(data.get("parameters") or {})
        turns: list[dict[str, Any]] = []
        if inputs.get("system_prompt"):
            turns.append({"role": "system", "content": inputs["system_prompt"]})
        content = [{"type": "text", "text": inputs["prompt"]}, {"type": "audio", "path": "window.wav"}]
        turns.append({"role": "user", "content": content})
        started = time.perf_counter()
        rendered = self.processor.apply_chat_template(turns, tokenize=False, add_generation_prompt=True)
        batch = self.processor(
            text=[rendered],
            audio=[audio],
            sampling_rate=SAMPLE_RATE,
            return_tensors="pt",
            text_kwargs={"padding": True, "padding_side": "left"},
        )
        batch = {k: v for k, v in batch.items() if k != "num_audio_tokens"}
        for key, value in batch.items():
            if hasattr(value, "to"):
                value = value.to(self.device)
                if value.is_floating_point():
                    value = value.to(getattr(torch, self.dtype))
                batch[key] = value
        tok = self.processor.tokenizer
        torch.manual_seed(seed)
        with torch.inference_mode():
            out = self.model.generate(**batch, **gen, pad_token_id=tok.pad_token_id)
        row = out[0, batch["input_ids"].shape[1] :].tolist()
        eos = self.model.generation_config.eos_token_id
        stops = {tok.pad_token_id, *(eos if isinstance(eos, list | tuple) else [eos])}
        n = next((i for i, t in enumerate(row) if t in stops), len(row))
        seconds = time.perf_counter() - started
        return {
            "text": tok.decode(row[:n], skip_special_tokens=True).strip(),
            "provenance": {
                "handler": "songset-af3-transformers",
                "handler_version": HANDLER_VERSION,
                "model_type": self.model_type,
                "model_class": self.model_class,
                "model_revision": self.revision,
                "adapter": self.adapter,
                "think": self.think,
                "settings": {**gen, "seed": seed, "dtype": self.dtype, "device": self.device},
                "libraries": {"transformers": transformers.__version__, "torch": torch.__version__},
                "tokens_generated": n,
                "hit_max_new_tokens": n == gen["max_new_tokens"],
                "audio_seconds": round(len(audio) / SAMPLE_RATE, 3),
                "seconds": round(seconds, 3),
            },
        }
