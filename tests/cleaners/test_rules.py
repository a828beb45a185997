"""RulesCleaner on the descriptor's format, on audio-LLM prose and markdown, and on malformed timestamps."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest
from conftest import provenance

from songset.cleaners.base import CleanedContent, clean_song
from songset.cleaners.rules import RulesCleaner, strip_timestamps
from songset.runner import SongJob
from songset.schemas import EVENT_TYPES, CleanAnnotation, RawAnnotation
from songset.stages.clean import CleanInputs

DESCRIPTOR = """\
[0:00-0:18] Intro: Quiet, warm and sparse, mostly harmonic texture with little percussion; harmony centres on an A minor colour; energy rising; light vocal-range activity.
[0:18-0:52] Part A: Loud, bright and dense, driven by dense percussion; the harmony has an A minor colour; energy builds sharply; strong vocal-range activity.
[0:52-1:30] Part B: Moderate, warm and steady, harmonic texture over light percussion; tonality suggests a C major colour; drops back; strong vocal-range activity.
[1:30-2:05] Part A: Very loud, bright and dense, balanced harmonic and percussive texture; harmony centres on an A minor colour; a little louder than before, the loudest passage; strong vocal-range activity.
[2:05-2:21] Outro: Quiet, dark and sparse, mostly harmonic texture with little percussion; the harmony has an A minor colour; fades out; light vocal-range activity.
Overall: mid-tempo pulse, a minor-key colour centred on A, balanced texture; builds from a quiet opening to a loud peak at 1:30; strong vocal-range activity."""

AF3 = (
    "The song opens with a gentle acoustic guitar intro (0:00-0:15). At 0:15, a female vocalist enters "
    "singing in English, accompanied by soft piano chords. The first verse continues until 1:02, with light "
    "percussion joining at 0:40. From 1:02 to 1:30 the chorus builds with drums and strings, reaching a "
    "powerful climax. A quieter bridge follows (1:30-2:10) where the drums drop out. The final chorus "
    "returns at 2:10 and the song reaches its loudest point. The track fades out around 3:10."
)

MARKDOWN = """\
**Structure**
- 00:00 – 00:30: Intro, soft synth pads and a distant piano.
- 00:30 – 01:05: Verse 1, male vocals enter over a driving bassline and drum machine.
**[01:05]** Chorus
The full band kicks in; electric guitars and drums, loud and anthemic.
**[01:40]** Verse 2
- 02:15 – 02:45: Bridge — the beat drops out, leaving only vocals and piano.
- 02:45 – 03:30: Final chorus, key change up a semitone, then the song fades out.

