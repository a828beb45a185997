"""Audio-LLM annotators run in process through Transformers: AF3, Music Flamingo, Qwen2-Audio.

Why this shape: the model is heavy, so it loads lazily once per process (never pickled to workers) and
the identity (exact snapshot commit or weights sha256, adapter, prompt sha256, every generation setting by
its Transformers name, dtype, device) is resolved once and becomes both the cache key and the provenance.
Songs longer than `chunk_s` are cut into windows; each window's m:ss stamps are shifted by its offset, so
the text and the segments speak in song time. Batches are left padded (decoder-only generation).
"""

from __future__ import annotations

import logging
import math
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from pydantic import Field

from songset.annotators.base import Annotation, Annotator
from songset.annotators.hf_errors import (
    AnnotatorSetupError,
    check_model_type,
    check_peft,
    check_processor,
    check_transformers,
    download_snapshot,
)
from songset.annotators.messages import (
    PromptSettings,
    TransformersGeneration,
    chat_turns,
    prompt_text,
)
from songset.audio import load_audio
from songset.backend import BackendIdentity
from songset.prompts import load_prompt
from songset.runner import SongResources
from songset.schemas import Segment
from songset.settings import Configured, identity_slot, transport

log = logging.getLogger("songset")

HF_VERSION = "1"  # bump when a change here changes the text or segments for the same inputs
SAMPLE_RATE = 16000  # every supported processor's Whisper-style feature extractor runs at 16 kHz
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")
_COMMIT = re.compile(r"^[0-9a-f]{40}$")
# m:ss / mm:ss / h:mm:ss clock stamps, optionally with decimals; not part of a longer number or ratio.
_STAMP = re.compile(r"(?<![\d:.])(?:(\d{1,2}):)?(\d{1,3}):([0-5]\d)(\.\d+)?(?![\d:])")


def format_stamp(seconds: float, decimals: str = "") -> str:
    """Seconds -> m:ss (h:mm:ss past an hour), keeping the fractional digits the model wrote."""
    whole = int(seconds)
    frac = seconds - whole
    h, rem = divmod(whole, 3600)
    m, s = divmod(rem, 60)
    tail = f"{frac:.{len(decimals) - 1}f}"[1:] if decimals else ""
    return f"{h}:{m:02d}:{s:02d}{tail}" if h else f"{m}:{s:02d}{tail}"


def shift_stamps(text: str, offset_s: float) -> str:
    """Rewrite every clock stamp in a chunk's text from chunk time to song time."""
    if offset_s == 0:
        return text

    def shift(match: re.Match[str]) -> str:
        hours, minutes, secs, frac = match.groups()
        value = int(hours or 0) * 3600 + int(minutes) * 60 + int(secs) + float(frac or 0)
        return format_stamp(value + offset_s, frac or "")

    return _STAMP.sub(shift, text)


def has_stamp(text: str) -> bool:
    return _STAMP.search(text) is not None


def chunk_bounds(duration: float, chunk_s: float | None, max_audio_s: float) -> list[tuple[float, float]]:
    """Windows (start, end) in seconds covering the song up to `max_audio_s`; one window when unchunked."""
    total = min(duration, max_audio_s)
    if not chunk_s or total <= chunk_s:
        return [(0.0, total)]
    n = math.ceil(total / chunk_s - 1e-9)
    return [(i * chunk_s, min((i + 1) * chunk_s, total)) for i in range(n)]


def weights_sha256(folder: Path, subfolder: str | None = None, exclude: tuple[str, ...] = ()) -> str:
    """sha256 over the weight files (relative name + content) of a local model folder."""
    import hashlib

    from songset.io import sha256_file

    root = folder / subfolder if subfolder else folder
    files = sorted(
        p
        for p in root.rglob("*")
        if p.is_file()
        and p.suffix in WEIGHT_SUFFIXES
        and not any(part in exclude for part in p.relative_to(root).parts)
    )
    if not files:
        raise AnnotatorSetupError(f"{root}: no weight files ({', '.join(WEIGHT_SUFFIXES)}) found")
    digest = hashlib.sha256()
    for path in files:
        digest.update(f"{path.relative_to(root).as_posix()}\0{sha256_file(path)}\n".encode())
    return f"sha256:{digest.hexdigest()}"


