"""Hugging Face Inference Endpoint custom handler: nvidia/audio-flamingo-3 on NVIDIA's llava runtime,
with the `stage35` think adapter (the user's "Stack B": richer, about 60 s a track).

Copy this file to the TOP LEVEL of the endpoint repo with this folder's requirements.txt; without a
top-level handler.py the endpoint fails at start with "Unknown task custom". This stack runs in its own
image: NVIDIA's llava code pins an older Transformers and Python 3.10, so it cannot share an environment
with songset or with serving/af3_transformers (Transformers 5.x). It answers the same contract as that
handler, so `annotator=hf_endpoint` calls either one.

Request (JSON): {"inputs": {"audio": <base64 WAV/FLAC/OGG>, "prompt": str, "think": bool},
"parameters": {"max_new_tokens": int, "temperature": float, "top_p": float, "do_sample": bool}}.
Answer: {"text": str, "provenance": {...}} or {"error": str}.
Environment: SONGSET_THINK=1 (default) loads stage35 at start; SONGSET_THINK=0 serves the plain model.
"""

from __future__ import annotations

import base64
import hashlib
import os
import tempfile
import time
from pathlib import Path
from typing import Any

HANDLER_VERSION = "1"
THINK_FOLDER = "stage35"
THINK_SUFFIX = "Please think and reason about the input music before you respond."
GENERATION_KEYS = {"max_new_tokens": int, "temperature": float, "top_p": float, "do_sample": bool}


def _fingerprint(folder: Path) -> str:
    """Identity of the weights on disk from names and sizes: hashing many GB at start would be slow."""
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*.safetensors")):
        digest.update(f"{path.relative_to(folder)}\0{path.stat().st_size}\n".encode())
    return f"files:{digest.hexdigest()[:16]}"


def _versions() -> dict[str, str]:
    from importlib import metadata

    found = {}
    for name in ("transformers", "torch", "peft", "llava"):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


class EndpointHandler:
    def __init__(self, path: str = "") -> None:
        import llava  # NVIDIA's runtime from the audio-flamingo repository

        self.path = Path(path or ".")
        self.think = os.environ.get("SONGSET_THINK", "1") != "0"
        model = llava.load(str(self.path), model_base=None)
        self.adapter: str | None = None
        if self.think:
            think_dir = self.path / THINK_FOLDER
            if not think_dir.is_dir():
                raise FileNotFoundError(
                    f"{think_dir} missing: the think adapter ships in the repo's {THINK_FOLDER}/"
                )
            import torch
            from peft import PeftModel

            model = PeftModel.from_pretrained(
                model, str(think_dir), device_map="auto", torch_dtype=torch.float16
            )
            self.adapter = f"{THINK_FOLDER}@{_fingerprint(think_dir)}"
        self.model = model
        self.revision = _fingerprint(self.path)
        self.libraries = _versions()

    def _generation_config(self, parameters: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        config = self.model.default_generation_config
        applied: dict[str, Any] = {}
        for key, kind in GENERATION_KEYS.items():
            if parameters.get(key) is not None:
                applied[key] = kind(parameters[key])
                setattr(config, key, applied[key])
        return config, applied

    def __call__(self, data: dict[str, Any]) -> dict[str, Any]:
        from llava.media import Sound

        inputs = data.get("inputs") or {}
        if not isinstance(inputs, dict) or not inputs.get("audio") or not inputs.get("prompt"):
            return {"error": "expected {'inputs': {'audio': <base64>, 'prompt': str}, 'parameters': {...}}"}
        if bool(inputs.get("think")) != self.think:
            wanted = "think" if inputs.get("think") else "plain"
            return {
                "error": f"this endpoint serves the {'think' if self.think else 'plain'} model, not {wanted}"
            }
        prompt = str(inputs["prompt"])
        if self.think and THINK_SUFFIX not in prompt:
            prompt = f"{prompt.rstrip()}\n{THINK_SUFFIX}"
        config, applied = self._generation_config(data.get("parameters") or {})
        started = time.perf_counter()
        with tempfile.NamedTemporaryFile(suffix=".wav") as audio:
            audio.write(base64.b64decode(inputs["audio"]))
            audio.flush()
            text = self.model.generate_content([Sound(audio.name), prompt], generation_config=config)
        return {
            "text": str(text).strip(),
            "provenance": {
                "runtime": "llava",
                "model_path": str(self.path),
                "model_revision": self.revision,
                "adapter": self.adapter,
                "think": self.think,
                "prompt_sha256": hashlib.sha256(prompt.encode()).hexdigest(),
                "settings": applied,
                "libraries": self.libraries,
                "handler_version": HANDLER_VERSION,
                "seconds": round(time.perf_counter() - started, 3),
            },
        }
