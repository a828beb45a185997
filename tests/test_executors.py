"""`run.executor`: the registry refuses unknown names, and `ray` without Ray installed stops at start.

The Ray executor itself runs on a real cluster in test_ray_cluster.py.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import copy_project, tool_env, write_tone

from songset.runner import EXECUTORS, LocalExecutor, make_executor
from songset.stage_main import executor_of

BLOCK_RAY = "import runpy, sys; sys.modules['ray'] = None; sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')"


def test_local_is_the_default_and_unknown_names_are_refused() -> None:
    assert isinstance(executor_of({"jobs": 2}), LocalExecutor)
    assert isinstance(executor_of({"executor": "local"}), LocalExecutor)
    with pytest.raises(ValueError, match=r"run.executor='spark' is not one of local, ray"):
        make_executor("spark")
    assert set(EXECUTORS) == {"local", "ray"}


def test_ray_executor_without_ray_stops_at_start_with_the_install_command(tmp_path: Path) -> None:
    project = copy_project(tmp_path)
    write_tone(project / "data" / "audio" / "tone.wav", 8.0)
    cmd = [sys.executable, "-c", BLOCK_RAY, "stages/estimate.py", "run.executor=ray"]
    result = subprocess.run(cmd, cwd=project, env=tool_env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 1, result.stdout + result.stderr
    assert 'run.executor=ray needs Ray: pip install -e ".[ray]"' in result.stderr
    assert not (project / "data" / "metadata").exists()  # stopped before any song was touched
