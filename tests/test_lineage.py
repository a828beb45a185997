"""Lineage without DVC runs: override disagreement warnings, `trace`, `trace --check` against a written
dvc.lock, and `songset edit` driven by a scripted $EDITOR."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pytest
import yaml
from conftest import clean_annotation, provenance, song_metadata

from songset.cli import main
from songset.edit import edit_override
from songset.io import atomic_write_json
from songset.lineage import check_against_lock, dir_md5
from songset.schemas import Override, Sidecar
from songset.sidecars import override_disagreements
from songset.stages.base import RunOptions
from songset.stages.sidecars import run_sidecars

SIDECAR_CFG = {"min_bpm_confidence": 0.3}
ANNOTATOR = {"target_segment_s": 20.0, "max_segments": 12}


def build(root: Path, overrides: dict[str, str] | None = None) -> Path:
    """Two songs' sidecars under root/data/sidecars, from schema-valid upstream files."""
    data = root / "data"
    for song in ("alpha", "beta"):
        stages = {"annotate": provenance("annotate", settings=ANNOTATOR), "clean": provenance("clean")}
        atomic_write_json(data / "clean" / f"{song}.json", clean_annotation(song, provenance=stages))
        atomic_write_json(data / "metadata" / f"{song}.json", song_metadata(song, key_runner_up="A major"))
    (data / "overrides").mkdir(parents=True, exist_ok=True)
    for song, text in (overrides or {}).items():
        (data / "overrides" / f"{song}.yaml").write_text(text)
    out = data / "sidecars"
    run_sidecars(
        data / "clean",
        data / "metadata",
        data / "lyrics",
        data / "overrides",
        SIDECAR_CFG,
        out,
        RunOptions(cache_dir=None),
        lineage={"git_revision": "a" * 40, "git_dirty": False, "params_sha256": "b" * 64},
    )
    return out


def write_lock(root: Path, sidecars: Path, **annotator: object) -> None:
    settings = dict(ANNOTATOR)
    lock = {
        "schema": "2.0",
        "stages": {
            "annotate": {
                "params": {"params.yaml": {"annotator": {"_target_": "x.Y", **settings, **annotator}}}
            },
            "sidecars": {
                "params": {"params.yaml": {"sidecar": SIDECAR_CFG}},
                "outs": [{"path": "data/sidecars", "md5": dir_md5(sidecars)}],
            },
        },
    }
    (root / "dvc.lock").write_text(yaml.safe_dump(lock))


# ---- disagreement warnings --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bpm", "flag"),
    [
        (122, None),
        (131, None),
        (100, "override_bpm_disagrees"),
        (243, "override_bpm_octave"),
        (61, "override_bpm_octave"),
    ],
)
def test_bpm_disagreement_beyond_8_percent_and_octaves_noted_apart(bpm: int, flag: str | None) -> None:
    warnings, flags = override_disagreements(Override(bpm=bpm), song_metadata(bpm=121.6))
    assert flags == ([flag] if flag else [])
    assert len(warnings) == len(flags)
    if flag == "override_bpm_octave":
        assert "tempo octave" in warnings[0]


@pytest.mark.parametrize(
    ("key", "disagrees"),
    [("F# minor", False), ("Gb minor", False), ("A major", False), ("C major", True), ("F# major", True)],
)
def test_key_disagrees_only_when_neither_estimate_nor_runner_up(key: str, disagrees: bool) -> None:
    meta = song_metadata(keyscale="F# minor", key_runner_up="A major")
    warnings, flags = override_disagreements(Override(keyscale=key), meta)
    assert (flags == ["override_key_disagrees"]) is disagrees
    if disagrees:
        assert "runner-up A major" in warnings[0]


