"""`songset doctor` on crafted endpoint repos: each failure the user hit is named with its fix."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import PROJECT_ROOT
from fake_openai import FakeServer, send

from songset.cli import main

GOOD_REQS = (PROJECT_ROOT / "serving/af3_transformers/requirements.txt").read_text()


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(PROJECT_ROOT)
    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "hf_token", "HUGGINGFACE_TOKEN", "HF_API_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_TOKEN", "hf_SONGSETdoctorToken77")


def repo(
    tmp_path: Path, processor: str = "AudioFlamingo3Processor", reqs: str = GOOD_REQS, handler: str = ""
) -> Path:
    folder = tmp_path / "repo"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "audioflamingo3"}))
    (folder / "processor_config.json").write_text(json.dumps({"processor_class": processor}))
    (folder / "requirements.txt").write_text(reqs)
    target = folder / (handler or "handler.py")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(PROJECT_ROOT / "serving/af3_transformers/handler.py", target)
    return folder


def doctor(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["doctor", *args])
    return code, capsys.readouterr().out


def test_good_repo_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = doctor(capsys, "--endpoint-repo", str(repo(tmp_path)))
    assert code == 0, out
    assert "FAIL" not in out and "PASS  handler" in out and "PASS  processor" in out and "PASS  token" in out


def test_nested_handler_is_unknown_task_custom(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = doctor(capsys, "--endpoint-repo", str(repo(tmp_path, handler="code/handler.py")))
    assert code == 1 and "Unknown task custom" in out and "code/handler.py" in out and "fix: copy" in out


def test_old_transformers_cannot_load_audioflamingo3(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = repo(tmp_path, reqs="transformers==4.46.0\ntorch==2.13.0\n")
    code, out = doctor(capsys, "--endpoint-repo", str(folder))
    assert code == 1 and "cannot load 'audioflamingo3' (needs >=5.0)" in out
    assert "wants transformers==4.46.0 but songset pins transformers==5.24.0" in out


def test_processor_of_another_family(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = doctor(capsys, "--endpoint-repo", str(repo(tmp_path, processor="Qwen2AudioProcessor")))
    assert (
        code == 1
        and "names Qwen2AudioProcessor but model_type audioflamingo3 needs AudioFlamingo3Processor" in out
    )


def test_requirements_conflicting_with_pins(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    reqs = tmp_path / "requirements.txt"
    reqs.write_text("transformers==5.24.0\ntorch<2.10\nnumpy<2\n")
    code, out = doctor(capsys, "--requirements", str(reqs))
    assert code == 1 and "wants torch<2.10" in out and "wants numpy<2" in out and "PASS  transformers" in out


def test_token_under_the_wrong_name(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HF_TOKEN")
    monkeypatch.setenv("hf_token", "hf_secretvalue123")
    code, out = doctor(capsys)
    assert (
        code == 0 and "WARN  token: hf_token is set but never read" in out and "hf_secretvalue123" not in out
    )
    monkeypatch.delenv("hf_token")
    monkeypatch.setenv("HUGGING_FACE_HUB_TOKEN", "hf_secretvalue123")
    code, out = doctor(capsys)
    assert code == 0 and "WARN  token: only HUGGING_FACE_HUB_TOKEN is set" in out


def test_endpoint_probe(capsys: pytest.CaptureFixture[str]) -> None:
    good = FakeServer(default=lambda h: send(h, 200, {"text": "x", "provenance": {}}))
    wrong = FakeServer(default=lambda h: send(h, 200, [{"generated_text": "x"}]))
    try:
        code, out = doctor(capsys, "--url", good.root + "/")
        assert code == 0 and "PASS  endpoint" in out
        assert good.requests[0]["auth"] == "Bearer hf_SONGSETdoctorToken77"
        code, out = doctor(capsys, "--url", wrong.root + "/")
        assert code == 1 and "wrong schema" in out
        code, out = doctor(capsys, "--url", "http://127.0.0.1:9/")
        assert code == 1 and "does not answer" in out
    finally:
        good.close()
        wrong.close()


LLAVA = PROJECT_ROOT / "serving/af3_llava_think"
LLAVA_REQS = (LLAVA / "requirements.txt").read_text()
# The template as it was before issue 23: torch 2.5.1 against af3's 2.3.0, no torchvision, no imports, a "tag".
OLD_LLAVA_REQS = (
    "# Install NVIDIA's audio-flamingo repository at the tag you deploy, then these.\n"
    "transformers==4.46.0\npeft==0.14.0\naccelerate==1.1.1\ntorch==2.5.1\nsoundfile==0.13.1\n"
)


def llava_repo(tmp_path: Path, reqs: str = LLAVA_REQS, handler_version: str | None = None) -> Path:
    folder = tmp_path / "llava-repo"
    folder.mkdir(parents=True)
    shutil.copy(LLAVA / "requirements-no-deps.txt", folder)
    handler = (LLAVA / "handler.py").read_text()
    if handler_version is not None:
        handler = handler.replace('HANDLER_VERSION = "2"', f'HANDLER_VERSION = "{handler_version}"')
    (folder / "handler.py").write_text(handler)
    (folder / "requirements.txt").write_text(reqs)
    return folder


def test_llava_template_passes(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = doctor(capsys, "--endpoint-repo", str(LLAVA))
    assert code == 0, out
    assert "PASS  llava handler" in out and "PASS  llava pins" in out and "c708168" in out


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (("torch==2.3.0", "torch==2.5.1"), "wants torch==2.5.1; NVIDIA's af3 pins torch==2.3.0"),
        (("torchvision==0.18.0", ""), "operator torchvision::nms does not exist"),
        (("librosa==0.11.0", ""), "lacks librosa: llava imports `librosa`"),
        (("openai-whisper==20240930", ""), "lacks openai-whisper: llava imports `whisper`"),
        (("deepspeed==0.15.4", ""), "lacks deepspeed"),
        (("kaldiio==2.18.1", ""), "lacks kaldiio"),
        (("peft==0.14.0", "peft>=0.9"), "unpinned lines (peft>=0.9)"),
        (
            ("c708168c7e2b9c4cdf5f4b8bc24034786e729324", "the tag you deploy"),
            "names no audio-flamingo commit",
        ),
        (
            ("torch==2.3.0", "torch==2.3.0\ntriton==3.1.0"),
            "requires triton 2.3.0, so pip cannot resolve both",
        ),
        (
            (
                "loguru==0.7.3",
                "loguru==0.7.3\naf3 @ git+https://github.com/NVIDIA/audio-flamingo@c708168",
            ),
            "pulls s2wrapper from git",
        ),
    ],
)
def test_llava_conflicts_fail_with_the_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], edit: tuple[str, str], expected: str
) -> None:
    assert edit[0] in LLAVA_REQS
    code, out = doctor(capsys, "--endpoint-repo", str(llava_repo(tmp_path, LLAVA_REQS.replace(*edit))))
    assert code == 1 and expected in out and "fix: " in out, out


def test_llava_old_template_and_stale_handler(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = doctor(
        capsys, "--endpoint-repo", str(llava_repo(tmp_path, OLD_LLAVA_REQS, handler_version="1"))
    )
    assert code == 1
    for expected in (
        "handler.py is version 1 but serving/af3_llava_think/handler.py is 2",
        "wants torch==2.5.1",
        "wants accelerate==1.1.1",
        "does not pin torchvision; NVIDIA's af3 pins torchvision==0.18.0",
        "fix: add kaldiio==2.18.1 (as serving/af3_llava_think/requirements.txt does)",
        "lacks kaldiio",
        "names no audio-flamingo commit",
    ):
        assert expected in out, expected
    assert "songset pins" not in out  # its own image: songset's pins are not the yardstick
    template_copy = llava_repo(tmp_path / "b")
    (template_copy / "requirements-no-deps.txt").unlink()
    code, out = doctor(capsys, "--endpoint-repo", str(template_copy))
    assert code == 0 and "WARN  llava triton: no requirements-no-deps.txt with triton==3.1.0" in out


def test_missing_folder_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = doctor(capsys, "--endpoint-repo", str(tmp_path / "nope"))
    assert code == 1 and out.splitlines() == [f"FAIL  endpoint repo: {tmp_path / 'nope'} does not exist"]
    code, out = doctor(capsys, "--requirements", str(tmp_path / "nope.txt"))
    assert code == 1 and out.splitlines() == [
        f"FAIL  requirements file: {tmp_path / 'nope.txt'} does not exist"
    ]


def _acestep_checkout(root: Path, *, scan_reads_json: bool) -> Path:
    """A checkout's shape, in our own words: where the scan looks for lyrics and labels beside the audio."""
    modules = root / "acestep" / "training" / "dataset_builder_modules"
    modules.mkdir(parents=True)
    reader = (
        'def load_json_metadata(audio):\n    return stem(audio) + ".json"\n'
        'def load_lyrics_file(audio):\n    return stem(audio) + ".lyrics.txt"\n'
        if scan_reads_json
        else 'def load_lyrics_file(audio):\n    return stem(audio) + ".txt"\n'
    )
    (modules / "audio_io.py").write_text(reader)
    (modules / "preprocess_text.py").write_text("encode(prompt, max_length=256)\n")
    (modules / "preprocess_lyrics.py").write_text("encode(lyrics, max_length=384)\n")
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    subprocess.run(["git", "-C", str(root), "add", "."], check=True)
    subprocess.run(
        ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "x"],
        check=True,
    )
    return root


def test_doctor_checks_an_acestep_checkout(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old = _acestep_checkout(tmp_path / "old", scan_reads_json=False)
    assert main(["doctor", "--acestep", str(old)]) == 1
    out = capsys.readouterr().out
    assert "FAIL  acestep scan" in out and "older than the folder scan that reads <stem>.json" in out
    assert f"git -C {old} pull" in out
    assert "preprocess_lyrics.py encodes with max_length [384], songset counts against 512" in out
    new = _acestep_checkout(tmp_path / "new", scan_reads_json=True)
    (new / "acestep" / "training" / "path_safety.py").write_text("")
    assert main(["doctor", "--acestep", str(new)]) == 0
    out = capsys.readouterr().out
    assert "PASS  acestep scan" in out and f"export with `songset export {new / 'datasets' / 'NAME'}`" in out
    assert main(["doctor", "--acestep", str(tmp_path)]) == 1
    assert "not an ACE-Step 1.5 checkout" in capsys.readouterr().out
