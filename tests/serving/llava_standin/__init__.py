"""Stand-in for NVIDIA's `llava` package (github:NVIDIA/audio-flamingo, branch audio_flamingo_3, c708168).

The real runtime pins torch 2.3 and Transformers 4.46 and cannot be installed beside songset, so the handler
tests import this instead. It mirrors what the handler can observe of the real one, so a handler that
ignores it fails a test:
- importing it loads Qwen/Qwen2-Audio-7B's preprocessor config from the Hub cache (llava/utils/media.py);
  offline and absent, the import fails;
- `load` needs the package's chat template (llava/model/language_model/builder.py) and returns the model on
  the CPU: only `model.to(device)` afterwards places it (llava/cli/infer_audio.py calls it);
- `default_generation_config` is a fresh deep copy on every access (llava/model/llava_arch.py), the
  checkpoint's defaults sample (Qwen2.5's generation_config does), and generation is greedy unless
  `do_sample` is set; a sampling config generation rejects falls back to greedy by setting
  `generation_config.do_sample = False` on the config it was given (generate_content);
- unreadable audio is swallowed: the model hears zeros and answers from the text (_load_sound_mask);
- it is a torch module, so a real PEFT adapter wraps it and a non-LoRA state dict loads into it.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import soundfile as sf
import torch
from huggingface_hub import try_to_load_from_cache
from transformers import GenerationConfig

from .media import Sound

__all__ = ["Sound", "load"]

_cache = os.environ.get("HF_HUB_CACHE")
if not isinstance(
    try_to_load_from_cache("Qwen/Qwen2-Audio-7B", "preprocessor_config.json", cache_dir=_cache), str
):
    raise OSError(
        "We couldn't connect to 'https://huggingface.co' to load this file, couldn't find it in the cached "
        "files and it looks like Qwen/Qwen2-Audio-7B is not the path to a directory containing a file "
        "named preprocessor_config.json."
    )

CHAT_TEMPLATE = Path(__file__).parent / "model/language_model/chat_templates/qwen2.jinja"
GENERATE_CALLS: list[str] = []


class Model(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.q_proj = torch.nn.Linear(4, 4)  # a LoRA target, as the LLM's attention projections are
        self.mm_projector = torch.nn.Linear(4, 4)  # trained outside LoRA: stage35/non_lora_trainables.bin
        torch.nn.init.zeros_(self.mm_projector.weight)
        self.generation_config = GenerationConfig(
            do_sample=True, temperature=0.7, top_p=0.8, top_k=20, max_new_tokens=512
        )
        self.placed_on: str | None = None

    def _apply(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        self.placed_on = str(fn(torch.empty(0)).device.type)
        return super()._apply(fn, *args, **kwargs)

    @property
    def default_generation_config(self) -> GenerationConfig:
        return copy.deepcopy(self.generation_config)

    def generate_content(
        self,
        prompt: list[Any],
        generation_config: GenerationConfig | None = None,
        response_format: Any = None,
    ) -> str:
        wanted = os.environ.get("SONGSET_DEVICE", "cuda")
        if self.placed_on != wanted:
            raise RuntimeError(
                f"Expected all tensors to be on the same device, but found {self.placed_on or 'cpu'} and {wanted}"
            )
        sound, text = prompt
        GENERATE_CALLS.append(text)
        try:
            seconds = sf.info(sound.path).duration
            heard = f"audio {seconds:.1f}s"
        except Exception:  # the real _load_sound_mask catches everything and feeds zeros
            print("Error loading sound file: ", sound.path)
            heard = "silence"
        config = generation_config or self.default_generation_config
        if config.do_sample and not (config.temperature or 0) > 0:
            config.do_sample = False  # Transformers raises ValueError; generate_content retries greedily
        sampled = f"temperature={config.temperature}" if config.do_sample else "greedy"
        lora = any("lora_A" in name for name, _ in self.named_modules())
        projector = float(self.mm_projector.weight.detach().sum())
        return (
            f" heard={heard} lora={lora} projector={projector:g} {sampled} "
            f"max={config.max_new_tokens} prompt={text!r} "
        )


def load(
    model_path: str, model_base: str | None = None, devices: list[int] | None = None, **kwargs: Any
) -> Model:
    if not CHAT_TEMPLATE.is_file():
        raise FileNotFoundError(f"[Errno 2] No such file or directory: '{CHAT_TEMPLATE}'")
    if not Path(model_path).is_dir():
        raise OSError(f"{model_path} is not a local folder")
    return Model().eval()
