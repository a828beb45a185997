"""README "Lineage": `songset trace` shows every stage that made a sidecar, and `trace --check` names what no
longer matches dvc.lock. What a person reads to decide whether a dataset can be trusted, pinned line by line.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import provenance
from test_lineage import build, write_lock
from test_sidecar_rules import sidecar_for

from songset.lineage import check_against_lock, dir_md5, find_sidecar, trace_lines
from songset.schemas import PromptInfo, Sidecar

PROMPT = PromptInfo(name="timestamped_v1", text="Describe the song.", sha256="0123456789abcdef" * 4)


def stage(name: str, *, stamp: dict[str, Any] | None = None, **kw: Any) -> Any:
    """A provenance block; `stamp` sets what is not built but written on (lineage, an old file's date)."""
    return provenance(name, **kw).model_copy(update=stamp or {})


def traced(**source: Any) -> Sidecar:
    """A sidecar whose source carries exactly `source` (provenance, overridden, warnings, flags)."""
    sidecar = sidecar_for()
    return sidecar.model_copy(update={"source": sidecar.source.model_copy(update=source)})


def test_trace_shows_every_stage_in_pipeline_order_word_for_word() -> None:
    stages = {  # stored out of order: trace prints the pipeline's order, then the other stages, then sidecar
        "sidecar": stage(
            "sidecar",
            backend="sidecar",
            cache_key="5" * 64,
            settings={"min_bpm_confidence": 0.3},
            extra={"override_notes": "counted by hand"},
            stamp={"git_revision": "a" * 40, "git_dirty": True, "params_sha256": "b" * 64},
        ),
        "lyrics": provenance("lyrics", backend="lyrics", cache_key="4" * 64),
        "estimate": provenance("estimate", backend="librosa", model_revision="v8", cache_key="3" * 64),
        "clean": provenance("clean", backend="rules", cache_key="2" * 64, settings={}),
        "annotate": stage(
            "annotate",
            backend="af3_hf",
            model_id="nvidia/audio-flamingo-3-hf",
            model_revision="c0ffee",
            adapter="nvidia/audio-flamingo-3-hf/think",
            adapter_revision="beef",
            prompt=PROMPT,
            settings={"temperature": 0.0, "max_new_tokens": 512},
            cache_key="1" * 64,
            stamp={"created_at": "2026-02-01T10:00:00Z"},  # older files carry a date
        ),
    }
    sidecar = traced(
        provenance=stages,
        overridden=["bpm", "keyscale"],
        warnings=["override bpm 70 differs", "song.ogg: clipped"],
        flags=["override_bpm_disagrees", "over_240s"],
    )
    assert trace_lines(sidecar, Path("data/sidecars/song.json")) == [
        "song: data/sidecars/song.json",
        f"  audio: song.ogg sha256={'a' * 16}",
        "  -> annotate: backend=af3_hf model=nvidia/audio-flamingo-3-hf@c0ffee "
        "adapter=nvidia/audio-flamingo-3-hf/think@beef",
        "       prompt=timestamped_v1 sha256=0123456789abcdef",
        "       settings: temperature=0.0, max_new_tokens=512",
        f"       cache_key={'1' * 16} created=2026-02-01T10:00:00Z",
        "  -> clean: backend=rules",
        "       settings: (none)",
        f"       cache_key={'2' * 16}",
        "  -> estimate: backend=librosa model=@v8",
        "       settings: (none)",
        f"       cache_key={'3' * 16}",
        "  -> lyrics: backend=lyrics",
        "       settings: (none)",
        f"       cache_key={'4' * 16}",
        "  -> sidecar: backend=sidecar",
        "       settings: min_bpm_confidence=0.3",
        f"       cache_key={'5' * 16}",
        f"       git={'a' * 40} (dirty) params_sha256={'b' * 16}",
        "  overrides applied: bpm, keyscale",
        "  override notes: counted by hand",
        "  warning: override bpm 70 differs",
        "  warning: song.ogg: clipped",
        "  flags: override_bpm_disagrees, over_240s",
    ]


@pytest.mark.parametrize("dirty", [False, None])
def test_trace_of_a_clean_or_unknown_checkout_says_so_plainly(dirty: bool | None) -> None:
    side = stage("sidecar", backend="sidecar", cache_key="5" * 64, stamp={"git_dirty": dirty})
    lines = trace_lines(
        traced(provenance={"sidecar": side}, overridden=[], warnings=[], flags=[]), Path("s.json")
    )
    assert lines[-2:] == ["       git=unknown params_sha256=unknown", "  overrides applied: none"]


def test_trace_without_a_sidecar_block_still_lists_the_upstream_chain() -> None:
    stages = {
        "annotate": provenance(
            "annotate", backend="descriptor", model_id="m", adapter="lora", cache_key="1" * 64
        )
    }
    lines = trace_lines(traced(provenance=stages, overridden=[], warnings=[], flags=[]), Path("s.json"))
    assert lines[2:] == [
        "  -> annotate: backend=descriptor model=m adapter=lora",
        "       settings: (none)",
        f"       cache_key={'1' * 16}",
        "  overrides applied: none",
    ]


# ---- trace --check ----------------------------------------------------------------------------------------


def test_check_without_dvc_lock_says_to_run_repro(tmp_path: Path) -> None:
    build(tmp_path)
    with pytest.raises(ValueError, match=r"dvc\.lock: no dvc\.lock \(run `dvc repro` first\)"):
        check_against_lock(tmp_path, Path("data/sidecars"))


def test_check_reads_an_absolute_sidecar_folder_as_the_lock_names_it(tmp_path: Path) -> None:
    out = build(tmp_path)
    write_lock(tmp_path, out)
    (out / "alpha.json").write_text("{}")
    absolute = check_against_lock(tmp_path, out)
    assert absolute.lines() == check_against_lock(tmp_path, Path("data/sidecars")).lines()
    assert absolute.notes == []
    assert "alpha" in absolute.stale


def test_a_broken_sidecar_is_stale_and_every_other_song_is_still_checked(tmp_path: Path) -> None:
    out = build(tmp_path)
    (out / "aaa.json").write_text("{not json")
    write_lock(tmp_path, out, target_segment_s=7.5)
    result = check_against_lock(tmp_path, Path("data/sidecars"))
    assert result.stale["aaa"] == ["not a valid sidecar (JSONDecodeError)"]
    assert sorted(result.stale) == ["aaa", "alpha", "beta"]


def test_a_missing_provenance_block_is_named_and_later_stages_are_still_compared(tmp_path: Path) -> None:
    out = build(tmp_path)
    path = out / "alpha.json"
    data = Sidecar.model_validate_json(path.read_text())
    provenance_left = {k: v for k, v in data.source.provenance.items() if k != "annotate"}
    source = data.source.model_copy(update={"provenance": provenance_left})
    path.write_text(data.model_copy(update={"source": source}).model_dump_json())
    write_lock(tmp_path, out)
    lock = yaml.safe_load((tmp_path / "dvc.lock").read_text())
    lock["stages"]["sidecars"]["params"]["params.yaml"]["sidecar"] = {"min_bpm_confidence": 0.9}
    (tmp_path / "dvc.lock").write_text(yaml.safe_dump(lock))
    result = check_against_lock(tmp_path, Path("data/sidecars"))
    assert result.stale["alpha"][0] == "no annotate provenance"
    assert "sidecar.min_bpm_confidence is 0.9 in dvc.lock but 0.3 here" in result.stale["alpha"]
    # `songset trace --check` prints one line per stale song, its reasons joined by "; "
    alpha = next(line for line in result.lines() if line.startswith("alpha: "))
    assert alpha.startswith("alpha: stale: no annotate provenance; ")
    assert alpha.endswith("; sidecar.min_bpm_confidence is 0.9 in dvc.lock but 0.3 here")


def test_params_tracked_key_by_key_are_compared_and_other_groups_ignored(tmp_path: Path) -> None:
    """dvc.yaml may track `annotator.target_segment_s` alone; a stage's other params groups are not its own."""
    out = build(tmp_path)
    write_lock(tmp_path, out)
    lock = yaml.safe_load((tmp_path / "dvc.lock").read_text())
    lock["stages"]["annotate"]["params"]["params.yaml"] = {
        "annotator.target_segment_s": 7.5,
        "paths": {"target_segment_s": 20.0, "max_segments": 99},
    }
    (tmp_path / "dvc.lock").write_text(yaml.safe_dump(lock))
    result = check_against_lock(tmp_path, Path("data/sidecars"))
    assert result.stale["alpha"] == ["annotator.target_segment_s is 7.5 in dvc.lock but 20.0 here"]


def test_a_lock_without_the_sidecar_output_is_a_note_not_a_pass(tmp_path: Path) -> None:
    out = build(tmp_path)
    write_lock(tmp_path, out)
    lock = yaml.safe_load((tmp_path / "dvc.lock").read_text())
    del lock["stages"]["sidecars"]["outs"]
    (tmp_path / "dvc.lock").write_text(yaml.safe_dump(lock))
    result = check_against_lock(tmp_path, Path("data/sidecars"))
    assert result.notes == ["dvc.lock records no output data/sidecars; file hashes not checked"]


def test_without_the_cached_listing_the_folder_is_named_with_what_to_run(tmp_path: Path) -> None:
    out = build(tmp_path)
    write_lock(tmp_path, out)
    locked = dir_md5(out)
    (out / "alpha.json").write_text((out / "alpha.json").read_text() + " ")
    assert check_against_lock(tmp_path, Path("data/sidecars")).lines() == [
        f"dataset: stale: data/sidecars differs from dvc.lock ({locked}); run `dvc pull` or `dvc repro`"
    ]


def test_added_and_missing_files_are_named_per_song(tmp_path: Path) -> None:
    """With DVC's listing of the locked folder cached: a file added by hand, a lyrics file gone."""
    out = build(tmp_path)
    (out / "beta.lyrics.txt").write_text("[Verse]\nwords\n")
    locked = _dvc_add(tmp_path, out)
    (out / "beta.lyrics.txt").unlink()
    shutil.copy(out / "alpha.json", out / "gamma.json")
    write_lock(tmp_path, out)
    lock = yaml.safe_load((tmp_path / "dvc.lock").read_text())
    lock["stages"]["sidecars"]["outs"][0]["md5"] = locked
    (tmp_path / "dvc.lock").write_text(yaml.safe_dump(lock))
    assert check_against_lock(tmp_path, Path("data/sidecars")).lines() == [
        "beta: stale: beta.lyrics.txt is in dvc.lock but missing",
        "gamma: stale: gamma.json is not in dvc.lock",
    ]


def _dvc_add(root: Path, folder: Path) -> str:
    """DVC's own hash of `folder` (and its listing in root/.dvc/cache), from `dvc add` in a no-git repo."""
    dvc = Path(sys.executable).parent / "dvc"
    for args in (["init", "--no-scm", "-q"], ["add", "-q", str(folder.relative_to(root))]):
        subprocess.run([str(dvc), *args], cwd=root, check=True, capture_output=True, timeout=120)
    record = yaml.safe_load((folder.parent / f"{folder.name}.dvc").read_text())
    return str(record["outs"][0]["md5"])


def test_dir_md5_is_dvcs_own_hash_of_the_folder(tmp_path: Path) -> None:
    """`trace --check` compares dir_md5 with what dvc.lock records: it must be DVC's hash, not a look-alike."""
    out = build(tmp_path)
    (out / "alpha.lyrics.txt").write_text("[Verse]\nwords\n")
    expected = dir_md5(out)
    assert _dvc_add(tmp_path, out) == expected


def test_trace_finds_a_sidecar_by_song_or_by_path_and_names_what_it_looked_for(tmp_path: Path) -> None:
    out = build(tmp_path)
    assert find_sidecar("alpha", out) == out / "alpha.json"
    assert find_sidecar(str(out / "beta.json"), tmp_path / "elsewhere") == out / "beta.json"
    (out / "alpha.lyrics.txt").write_text("[Verse]\nwords\n")
    for asked in ("gamma", str(out / "alpha.lyrics.txt"), str(out / "missing.json")):
        with pytest.raises(
            ValueError, match=rf"^no sidecar for {re.escape(repr(asked))} in {re.escape(str(out))}$"
        ):
            find_sidecar(asked, out)
