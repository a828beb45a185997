from __future__ import annotations

from typing import Any

import pytest
from conftest import clean_annotation, song_lyrics_for, song_metadata

from songset.lyrics.text import decode_text
from songset.runner import SongError, SongJob
from songset.schemas import INSTRUMENTAL_LYRICS, Sidecar
from songset.sidecars import SidecarSettings, build_sidecar, parse_override, sidecar_json
from songset.tokens import count_tokens


def job(clean: Any = None, meta: Any = None, lyrics: bytes | None = None, **inputs: Any) -> SongJob:
    """A sidecar job; `lyrics` (a lyrics file's bytes) and `override` go through the lyrics stage's decision."""
    clean = clean or clean_annotation()
    base = {
        "clean": clean.model_dump(mode="json"),
        "metadata": (meta or song_metadata()).model_dump(mode="json"),
        "override": None,
        "override_file": "data/overrides/song.yaml",
    }
    base.update(inputs)
    base.setdefault("song_lyrics", song_lyrics_for(clean, lyrics=lyrics, override=base["override"]))
    return SongJob(id="song", file=__import__("pathlib").Path("song.json"), key="key", inputs=base)


def test_estimates_above_threshold_are_written_rounded() -> None:
    sidecar = build_sidecar(job(), SidecarSettings())
    assert sidecar.bpm == 122
    assert sidecar.keyscale == "F# minor"
    assert sidecar.timesignature == "4"
    assert sidecar.duration == 95.0
    assert set(sidecar.source.provenance) == {"annotate", "clean", "estimate", "lyrics", "sidecar"}


def test_low_confidence_values_are_left_out_with_reason() -> None:
    meta = song_metadata(bpm_confidence=0.1, key_confidence=0.05, timesignature_confidence=0.2)
    sidecar = build_sidecar(job(meta=meta), SidecarSettings())
    data = sidecar_json(sidecar)
    assert "bpm" not in data and "keyscale" not in data and "timesignature" not in data
    assert "below" in sidecar.source.omitted["bpm"]
    assert "below" in sidecar.source.omitted["keyscale"]


def test_human_override_always_wins_even_over_confident_estimates() -> None:
    override = "bpm: 90\nkeyscale: Bb major\ntimesignature: 3\ncaption: Waltz for strings.\nlanguage: en\n"
    sidecar = build_sidecar(job(override=override), SidecarSettings())
    assert (sidecar.bpm, sidecar.keyscale, sidecar.timesignature) == (90, "Bb major", "3")
    assert sidecar.caption == "Waltz for strings."
    assert sidecar.language == "en" and sidecar.vocal_language == "en"
    assert set(sidecar.source.overridden) >= {"bpm", "keyscale", "timesignature", "caption", "language"}


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("bpm: fast\n", "bpm"),
        ("tempo: 120\n", "tempo"),
        ("keyscale: f# minor\n", "keyscale"),
        ("- 1\n", "mapping"),
    ],
)
def test_bad_override_names_file_and_field(text: str, field: str) -> None:
    with pytest.raises(SongError) as err:
        parse_override(text, "data/overrides/song.yaml")
    assert "data/overrides/song.yaml" in str(err.value)
    assert field in str(err.value)


def test_instrumental_gets_instrumental_lyrics_and_states_no_sung_language() -> None:
    sidecar = build_sidecar(job(), SidecarSettings())
    assert sidecar.lyrics == INSTRUMENTAL_LYRICS
    # ACE-Step's folder scan reads `language` and takes any value but "instrumental" as a sung song.
    assert sidecar.language is None and sidecar.vocal_language == "unknown"


def test_vocal_song_without_lyrics_omits_lyrics_and_flags_it() -> None:
    clean = clean_annotation(vocal_presence="vocal", vocal_language="en")
    sidecar = build_sidecar(job(clean=clean), SidecarSettings())
    assert sidecar.lyrics is None
    assert "vocals_without_lyrics" in sidecar.source.flags
    assert sidecar.language == "en"


def test_lyrics_file_is_used_and_non_utf8_is_decoded_with_warning() -> None:
    clean = clean_annotation(vocal_presence="vocal")
    sidecar = build_sidecar(
        job(clean=clean, lyrics="[Verse]\nCafé olé\n".encode("cp1252")), SidecarSettings()
    )
    assert sidecar.lyrics == "[Verse]\nCafé olé"
    assert any("not UTF-8" in w for w in sidecar.source.warnings)
    assert decode_text(b"\xef\xbb\xbfhello\r\n", "x") == ("hello\r\n", [])


