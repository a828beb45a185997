"""Caption token counts against ACE-Step's 256-token prompt, which silently truncates what does not fit.

ACE-Step encodes the caption with a Qwen3 BPE tokenizer. When a `tokenizer.json` is available locally
(`sidecar.caption_tokenizer`), it is used; otherwise a conservative estimate that over-counts English
prose: the larger of chars/3.5 and 1.35 tokens per word plus half a token per punctuation mark. Qwen-family
BPE tokenizers average about 4 characters or 0.75 words per token on English prose, so the estimate errs
long, which is the safe side for a budget.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache
from pathlib import Path

_WORD = re.compile(r"\w+", re.UNICODE)
_PUNCT = re.compile(r"[^\w\s]", re.UNICODE)


def estimate_tokens(text: str) -> int:
    if not text.strip():
        return 0
    words = len(_WORD.findall(text))
    punct = len(_PUNCT.findall(text))
    return math.ceil(max(len(text) / 3.5, 1.35 * words + 0.5 * punct))


@lru_cache(maxsize=4)
def _load_tokenizer(path: str):  # type: ignore[no-untyped-def]
    try:
        from tokenizers import Tokenizer  # optional: present wherever transformers is installed
    except ImportError as exc:
        raise ValueError(
            "sidecar.caption_tokenizer needs the `tokenizers` package: pip install tokenizers"
        ) from exc
    return Tokenizer.from_file(path)


def count_tokens(text: str, tokenizer_path: str | None = None) -> int:
    """Tokens `text` costs in the prompt: exact with a local tokenizer.json, else the estimate."""
    if tokenizer_path:
        path = Path(tokenizer_path)
        if not path.is_file():
            raise FileNotFoundError(f"caption tokenizer {path} not found (sidecar.caption_tokenizer)")
        return len(_load_tokenizer(str(path)).encode(text, add_special_tokens=False).ids)
    return estimate_tokens(text)


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