def snapshot_commit(folder: Path) -> str | None:
    """The commit of an HF cache snapshot folder (.../snapshots/<commit>), else None."""
    resolved = folder.resolve()
    for candidate in (folder, resolved):
        if candidate.parent.name == "snapshots" and _COMMIT.match(candidate.name):
            return candidate.name
    return None


@dataclass(frozen=True)
class _Resolved:
    """Where the weights are on disk and which exact revision they are."""

    path: Path
    revision: str
    adapter: str | None
    adapter_revision: str | None


@dataclass
class _Chunk:
    song: int
    start: float
    end: float
    samples: np.ndarray


class HFSettings(TransformersGeneration, PromptSettings):
    """annotator=af3_hf | music_flamingo_hf | qwen2_audio: the variants differ only in `preset`."""

    model: str = identity_slot(description="hub id (HF_TOKEN read from the environment) or a local folder")
    revision: str | None = identity_slot(
        None, description="branch, tag or commit; the exact snapshot commit is recorded"
    )
    batch_size: int = transport(
        1, ge=1, description="windows per generate call, left padded (the same text as one by one)"
    )
    chunk_s: float | None = Field(
        30.0, gt=0, description="the encoder's window; null sends the whole song in one prompt"
    )
    max_audio_s: float = Field(600.0, gt=0, description="audio past this is not heard")
    dtype: str = Field("auto", description="auto: bfloat16 on a GPU, float32 on CPU")
    device: str = Field("auto", description="auto: cuda when available, else cpu")


