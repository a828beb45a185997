"""`run.executor=ray`: the per-song functions of a stage run on a Ray cluster; everything else stays here.

The driver (the stage process) looks up the cache, hands only the songs left to compute to Ray, and
settles each result through the runner's one `settle`, which writes the cache entry, the output and the
summary exactly as the local executor does. Hence the same bytes, the same caches and the same lineage.

- Stateless work (estimation, cleaning, sidecars, network annotators) runs as Ray tasks, each asking
  for the backend's resources (`SongResources`), at most `max_in_flight` at a time. A worker killed
  mid-song is a system failure Ray retries (`max_retries`); a song whose own input is bad returns its
  error as a value and is never retried, so it fails alone, as locally.
- Backends holding a model (in-process audio LLMs) run in `actors` long-lived Ray actors, one model each,
  loaded once per actor on its first batch and fed `batch_size` songs per call. A killed actor is
  restarted and its in-flight batch retried (`max_restarts` / `max_task_retries` = `max_retries`).
- A driver killed mid-stage loses nothing finished: every settled song is in the cache before the
  next one is awaited, so the rerun computes only the rest.
"""

from __future__ import annotations

import logging
import os
from collections import deque
from collections.abc import Callable
from typing import Any

from songset.runner import (
    Executor,
    Settle,
    SongJob,
    StageWork,
    _compute_safely,
    compute_batch_safely,
    describe_error,
)

log = logging.getLogger("songset")

INSTALL_HINT = 'run.executor=ray needs Ray: pip install -e ".[ray]" (or pip install "songset[ray]")'
BATCHES_PER_ACTOR = 2  # one computing, one queued: the actor never waits on the driver


class ExecutorUnavailable(ValueError):
    """The configured executor cannot run on this machine (a missing optional extra)."""


def _enter(cwd: str) -> None:
    """Relative paths (paths.audio=data/audio) mean what they mean on the driver: its working directory,
    which on a cluster is the shared mount every node sees. Absolute paths work from anywhere."""
    if os.path.isdir(cwd):
        os.chdir(cwd)


def _compute_in(cwd: str, compute: Callable[[SongJob], Any], job: SongJob) -> tuple[Any, str | None, float]:
    _enter(cwd)
    return _compute_safely(compute, job)


def _prepare_in(cwd: str, prepare: Callable[[], None]) -> str:
    _enter(cwd)
    prepare()
    import ray

    return str(ray.get_runtime_context().get_node_id())


class _ModelActor:
    """Holds one copy of the stage's work (and so of its model) for the actor's life; computes batches."""

    def __init__(self, work: StageWork[Any]) -> None:
        self.work = work

    def run(self, cwd: str, group: list[SongJob]) -> list[tuple[Any, str | None, float]]:
        _enter(cwd)
        return compute_batch_safely(self.work, group)


