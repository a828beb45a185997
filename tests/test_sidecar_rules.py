"""The sidecar rules a training run depends on, each pinned at its edge.

README "Human overrides always win": an override beats every other source of the same field (the estimate,
what the annotation declared, the lyrics file, the sidecar config). README "Sidecars": a value is kept at
exactly its own `min_*_confidence` and dropped just below it, each field against its own threshold.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import clean_annotation, song_lyrics_for, song_metadata

from songset.runner import SongError, SongJob
from songset.schemas import INSTRUMENTAL_LYRICS, Override
from songset.sidecars import (
    SIDECAR_VERSION,
    SidecarSettings,
    build_sidecar,
    override_disagreements,
    parse_override,
    sidecar_json,
)

# Every field with a confidence, the metadata field holding it, and its threshold setting.
CONFIDENCE_FIELDS = {
    "bpm": ("bpm_confidence", "min_bpm_confidence"),
    "keyscale": ("key_confidence", "min_key_confidence"),
    "timesignature": ("timesignature_confidence", "min_timesignature_confidence"),
}
# Thresholds all different, so a field judged against another field's threshold gives another answer.
THRESHOLDS = {"min_bpm_confidence": 0.25, "min_key_confidence": 0.45, "min_timesignature_confidence": 0.65}


def sidecar_for(
    *, clean: Any = None, meta: Any = None, settings: SidecarSettings | None = None, **inputs: Any
) -> Any:
    clean = clean or clean_annotation()
    lyrics = inputs.pop("lyrics", None)
    declared = inputs.pop("declared", None)
    lyrics_file = inputs.pop("lyrics_file", "data/lyrics/song.txt")
    data: dict[str, Any] = {
        "clean": clean.model_dump(mode="json"),
        "metadata": (meta or song_metadata()).model_dump(mode="json"),
        "override": None,
        "override_file": "data/overrides/song.yaml",
    }
    data.update(inputs)
    data.setdefault(
        "song_lyrics",
        song_lyrics_for(
            clean, lyrics=lyrics, lyrics_file=lyrics_file, override=data["override"], declared=declared
        ),
    )
    job = SongJob(id="song", file=Path("song.json"), key="key", inputs=data)
    return build_sidecar(job, settings or SidecarSettings())


# ---- confidence thresholds ----------------------------------------------------------------------------


@pytest.mark.parametrize("field", list(CONFIDENCE_FIELDS))
def test_value_exactly_at_its_threshold_is_kept(field: str) -> None:
    confidence, setting = CONFIDENCE_FIELDS[field]
    settings = SidecarSettings(**THRESHOLDS)
    sidecar = sidecar_for(meta=song_metadata(**{confidence: THRESHOLDS[setting]}), settings=settings)
    assert field in sidecar_json(sidecar), sidecar.source.omitted
    assert field not in sidecar.source.omitted


@pytest.mark.parametrize("field", list(CONFIDENCE_FIELDS))
def test_value_just_below_its_own_threshold_is_dropped_with_reason(field: str) -> None:
    """Just under its own threshold, but above every other field's: only its own threshold drops it."""
    confidence, setting = CONFIDENCE_FIELDS[field]
    below = round(THRESHOLDS[setting] - 0.01, 2)
    settings = SidecarSettings(**THRESHOLDS)
    sidecar = sidecar_for(meta=song_metadata(**{confidence: below}), settings=settings)
    assert field not in sidecar_json(sidecar)
    assert sidecar.source.omitted[field] == f"confidence {below:.2f} below {THRESHOLDS[setting]:.2f}"
    others = set(CONFIDENCE_FIELDS) - {field}
    assert others <= set(sidecar_json(sidecar)), "the other fields are confident and must stay"


