"""README "Lineage": each sidecar names the commit that wrote it and whether tracked sources were dirty.

A `git_dirty` that never says true makes an uncommitted experiment look reproducible; one that says true
for `dvc.lock` or `reports/` (which `dvc repro` itself rewrites) cries wolf on every run.
"""

from __future__ import annotations

import json
from pathlib import Path

from conftest import clean_annotation, git_commit, run_tool, song_metadata

from songset.io import atomic_write_json, sha256_file
from songset.lineage import git_lineage, lineage_stamp
from songset.stages.base import RunOptions
from songset.stages.sidecars import run_sidecars
from songset.validate import MANIFEST_NAME


def repo(root: Path) -> Path:
    run_tool(root, "git", "init", "-q")
    (root / "params.yaml").write_text("sidecar: {}\n")
    (root / "dvc.lock").write_text("schema: '2.0'\n")
    (root / "reports").mkdir()
    (root / "reports" / "quality.json").write_text("{}\n")
    git_commit(root, "first")
    return root


def test_clean_checkout_is_not_dirty_and_names_head(tmp_path: Path) -> None:
    root = repo(tmp_path)
    head = run_tool(root, "git", "rev-parse", "HEAD").stdout.strip()
    assert git_lineage(root) == {"git_revision": head, "git_dirty": False}


def test_an_edited_tracked_source_is_dirty(tmp_path: Path) -> None:
    root = repo(tmp_path)
    (root / "params.yaml").write_text("sidecar: {artist: x}\n")
    assert git_lineage(root)["git_dirty"] is True


def test_a_staged_change_is_dirty(tmp_path: Path) -> None:
    root = repo(tmp_path)
    (root / "params.yaml").unlink()
    run_tool(root, "git", "add", "-A")
    assert git_lineage(root)["git_dirty"] is True


def test_dvc_lock_and_reports_alone_do_not_make_it_dirty(tmp_path: Path) -> None:
    root = repo(tmp_path)
    (root / "dvc.lock").write_text("schema: '2.0'\nstages: {}\n")
    (root / "reports" / "quality.json").write_text('{"songs": 1}\n')
    assert git_lineage(root)["git_dirty"] is False
    (root / "params.yaml").write_text("changed: true\n")
    assert git_lineage(root)["git_dirty"] is True


def test_the_gitignore_dvc_writes_beside_a_new_output_is_not_a_source_change(tmp_path: Path) -> None:
    """`dvc repro` writes data/<new output>/../.gitignore; a new folder holding only that stays clean."""
    root = repo(tmp_path)
    (root / "data" / "annotations").mkdir(parents=True)
    (root / "data" / "annotations" / ".gitignore").write_text("/lyrics\n")
    assert git_lineage(root)["git_dirty"] is False
    (root / "data" / "annotations" / "notes.txt").write_text("a new untracked file is a source change\n")
    assert git_lineage(root)["git_dirty"] is True


def test_an_edited_tracked_gitignore_is_dirty(tmp_path: Path) -> None:
    root = repo(tmp_path)
    (root / ".gitignore").write_text("/data\n")
    git_commit(root, "ignore data")
    (root / ".gitignore").write_text("/data\n/models\n")
    assert git_lineage(root)["git_dirty"] is True


def test_params_hash_is_of_the_params_file_and_unknown_without_one(tmp_path: Path) -> None:
    root = repo(tmp_path)
    assert lineage_stamp(root, root / "params.yaml")["params_sha256"] == sha256_file(root / "params.yaml")
    assert lineage_stamp(root, root / "missing.yaml")["params_sha256"] is None


def test_outside_git_both_are_unknown(tmp_path: Path) -> None:
    assert git_lineage(tmp_path) == {"git_revision": None, "git_dirty": None}


def test_dirty_stamp_reaches_every_sidecar_and_the_manifest(tmp_path: Path) -> None:
    root = repo(tmp_path)
    (root / "params.yaml").write_text("sidecar: {artist: y}\n")
    stamp = lineage_stamp(root, root / "params.yaml")
    assert stamp["git_dirty"] is True and stamp["params_sha256"] == sha256_file(root / "params.yaml")
    data = root / "data"
    atomic_write_json(data / "clean" / "song.json", clean_annotation())
    atomic_write_json(data / "metadata" / "song.json", song_metadata())
    out = data / "sidecars"
    options = RunOptions(cache_dir=root / "cache")
    for _ in range(2):  # computed, then from the cache: the stamp is applied at write time both times
        run_sidecars(
            data / "clean",
            data / "metadata",
            data / "lyrics",
            data / "overrides",
            {},
            out,
            options,
            lineage=stamp,
        )
        side = json.loads((out / "song.json").read_text())["source"]["provenance"]["sidecar"]
        assert side["git_dirty"] is True and side["git_revision"] == stamp["git_revision"]
        assert side["params_sha256"] == stamp["params_sha256"]
        manifest = json.loads((out / MANIFEST_NAME).read_text())
        assert manifest["git_dirty"] is True and manifest["git_revision"] == stamp["git_revision"]
