"""A tiny random multilingual Whisper checkpoint with a matching tokenizer and processor, built offline.

Why: tests and `bench/lyrics.py` must run the real Transformers path (save_pretrained, then the same
from_pretrained, generate, timestamp rules and language tokens users hit with openai/whisper-*) without
network access or GB of weights. The token layout is Whisper's: byte-level BPE text tokens, then
<|endoftext|>, <|startoftranscript|>, one token per language, the task tokens, <|nospeech|>,
<|notimestamps|>, and last the 1501 timestamp tokens <|0.00|> .. <|30.00|> (the generation code finds
timestamps as every id above <|notimestamps|>). Random weights write random text; only the structure of
the output means anything.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from support.hf_tiny import _bytes_to_unicode


def _tokenizer() -> Any:
    from tokenizers import AddedToken
    from transformers import WhisperTokenizer
    from transformers.models.whisper.tokenization_whisper import LANGUAGES

    chars = list(_bytes_to_unicode().values())
    merges = [("Ġ", "t"), ("Ġ", "a"), ("h", "e"), ("i", "n"), ("Ġt", "he"), ("e", "r"), ("o", "n")]
    vocab = {c: i for i, c in enumerate(chars)}
    for a, b in merges:
        vocab.setdefault(a + b, len(vocab))
    tok = WhisperTokenizer(vocab=vocab, merges=merges)
    specials = [
        "<|endoftext|>",
        "<|startoftranscript|>",
        *(f"<|{code}|>" for code in LANGUAGES),
        "<|translate|>",
        "<|transcribe|>",
        "<|startoflm|>",
        "<|startofprev|>",
        "<|nospeech|>",
        "<|notimestamps|>",
    ]
    tok.add_special_tokens({"additional_special_tokens": specials})
    stamps = [AddedToken(f"<|{i * 0.02:.2f}|>", special=False, normalized=False) for i in range(1501)]
    tok.add_tokens(stamps)
    return tok


def build_tiny_whisper(folder: Path, seed: int = 0) -> Path:
    """Write a tiny random Whisper checkpoint + WhisperProcessor to `folder`; returns the folder."""
    import torch
    import transformers as tf
    from transformers.models.whisper.tokenization_whisper import LANGUAGES

    torch.manual_seed(seed)
    folder.mkdir(parents=True, exist_ok=True)
    tok = _tokenizer()
    ids = tok.convert_tokens_to_ids
    eot = ids("<|endoftext|>")
    config = tf.WhisperConfig(
        vocab_size=len(tok),
        num_mel_bins=80,
        d_model=32,
        encoder_layers=2,
        decoder_layers=2,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        max_source_positions=1500,
        max_target_positions=448,
        decoder_start_token_id=ids("<|startoftranscript|>"),
        bos_token_id=eot,
        eos_token_id=eot,
        pad_token_id=eot,
        begin_suppress_tokens=[eot],
        suppress_tokens=[],
    )
    model = tf.WhisperForConditionalGeneration(config)
    gen = model.generation_config
    gen.decoder_start_token_id = config.decoder_start_token_id
    gen.eos_token_id = gen.pad_token_id = gen.bos_token_id = eot
    gen.is_multilingual = True
    gen.lang_to_id = {f"<|{code}|>": ids(f"<|{code}|>") for code in LANGUAGES}
    gen.task_to_id = {"transcribe": ids("<|transcribe|>"), "translate": ids("<|translate|>")}
    gen.no_timestamps_token_id = ids("<|notimestamps|>")
    gen.prev_sot_token_id = ids("<|startofprev|>")
    gen.max_initial_timestamp_index = 50
    gen.begin_suppress_tokens = [eot]
    gen.suppress_tokens = []
    gen.alignment_heads = [[1, 0], [1, 1]]  # cross-attention heads for word timestamps (DTW)
    gen.max_length = 448
    gen._from_model_config = False  # else from_pretrained rebuilds it from config.json, losing the above
    model.save_pretrained(folder)
    fe = tf.WhisperFeatureExtractor(feature_size=80, sampling_rate=16000, chunk_length=30)
    tf.WhisperProcessor(fe, tok).save_pretrained(folder)
    return folder
