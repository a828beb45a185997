"""Hugging Face Inference Endpoint custom handler: nvidia/audio-flamingo-3 on NVIDIA's llava runtime,
with the `stage35` think adapter (the user's "Stack B": richer, about 60 s a track).

Copy this file to the TOP LEVEL of the endpoint repo with this folder's requirements.txt; without a
top-level handler.py the endpoint fails at start with "Unknown task custom". This stack runs in its own
image (see README.md here): NVIDIA's `af3` package pins torch 2.3.0 and Transformers 4.46, so it cannot
share an environment with songset or with serving/af3_transformers. It answers the same contract as that
handler, so `annotator=hf_endpoint` calls either one.

Loading follows NVIDIA's reference, `llava/cli/infer_audio.py` at commit c708168 (github:NVIDIA/audio-flamingo,
branch audio_flamingo_3): `llava.load(path, device_map=None)`, then for think mode the `stage35` non-LoRA
trainables (projector and encoder weights the adapter was trained with) and only then the PEFT adapter,
then `model.to("cuda")` (without it the sound tower and projector stay on the CPU).

Request (JSON): {"inputs": {"audio": <base64 WAV/FLAC/OGG>, "prompt": str, "think": bool},
"parameters": {"max_new_tokens": int, "do_sample": bool, "temperature": float, ...}}.
Answer: {"text": str, "provenance": {...}} or {"error": str}.
Environment: SONGSET_THINK=1 (default) loads stage35 at start, SONGSET_THINK=0 serves the plain model;
SONGSET_DEVICE (default cuda: NVIDIA's generate_content puts its inputs on CUDA).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

HANDLER_VERSION = "2"
# The audio-flamingo commit serving/af3_llava_think/README.md installs: "corrected thinking mode", the last
# change to llava/ on branch audio_flamingo_3. Recorded beside the commit actually found installed.
AF3_COMMIT = "c708168c7e2b9c4cdf5f4b8bc24034786e729324"
AF3_DISTRIBUTION = "af3"  # the name in NVIDIA's pyproject.toml; the import name is `llava`
THINK_FOLDER = "stage35"
NON_LORA_FILE = "non_lora_trainables.bin"
# NVIDIA's README (since c708168) asks for the "input audio" wording, as songset's annotators send it; their
# batch scripts before it used "input music". Either one already in the prompt is kept, never doubled.
THINK_SUFFIX = "Please think and reason about the input audio before you respond."
THINK_SUFFIXES = (THINK_SUFFIX, "Please think and reason about the input music before you respond.")
# llava/utils/media.py runs AutoFeatureExtractor.from_pretrained(PREPROCESSOR_REPO) at import.
PREPROCESSOR_REPO = "Qwen/Qwen2-Audio-7B"
PREPROCESSOR_FILE = "preprocessor_config.json"
# llava's language-model builder reads this from its package folder: only an editable install ships it.
CHAT_TEMPLATE = Path("model/language_model/chat_templates/qwen2.jinja")
# llava reads at most 20 windows of 30 s (llava/utils/media.py, _get_num_windows).
MAX_HEARD_S = 600.0
# Transformers GenerationConfig names this handler sets; the rest of a request's parameters are refused.
GENERATION_KEYS: dict[str, type] = {
    "max_new_tokens": int,
    "min_new_tokens": int,
    "do_sample": bool,
    "temperature": float,
    "top_p": float,
    "top_k": int,
    "repetition_penalty": float,
    "num_beams": int,
}
SAMPLING_ONLY = ("temperature", "top_p", "top_k")  # read by generation only when do_sample is true


class RequestError(ValueError):
    """A request the handler refuses before the model sees it; the message goes back as {"error": ...}."""


def _fingerprint(folder: Path) -> str:
    """Identity of the weights on disk from names and sizes: hashing many GB at start would be slow."""
    digest = hashlib.sha256()
    for path in sorted([*folder.rglob("*.safetensors"), *folder.rglob("*.bin")]):
        digest.update(f"{path.relative_to(folder)}\0{path.stat().st_size}\n".encode())
    return f"files:{digest.hexdigest()[:16]}"


def _hub_cache() -> Path:
    """Where huggingface_hub keeps downloads (HF_HUB_CACHE, else HF_HOME/hub)."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    home = os.environ.get("HF_HOME") or str(Path("~/.cache/huggingface").expanduser())
    return Path(home) / "hub"


