"""`run.executor=ray` on a real two-node Ray cluster on 127.0.0.1, against the local executor.

The module starts a head and a second worker node (`ray start`, one CPU each, small memory limits, its
own ports and temp dir), and kills every process of that cluster after the last test, also on failure.
No part of Ray is mocked: the stages run their per-song functions in Ray workers and actors.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import copy_project, cut_clip, repro, stage_summary, tool_env
from s3_server import S3, s3_server

ray = pytest.importorskip("ray")
psutil = pytest.importorskip("psutil")

pytestmark = [pytest.mark.slow, pytest.mark.timeout(400)]

SRC = Path(__file__).resolve().parents[1] / "src"
SONGS = ("clip_jazz", "clip_acoustic", "clip_vocal")
NODE_MEMORY = str(1_500_000_000)
OBJECT_STORE = str(80 * 1024 * 1024)

# Data files carry no clock (issue 22): they are compared byte for byte, except that the audio LLMs
# still record their generate time in `provenance.extra` (`seconds`, `tokens_per_second`). The stage
# summaries in reports/stages/ are where timings live (`wall_time_s`, `song_seconds`): only those differ.
SUMMARY_TIMING_KEYS = frozenset({"wall_time_s", "song_seconds"})
VOLATILE_EXTRA_KEYS = frozenset({"seconds", "tokens_per_second"})


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Cluster:
    address: str
    temp_dir: Path
    starters: list[subprocess.Popen[bytes]]
    s3: S3 | None = None  # a local S3 API every node can reach (audio on object storage)

    def processes(self) -> list[Any]:
        """Every process of this cluster: the `ray start` sessions and all that mention its temp dir."""
        ours: dict[int, Any] = {}
        for starter in self.starters:
            try:
                root = psutil.Process(starter.pid)
                ours[root.pid] = root
                ours.update({p.pid: p for p in root.children(recursive=True)})
            except psutil.NoSuchProcess:
                continue
        for proc in psutil.process_iter(["cmdline"]):
            if str(self.temp_dir) in " ".join(proc.info["cmdline"] or ()):
                ours[proc.pid] = proc
        return list(ours.values())

    def workers_running(self, task_title: str) -> list[Any]:
        """Worker processes (children of this cluster's raylets) now executing `task_title`."""
        raylets = {p.pid for p in self.processes() if "raylet" in " ".join(p.cmdline()[:1])}
        found = []
        for proc in psutil.process_iter(["cmdline", "ppid"]):
            title = " ".join(proc.info["cmdline"] or ())
            if proc.info["ppid"] in raylets and title.startswith(f"ray::{task_title}"):
                found.append(proc)
        return found

    def stop(self) -> None:
        for proc in self.processes():
            try:
                proc.kill()
            except psutil.NoSuchProcess:
                continue
        for starter in self.starters:
            starter.wait(timeout=30)


def _start_node(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            ["ray", "start", "--block", "--disable-usage-stats", "--node-ip-address=127.0.0.1", *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so stopping it touches nothing else
        )


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    temp_dir = Path(tempfile.mkdtemp(prefix="songset-ray-", dir="/tmp"))  # short: unix socket paths
    # A throwaway cluster on 127.0.0.1: no auth token, so a token left in ~/.ray by another Ray instance
    # cannot make the nodes and the drivers (this process and the stage processes) disagree.
    saved_auth = os.environ.get("RAY_AUTH_MODE")
    os.environ["RAY_AUTH_MODE"] = "disabled"
    s3_context = s3_server(bucket="cluster")
    s3 = s3_context.__enter__()  # before the nodes start, so they inherit its endpoint and test keys
    env = tool_env(PYTHONPATH=str(SRC), RAY_USAGE_STATS_ENABLED="0", **s3.env)
    port = _free_port()
    common = [
        "--num-cpus=1",
        f"--memory={NODE_MEMORY}",
        f"--object-store-memory={OBJECT_STORE}",
        f"--temp-dir={temp_dir}",
    ]
    cluster = Cluster(address=f"127.0.0.1:{port}", temp_dir=temp_dir, starters=[], s3=s3)
    try:
        head = [
            "--head",
            f"--port={port}",
            "--include-dashboard=false",
            f"--dashboard-port={_free_port()}",
            f"--dashboard-agent-listen-port={_free_port()}",
            *common,
        ]
        cluster.starters.append(_start_node(head, env, temp_dir / "head.log"))
        _wait_for_gcs(port, cluster.starters[0], temp_dir / "head.log")
        worker = [f"--address={cluster.address}", f"--dashboard-agent-listen-port={_free_port()}", *common]
        cluster.starters.append(_start_node(worker, env, temp_dir / "worker.log"))
        ray.init(address=cluster.address, log_to_driver=False)
        deadline = time.monotonic() + 90
        while sum(1 for n in ray.nodes() if n["Alive"]) < 2:
            assert time.monotonic() < deadline, (temp_dir / "worker.log").read_text()
            time.sleep(0.5)
        yield cluster
    finally:
        if ray.is_initialized():
            ray.shutdown()
        cluster.stop()
        s3_context.__exit__(None, None, None)
        shutil.rmtree(temp_dir, ignore_errors=True)
        if saved_auth is None:
            os.environ.pop("RAY_AUTH_MODE", None)
        else:
            os.environ["RAY_AUTH_MODE"] = saved_auth


def _wait_for_gcs(port: int, starter: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert starter.poll() is None, log.read_text()
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.3)
    raise AssertionError(f"Ray head did not listen on {port}:\n{log.read_text()}")


def _project(root: Path) -> Path:
    project = copy_project(root)
    for name in SONGS:
        cut_clip(name, project / "data" / "audio")
    return project


@pytest.fixture(scope="module")
def local_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = _project(tmp_path_factory.mktemp("local"))
    result = repro(project, "sidecars")  # every per-song stage; report and validate do not use run.executor
    assert result.returncode == 0, result.stdout + result.stderr
    return project


def _masked(value: Any, parent: str = "") -> Any:
    if isinstance(value, dict):
        drop = VOLATILE_EXTRA_KEYS if parent == "extra" else frozenset()
        return {k: _masked(v, k) for k, v in value.items() if k not in drop}
    if isinstance(value, list):
        return [_masked(v) for v in value]
    return value


def _comparable(path: Path) -> Any:
    """A stage summary without its timings; an audio LLM's output without its generate time; else bytes."""
    data = path.read_bytes()
    if path.parent.name == "stages" and path.parent.parent.name == "reports":
        return {k: v for k, v in json.loads(data).items() if k not in SUMMARY_TIMING_KEYS}
    if path.suffix == ".json" and b'"tokens_per_second"' in data:
        return _masked(json.loads(data))
    return data


def _outputs(project: Path, *folders: str) -> dict[str, Path]:
    files: dict[str, Path] = {}
    for folder in folders:
        found = [project / folder] if (project / folder).is_file() else (project / folder).rglob("*")
        for path in sorted(found):
            if path.is_file() and path.name != ".gitkeep":
                files[str(path.relative_to(project))] = path
    return files


def assert_same_outputs(a: Path, b: Path, *folders: str) -> int:
    files_a, files_b = _outputs(a, *folders), _outputs(b, *folders)
    assert sorted(files_a) == sorted(files_b)
    for name, path in files_a.items():
        assert _comparable(path) == _comparable(files_b[name]), f"{name} differs"
    return len(files_a)


# dvc.yaml's per-song stages in order: the upstream folders each reads, and what it writes.
STAGES = {
    "annotate": ((), ("data/annotations/raw", "data/cache/annotate")),
    "clean": (("data/annotations/raw",), ("data/annotations/clean", "data/cache/clean")),
    "estimate": ((), ("data/metadata", "data/cache/estimate")),
    "lyrics": (("data/annotations/clean",), ("data/annotations/lyrics", "data/cache/lyrics")),
    "sidecars": (
        ("data/annotations/clean", "data/metadata", "data/annotations/lyrics"),
        ("data/sidecars", "data/cache/sidecars"),
    ),
}


def test_demo_pipeline_on_ray_equals_local_executor(
    cluster: Cluster, local_build: Path, tmp_path: Path
) -> None:
    """Each stage's command (as dvc.yaml runs it) with run.executor=ray, on the local build's upstream.

    Stage by stage on the same upstream bytes, because until issue 22 the upstream files carry their
    creation time, which would change every downstream cache key (the key hashes the upstream file).
    """
    project = _project(tmp_path)
    ray_args = ["run.executor=ray", f"run.ray.address={cluster.address}", "run.ray.max_in_flight=4"]
    checked = 0
    for stage, (inputs, outputs) in STAGES.items():
        for folder in inputs:
            shutil.rmtree(project / folder, ignore_errors=True)
            shutil.copytree(local_build / folder, project / folder)
        result = subprocess.run(
            [sys.executable, f"stages/{stage}.py", *ray_args],
            cwd=project,
            env=tool_env(),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        summary = stage_summary(project, stage)
        assert sorted(summary["computed"]) == sorted(SONGS) and not summary["failed"], summary
        checked += assert_same_outputs(local_build, project, *outputs, f"reports/stages/{stage}.json")
    assert checked >= 4 * (2 * len(SONGS) + 1)  # output + cache entry per song and stage, and a summary


def test_worker_killed_mid_stage_is_retried_nothing_lost_or_duplicated(
    cluster: Cluster, local_build: Path, tmp_path: Path
) -> None:
    project = _project(tmp_path)
    cmd = [
        sys.executable,
        "stages/estimate.py",
        "run.executor=ray",
        f"run.ray.address={cluster.address}",
        "run.ray.max_retries=2",
    ]
    driver = subprocess.Popen(
        cmd, cwd=project, env=tool_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    killed: list[int] = []
    deadline = time.monotonic() + 120
    while not killed and driver.poll() is None and time.monotonic() < deadline:
        for proc in cluster.workers_running("songset.estimate"):
            os.kill(proc.pid, signal.SIGKILL)
            killed.append(proc.pid)
            break
        time.sleep(0.01)
    output = driver.communicate(timeout=300)[0].decode()
    assert killed, f"no estimate task was seen running on a worker:\n{output}"
    assert driver.returncode == 0, output
    summary = stage_summary(project, "estimate")
    assert sorted(summary["computed"]) == sorted(SONGS), summary  # each song once: none lost, none twice
    assert not summary["failed"] and not summary["cached"], summary
    metadata = sorted(p.name for p in (project / "data" / "metadata").iterdir())
    assert metadata == sorted(f"{song}.json" for song in SONGS)
    assert len(list((project / "data" / "cache" / "estimate").rglob("*.json"))) == len(SONGS)
    assert_same_outputs(local_build, project, "data/metadata", "data/cache/estimate")


def test_audio_on_s3_is_fetched_by_the_workers_and_builds_the_local_bytes(
    cluster: Cluster, local_build: Path, tmp_path: Path
) -> None:
    """paths.audio on object storage: the driver lists and hashes, each Ray worker fetches its own song."""
    assert cluster.s3 is not None
    project = _project(tmp_path)
    for clip in sorted((project / "data" / "audio").glob("*.flac")):
        cluster.s3.put_file(clip, f"cluster/audio/{clip.name}")
    cmd = [
        sys.executable,
        "stages/estimate.py",
        "run.executor=ray",
        f"run.ray.address={cluster.address}",
        "paths.audio=s3://cluster/audio",
    ]
    result = subprocess.run(
        cmd, cwd=project, env=tool_env(), capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    summary = stage_summary(project, "estimate")
    assert sorted(summary["computed"]) == sorted(SONGS) and not summary["failed"], summary
    assert_same_outputs(local_build, project, "data/metadata", "data/cache/estimate")


def test_prepare_runs_once_on_every_node_before_the_songs(cluster: Cluster, tmp_path: Path) -> None:
    from songset.ray_executor import RayExecutor

    def mark() -> None:
        import ray as worker_ray

        (tmp_path / worker_ray.get_runtime_context().get_node_id()).touch()

    prepared = RayExecutor(address=cluster.address).prepare_nodes(mark)
    alive = sorted(n["NodeID"] for n in ray.nodes() if n["Alive"])
    assert sorted(prepared) == alive and len(alive) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == alive


def test_audio_llm_annotator_runs_in_ray_actors_like_in_process(
    cluster: Cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A tiny random AF3 (the annotator tests' model) in two Ray actors, batches of two, vs in-process."""
    pytest.importorskip("transformers")
    pytest.importorskip("peft")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from support.hf_tiny import build_tiny_model

    from songset.config import compose
    from songset.ray_executor import RayExecutor
    from songset.songs import discover_songs
    from songset.stages.annotate import run_annotate
    from songset.stages.base import RunOptions

    model = build_tiny_model(tmp_path / "af3", "af3")
    audio = tmp_path / "audio"
    audio.mkdir()
    for name in SONGS:
        cut_clip(name, audio)
    overrides = ["annotator=af3_hf", f"annotator.model={model}", "annotator.device=cpu"]
    overrides += ["annotator.max_new_tokens=4", "annotator.min_new_tokens=4", "annotator.batch_size=2"]
    cfg = compose(overrides, config_dir=SRC.parent / "conf")
    songs = discover_songs(audio)
    local = run_annotate(songs, cfg.annotator, tmp_path / "local" / "raw", RunOptions(tmp_path / "local"))
    executor = RayExecutor(address=cluster.address, actors=2, max_retries=1)
    remote = run_annotate(
        songs, cfg.annotator, tmp_path / "ray" / "raw", RunOptions(tmp_path / "ray", executor=executor)
    )
    for result in (local, remote):
        assert sorted(result.summary.computed) == sorted(SONGS) and not result.summary.failed
    assert_same_outputs(tmp_path / "local", tmp_path / "ray", "raw", "annotate")
    raw = json.loads((tmp_path / "ray" / "raw" / "clip_jazz.json").read_text())
    assert raw["provenance"]["extra"]["batch_size"] == 2


def test_driver_killed_mid_stage_resumes_from_the_cache(
    cluster: Cluster, local_build: Path, tmp_path: Path
) -> None:
    project = _project(tmp_path)
    cmd = [sys.executable, "stages/estimate.py", "run.executor=ray", f"run.ray.address={cluster.address}"]
    cache = project / "data" / "cache" / "estimate"
    driver = subprocess.Popen(
        cmd, cwd=project, env=tool_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 180
    while driver.poll() is None and time.monotonic() < deadline and not list(cache.glob("*/*.json")):
        time.sleep(0.01)
    driver.kill()  # after its first song is cached, before the stage ends
    driver.wait(timeout=30)
    finished = len(list(cache.glob("*/*.json")))
    assert 1 <= finished < len(SONGS), "the driver was not killed mid-stage"
    rerun = subprocess.run(cmd, cwd=project, env=tool_env(), capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    summary = stage_summary(project, "estimate")
    assert len(summary["cached"]) == finished and not summary["failed"], summary
    assert sorted(summary["cached"] + summary["computed"]) == sorted(SONGS), summary
    assert_same_outputs(local_build, project, "data/metadata", "data/cache/estimate")
