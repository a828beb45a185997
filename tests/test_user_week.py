"""A user's week with songset (issue 22), step by step as a person does it: rename, copy, a cold machine,
editing a broken override, keeping a winning experiment, wrong input. Nothing may lose or corrupt a song
without saying so."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import (
    PROJECT_ROOT,
    cut_clip,
    git_commit,
    raw_annotation,
    repro,
    run_tool,
    stage_summary,
    tool_env,
    write_tone,
)

from songset.cli import main
from songset.edit import edit_override
from songset.io import atomic_write_json
from songset.lineage import git_lineage
from songset.schemas import Override
from songset.songs import songs_from_paths
from songset.stage_main import stage_songs
from songset.stages.annotate import run_annotate
from songset.stages.base import RunOptions
from songset.stages.estimate import run_estimate
from songset.validate import MANIFEST_NAME

# ---- 1. renames and copies ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from conftest import copy_project

    root = copy_project(tmp_path_factory.mktemp("week"))
    for name in ("clip_jazz", "clip_acoustic"):
        cut_clip(name, root / "data" / "audio")
    result = repro(root)
    assert result.returncode == 0, result.stdout + result.stderr
    return root


@pytest.mark.slow
def test_renaming_a_song_keeps_it_under_its_new_name(project: Path) -> None:
    audio = project / "data" / "audio"
    (audio / "clip_acoustic.flac").rename(audio / "clip_renamed.flac")
    result = repro(project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2/2 sidecars valid" in result.stdout
    # The content did not change, so the work comes from the cache, but the song is named by its file now.
    assert "clip_renamed" in stage_summary(project, "annotate")["cached"]
    for folder in ("annotations/raw", "metadata"):
        data = json.loads((project / "data" / folder / "clip_renamed.json").read_text())
        assert (data["id"], data["audio_file"]) == ("clip_renamed", "clip_renamed.flac"), folder
    sidecar = json.loads((project / "data" / "sidecars" / "clip_renamed.json").read_text())
    assert sidecar["source"]["audio_file"] == "clip_renamed.flac"
    assert not (project / "data" / "sidecars" / "clip_acoustic.json").exists()
    manifest = json.loads((project / "data" / "sidecars" / MANIFEST_NAME).read_text())
    assert sorted(e["id"] for e in manifest["entries"]) == ["clip_jazz", "clip_renamed"]


@pytest.mark.slow
def test_a_byte_identical_copy_is_skipped_in_every_stage_and_stops_nothing(project: Path) -> None:
    audio = project / "data" / "audio"
    shutil.copyfile(audio / "clip_jazz.flac", audio / "clip_jazz_copy.flac")  # added later, another name
    result = repro(project)
    assert result.returncode == 0, result.stdout + result.stderr  # report and validate pass
    for stage in ("annotate", "estimate"):
        summary = stage_summary(project, stage)
        assert [Path(s["file"]).name for s in summary["skipped"]] == ["clip_jazz_copy.flac"], stage
        assert summary["failed"] == [], stage
    assert not (project / "data" / "sidecars" / "clip_jazz_copy.json").exists()
    assert json.loads((project / "data" / "sidecars" / MANIFEST_NAME).read_text())["songs"] == 2
    quality = (project / "reports" / "quality.md").read_text()
    assert "clip_jazz_copy.flac" in quality and "byte-identical" in quality
    assert json.loads((project / "reports" / "quality.json").read_text())["failed_songs"] == 0


@pytest.mark.slow
def test_rebuilding_the_same_inputs_gives_the_same_data_bytes(project: Path) -> None:
    data = project / "data"
    before = {p: p.read_bytes() for p in data.rglob("*.json") if "cache" not in p.parts}
    for path in (data / "cache").iterdir():
        if path.is_dir():
            shutil.rmtree(path)  # nothing from the cache: every song computed again
    result = repro(project, "--force")
    assert result.returncode == 0, result.stdout + result.stderr
    after = {p: p.read_bytes() for p in data.rglob("*.json") if "cache" not in p.parts}
    assert after.keys() == before.keys()
    changed = [str(p.relative_to(project)) for p in before if before[p] != after[p]]
    assert changed == [], changed
    assert stage_summary(project, "estimate")["song_seconds"]  # the timings live in reports/stages/
    assert all(b"created_at" not in v and b"wall_time_s" not in v for v in after.values())


# ---- 2. a cold numba cache ------------------------------------------------------------------------------


def test_songset_sets_the_numba_cache_before_numba_loads_and_respects_the_users(tmp_path: Path) -> None:
    code = "import songset, os, sys; print(os.environ['NUMBA_CACHE_DIR']); print('numba' in sys.modules)"
    env = {k: v for k, v in tool_env().items() if k != "NUMBA_CACHE_DIR"} | {"XDG_CACHE_HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == [str(tmp_path / "songset" / "numba"), "False"]
    mine = tmp_path / "mine"
    out = subprocess.run(
        [sys.executable, "-c", code], env=env | {"NUMBA_CACHE_DIR": str(mine)}, capture_output=True, text=True
    )
    assert out.stdout.split()[0] == str(mine)


@pytest.mark.slow
@pytest.mark.timeout(2400)  # compiles librosa's kernels twice: ~2 min each alone, far more on a busy machine
def test_a_cold_then_corrupt_numba_cache_with_two_workers_estimates_every_song(tmp_path: Path) -> None:
    songs = [str(cut_clip(name, tmp_path)) for name in ("clip_jazz", "clip_acoustic")]
    cache = tmp_path / "numba"
    env = tool_env(NUMBA_CACHE_DIR=str(cache))
    cmd = [sys.executable, "-m", "songset.cli", "estimate", *songs, "--json", "--no-cache", "--jobs", "2"]

    def estimate() -> subprocess.CompletedProcess[str]:
        return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900, check=False)

    cold = estimate()
    assert cold.returncode == 0, cold.stderr
    rows = [json.loads(line) for line in cold.stdout.splitlines()]
    assert len(rows) == 2 and all(row["bpm"] and "error" not in row for row in rows), rows
    assert "compiling librosa's kernels once" in cold.stderr
    assert list(cache.rglob("*.nbi"))

    for path in cache.rglob("*.nbc"):  # what two processes writing one kernel at once can leave
        path.write_bytes(os.urandom(path.stat().st_size))
    healed = estimate()
    assert healed.returncode == 0, healed.stderr
    assert "is corrupt" in healed.stderr and "compiling again" in healed.stderr
    assert all(json.loads(line)["bpm"] for line in healed.stdout.splitlines())
    again = estimate()  # verified once, the next run does not check or compile again
    assert again.returncode == 0 and "numba" not in again.stderr, again.stderr


# ---- 4. experiments: keep the winner, subsets --------------------------------------------------------------


def _tiny_experiment_project(root: Path) -> Path:
    """conf/ of this project and one stage that copies params.yaml: `dvc exp run` composes as it would."""
    shutil.copytree(PROJECT_ROOT / "conf", root / "conf")
    shutil.copy2(PROJECT_ROOT / "params.yaml", root / "params.yaml")
    (root / "dvc.yaml").write_text(
        "stages:\n  copy:\n    cmd: python -c \"import shutil; shutil.copy('params.yaml', 'seen.yaml')\"\n"
        "    params: [sidecar, annotator, run]\n    outs: [seen.yaml]\n"
    )
    run_tool(root, "git", "init", "-q")
    run_tool(root, "dvc", "init", "-q")
    run_tool(root, "dvc", "config", "hydra.enabled", "true")
    run_tool(root, "dvc", "config", "core.autostage", "true")
    run_tool(root, "dvc", "repro")
    git_commit(root, "baseline")
    return root


@pytest.mark.slow
def test_keep_a_winner_then_run_another_experiment(tmp_path: Path) -> None:
    root = _tiny_experiment_project(tmp_path)
    run_tool(root, "dvc", "exp", "run", "-n", "winner", "-S", "sidecar.caption_mode=events")
    run_tool(root, "git", "checkout", "--", ".")  # back to the baseline, as after looking at results
    kept = run_tool(root, sys.executable, "-m", "songset.cli", "keep", "winner")
    assert "sidecar.caption_mode" in kept.stderr
    config = (root / "conf" / "config.yaml").read_text()
    assert yaml.safe_load(config)["sidecar"] == {"caption_mode": "events"}
    assert "# Composed into params.yaml" in config  # comments kept
    # the group files stay what their settings models write: keep never makes `songset conf --check` fail
    run_tool(root, sys.executable, "-m", "songset.cli", "conf", "--check")
    git_commit(root, "keep the winner")

    run_tool(root, "dvc", "exp", "run", "-n", "next", "-S", "sidecar.min_bpm_confidence=0.4")
    seen = yaml.safe_load((root / "seen.yaml").read_text())
    assert seen["sidecar"]["caption_mode"] == "events"  # the kept setting survives the next experiment
    assert seen["sidecar"]["min_bpm_confidence"] == 0.4
    run_tool(root, "git", "checkout", "--", ".")
    run_tool(root, sys.executable, "-m", "songset.cli", "compose")  # `make params`
    assert yaml.safe_load((root / "params.yaml").read_text())["sidecar"]["caption_mode"] == "events"


def test_keep_never_makes_a_subset_the_default(tmp_path: Path) -> None:
    from songset.config import compose, to_plain
    from songset.keep import keep

    conf = tmp_path / "conf"
    shutil.copytree(PROJECT_ROOT / "conf", conf)
    target = to_plain(
        compose(["run.subset.count=3", "annotator=openai_audio", "annotator.concurrency=8"], conf)
    )
    result = keep(target, conf, tmp_path / "params.yaml")
    assert any("run.subset" in note for note in result.ignored)
    params = yaml.safe_load((tmp_path / "params.yaml").read_text())
    assert params["run"]["subset"] == {"songs": [], "count": None}
    assert (
        params["annotator"]["concurrency"] == 8
        and "- annotator: openai_audio" in (conf / "config.yaml").read_text()
    )
    assert yaml.safe_load((conf / "config.yaml").read_text())["annotator"] == {"concurrency": 8}
    from songset.conf_files import stale_conf_files

    assert stale_conf_files(conf) == []


def test_a_subset_in_the_workspace_stops_before_building_and_leaves_params_as_they_were(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from omegaconf import OmegaConf

    for i in range(3):
        write_tone(tmp_path / "audio" / f"s{i}.wav", 11.0, freq=300.0 + 50 * i)
    params = tmp_path / "params.yaml"
    cfg = OmegaConf.create(
        {"paths": {"audio": str(tmp_path / "audio")}, "run": {"subset": {"songs": [], "count": 1}}}
    )
    params.write_text(OmegaConf.to_yaml(cfg))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DVC_ROOT", str(tmp_path))  # what `dvc exp run` (no --temp) gives a stage
    with pytest.raises(ValueError, match="--temp"):
        stage_songs(cfg)
    assert OmegaConf.load(params).run.subset.count is None
    monkeypatch.setenv("DVC_ROOT", str(tmp_path.parent))  # an experiment's temporary copy
    assert len(stage_songs(cfg)) == 1


# ---- 5. editing a broken override -----------------------------------------------------------------------


def test_edit_a_broken_override_fixes_it_and_keeps_its_comments(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from test_lineage import build

    text = "# heard on the 2019 live record\nbpm: fast   # felt, not counted\nnotes: from the liner notes\n"
    sidecars = build(tmp_path, {"alpha": "notes: x\n"})
    overrides = tmp_path / "data" / "overrides"
    (overrides / "alpha.yaml").write_text(text)
    drafts: list[str] = []
    answers = iter([True])

    def editor(path: Path) -> None:
        drafts.append(path.read_text())
        fix = "bpm: 250fast" if len(drafts) == 1 else "bpm: 118"
        path.write_text(path.read_text().replace("bpm: fast", fix).replace("bpm: 250fast", fix))

    saved, override = edit_override("alpha", sidecars, overrides, editor=editor, reopen=lambda: next(answers))
    assert drafts[0].startswith("# ERROR: ") and "bpm" in drafts[0].splitlines()[0]  # no traceback
    assert "# heard on the 2019 live record" in drafts[0]
    assert "not valid:" in capsys.readouterr().err  # said before asking to re-open
    assert override == Override(bpm=118, notes="from the liner notes")
    written = saved.read_text()
    assert "# heard on the 2019 live record" in written and "# felt, not counted" in written
    assert yaml.safe_load(written) == {"bpm": 118, "notes": "from the liner notes"}


def test_edit_from_the_command_line_with_a_broken_override_and_no_terminal_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from test_lineage import build

    sidecars = build(tmp_path)
    (tmp_path / "data" / "overrides" / "beta.yaml").write_text("bpm: fast\n")
    monkeypatch.setenv("EDITOR", "true")  # saves what it was given: still broken
    monkeypatch.setattr("sys.stdin", open(os.devnull))  # noqa: SIM115
    code = main(
        ["edit", "beta", "--sidecars", str(sidecars), "--overrides", str(tmp_path / "data" / "overrides")]
    )
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and "bpm" in err.splitlines()[-1]


# ---- 6. lineage and 7. file modes -----------------------------------------------------------------------


def test_git_dirty_counts_an_untracked_override(tmp_path: Path) -> None:
    (tmp_path / "params.yaml").write_text("a: 1\n")
    run_tool(tmp_path, "git", "init", "-q")
    git_commit(tmp_path)
    assert git_lineage(tmp_path)["git_dirty"] is False
    (tmp_path / "data" / "overrides").mkdir(parents=True)
    (tmp_path / "data" / "overrides" / "new.yaml").write_text("bpm: 90\n")
    assert git_lineage(tmp_path)["git_dirty"] is True


def test_files_written_follow_the_umask(tmp_path: Path) -> None:
    code = (
        "import os, sys; os.umask(int(sys.argv[2], 8)); from pathlib import Path;"
        "from songset.io import atomic_write_text; p = Path(sys.argv[1]); atomic_write_text(p, 'x');"
        "print(oct(p.stat().st_mode & 0o777))"
    )
    for umask, mode in (("022", "0o644"), ("027", "0o640"), ("002", "0o664")):
        out = subprocess.run(
            [sys.executable, "-c", code, str(tmp_path / f"f{umask}"), umask],
            env=tool_env(),
            capture_output=True,
            text=True,
            check=True,
        )
        assert out.stdout.strip() == mode


# ---- 8. wrong input: non-zero, one line naming it ---------------------------------------------------------


def _one_line_naming(code: int, err: str, *names: str) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    assert code != 0 and len(lines) == 1, err
    assert all(name in lines[0] for name in names), lines[0]


@pytest.mark.parametrize(
    "argv, names",
    [
        (["report", "/nonexistent", "-o", "{tmp}/out"], ["/nonexistent"]),
        (["report", "{tmp}/raw", "-o", "{tmp}/out", "--compare", "/nonexistent"], ["/nonexistent"]),
        (
            ["report", "{tmp}/raw", "-o", "{tmp}/out", "--compare", "{tmp}/empty"],
            ["empty", "no raw annotations"],
        ),
        (["estimate", "/nonexistent.wav"], ["/nonexistent.wav"]),
        (["estimate", "{tmp}/s.wav", "sidecar.caption_mod=events"], ["sidecar.caption_mod"]),
        (
            ["estimate", "{tmp}/s.wav", "estimator.tempo_prior_bpm=fast"],
            ["estimator.tempo_prior_bpm", "fast"],
        ),
        (
            ["estimate", "{tmp}/s.wav", "+estimator.tempo_prior=80"],
            ["estimator.tempo_prior", "no such setting"],
        ),
        (["compose", "sidecar.caption_mode=bogus", "-o", "{tmp}/p.yaml"], ["sidecar.caption_mode"]),
        (["compose", "report.worst_songs=many", "-o", "{tmp}/p.yaml"], ["report.worst_songs"]),
        (
            ["compose", "lyrics.min_vocal_confidence=high", "-o", "{tmp}/p.yaml"],
            ["lyrics.min_vocal_confidence"],
        ),
        (
            ["compose", "transcriber=openai", "+transcriber.concurency=8", "-o", "{tmp}/p.yaml"],
            ["transcriber.concurency", "no such setting"],
        ),
    ],
)
def test_wrong_input_exits_non_zero_with_one_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    names: list[str],
) -> None:
    monkeypatch.chdir(PROJECT_ROOT)
    (tmp_path / "empty").mkdir()
    atomic_write_json(tmp_path / "raw" / "a.json", raw_annotation("a"))
    write_tone(tmp_path / "s.wav", 11.0)
    code = main([a.replace("{tmp}", str(tmp_path)) for a in argv])
    _one_line_naming(code, capsys.readouterr().err, *names)
    assert not (tmp_path / "p.yaml").exists() and not (tmp_path / "out" / "quality.json").exists()


def test_validate_an_empty_folder_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(tmp_path)]) == 1
    assert "no sidecars" in capsys.readouterr().out


def test_a_missing_openai_key_fails_once_before_any_song(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(PROJECT_ROOT)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    raws = []
    for name in ("a", "b", "c"):
        atomic_write_json(tmp_path / "raw" / f"{name}.json", raw_annotation(name))
        raws.append(str(tmp_path / "raw" / f"{name}.json"))
    code = main(["clean", *raws, "-o", str(tmp_path / "clean"), "cleaner=openai", "--no-cache"])
    _one_line_naming(code, capsys.readouterr().err, "OPENAI_API_KEY")
    assert not (tmp_path / "clean").exists()


# ---- 1 (library level): every cached result takes its identity from the current file ---------------------


def test_cached_results_are_named_after_the_current_file(tmp_path: Path) -> None:
    first = write_tone(tmp_path / "a" / "first.wav", 11.0)
    options = RunOptions(cache_dir=tmp_path / "cache", workers=1)
    annotator = {"_target_": "songset.annotators.descriptor.DescriptorAnnotator"}
    estimator = {"_target_": "songset.estimators.librosa_estimator.LibrosaEstimator"}
    run_annotate(songs_from_paths([first]), annotator, tmp_path / "raw1", options)
    run_estimate(songs_from_paths([first]), estimator, tmp_path / "meta1", options)
    renamed = first.rename(tmp_path / "a" / "second.wav")
    raw = run_annotate(songs_from_paths([renamed]), annotator, tmp_path / "raw2", options)
    meta = run_estimate(songs_from_paths([renamed]), estimator, tmp_path / "meta2", options)
    assert raw.summary.cached == ["second"] and meta.summary.cached == ["second"]
    for folder in ("raw2", "meta2"):
        data = json.loads((tmp_path / folder / "second.json").read_text())
        assert (data["id"], data["audio_file"]) == ("second", "second.wav")
