"""Bad input, faults and secrets: one broken song never costs the others, and nothing leaks.

The bad-input corpus is generated here (no large files in git) and run through the whole pipeline.
"""

from __future__ import annotations

import json
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import copy_project, repro, tool_env, write_tone

from songset.schemas import RawAnnotation, Sidecar

pytestmark = pytest.mark.slow

SECRETS = {
    "HF_TOKEN": "hf_SONGSETsecretToken7c1e",
    "OPENAI_API_KEY": "sk-SONGSETsecretKey93ab",
    "HF_ENDPOINT_TOKEN": "hf_SONGSETendpointToken55d0",
    "hf_token": "hf_SONGSETlowercaseToken0a9",
}


def tone_array(seconds: float, sr: int, channels: int = 1, freq: float = 330.0) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    mono = 0.3 * (0.6 + 0.4 * (np.sin(2 * np.pi * 2 * t) > 0)) * np.sin(2 * np.pi * freq * t)
    return np.stack([mono * (1 - 0.1 * c) for c in range(channels)], axis=1) if channels > 1 else mono


def wav_with_unknown_codec(path: Path) -> None:
    """A RIFF/WAVE header naming format tag 0x3412, which no decoder knows."""
    data = b"\x00" * 4000
    fmt = struct.pack("<HHIIHH", 0x3412, 1, 22050, 44100, 2, 16)
    riff = (
        b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    )
    path.write_bytes(b"RIFF" + struct.pack("<I", len(riff)) + riff)


