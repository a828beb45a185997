from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import clean_annotation, song_metadata
from test_sidecars import job

from songset.io import atomic_write_json
from songset.schemas import SongFailure
from songset.sidecars import SidecarSettings, build_sidecar, sidecar_json
from songset.validate import validate_sidecars


def write_sidecar(directory: Path, song_id: str, **changes: object) -> Path:
    clean = clean_annotation(song_id)
    sidecar = sidecar_json(build_sidecar(job(clean=clean, meta=song_metadata(song_id)), SidecarSettings()))
    for dotted, value in changes.items():
        target = sidecar
        *parents, leaf = dotted.split("__")
        for parent in parents:
            target = target[parent]
        target[leaf] = value
    path = directory / f"{song_id}.json"
    atomic_write_json(path, sidecar)
    if sidecar.get("lyrics"):
        (directory / f"{song_id}.lyrics.txt").write_text(str(sidecar["lyrics"]))
    return path


@pytest.fixture(scope="module")
def valid_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("sidecars")
    for name in ("a", "b", "c"):
        write_sidecar(directory, name)
    (directory / "songset-manifest.json").write_text("{}")  # the manifest is not a sidecar
    (directory / "dataset.json").write_text("{}")  # nor is ACE-Step's dataset file (an export folder)
    return directory


def test_valid_set_passes_pydantic_and_expectations(valid_dir: Path) -> None:
    report = validate_sidecars(valid_dir, caption_token_budget=200)
    assert report.ok, report.lines()
    assert report.songs == 3 and report.valid_songs == 3
    assert report.expectations and all(e.success for e in report.expectations)


def test_schema_breaks_are_named_by_song_and_rule(tmp_path: Path) -> None:
    write_sidecar(tmp_path, "good")
    write_sidecar(tmp_path, "badkey", keyscale="f# Minor")
    write_sidecar(tmp_path, "badlang", language="english")
    (tmp_path / "garbage.json").write_text("{not json")
    report = validate_sidecars(tmp_path, caption_token_budget=200)
    assert not report.ok
    rules = {(b.id, b.rule) for b in report.broken}
    assert ("badkey", "schema:keyscale") in rules
    assert ("badlang", "schema:language") in rules
    assert ("garbage", "readable_json") in rules
    assert not any(b.id == "good" for b in report.broken)
    assert any(line.startswith(str(tmp_path / "badkey.json")) for line in report.lines())


def test_set_level_expectations_catch_what_one_file_cannot(tmp_path: Path) -> None:
    write_sidecar(tmp_path, "ok")
    write_sidecar(tmp_path, "short", duration=4.0)  # valid shape, but under ACE-Step's 10 s
    write_sidecar(tmp_path, "long_caption", source__caption_tokens=240)
    report = validate_sidecars(tmp_path, caption_token_budget=200)
    broken = {(b.id, b.rule) for b in report.broken}
    assert ("short", "expect_column_values_to_be_between") in broken
    assert ("long_caption", "expect_column_values_to_be_between") in broken
    assert not any(b.id == "ok" for b in report.broken)


def test_upstream_failures_fail_the_gate_unless_partial_is_allowed(valid_dir: Path) -> None:
    failure = SongFailure(id="x", file="data/audio/x.ogg", stage="annotate", reason="file is empty (0 bytes)")
    strict = validate_sidecars(valid_dir, 200, upstream_failures=[failure])
    assert not strict.ok and "data/audio/x.ogg: failed in annotate: file is empty" in strict.lines()[0]
    lenient = validate_sidecars(valid_dir, 200, upstream_failures=[failure], allow_partial=True)
    assert lenient.ok and lenient.partial
    assert json.loads(lenient.model_dump_json())["partial"] is True


def test_a_caption_that_pushes_acestep_metas_out_is_broken(tmp_path: Path) -> None:
    long_caption = " ".join(["warm"] * 230)  # a human caption: kept, but ACE-Step would cut the metas
    write_sidecar(tmp_path, "long", caption=long_caption)
    report = validate_sidecars(tmp_path, caption_token_budget=256)
    assert ("long", "acestep_prompt") in {(b.id, b.rule) for b in report.broken}