class HFAudioAnnotator(Configured[HFSettings], Annotator):
    """Shared loading, prompting, chunking and batched generation for Transformers audio LLMs."""

    Settings = HFSettings

    parallel_processes = False  # the model is loaded once per stage, in this process

    backend: ClassVar[str] = ""
    model_class: ClassVar[str] = ""
    processor_class: ClassVar[str] = ""
    model_type: ClassVar[str] = ""  # config.json's model_type this backend runs
    min_transformers: ClassVar[str] = "5.0"
    audio_first: ClassVar[bool] = False  # where the audio goes in the user turn
    supports_think: ClassVar[bool] = False

    def setup(self) -> None:
        s = self.settings
        self.model = s.model
        self.revision = s.revision
        self.prompt = load_prompt(s.prompt, setting="annotator.prompt")
        self.think = s.think
        self.generation = s.generation()
        self.seed = s.seed
        self.batch_size = s.batch_size
        self.chunk_s = s.chunk_s
        self.max_audio_s = s.max_audio_s
        self._resolved: _Resolved | None = None
        self._model: Any = None
        self._processor: Any = None
        self._device: str | None = None
        self._dtype: str | None = None

    # ---- identity -------------------------------------------------------------------------------
    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_model"] = None  # each process loads its own copy on first use
        state["_processor"] = None
        return state

    def resources(self) -> SongResources:
        """A whole GPU per model copy when it runs on CUDA (set `device: cuda` when the driver has none)."""
        device, _ = self.runtime()
        return SongResources(num_cpus=1.0, num_gpus=1.0 if device.startswith("cuda") else 0.0)

    def text_prompt(self) -> str:
        """The exact user text sent with every window (shared with the served annotators)."""
        return prompt_text(self.prompt, self.settings.think, self.settings.think_suffix)

    def runtime(self) -> tuple[str, str]:
        """(device, dtype) after resolving `auto`: bf16 on a GPU, fp32 on CPU."""
        if self._device is None or self._dtype is None:
            import torch

            device = self.settings.device
            if device == "auto":
                device = "cuda" if torch.cuda.is_available() else "cpu"
            dtype = self.settings.dtype
            if dtype == "auto":
                dtype = "bfloat16" if device.startswith("cuda") else "float32"
            self._device, self._dtype = device, dtype
        return self._device, self._dtype

    def resolve(self) -> _Resolved:
        """Find the weights (downloading a hub snapshot unless offline) and pin their exact revision."""
        if self._resolved is None:
            check_transformers(self.backend, self.model_type, self.min_transformers)
            if self.think:
                if not self.supports_think:
                    raise AnnotatorSetupError(f"annotator={self.backend} has no think mode (AF3 only)")
                check_peft()
            local = Path(self.model).expanduser()
            if local.is_dir():
                path = local
                revision = snapshot_commit(local) or weights_sha256(local, exclude=("think",))
            else:
                path = self._download()
                revision = snapshot_commit(path) or self.revision or "unknown"
            adapter = adapter_rev = None
            if self.think:
                think = path / "think"
                if not (think / "adapter_config.json").is_file():
                    raise AnnotatorSetupError(
                        f"annotator.think=true but {self.model} has no think/adapter_config.json "
                        f"(looked in {think})"
                    )
                adapter = f"{self.model}/think"
                adapter_rev = weights_sha256(path, "think")
            self._resolved = _Resolved(path, revision, adapter, adapter_rev)
        return self._resolved

    def _download(self) -> Path:
        patterns = ["*.json", "*.safetensors", "*.jinja", "*.txt", "*.model", "*.tiktoken"]
        if self.think:
            patterns += ["think/*"]
        return download_snapshot(self.model, self.revision, patterns, None if self.think else ["think/*"])

    def identity(self) -> BackendIdentity:
        resolved = self.resolve()
        device, dtype = self.runtime()
        # the output settings, with `auto` resolved to what runs (bf16 on a GPU and fp32 on CPU differ)
        settings = {**self.settings.output_settings(), "dtype": dtype, "device": device.split(":")[0]}
        libraries = ("songset", "torch", "transformers", "huggingface_hub", "numpy", "soundfile")
        return BackendIdentity(
            backend=self.backend,
            version=HF_VERSION,
            settings=settings,
            model_id=self.model,
            model_revision=resolved.revision,
            adapter=resolved.adapter,
            adapter_revision=resolved.adapter_revision,
            prompt=self.prompt,
            libraries=(*libraries, "peft") if self.think else libraries,
        )

    # ---- loading --------------------------------------------------------------------------------
    def load(self) -> tuple[Any, Any]:
        """Model + processor, loaded once per process on first use."""
        if self._model is None:
            import torch
            import transformers

            resolved = self.resolve()
            device, dtype = self.runtime()
            config = transformers.AutoConfig.from_pretrained(resolved.path)
            check_model_type(self.backend, self.model, self.model_type, config)
            processor = transformers.AutoProcessor.from_pretrained(resolved.path)
            check_processor(self.backend, self.model, self.processor_class, processor)
            processor.tokenizer.padding_side = "left"
            model_cls = getattr(transformers, self.model_class)
            kwargs: dict[str, Any] = {"dtype": getattr(torch, dtype)}
            if device.startswith("cuda"):
                kwargs["device_map"] = {"": device}
            model = model_cls.from_pretrained(resolved.path, **kwargs)
            if self.think:
                model = self._apply_think(model, resolved.path / "think")
            model.to(device)
            model.eval()
            self._model, self._processor = model, processor
        return self._model, self._processor

    def _apply_think(self, model: Any, think: Path) -> Any:
        """Non-LoRA trainables (strict=False, keys mapped onto this model), then the LoRA, merged."""
        import torch
        from peft import PeftModel

        own = model.state_dict()
        loaded = 0
        for file in sorted(think.glob("non_lora_trainables*")):
            if file.suffix == ".safetensors":
                from safetensors.torch import load_file

                tensors = load_file(str(file))
            else:
                tensors = torch.load(file, map_location="cpu", weights_only=True)
            mapped = {}
            for key, value in tensors.items():
                for candidate in (key, f"model.{key}", key.removeprefix("base_model.model.")):
                    if candidate in own:
                        mapped[candidate] = value.to(own[candidate].dtype)
                        break
            if tensors and not mapped:
                raise AnnotatorSetupError(
                    f"{file}: none of its {len(tensors)} tensors match {self.model_class} "
                    f"(first key {next(iter(tensors))!r})"
                )
            model.load_state_dict(mapped, strict=False)
            loaded += len(mapped)
        self._think_tensors = loaded
        peft_model = PeftModel.from_pretrained(model, str(think))
        return peft_model.merge_and_unload()

    # ---- generation -----------------------------------------------------------------------------
    def conversation(self) -> list[dict[str, Any]]:
        audio = {"type": "audio", "path": "window.wav"}  # placeholder: the samples go to the processor
        return chat_turns(self.text_prompt(), audio, self.settings.system_prompt, self.audio_first)

    def generate(self, windows: list[np.ndarray]) -> tuple[list[str], list[int]]:
        """One left-padded batch of windows -> (texts, tokens generated per window)."""
        import torch

        model, processor = self.load()
        device, dtype = self.runtime()
        rendered = processor.apply_chat_template(
            self.conversation(), tokenize=False, add_generation_prompt=True
        )
        inputs = processor(
            text=[rendered] * len(windows),
            audio=windows,
            sampling_rate=SAMPLE_RATE,
            return_tensors="pt",
            text_kwargs={"padding": True, "padding_side": "left"},  # audio keeps its own padding
        )
        inputs = {k: v for k, v in inputs.items() if k not in ("num_audio_tokens",)}
        for key, value in inputs.items():
            if hasattr(value, "to"):
                value = value.to(device)
                if value.is_floating_point():
                    value = value.to(getattr(torch, dtype))
                inputs[key] = value
        gen = dict(self.generation)
        if not gen["do_sample"]:
            for key in ("temperature", "top_p", "top_k"):  # ignored by greedy search; passing them warns
                gen.pop(key)
        tok = processor.tokenizer
        torch.manual_seed(self.seed)
        with torch.inference_mode():
            out = model.generate(**inputs, **gen, pad_token_id=tok.pad_token_id)
        new = out[:, inputs["input_ids"].shape[1] :]
        stops = {tok.pad_token_id, *_as_list(model.generation_config.eos_token_id)}
        texts, counts = [], []
        for row in new.tolist():
            n = next((i for i, t in enumerate(row) if t in stops), len(row))
            counts.append(n)
            texts.append(tok.decode(row[:n], skip_special_tokens=True).strip())
        return texts, counts

    def annotate(self, path: Path) -> Annotation:
        result = self.annotate_batch([path])[0]
        if isinstance(result, Exception):
            raise result
        return result

    def annotate_batch(self, paths: list[Path]) -> list[Annotation | Exception]:
        """Songs -> windows -> batches of `batch_size` windows -> one Annotation per song (or its error)."""
        results: list[Annotation | Exception | None] = [None] * len(paths)
        chunks: list[_Chunk] = []
        for i, path in enumerate(paths):
            try:
                audio = load_audio(path, SAMPLE_RATE)
            except Exception as exc:
                results[i] = exc
                continue
            for start, end in chunk_bounds(audio.duration, self.chunk_s, self.max_audio_s):
                piece = audio.samples[int(start * SAMPLE_RATE) : int(end * SAMPLE_RATE)]
                chunks.append(_Chunk(i, start, end, piece))
        outputs: list[tuple[str, int]] = [("", 0)] * len(chunks)
        seconds = [0.0] * len(paths)
        for b in range(0, len(chunks), self.batch_size):
            batch = chunks[b : b + self.batch_size]
            started = time.perf_counter()
            try:
                texts, counts = self.generate([c.samples for c in batch])
            except Exception as exc:
                for c in batch:
                    results[c.song] = exc
                continue
            share = (time.perf_counter() - started) / len(batch)
            for j, c in enumerate(batch):
                outputs[b + j] = (texts[j], counts[j])
                seconds[c.song] += share
        for i in range(len(paths)):
            if results[i] is None:
                mine = [(c, outputs[k]) for k, c in enumerate(chunks) if c.song == i]
                results[i] = self._assemble(mine, seconds[i])
        return [r if r is not None else RuntimeError("not annotated") for r in results]

    def _assemble(self, parts: list[tuple[_Chunk, tuple[str, int]]], seconds: float) -> Annotation:
        """Chunk outputs -> song text with song-time stamps, one Segment per window."""
        chunked = len(parts) > 1
        blocks: list[str] = []
        segments: list[Segment] = []
        tokens = 0
        for index, (chunk, (text, count)) in enumerate(parts):
            tokens += count
            shifted = shift_stamps(text, chunk.start)
            if chunked and shifted and not has_stamp(shifted):
                shifted = f"[{format_stamp(chunk.start)}-{format_stamp(round(chunk.end))}] {shifted}"
            blocks.append(shifted)
            segments.append(
                Segment(
                    start=round(chunk.start, 3),
                    end=round(chunk.end, 3),
                    text=shifted,
                    features={"chunk": index, "tokens_generated": count},
                )
            )
        extra: dict[str, Any] = {
            "tokens_generated": tokens,
            "seconds": round(seconds, 3),
            "tokens_per_second": round(tokens / seconds, 2) if seconds > 0 else None,
            "chunks": len(parts),
            "batch_size": self.batch_size,
            "hit_max_new_tokens": any(c == self.generation["max_new_tokens"] for _, (_, c) in parts),
        }
        if self.think:
            extra["think_non_lora_tensors"] = getattr(self, "_think_tensors", None)
        return Annotation(
            text="\n\n".join(b for b in blocks if b),
            segments=segments,
            summary={"chunks": len(parts)},
            extra_provenance=extra,
        )


