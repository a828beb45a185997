from pathlib import Path

from songset.cache import ResultCache, cache_key


def test_key_depends_on_every_part_and_not_on_order() -> None:
    a = cache_key(audio="x", settings={"a": 1, "b": 2})
    assert a == cache_key(settings={"b": 2, "a": 1}, audio="x")
    assert a != cache_key(audio="x", settings={"a": 1, "b": 3})
    assert a != cache_key(audio="y", settings={"a": 1, "b": 2})


def test_put_get_and_corrupt_entry_is_a_miss(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path)
    key = cache_key(x=1)
    assert cache.get(key) is None
    cache.put(key, {"value": 1})
    assert cache.get(key) == {"value": 1} and key in cache
    cache.path(key).write_text("{half-written")
    assert cache.get(key) is None
    assert not list(tmp_path.rglob("*.tmp"))


def test_stale_temp_files_of_a_killed_run_are_swept(tmp_path: Path) -> None:
    import os

    cache = ResultCache(tmp_path)
    cache.put(cache_key(x=1), {"v": 1})
    old = cache.path(cache_key(x=1)).parent / ".entry.json.abc.tmp"
    new = cache.path(cache_key(x=1)).parent / ".entry.json.def.tmp"
    old.write_text("{half")
    new.write_text("{half")
    os.utime(old, (1, 1))
    assert cache.sweep_stale_temp_files() == 1
    assert not old.exists() and new.exists() and cache.get(cache_key(x=1)) == {"v": 1}