@pytest.mark.parametrize("field", list(CONFIDENCE_FIELDS))
def test_each_field_is_judged_by_its_own_threshold_only(field: str) -> None:
    """Raising every other threshold to 1.0 drops the other fields and leaves this one alone, and back."""
    _, setting = CONFIDENCE_FIELDS[field]
    strict_others = {s: (0.0 if s == setting else 1.0) for s in THRESHOLDS}
    sidecar = sidecar_for(meta=song_metadata(), settings=SidecarSettings(**strict_others))
    assert set(CONFIDENCE_FIELDS) & set(sidecar_json(sidecar)) == {field}
    strict_own = {s: (1.0 if s == setting else 0.0) for s in THRESHOLDS}
    sidecar = sidecar_for(meta=song_metadata(), settings=SidecarSettings(**strict_own))
    assert set(CONFIDENCE_FIELDS) & set(sidecar_json(sidecar)) == set(CONFIDENCE_FIELDS) - {field}


def test_default_thresholds_are_the_documented_ones() -> None:
    """README and conf/sidecar/default.yaml: 0.3 for bpm and key, 0.5 for the time signature."""
    settings = SidecarSettings()
    assert (settings.min_bpm_confidence, settings.min_key_confidence) == (0.3, 0.3)
    assert settings.min_timesignature_confidence == 0.5
    meta = song_metadata(bpm_confidence=0.4, key_confidence=0.4, timesignature_confidence=0.4)
    data = sidecar_json(sidecar_for(meta=meta))
    assert "bpm" in data and "keyscale" in data and "timesignature" not in data


@pytest.mark.parametrize(("bpm", "kept"), [(29.4, False), (29.6, 30), (300.4, 300), (300.6, False)])
def test_bpm_outside_acestep_range_is_omitted_after_rounding(bpm: float, kept: int | bool) -> None:
    sidecar = sidecar_for(meta=song_metadata(bpm=bpm, bpm_confidence=1.0))
    if kept:
        assert sidecar.bpm == kept
    else:
        assert sidecar.bpm is None and "outside 30-300" in sidecar.source.omitted["bpm"]


def test_unestimated_values_are_omitted_not_placeholders() -> None:
    meta = song_metadata(bpm=None, keyscale=None, timesignature=None)
    sidecar = sidecar_for(meta=meta)
    data = sidecar_json(sidecar)
    assert not {"bpm", "keyscale", "timesignature"} & set(data)
    assert sidecar.source.omitted["bpm"] == "not estimated"
    assert sidecar.source.omitted["keyscale"] == "not estimated"


# ---- override precedence ------------------------------------------------------------------------------


def test_override_beats_confident_estimates_and_records_it() -> None:
    meta = song_metadata(bpm_confidence=1.0, key_confidence=1.0, timesignature_confidence=1.0)
    override = "bpm: 90\nkeyscale: Bb major\ntimesignature: 3\n"
    sidecar = sidecar_for(meta=meta, override=override)
    assert (sidecar.bpm, sidecar.keyscale, sidecar.timesignature) == (90, "Bb major", "3")
    assert sidecar.source.overridden == ["bpm", "keyscale", "timesignature"]


def test_override_beats_estimates_too_unsure_to_write() -> None:
    """A human value is written even where the estimate was dropped, and no omission reason is left."""
    meta = song_metadata(bpm_confidence=0.0, key_confidence=0.0, timesignature_confidence=0.0, bpm=500.0)
    sidecar = sidecar_for(meta=meta, override="bpm: 90\nkeyscale: Bb major\ntimesignature: 3\n")
    assert (sidecar.bpm, sidecar.keyscale, sidecar.timesignature) == (90, "Bb major", "3")
    assert not {"bpm", "keyscale", "timesignature"} & set(sidecar.source.omitted)


def test_override_lyrics_beat_the_lyrics_file() -> None:
    clean = clean_annotation(vocal_presence="vocal")
    sidecar = sidecar_for(
        clean=clean, lyrics=b"[Verse]\nfrom the file\n", override="lyrics: |\n  [Verse]\n  from the human\n"
    )
    assert sidecar.lyrics == "[Verse]\nfrom the human"
    assert "lyrics" in sidecar.source.overridden