def build_bad_corpus(audio: Path) -> dict[str, str]:
    """Writes the corpus; returns file name -> what the pipeline must say (empty: must build)."""
    expect: dict[str, str] = {}
    write_tone(audio / "good reference.wav", 12.0)
    expect["good reference.wav"] = ""
    sf.write(str(audio / "stereo 48k.flac"), tone_array(11, 48000, 2), 48000)
    expect["stereo 48k.flac"] = ""
    sf.write(str(audio / "six channels.wav"), tone_array(11, 22050, 6), 22050)
    expect["six channels.wav"] = "6 channels mixed down"
    sf.write(str(audio / "eight channels 16k.wav"), tone_array(11, 16000, 8), 16000)
    expect["eight channels 16k.wav"] = "8 channels mixed down"
    sf.write(str(audio / "telephone 8k.wav"), tone_array(11, 8000), 8000)
    expect["telephone 8k.wav"] = "sample rate 8000 Hz"
    sf.write(str(audio / "hires 192k.wav"), tone_array(10.5, 192000, 2), 192000, subtype="PCM_16")
    expect["hires 192k.wav"] = ""
    sf.write(str(audio / "ünïcødé sóng.ogg"), tone_array(11, 22050, 1, 440), 22050)
    expect["ünïcødé sóng.ogg"] = ""
    sf.write(str(audio / "-leading-dash.wav"), tone_array(11, 22050, 1, 550), 22050)
    expect["-leading-dash.wav"] = ""
    sf.write(str(audio / "dots..in..name.wav"), tone_array(11, 22050, 1, 660), 22050)
    expect["dots..in..name.wav"] = ""
    clipped = np.clip(tone_array(11, 22050) * 8, -1, 1)
    sf.write(str(audio / "clipped.wav"), clipped, 22050)
    expect["clipped.wav"] = "clipped"
    nans = tone_array(12, 22050).astype(np.float32)
    nans[::50] = np.nan
    sf.write(str(audio / "some nan.wav"), nans, 22050, subtype="FLOAT")
    expect["some nan.wav"] = "NaN or infinite samples replaced"
    for folder, freq in (("album one", 220.0), ("album two", 247.0)):
        (audio / folder).mkdir()
        sf.write(str(audio / folder / "intro.wav"), tone_array(11, 22050, 1, freq), 22050)
        expect[f"{folder}/intro.wav"] = ""
    (audio / "empty.wav").write_bytes(b"")
    expect["empty.wav"] = "file is empty (0 bytes)"
    (audio / "not audio.mp3").write_text("this is a text file with an audio extension\n" * 40)
    expect["not audio.mp3"] = "not a readable audio file"
    full = audio / "full.flac"
    sf.write(str(full), tone_array(20, 22050), 22050)
    (audio / "truncated.flac").write_bytes(full.read_bytes()[: full.stat().st_size // 3])
    full.unlink()
    expect["truncated.flac"] = "truncated.flac"
    wav_with_unknown_codec(audio / "unknown codec.wav")
    expect["unknown codec.wav"] = "not a readable audio file"
    sf.write(str(audio / "silence.wav"), np.zeros(22050 * 12, dtype=np.float32), 22050)
    expect["silence.wav"] = "silent"
    sf.write(str(audio / "five seconds.wav"), tone_array(5, 22050), 22050)
    expect["five seconds.wav"] = "shorter than ACE-Step's 10 s minimum"
    sf.write(str(audio / "too long.wav"), np.zeros(8000 * 601, dtype=np.int16), 8000, subtype="PCM_16")
    expect["too long.wav"] = "longer than ACE-Step's 600 s maximum"
    return expect


@pytest.fixture(scope="module")
def bad_run(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, dict[str, str], subprocess.CompletedProcess[str]]:
    root = copy_project(tmp_path_factory.mktemp("bad_input"))
    expect = build_bad_corpus(root / "data" / "audio")
    (root / "data" / "lyrics" / "good_reference.txt").write_bytes("Ça va, très bien\n".encode("latin-1"))
    (root / "data" / "overrides" / "clipped.yaml").write_text("bpm: fast\ntempo: 3\n")
    return root, expect, repro(root, env=tool_env(**SECRETS))


def test_every_bad_file_is_named_with_its_problem_and_the_rest_build(bad_run) -> None:  # type: ignore[no-untyped-def]
    root, expect, result = bad_run
    output = result.stdout + result.stderr
    assert result.returncode != 0, "the gate must fail when songs failed"
    failures: dict[str, list[str]] = {}
    for stage in ("annotate", "estimate", "clean", "sidecars"):
        summary = json.loads((root / "reports" / "stages" / f"{stage}.json").read_text())
        for failure in summary["failed"]:
            rel = failure["file"].removeprefix("data/audio/")
            failures.setdefault(rel, []).append(failure["reason"])
    sidecars = {
        p.stem: Sidecar.model_validate_json(p.read_text())
        for p in (root / "data" / "sidecars").glob("*.json")
        if p.name != "songset-manifest.json"
    }
    by_file = {s.source.audio_file: s for s in sidecars.values()}
    for name, message in expect.items():
        if (
            message in ("",)
            or "mixed down" in message
            or "sample rate" in message
            or "clipped" in message
            or "NaN" in message
        ):
            if name == "clipped.wav":  # its override is broken (checked below): its metadata still warns
                meta = json.loads((root / "data" / "metadata" / "clipped.json").read_text())
                assert any("clipped" in w for w in meta["warnings"]), meta["warnings"]
                continue
            assert name not in failures, (name, failures.get(name))
            sidecar = by_file[Path(name).name]
            if message:
                assert any(message in w for w in sidecar.source.warnings), (name, sidecar.source.warnings)
        else:
            assert name in failures, (name, sorted(failures))
            assert any(message in r and name.split("/")[-1] in r for r in failures[name]), (
                name,
                failures[name],
            )
            assert name.split("/")[-1] in output
    # duplicate stems in two folders both build, under distinct ids
    intro_ids = sorted(i for i in sidecars if i.startswith("intro-"))
    assert len(intro_ids) == 2
    # the broken override fails that song naming file and fields; lyrics in latin-1 are decoded with a warning
    override_failures = [f for f in failures.values() for r in f if "clipped.yaml" in r]
    assert override_failures and "bpm" in override_failures[0][0] and "tempo" in override_failures[0][0]
    good = sidecars["good_reference"]
    assert good.lyrics == "Ça va, très bien" and any("not UTF-8" in w for w in good.source.warnings)
    # reports list every skipped song and why
    quality = json.loads((root / "reports" / "quality.json").read_text())
    assert quality["failures"] >= len([m for m in expect.values() if m and "mixed" not in m]) - 4
    markdown = (root / "reports" / "quality.md").read_text()
    for name in ("empty.wav", "not audio.mp3", "silence.wav", "too long.wav"):
        assert name in markdown


def test_no_secret_reaches_outputs_reports_params_or_logs(bad_run) -> None:  # type: ignore[no-untyped-def]
    root, _, result = bad_run
    haystacks = {"dvc repro output": result.stdout + result.stderr}
    for folder in ("data", "reports"):
        for path in (root / folder).rglob("*"):
            if path.is_file() and path.suffix.lower() not in {".wav", ".flac", ".ogg", ".mp3"}:
                haystacks[str(path)] = path.read_bytes().decode("utf-8", "replace")
    for name in ("params.yaml", "dvc.lock"):
        haystacks[name] = (root / name).read_text()
    assert len(haystacks) > 20
    for where, text in haystacks.items():
        for secret in SECRETS.values():
            assert secret not in text, f"{secret} leaked into {where}"


def test_sigkill_mid_stage_then_rerun_finishes_without_recomputing(tmp_path: Path) -> None:
    root = copy_project(tmp_path)
    for i in range(8):
        write_tone(root / "data" / "audio" / f"song{i}.wav", 40.0, freq=200.0 + 30 * i)
    cache = root / "data" / "cache" / "annotate"
    proc = subprocess.Popen(
        [sys.executable, "stages/annotate.py", "run.jobs=1"],
        cwd=root,
        env=tool_env(),
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and len(list(cache.rglob("*.json"))) < 2 and proc.poll() is None:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = len(list(cache.rglob("*.json")))
    assert 2 <= done_before < 8, "the kill must land mid-stage"
    for path in (root / "data" / "annotations" / "raw").glob("*.json"):
        RawAnnotation.model_validate_json(path.read_text())  # every visible file is whole
    rerun = subprocess.run(
        [sys.executable, "stages/annotate.py", "run.jobs=1"],
        cwd=root,
        env=tool_env(),
        capture_output=True,
        text=True,
    )
    assert rerun.returncode == 0, rerun.stderr
    summary = json.loads((root / "reports" / "stages" / "annotate.json").read_text())
    assert len(summary["cached"]) == done_before and len(summary["computed"]) == 8 - done_before
    assert len(list((root / "data" / "annotations" / "raw").glob("*.json"))) == 8


def test_two_runs_at_once_share_the_cache_safely(tmp_path: Path) -> None:
    songs = [str(write_tone(tmp_path / f"s{i}.wav", 12.0, freq=300.0 + 40 * i)) for i in range(4)]
    cache = tmp_path / "cache"
    procs = [
        subprocess.Popen(
            [
                "songset",
                "annotate",
                *songs,
                "-o",
                str(tmp_path / f"out{n}"),
                "--cache-dir",
                str(cache),
                "--jobs",
                "1",
            ],
            env=tool_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for n in range(2)
    ]
    assert [p.wait(timeout=300) for p in procs] == [0, 0]
    entries = list(cache.rglob("*.json"))
    assert len(entries) == 4 and not list(cache.rglob("*.tmp"))
    for entry in entries:
        RawAnnotation.model_validate_json(entry.read_text())
    for name in ("s0.json", "s3.json"):
        a = json.loads((tmp_path / "out0" / name).read_text())
        b = json.loads((tmp_path / "out1" / name).read_text())
        assert a["text"] == b["text"]


def test_unwritable_output_fails_cleanly(tmp_path: Path) -> None:
    song = write_tone(tmp_path / "s.wav", 12.0)
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("a file where the output folder should be")
    result = subprocess.run(
        ["songset", "annotate", str(song), "-o", str(blocker), "--no-cache"],
        env=tool_env(),
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "not_a_folder" in result.stderr and "Traceback" not in result.stderr
