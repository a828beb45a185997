"""The OpenAI cleaner against a real HTTP server on 127.0.0.1: the official client, real requests."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fake_openai
import pytest
from conftest import PROJECT_ROOT, provenance, song_metadata
from fake_openai import FakeServer, Reply, ok, rate_limited, refuse

from songset.cleaners.openai_cleaner import OpenAICleaner
from songset.cli import main
from songset.config import compose
from songset.io import atomic_write_json
from songset.openai_client import public_url
from songset.runner import SongJob
from songset.schemas import CleanAnnotation, RawAnnotation
from songset.sidecars import SidecarSettings, build_sidecar
from songset.stages.base import RunOptions
from songset.stages.clean import run_clean
from songset.tokens import count_tokens

KEY = "sk-test-SONGSETcleanerKey4242"


def answer(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "caption": "Jazz, relaxed, upright bass, brushed drums, warm Rhodes, intimate late-night trio",
        "genre": ["jazz"],
        "mood": ["relaxed"],
        "instruments": ["upright bass", "drums", "rhodes"],
        "texture": ["warm"],
        "sections": [
            {"start": 0, "end": 10, "label": "intro", "description": "bass alone"},
            {"start": 10, "end": 60, "label": "verse", "description": "trio"},
        ],
        "events": [
            {"start": 10, "end": 10, "type": "instrument_entry", "intensity": 0.5},
            {"start": 0, "end": 10, "type": "intro", "intensity": 0.2},
        ],
        "vocal_presence": "instrumental",
        "vocal_language": None,
    }
    base.update(changes)
    return base


def hang(seconds: float) -> Reply:
    return fake_openai.hang(seconds, ok(answer()))


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeServer]:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    fake = FakeServer(default=ok(answer()))
    yield fake
    fake.close()


def raw_file(directory: Path, song_id: str = "song", duration: float = 95.0) -> Path:
    raw = RawAnnotation(
        id=song_id,
        audio_file=f"{song_id}.ogg",
        audio_sha256="b" * 64,
        duration=duration,
        text="[0:00-0:10] A walking upright bass alone. [0:10-1:00] Brushed drums and Rhodes join; relaxed.",
        provenance=provenance("annotate"),
    )
    path = directory / f"{song_id}.json"
    atomic_write_json(path, raw)
    return path


def cleaner_cfg(server: FakeServer, *overrides: str) -> Any:
    cfg = compose(
        ["cleaner=openai", f"cleaner.base_url={server.url}", "cleaner.model=test-model", *overrides],
        config_dir=PROJECT_ROOT / "conf",
    )
    return cfg.cleaner


def run(tmp_path: Path, server: FakeServer, *overrides: str, cache: bool = False, songs: int = 1) -> Any:
    raw_dir = tmp_path / "raw"
    raw_dir.mkdir(exist_ok=True)
    # Written once: a rewritten raw file (new created_at) is new input and would miss the cache.
    files = [
        p if (p := raw_dir / f"song{i}.json").is_file() else raw_file(raw_dir, f"song{i}")
        for i in range(songs)
    ]
    options = RunOptions(cache_dir=tmp_path / "cache" if cache else None, workers=1)
    return run_clean(files, cleaner_cfg(server, *overrides), tmp_path / "clean", options)


@pytest.fixture(autouse=True)
def _project_cwd(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(PROJECT_ROOT)  # prompt_file is relative to the project


def test_valid_answer_fills_the_schema_with_provenance(tmp_path: Path, server: FakeServer) -> None:
    server.script = [ok(answer())]
    result = run(tmp_path, server)
    assert result.summary.computed == ["song0"], result.summary.failed
    data = json.loads((tmp_path / "clean" / "song0.json").read_text())
    assert {"caption", "sections", "events", "rich_details", "provenance"} <= set(data)
    clean = CleanAnnotation.model_validate(data)
    assert [e.type for e in clean.events] == ["intro", "instrument_entry"]  # ordered by start
    assert clean.tags.instruments == ["upright bass", "drums", "rhodes"]
    assert clean.rich_details.startswith("[0:00-0:10] A walking upright bass")
    prov = clean.provenance["clean"]
    assert prov.backend == "openai" and prov.model_id == "test-model"
    assert prov.prompt is not None and prov.prompt.name == "clean_v1" and len(prov.prompt.sha256) == 64
    assert prov.extra["response_ids"][0].startswith("chatcmpl-")
    assert prov.extra["usage"]["total_tokens"] == 200
    assert result.summary.usage["run_total_tokens"] == 200
    assert result.summary.usage["run_estimated_cost_usd"] == pytest.approx((120 * 0.15 + 80 * 0.6) / 1e6)
    request = server.requests[0]
    assert request["path"] == "/v1/chat/completions" and request["auth"] == f"Bearer {KEY}"
    assert request["body"]["response_format"]["type"] == "json_schema"
    assert request["body"]["messages"][0]["content"].startswith("You turn a music annotator")
    assert KEY not in (tmp_path / "clean" / "song0.json").read_text()


def test_schema_breaking_answer_is_retried_once_with_the_error(tmp_path: Path, server: FakeServer) -> None:
    server.script = [ok({"caption": "no other fields"}), ok(answer())]
    result = run(tmp_path, server)
    assert result.summary.computed == ["song0"]
    assert len(server.requests) == 2
    retry_messages = server.requests[1]["body"]["messages"]
    assert "broke the schema" in retry_messages[-1]["content"] and "sections" in retry_messages[-1]["content"]


def test_answers_breaking_the_schema_twice_fail_that_song(tmp_path: Path, server: FakeServer) -> None:
    outside = answer(events=[{"start": 50, "end": 500, "type": "peak", "intensity": 1.0}])
    server.script = [ok("not json at all"), ok(outside)]
    result = run(tmp_path, server)
    assert not result.summary.computed
    reason = result.summary.failed[0].reason
    assert "broke the schema after 2 tries" in reason and "ends after the song" in reason
    assert not (tmp_path / "clean" / "song0.json").exists()


def test_unknown_event_type_or_language_is_a_schema_break(tmp_path: Path, server: FakeServer) -> None:
    bad_type = answer(events=[{"start": 1, "end": 2, "type": "explosion", "intensity": 0.5}])
    server.script = [ok(bad_type), ok(answer(vocal_language="Klingon"))]
    result = run(tmp_path, server)
    assert "vocal_language" in result.summary.failed[0].reason


def test_language_name_and_free_section_label_are_mapped_not_failed(
    tmp_path: Path, server: FakeServer
) -> None:
    """A server that ignores the schema answers "English" and "Verse 1": one request, no paid retry."""
    sections = [
        {"start": 0, "end": 10, "label": "Intro", "description": "bass alone"},
        {"start": 10, "end": 40, "label": "Verse 1", "description": "trio"},
        {"start": 40, "end": 60, "label": "the part after", "description": "?"},
    ]
    server.script = [ok(answer(vocal_language="English", vocal_presence="vocal", sections=sections))]
    result = run(tmp_path, server)
    assert result.summary.computed == ["song0"] and len(server.requests) == 1
    clean = CleanAnnotation.model_validate_json((tmp_path / "clean" / "song0.json").read_text())
    assert clean.vocal_language == "en"
    assert [s.label for s in clean.sections] == ["intro", "verse", "section 3"]


def test_schema_sent_has_enums_and_the_prompt_states_the_duration(tmp_path: Path, server: FakeServer) -> None:
    server.script = [ok(answer())]
    run(tmp_path, server)
    body = server.requests[0]["body"]
    schema = json.dumps(body["response_format"]["json_schema"]["schema"])
    assert '"yue"' in schema and '"pre-chorus"' in schema and '"vocal_entry"' in schema
    assert '"unknown"' not in schema.split('"vocal_language"')[1].split("}")[0]  # null means unknown
    assert "between 0 and 95.0" in body["messages"][1]["content"]


def test_reasoning_is_not_sent_as_the_description(tmp_path: Path, server: FakeServer) -> None:
    raw_dir = tmp_path / "raw"
    raw_dir.mkdir()
    path = raw_file(raw_dir, "song0")
    data = json.loads(path.read_text())
    data["text"] = (
        "<think>Maybe a tango? No, a jazz trio.</think><answer>A jazz trio with brushed drums.</answer>"
    )
    path.write_text(json.dumps(data))
    server.script = [ok(answer())]
    run(tmp_path, server)
    assert "tango" not in server.requests[0]["body"]["messages"][1]["content"]
    clean = CleanAnnotation.model_validate_json((tmp_path / "clean" / "song0.json").read_text())
    assert clean.reasoning.startswith("Maybe a tango") and "tango" not in clean.rich_details


def test_refusal_is_a_failure_with_the_reason(tmp_path: Path, server: FakeServer) -> None:
    server.script = [refuse("I cannot describe this content.")]
    result = run(tmp_path, server)
    assert result.summary.failed[0].reason == "test-model refused: I cannot describe this content."


def test_429_then_success(tmp_path: Path, server: FakeServer) -> None:
    server.script = [rate_limited(), rate_limited(), ok(answer())]
    result = run(tmp_path, server, "cleaner.max_retries=3")
    assert result.summary.computed == ["song0"] and len(server.requests) == 3


def test_persistent_429_fails_the_song_and_the_next_song_still_runs(
    tmp_path: Path, server: FakeServer
) -> None:
    server.script = [rate_limited(), rate_limited(), ok(answer())]
    result = run(tmp_path, server, "cleaner.max_retries=1", songs=2)
    assert [f.id for f in result.summary.failed] == ["song0"]
    assert "HTTP 429 after 1 retries" in result.summary.failed[0].reason
    assert result.summary.computed == ["song1"]


def test_a_hanging_server_times_out(tmp_path: Path, server: FakeServer) -> None:
    server.script = [hang(3.0)]
    result = run(tmp_path, server, "cleaner.timeout_s=0.5", "cleaner.max_retries=0")  # not the 3 s hang
    assert "no answer within 0.5 s" in result.summary.failed[0].reason
    assert server.url.removesuffix("/v1") in result.summary.failed[0].reason


def test_second_run_is_served_from_the_cache_without_requests(tmp_path: Path, server: FakeServer) -> None:
    first = run(tmp_path, server, cache=True, songs=2)
    assert len(first.summary.computed) == 2 and len(server.requests) == 2
    second = run(tmp_path, server, cache=True, songs=2)
    assert second.summary.cached == ["song0", "song1"] and len(server.requests) == 2
    assert (
        second.summary.usage["dataset_total_tokens"] == 400 and "run_total_tokens" not in second.summary.usage
    )
    third = run(tmp_path, server, "cleaner.temperature=0.7", cache=True, songs=2)
    assert third.summary.computed == ["song0", "song1"], "a setting change is a new cache key"


def test_long_llm_caption_is_kept_inside_the_sidecar_budget(tmp_path: Path, server: FakeServer) -> None:
    long_caption = ", ".join(["lush reverb-soaked synth pads with shimmering arpeggios"] * 30)
    server.script = [ok(answer(caption=long_caption))]
    result = run(tmp_path, server)
    clean = result.outputs["song0"]
    job = SongJob(
        id="song0",
        file=Path("x"),
        key="k",
        inputs={
            "clean": clean.model_dump(mode="json"),
            "metadata": song_metadata("song0").model_dump(mode="json"),
        },
    )
    sidecar = build_sidecar(job, SidecarSettings(caption_token_budget=120))
    assert count_tokens(sidecar.caption) <= 120 and "caption_shortened" in sidecar.source.flags


def test_cli_spelling(tmp_path: Path, server: FakeServer) -> None:
    raw = raw_file(tmp_path, "cli_song")
    out = tmp_path / "out"
    code = main(
        ["clean", str(raw), "-o", str(out), "cleaner=openai", f"cleaner.base_url={server.url}",
         "cleaner.model=test-model", "--no-cache"]
    )  # fmt: skip
    assert code == 0 and (out / "cli_song.json").is_file()
    assert server.requests[0]["body"]["model"] == "test-model"


def test_missing_prompt_file_names_the_file(server: FakeServer) -> None:
    with pytest.raises(FileNotFoundError, match=r"prompts/nope\.md"):
        OpenAICleaner(model="m", prompt_file="prompts/nope.md", base_url=server.url)


def test_recorded_urls_drop_credentials() -> None:
    assert public_url("https://user:secret@host.example:8443/v1?token=abc") == "https://host.example:8443/v1"
