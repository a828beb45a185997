"""What each stage makes of its inputs before computing anything (README "What happens when things go wrong").

One bad song fails alone: an unreadable, empty or too-short file (audio stages), a file that is not a raw
annotation (clean), an unreadable clean annotation or a broken override (sidecars) is recorded with its file
and reason in the stage's summary, and every song after it still builds. A byte-identical copy is skipped
and listed, not failed. Fast: no audio is decoded, no model runs.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from conftest import clean_annotation, raw_annotation, song_metadata, write_song_lyrics

from songset.cleaners.base import CleanedContent
from songset.cleaners.rules import RulesCleaner
from songset.io import atomic_write_json, sha256_file
from songset.runner import LocalExecutor, Settle, SongError, SongJob, StageWork
from songset.schemas import RawAnnotation, SongFailure
from songset.songs import Song, discover_songs
from songset.stages import sidecars as sidecar_stage
from songset.stages.base import AudioInputs, RunOptions, audio_jobs
from songset.stages.clean import run_clean
from songset.stages.sidecars import run_sidecars

RULES = {"_target_": "songset.cleaners.rules.RulesCleaner"}


def write_wav(path: Path, seconds: float, freq: float = 220.0, rate: int = 8000) -> Path:
    t = np.arange(int(seconds * rate)) / rate
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32), rate)
    return path


# ---- audio stages (annotate, estimate, lyrics): audio_jobs -------------------------------------------------


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """In name order: empty, good, too short, a byte-identical copy of the good one, another good one."""
    audio = tmp_path / "audio"
    audio.mkdir()
    (audio / "a_empty.wav").write_bytes(b"")
    write_wav(audio / "b_good.wav", 11.012375)  # 88099 frames at 8 kHz: 11.012 s to the millisecond
    write_wav(audio / "c_short.wav", 2.0)
    shutil.copy(audio / "b_good.wav", audio / "d_copy.wav")
    write_wav(audio / "e_good.wav", 12.0, freq=330.0)
    return audio


def test_bad_audio_fails_alone_named_and_every_later_song_is_a_job(corpus: Path) -> None:
    built = audio_jobs("estimate", discover_songs(corpus), {"backend": "b"})
    assert [job.id for job in built.jobs] == ["b_good", "e_good"]
    empty, short = corpus / "a_empty.wav", corpus / "c_short.wav"
    assert built.failed == [
        SongFailure(
            id="a_empty", file=str(empty), stage="estimate", reason=f"{empty}: file is empty (0 bytes)"
        ),
        SongFailure(
            id="c_short",
            file=str(short),
            stage="estimate",
            reason=f"{short}: 2.0 s is shorter than ACE-Step's 10 s minimum",
        ),
    ]


def test_a_byte_identical_copy_is_skipped_and_listed_not_failed(corpus: Path) -> None:
    built = audio_jobs("annotate", discover_songs(corpus), {"backend": "b"})
    assert built.skipped == [
        SongFailure(
            id="d_copy",
            file=str(corpus / "d_copy.wav"),
            stage="annotate",
            reason=f"the same audio as {corpus / 'b_good.wav'}; skipped (built once)",
        )
    ]


def test_each_job_carries_its_file_content_hash_length_and_name(corpus: Path) -> None:
    """What the computing reads (hash, length to the millisecond) and what names a cached result."""
    built = audio_jobs("estimate", discover_songs(corpus), {"backend": "b"})
    good = corpus / "b_good.wav"
    job = built.jobs[0]
    assert (job.id, job.file) == ("b_good", good)
    assert job.inputs == AudioInputs(audio_sha256=sha256_file(good), duration=11.012)
    assert job.identity == {"id": "b_good", "audio_file": "b_good.wav"}


def test_a_song_listed_without_a_hash_is_hashed_from_its_file(corpus: Path) -> None:
    good = corpus / "e_good.wav"
    unhashed = audio_jobs("estimate", [Song(id="e_good", path=good)], {"backend": "b"})
    hashed = audio_jobs("estimate", discover_songs(corpus), {"backend": "b"})
    assert unhashed.jobs[0].inputs.audio_sha256 == sha256_file(good)
    assert unhashed.jobs[0].key == hashed.jobs[1].key


# ---- clean stage --------------------------------------------------------------------------------------


@pytest.fixture
def raw_files(tmp_path: Path) -> list[Path]:
    """In name order: good, not JSON, JSON but not a raw annotation, good."""
    raw = tmp_path / "raw"
    atomic_write_json(raw / "a.json", raw_annotation("a"))
    (raw / "b.json").write_text("{not json", encoding="utf-8")
    (raw / "c.json").write_text('{"id": "c"}', encoding="utf-8")
    atomic_write_json(raw / "d.json", raw_annotation("d"))
    return sorted(raw.glob("*.json"))


def test_a_file_that_is_not_a_raw_annotation_fails_alone_in_the_summary(
    tmp_path: Path, raw_files: list[Path]
) -> None:
    summary = run_clean(raw_files, RULES, tmp_path / "clean", RunOptions(cache_dir=None)).summary
    assert summary.stage == "clean"
    assert summary.computed == ["a", "d"]
    assert [(f.id, f.file, f.stage) for f in summary.failed] == [
        ("b", str(raw_files[1]), "clean"),
        ("c", str(raw_files[2]), "clean"),
    ]
    assert summary.failed[0].reason.startswith("JSONDecodeError: ")
    assert summary.failed[1].reason.startswith("schema violation: ")
    assert "audio_file: Field required" in summary.failed[1].reason
    assert sorted(p.name for p in (tmp_path / "clean").iterdir()) == ["a.json", "d.json"]


class RefusingCleaner(RulesCleaner):
    """The rules cleaner, refusing song `a` as a served cleaner's error would: a failure while computing."""

    def clean(self, raw: RawAnnotation) -> CleanedContent:
        if raw.id == "a":
            raise SongError(f"{raw.audio_file}: the cleaner refused it")
        return super().clean(raw)


