from __future__ import annotations

from pathlib import Path

import pytest
from test_validate import write_sidecar

from songset.cli import main, split_overrides


def test_files_then_overrides(tmp_path: Path) -> None:
    odd = tmp_path / "a=b.wav"
    odd.write_bytes(b"x")
    files, overrides = split_overrides(
        ["x.wav", str(odd), "annotator=descriptor", "+run.extra=1", "sidecar.x=y"]
    )
    assert files == [Path("x.wav"), odd]
    assert overrides == ["annotator=descriptor", "+run.extra=1", "sidecar.x=y"]


def test_validate_exits_1_with_one_line_per_broken_song_and_rule(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_sidecar(tmp_path, "fine")
    write_sidecar(tmp_path, "broken", timesignature="5")
    assert main(["validate", str(tmp_path)]) == 1
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(str(tmp_path / "broken.json"))
    assert "timesignature" in lines[0]


def test_validate_passes_a_good_folder(tmp_path: Path) -> None:
    write_sidecar(tmp_path, "fine")
    assert main(["validate", str(tmp_path)]) == 0


def test_compose_writes_params(tmp_path: Path) -> None:
    out = tmp_path / "params.yaml"
    assert main(["compose", "sidecar.caption_mode=events", "-o", str(out)]) == 0
    assert "caption_mode: events" in out.read_text()


def test_estimate_json_prints_one_object_per_file_and_nulls_for_failures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from conftest import write_tone

    good = write_tone(tmp_path / "good.wav", 12.0)
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"")
    code = main(["estimate", str(good), str(bad), "--json", "--no-cache", "estimator.key_profile=temperley"])
    assert code == 1  # one file failed
    rows = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    assert [r["file"] for r in rows] == [str(good), str(bad)]
    keys = {"file", "duration", "bpm", "bpm_confidence", "keyscale", "key_confidence", "timesignature"}
    keys |= {"timesignature_confidence"}
    assert set(rows[0]) == keys and set(rows[1]) == keys | {"error"}  # a failed row has every column
    assert all(rows[1][k] is None for k in keys - {"file"})
    assert abs(rows[0]["duration"] - 12.0) < 0.01
    assert rows[1]["bpm"] is None and "empty" in rows[1]["error"]


def test_annotate_clean_report_chain(tmp_path: Path) -> None:
    import json

    from conftest import write_tone

    audio = [write_tone(tmp_path / f"song{i}.wav", 12.0, freq=220.0 * (i + 1)) for i in range(2)]
    cache = str(tmp_path / "cache")
    raw, clean, out = tmp_path / "raw", tmp_path / "clean", tmp_path / "report"
    assert main(["annotate", *map(str, audio), "-o", str(raw), "--cache-dir", cache]) == 0
    raw_files = sorted(raw.glob("*.json"))
    assert [p.stem for p in raw_files] == ["song0", "song1"]
    assert json.loads(raw_files[0].read_text())["provenance"]["backend"] == "descriptor"
    assert main(["clean", *map(str, raw_files), "-o", str(clean), "--cache-dir", cache]) == 0
    assert json.loads((clean / "song0.json").read_text())["caption"]
    assert main(["report", str(raw), "-o", str(out)]) == 0
    quality = json.loads((out / "quality.json").read_text())
    assert quality["songs"] == 2
    assert {"exact_duplicate_songs", "near_duplicate_pairs", "template_reuse", "per_song"} <= set(quality)


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("clean", ("cleaner=rules", "max_caption_words", "default 60", "cleaner=openai", "schema_retries")),
        ("report", ("template_min_other_songs", "default 3", "near_duplicate_shingle")),
        ("annotate", ("annotator=descriptor", "annotator=openai_audio")),
    ],
)
def test_help_lists_each_backends_settings_with_defaults(
    command: str, expected: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as done:
        main([command, "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    for text in expected:
        assert text in out, text
