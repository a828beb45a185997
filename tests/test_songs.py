from pathlib import Path

from songset.songs import discover_songs, safe_stem


def test_safe_stem_removes_separators_and_leading_dashes() -> None:
    assert safe_stem("--rm -rf ..") == "rm_-rf"
    assert safe_stem("My Song (live)") == "My_Song_(live)"
    assert safe_stem("Ünïcode Ballade") == "Ünïcode_Ballade"
    assert safe_stem("...") == "song"


def test_duplicate_stems_in_two_folders_get_distinct_ids(tmp_path: Path) -> None:
    for folder in ("album1", "album2"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "intro.wav").write_bytes(b"x")
    (tmp_path / "notes.txt").write_text("not audio")
    songs = discover_songs(tmp_path)
    assert [s.id for s in songs] == ["album1__intro", "album2__intro"]
