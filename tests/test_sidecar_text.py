"""The sidecar's text fields, pinned where mutation testing found the suite looking away.

Lyrics files in the encodings people save them in (UTF-16 from Windows Notepad, cp1252, bytes only
latin-1 can read), line endings, the artist prefix only when asked for, captions that fit the budget with
the prefix counted by the configured tokenizer, and the structure line of event-aware captions.
"""

from __future__ import annotations

from typing import Any

import pytest
from conftest import clean_annotation
from test_sidecar_rules import sidecar_for

from songset.acestep import Metas
from songset.lyrics.text import decode_text, normalise_lines
from songset.schemas import Event, Section
from songset.sidecars import SidecarSettings, compose_caption, sidecar_json, structure_line

LYRICS = "[Verse]\nÇa va, très bien\n[Chorus]\nolé"


# ---- lyrics files ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_lyrics_with_a_byte_order_mark_are_read_without_warning(encoding: str) -> None:
    data = LYRICS.encode(encoding)
    if encoding != "utf-16":  # the plain codec writes its own BOM; the -le/-be ones do not
        data = ("\ufeff" + LYRICS).encode(encoding)
    assert decode_text(data, "song.txt") == (LYRICS, [])


def test_cp1252_lyrics_are_decoded_and_the_warning_names_file_and_encoding() -> None:
    data = LYRICS.replace("olé", "olé – “quoted”").encode("cp1252")
    text, warnings = decode_text(data, "data/lyrics/song.txt")
    assert text == LYRICS.replace("olé", "olé – “quoted”")
    assert warnings == ["data/lyrics/song.txt: not UTF-8, decoded as cp1252"]


def test_bytes_cp1252_cannot_read_fall_back_to_latin1() -> None:
    data = b"caf\xe9 \x81 ok"  # 0x81 is undefined in cp1252
    text, warnings = decode_text(data, "song.txt")
    assert text == "café \x81 ok"
    assert warnings == ["song.txt: not UTF-8, decoded as latin-1"]


def test_line_endings_are_normalised_inside_the_text() -> None:
    assert normalise_lines(decode_text(b"one\r\ntwo\rthree\n", "x")[0]) == "one\ntwo\nthree"


# ---- artist prefix and the caption budget ------------------------------------------------------------


def test_artist_prefix_only_when_asked_for() -> None:
    assert sidecar_for(settings=SidecarSettings(artist="The Trio")).caption.startswith("Jazz, relaxed")
    asked_without_artist = sidecar_for(settings=SidecarSettings(caption_prefix_artist=True))
    assert asked_without_artist.caption.startswith("Jazz, relaxed")
    asked = sidecar_for(settings=SidecarSettings(artist="The Trio", caption_prefix_artist=True))
    assert asked.caption.startswith("The Trio, Jazz, relaxed")


def test_caption_that_fits_alone_is_shortened_to_make_room_for_the_prefix() -> None:
    caption = "Warm jazz trio with brushed drums. Walking upright bass under a soft Rhodes."
    clean = clean_annotation(caption=caption)
    alone = SidecarSettings(caption_token_budget=sidecar_for(clean=clean).source.caption_tokens)
    assert sidecar_for(clean=clean, settings=alone).caption == caption
    prefixed = alone.model_copy(update={"artist": "The Trio", "caption_prefix_artist": True})
    sidecar = sidecar_for(clean=clean, settings=prefixed)
    assert sidecar.caption == "The Trio, Warm jazz trio with brushed drums."
    assert sidecar.source.caption_tokens <= alone.caption_token_budget
    assert "caption_shortened" in sidecar.source.flags and "caption_over_budget" not in sidecar.source.flags


def test_configured_tokenizer_counts_the_caption_and_the_prefix(word_tokenizer: str) -> None:
    """8 words + "The", "Trio", "," = 11 tokens: fits a budget of 11 exactly (the estimate says more)."""
    clean = clean_annotation(caption="soft warm jazz trio with brushed snare drums")
    settings = SidecarSettings(
        caption_token_budget=11,
        caption_tokenizer=word_tokenizer,
        artist="The Trio",
        caption_prefix_artist=True,
    )
    sidecar = sidecar_for(clean=clean, settings=settings)
    assert sidecar.caption == "The Trio, soft warm jazz trio with brushed snare drums"
    assert sidecar.source.caption_tokens == 11
    assert not sidecar.source.flags