def require_preprocessor_config() -> Path:
    """llava downloads Qwen2-Audio's feature-extractor config at import; here it must already be on disk."""
    from huggingface_hub import try_to_load_from_cache

    cache = _hub_cache()
    found = try_to_load_from_cache(PREPROCESSOR_REPO, PREPROCESSOR_FILE, cache_dir=str(cache))
    if not isinstance(found, str):
        raise FileNotFoundError(
            f"{PREPROCESSOR_REPO}/{PREPROCESSOR_FILE} is not in the Hugging Face cache {cache}: "
            "llava/utils/media.py loads it when llava is imported, and this endpoint runs offline. "
            f"Fetch it while building the image: huggingface-cli download {PREPROCESSOR_REPO} "
            f"{PREPROCESSOR_FILE} config.json (see serving/af3_llava_think/README.md)"
        )
    return Path(found)


def require_chat_template(package_dir: Path) -> Path:
    template = package_dir / CHAT_TEMPLATE
    if not template.is_file():
        raise FileNotFoundError(
            f"{template} missing: a non-editable install of NVIDIA's af3 package leaves out llava's chat "
            "templates. Install the checkout with `pip install --no-deps -e .` (see README.md here)"
        )
    return template


def _af3_commit() -> str | None:
    """The installed af3's commit: pip's record for a git URL, or the HEAD of an editable checkout."""
    try:
        record = metadata.distribution(AF3_DISTRIBUTION).read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        return None
    if not record:
        return None
    origin = json.loads(record)
    commit = (origin.get("vcs_info") or {}).get("commit_id")
    if commit:
        return str(commit)
    url = str(origin.get("url", ""))
    if not url.startswith("file://"):
        return None
    git = Path(url.removeprefix("file://")) / ".git"
    head = git / "HEAD"
    if not head.is_file():
        return None
    ref = head.read_text(encoding="utf-8").strip()
    if ref.startswith("ref: "):
        target = git / ref.removeprefix("ref: ")
        return target.read_text(encoding="utf-8").strip() if target.is_file() else None
    return ref


def _versions() -> dict[str, str]:
    found = {}
    for name in ("transformers", "torch", "peft", AF3_DISTRIBUTION):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def load_non_lora_trainables(model: Any, path: Path) -> int:
    """stage35's projector/encoder weights, loaded into the bare model before the adapter wraps it.

    Keys lose a leading "model." as in NVIDIA's infer_audio.py. strict=False there hides a key mismatch;
    here a file that matches no parameter at all is an error, since loading it would change nothing.
    """
    import torch

    saved = torch.load(path, map_location="cpu", weights_only=True)
    state = {(key[6:] if key.startswith("model.") else key): value for key, value in saved.items()}
    result = model.load_state_dict(state, strict=False)
    loaded = len(state) - len(result.unexpected_keys)
    if state and loaded == 0:
        raise ValueError(
            f"{path}: none of its {len(state)} tensors names a parameter of the model "
            f"(first key {next(iter(saved))!r}); the checkpoint and adapter do not belong together"
        )
    return loaded