def test_override_lyrics_beat_the_instrumental_default() -> None:
    sidecar = sidecar_for(override="lyrics: |\n  [Chorus]\n  hum along\n")
    assert sidecar.lyrics == "[Chorus]\nhum along" and sidecar.lyrics != INSTRUMENTAL_LYRICS


def test_override_language_beats_config_and_annotation() -> None:
    clean = clean_annotation(vocal_presence="vocal", vocal_language="de")
    sidecar = sidecar_for(clean=clean, override="language: fr\n", settings=SidecarSettings(language="es"))
    assert (sidecar.language, sidecar.vocal_language) == ("fr", "fr")
    assert "language" in sidecar.source.overridden


def test_config_language_beats_the_annotation_when_no_override() -> None:
    clean = clean_annotation(vocal_presence="vocal", vocal_language="de")
    sidecar = sidecar_for(clean=clean, settings=SidecarSettings(language="es"))
    assert sidecar.language == "es" and "language" not in sidecar.source.overridden
    assert sidecar_for(clean=clean).language == "de"


def test_override_artist_beats_config_artist() -> None:
    settings = SidecarSettings(artist="Config Band", caption_prefix_artist=True)
    sidecar = sidecar_for(override="artist: Human Band\n", settings=settings)
    assert sidecar.artist == "Human Band" and sidecar.caption.startswith("Human Band, ")
    assert "artist" in sidecar.source.overridden
    plain = sidecar_for(settings=settings)
    assert plain.artist == "Config Band" and "artist" not in plain.source.overridden


def test_override_caption_beats_the_annotation_caption() -> None:
    sidecar = sidecar_for(override="caption: Solo harp, bright and sparse.\n")
    assert sidecar.caption == "Solo harp, bright and sparse."
    assert "caption" in sidecar.source.overridden


def test_nothing_is_marked_overridden_without_an_override() -> None:
    clean = clean_annotation(vocal_presence="vocal", vocal_language="en")
    sidecar = sidecar_for(clean=clean, lyrics=b"la la\n", settings=SidecarSettings(artist="X", language="en"))
    assert sidecar.source.overridden == []


def test_override_notes_travel_into_provenance() -> None:
    sidecar = sidecar_for(override="notes: counted by hand\n")
    assert sidecar.source.provenance["sidecar"].extra["override_notes"] == "counted by hand"


# ---- what the sidecar records about itself ------------------------------------------------------------


def test_omission_reasons_say_why_each_value_is_missing() -> None:
    vocal = sidecar_for(clean=clean_annotation(vocal_presence="vocal", vocal_language="en"))
    assert vocal.source.omitted == {"lyrics": "vocals heard but no lyrics found"}
    unknown = sidecar_for(clean=clean_annotation(vocal_presence="unknown"))
    assert unknown.source.omitted == {
        "lyrics": "no lyrics found",
        "language": "no lyrics to tell it from, and not stated by the annotation",
    }
    assert unknown.source.flags == []
    loud = sidecar_for(meta=song_metadata(bpm=1000.0, bpm_confidence=1.0))
    assert loud.source.omitted == {"bpm": "estimate 1000.0 outside 30-300"}


def test_lyrics_file_saying_instrumental_makes_the_vocal_language_unknown_and_writes_no_language() -> None:
    """ACE-Step's scan reads `language`, and "unknown" there marks the song vocal (issue 17, finding 4):
    an instrumental states `vocal_language: unknown` only."""
    sidecar = sidecar_for(clean=clean_annotation(vocal_presence="unknown"), lyrics=b"[Instrumental]\n")
    assert sidecar.lyrics == INSTRUMENTAL_LYRICS
    assert sidecar.language is None and sidecar.vocal_language == "unknown"


