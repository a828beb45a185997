"""Each step of the real-prose reader on its own, then the rules cleaner on small texts written for this
project that imitate what real audio LLMs write (tests/data/prose/; not copies of any model's output)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import provenance

from songset.cleaners.prose import (
    heading_of,
    is_truncated,
    move_trailing_stamps,
    normalise_unicode,
    percent_to_clock,
    split_reasoning,
    sung_language,
    text_kind,
    untimed_sections,
    without_quotes,
)
from songset.cleaners.rules import RulesCleaner, stamps_out_of_range
from songset.schemas import CleanAnnotation, RawAnnotation
from songset.timecode import format_clock, parse_clock

PROSE = Path(__file__).parents[1] / "data" / "prose"
PROV = provenance("annotate")


def fixture(name: str) -> str:
    return (PROSE / name).read_text(encoding="utf-8")


def clean(text: str, duration: float = 150.0) -> CleanAnnotation:
    raw = RawAnnotation(
        id="s", audio_file="s.ogg", audio_sha256="0" * 64, duration=duration, text=text, provenance=PROV
    )
    content = RulesCleaner().clean(raw)
    return CleanAnnotation(id="s", duration=duration, **content.model_dump(), provenance={"annotate": PROV})


# ---- timecode ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"), [("0:05", 5.0), ("1:05", 65.0), ("12:30.5", 750.5), ("1:02:03", 3723.0)]
)
def test_parse_clock(text: str, seconds: float) -> None:
    assert parse_clock(text) == seconds


def test_format_clock_round_trips_and_rejects_bad_input() -> None:
    for seconds in (0.0, 5.0, 65.0, 750.5, 3723.0):
        assert parse_clock(format_clock(seconds, decimals=1)) == seconds
    assert format_clock(65.0) == "1:05" and format_clock(3723.5, decimals=1) == "1:02:03.5"
    with pytest.raises(ValueError, match="not a clock time"):
        parse_clock("1:5")
    with pytest.raises(ValueError, match="negative"):
        format_clock(-1.0)


# ---- steps -------------------------------------------------------------------------------------------------


def test_normalise_unicode() -> None:
    text = (
        "hi\u2011hat at 4:04\u20114:21 \u2013 \u201cquoted\u201d it\u2019s\u00a0wide\u202fnarrow\u200b\u2026"
    )
    assert normalise_unicode(text) == 'hi-hat at 4:04-4:21 – "quoted" it\'s wide narrow...'


def test_split_reasoning() -> None:
    parts = split_reasoning("<think>a tango?</think> <answer>A waltz.</answer>")
    assert (parts.answer, parts.reasoning) == ("A waltz.", "a tango?")
    assert split_reasoning("<think>cut off at the token lim").answer == ""
    assert split_reasoning("Plain text.") == split_reasoning("Plain text.")
    assert split_reasoning("Plain text.").reasoning == ""


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("lyric_sheet.txt", "lyric_sheet"),
        ("chat_reply.txt", "chat_reply"),
        ("refusal.txt", "refusal"),
        ("trailing_stamps.txt", "description"),
        ("think_answer.txt", "description"),
    ],
)
def test_text_kind(name: str, kind: str) -> None:
    assert text_kind(normalise_unicode(fixture(name))) == kind


def test_truncated() -> None:
    assert is_truncated("A bright pop song. The duration of the")
    assert not is_truncated("A bright pop song.") and not is_truncated('Ends with a quote."')


def test_percent_to_clock_reads_positions_only() -> None:
    assert percent_to_clock("Intro (0-18%): pads", 100.0) == "Intro (0:00.0-0:18.0): pads"
    assert percent_to_clock("the drop lands at 50% of the song", 200.0) == "the drop lands at 1:40.0"
    untouched = "a 70% wet reverb, intensity 70%"
    assert percent_to_clock(untouched, 100.0) == untouched
    assert percent_to_clock("from 90-120%", 100.0) == "from 90-120%"


def test_move_trailing_stamps() -> None:
    text = "Soft piano (0:00-0:20). Drums join (0:20-1:05)."
    assert move_trailing_stamps(text) == "[0:00-0:20] Soft piano. [0:20-1:05] Drums join."
    leading = "[0:00-0:20] Soft piano. At 0:20 drums join (0:20-1:05)."
    assert move_trailing_stamps(leading) == leading  # any leading stamp: the usual reading stays


def test_heading_of() -> None:
    assert heading_of("Tempo & Key – The song moves at 120 BPM.") == "Tempo & Key"
    assert heading_of("**Vocal characteristics:** A clear tenor.") == "Vocal characteristics"
    assert heading_of("- Intro – soft piano") is None  # a list item, not a heading
    assert heading_of("The track opens softly, then builds.") is None


def test_untimed_sections_from_prose_lists_and_arrows() -> None:
    prose = "Structurally, it opens with a soft intro, then a verse with voice, then a chorus, and an outro."
    assert [s.label for s in untimed_sections(prose)] == ["intro", "verse", "chorus", "outro"]
    arrows = "Form: Intro (pads) → Verse 1 → Chorus (full band) → Bridge → Outro"
    got = untimed_sections(arrows)
    assert [s.label for s in got] == ["intro", "verse", "chorus", "bridge", "outro"]
    assert got[0].description == "pads"
    listed = (
        "Song structure:\n- Intro: a lone guitar.\n- Verse 2 / Bridge: quieter.\n- Final chorus & outro: big."
    )
    assert [s.label for s in untimed_sections(listed)] == ["intro", "verse", "bridge", "chorus", "outro"]
    form_only = "It follows a verse-chorus form with instrumental breaks; the beat builds tension."
    assert untimed_sections(form_only) == []
    negated = "It opens with a short intro, then loops without dramatic breaks or contrasting bridges."
    assert untimed_sections(negated) == []  # one section named: no structure


def test_quoted_lyrics_are_blanked() -> None:
    text = 'The hook "The soul is everlasting" repeats; *dance all night* closes it.'
    out = without_quotes(text)
    assert "soul" not in out and "dance" not in out and len(out) == len(text)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("The vocals are sung in Brazilian Portuguese with light reverb.", "pt"),
        ("Lyrics are mainly Japanese with English tags.", "ja"),
        ("A male rapper delivers verses in Swiss German.", "de"),
        ("The lead is a French-speaking mezzo-soprano.", "fr"),
        ("She delivers the lyrics in Spanish.", "es"),
        ("A Spanish guitar and a French horn, no words.", None),
        ("A Punjabi pop song with dhol.", None),
    ],
)
def test_sung_language(text: str, code: str | None) -> None:
    assert sung_language(text) == code


def test_stamps_out_of_range() -> None:
    assert stamps_out_of_range("[0:00-0:30] intro. [0:30-3:40] verse.", 120.0) == [220.0]
    assert stamps_out_of_range("[0:00-0:30] intro.", 120.0) == []


# ---- the cleaner on imitations of real prose ---------------------------------------------------------------


def test_trailing_stamps_give_each_sentence_its_own_section() -> None:
    out = clean(fixture("trailing_stamps.txt"))
    assert [(s.start, s.end, s.label) for s in out.sections] == [
        (0, 20, "intro"),
        (20, 65, "verse"),
        (65, 110, "chorus"),
        (110, 150, "outro"),
    ]
    assert "drums" in out.sections[1].description.lower()
    assert out.flags == []


def test_percent_ranges_become_sections() -> None:
    out = clean(fixture("percent_ranges.txt"), 200.0)
    assert [(s.start, s.end, s.label) for s in out.sections] == [
        (0, 36, "intro"),
        (36, 80, "build"),
        (80, 150, "drop"),
        (150, 200, "outro"),
    ]
    assert "drums" in out.tags.instruments  # hi‑hat (U+2011) read as hi-hat


def test_think_answer_untimed_language_and_summary() -> None:
    out = clean(fixture("think_answer.txt"))
    assert "tango" not in out.caption.lower() and "tango" not in out.rich_details.lower()
    assert out.reasoning.startswith("Sounds like a slow waltz")
    assert "tango" not in out.tags.genre
    assert [s.label for s in out.untimed_sections] == ["intro", "verse", "chorus", "bridge", "outro"]
    assert [s.order for s in out.untimed_sections] == [1, 2, 3, 4, 5]
    assert out.sections == [] and out.flags == ["untimed_structure"]
    assert out.vocal_language == "pt"
    assert {"accordion", "classical guitar"} <= set(out.tags.instruments)


def test_out_of_range_stamps_are_flagged() -> None:
    out = clean("[0:00-0:30] A soft intro. [0:30-4:00] The verse with drums.", 120.0)
    assert "timestamp_out_of_range" in out.flags
    assert out.sections[-1].end == 120.0


@pytest.mark.parametrize("name", ["lyric_sheet.txt", "chat_reply.txt", "refusal.txt"])
def test_non_descriptions_are_flagged_not_cleaned(name: str) -> None:
    out = clean(fixture(name))
    assert out.flags == [name.removesuffix(".txt")]
    assert out.sections == [] and out.tags.genre == [] and out.tags.instruments == []


def test_quoted_lyric_is_no_genre() -> None:
    out = clean('A gentle acoustic ballad. The chorus sings "The soul is everlasting" twice.')
    assert "soul" not in out.tags.genre and "ballad" in out.tags.genre


def test_new_vocabulary() -> None:
    out = clean(
        "An energetic Eurodance track with hardstyle kicks and a forró accordion, a Celtic harp, an e-guitar, "
        "an acoustic bass and a double bass, led by a female mezzo-soprano."
    )
    assert {"eurodance", "hardstyle", "forró", "celtic"} <= set(out.tags.genre)
    assert {"electric guitar", "acoustic bass", "double bass", "harp", "accordion"} <= set(
        out.tags.instruments
    )
    assert "mezzo-soprano" in out.caption.lower()


def test_a_summary_heading_ends_with_its_line() -> None:
    from songset.cleaners.rules import _read

    doc = _read("Overall mood: joyful and bright.\nVocal characteristics - A clear tenor sings the verse.")
    assert doc.summary == ["Overall mood: joyful and bright."]
    assert doc.preamble == ["Vocal characteristics - A clear tenor sings the verse."]
