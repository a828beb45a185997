from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from songset.cache import ResultCache
from songset.io import atomic_write_json
from songset.runner import SongError, SongJob, run_stage
from songset.schemas import SongFailure


class Out(BaseModel):
    id: str
    value: int


CALLS: list[str] = []


def square(job: SongJob) -> Out:
    CALLS.append(job.id)
    if job.inputs["n"] < 0:
        raise SongError(f"{job.file}: negative input")
    return Out(id=job.id, value=job.inputs["n"] ** 2)


def jobs(*values: int) -> list[SongJob]:
    return [SongJob(id=f"s{v}", file=Path(f"s{v}.wav"), key=f"key{v}", inputs={"n": v}) for v in values]


def writer(out: Path):  # type: ignore[no-untyped-def]
    return lambda job, model: atomic_write_json(out / f"{job.id}.json", model)


def test_failures_are_recorded_and_others_still_build(tmp_path: Path) -> None:
    result = run_stage("t", jobs(1, -2, 3), square, Out, None, writer(tmp_path))
    assert result.summary.computed == ["s1", "s3"]
    assert [f.id for f in result.summary.failed] == ["s-2"]
    assert "s-2.wav: negative input" in result.summary.failed[0].reason
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s1.json", "s3.json"]


def test_second_run_reuses_cache_and_computes_only_new(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path / "cache")
    run_stage("t", jobs(1, 2), square, Out, cache, writer(tmp_path / "out"))
    CALLS.clear()
    result = run_stage("t", jobs(1, 2, 4), square, Out, cache, writer(tmp_path / "out2"))
    assert CALLS == ["s4"]
    assert result.summary.cached == ["s1", "s2"] and result.summary.computed == ["s4"]
    assert result.outputs["s2"].value == 4
    assert (tmp_path / "out2" / "s1.json").is_file()


def test_parallel_workers_give_the_same_outputs(tmp_path: Path) -> None:
    serial = run_stage("t", jobs(1, 2, 3, -1), square, Out, None, writer(tmp_path / "a"))
    parallel = run_stage("t", jobs(1, 2, 3, -1), square, Out, None, writer(tmp_path / "b"), workers=2)
    assert serial.outputs == parallel.outputs
    assert serial.summary.failed == parallel.summary.failed


def test_pre_failed_songs_count_in_the_summary(tmp_path: Path) -> None:
    pre = [SongFailure(id="bad", file="bad.ogg", stage="t", reason="empty")]
    result = run_stage("t", jobs(1), square, Out, None, writer(tmp_path), pre_failed=pre)
    assert result.summary.songs == 2 and result.summary.failed == pre


class Crash(BaseException):
    """Stands in for SIGKILL or Ctrl-C: not an Exception, so the runner must not swallow it."""


def test_a_crash_mid_stage_resumes_without_redoing_finished_songs(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path / "cache")

    def crash_on_third(job: SongJob) -> Out:
        if job.id == "s3":
            raise Crash
        return square(job)

    try:
        run_stage("t", jobs(1, 2, 3, 4), crash_on_third, Out, cache, writer(tmp_path / "out"))
    except Crash:
        pass
    else:
        raise AssertionError("the crash must propagate")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["s1.json", "s2.json"]
    CALLS.clear()
    result = run_stage("t", jobs(1, 2, 3, 4), square, Out, cache, writer(tmp_path / "out"))
    assert CALLS == ["s3", "s4"]
    assert result.summary.cached == ["s1", "s2"]


def test_batches_settle_each_song_and_a_failed_member_fails_alone(tmp_path: Path) -> None:
    seen: list[list[str]] = []

    def batch(group: list[SongJob]) -> list[Out | Exception]:
        seen.append([job.id for job in group])
        return [SongError(f"{j.file}: negative") if j.inputs["n"] < 0 else square(j) for j in group]

    result = run_stage(
        "t", jobs(1, -2, 3, 4, 5), square, Out, None, writer(tmp_path), compute_batch=batch, batch_size=2
    )
    assert seen == [["s1", "s-2"], ["s3", "s4"], ["s5"]]
    assert result.summary.computed == ["s1", "s3", "s4", "s5"]
    assert [f.id for f in result.summary.failed] == ["s-2"]