This is an energetic synth-pop track with nostalgic 80s synths, sung in Spanish."""

TIMESTAMP = re.compile(r"\d:\d\d")
PROVENANCE = provenance("annotate")  # built once: it reads installed library versions


def raw(text: str, duration: float = 141.0, backend: str = "test") -> RawAnnotation:
    return RawAnnotation(
        id="song",
        audio_file="song.wav",
        audio_sha256="a" * 64,
        duration=duration,
        text=text,
        provenance=PROVENANCE.model_copy(update={"backend": backend}),
    )


def clean(text: str, duration: float = 141.0, **kw: object) -> CleanedContent:
    return RulesCleaner(**kw).clean(raw(text, duration))  # type: ignore[arg-type]


def validated(text: str, duration: float, cleaner: RulesCleaner | None = None) -> CleanAnnotation:
    """Through `clean_song`, so the CleanAnnotation validators (ordering, inside the song) run too."""
    r = raw(text, duration)
    job = SongJob(id=r.id, file=Path("song.wav"), key="k", inputs=CleanInputs(raw=r, raw_sha256="x"))
    return clean_song(job, cleaner or RulesCleaner())


def spans(items: list) -> list[tuple[float, float, str]]:
    return [(i.start, i.end, getattr(i, "label", None) or i.type) for i in items]


# ---- the descriptor's format -------------------------------------------------------------------------------


def test_descriptor_sections() -> None:
    out = clean(DESCRIPTOR)
    assert spans(out.sections) == [
        (0, 18, "intro"),
        (18, 52, "part a"),
        (52, 90, "part b"),
        (90, 125, "part a"),
        (125, 141, "outro"),
    ]
    assert out.sections[0].description.startswith("Quiet, warm and sparse")  # stamp and label stripped


def test_descriptor_events_and_intensities() -> None:
    out = clean(DESCRIPTOR)
    by_type = {e.type: e for e in out.events}
    assert {"intro", "build", "breakdown", "peak", "fade_out", "outro"} <= set(by_type)
    assert (by_type["intro"].start, by_type["intro"].end, by_type["intro"].intensity) == (0, 18, 0.3)
    builds = [(e.start, e.end, e.intensity) for e in out.events if e.type == "build"]
    assert builds == [
        (0, 18, 0.3),
        (18, 52, 0.75),
    ]  # "energy rising" while quiet, "builds sharply" while loud
    assert (by_type["breakdown"].start, by_type["breakdown"].intensity) == (52, 0.5)
    assert (by_type["peak"].start, by_type["peak"].end, by_type["peak"].intensity) == (90, 125, 1.0)
    assert (by_type["fade_out"].start, by_type["fade_out"].end, by_type["fade_out"].intensity) == (
        125,
        141,
        0.3,
    )
    assert by_type["outro"].start == 125
    assert "drop" not in by_type  # "drops back" is a breakdown, not an EDM drop


def test_descriptor_tags_vocals_and_caption() -> None:
    out = clean(DESCRIPTOR)
    # its "percussion" is percussive energy, "dark"/"bright" a spectral centroid: no instruments, no moods
    assert out.tags.instruments == [] and out.tags.mood == [] and out.tags.genre == []
    assert out.tags.texture == ["balanced"]
    assert out.vocal_presence == "vocal"  # "strong vocal-range activity" in the summary (a heuristic)
    assert out.vocal_language is None
    assert (
        out.caption
        == "Vocals, mid-tempo, minor key, balanced texture, builds from a quiet opening to a loud peak."
    )
    assert out.rich_details == DESCRIPTOR


def test_descriptor_vocal_range_levels() -> None:
    little = DESCRIPTOR.replace("strong vocal-range", "little vocal-range").replace(
        "light vocal-range", "little vocal-range"
    )
    assert clean(little).vocal_presence == "instrumental"
    light = DESCRIPTOR.replace("strong vocal-range", "clear vocal-range")
    assert clean(light).vocal_presence == "unknown"


def test_descriptor_detected_by_backend_too() -> None:
    text = "[0:00-0:10] Part A: Loud, dark and dense, percussion-led texture; steady energy; a little softer."
    out = RulesCleaner().clean(raw(text + "\nSome free prose mentions a piano.", 30.0, backend="descriptor"))
    assert out.tags.instruments == []


# ---- audio-LLM prose ---------------------------------------------------------------------------------------


def test_af3_prose() -> None:
    out = clean(AF3, 200.0)
    assert spans(out.sections) == [
        (0, 15, "intro"),
        (15, 62, "verse"),  # the point at 0:15 ends at "until 1:02"; 0:40 falls inside it
        (62, 90, "chorus"),
        (90, 130, "bridge"),
        (130, 190, "chorus"),
        (190, 200, "section 6"),
    ]
    assert "light percussion joining" in out.sections[1].description
    assert out.tags.instruments == ["acoustic guitar", "piano", "percussion", "drums", "strings"]
    assert out.vocal_presence == "vocal" and out.vocal_language == "en"
    got = {(e.type, e.start, e.end) for e in out.events}
    assert {
        ("intro", 0, 15),
        ("vocal_entry", 15, 15),
        ("instrument_entry", 40, 40),
        ("build", 62, 90),
        ("peak", 62, 90),
        ("instrument_exit", 90, 130),
        ("peak", 130, 190),
        ("fade_out", 190, 200),
    } == got
    peak = next(e for e in out.events if e.type == "peak" and e.start == 130)
    assert peak.intensity == 1.0
    entry = next(e for e in out.events if e.type == "instrument_entry")
    assert entry.description.startswith("percussion:")
    assert not TIMESTAMP.search(out.caption)
    assert "female vocals" in out.caption and "acoustic guitar" in out.caption


def test_markdown_and_bullets() -> None:
    out = clean(MARKDOWN, 215.0)
    assert spans(out.sections) == [
        (0, 30, "intro"),
        (30, 65, "verse"),
        (65, 100, "chorus"),
        (100, 135, "verse"),
        (135, 165, "bridge"),
        (165, 210, "chorus"),
    ]
    assert "The full band kicks in" in out.sections[2].description  # the line under a bare header
    types = {e.type for e in out.events}
    assert {"intro", "vocal_entry", "breakdown", "key_change", "fade_out"} <= types
    assert out.tags.genre == ["synth-pop"]
    assert "male vocals" in out.caption
    assert out.vocal_language == "es"


def test_timestamp_forms() -> None:
    text = (
        "At 45 seconds the drums enter. Around the 1:10.5 mark strings swell. "
        "From 0:01:30 to 0:01:50 a saxophone solo. (2:00) A brief silence."
    )
    out = clean(text, 150.0)
    assert [(s.start, s.end) for s in out.sections] == [(45, 70.5), (70.5, 90), (90, 110), (120, 150)]
    assert out.sections[2].label == "solo"
    assert {"instrument_entry", "build", "silence"} <= {e.type for e in out.events}
    assert next(e for e in out.events if e.type == "silence").intensity == 0.0


def test_timestamp_helpers() -> None:
    assert strip_timestamps("builds from a quiet opening to a loud peak at 1:30") == (
        "builds from a quiet opening to a loud peak"
    )
    assert strip_timestamps("a peak in 1:01-1:10, then falls back") == "a peak, then falls back"
    assert strip_timestamps("80s synths at the 30-second mark") == "80s synths"


def test_explicit_intensity_and_instrumental() -> None:
    text = (
        "A purely instrumental ambient piece with no drums. 0:00 - 1:00 slow evolving drones; "
        "1:00 - 2:00 pads swell to a climax (intensity: 0.8)."
    )
    out = clean(text, 120.0)
    assert out.vocal_presence == "instrumental" and out.vocal_language is None
    assert "drums" not in out.tags.instruments
    assert {(e.type, e.intensity) for e in out.events} == {("build", 0.8), ("peak", 0.8)}
    assert "instrumental" in out.caption.lower()


def test_instrumental_break_is_not_instrumental() -> None:
    out = clean("A pop song. An instrumental break at 1:00, then the singer returns at 1:20.", 120.0)
    assert out.vocal_presence == "vocal"
    assert [s.label for s in out.sections] == ["interlude", "section 2"]
    assert [e.type for e in out.events] == ["vocal_entry"]


def test_language_needs_a_vocal_context() -> None:
    assert clean("A French horn and a Spanish guitar over English folk tunes.", 60.0).vocal_language is None
    assert clean("Korean lyrics over a trap beat.", 60.0).vocal_language == "ko"
    assert clean("A male singer performs in Cantonese.", 60.0).vocal_language == "yue"


def test_edm_drop_versus_drops_back() -> None:
    out = clean("The beat drops at 1:00. At 1:30 the energy drops back to a whisper.", 120.0)
    assert [(e.type, e.start) for e in out.events] == [("drop", 60), ("breakdown", 90)]


# ---- malformed timestamps ----------------------------------------------------------------------------------


def test_overlapping_out_of_order_and_outside_duration_are_fixed() -> None:
    text = (
        "[2:00-2:40] Outro: fades out. [0:30-1:10] Chorus, loud. [0:00-0:40] Intro, quiet. "
        "[0:50-1:00] a nested drum fill. [3:00-3:30] Beyond the end. [1:50-1:40] reversed bridge. "
        "At 0:20 the vocals enter. [1:15-1:15] empty."
    )
    out = validated(text, 150.0)
    assert spans(out.sections) == [
        (0, 30, "intro"),
        (30, 70, "chorus"),  # the nested 0:50-1:00 range is folded in, not a section
        (100, 110, "bridge"),
        (120, 150, "outro"),
    ]
    assert "nested drum fill" in out.sections[1].description
    for items in (out.sections, out.events):
        assert [i.start for i in items] == sorted(i.start for i in items)
        assert all(0 <= i.start <= i.end <= out.duration for i in items)
    assert "vocals enter" in out.sections[0].description  # a point inside a range is an event, not a section
    assert ("vocal_entry", 20) in {(e.type, e.start) for e in out.events}


def test_descriptor_and_prose_validate_through_clean_song() -> None:
    for text, duration in ((DESCRIPTOR, 141.0), (AF3, 200.0), (MARKDOWN, 215.0), (AF3, 100.0)):
        out = validated(text, duration)
        assert out.provenance["clean"].backend == "rules"
        assert out.provenance["clean"].settings == {"max_caption_words": 60, "infer_moods": False}
        assert out.provenance["clean"].extra["backend_version"] == "2"


# ---- caption, robustness, determinism ----------------------------------------------------------------------


@pytest.mark.parametrize("limit", [1, 3, 8, 20])
def test_caption_word_limit(limit: int) -> None:
    for text in (DESCRIPTOR, AF3, MARKDOWN, "A long rambling sentence " * 20):
        caption = clean(text, 215.0, max_caption_words=limit).caption
        assert 1 <= len(caption.split()) <= limit, caption
        assert caption[0].isupper() and caption.endswith(".")
        assert not TIMESTAMP.search(caption)


def test_unparsable_prose_falls_back_to_the_first_sentence() -> None:
    out = clean("Something hums for a while. Then nothing much happens at all.", 60.0)
    assert out.caption == "Something hums for a while. Then nothing much happens at all."
    assert out.sections == [] and out.events == []
    assert out.vocal_presence == "unknown"


def test_empty_text_raises_and_odd_text_does_not() -> None:
    with pytest.raises(ValueError, match="empty"):
        clean("  \n ", 60.0)
    rng = random.Random(0)
    fragments = [
        "0:00", "-", "–", "to", "at", "99:99", "1:2", "12:34:56", "[", "]", "(", ")", "**", "- ", "\n", "\n\n",
        "Intro:", "Part Z:", "chorus", "drops", "fades out", "no vocals", "vocals", "intensity 7/10",
        "intensity 3.5", "between", "and", "until", "Overall:", "seconds", "30s", "1e9", ".", ",", ";", "ï",
    ]  # fmt: skip
    for _ in range(300):
        text = " ".join(rng.choice(fragments) for _ in range(rng.randint(1, 25)))
        if not text.strip():
            continue
        out = validated(text, rng.choice([10.0, 61.3, 300.0]))
        assert out.caption.strip()


def test_deterministic() -> None:
    for text in (DESCRIPTOR, AF3, MARKDOWN):
        first = RulesCleaner().clean(raw(text, 215.0)).model_dump_json()
        assert first == RulesCleaner().clean(raw(text, 215.0)).model_dump_json()


def test_identity_and_mood_inference() -> None:
    ident = RulesCleaner(max_caption_words=40, infer_moods=True).identity()
    assert (ident.backend, ident.version, ident.libraries) == ("rules", "2", ("songset", "pydantic"))
    assert ident.settings == {"max_caption_words": 40, "infer_moods": True}
    quiet_minor = "A slow, quiet piece in a minor key; very quiet and sparse from 0:30 to 1:00."
    assert clean(quiet_minor, 60.0).tags.mood == []
    assert clean(quiet_minor, 60.0, infer_moods=True).tags.mood == ["melancholic"]
    assert clean("Loud and fast, a major-key romp.", 60.0, infer_moods=True).tags.mood == ["upbeat"]
    assert clean("Quiet, then loud, in a minor key.", 60.0, infer_moods=True).tags.mood == []
    with pytest.raises(ValueError):
        RulesCleaner(max_caption_words=0)


def test_each_style_of_prose_yields_events_and_together_many_types() -> None:
    """The schema already rejects unknown types (so a subset check could not fail); this checks that the
    cleaner finds events at all in every prose style, and more than a couple of kinds across them."""
    found = [{e.type for e in clean(text, 215.0).events} for text in (DESCRIPTOR, AF3, MARKDOWN)]
    assert all(len(types) >= 3 for types in found), found
    assert len(set().union(*found)) >= 8, found
    assert set().union(*found) < set(EVENT_TYPES)