def test_caption_fits_budget_and_artist_prefix() -> None:
    long_caption = " ".join(["Warm jazz trio with brushed drums and walking upright bass."] * 40)
    settings = SidecarSettings(caption_token_budget=60, artist="The Trio", caption_prefix_artist=True)
    sidecar = build_sidecar(job(clean=clean_annotation(caption=long_caption)), settings)
    assert sidecar.caption.startswith("The Trio, Warm jazz trio")
    assert count_tokens(sidecar.caption) <= 60
    assert sidecar.source.caption_tokens == count_tokens(sidecar.caption)
    assert "caption_shortened" in sidecar.source.flags
    assert sidecar.artist == "The Trio"


def test_human_caption_is_never_shortened_only_flagged() -> None:
    override = "caption: " + " ".join(["very long human caption"] * 60) + "\n"
    sidecar = build_sidecar(job(override=override), SidecarSettings(caption_token_budget=50))
    assert sidecar.caption.startswith("very long human caption very long")
    assert "caption_over_budget" in sidecar.source.flags


def test_event_aware_caption_adds_structure_line() -> None:
    plain = build_sidecar(job(), SidecarSettings(caption_mode="caption"))
    events = build_sidecar(job(), SidecarSettings(caption_mode="events"))
    assert "Structure:" not in plain.caption
    assert events.caption.startswith(plain.caption)
    assert "Structure: intro 0:00, part a 0:12, build 0:12, outro 1:00, fade out 1:20." in events.caption


def test_over_240s_is_flagged() -> None:
    meta = song_metadata(duration=300.0)
    clean = clean_annotation(duration=300.0)
    assert "over_240s" in build_sidecar(job(clean=clean, meta=meta), SidecarSettings()).source.flags


def test_sidecar_json_omits_unknowns_and_round_trips() -> None:
    clean = clean_annotation(vocal_presence="unknown")
    sidecar = build_sidecar(job(clean=clean, meta=song_metadata(key_confidence=0.0)), SidecarSettings())
    data = sidecar_json(sidecar)
    assert "keyscale" not in data and "lyrics" not in data and "language" not in data
    assert None not in data.values()
    assert Sidecar.model_validate(data) == sidecar


def test_empty_lyrics_file_is_omitted_and_flagged() -> None:
    sidecar = build_sidecar(
        job(clean_annotation(vocal_presence="vocal"), lyrics=b"  \n\n"), SidecarSettings()
    )
    assert sidecar.lyrics is None
    assert sidecar.source.omitted["lyrics"] == "lyrics file is empty"
    assert "empty_lyrics_file" in sidecar.source.flags


@pytest.mark.parametrize("known", [True, False])
def test_caption_fills_the_room_acestep_prompt_leaves_beside_this_songs_metas(known: bool) -> None:
    """ACE-Step cuts its 256-token prompt from the right, metas first; each song's room depends on its metas."""
    from songset.acestep import Metas, prompt_tokens, text_prompt

    long_caption = " ".join(
        f"Section {i} lifts the brushed drums, upright bass and piano." for i in range(60)
    )
    meta = song_metadata() if known else song_metadata(bpm_confidence=0.0, key_confidence=0.0)
    sidecar = build_sidecar(job(clean=clean_annotation(caption=long_caption), meta=meta), SidecarSettings(
        caption_token_budget=256))  # fmt: skip
    metas = Metas.of(sidecar)
    used = prompt_tokens(sidecar.caption, metas)
    assert 250 <= used <= 256 and "caption_shortened" in sidecar.source.flags
    assert text_prompt(sidecar.caption, metas).endswith(
        "- duration: 95 seconds\n<|endoftext|>\n"
    )  # the metas survive the cut


def test_lyrics_over_acestep_limit_are_flagged() -> None:
    verse = "[Verse]\n" + "\n".join(f"Line {i} of a song that goes on and on" for i in range(80))
    clean = clean_annotation(vocal_presence="vocal", vocal_language="en")
    sidecar = build_sidecar(job(clean=clean, lyrics=verse.encode()), SidecarSettings())
    assert "lyrics_over_acestep_limit" in sidecar.source.flags
    short = build_sidecar(job(clean=clean, lyrics=b"[Verse]\nla la la\n"), SidecarSettings())
    assert "lyrics_over_acestep_limit" not in short.source.flags
