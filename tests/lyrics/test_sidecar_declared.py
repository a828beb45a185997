"""Sidecars from the lyrics stage: declared tag values beat estimates, lose to overrides, are warned about
when they disagree with the estimate, and every field records its source."""

from __future__ import annotations

from typing import Any

from conftest import clean_annotation, song_metadata
from test_sidecar_rules import sidecar_for

from songset.sidecar_fields import CONFIDENCE_THRESHOLDS, SIDECAR_FIELDS
from songset.sidecars import SidecarSettings

DECLARED: dict[str, Any] = {
    "bpm": {"value": 120.0, "tag": "TBPM"},
    "keyscale": {"value": "F# minor", "tag": "TKEY"},
    "artist": {"value": "Tag Artist", "tag": "TPE1"},
}


def test_a_declared_fractional_bpm_is_written_in_whole_beats() -> None:
    """ACE-Step reads whole beats per minute: a tag's 120.6 is written 121, as an estimate's would be."""
    sidecar = sidecar_for(declared={"bpm": {"value": 120.6, "tag": "TBPM"}})
    assert (sidecar.bpm, sidecar.source.sources["bpm"]) == (121, "declared:TBPM")


def test_declared_values_beat_estimates_and_name_their_tag() -> None:
    sidecar = sidecar_for(meta=song_metadata(bpm=121.6, bpm_confidence=0.1), declared=DECLARED)
    assert (sidecar.bpm, sidecar.keyscale, sidecar.artist) == (120, "F# minor", "Tag Artist")
    assert sidecar.source.sources["bpm"] == "declared:TBPM"  # kept though the estimate was unsure
    assert sidecar.source.sources["keyscale"] == "declared:TKEY"
    assert sidecar.source.sources["timesignature"] == "estimate"
    assert sidecar.source.sources["caption"] == "annotation"
    assert "bpm" not in sidecar.source.omitted and sidecar.source.overridden == []


def test_overrides_and_config_beat_declared_values() -> None:
    sidecar = sidecar_for(
        override="bpm: 90\nkeyscale: A minor\n",
        declared=DECLARED,
        settings=SidecarSettings(artist="Config Band"),
    )
    assert (sidecar.bpm, sidecar.keyscale, sidecar.artist) == (90, "A minor", "Config Band")
    assert sidecar.source.sources == {
        **sidecar.source.sources,
        "bpm": "override",
        "keyscale": "override",
        "artist": "config",
    }


def test_override_artist_beats_the_declared_artist_without_a_config_artist() -> None:
    sidecar = sidecar_for(override="artist: Human Band\n", declared=DECLARED)
    assert (sidecar.artist, sidecar.source.sources["artist"]) == ("Human Band", "override")
    assert "artist" in sidecar.source.overridden
    tagged = sidecar_for(declared=DECLARED)
    assert (tagged.artist, tagged.source.sources["artist"]) == ("Tag Artist", "declared:TPE1")


def test_declared_values_disagreeing_with_the_estimate_are_warned_and_flagged() -> None:
    meta = song_metadata(bpm=121.6, keyscale="F# minor", key_runner_up="A major")
    declared = {"bpm": {"value": 61.0, "tag": "BPM"}, "keyscale": {"value": "C major", "tag": "INITIALKEY"}}
    sidecar = sidecar_for(meta=meta, declared=declared)
    assert (sidecar.bpm, sidecar.keyscale) == (61, "C major")  # still written: the file's word wins
    assert {"declared_bpm_octave", "declared_key_disagrees"} <= set(sidecar.source.flags)
    assert (
        "declared bpm 61 is half the estimated 121.6 (tempo octave; check which one is felt)"
        in sidecar.source.warnings
    )
    agreeing = sidecar_for(meta=meta, declared={"keyscale": {"value": "Gb minor", "tag": "TKEY"}})
    assert not [f for f in agreeing.source.flags if f.startswith("declared_")]  # enharmonic: same key


def test_sung_song_without_lyrics_stays_without_and_is_counted() -> None:
    """The demo's Karissa Hobbs case with transcriber=none: vocal, no lyrics anywhere."""
    sidecar = sidecar_for(clean=clean_annotation(vocal_presence="vocal", vocal_language="en"))
    assert sidecar.lyrics is None and "vocals_without_lyrics" in sidecar.source.flags
    assert sidecar.source.sources["vocal_presence"] == "annotation"
    assert (sidecar.vocal_language, sidecar.source.sources["vocal_language"]) == ("en", "annotation")


def test_lrc_lyrics_reach_the_sidecar_with_their_source() -> None:
    lrc = b"[00:13.00]Down by the river where the fishing boats wait\n[01:02.00]We go fishing in the morning light\n"
    sidecar = sidecar_for(clean=clean_annotation(vocal_presence="vocal"), lyrics=lrc, lyrics_file="song.lrc")
    # the default annotation's sections: intro 0-12, "part a" 12-60 (no ACE-Step tag), outro 60-95
    assert (
        sidecar.lyrics
        == "Down by the river where the fishing boats wait\n\n[Outro]\nWe go fishing in the morning light"
    )
    assert (sidecar.source.sources["lyrics"], sidecar.source.sources["vocal_language"]) == (
        "lrc",
        "lyrics_text",
    )
    assert sidecar.vocal_language == "en"


def test_no_lyrics_stage_output_is_omitted_and_flagged() -> None:
    sidecar = sidecar_for(song_lyrics=None)
    assert sidecar.lyrics is None and "no_lyrics_stage_output" in sidecar.source.flags
    assert sidecar.source.omitted["lyrics"] == "no lyrics stage output for this song"


def test_field_table_names_real_settings_and_metadata_fields() -> None:
    settings = set(SidecarSettings.model_fields)
    for spec in SIDECAR_FIELDS.values():
        assert {spec.threshold, spec.config} - {None} <= settings, spec.name
    assert CONFIDENCE_THRESHOLDS == {
        "bpm": "min_bpm_confidence",
        "keyscale": "min_key_confidence",
        "timesignature": "min_timesignature_confidence",
    }
