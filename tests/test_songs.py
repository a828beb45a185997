from pathlib import Path

from songset.songs import discover_songs, safe_stem


def test_safe_stem_removes_separators_and_leading_dashes() -> None:
    assert safe_stem("--rm -rf ..") == "rm_-rf"
    assert safe_stem("My Song (live)") == "My_Song_(live)"
    assert safe_stem("Ünïcode Ballade") == "Ünïcode_Ballade"
    assert safe_stem("...") == "song"
    assert safe_stem("../../etc/passwd") == "etc_passwd"


def test_duplicate_stems_get_content_ids_that_survive_folder_renames(tmp_path: Path) -> None:
    for folder, content in (("album1", b"one"), ("album2", b"two")):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "intro.wav").write_bytes(content)
    (tmp_path / "notes.txt").write_text("not audio")
    before = {s.path.read_bytes(): s.id for s in discover_songs(tmp_path)}
    assert len(set(before.values())) == 2 and all(i.startswith("intro-") for i in before.values())
    (tmp_path / "album1").rename(tmp_path / "renamed")
    after = {s.path.read_bytes(): s.id for s in discover_songs(tmp_path)}
    assert after == before


def test_byte_identical_files_are_one_song(tmp_path: Path) -> None:
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "take.flac").write_bytes(b"same")
    songs = discover_songs(tmp_path)
    assert [s.duplicate_of for s in songs] == [None, tmp_path / "a" / "take.flac"]


def test_subset_by_ids_or_count_and_unknown_ids_are_named(tmp_path: Path) -> None:
    import pytest

    from songset.songs import select_songs

    for name in ("c", "a", "b"):
        (tmp_path / f"{name}.wav").write_bytes(name.encode())
    songs = discover_songs(tmp_path)
    assert [s.id for s in select_songs(songs, ["b", "a", "b"])] == ["b", "a"]
    assert [s.id for s in select_songs(songs, count=2)] == ["a", "b"]
    assert select_songs(songs) == songs
    with pytest.raises(ValueError, match="not in the audio folder: zzz"):
        select_songs(songs, ["a", "zzz"])
    with pytest.raises(ValueError, match="at least 1"):
        select_songs(songs, count=0)


def test_stage_songs_reads_run_subset(tmp_path: Path) -> None:
    from omegaconf import OmegaConf

    from songset.stage_main import stage_songs

    for name in ("x", "y", "z"):
        (tmp_path / f"{name}.flac").write_bytes(name.encode())
    cfg = OmegaConf.create({"paths": {"audio": str(tmp_path)}, "run": {"subset": {"songs": [], "count": 1}}})
    assert [s.id for s in stage_songs(cfg)] == ["x"]
