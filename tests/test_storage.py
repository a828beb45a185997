"""Audio and per-song caches on object storage (`s3://`), against a real S3 API on 127.0.0.1.

The promise: a URL in `paths.audio` or `paths.cache` builds the same songs, with the same ids, hashes and
output bytes, as the same files in a local folder; workers fetch each song themselves; errors name the
song's URL, never a worker's temporary copy.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import copy_project, cut_clip, stage_summary, tool_env
from s3_server import S3, s3_server

from songset.config import load_params
from songset.io import is_remote, read_json
from songset.songs import discover_songs
from songset.stages.base import RunOptions
from songset.stages.estimate import run_estimate
from songset.storage import content_sha256, local_copy, location


@pytest.fixture
def s3(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[S3]:
    monkeypatch.setenv("SONGSET_HASH_MEMO", str(tmp_path / "hash-memo"))
    with s3_server() as server:
        yield server


@pytest.fixture
def local_audio(tmp_path: Path) -> Path:
    folder = tmp_path / "audio"
    (folder / "sub").mkdir(parents=True)
    cut_clip("clip_jazz", folder)
    cut_clip("clip_acoustic", folder / "sub")
    shutil.copy2(folder / "clip_jazz.flac", folder / "sub" / "copy of jazz.flac")  # a duplicate
    (folder / "notes.txt").write_text("not audio\n")
    return folder


def upload(s3: S3, folder: Path, prefix: str = "songs/audio") -> str:
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            s3.put_file(path, f"{prefix}/{path.relative_to(folder).as_posix()}")
    return f"s3://{prefix}"


def test_a_url_is_a_remote_path_and_a_folder_is_not(tmp_path: Path) -> None:
    assert not is_remote(location(tmp_path))
    assert not is_remote(location(f"file://{tmp_path}"))
    assert location(f"file://{tmp_path}") == tmp_path
    remote = location("s3://bucket/songs/a.flac")
    assert is_remote(remote) and remote.name == "a.flac" and remote.stem == "a"
    assert str(remote) == "s3://bucket/songs/a.flac"


def test_songs_on_s3_get_the_ids_hashes_and_duplicates_of_the_same_local_files(
    s3: S3, local_audio: Path
) -> None:
    url = upload(s3, local_audio)
    local = discover_songs(local_audio)
    remote = discover_songs(location(url))
    assert [(s.id, s.sha256) for s in remote] == [(s.id, s.sha256) for s in local]
    assert [str(s.path) for s in remote] == [
        f"{url}/clip_jazz.flac",
        f"{url}/sub/clip_acoustic.flac",
        f"{url}/sub/copy of jazz.flac",
    ]
    duplicate = next(s for s in remote if s.duplicate_of is not None)
    assert str(duplicate.duplicate_of) == f"{url}/clip_jazz.flac"


def test_a_remote_hash_is_remembered_per_object_version_and_never_stale(
    s3: S3, local_audio: Path, tmp_path: Path
) -> None:
    url = upload(s3, local_audio)
    song = location(f"{url}/clip_jazz.flac")
    first = content_sha256(song)
    memo = list((tmp_path / "hash-memo").glob("*.sha256"))
    assert len(memo) == 1 and memo[0].read_text().strip() == first
    # the memo answers without reading the object: a planted value is returned as long as the object is unchanged
    memo[0].write_text("0" * 64 + "\n")
    assert content_sha256(song) == "0" * 64
    # new bytes under the same name are a new object version (ETag): hashed again, never served stale
    s3.put_file(local_audio / "sub" / "clip_acoustic.flac", "songs/audio/clip_jazz.flac")
    assert content_sha256(song) == content_sha256(location(f"{url}/sub/clip_acoustic.flac"))
    assert content_sha256(song) != first


def test_a_worker_fetches_a_song_under_its_own_name_and_removes_the_copy(s3: S3, local_audio: Path) -> None:
    url = upload(s3, local_audio)
    with local_copy(location(f"{url}/sub/clip_acoustic.flac")) as local:
        assert not is_remote(local) and local.name == "clip_acoustic.flac"
        assert local.read_bytes() == (local_audio / "sub" / "clip_acoustic.flac").read_bytes()
    assert not local.exists() and not local.parent.exists()


def test_estimate_on_s3_audio_with_an_s3_cache_equals_the_local_build(
    s3: S3, local_audio: Path, tmp_path: Path
) -> None:
    (local_audio / "sub" / "copy of jazz.flac").unlink()
    (local_audio / "broken.flac").write_bytes(b"fLaC" + b"\0" * 4000)  # a header and nothing playable
    url = upload(s3, local_audio)
    estimator = load_params(Path(__file__).resolve().parents[1] / "params.yaml").estimator

    local_out, remote_out = tmp_path / "local-meta", tmp_path / "remote-meta"
    local = run_estimate(
        discover_songs(local_audio), estimator, local_out, RunOptions(cache_dir=tmp_path / "cache")
    )
    cache = location("s3://songs/cache")
    remote = run_estimate(discover_songs(location(url)), estimator, remote_out, RunOptions(cache_dir=cache))

    assert sorted(remote.summary.computed) == ["clip_acoustic", "clip_jazz"]
    for name in ("clip_acoustic.json", "clip_jazz.json"):
        assert (remote_out / name).read_bytes() == (local_out / name).read_bytes()
    [failure] = remote.summary.failed
    assert failure.file == f"{url}/broken.flac"
    assert f"{url}/broken.flac" in failure.reason and "/tmp" not in failure.reason, failure.reason
    [local_failure] = local.summary.failed
    assert local_failure.reason.startswith(f"{local_audio}/broken.flac: not a readable audio file")
    assert failure.reason.startswith(f"{url}/broken.flac: not a readable audio file")
    # the per-song cache is on s3: a second run computes nothing
    assert len(s3.fs.find("songs/cache")) == 2
    again = run_estimate(
        discover_songs(location(url)), estimator, tmp_path / "again", RunOptions(cache_dir=cache)
    )
    assert again.summary.computed == [] and sorted(again.summary.cached) == ["clip_acoustic", "clip_jazz"]
    assert read_json(tmp_path / "again" / "clip_jazz.json") == read_json(local_out / "clip_jazz.json")


@pytest.mark.slow
def test_the_estimate_stage_reads_paths_audio_and_paths_cache_as_urls(
    s3: S3, local_audio: Path, tmp_path: Path
) -> None:
    (local_audio / "sub" / "copy of jazz.flac").unlink()
    url = upload(s3, local_audio)
    (tmp_path / "project").mkdir()
    project = copy_project(tmp_path / "project")
    result = subprocess.run(
        [sys.executable, "stages/estimate.py", f"paths.audio={url}", "paths.cache=s3://songs/stage-cache"],
        cwd=project,
        env=tool_env(**s3.env),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    summary = stage_summary(project, "estimate")
    assert sorted(summary["computed"]) == ["clip_acoustic", "clip_jazz"] and not summary["failed"]
    assert read_json(project / "data" / "metadata" / "clip_jazz.json")["audio_file"] == "clip_jazz.flac"
    assert len(s3.fs.find("songs/stage-cache/estimate")) == 2
    assert "testing" not in result.stdout + result.stderr  # the throwaway secret key is never printed