def test_source_carries_the_upstream_facts_unchanged() -> None:
    clean = clean_annotation(tags={"genre": ["jazz"], "mood": ["relaxed"]})
    meta = song_metadata(duration=95.12345, warnings=["song.ogg: clipped"])
    sidecar = sidecar_for(clean=clean, meta=meta, lyrics=b"caf\xe9\n", attribution="Song by X, CC BY 4.0")
    src = sidecar.source
    assert sidecar.duration == 95.123
    assert (src.audio_file, src.audio_sha256) == (meta.audio_file, meta.audio_sha256)
    assert (src.rich_details, src.sections, src.events, src.tags) == (
        clean.rich_details,
        clean.sections,
        clean.events,
        clean.tags,
    )
    assert src.confidences == {"bpm": 0.8, "keyscale": 0.6, "timesignature": 0.7}
    assert src.warnings == ["song.ogg: clipped", "data/lyrics/song.txt: not UTF-8, decoded as cp1252"]
    assert src.attribution == "Song by X, CC BY 4.0"
    assert list(src.provenance) == ["annotate", "clean", "estimate", "lyrics", "sidecar"]
    assert src.provenance["estimate"] == meta.provenance


def test_sidecar_provenance_names_its_key_settings_and_version() -> None:
    settings = SidecarSettings(min_bpm_confidence=0.4, caption_mode="events")
    prov = sidecar_for(settings=settings).source.provenance["sidecar"]
    assert (prov.stage, prov.backend, prov.cache_key, prov.input_sha256) == (
        "sidecar",
        "sidecar",
        "key",
        "key",
    )
    assert prov.settings == settings.model_dump()
    assert prov.extra == {"backend_version": SIDECAR_VERSION}
    assert set(prov.library_versions) == {"songset", "pydantic"}
    # data is byte-deterministic: timings live in reports/stages/, never in a sidecar (issue 22, item 6)
    assert prov.wall_time_s is None and prov.created_at is None


@pytest.mark.parametrize(("duration", "flagged"), [(240.0, False), (240.01, True)])
def test_over_240s_flag_starts_just_past_the_cut(duration: float, flagged: bool) -> None:
    meta = song_metadata(duration=duration)
    clean = clean_annotation(duration=duration)
    assert ("over_240s" in sidecar_for(clean=clean, meta=meta).source.flags) is flagged


# ---- override files and disagreement -----------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "\n", "# only a comment\n"])
def test_an_empty_override_file_decides_nothing(text: str) -> None:
    assert parse_override(text, "o.yaml") == Override()
    assert parse_override(None, "o.yaml") is None
    assert sidecar_for(override=text).source.overridden == []


def test_override_errors_name_the_file_and_the_problem() -> None:
    with pytest.raises(SongError, match=r"^o\.yaml: not valid YAML \("):
        parse_override("bpm: [90\n", "o.yaml")
    with pytest.raises(SongError, match=r"^o\.yaml: expected a mapping of fields, got list$"):
        parse_override("- 90\n", "o.yaml")
    with pytest.raises(SongError, match=r"^o\.yaml: bpm: .*; tempo: "):
        parse_override("bpm: fast\ntempo: 90\n", "o.yaml")


@pytest.mark.parametrize(
    ("bpm", "warning"),
    [
        (131, None),  # 7.7% off: within 8%
        (111, None),  # 8.7% under: see below
        (243, "override bpm 243 is double the estimated 121.6 (tempo octave; check which one is felt)"),
        (61, "override bpm 61 is half the estimated 121.6 (tempo octave; check which one is felt)"),
        (100, "override bpm 100 differs from the estimated 121.6 by 18% (more than 8%)"),
    ],
)
def test_bpm_disagreement_warnings_word_for_word(bpm: int, warning: str | None) -> None:
    warnings, _ = override_disagreements(Override(bpm=bpm), song_metadata(bpm=121.6))
    if bpm == 111:
        assert warnings == ["override bpm 111 differs from the estimated 121.6 by 9% (more than 8%)"]
    else:
        assert warnings == ([warning] if warning else [])