def test_event_line_is_fitted_with_the_configured_tokenizer(word_tokenizer: str) -> None:
    clean = clean_annotation(caption="soft jazz")
    line = structure_line(clean.sections, clean.events)
    settings = SidecarSettings(caption_mode="events", caption_tokenizer=word_tokenizer)
    budget = 2 + len(line.replace(",", " , ").replace(":", " : ").replace(".", " . ").split())
    caption, tokens, flags = compose_caption(
        "soft jazz",
        clean,
        settings.model_copy(update={"caption_token_budget": budget}),
        None,
        False,
        Metas(duration=95),
    )
    assert caption == f"soft jazz {line}" and tokens == budget and flags == []


def test_a_caption_room_of_one_token_keeps_one_word(word_tokenizer: str) -> None:
    """The search for the longest prefix goes down to a single token before giving up (mutation survivor)."""
    settings = SidecarSettings(caption_token_budget=1, caption_tokenizer=word_tokenizer)
    caption, tokens, flags = compose_caption(
        "soft jazz", clean_annotation(), settings, None, False, Metas(duration=95)
    )
    assert (caption, tokens, flags) == ("soft", 1, ["caption_shortened"])


def test_events_mode_without_a_structure_line_leaves_the_caption_as_it_is() -> None:
    """No sections and no events: nothing is appended and nothing is flagged (mutation survivor)."""
    clean = clean_annotation(caption="soft jazz", sections=[], events=[])
    settings = SidecarSettings(caption_mode="events")
    caption, _, flags = compose_caption("soft jazz", clean, settings, None, False, Metas(duration=95))
    assert (caption, flags) == ("soft jazz", [])


# ---- structure line -----------------------------------------------------------------------------------


def section(start: float, label: str) -> Section:
    return Section(start=start, end=start + 10, label=label, description="")


def event(start: float, kind: Any) -> Event:
    return Event(start=start, end=start + 5, type=kind, intensity=0.5)


def test_structure_line_leaves_out_intro_and_outro_events_and_repeats() -> None:
    """Sections already mark the intro and outro; a section and an event of one name at one time show once."""
    sections = [section(0, "verse"), section(30, "build"), section(60, "chorus")]
    events = [event(5, "intro"), event(30, "build"), event(50, "outro"), event(65, "vocal_entry")]
    line = structure_line(sections, events)
    assert line == "Structure: verse 0:00, build 0:30, chorus 1:00, vocal entry 1:05."


def test_structure_line_is_empty_without_sections_or_events() -> None:
    assert structure_line([], []) == ""
    assert structure_line([], [event(0, "intro"), event(50, "outro")]) == ""


# ---- the file: unknowns omitted, never written empty ----------------------------------------------------


def test_empty_artist_is_omitted_not_written_empty() -> None:
    data = sidecar_json(sidecar_for(settings=SidecarSettings(artist="")))
    assert "artist" not in data


def test_an_empty_string_field_is_left_out_of_the_file() -> None:
    """Whatever builds it, a sidecar never writes a field as "" (ACE-Step reads it as given, not unknown)."""
    sidecar = sidecar_for().model_copy(update={"artist": "", "lyrics": "", "language": None})
    data = sidecar_json(sidecar)
    assert not {"artist", "lyrics", "language"} & set(data) and data["caption"] == sidecar.caption


def test_no_structure_line_when_the_caption_fills_the_budget() -> None:
    clean = clean_annotation()
    full = sidecar_for(clean=clean).source.caption_tokens
    settings = SidecarSettings(caption_mode="events", caption_token_budget=full)
    sidecar = sidecar_for(clean=clean, settings=settings)
    assert sidecar.caption == clean.caption
    assert sidecar.source.flags == ["structure_line_shortened"]
