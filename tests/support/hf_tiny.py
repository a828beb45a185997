"""Tiny random AF3 / Music Flamingo / Qwen2-Audio checkpoints, built offline.

Why: tests and `bench/annotate.py` must run the real Transformers code path (save_pretrained, then the
same from_pretrained users hit) without network access or multi-GB weights. Random weights write
garbage text; only the structure of the output is meaningful.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

# Qwen-style chat templates: system/user/assistant turns, audio parts rendered as the model's placeholder.
_CHATML = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'audio' %}AUDIO_PLACEHOLDER"
    "{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}"
    "{% endfor %}{% endif %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
# AF3's processor template as nvidia/audio-flamingo-3-hf ships it (Transformers' convert_audioflamingo3_to_hf.py,
# checked by its test_processing_audioflamingo3.py::test_chat_template): a default system turn, and one
# <sound> before the user's text whatever the order of the content parts.
_AF3 = (
    "{% if messages[0]['role'] != 'system' %}<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
    "{% endif %}{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% set turn = namespace(text='', audio=False) %}{% for part in message['content'] %}"
    "{% if part['type'] == 'audio' %}{% set turn.audio = True %}"
    "{% elif part['type'] == 'text' %}{% set turn.text = turn.text + part['text'] %}{% endif %}"
    "{% endfor %}{% if turn.audio %}<sound>{% endif %}{{ turn.text }}{% endif %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
TEMPLATES = {
    "af3": _AF3,
    "music_flamingo": _CHATML.replace("AUDIO_PLACEHOLDER", "<sound>"),
    "qwen2_audio": _CHATML.replace("AUDIO_PLACEHOLDER", "Audio 1: <|audio_bos|><|AUDIO|><|audio_eos|>\n"),
}
SPECIALS = {
    "af3": ["<sound>"],
    "music_flamingo": ["<sound>", "<|sound_bos|>", "<|sound_eos|>"],
    "qwen2_audio": ["<|AUDIO|>", "<|audio_bos|>", "<|audio_eos|>"],
}
KINDS = tuple(TEMPLATES)


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte -> printable character map (what byte-level BPE vocabularies use)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
    bs += list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, (chr(c) for c in cs), strict=True))


def _tokenizer(kind: str) -> Any:
    from transformers import Qwen2Tokenizer

    chars = list(_bytes_to_unicode().values())
    merges = [("Ġ", "t"), ("Ġ", "a"), ("h", "e"), ("i", "n"), ("Ġt", "he"), ("e", "r"), ("o", "n")]
    vocab = {c: i for i, c in enumerate(chars)}
    for a, b in merges:
        vocab.setdefault(a + b, len(vocab))
    tok = Qwen2Tokenizer(
        vocab=vocab,
        merges=merges,
        unk_token=None,
        bos_token=None,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
    )
    tok.add_special_tokens(
        {"additional_special_tokens": ["<|im_start|>", "<|im_end|>", "<|endoftext|>", *SPECIALS[kind]]}
    )
    return tok


def build_tiny_model(folder: Path, kind: str, seed: int = 0) -> Path:
    """Write a tiny random `kind` checkpoint + processor to `folder`; returns the folder."""
    import torch
    import transformers as tf

    torch.manual_seed(seed)
    folder.mkdir(parents=True, exist_ok=True)
    tok = _tokenizer(kind)
    fe = tf.WhisperFeatureExtractor(feature_size=128, sampling_rate=16000, chunk_length=30)
    vocab_size = len(tok)
    text = tf.Qwen2Config(
        vocab_size=vocab_size,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=4096,
        tie_word_embeddings=False,
        eos_token_id=tok.convert_tokens_to_ids("<|im_end|>"),
        pad_token_id=tok.pad_token_id,
    )
    if kind == "qwen2_audio":
        audio = tf.Qwen2AudioEncoderConfig(
            d_model=32,
            encoder_layers=2,
            encoder_attention_heads=4,
            encoder_ffn_dim=64,
            num_mel_bins=128,
            max_source_positions=1500,
        )
        cfg: Any = tf.Qwen2AudioConfig(
            audio_config=audio, text_config=text, audio_token_index=tok.convert_tokens_to_ids("<|AUDIO|>")
        )
        model: Any = tf.Qwen2AudioForConditionalGeneration(cfg)
        proc: Any = tf.Qwen2AudioProcessor(fe, tok, chat_template=TEMPLATES[kind])
    else:
        audio = tf.AudioFlamingo3EncoderConfig(
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=4,
            intermediate_size=64,
            num_mel_bins=128,
            max_source_positions=1500,
        )
        ids = {"audio_token_id": tok.convert_tokens_to_ids("<sound>")}
        if kind == "af3":
            cfg = tf.AudioFlamingo3Config(audio_config=audio, text_config=text, **ids)
            model = tf.AudioFlamingo3ForConditionalGeneration(cfg)
            proc = tf.AudioFlamingo3Processor(fe, tok, chat_template=TEMPLATES[kind])
        else:
            ids["audio_bos_token_id"] = tok.convert_tokens_to_ids("<|sound_bos|>")
            ids["audio_eos_token_id"] = tok.convert_tokens_to_ids("<|sound_eos|>")
            cfg = tf.MusicFlamingoConfig(audio_config=audio, text_config=text, **ids)
            model = tf.MusicFlamingoForConditionalGeneration(cfg)
            proc = tf.MusicFlamingoProcessor(fe, tok, chat_template=TEMPLATES[kind])
    model.generation_config.eos_token_id = text.eos_token_id
    model.generation_config.pad_token_id = text.pad_token_id
    model.save_pretrained(folder)
    proc.save_pretrained(folder)
    return folder


def build_think_adapter(folder: Path, seed: int = 1) -> Path:
    """Add a `think/` folder to a tiny AF3 checkpoint the way nvidia/audio-flamingo-3-hf ships it.

    Why: think mode loads non-LoRA trainables (here the projector) with strict=False, then a PEFT LoRA
    adapter from the same subfolder; the test needs both files to exist and to change the output.
    """
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AudioFlamingo3ForConditionalGeneration

    torch.manual_seed(seed)
    model = AudioFlamingo3ForConditionalGeneration.from_pretrained(folder)
    think = folder / "think"
    think.mkdir(exist_ok=True)
    projector = {
        f"model.multi_modal_projector.{k}": torch.randn_like(v) * 0.5
        for k, v in model.model.multi_modal_projector.state_dict().items()
    }
    torch.save(projector, think / "non_lora_trainables.bin")  # the name and format the real think/ ships
    model.config.save_pretrained(think)  # the real think/, like Transformers' tiny fixture, has a config.json
    lora = LoraConfig(
        r=4, lora_alpha=8, target_modules=r".*language_model.*\.(q_proj|v_proj)", init_lora_weights=False
    )
    peft_model = get_peft_model(model, lora)
    peft_model.save_pretrained(think)
    return folder
