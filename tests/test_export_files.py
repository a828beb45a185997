"""What export writes to disk beyond the samples: the folder's permissions (survivors of
`python bench/mutation.py export`, see bench/mutation_notes.md)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from test_export_formats import project
from test_export_warnings import edit

from songset.export import export_dataset


def test_the_exported_folder_follows_the_umask_not_mkdtemps_private_mode(tmp_path: Path) -> None:
    """The export is built in a private temporary folder (0700) and moved into place: a trainer running
    as another user must still read it, as it reads everything else the umask lets it."""
    data = project(tmp_path, {"a": ".wav"})
    old = os.umask(0o027)
    try:
        export_dataset(data / "sidecars", data / "audio", tmp_path / "export")
    finally:
        os.umask(old)
    assert (tmp_path / "export").stat().st_mode & 0o7777 == 0o750


def test_an_instrumental_states_acesteps_own_instrumental_values_whatever_its_sidecar_left_empty(
    tmp_path: Path,
) -> None:
    """ACE-Step's sample editor saves an instrumental as `[Instrumental]` and language `unknown`
    (training_handlers.py, f30aee4); a sidecar without a vocal language must not export `null` there."""
    data = project(tmp_path, {"a": ".wav"})
    edit(data, "a", lyrics=" [Instrumental] ", vocal_language=None)
    out = tmp_path / "export"
    export_dataset(data / "sidecars", data / "audio", out)
    (sample,) = json.loads((out / "dataset.json").read_text())["samples"]
    assert (sample["is_instrumental"], sample["lyrics"], sample["language"]) == (
        True,
        "[Instrumental]",
        "unknown",
    )


def test_the_path_errors_say_where_to_export_instead(tmp_path: Path) -> None:
    """Outside ACE-Step's working directory: the error names the folder to use (ACE-Step's path_safety.py
    accepts only paths under it); with no checkout around, the warning says how to make the export
    relocatable."""
    data = project(tmp_path, {"a": ".wav"})
    root = tmp_path / "ACE-Step-1.5"
    (root / "acestep" / "training").mkdir(parents=True)
    with pytest.raises(ValueError) as refused:
        export_dataset(data / "sidecars", data / "audio", tmp_path / "elsewhere" / "mine", acestep_root=root)
    message = str(refused.value)
    assert "ACE-Step accepts datasets only under it (acestep/training/path_safety.py)" in message
    assert message.endswith(f"export to a folder inside it, e.g. {root / 'datasets' / 'mine'}")
    result = export_dataset(data / "sidecars", data / "audio", tmp_path / "plain" / "mine")
    assert any(
        "export into a folder under ACE-Step's working directory (e.g. ACE-Step-1.5/datasets/NAME) to make it "
        "relocatable and readable by ACE-Step versions that accept only paths under it" in w
        for w in result.warnings
    )
