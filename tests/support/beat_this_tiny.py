"""A tiny random Beat This! checkpoint, in the Lightning layout the published checkpoints use."""

from __future__ import annotations

from pathlib import Path

TINY = {"spect_dim": 128, "transformer_dim": 32, "ff_mult": 2, "n_layers": 1, "head_dim": 16, "stem_dim": 16}


def save_checkpoint(path: Path, seed: int = 0) -> Path:
    """Random weights fixed by `seed`, under a `model.` prefix, with the hyper-parameters that build it."""
    import torch
    from beat_this.model.beat_tracker import BeatThis

    torch.manual_seed(seed)
    model = BeatThis(**TINY)
    state = {f"model.{k}": v for k, v in model.state_dict().items()}
    torch.save({"state_dict": state, "hyper_parameters": {**TINY, "lr": 0.0008, "fps": 50}}, path)
    return path
