"""What export writes to disk beyond the samples: the folder's permissions (survivors of
`python bench/mutation.py export`, see bench/mutation_notes.md)."""

from __future__ import annotations

import os
from pathlib import Path

from test_export_formats import project

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