def test_a_song_the_cleaner_fails_is_named_by_its_raw_file(tmp_path: Path, raw_files: list[Path]) -> None:
    cleaner = {"_target_": "test_stage_jobs.RefusingCleaner"}
    summary = run_clean(raw_files, cleaner, tmp_path / "clean", RunOptions(cache_dir=None)).summary
    assert summary.computed == ["d"]
    refused = next(f for f in summary.failed if f.id == "a")
    assert (refused.file, refused.stage, refused.reason) == (
        str(raw_files[0]),
        "clean",
        "a.wav: the cleaner refused it",
    )


class RecordingExecutor(LocalExecutor):
    """Computes locally and remembers which songs it was handed: where `run.executor` sends the work."""

    def __init__(self) -> None:
        self.handed: list[str] = []

    def execute(self, todo: list[SongJob], work: StageWork[Any], settle: Settle) -> None:
        self.handed += [job.id for job in todo]
        super().execute(todo, work, settle)


def test_the_configured_executor_computes_the_clean_and_sidecar_stages(
    tmp_path: Path, raw_files: list[Path], sidecar_data: Path
) -> None:
    """`run.executor=ray` hands the songs to the cluster: every stage must use the executor it is given."""
    executor = RecordingExecutor()
    run_clean(raw_files, RULES, tmp_path / "clean", RunOptions(cache_dir=None, executor=executor))
    assert executor.handed == ["a", "d"]
    executor.handed.clear()
    run_sidecars(
        sidecar_data / "clean",
        sidecar_data / "metadata",
        sidecar_data / "song_lyrics",
        sidecar_data / "overrides",
        {},
        sidecar_data / "sidecars",
        RunOptions(cache_dir=None, executor=executor),
    )
    assert sorted(executor.handed) == ["a", "c", "d"]


def test_the_clean_cache_is_the_folder_dvc_yaml_persists_and_names_its_songs(
    tmp_path: Path, raw_files: list[Path]
) -> None:
    """dvc.yaml pushes data/cache/<stage>; a cached result is written under the raw file's song id."""
    options = RunOptions(cache_dir=tmp_path / "cache")
    run_clean(raw_files, RULES, tmp_path / "clean1", options)
    assert [p.name for p in (tmp_path / "cache").iterdir()] == ["clean"]
    again = run_clean(raw_files, RULES, tmp_path / "clean2", options).summary
    assert again.cached == ["a", "d"] and again.computed == []
    assert json.loads((tmp_path / "clean2" / "d.json").read_text())["id"] == "d"


def test_the_summary_records_which_cleaner_settings_built_it(tmp_path: Path, raw_files: list[Path]) -> None:
    options = RunOptions(cache_dir=None)
    one = run_clean(raw_files, RULES, tmp_path / "c1", options).summary.settings_sha256
    same = run_clean(raw_files, RULES, tmp_path / "c2", options).summary.settings_sha256
    other = run_clean(raw_files, {**RULES, "max_caption_words": 5}, tmp_path / "c3", options).summary
    assert one == same and len(one) == 64 and other.settings_sha256 != one


# ---- sidecar stage ------------------------------------------------------------------------------------


