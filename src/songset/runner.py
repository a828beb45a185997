"""The per-song loop every stage shares: cache lookup, parallel compute, atomic output, failure capture.

The work itself is one pure function per song (NeMo SDP style); this module owns everything around it,
so no stage re-implements retries of the loop, progress bars or the rule that one bad song never stops
the others.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import multiprocessing
import time
import traceback
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError
from tqdm import tqdm

from songset.cache import ResultCache
from songset.io import atomic_write_json
from songset.schemas import SongFailure, StageSummary
from songset.storage import local_job

log = logging.getLogger("songset")

M = TypeVar("M", bound=BaseModel)
I = TypeVar("I")  # noqa: E741  (a stage's typed per-song inputs, declared in its module under songset.stages)


class SongError(Exception):
    """A problem with one song's input that the user must fix; the message names what is wrong."""


@dataclass(frozen=True)
class SongJob(Generic[I]):
    """One song's work: what the stage's pure function reads (`inputs`, typed by the stage) and its key."""

    id: str
    file: Path  # the input a person would look at when this song fails
    key: str  # content-addressed cache key
    inputs: I
    # Fields that name the song (id, file name). The cache is keyed by content only, so a result cached
    # under an earlier name (before a rename, or of a byte-identical file) takes these from the job.
    identity: dict[str, Any] = field(default_factory=dict)


@dataclass
class StageResult(Generic[M]):
    summary: StageSummary
    outputs: dict[str, M]


def describe_error(exc: BaseException) -> str:
    if isinstance(exc, SongError):
        return str(exc)
    if isinstance(exc, ValidationError):
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'value'}: {err['msg']}" for err in exc.errors()
        )
        return f"schema violation: {problems}"
    return f"{type(exc).__name__}: {exc}"


def _compute_safely(compute: Callable[[SongJob], M], job: SongJob) -> tuple[M | None, str | None, float]:
    started = time.perf_counter()
    readable = job
    try:
        with local_job(job) as readable:  # a song on object storage is fetched by the worker computing it
            return compute(readable), None, time.perf_counter() - started
    except Exception as exc:  # one song's failure must not sink the rest
        log.debug("song %s failed:\n%s", job.id, traceback.format_exc())
        return None, _reason(exc, {str(readable.file): str(job.file)}), time.perf_counter() - started


def _reason(exc: BaseException, names: dict[str, str]) -> str:
    """The error as people read it, naming each song by its own path or URL, never a worker's fetched copy."""
    text = describe_error(exc)
    for local, own in names.items():
        text = text.replace(local, own)
    return text


def with_identity(job: SongJob, result: M) -> M:
    """The result as this job's song: the id and file name come from the current file, not the cache."""
    updates = {k: v for k, v in job.identity.items() if getattr(result, k, None) != v}
    return result.model_copy(update=updates) if updates else result


# (job, result or None, error or None, seconds the song took to compute)
Settle = Callable[[SongJob, Any, "str | None", float], None]


@dataclass(frozen=True)
class SongResources:
    """What one song (or one model-holding actor) needs on a worker: CPUs for DSP, a GPU for an audio LLM."""

    num_cpus: float = 1.0
    num_gpus: float = 0.0


@dataclass(frozen=True)
class StageWork(Generic[M]):
    """Everything an executor needs to compute a stage's songs; it never writes outputs itself."""

    stage: str
    compute: Callable[[SongJob], M]
    compute_batch: Callable[[list[SongJob]], list[M | Exception]] | None = None
    batch_size: int = 1
    workers: int = 1  # local process pool size
    resources: SongResources = SongResources()
    holds_model: bool = False  # loads a model: keep one copy per process/actor, never one per song
    # once per machine before its first song (numba's kernel cache): the driver runs it before workers
    # fork; a cluster executor runs it once on every node, so no two workers there compile at once
    prepare: Callable[[], None] | None = None


class Executor(ABC):
    """Where per-song functions run. `execute` calls `settle` once per job, in any order, on the driver."""

    @abstractmethod
    def execute(self, todo: list[SongJob], work: StageWork[Any], settle: Settle) -> None: ...


class LocalExecutor(Executor):
    """This machine: batches in this process, a fork process pool for `workers` > 1, else serially."""

    def execute(self, todo: list[SongJob], work: StageWork[Any], settle: Settle) -> None:
        if work.compute_batch is not None and work.batch_size > 1:
            for start in range(0, len(todo), work.batch_size):
                group = list(todo[start : start + work.batch_size])
                for job, outcome in zip(group, compute_batch_safely(work, group), strict=True):
                    settle(job, *outcome)
        elif work.workers > 1 and len(todo) > 1:
            ctx = multiprocessing.get_context("fork")
            with ProcessPoolExecutor(max_workers=min(work.workers, len(todo)), mp_context=ctx) as pool:
                futures: list[tuple[SongJob, Future[tuple[Any, str | None, float]]]] = [
                    (job, pool.submit(_compute_safely, work.compute, job)) for job in todo
                ]
                for job, future in futures:
                    try:
                        result, error, took = future.result()
                    except Exception as exc:  # a worker died (e.g. OOM-killed)
                        result, error, took = None, f"worker failed: {describe_error(exc)}", 0.0
                    settle(job, result, error, took)
        else:
            for job in todo:
                settle(job, *_compute_safely(work.compute, job))


