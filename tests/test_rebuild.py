"""`dvc repro` re-runs exactly what changed, as a user meets it: a prompt edit rebuilds, new songs build.

Written as the user's steps in a temporary copy of the project (real DVC, a real OpenAI-compatible server on
127.0.0.1 for the LLM cleaner).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import copy_project, cut_clip, git_commit, repro, run_tool, stage_summary, tool_env
from fake_openai import FakeServer, ok

from songset.config import write_params

pytestmark = pytest.mark.slow

KEY = "sk-test-SONGSETrebuildKey0000"
ANSWER = {
    "caption": "Jazz, relaxed, upright bass, brushed drums, warm Rhodes, intimate late-night trio",
    "genre": ["jazz"],
    "mood": ["relaxed"],
    "instruments": ["upright bass", "drums"],
    "texture": ["warm"],
    "sections": [{"start": 0, "end": 10, "label": "intro", "description": "bass alone"}],
    "events": [{"start": 0, "end": 10, "type": "intro", "intensity": 0.2}],
    "vocal_presence": "instrumental",
    "vocal_language": None,
}


@pytest.fixture
def server() -> Iterator[FakeServer]:
    fake = FakeServer(default=ok(ANSWER))
    yield fake
    fake.close()


def _system_prompts(server: FakeServer) -> list[str]:
    return [m["content"] for r in server.requests for m in r["body"]["messages"] if m.get("role") == "system"]


def test_editing_the_cleaner_prompt_rebuilds_the_clean_stage(tmp_path: Path, server: FakeServer) -> None:
    root = copy_project(tmp_path)
    cut_clip("clip_jazz", root / "data" / "audio")
    write_params(
        root / "params.yaml",
        ["cleaner=openai", f"cleaner.base_url={server.url}", "cleaner.model=test-model"],
        config_dir=root / "conf",
    )
    git_commit(root)
    env = tool_env(OPENAI_API_KEY=KEY)
    first = repro(root, env=env)
    assert first.returncode == 0, first.stdout + first.stderr
    assert len(server.requests) == 1
    assert "up to date" in run_tool(root, "dvc", "status").stdout

    prompt = root / "conf" / "prompt" / "clean_v1.md"
    prompt.write_text(prompt.read_text() + "\nPrefer instrument names over genre words.\n")
    status = run_tool(root, "dvc", "status").stdout
    assert "clean:" in status and "conf/prompt" in status, status

    second = repro(root, env=env)
    assert second.returncode == 0, second.stdout + second.stderr
    assert len(server.requests) == 2, "the edited prompt was served from the cache"
    assert "Prefer instrument names over genre words." in _system_prompts(server)[-1]
    assert stage_summary(root, "clean")["computed"] == ["clip_jazz"]


def test_replacing_every_demo_song_builds_sidecars_for_the_new_ones(tmp_path: Path) -> None:
    """`rm -r data/audio/*`, copy two songs in, `dvc repro`: attribution, lyrics, overrides are optional."""
    root = copy_project(tmp_path)
    audio = root / "data" / "audio"
    cut_clip("clip_acoustic", audio)
    git_commit(root)
    assert repro(root).returncode == 0
    for item in audio.iterdir():
        item.unlink() if item.is_file() else shutil.rmtree(item)
    assert not (audio / "attribution.yaml").exists()
    cut_clip("clip_jazz", audio)
    cut_clip("clip_vocal", audio)
    result = repro(root)
    assert result.returncode == 0, result.stdout + result.stderr
    sidecars = root / "data" / "sidecars"
    assert sorted(p.stem for p in sidecars.glob("clip_*.json")) == ["clip_jazz", "clip_vocal"]
    validation = json.loads((root / "reports" / "validation.json").read_text())
    assert validation["ok"] is True, validation