def decode_audio(encoded: Any, folder: Path) -> tuple[Path, float]:
    """Base64 -> a file llava can read, or RequestError: llava itself answers unreadable audio as silence."""
    import soundfile as sf

    try:
        raw = base64.b64decode(str(encoded), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise RequestError(f"inputs.audio is not base64: {exc}") from exc
    # llava reads any suffix but .mp3 with soundfile, which goes by the content (WAV, FLAC, OGG).
    path = folder / "audio.wav"
    path.write_bytes(raw)
    try:
        info = sf.info(str(path))
    except RuntimeError as exc:  # soundfile.LibsndfileError and its kin
        raise RequestError(f"inputs.audio ({len(raw)} bytes) is not readable WAV/FLAC/OGG: {exc}") from exc
    if info.frames == 0:
        raise RequestError("inputs.audio holds no samples")
    return path, info.frames / info.samplerate


def with_think_suffix(prompt: str) -> str:
    if any(suffix.lower() in prompt.lower() for suffix in THINK_SUFFIXES):
        return prompt
    return f"{prompt.rstrip()}\n{THINK_SUFFIX}"


class EndpointHandler:
    def __init__(self, path: str = "") -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # weights and configs come from disk, never the Hub
        require_preprocessor_config()
        import llava  # NVIDIA's runtime: the `af3` distribution from the audio-flamingo repository

        require_chat_template(Path(llava.__file__).parent)
        self.path = Path(path or ".")
        self.think = os.environ.get("SONGSET_THINK", "1") != "0"
        self.device = os.environ.get("SONGSET_DEVICE", "cuda")
        model = llava.load(str(self.path), device_map=None)
        self.adapter: str | None = None
        self.non_lora_tensors = 0
        if self.think:
            think_dir = self.path / THINK_FOLDER
            if not think_dir.is_dir():
                raise FileNotFoundError(
                    f"{think_dir} missing: the think adapter ships in the repo's {THINK_FOLDER}/"
                )
            import torch
            from peft import PeftModel

            if (think_dir / NON_LORA_FILE).is_file():
                self.non_lora_tensors = load_non_lora_trainables(model, think_dir / NON_LORA_FILE)
            model = PeftModel.from_pretrained(
                model, str(think_dir), device_map="auto", torch_dtype=torch.float16
            )
            self.adapter = f"{THINK_FOLDER}@{_fingerprint(think_dir)}"
        self.model = model.to(self.device)
        self.revision = _fingerprint(self.path)
        self.libraries = _versions()
        self.af3_commit = _af3_commit()

    def _generation_config(self, parameters: dict[str, Any]) -> Any:
        """A fresh copy of the model's defaults (the property deep-copies) with do_sample always explicit."""
        unknown = sorted(set(parameters) - set(GENERATION_KEYS) - {"seed"})
        if unknown:
            raise RequestError(f"unknown parameters {unknown}; this handler sets {sorted(GENERATION_KEYS)}")
        config = self.model.default_generation_config
        config.do_sample = False  # greedy unless asked, whatever the checkpoint's generation_config says
        for key, kind in GENERATION_KEYS.items():
            if parameters.get(key) is not None:
                setattr(config, key, kind(parameters[key]))
        return config

    def _used(self, config: Any, parameters: dict[str, Any]) -> dict[str, Any]:
        """Settings as generation ran them: NVIDIA's generate_content may switch do_sample off on failure."""
        used = {key: getattr(config, key) for key in GENERATION_KEYS if hasattr(config, key)}
        ignored = []
        if not used.get("do_sample"):
            ignored = [key for key in SAMPLING_ONLY if parameters.get(key) is not None]
            for key in SAMPLING_ONLY:
                used.pop(key, None)
        if parameters.get("seed") is not None and used.get("do_sample"):
            used["seed"] = int(parameters["seed"])
        elif parameters.get("seed") is not None:
            ignored.append("seed")
        if ignored:
            used["ignored"] = ignored
        return used

    def _answer(self, data: dict[str, Any], folder: Path) -> dict[str, Any]:
        from llava.media import Sound

        inputs = data.get("inputs") or {}
        if not isinstance(inputs, dict) or not inputs.get("audio") or not inputs.get("prompt"):
            raise RequestError("expected {'inputs': {'audio': <base64>, 'prompt': str}, 'parameters': {...}}")
        if bool(inputs.get("think")) != self.think:
            wanted = "think" if inputs.get("think") else "plain"
            raise RequestError(
                f"this endpoint serves the {'think' if self.think else 'plain'} model, not {wanted}"
            )
        prompt = str(inputs["prompt"])
        if self.think:
            prompt = with_think_suffix(prompt)
        parameters = dict(data.get("parameters") or {})
        config = self._generation_config(parameters)
        audio, seconds = decode_audio(inputs["audio"], folder)
        if config.do_sample and parameters.get("seed") is not None:
            import torch

            torch.manual_seed(int(parameters["seed"]))
        started = time.perf_counter()
        text = self.model.generate_content([Sound(str(audio)), prompt], generation_config=config)
        return {
            "text": str(text).strip(),
            "provenance": {
                "runtime": "llava",
                "model_path": str(self.path),
                "model_revision": self.revision,
                "adapter": self.adapter,
                "non_lora_tensors": self.non_lora_tensors,
                "think": self.think,
                "device": self.device,
                "prompt_sha256": hashlib.sha256(prompt.encode()).hexdigest(),
                "settings": self._used(config, parameters),
                "audio_seconds": round(seconds, 3),
                "audio_seconds_heard": round(min(seconds, MAX_HEARD_S), 3),
                "libraries": self.libraries,
                "af3_commit": self.af3_commit,
                "af3_commit_expected": AF3_COMMIT,
                "handler_version": HANDLER_VERSION,
                "seconds": round(time.perf_counter() - started, 3),
            },
        }

    def __call__(self, data: dict[str, Any]) -> dict[str, Any]:
        with tempfile.TemporaryDirectory(prefix="songset-af3-") as folder:
            try:
                return self._answer(data, Path(folder))
            except RequestError as exc:
                return {"error": str(exc)}
