"""Session-scoped tiny random AF3 / Music Flamingo / Qwen2-Audio checkpoints and short demo clips.

Built offline once per test session and saved with save_pretrained, so the backends load them through
the same from_pretrained path users hit with real weights.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

DEMO_AUDIO = Path(__file__).resolve().parents[2] / "data" / "audio"


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """kind -> folder; `af3_think` is AF3 plus a think/ folder (non-LoRA trainables + PEFT LoRA)."""
    pytest.importorskip("transformers")
    pytest.importorskip("peft")
    os.environ["HF_HUB_OFFLINE"] = "1"  # nothing in these tests may reach a hub
    from support.hf_tiny import KINDS, build_think_adapter, build_tiny_model

    root = tmp_path_factory.mktemp("tiny_models")
    folders = {kind: build_tiny_model(root / kind, kind) for kind in KINDS}
    think = root / "af3_think"
    shutil.copytree(folders["af3"], think)
    folders["af3_think"] = build_think_adapter(think)
    return folders


def _clip(src: str, dst: Path, start_s: float, seconds: float) -> Path:
    data, sr = sf.read(str(DEMO_AUDIO / src), dtype="float32", always_2d=True)
    mono = data.mean(axis=1)
    piece = mono[int(start_s * sr) : int((start_s + seconds) * sr)]
    if len(piece) < int(seconds * sr):  # loop a short source to reach the length asked for
        piece = np.resize(mono, int(seconds * sr))
    sf.write(str(dst), piece, sr)
    return dst


@pytest.fixture(scope="session")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two short clips of different lengths (so batches need padding) and one 70 s clip (3 AF3 windows)."""
    root = tmp_path_factory.mktemp("clips")
    return {
        "a": _clip("Kevin_MacLeod_-_Vibe_Ace.ogg", root / "vibe.wav", 20.0, 11.0),
        "b": _clip("calm_acoustic_1.opus", root / "calm.wav", 0.0, 13.5),
        "long": _clip("Kevin_MacLeod_-_Vibe_Ace.ogg", root / "long.wav", 0.0, 70.0),
    }
