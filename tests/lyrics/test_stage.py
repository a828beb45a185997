"""The lyrics stage on a temporary project: outputs, per-song cache, transcriptions never made twice,
and one failing transcription failing its song alone."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from conftest import clean_annotation, write_tone
from fixed_transcriber import FixedTranscriber, calls
from test_resolve import ANSWER

from songset.cache import ResultCache, cache_key
from songset.io import atomic_write_json, sha256_file
from songset.runner import LocalExecutor, Settle, SongJob, SongResources, StageWork
from songset.schemas import SongLyrics
from songset.songs import discover_songs
from songset.stages.base import RunOptions
from songset.stages.lyrics import run_lyrics
from songset.transcribers.base import Transcription


@pytest.fixture
def project(tmp_path: Path) -> Path:
    for name, freq in (("one", 440.0), ("two", 550.0)):
        write_tone(tmp_path / "audio" / f"{name}.flac", 11.0, freq=freq)
        atomic_write_json(
            tmp_path / "clean" / f"{name}.json",
            clean_annotation(name, duration=11.0, sections=[], events=[], vocal_presence="vocal"),
        )
    (tmp_path / "lyrics").mkdir()
    (tmp_path / "overrides").mkdir()
    return tmp_path


def _transcriber_cfg(root: Path, **kw: Any) -> dict[str, Any]:
    return {
        "_target_": "fixed_transcriber.FixedTranscriber",
        "answer": ANSWER,
        "calls_file": str(root / "calls.txt"),
        **kw,
    }


def _run(
    root: Path,
    transcriber: dict[str, Any] | None = None,
    lyrics_cfg: dict[str, Any] | None = None,
    options: RunOptions | None = None,
):
    return run_lyrics(
        discover_songs(root / "audio"),
        transcriber or _transcriber_cfg(root),
        lyrics_cfg or {},
        root / "lyrics",
        root / "overrides",
        root / "clean",
        root / "out",
        options or RunOptions(cache_dir=root / "cache"),
    )


def _out(root: Path, song: str) -> SongLyrics:
    return SongLyrics.model_validate(json.loads((root / "out" / f"{song}.json").read_text()))


def test_stage_writes_each_song_with_its_sources(project: Path) -> None:
    (project / "lyrics" / "one.lrc").write_text(
        "[00:01.00]Down by the river where the boats wait\n", encoding="utf-16"
    )
    result = _run(project, {"_target_": "songset.transcribers.base.NoTranscriber"})
    assert sorted(result.summary.computed) == ["one", "two"] and not result.summary.failed
    one, two = _out(project, "one"), _out(project, "two")
    assert (one.lyrics_source, one.lyrics, one.language) == (
        "lrc",
        "Down by the river where the boats wait",
        "en",
    )
    assert two.lyrics is None and "vocals_without_lyrics" in two.flags  # sung, no lyrics anywhere: counted
    assert (project / "cache" / "lyrics").is_dir()


def test_caption_edit_reuses_everything_and_section_edit_never_retranscribes(project: Path) -> None:
    first = _run(project)
    assert sorted(first.summary.computed) == ["one", "two"]
    assert sorted(calls(project / "calls.txt")) == ["one.flac", "two.flac"]
    clean_path = project / "clean" / "one.json"
    clean = json.loads(clean_path.read_text())
    clean["caption"] = "A different caption a person wrote."
    clean_path.write_text(json.dumps(clean))
    second = _run(project)
    assert second.summary.computed == [] and sorted(second.summary.cached) == ["one", "two"]
    clean["sections"] = [{"start": 0, "end": 11, "label": "verse", "description": ""}]
    clean_path.write_text(json.dumps(clean))
    third = _run(project)
    assert third.summary.computed == ["one"]  # the sections decide the tags: recomputed ...
    assert _out(project, "one").lyrics.startswith("[Verse]\n")
    assert sorted(calls(project / "calls.txt")) == ["one.flac", "two.flac"]  # ... from the kept transcription


def test_a_new_song_is_one_song_of_work(project: Path) -> None:
    _run(project)
    write_tone(project / "audio" / "three.flac", 11.0, freq=330.0)
    result = _run(project)
    assert result.summary.computed == ["three"]
    assert sorted(calls(project / "calls.txt")) == ["one.flac", "three.flac", "two.flac"]


def test_failing_transcription_fails_that_song_alone(project: Path) -> None:
    result = _run(project, _transcriber_cfg(project, fail_for=["two"]))
    assert result.summary.computed == ["one"]
    assert [f.id for f in result.summary.failed] == ["two"]
    assert "503" in result.summary.failed[0].reason and "two.flac" in result.summary.failed[0].reason
    assert _out(project, "one").lyrics_source == "transcription"
    assert not (project / "out" / "two.json").exists()


def test_bad_override_fails_its_song_naming_the_file(project: Path) -> None:
    (project / "overrides" / "one.yaml").write_text("lyrics: [unclosed\n")
    result = _run(project, {"_target_": "songset.transcribers.base.NoTranscriber"})
    assert [f.id for f in result.summary.failed] == ["one"]
    assert "one.yaml" in result.summary.failed[0].reason


# README "Adding your songs": the lyrics stage's per-song key covers every input that decides its output.
# Each input is changed alone on a warm cache; the songs it touches are computed again, with the new answer.
LRC_AS_TEXT = "[00:01.00]Down by the river where the fishing boats wait\n"
CAPTION = "caption: Solo piano.\n"  # an override already there: only its lyrics or language change


def _edit_audio(root: Path) -> None:
    write_tone(root / "audio" / "one.flac", 11.0, freq=660.0)


def _edit_lyrics_file(root: Path) -> None:
    (root / "lyrics" / "one.txt").write_text("We go fishing in the morning light\n", encoding="utf-8")


def _rename_lyrics_file_to_lrc(root: Path) -> None:
    """The same bytes read as timed lyrics: the stamps are parsed, no longer kept as text."""
    (root / "lyrics" / "one.txt").rename(root / "lyrics" / "one.lrc")


def _override_lyrics(root: Path) -> None:
    (root / "overrides" / "one.yaml").write_text(
        f"{CAPTION}lyrics: Words a person wrote down\n", encoding="utf-8"
    )


def _override_language(root: Path) -> None:
    (root / "overrides" / "one.yaml").write_text(f"{CAPTION}language: fi\n", encoding="utf-8")


WARM_CACHE_CHANGES: dict[str, tuple[Any, list[str]]] = {
    "audio": (_edit_audio, ["one"]),
    "lyrics file": (_edit_lyrics_file, ["one"]),
    "lyrics file .txt -> .lrc": (_rename_lyrics_file_to_lrc, ["one"]),
    "override lyrics": (_override_lyrics, ["one"]),
    "override language": (_override_language, ["one"]),
}


@pytest.mark.parametrize("what", list(WARM_CACHE_CHANGES))
def test_lyrics_rebuild_on_a_warm_cache_when_their_input_changes(project: Path, what: str) -> None:
    (project / "lyrics" / "one.txt").write_text(LRC_AS_TEXT, encoding="utf-8")
    (project / "overrides" / "one.yaml").write_text(CAPTION, encoding="utf-8")
    _run(project)
    before = _out(project, "one")
    change, recomputed = WARM_CACHE_CHANGES[what]
    change(project)
    again = _run(project)
    assert again.summary.computed == recomputed and again.summary.cached == ["two"]
    after = _out(project, "one")
    fields = ("audio_sha256", "lyrics", "lyrics_source", "language")
    assert [getattr(after, f) for f in fields] != [getattr(before, f) for f in fields]


def test_lyrics_settings_or_transcriber_change_rebuilds_every_song(project: Path) -> None:
    _run(project)
    stricter = _run(project, lyrics_cfg={"min_language_confidence": 0.99})
    assert sorted(stricter.summary.computed) == ["one", "two"]
    newer = _run(
        project, _transcriber_cfg(project, version="2"), lyrics_cfg={"min_language_confidence": 0.99}
    )
    assert sorted(newer.summary.computed) == ["one", "two"]
    assert sorted(calls(project / "calls.txt")) == ["one.flac", "one.flac", "two.flac", "two.flac"]


def test_override_caption_or_bpm_edit_keeps_the_cached_lyrics(project: Path) -> None:
    """Only an override's lyrics and language decide lyrics; its caption and bpm are the sidecar's."""
    (project / "overrides" / "one.yaml").write_text("caption: Solo piano.\n", encoding="utf-8")
    _run(project)
    (project / "overrides" / "one.yaml").write_text("caption: Solo harp.\nbpm: 90\n", encoding="utf-8")
    again = _run(project)
    assert again.summary.computed == [] and sorted(again.summary.cached) == ["one", "two"]


def test_an_lrc_is_read_before_a_txt_and_the_txt_is_named_as_ignored(project: Path) -> None:
    (project / "lyrics" / "one.lrc").write_text("[00:01.00]Timed words by the river\n", encoding="utf-8")
    (project / "lyrics" / "one.txt").write_text("Plain words\n", encoding="utf-8")
    _run(project, {"_target_": "songset.transcribers.base.NoTranscriber"})
    one = _out(project, "one")
    assert (one.lyrics_source, one.lyrics) == ("lrc", "Timed words by the river")
    lrc, txt = project / "lyrics" / "one.lrc", project / "lyrics" / "one.txt"
    assert one.warnings[0] == f"{txt}: ignored, {lrc} is read first"
    assert not [w for w in _out(project, "two").warnings if "ignored" in w]


def test_unreadable_inputs_fail_their_song_alone_and_caching_is_optional(project: Path) -> None:
    """A clean annotation that is not JSON, or an empty audio file, fails that song with its file named."""
    (project / "clean" / "one.json").write_text("{not json", encoding="utf-8")
    (project / "audio" / "empty.flac").write_bytes(b"")
    result = run_lyrics(
        discover_songs(project / "audio"),
        {"_target_": "songset.transcribers.base.NoTranscriber"},
        {},
        project / "lyrics",
        project / "overrides",
        project / "clean",
        project / "out",
        RunOptions(cache_dir=None),
    )
    assert result.summary.computed == ["two"]
    failed = {f.id: f for f in result.summary.failed}
    assert sorted(failed) == ["empty", "one"] and {f.stage for f in failed.values()} == {"lyrics"}
    assert failed["one"].file == str(project / "audio" / "one.flac")
    assert failed["one"].reason.startswith("JSONDecodeError: ")
    assert failed["empty"].reason == f"{project / 'audio' / 'empty.flac'}: file is empty (0 bytes)"


class RecordingExecutor(LocalExecutor):
    """Remembers the work it is handed (where `run.executor` sends the songs) and computes it here, serially."""

    def __init__(self) -> None:
        self.work: list[StageWork[Any]] = []

    def execute(self, todo: list[SongJob], work: StageWork[Any], settle: Settle) -> None:
        self.work.append(work)
        super().execute(todo, dataclasses.replace(work, workers=1), settle)


def test_songs_go_to_the_configured_executor_as_the_transcriber_asks_with_or_without_a_cache(
    project: Path,
) -> None:
    """`run.executor=ray`: a transcriber holding a model is one copy per stage with the GPU it names; one
    calling a server runs on `run.workers` processes. Without a cache every song is still transcribed."""
    executor = RecordingExecutor()
    options = RunOptions(cache_dir=None, workers=3, executor=executor)
    held = _run(
        project, _transcriber_cfg(project, _target_="fixed_transcriber.HeldModelTranscriber"), options=options
    )
    assert sorted(held.summary.computed) == ["one", "two"]
    assert _out(project, "one").lyrics_source == "transcription"
    (work,) = executor.work
    assert (work.workers, work.holds_model, work.resources) == (
        1,
        True,
        SongResources(num_cpus=2, num_gpus=1),
    )
    executor.work.clear()
    served = _run(project, options=options)
    assert sorted(served.summary.computed) == ["one", "two"]
    (work,) = executor.work
    assert (work.workers, work.holds_model, work.resources) == (3, False, SongResources())
    assert sorted(calls(project / "calls.txt")) == ["one.flac", "one.flac", "two.flac", "two.flac"]


def test_a_transcriber_that_is_not_ready_stops_the_stage_before_any_song(project: Path) -> None:
    """A server transcriber without its API key fails once, naming the key, not once per song."""
    with pytest.raises(ValueError, match="FIXED_API_KEY"):
        _run(project, _transcriber_cfg(project, ready=False))
    assert calls(project / "calls.txt") == []


def test_the_summary_names_its_settings_and_the_byte_identical_copies_it_skipped(project: Path) -> None:
    shutil.copy(project / "audio" / "one.flac", project / "audio" / "zz-copy.flac")
    first = _run(project).summary
    again = _run(project).summary
    stricter = _run(project, lyrics_cfg={"min_language_confidence": 0.99}).summary
    assert len(first.settings_sha256) == 64 and again.settings_sha256 == first.settings_sha256
    assert stricter.settings_sha256 != first.settings_sha256
    assert [Path(s.file).name for s in first.skipped] == ["zz-copy.flac"]
    assert "the same audio as" in first.skipped[0].reason and not first.failed


def test_kept_transcriptions_are_found_by_any_checkout_under_the_audio_and_transcriber_alone(
    project: Path,
) -> None:
    """dvc.yaml pushes data/cache/lyrics: the transcriptions (the costly part) are kept in its
    `transcriptions` folder under a key of the audio hash and the transcriber's key parts only, so
    another checkout, or a later songset whose lyrics key changed, finds them instead of paying again."""
    _run(project)
    settings = {k: v for k, v in _transcriber_cfg(project).items() if k != "_target_"}
    parts = FixedTranscriber(**settings).identity().key_parts()
    memo = ResultCache(project / "cache" / "lyrics" / "transcriptions")
    for song in ("one", "two"):
        key = cache_key(
            stage="transcription", audio_sha256=sha256_file(project / "audio" / f"{song}.flac"), **parts
        )
        assert Transcription.model_validate(memo.get(key)) == Transcription.model_validate(ANSWER)
