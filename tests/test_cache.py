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