def test_disagreement_lands_in_sidecar_warnings_and_trace(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = build(tmp_path, {"alpha": "bpm: 70\nkeyscale: C major\n"})
    alpha = Sidecar.model_validate_json((out / "alpha.json").read_text())
    assert alpha.bpm == 70 and alpha.keyscale == "C major"  # the human still wins
    assert {"override_bpm_disagrees", "override_key_disagrees"} <= set(alpha.source.flags)
    assert any("override bpm 70" in w for w in alpha.source.warnings)
    assert alpha.source.provenance["sidecar"].git_revision == "a" * 40
    assert main(["trace", "alpha", "--sidecars", str(out)]) == 0
    text = capsys.readouterr().out
    assert "warning: override bpm 70" in text and "overrides applied: bpm, keyscale" in text
    assert f"git={'a' * 40} params_sha256={'b' * 16}" in text


# ---- trace --check --------------------------------------------------------------------------------------


def test_check_passes_then_names_a_changed_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = build(tmp_path)
    write_lock(tmp_path, out)
    assert check_against_lock(tmp_path, Path("data/sidecars")).stale == {}
    write_lock(tmp_path, out, target_segment_s=7.5)
    result = check_against_lock(tmp_path, Path("data/sidecars"))
    assert set(result.stale) == {"alpha", "beta"}
    assert "annotator.target_segment_s is 7.5 in dvc.lock" in result.lines()[0]
    monkeypatch.chdir(tmp_path)
    assert main(["trace", "--check", "--sidecars", "data/sidecars"]) == 1


def test_check_catches_a_hand_edited_sidecar_per_song_when_the_dir_listing_is_cached(tmp_path: Path) -> None:
    out = build(tmp_path)
    write_lock(tmp_path, out)
    listing = [
        {"md5": hashlib.md5(p.read_bytes()).hexdigest(), "relpath": p.name} for p in sorted(out.iterdir())
    ]
    digest = dir_md5(out).removesuffix(".dir")
    cached = tmp_path / ".dvc" / "cache" / "files" / "md5" / digest[:2] / f"{digest[2:]}.dir"
    cached.parent.mkdir(parents=True)
    cached.write_text(json.dumps(listing))
    path = out / "beta.json"
    path.write_text(path.read_text().replace('"bpm": 122', '"bpm": 90'))
    result = check_against_lock(tmp_path, Path("data/sidecars"))
    assert result.lines() == ["beta: stale: beta.json changed since dvc.lock"]
    cached.unlink()  # without the cached listing the folder as a whole is reported
    assert list(check_against_lock(tmp_path, Path("data/sidecars")).stale) == ["dataset"]


# ---- edit -------------------------------------------------------------------------------------------------

EDITOR_SCRIPT = """
import os, sys
path = sys.argv[1]
text = open(path, encoding="utf-8").read()
for pair in os.environ["EDIT_SUBS"].split("|"):
    old, new = pair.split("=>")
    text = text.replace(old, new)
open(path, "w", encoding="utf-8").write(text)
"""


@pytest.fixture
def editor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    script = tmp_path / "editor.py"
    script.write_text(EDITOR_SCRIPT)
    monkeypatch.setenv("EDITOR", f"{sys.executable} {script}")
    monkeypatch.delenv("VISUAL", raising=False)
    return script


def test_edit_prefills_saves_only_what_changed_and_keeps_earlier_decisions(
    tmp_path: Path, editor: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = build(tmp_path, {"alpha": "notes: from the liner notes\nlanguage: en\n"})
    overrides = tmp_path / "data" / "overrides"
    seen: list[str] = []

    def recording_editor(path: Path) -> None:
        seen.append(path.read_text())
        from songset.edit import run_editor

        run_editor(path)

    monkeypatch.setenv("EDIT_SUBS", "bpm: 122=>bpm: 118")
    saved, override = edit_override("alpha", out, overrides, editor=recording_editor)
    template = seen[0]
    assert "bpm: 122" in template and "keyscale: F# minor" in template and "caption: Jazz" in template
    assert "#   bpm: whole beats per minute" in template
    assert override == Override(bpm=118, language="en", notes="from the liner notes")
    on_disk = yaml.safe_load(saved.read_text())
    assert on_disk == {"bpm": 118, "language": "en", "notes": "from the liner notes"}


def test_edit_refuses_invalid_yaml_naming_the_field(
    tmp_path: Path, editor: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = build(tmp_path)
    monkeypatch.setenv("EDIT_SUBS", "bpm: 122=>bpm: fast")
    monkeypatch.chdir(tmp_path)
    assert main(["edit", "beta", "--sidecars", str(out), "--overrides", "data/overrides"]) == 2
    assert "bpm" in capsys.readouterr().err
    assert not (tmp_path / "data" / "overrides" / "beta.yaml").exists()


def test_edit_reopens_with_the_error_until_valid(tmp_path: Path) -> None:
    out = build(tmp_path)
    drafts: list[str] = []

    def editor(path: Path) -> None:
        text = path.read_text()
        drafts.append(text)
        new = "timesignature: '7'" if len(drafts) == 1 else "timesignature: '3'"
        path.write_text(text.replace("timesignature: '4'", new).replace("timesignature: '7'", new))

    saved, override = edit_override(
        "beta", out, tmp_path / "data" / "overrides", editor=editor, reopen=lambda: True
    )
    assert drafts[1].startswith("# ERROR: ") and "timesignature" in drafts[1].splitlines()[0]
    assert override == Override(timesignature="3")
    assert yaml.safe_load(saved.read_text()) == {"timesignature": "3"}