@pytest.fixture
def sidecar_data(tmp_path: Path) -> Path:
    """Songs a, b (clean annotation not JSON), c (a broken override), d, and e (clean, no metadata)."""
    data = tmp_path / "data"
    for song in ("a", "b", "c", "d", "e"):
        atomic_write_json(data / "clean" / f"{song}.json", clean_annotation(song, vocal_presence="vocal"))
        if song != "e":
            atomic_write_json(data / "metadata" / f"{song}.json", song_metadata(song))
    (data / "lyrics").mkdir()
    (data / "lyrics" / "d.txt").write_text("[Verse]\nwords to sing\n\n\n", encoding="utf-8")
    (data / "overrides").mkdir()
    write_song_lyrics(data)  # the lyrics stage ran before the override broke
    (data / "overrides" / "c.yaml").write_text("bpm: fast\n", encoding="utf-8")
    (data / "clean" / "b.json").write_text("{not json", encoding="utf-8")
    return data


def _run_sidecars(data: Path, cache: Path | None = None, **kw: Any) -> Any:
    return run_sidecars(
        data / "clean",
        data / "metadata",
        data / "song_lyrics",
        data / "overrides",
        {},
        data / "sidecars",
        RunOptions(cache_dir=cache),
        **kw,
    )


def test_the_sidecar_summary_records_which_settings_built_it(sidecar_data: Path) -> None:
    def settings_sha256(cfg: dict[str, Any]) -> str:
        return run_sidecars(
            sidecar_data / "clean",
            sidecar_data / "metadata",
            sidecar_data / "song_lyrics",
            sidecar_data / "overrides",
            cfg,
            sidecar_data / "sidecars",
            RunOptions(cache_dir=None),
        ).summary.settings_sha256

    one, same, other = settings_sha256({}), settings_sha256({}), settings_sha256({"min_bpm_confidence": 0.9})
    assert one == same and len(one) == 64 and other != one


def test_a_broken_upstream_file_or_override_fails_its_song_alone(sidecar_data: Path) -> None:
    summary = _run_sidecars(sidecar_data).summary
    assert summary.stage == "sidecars"
    assert summary.computed == ["a", "d"]  # e has no metadata: it failed upstream, not here
    failed = {f.id: f for f in summary.failed}
    assert sorted(failed) == ["b", "c"]
    assert failed["b"] == SongFailure(
        id="b",
        file=str(sidecar_data / "clean" / "b.json"),
        stage="sidecars",
        reason=failed["b"].reason,
    )
    assert failed["b"].reason.startswith("JSONDecodeError: ")
    assert (failed["c"].file, failed["c"].stage) == (str(sidecar_data / "clean" / "c.json"), "sidecars")
    assert failed["c"].reason.startswith(f"{sidecar_data / 'overrides' / 'c.yaml'}: bpm: ")
    written = sorted(p.name for p in (sidecar_data / "sidecars").iterdir())
    assert written == ["a.json", "d.json", "d.lyrics.txt", "songset-manifest.json"]


def test_sung_lyrics_file_ends_with_exactly_one_newline(sidecar_data: Path) -> None:
    """ACE-Step reads `<stem>.lyrics.txt` whole: the sidecar's lyrics, one closing newline, nothing else."""
    _run_sidecars(sidecar_data)
    sidecar = json.loads((sidecar_data / "sidecars" / "d.json").read_text())
    text = (sidecar_data / "sidecars" / "d.lyrics.txt").read_text(encoding="utf-8")
    assert text == "[Verse]\nwords to sing\n" == sidecar["lyrics"] + "\n"


def test_a_new_sidecar_version_rebuilds_cached_sidecars(
    sidecar_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bumping SIDECAR_VERSION (a change in how sidecars are built) must not serve the old ones."""
    cache = tmp_path / "cache"
    assert _run_sidecars(sidecar_data, cache).summary.computed == ["a", "d"]
    assert [p.name for p in cache.iterdir()] == ["sidecars"]
    assert _run_sidecars(sidecar_data, cache).summary.cached == ["a", "d"]
    monkeypatch.setattr(sidecar_stage, "SIDECAR_VERSION", "next")
    assert _run_sidecars(sidecar_data, cache).summary.computed == ["a", "d"]


def test_without_lineage_the_sidecar_is_written_as_built(sidecar_data: Path) -> None:
    _run_sidecars(sidecar_data)
    prov = json.loads((sidecar_data / "sidecars" / "a.json").read_text())["source"]["provenance"]["sidecar"]
    assert (prov.get("git_revision"), prov.get("git_dirty"), prov.get("params_sha256")) == (None, None, None)