def _as_list(value: Any) -> list[int]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


class AF3Annotator(HFAudioAnnotator):
    """NVIDIA Audio Flamingo 3 (`nvidia/audio-flamingo-3-hf`), think mode included."""

    backend = "af3_hf"
    model_class = "AudioFlamingo3ForConditionalGeneration"
    processor_class = "AudioFlamingo3Processor"
    model_type = "audioflamingo3"
    min_transformers = "5.0"
    supports_think = True
    preset: ClassVar[dict[str, Any]] = {"model": "nvidia/audio-flamingo-3-hf"}


class MusicFlamingoAnnotator(HFAudioAnnotator):
    """NVIDIA Music Flamingo (`nvidia/music-flamingo-hf`): full songs with time-aware audio embeddings."""

    backend = "music_flamingo_hf"
    model_class = "MusicFlamingoForConditionalGeneration"
    processor_class = "MusicFlamingoProcessor"
    model_type = "musicflamingo"
    min_transformers = "5.5"

    preset: ClassVar[dict[str, Any]] = {
        "model": "nvidia/music-flamingo-hf",
        "prompt": "rich_caption_v1",
        "max_new_tokens": 2048,
        "chunk_s": None,  # whole song in one prompt (time-aware audio embeddings)
        "max_audio_s": 1200.0,  # Music Flamingo hears up to 20 minutes
    }


class Qwen2AudioAnnotator(HFAudioAnnotator):
    """Qwen2-Audio-7B-Instruct: a 30 s Whisper window, so longer songs are always chunked."""

    backend = "qwen2_audio"
    model_class = "Qwen2AudioForConditionalGeneration"
    processor_class = "Qwen2AudioProcessor"
    model_type = "qwen2_audio"
    min_transformers = "4.45"
    audio_first = True
    preset: ClassVar[dict[str, Any]] = {
        "model": "Qwen/Qwen2-Audio-7B-Instruct"
    }  # a 30 s Whisper window: chunk_s stays 30
