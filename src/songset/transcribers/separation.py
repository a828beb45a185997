"""Optional vocal separation before transcription: Demucs cuts the accompaniment that makes Whisper invent.

Why: Whisper hears drums, pads and guitars as noisy speech and writes text over them; on the vocal stem
alone it transcribes what is sung and says "no speech" where nothing is. `separate_vocals: true` in a
transcriber's settings runs the song through a Demucs model first and sends only the vocal stem.

Demucs is optional (`pip install -e '.[separation]'`): when it is missing, the transcriber fails at start
with one line naming the package, never mid-run. Demucs 4.1 loads named models (`htdemucs`,
`htdemucs_ft`, ...) from the Hugging Face hub or a local folder of `.th` files (`repo`); `demucs_unittest`
is the library's own tiny random model, for tests. The song is decoded to mono (songset's decoder) and
given to Demucs on every channel, so the stem is the centre of the mix (where lead vocals sit).
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from songset.audio import load_audio

INSTALL_HINT = "pip install -e '.[separation]' (or pip install demucs)"


class SeparationUnavailable(ValueError):
    """Separation was asked for but cannot run: printed as one line before the first song."""


class SeparationSettings(BaseModel):
    """Which Demucs model separates the vocals, and how; part of the transcriber's cache key."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field("htdemucs", description="a Demucs model name, hf://namespace/name, or demucs_unittest")
    repo: str | None = Field(None, description="a local folder of Demucs .th models (offline use)")
    shifts: int = Field(1, ge=0, description="random time shifts averaged (Demucs' --shifts)")
    overlap: float = Field(0.25, ge=0, lt=1, description="overlap between split segments")
    device: str = "auto"


class VocalSeparator(ABC):
    """Audio file in, the vocal stem out (mono, at the sample rate asked for)."""

    @abstractmethod
    def identity(self) -> dict[str, Any]: ...

    @abstractmethod
    def vocals(self, path: Path, sample_rate: int) -> np.ndarray: ...


def require_demucs() -> None:
    """Fail at start, in one line, when Demucs cannot be imported."""
    try:
        import demucs.apply
        import demucs.pretrained  # noqa: F401
    except ImportError as exc:
        raise SeparationUnavailable(
            f"transcriber.separate_vocals=true needs the demucs package, which is not installed ({exc}): "
            f"{INSTALL_HINT}"
        ) from None


class DemucsSeparator(VocalSeparator):
    """Demucs (Hybrid Transformer Demucs by default): the `vocals` source of the model."""

    def __init__(self, settings: SeparationSettings) -> None:
        require_demucs()
        self.settings = settings
        self._model: Any = None
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.update(_model=None, _lock=None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def device(self) -> str:
        import torch

        if self.settings.device == "auto":
            return "cuda" if torch.cuda.is_available() else "cpu"
        return self.settings.device

    def identity(self) -> dict[str, Any]:
        import demucs

        return {**self.settings.model_dump(mode="json"), "demucs": demucs.__version__}

    def load(self) -> Any:
        with self._lock:
            if self._model is None:
                from demucs.pretrained import get_model

                repo = Path(self.settings.repo).expanduser() if self.settings.repo else None
                try:
                    model = get_model(self.settings.model, repo=repo)
                except (Exception, SystemExit) as exc:  # demucs calls fatal() (SystemExit) on a bad repo
                    raise SeparationUnavailable(
                        f"Demucs model {self.settings.model!r}"
                        f"{f' in {repo}' if repo else ''} could not be loaded: {type(exc).__name__}: {exc}"
                    ) from None
                if "vocals" not in model.sources:
                    raise SeparationUnavailable(
                        f"Demucs model {self.settings.model!r} has no vocals source ({model.sources})"
                    )
                self._model = model
            return self._model

    def vocals(self, path: Path, sample_rate: int) -> np.ndarray:
        import librosa
        import torch
        from demucs.apply import apply_model

        model = self.load()
        audio = load_audio(path, model.samplerate)
        mono = torch.from_numpy(np.ascontiguousarray(audio.samples, dtype=np.float32))
        mix = mono.expand(model.audio_channels, -1)
        mean, std = mono.mean(), mono.std() + 1e-8  # Demucs' own normalisation (demucs/separate.py)
        torch.manual_seed(0)  # the random shifts
        with torch.inference_mode():
            stems = apply_model(
                model,
                ((mix - mean) / std)[None],
                shifts=self.settings.shifts,
                split=True,
                overlap=self.settings.overlap,
                progress=False,
                device=self.device(),
            )[0]
        vocal = (stems[model.sources.index("vocals")] * std + mean).mean(0).cpu().numpy()
        if model.samplerate != sample_rate:
            vocal = librosa.resample(
                vocal, orig_sr=model.samplerate, target_sr=sample_rate, res_type="soxr_hq"
            )
        return vocal.astype(np.float32)


def vocal_separator(enabled: bool, settings: SeparationSettings) -> VocalSeparator | None:
    """The separator a transcriber's settings ask for (None when off); checks Demucs is importable now."""
    return DemucsSeparator(settings) if enabled else None
