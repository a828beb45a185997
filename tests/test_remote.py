"""A dataset's life end to end: build, push to a DVC remote, clone + pull elsewhere, grow by one song,
change upstream settings under a human override, and catch stale sidecars with `songset trace --check`.

One temporary git project with a local remote in another temporary folder; two short clips, so the
whole file costs about four small `dvc repro` runs.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import copy_project, cut_clip, git_commit, repro, run_tool, stage_summary

from songset.schemas import Sidecar

pytestmark = pytest.mark.slow

PER_SONG_STAGES = ("annotate", "clean", "estimate", "sidecars")


def tree_bytes(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = copy_project(tmp_path_factory.mktemp("project"))
    for name in ("clip_jazz", "clip_acoustic"):
        cut_clip(name, root / "data" / "audio")
    (root / "data" / "audio" / "attribution.yaml").write_text(
        "clip_jazz.flac: Vibe Ace by Kevin MacLeod, CC BY 3.0\n"
    )
    (root / "data" / "overrides" / "clip_jazz.yaml").write_text("bpm: 100\nnotes: counted by hand\n")
    remote = tmp_path_factory.mktemp("remote")
    run_tool(root, "dvc", "remote", "add", "-f", "-d", "local", str(remote))
    git_commit(root, "songs and pipeline")
    result = repro(root)
    assert result.returncode == 0, result.stdout + result.stderr
    git_commit(root, "dataset v1")
    return root


def test_sidecars_name_their_lineage_and_match_the_lock(project: Path) -> None:
    sidecar = Sidecar.model_validate_json((project / "data" / "sidecars" / "clip_jazz.json").read_text())
    stamp = sidecar.source.provenance["sidecar"]
    assert stamp.git_revision and len(stamp.git_revision) == 40
    assert stamp.git_dirty is False  # only dvc.lock and reports/ changed during the run
    assert stamp.params_sha256 and len(stamp.params_sha256) == 64
    manifest = json.loads((project / "data" / "sidecars" / "songset-manifest.json").read_text())
    assert manifest["git_revision"] == stamp.git_revision
    assert sidecar.bpm == 100 and "bpm" in sidecar.source.overridden

    trace = run_tool(project, "songset", "trace", "clip_jazz").stdout
    for needle in ("audio: clip_jazz.flac", "-> annotate: backend=descriptor", "-> clean:", "-> estimate:"):
        assert needle in trace, trace
    assert f"git={stamp.git_revision}" in trace and "overrides applied: bpm" in trace
    check = run_tool(project, "songset", "trace", "--check", check=False)
    assert check.returncode == 0, check.stdout + check.stderr


def test_push_clone_pull_gives_identical_bytes_and_a_clone_computes_one_new_song(
    project: Path, tmp_path: Path
) -> None:
    run_tool(project, "dvc", "push")
    clone = tmp_path / "training-machine"
    run_tool(tmp_path, "git", "clone", "-q", str(project), str(clone))
    run_tool(clone, "dvc", "pull")
    for folder in ("data/sidecars", "data/cache/annotate", "data/cache/estimate", "data/annotations/clean"):
        assert tree_bytes(clone / folder) == tree_bytes(project / folder), folder
    assert tree_bytes(clone / "data" / "sidecars"), "pulled sidecars are empty"

    cut_clip("clip_vocal", clone / "data" / "audio")
    result = repro(clone)
    assert result.returncode == 0, result.stdout + result.stderr
    for stage in PER_SONG_STAGES:
        summary = stage_summary(clone, stage)
        assert summary["computed"] == ["clip_vocal"], (stage, summary)
        assert sorted(summary["cached"]) == ["clip_acoustic", "clip_jazz"], (stage, summary)


def test_override_survives_an_annotator_change_and_check_catches_stale_sidecars(project: Path) -> None:
    params = project / "params.yaml"
    params.write_text(params.read_text().replace("target_segment_s: 20.0", "target_segment_s: 8.0"))
    partial = repro(project, "clean")  # upstream re-runs, sidecars are not rebuilt: they are now stale
    assert partial.returncode == 0, partial.stdout + partial.stderr
    check = run_tool(project, "songset", "trace", "--check", check=False)
    assert check.returncode == 1, check.stdout + check.stderr
    stale = check.stdout.splitlines()
    assert len(stale) == 2 and all("annotator.target_segment_s is 8.0 in dvc.lock" in line for line in stale)

    result = repro(project)
    assert result.returncode == 0, result.stdout + result.stderr
    jazz = Sidecar.model_validate_json((project / "data" / "sidecars" / "clip_jazz.json").read_text())
    assert jazz.bpm == 100 and "bpm" in jazz.source.overridden
    assert jazz.source.provenance["annotate"].settings["target_segment_s"] == 8.0
    assert jazz.source.provenance["sidecar"].extra["override_notes"] == "counted by hand"
    assert run_tool(project, "songset", "trace", "--check", check=False).returncode == 0
