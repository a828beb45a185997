"""resolve_lyrics: source precedence, vocal presence, the transcription guard and declared values."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mutagen
import pytest
from audio_files import write_audio
from fixed_transcriber import FixedTranscriber, calls

from songset.lyrics.resolve import LIBRARIES, LYRICS_VERSION, LyricsSettings, resolve_lyrics
from songset.provenance import library_versions
from songset.runner import SongJob
from songset.transcribers.base import NoTranscriber

SUNG = "Down by the river where the fishing boats are waiting for the morning light"
SECTIONS = [
    {"start": 0, "end": 5, "label": "intro"},
    {"start": 5, "end": 20, "label": "verse"},
    {"start": 20, "end": 40, "label": "chorus"},
]


def _segment(start: float, text: str, **signals: float) -> dict[str, Any]:
    base = {"avg_logprob": -0.2, "no_speech_prob": 0.05, "compression_ratio": 1.3}
    return {"start": start, "end": start + 4, "text": text, **base, **signals}


ANSWER = {
    "text": f"{SUNG} and we sing along",
    "language": "en",
    "language_probability": 0.97,
    "segments": [_segment(6, SUNG), _segment(22, "and we sing along the river every day")],
}


@pytest.fixture
def audio(tmp_path: Path) -> Path:
    return write_audio(tmp_path / "song.flac")


def _tag(path: Path, **tags: str) -> None:
    f = mutagen.File(path)
    for name, value in tags.items():
        f[name] = value
    f.save()


def _job(
    audio: Path,
    *,
    override: str | None = None,
    lyrics: bytes | None = None,
    lyrics_file: str = "song.txt",
    clean: dict[str, Any] | None = None,
    memo: dict[str, Any] | None = None,
) -> SongJob:
    inputs = {
        "audio_sha256": "a" * 64,
        "override": override,
        "override_file": "overrides/song.yaml",
        "lyrics": lyrics,
        "lyrics_file": lyrics_file,
        "clean": clean,
        "transcription": memo,
    }
    return SongJob(id="song", file=audio, key="k", inputs=inputs)


def _transcriber(tmp_path: Path, answer: dict[str, Any] = ANSWER) -> FixedTranscriber:
    return FixedTranscriber(answer=answer, calls_file=str(tmp_path / "calls.txt"))


def test_sources_in_order_first_answer_wins(audio: Path, tmp_path: Path) -> None:
    _tag(audio, LYRICS="Embedded words of a song that is sung in English by someone")
    t = _transcriber(tmp_path)
    settings = LyricsSettings()
    lrc = f"[00:06.00]{SUNG}\n[00:21.00]Chorus words here we go".encode()
    cases = [
        (
            _job(audio, override="lyrics: Human words\nlanguage: de\n", lyrics=b"file words"),
            "override",
            "Human words",
        ),
        (
            _job(audio, lyrics=lrc, lyrics_file="song.lrc"),
            "lrc",
            f"[Verse]\n{SUNG}\n\n[Chorus]\nChorus words here we go",
        ),
        (_job(audio, lyrics=b"Plain file words\r\n\r\n\r\nmore"), "lyrics_file", "Plain file words\n\nmore"),
        (_job(audio), "embedded:LYRICS", "Embedded words of a song that is sung in English by someone"),
    ]
    for job, source, text in cases:
        job.inputs["clean"] = {"sections": SECTIONS, "vocal_presence": "vocal"}
        result = resolve_lyrics(job, t, settings)
        assert (result.lyrics_source, result.lyrics) == (source, text)
        assert (result.vocal_presence, result.vocal_source) == ("vocal", source)
    assert calls(tmp_path / "calls.txt") == []  # never transcribed while another source answers


def test_override_language_wins_and_lrc_keeps_timestamps(audio: Path, tmp_path: Path) -> None:
    result = resolve_lyrics(
        _job(audio, override="language: fi\n", lyrics=f"[00:06.50]{SUNG}".encode(), lyrics_file="s.lrc"),
        NoTranscriber(),
        LyricsSettings(),
    )
    assert (result.language, result.language_source, result.language_confidence) == ("fi", "override", 1.0)
    assert [(line.start, line.text) for line in result.timed_lines] == [(6.5, SUNG)]


def test_transcription_is_the_last_source(audio: Path, tmp_path: Path) -> None:
    t = _transcriber(tmp_path)
    result = resolve_lyrics(
        _job(audio, clean={"sections": SECTIONS, "vocal_presence": "unknown"}), t, LyricsSettings()
    )
    assert result.lyrics_source == "transcription"
    assert result.lyrics == f"[Verse]\n{SUNG}\n\n[Chorus]\nand we sing along the river every day"
    assert (result.vocal_presence, result.vocal_source, result.vocal_confidence) == (
        "vocal",
        "transcription",
        0.95,
    )
    assert (result.language, result.language_source) == ("en", "lyrics_text+transcriber")
    assert result.language_confidence >= 0.97
    assert [(line.start, line.end, line.text) for line in result.timed_lines] == [
        (6, 10, SUNG),
        (22, 26, "and we sing along the river every day"),
    ]
    assert result.provenance["transcription"].backend == "fixed"
    assert calls(tmp_path / "calls.txt") == ["song.flac"]
    again = resolve_lyrics(_job(audio, memo=result.transcription), t, LyricsSettings())  # memoised answer
    assert again.lyrics_source == "transcription" and calls(tmp_path / "calls.txt") == ["song.flac"]


def test_instrumental_never_gets_transcribed_lyrics(audio: Path, tmp_path: Path) -> None:
    t = _transcriber(tmp_path)
    result = resolve_lyrics(_job(audio, clean={"vocal_presence": "instrumental"}), t, LyricsSettings())
    assert (result.lyrics, result.lyrics_source, result.vocal_presence) == (
        "[Instrumental]",
        "annotation",
        "instrumental",
    )
    assert (result.language, result.language_source, result.language_confidence) == (
        "unknown",
        "instrumental",
        1.0,
    )
    assert calls(tmp_path / "calls.txt") == []


def test_guard_drops_invented_segments_and_flags_the_song(audio: Path, tmp_path: Path) -> None:
    answer = {
        **ANSWER,
        "segments": [
            _segment(6, SUNG),
            _segment(10, SUNG),
            _segment(30, "Thank you for watching", no_speech_prob=0.9),
        ],
    }
    result = resolve_lyrics(_job(audio), _transcriber(tmp_path, answer), LyricsSettings())
    assert "Thank you" not in (result.lyrics or "")
    assert [d.text for d in result.dropped_segments] == ["Thank you for watching"]
    # the shared guard (transcribers/guard.py) names why: a known hallucination phrase. One dropped line
    # of three is not a song of invented lyrics (`guard.suspect_share`): the sung lines stay
    assert result.dropped_segments[0].reason == "hallucination_phrase"
    assert "invented_lyrics_suspected" not in result.flags and SUNG in (result.lyrics or "")


def test_low_confidence_transcription_is_left_out_and_counted(audio: Path, tmp_path: Path) -> None:
    answer = {
        **ANSWER,
        "segments": [
            _segment(6, SUNG),
            _segment(10, "la la la la la la la la la la", compression_ratio=3.1),
            _segment(14, "mumbled words", avg_logprob=-1.6, no_speech_prob=0.7),  # Whisper's AND rule
        ],
    }
    result = resolve_lyrics(
        _job(audio, clean={"vocal_presence": "vocal"}), _transcriber(tmp_path, answer), LyricsSettings()
    )
    assert result.lyrics is None
    assert "1 of 3 segments kept" in result.omitted["lyrics"]
    # 12 of 26 words dropped: under `guard.suspect_share` (half), so not called invented, but too little
    # survives `min_kept_share` to be trusted: left out and counted
    assert {"low_confidence_lyrics", "vocals_without_lyrics"} <= set(result.flags)
    assert "invented_lyrics_suspected" not in result.flags
    # no lyrics text to read: the transcriber's language stands on its own probability
    assert (result.language, result.language_source, result.language_confidence) == (
        "en",
        "transcriber",
        0.97,
    )


def test_transcriber_hearing_no_speech_judges_instrumental(audio: Path, tmp_path: Path) -> None:
    answer = {
        "text": "Thank you.",
        "segments": [_segment(0, "Thank you.", no_speech_prob=0.92, avg_logprob=-1.3)],
    }
    result = resolve_lyrics(_job(audio), _transcriber(tmp_path, answer), LyricsSettings())
    assert (result.vocal_presence, result.vocal_source, result.lyrics) == (
        "instrumental",
        "transcription",
        "[Instrumental]",
    )
    assert result.vocal_confidence == 0.92  # 1 - the mean no-speech probability of what was said


def test_sung_song_without_lyrics_stays_without_and_is_counted(audio: Path) -> None:
    result = resolve_lyrics(
        _job(audio, clean={"vocal_presence": "vocal", "vocal_language": "en"}),
        NoTranscriber(),
        LyricsSettings(),
    )
    assert result.lyrics is None and "vocals_without_lyrics" in result.flags
    assert result.omitted["lyrics"] == "vocals heard but no lyrics found"
    assert (result.language, result.language_source, result.language_confidence) == ("en", "annotation", 0.6)
    at_the_threshold = resolve_lyrics(
        _job(audio, clean={"vocal_presence": "vocal", "vocal_language": "en"}),
        NoTranscriber(),
        LyricsSettings(min_language_confidence=0.6),
    )
    assert (at_the_threshold.language, at_the_threshold.language_source) == ("en", "annotation")


def test_declared_values_and_bad_file_warnings(audio: Path) -> None:
    _tag(audio, BPM="124", INITIALKEY="Am/C", ARTIST="Band")
    result = resolve_lyrics(
        _job(audio, lyrics=b"\x00\x01\x81\x8d", lyrics_file="x.txt"), NoTranscriber(), LyricsSettings()
    )
    assert {k: (v.value, v.tag) for k, v in result.declared.items()} == {
        "bpm": (124.0, "BPM"),
        "artist": ("Band", "ARTIST"),
    }
    assert any("INITIALKEY" in w and "Am/C" in w for w in result.warnings)
    assert any(w.startswith("x.txt:") for w in result.warnings)


def test_broken_lrc_falls_through_to_the_next_source(audio: Path) -> None:
    _tag(audio, UNSYNCEDLYRICS="Embedded words here")
    result = resolve_lyrics(
        _job(audio, lyrics=b"no stamps at all", lyrics_file="s.lrc"), NoTranscriber(), LyricsSettings()
    )
    assert result.lyrics_source == "embedded:UNSYNCEDLYRICS"
    assert any(w.startswith("s.lrc: no line has an LRC time stamp") for w in result.warnings)


def _decide(audio: Path, declared: dict[str, Any], transcriber: Any = None, **job: Any) -> Any:
    from songset.lyrics.resolve import decide_lyrics
    from songset.lyrics.tags import DeclaredTags

    tags = DeclaredTags.model_validate(declared)
    return decide_lyrics(_job(audio, **job), tags, transcriber or NoTranscriber(), LyricsSettings())


def test_embedded_synced_lyrics_get_section_tags_and_keep_their_times(audio: Path) -> None:
    """SYLT: timed like an LRC, so ACE-Step's tags come from the annotation's sections; before transcription."""
    lines = [{"start": 6.0, "text": SUNG}, {"start": 22.0, "text": "Chorus words here we go"}]
    result = _decide(
        audio,
        {"timed_lines": lines, "lyrics": {"value": "unsynced words", "tag": "USLT"}},
        clean={"sections": SECTIONS},
    )
    assert (result.lyrics_source, result.lyrics) == (
        "embedded:SYLT",
        f"[Verse]\n{SUNG}\n\n[Chorus]\nChorus words here we go",
    )
    assert [(line.start, line.text) for line in result.timed_lines] == [
        (6.0, SUNG),
        (22.0, "Chorus words here we go"),
    ]


def test_blank_embedded_lyrics_are_no_answer_and_transcription_still_runs(
    audio: Path, tmp_path: Path
) -> None:
    t = _transcriber(tmp_path)
    result = _decide(
        audio,
        {"lyrics": {"value": "  \n ", "tag": "LYRICS"}},
        t,
        clean={"sections": SECTIONS, "vocal_presence": "vocal"},
    )
    assert result.lyrics_source == "transcription" and calls(tmp_path / "calls.txt") == ["song.flac"]


def test_warnings_from_the_tags_the_file_and_its_lines_all_reach_the_song(audio: Path) -> None:
    lrc = "[00:06.00]Caf\xe9 by the river where the fishing boats wait\nnot a stamped line\n".encode("cp1252")
    result = _decide(
        audio,
        {"warnings": ["song.flac: TKEY 'Am/C' is not a key; ignored"]},
        lyrics=lrc,
        lyrics_file="song.lrc",
    )
    assert result.warnings[0] == "song.flac: TKEY 'Am/C' is not a key; ignored"
    assert any("cp1252" in w for w in result.warnings) and len(result.warnings) >= 3, result.warnings


def test_a_server_answering_text_only_is_guarded_line_by_line_and_its_kept_words_are_the_lyrics(
    audio: Path, tmp_path: Path
) -> None:
    """An OpenAI-compatible server may answer text with no segments: no times, no signals. A boilerplate line
    Whisper writes over music is dropped from the lyrics, not only listed; the rest is sung, untimed."""
    answer = {
        "text": f"  {SUNG}\nThank you for watching\nand we sing along the river every day  ",
        "language": "en",
        "language_probability": 0.97,
    }
    clean = {"sections": SECTIONS, "vocal_presence": "unknown"}
    result = resolve_lyrics(_job(audio, clean=clean), _transcriber(tmp_path, answer), LyricsSettings())
    assert (result.lyrics_source, result.lyrics, result.timed_lines) == (
        "transcription",
        f"{SUNG}\nand we sing along the river every day",
        [],
    )
    assert [d.text for d in result.dropped_segments] == ["Thank you for watching"]
    # no no-speech signal to weigh: sung, at exactly the confidence a vocal judgement needs
    assert (result.vocal_presence, result.vocal_source) == ("vocal", "transcription")
    assert result.vocal_confidence == LyricsSettings().min_vocal_confidence
    nothing_kept = {"text": "Thank you for watching\nPlease subscribe", "language": "en"}
    result = resolve_lyrics(_job(audio, clean=clean), _transcriber(tmp_path, nothing_kept), LyricsSettings())
    assert result.lyrics is None and result.lyrics_source is None


def test_a_transcription_mostly_dropped_is_flagged_as_invented_with_every_reason_named(
    audio: Path, tmp_path: Path
) -> None:
    boilerplate = "Thank you for watching please subscribe to my channel and see you in the next video"
    answer = {
        **ANSWER,
        "segments": [_segment(6, SUNG), _segment(22, boilerplate, no_speech_prob=0.9, avg_logprob=-1.5)],
    }
    result = resolve_lyrics(_job(audio), _transcriber(tmp_path, answer), LyricsSettings())
    assert "invented_lyrics_suspected" in result.flags  # 17 of 32 words dropped: over `guard.suspect_share`
    # one segment of two kept is exactly `min_kept_share` (half): the kept words are still trusted
    assert (result.lyrics_source, result.lyrics) == ("transcription", SUNG)
    assert [(d.text, d.reason) for d in result.dropped_segments] == [
        (boilerplate, "no_speech; hallucination_phrase")
    ]


def test_vocal_confidence_is_one_minus_the_mean_no_speech_probability_to_three_places(
    audio: Path, tmp_path: Path
) -> None:
    answer = {**ANSWER, "segments": [_segment(6, SUNG, no_speech_prob=0.1234)]}
    result = resolve_lyrics(_job(audio), _transcriber(tmp_path, answer), LyricsSettings())
    assert (result.vocal_presence, result.vocal_confidence) == ("vocal", 0.877)


# ---- vocal presence: which source decides it, at what confidence, and where it is left unknown ----------
# README "Lyrics": a song is called vocal or instrumental only at `min_vocal_confidence` or over; the annotation
# is trusted at `annotation_vocal_confidence`, a transcription at 1 - its mean no-speech probability.


def _presence(result: Any) -> tuple[str, float, str | None]:
    return result.vocal_presence, result.vocal_confidence, result.vocal_source


def test_no_source_leaves_the_presence_unknown_at_zero_with_nothing_omitted(audio: Path) -> None:
    for clean in (None, {"vocal_presence": "unknown"}):
        result = resolve_lyrics(_job(audio, clean=clean), NoTranscriber(), LyricsSettings())
        assert _presence(result) == ("unknown", 0.0, None)
        assert "vocal_presence" not in result.omitted and result.omitted["lyrics"] == "no lyrics found"


def test_an_instrumental_judged_exactly_at_the_threshold_is_kept_and_never_transcribed(
    audio: Path, tmp_path: Path
) -> None:
    settings = LyricsSettings(annotation_vocal_confidence=0.6, min_vocal_confidence=0.6)
    t = _transcriber(tmp_path)
    result = resolve_lyrics(_job(audio, clean={"vocal_presence": "instrumental"}), t, settings)
    assert _presence(result) == ("instrumental", 0.6, "annotation") and "vocal_presence" not in result.omitted
    assert calls(tmp_path / "calls.txt") == []


def test_a_transcription_as_sure_as_the_annotation_leaves_the_annotation_as_the_source(
    audio: Path, tmp_path: Path
) -> None:
    """Only a surer transcription takes over a vocal judgement; an equally sure one leaves it."""
    answer = {**ANSWER, "segments": [_segment(6, SUNG, no_speech_prob=0.2)]}  # speech 0.8
    clean = {"vocal_presence": "vocal"}
    same = resolve_lyrics(
        _job(audio, clean=clean),
        _transcriber(tmp_path, answer),
        LyricsSettings(annotation_vocal_confidence=0.8),
    )
    assert _presence(same) == ("vocal", 0.8, "annotation") and same.lyrics_source == "transcription"
    surer = resolve_lyrics(
        _job(audio, clean=clean),
        _transcriber(tmp_path, answer),
        LyricsSettings(annotation_vocal_confidence=0.7),
    )
    assert _presence(surer) == ("vocal", 0.8, "transcription")


def test_an_unsure_instrumental_overruled_by_an_unsure_transcription_is_left_unknown_saying_why(
    audio: Path, tmp_path: Path
) -> None:
    """The annotation calls it instrumental at 0.4 (under 0.5: transcribed anyway); the transcriber hears words
    at 0.3. Words were heard, so the song is no longer called instrumental; too unsure to call vocal either."""
    answer = {**ANSWER, "segments": [_segment(6, SUNG, no_speech_prob=0.7)]}
    settings = LyricsSettings(annotation_vocal_confidence=0.4)
    result = resolve_lyrics(
        _job(audio, clean={"vocal_presence": "instrumental"}), _transcriber(tmp_path, answer), settings
    )
    assert _presence(result) == ("unknown", 0.3, "transcription")
    assert result.omitted["vocal_presence"] == "vocal at confidence 0.30 below 0.50"
    assert result.lyrics_source == "transcription"


def test_a_sung_song_whose_transcription_is_all_dropped_stays_vocal(audio: Path, tmp_path: Path) -> None:
    """Nothing kept is not silence when the segments sounded like speech: the annotation's call stands."""
    answer = {**ANSWER, "segments": [_segment(6, "Thank you for watching"), _segment(12, "Please subscribe")]}
    result = resolve_lyrics(
        _job(audio, clean={"vocal_presence": "vocal"}), _transcriber(tmp_path, answer), LyricsSettings()
    )
    assert _presence(result) == ("vocal", 0.6, "annotation") and result.lyrics is None
    assert "vocals_without_lyrics" in result.flags