@pytest.mark.parametrize(("bpm", "disagrees"), [(93, False), (91, True), (107, False), (109, True)])
def test_bpm_disagreement_starts_past_8_percent(bpm: int, disagrees: bool) -> None:
    _, flags = override_disagreements(Override(bpm=bpm), song_metadata(bpm=100.0))
    assert (flags == ["override_bpm_disagrees"]) is disagrees


def test_octave_band_is_8_percent_around_double_and_half() -> None:
    meta = song_metadata(bpm=100.0)
    assert override_disagreements(Override(bpm=215), meta)[1] == ["override_bpm_octave"]
    assert override_disagreements(Override(bpm=218), meta)[1] == ["override_bpm_disagrees"]
    assert override_disagreements(Override(bpm=185), meta)[1] == ["override_bpm_octave"]
    assert override_disagreements(Override(bpm=183), meta)[1] == ["override_bpm_disagrees"]
    assert override_disagreements(Override(bpm=47), meta)[1] == ["override_bpm_octave"]
    assert override_disagreements(Override(bpm=45), meta)[1] == ["override_bpm_disagrees"]


def test_no_disagreement_without_an_estimate() -> None:
    meta = song_metadata(bpm=None, keyscale=None)
    assert override_disagreements(Override(bpm=90, keyscale="C major"), meta) == ([], [])


@pytest.mark.parametrize(
    ("human", "estimate", "disagrees"),
    [("B# major", "C major", False), ("Cb major", "B major", False), ("E# minor", "F minor", False),
     ("Fb major", "E major", False), ("C major", "C minor", True), ("D major", "C major", True)],
)  # fmt: skip
def test_key_identity_counts_enharmonic_spellings_equal(human: str, estimate: str, disagrees: bool) -> None:
    meta = song_metadata(keyscale=estimate, key_runner_up=None)
    warnings, flags = override_disagreements(Override(keyscale=human), meta)
    assert (flags == ["override_key_disagrees"]) is disagrees
    if disagrees:
        assert warnings == [f"override keyscale {human} matches neither the estimate {estimate}"]


def test_a_broken_override_fails_the_song_naming_its_file() -> None:
    with pytest.raises(SongError, match=r"^data/overrides/song\.yaml: bpm: "):
        sidecar_for(override="bpm: fast\n")
    bare = {
        "clean": clean_annotation().model_dump(mode="json"),
        "metadata": song_metadata().model_dump(mode="json"),
    }
    job = SongJob(id="song", file=Path("song.json"), key="key", inputs={**bare, "override": "bpm: fast\n"})
    with pytest.raises(SongError, match=r"^override: bpm: "):
        build_sidecar(job, SidecarSettings())
    # the lyrics stage ran before the override broke: the sidecar stage itself names the file
    named = {**bare, "override": "bpm: fast\n", "override_file": "data/overrides/song.yaml"}
    with pytest.raises(SongError, match=r"^data/overrides/song\.yaml: bpm: "):
        build_sidecar(SongJob(id="song", file=Path("song.json"), key="key", inputs=named), SidecarSettings())
    lyrics = song_lyrics_for(lyrics=b"caf\xe9", lyrics_file="lyrics")
    job = SongJob(id="song", file=Path("song.json"), key="key", inputs={**bare, "song_lyrics": lyrics})
    assert build_sidecar(job, SidecarSettings()).source.warnings == ["lyrics: not UTF-8, decoded as cp1252"]


# ---- what each field's source and omission say (sidecars --only build_sidecar _lyrics_and_language) ------