class RayExecutor(Executor):
    def __init__(
        self,
        address: str = "auto",
        max_retries: int = 3,
        max_in_flight: int | None = None,
        actors: int = 1,
    ) -> None:
        """`address`: `auto` joins the running cluster, `local` starts a private one, or `host:port`.

        Every node needs songset (same commit) and its dependencies installed, as in the cluster image.
        """
        try:
            import ray
        except ImportError as exc:
            raise ExecutorUnavailable(INSTALL_HINT) from exc
        self._ray = ray
        self.address = str(address)
        self.max_retries = int(max_retries)
        self.max_in_flight = int(max_in_flight) if max_in_flight else None
        self.actors = max(1, int(actors))

    # ---- connection ---------------------------------------------------------------------------------
    def connect(self) -> None:
        """Join (or start) the cluster once per process; later stages in the same process reuse it."""
        ray = self._ray
        if ray.is_initialized():
            return
        extra: dict[str, Any] = {"include_dashboard": False} if self.address == "local" else {}
        ray.init(
            address=self.address,
            log_to_driver=False,  # per-song errors come back as values; worker chatter stays in Ray's logs
            **extra,
        )

    def _limit(self, per_song: float, resource: str) -> int:
        if self.max_in_flight:
            return self.max_in_flight
        total = float(self._ray.cluster_resources().get(resource, 1.0))
        return max(1, 2 * int(total / max(per_song, 1e-9)))

    # ---- execution -----------------------------------------------------------------------------------
    def execute(self, todo: list[SongJob], work: StageWork[Any], settle: Settle) -> None:
        self.connect()
        if work.prepare is not None:
            self.prepare_nodes(work.prepare)
        if work.holds_model or work.compute_batch is not None:
            self._execute_actors(todo, work, settle)
        else:
            self._execute_tasks(todo, work, settle)

    def prepare_nodes(self, prepare: Callable[[], None]) -> list[str]:
        """Run the stage's `prepare` (numba's kernel cache) once on every live node before any song, so
        workers on other machines load compiled kernels instead of each compiling them (30-50 s) at once.
        A node where it fails is named in the log; its songs still run (and compile on their own)."""
        ray = self._ray
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        nodes = [n["NodeID"] for n in ray.nodes() if n.get("Alive")]
        task = ray.remote(_prepare_in)
        refs = {
            task.options(
                num_cpus=0,
                max_retries=self.max_retries,
                scheduling_strategy=NodeAffinitySchedulingStrategy(node_id=node, soft=False),
            ).remote(os.getcwd(), prepare): node
            for node in nodes
        }
        prepared: list[str] = []
        for ref, node in refs.items():
            try:
                prepared.append(ray.get(ref))
            except ray.exceptions.RayError as exc:
                log.warning("node %s: prepare failed (%s); its workers compile on their own", node, exc)
        return prepared

    def _execute_tasks(self, todo: list[SongJob], work: StageWork[Any], settle: Settle) -> None:
        ray = self._ray
        res = work.resources
        task = ray.remote(_compute_in).options(
            num_cpus=res.num_cpus,
            num_gpus=res.num_gpus,
            max_retries=self.max_retries,
            retry_exceptions=False,  # a song's own error is a value, not a retry
            name=f"songset.{work.stage}",
        )
        compute_ref = ray.put(work.compute)  # the backend travels once, not once per song
        limit = self._limit(res.num_gpus or res.num_cpus, "GPU" if res.num_gpus else "CPU")
        queue = deque(todo)
        pending: dict[Any, SongJob] = {}
        while queue or pending:
            while queue and len(pending) < limit:
                job = queue.popleft()
                pending[task.remote(os.getcwd(), compute_ref, job)] = job
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                job = pending.pop(ref)
                try:
                    result, error, took = ray.get(ref)
                except ray.exceptions.RayError as exc:  # retries spent: the node or worker kept dying
                    result, error, took = None, f"worker failed: {describe_error(exc)}", 0.0
                settle(job, result, error, took)

    def _execute_actors(self, todo: list[SongJob], work: StageWork[Any], settle: Settle) -> None:
        ray = self._ray
        res = work.resources
        size = max(1, work.batch_size)
        batches = deque(todo[i : i + size] for i in range(0, len(todo), size))
        actor_cls = ray.remote(_ModelActor).options(
            num_cpus=res.num_cpus,
            num_gpus=res.num_gpus,
            max_restarts=self.max_retries,
            max_task_retries=self.max_retries,
        )
        # the work (backend settings, no model: it loads in the actor) is passed by value, so a
        # restarted actor can always rebuild it
        actors = [actor_cls.remote(work) for _ in range(min(self.actors, len(batches)))]
        busy = dict.fromkeys(range(len(actors)), 0)
        pending: dict[Any, tuple[int, list[SongJob]]] = {}
        try:
            while batches or pending:
                for index, actor in enumerate(actors):
                    while batches and busy[index] < BATCHES_PER_ACTOR:
                        group = batches.popleft()
                        pending[actor.run.remote(os.getcwd(), group)] = (index, group)
                        busy[index] += 1
                ready, _ = ray.wait(list(pending), num_returns=1)
                for ref in ready:
                    index, group = pending.pop(ref)
                    busy[index] -= 1
                    try:
                        results = ray.get(ref)
                    except ray.exceptions.RayError as exc:  # the actor kept dying: its batch fails
                        reason = f"worker failed: {describe_error(exc)}"
                        results = [(None, reason, 0.0)] * len(group)
                    for job, outcome in zip(group, results, strict=True):
                        settle(job, *outcome)
        finally:
            for actor in actors:
                ray.kill(actor)  # free the model (and its GPU) for the next stage