def test_lyrics_provenance_names_the_audio_settings_libraries_version_and_the_transcriber(
    audio: Path, tmp_path: Path
) -> None:
    from fixed_transcriber import HeldModelTranscriber

    settings = LyricsSettings(min_kept_share=0.4)
    answer = {**ANSWER, "extra_provenance": {"server_model": "whisper-large-v3"}}
    t = HeldModelTranscriber(answer=answer, calls_file=str(tmp_path / "calls.txt"))
    result = resolve_lyrics(_job(audio), t, settings)
    lyrics, heard = result.provenance["lyrics"], result.provenance["transcription"]
    assert (lyrics.stage, lyrics.backend, lyrics.cache_key, lyrics.input_sha256) == (
        "lyrics",
        "lyrics",
        "k",
        "a" * 64,
    )
    assert lyrics.settings == settings.output_settings()
    assert lyrics.library_versions == library_versions(LIBRARIES) and "mutagen" in lyrics.library_versions
    assert lyrics.extra == {"backend_version": LYRICS_VERSION}
    assert (heard.stage, heard.backend, heard.cache_key, heard.input_sha256) == (
        "transcription",
        "held",
        "k",
        "a" * 64,
    )
    assert (heard.model_id, heard.model_revision) == ("local/whisper-test", "0" * 40)
    assert heard.settings == t.identity().settings
    assert heard.library_versions == library_versions(("songset", "numpy"))
    assert heard.extra == {"backend_version": "1", "server_model": "whisper-large-v3"}


def test_an_empty_lyrics_file_is_no_omission_once_a_later_source_answers(audio: Path) -> None:
    _tag(audio, LYRICS="Embedded words of a song that is sung in English by someone")
    result = resolve_lyrics(_job(audio, lyrics=b"\n \n"), NoTranscriber(), LyricsSettings())
    assert result.lyrics_source == "embedded:LYRICS" and "lyrics" not in result.omitted
    assert "empty_lyrics_file" in result.flags  # the empty file is still named


def test_lyrics_too_short_to_tell_the_language_say_so(audio: Path) -> None:
    result = resolve_lyrics(_job(audio, lyrics=b"la la la"), NoTranscriber(), LyricsSettings())
    assert (result.lyrics, result.language) == ("la la la", None)
    assert result.omitted["language"] == "too little lyrics text to tell"