def test_without_lyrics_stage_output_the_config_language_is_recorded_as_config() -> None:
    sidecar = sidecar_for(song_lyrics=None, settings=SidecarSettings(language="es"))
    assert sidecar.vocal_language == "es" and sidecar.lyrics is None
    assert sidecar.source.sources["vocal_language"] == "config"
    assert sidecar.source.omitted == {"lyrics": "no lyrics stage output for this song"}
    bare = sidecar_for(song_lyrics=None)
    assert bare.vocal_language is None and "vocal_language" not in bare.source.sources
    assert bare.source.omitted == {
        "lyrics": "no lyrics stage output for this song",
        "language": "no lyrics stage output for this song",
    }
    assert bare.source.flags == ["no_lyrics_stage_output"] and bare.source.vocal_presence is None


def test_config_language_over_a_sung_song_is_recorded_as_config_and_clears_the_omission() -> None:
    clean = clean_annotation(vocal_presence="vocal", vocal_language="de")
    sidecar = sidecar_for(clean=clean, settings=SidecarSettings(language="es"))
    assert sidecar.source.sources["vocal_language"] == "config"
    assert sidecar.source.vocal_presence == "vocal"
    # the lyrics stage could not tell the language; the setting states it, so nothing is omitted for it
    unknown = sidecar_for(
        clean=clean_annotation(vocal_presence="unknown"), settings=SidecarSettings(language="es")
    )
    assert unknown.vocal_language == "es" and unknown.source.sources["vocal_language"] == "config"
    assert unknown.source.omitted == {"lyrics": "no lyrics found"}


def test_config_language_never_turns_an_instrumental_sung() -> None:
    sidecar = sidecar_for(lyrics=b"[Instrumental]\n", settings=SidecarSettings(language="es"))
    assert (sidecar.language, sidecar.vocal_language) == (None, "unknown")
    assert sidecar.source.sources["vocal_language"] != "config"


def test_an_empty_setting_is_no_value_and_names_no_source() -> None:
    sidecar = sidecar_for(settings=SidecarSettings(artist=""))
    assert sidecar.artist is None and "artist" not in sidecar.source.sources


def test_a_declared_value_warns_as_declared_only_and_an_override_as_override_only() -> None:
    declared = {"bpm": {"value": 100, "tag": "TBPM"}, "keyscale": {"value": "C major", "tag": "TKEY"}}
    meta = song_metadata(bpm=121.6, keyscale="F# minor", key_runner_up=None, warnings=["song.ogg: clipped"])
    sidecar = sidecar_for(declared=declared, meta=meta)
    assert (
        sidecar.source.sources["bpm"] == "declared:TBPM"
        and sidecar.source.sources["keyscale"] == "declared:TKEY"
    )
    assert sidecar.source.warnings[0] == "song.ogg: clipped"
    assert all(not w.startswith("override") for w in sidecar.source.warnings)
    assert any(w.startswith("declared bpm 100") for w in sidecar.source.warnings)
    assert any(w.startswith("declared key") for w in sidecar.source.warnings)


@pytest.mark.parametrize("given", ["bpm: 100\n", "keyscale: C major\n"])
def test_one_overridden_value_is_enough_to_check_it_and_earlier_warnings_and_flags_stay(given: str) -> None:
    clean = clean_annotation(flags=["untimed_structure"])
    meta = song_metadata(bpm=121.6, keyscale="F# minor", key_runner_up=None, warnings=["song.ogg: clipped"])
    sidecar = sidecar_for(clean=clean, meta=meta, override=given)
    warnings, flags = sidecar.source.warnings, sidecar.source.flags
    assert warnings[0] == "song.ogg: clipped" and len(warnings) == 2 and warnings[1].startswith("override")
    assert flags[0] == "untimed_structure" and len(flags) == 2 and flags[1].startswith("override_")


