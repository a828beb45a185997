"""How ACE-Step 1.5 reads a dataset and what it conditions on: the one home of those rules in songset.

Written from reading ACE-Step 1.5 (github:ace-step/ACE-Step-1.5) at f30aee4c186c33b7b8a6ea59a4b7fc36f795b49f
(2026-02-08), not copied from it:

- training prompt: `acestep/training/dataset_builder_modules/preprocess_text.py` `build_text_prompt` fills
  `acestep/constants.py` `SFT_GEN_PROMPT` with `DEFAULT_DIT_INSTRUCTION`, the caption and
  `preprocess_utils.py` `build_metas_str` (`- bpm: ...` lines, `N/A` for what is not given, the duration as
  stored). `encode_text` tokenizes it with `max_length=256, truncation=True`: what does not fit is cut from
  the right, so an over-long caption pushes the metas out first.
- lyrics: `preprocess.py` trains on `sample.lyrics` or `[Instrumental]`; `preprocess_lyrics.py`
  `encode_lyrics` cuts them at `max_length=512`, silently.
- generation-time metas: `acestep/handler.py` `_build_metadata_dict` + `_dict_to_meta_string` render `N/A` for
  what is not given and `int(duration)`; training renders the stored duration as is, so it is stored as whole
  seconds (tests/test_acestep_contract.py checks both render alike).
- the text tokenizer is Qwen3-Embedding-0.6B's (`handler.py`: `AutoTokenizer.from_pretrained` of
  `checkpoints/Qwen3-Embedding-0.6B`); its post-processor appends `<|endoftext|>` to every encoding, and a
  truncating encode keeps room for it, so one of the 256 (and 512) positions is always taken.
- `dataset_builder_modules/models.py`: `duration: int`; ACE-Step's own scan stores
  `int(seconds)` (`audio_io.py` `get_audio_duration`), so songset does the same.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from songset.schemas import INSTRUMENTAL_LYRICS, Sidecar
from songset.tokens import count_tokens

TEXT_MAX_TOKENS = 256  # encode_text: max_length=256, truncation=True
LYRICS_MAX_TOKENS = 512  # encode_lyrics: max_length=512, truncation=True
APPENDED_TOKENS = 1  # Qwen3-Embedding's tokenizer appends <|endoftext|> to every encoding
DIT_INSTRUCTION = "Fill the audio semantic mask based on the given conditions:"  # DEFAULT_DIT_INSTRUCTION
SCANNED_AUDIO = frozenset({".wav", ".mp3", ".flac", ".ogg", ".opus"})  # models.py SUPPORTED_AUDIO_FORMATS
NOT_GIVEN = "N/A"


class Metas(BaseModel):
    """The four values ACE-Step renders into its `# Metas` block; None is not given."""

    model_config = ConfigDict(frozen=True)

    bpm: int | None = None
    timesignature: str | None = None
    keyscale: str | None = None
    duration: int

    @classmethod
    def of(cls, sidecar: Sidecar) -> Metas:
        return cls(
            bpm=sidecar.bpm,
            timesignature=sidecar.timesignature,
            keyscale=sidecar.keyscale,
            duration=int(sidecar.duration),
        )


def _rendered(value: object) -> str:
    return str(value) if value else NOT_GIVEN


def training_metas(metas: Metas) -> str:
    """The metas block ACE-Step trains on (`build_metas_str`)."""
    return (
        f"- bpm: {_rendered(metas.bpm)}\n"
        f"- timesignature: {_rendered(metas.timesignature)}\n"
        f"- keyscale: {_rendered(metas.keyscale)}\n"
        f"- duration: {metas.duration} seconds\n"
    )


def text_prompt(caption: str, metas: Metas) -> str:
    """The text ACE-Step's text encoder reads for this song in training (`SFT_GEN_PROMPT`)."""
    return f"# Instruction\n{DIT_INSTRUCTION}\n\n# Caption\n{caption}\n\n# Metas\n{training_metas(metas)}<|endoftext|>\n"


def prompt_tokens(caption: str, metas: Metas, tokenizer_path: str | None = None) -> int:
    """Positions the prompt takes of the 256, the appended end token included."""
    return count_tokens(text_prompt(caption, metas), tokenizer_path) + APPENDED_TOKENS


def lyrics_tokens(lyrics: str | None, tokenizer_path: str | None = None) -> int:
    """Positions the lyrics take of the 512, as ACE-Step trains on them (none given: `[Instrumental]`)."""
    return count_tokens(lyrics or INSTRUMENTAL_LYRICS, tokenizer_path) + APPENDED_TOKENS


def caption_room(metas: Metas, tokenizer_path: str | None = None) -> int:
    """Caption tokens that fit beside this song's metas; exact up to a BPE merge at the caption's edges,
    which callers settle by counting the whole prompt (`sidecars.compose_caption`)."""
    return TEXT_MAX_TOKENS - prompt_tokens("", metas, tokenizer_path)


def sung_lyrics(sidecar: Sidecar) -> str | None:
    """Lyrics for `<stem>.lyrics.txt`; None for instrumentals, since ACE-Step's scan takes any lyrics file,
    even one holding only `[Instrumental]`, as a sung song (`scan.py`: `has_lyrics_file` -> not instrumental)."""
    return sidecar.lyrics if sidecar.lyrics and sidecar.lyrics.strip() != INSTRUMENTAL_LYRICS else None
