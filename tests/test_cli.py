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