@pytest.mark.parametrize(
    ("word", "words", "flagged"),
    [("la", 508, False), ("la", 509, True), ("Zyxqvwpt", 200, False)],
)  # fmt: skip
def test_lyrics_over_the_limit_are_counted_with_the_configured_tokenizer(
    word_tokenizer: str, word: str, words: int, flagged: bool
) -> None:
    """`[`, `Verse`, `]`, each word and the appended end token: 508 words take exactly the 512 positions.
    Qwen3's BPE would count 200 made-up words as over 512; the configured tokenizer counts 204."""
    clean = clean_annotation(vocal_presence="vocal", vocal_language="en")
    lyrics = ("[Verse]\n" + " ".join([word] * words) + "\n").encode()
    settings = SidecarSettings(caption_tokenizer=word_tokenizer)
    sidecar = sidecar_for(clean=clean, lyrics=lyrics, settings=settings)
    assert ("lyrics_over_acestep_limit" in sidecar.source.flags) is flagged


@pytest.mark.parametrize(
    "meta",
    [
        {"bpm": 121.6, "keyscale": "C major", "timesignature": "4"},  # `N/A` is 3 words: a wrong meta shows
        {"bpm": None, "keyscale": None, "timesignature": None, "duration": 95.0},
    ],
)
def test_the_caption_fills_the_room_its_own_metas_leave(word_tokenizer: str, meta: dict[str, Any]) -> None:
    from songset.acestep import Metas, prompt_tokens

    words = " ".join(["w"] * 300)
    settings = SidecarSettings(caption_tokenizer=word_tokenizer, caption_token_budget=256)
    sidecar = sidecar_for(
        clean=clean_annotation(caption=words), meta=song_metadata(**meta), settings=settings
    )
    metas = Metas.of(sidecar)
    assert prompt_tokens(sidecar.caption, metas, word_tokenizer) == 256


@pytest.mark.parametrize("duration", [99.5, 99.9996, 95.0])  # qwen3 counts each digit: 99 vs 100 shows
def test_the_caption_room_counts_the_duration_as_written(duration: float) -> None:
    from songset.acestep import Metas, prompt_tokens

    words = " ".join(["w"] * 300)
    settings = SidecarSettings(caption_token_budget=256)
    sidecar = sidecar_for(
        clean=clean_annotation(caption=words), meta=song_metadata(duration=duration), settings=settings
    )
    metas = Metas.of(sidecar)
    assert prompt_tokens(sidecar.caption, metas) <= 256 < prompt_tokens(sidecar.caption + " w", metas)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"sources": ("override", "guess")},
            "sidecar field bpm: source 'guess' is not one build_sidecar reads",
        ),
        ({"estimate": None}, "sidecar field bpm: an estimate source names no SongMetadata field"),
    ],
)
def test_a_table_row_build_sidecar_cannot_read_fails_naming_the_field(
    monkeypatch: pytest.MonkeyPatch, change: dict[str, Any], message: str
) -> None:
    """A row edited past the table's own checks (`model_copy` does not validate) stops the build by name."""
    from songset.sidecar_fields import SIDECAR_FIELDS

    monkeypatch.setitem(SIDECAR_FIELDS, "bpm", SIDECAR_FIELDS["bpm"].model_copy(update=change))
    with pytest.raises(ValueError) as error:
        sidecar_for()
    assert str(error.value) == message


def test_a_source_without_its_value_is_not_recorded_as_that_values_source() -> None:
    """A lyrics record naming a source for lyrics or a language it does not hold (hand-edited, or from an
    older lyrics stage) gives the sidecar no source for them: `sources` lists only values written."""
    clean = clean_annotation(vocal_presence="vocal", vocal_language="de")
    record = song_lyrics_for(clean, lyrics=b"la la\n")
    assert (record["lyrics_source"], record["language_source"]) == ("lyrics_file", "annotation")
    record.update(lyrics=None, language=None)
    sidecar = sidecar_for(clean=clean, song_lyrics=record)
    assert (sidecar.lyrics, sidecar.vocal_language) == (None, None)
    assert "lyrics" not in sidecar.source.sources and "vocal_language" not in sidecar.source.sources
