"""The prompt and lyrics ACE-Step 1.5 trains on for a song, and where its tokenizer cuts them (README
"Sidecars": captions fit ACE-Step's 256-token prompt beside the metas; lyrics over its 512 tokens are
flagged). Counted here with the Qwen3 tokenizer directly, not through `songset.acestep`."""

from __future__ import annotations

from conftest import clean_annotation, song_metadata
from test_sidecar_rules import sidecar_for

from songset.acestep import Metas, text_prompt
from songset.sidecars import SidecarSettings
from songset.tokens import qwen3_tokenizer

APPENDED = 1  # Qwen3-Embedding's tokenizer appends <|endoftext|> to every encoding


def positions(text: str) -> int:
    return len(qwen3_tokenizer().encode(text)) + APPENDED


def test_the_training_prompt_word_for_word_with_known_and_missing_metas() -> None:
    """ACE-Step's SFT_GEN_PROMPT with build_metas_str: `N/A` for what is not given, whole seconds."""
    known = sidecar_for(meta=song_metadata(duration=95.7))
    assert Metas.of(known) == Metas(bpm=122, timesignature="4", keyscale="F# minor", duration=95)
    assert text_prompt("Warm jazz.", Metas.of(known)) == (
        "# Instruction\nFill the audio semantic mask based on the given conditions:\n\n"
        "# Caption\nWarm jazz.\n\n# Metas\n- bpm: 122\n- timesignature: 4\n- keyscale: F# minor\n"
        "- duration: 95 seconds\n<|endoftext|>\n"
    )
    unsure = sidecar_for(
        meta=song_metadata(bpm_confidence=0.0, key_confidence=0.0, timesignature_confidence=0.0)
    )
    assert text_prompt("Warm jazz.", Metas.of(unsure)).endswith(
        "# Metas\n- bpm: N/A\n- timesignature: N/A\n- keyscale: N/A\n- duration: 95 seconds\n<|endoftext|>\n"
    )


def test_a_shortened_caption_fills_the_prompt_to_exactly_256_positions() -> None:
    """One token per word, so the cut can land anywhere: the prompt must end at ACE-Step's 256, not past it."""
    caption = "Warm " + " ".join(["drums"] * 400) + "."
    sidecar = sidecar_for(
        clean=clean_annotation(caption=caption), settings=SidecarSettings(caption_token_budget=256)
    )
    assert "caption_shortened" in sidecar.source.flags
    assert positions(text_prompt(sidecar.caption, Metas.of(sidecar))) == 256


def _lyrics_of(tokens: int) -> str:
    """Sung lyrics costing exactly `tokens` Qwen3 tokens."""
    lines, text = [], "[Verse]"
    i = 0
    while len(qwen3_tokenizer().encode(text)) < tokens:
        i += 1
        lines.append(f"la {i}")
        text = "[Verse]\n" + "\n".join(lines)
    while len(qwen3_tokenizer().encode(text)) > tokens:
        text = text[:-1].rstrip()
    assert len(qwen3_tokenizer().encode(text)) == tokens
    return text


def test_lyrics_are_flagged_only_past_acesteps_512_positions() -> None:
    clean = clean_annotation(vocal_presence="vocal", vocal_language="en")
    fits = sidecar_for(clean=clean, lyrics=_lyrics_of(511).encode())  # + the appended token: 512
    assert positions(fits.lyrics) == 512 and "lyrics_over_acestep_limit" not in fits.source.flags
    over = sidecar_for(clean=clean, lyrics=_lyrics_of(512).encode())
    assert positions(over.lyrics) == 513 and "lyrics_over_acestep_limit" in over.source.flags


def test_a_configured_tokenizer_is_the_one_counted_against_both_limits(word_tokenizer: str) -> None:
    """`sidecar.caption_tokenizer` replaces Qwen3's counts everywhere: a long word is one token here and
    several in Qwen3, so counting with the wrong one cuts too much or flags lyrics that fit."""
    from tokenizers import Tokenizer

    words = Tokenizer.from_file(word_tokenizer)
    clean = clean_annotation(
        caption=" ".join(["supercalifragilistic"] * 400), vocal_presence="vocal", vocal_language="en"
    )
    lyrics = "[Verse]\n" + "\n".join(["supercalifragilistic"] * 300)  # 303 words, 1500+ Qwen3 tokens
    settings = SidecarSettings(caption_tokenizer=word_tokenizer, caption_token_budget=256)
    sidecar = sidecar_for(clean=clean, lyrics=lyrics.encode(), settings=settings)
    assert "lyrics_over_acestep_limit" not in sidecar.source.flags
    prompt = text_prompt(sidecar.caption, Metas.of(sidecar))
    assert len(words.encode(prompt).ids) + APPENDED == 256