def compute_batch_safely(
    work: StageWork[M], group: list[SongJob]
) -> list[tuple[M | None, str | None, float]]:
    """One batch through `compute_batch` (or song by song without one); one (result, error, seconds) per
    job, a batch's time shared evenly among its songs."""
    if work.compute_batch is None:
        return [_compute_safely(work.compute, job) for job in group]
    started = time.perf_counter()
    names: dict[str, str] = {}  # a fetched copy's path -> the song's own URL, for error messages
    try:
        with contextlib.ExitStack() as stack:
            readable = [stack.enter_context(local_job(job)) for job in group]
            names = {str(r.file): str(j.file) for r, j in zip(readable, group, strict=True) if r is not j}
            results: list[M | Exception] = work.compute_batch(readable)
    except Exception as exc:  # the whole batch failed: each song says why
        results = [exc] * len(group)
    share = (time.perf_counter() - started) / max(1, len(group))
    return [
        (None, _reason(r, names), share) if isinstance(r, Exception) else (r, None, share) for r in results
    ]


# run.executor -> "module:Class"; imported only when chosen, so optional extras stay optional.
EXECUTORS: dict[str, str] = {
    "local": "songset.runner:LocalExecutor",
    "ray": "songset.ray_executor:RayExecutor",
}


def make_executor(name: str, settings: dict[str, Any] | None = None) -> Executor:
    """The executor `run.executor` names, built from its settings (`run.<name>`); unknown names are refused."""
    if name not in EXECUTORS:
        raise ValueError(f"run.executor={name!r} is not one of {', '.join(sorted(EXECUTORS))}")
    module_name, class_name = EXECUTORS[name].split(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    return cls(**(settings or {}))


def run_stage(
    stage: str,
    jobs: Sequence[SongJob],
    compute: Callable[[SongJob], M],
    model: type[M],
    cache: ResultCache | None,
    write: Callable[[SongJob, M], None],
    *,
    workers: int = 1,
    settings_sha256: str = "",
    pre_failed: Sequence[SongFailure] = (),
    skipped: Sequence[SongFailure] = (),
    prepare: Callable[[], None] | None = None,
    compute_batch: Callable[[list[SongJob]], list[M | Exception]] | None = None,
    batch_size: int = 1,
    executor: Executor | None = None,
    resources: SongResources = SongResources(),
    holds_model: bool = False,
) -> StageResult[M]:
    """Run `compute` over `jobs`, reusing cached results, and write each output as soon as it exists.

    Only the computing is handed to `executor` (local processes by default, or a Ray cluster): cache
    lookups, cache writes, outputs and the summary are done here, on the driver, whichever one runs.
    `prepare` runs once before the first song is computed (in this process, before any worker forks);
    `skipped` songs (byte-identical copies) are reported, never counted as failures.
    """
    started = time.perf_counter()
    seconds: dict[str, float] = {}
    computed: list[str] = []
    cached: list[str] = []
    failed: list[SongFailure] = list(pre_failed)
    outputs: dict[str, M] = {}

    def finish(job: SongJob, result: M) -> None:
        result = with_identity(job, result)
        write(job, result)
        outputs[job.id] = result

    todo: list[SongJob] = []
    for job in jobs:
        hit = cache.get(job.key) if cache is not None else None
        if hit is not None:
            try:
                finish(job, model.model_validate(hit))
                cached.append(job.id)
                continue
            except ValidationError:
                log.warning("%s: cached result for %s no longer fits the schema; recomputing", stage, job.id)
        todo.append(job)

    if todo and prepare is not None:
        prepare()
    bar = tqdm(total=len(todo), desc=f"{stage}", unit="song", disable=not todo, leave=False)

    def settle(job: SongJob, result: M | None, error: str | None, took: float) -> None:
        bar.update(1)
        seconds[job.id] = round(took, 3)
        if result is None:
            failed.append(SongFailure(id=job.id, file=str(job.file), stage=stage, reason=error or "unknown"))
            log.error("%s: %s: %s", stage, job.file, error)
            return
        if cache is not None:
            cache.put(job.key, result.model_dump(mode="json"))
        finish(job, result)
        computed.append(job.id)

    work = StageWork(
        stage=stage,
        compute=compute,
        compute_batch=compute_batch if batch_size > 1 else None,
        batch_size=batch_size,
        workers=workers,
        resources=resources,
        holds_model=holds_model,
        prepare=prepare,
    )
    if todo:
        (executor or LocalExecutor()).execute(todo, work, settle)
    bar.close()

    order = {job.id: i for i, job in enumerate(jobs)}
    summary = StageSummary(
        stage=stage,
        songs=len(jobs) + len(pre_failed),
        computed=sorted(computed, key=order.__getitem__),
        cached=sorted(cached, key=order.__getitem__),
        failed=sorted(failed, key=lambda f: f.id),
        skipped=sorted(skipped, key=lambda f: f.file),
        wall_time_s=round(time.perf_counter() - started, 3),
        song_seconds={job.id: seconds[job.id] for job in jobs if job.id in seconds},
        settings_sha256=settings_sha256,
    )
    return StageResult(summary=summary, outputs=outputs)


def summary_lines(summary: StageSummary) -> list[str]:
    lines = [
        f"[{summary.stage}] {summary.songs} songs: {len(summary.computed)} computed, "
        f"{len(summary.cached)} from cache, {len(summary.failed)} failed"
        + (f", {len(summary.skipped)} skipped" if summary.skipped else "")
        + f" ({summary.wall_time_s:.1f} s)"
    ]
    lines += [f"[{summary.stage}]   FAILED {f.file}: {f.reason}" for f in summary.failed]
    lines += [f"[{summary.stage}]   skipped {f.file}: {f.reason}" for f in summary.skipped]
    return lines


def write_summary(summary: StageSummary, path: Path) -> None:
    atomic_write_json(path, summary)
    for line in summary_lines(summary):
        print(line)
