"""`songset doctor`: a preflight for served annotation that finds, in seconds, the failures that cost hours.

Why: an endpoint that cannot start only says so after a long image build ("Unknown task custom", a
Transformers without `audioflamingo3`, a processor of another family, pins fighting the toolkit's, a token
under a name nothing reads). Each check prints PASS, WARN or FAIL with a one-line fix; any FAIL exits 1.
"""

from __future__ import annotations

import ast
import base64
import io
import json
import os
import re
import subprocess
import urllib.error
import urllib.request
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import Version

from songset.annotators.hf_endpoint import SECOND_TOKEN_ENV, WRONG_TOKEN_NAMES
from songset.annotators.hf_errors import TOKEN_ENV

# model_type -> (first Transformers release that loads it, processor class it needs)
FAMILIES = {
    "audioflamingo3": ("5.0", "AudioFlamingo3Processor"),
    "musicflamingo": ("5.5", "MusicFlamingoProcessor"),
    "qwen2_audio": ("4.45", "Qwen2AudioProcessor"),
}


@dataclass
class Finding:
    status: str  # PASS | WARN | FAIL
    check: str
    message: str
    fix: str = ""

    def line(self) -> str:
        text = f"{self.status:<4}  {self.check}: {self.message}"
        return f"{text}\n      fix: {self.fix}" if self.fix and self.status != "PASS" else text


def check_handler(repo: Path) -> Finding:
    top = repo / "handler.py"
    if not top.is_file():
        nested = sorted(p.relative_to(repo).as_posix() for p in repo.rglob("handler.py"))
        where = f" (found {', '.join(nested)})" if nested else ""
        return Finding(
            "FAIL",
            "handler",
            f"{repo} has no top-level handler.py{where}: the endpoint fails with 'Unknown task custom'",
            "copy serving/af3_transformers/handler.py to the repo root, next to config.json",
        )
    try:
        tree = ast.parse(top.read_text(encoding="utf-8"))
    except SyntaxError as exc:
        return Finding("FAIL", "handler", f"handler.py does not parse: {exc}", "fix the syntax error")
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == "EndpointHandler":
            methods = {n.name for n in node.body if isinstance(n, ast.FunctionDef)}
            missing = {"__init__", "__call__"} - methods
            if missing:
                return Finding(
                    "FAIL",
                    "handler",
                    f"EndpointHandler lacks {', '.join(sorted(missing))}",
                    "define __init__(self, path) and __call__(self, data)",
                )
            return Finding("PASS", "handler", "top-level handler.py defines EndpointHandler")
    return Finding(
        "FAIL",
        "handler",
        "handler.py has no class EndpointHandler",
        "the toolkit imports handler.EndpointHandler",
    )


def _repo_model_type(repo: Path) -> str | None:
    config = repo / "config.json"
    if not config.is_file():
        return None
    return json.loads(config.read_text(encoding="utf-8")).get("model_type")


def check_processor(repo: Path) -> Finding:
    model_type = _repo_model_type(repo)
    if model_type is None:
        return Finding("WARN", "processor", f"{repo} has no config.json with a model_type", "")
    if model_type not in FAMILIES:
        return Finding(
            "FAIL",
            "processor",
            f"config.json model_type {model_type!r} is not a Transformers audio family "
            f"({', '.join(FAMILIES)}); NVIDIA's llava checkpoints (nvidia/audio-flamingo-3) are not",
            "serve the *-hf repo with serving/af3_transformers, or use serving/af3_llava_think",
        )
    expected = FAMILIES[model_type][1]
    for name in ("processor_config.json", "preprocessor_config.json"):
        path = repo / name
        if path.is_file():
            found = json.loads(path.read_text(encoding="utf-8")).get("processor_class")
            if found and found != expected:
                return Finding(
                    "FAIL",
                    "processor",
                    f"{name} names {found} but model_type {model_type} needs {expected}",
                    f"set processor_class to {expected} (or copy the processor files from the *-hf repo)",
                )
            if found:
                return Finding("PASS", "processor", f"{found} matches model_type {model_type}")
    return Finding("WARN", "processor", "no processor_class in the repo's processor configs", "")


def _read_requirements(path: Path) -> list[Requirement]:
    reqs = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        try:
            reqs.append(Requirement(line))
        except InvalidRequirement:
            continue
    return reqs


def check_transformers(requirements: Path | None, model_type: str | None) -> Finding:
    model_type = model_type or "audioflamingo3"
    needed = FAMILIES.get(model_type, FAMILIES["audioflamingo3"])[0]
    if requirements is not None:
        req = next((r for r in _read_requirements(requirements) if r.name.lower() == "transformers"), None)
        if req is None:
            return Finding(
                "FAIL",
                "transformers",
                f"{requirements.name} does not pin transformers; the image's default may predate {model_type}",
                f"add transformers>={needed} (songset pins it in constraints.txt)",
            )
        versions = [Version(s.version) for s in req.specifier if s.operator in ("==", ">=", "~=", "===")]
        lowest = min(versions) if versions else None
        where, found = f"{requirements.name} pins", str(req.specifier)
        ok = lowest is not None and lowest >= Version(needed)
    else:
        try:
            found = metadata.version("transformers")
        except metadata.PackageNotFoundError:
            found = "not installed"
        where = "installed"
        ok = found != "not installed" and Version(found) >= Version(needed)
    if not ok:
        return Finding(
            "FAIL",
            "transformers",
            f"{where} transformers {found}, which cannot load {model_type!r} (needs >={needed})",
            f"pin transformers>={needed} (songset's constraints.txt has a tested version)",
        )
    return Finding("PASS", "transformers", f"{where} transformers {found}: loads {model_type!r}")


def _toolkit_pins() -> dict[str, Version]:
    """constraints.txt next to conf/ when present, else what is installed here."""
    from songset.config import conf_dir

    pins: dict[str, Version] = {}
    constraints = conf_dir().parent / "constraints.txt"
    if constraints.is_file():
        for req in _read_requirements(constraints):
            exact = [s.version for s in req.specifier if s.operator == "=="]
            if exact:
                pins[req.name.lower()] = Version(exact[0])
    return pins


def check_pins(requirements: Path) -> list[Finding]:
    pins = _toolkit_pins()
    findings = []
    for req in _read_requirements(requirements):
        pinned = pins.get(req.name.lower())
        if pinned is None:
            try:
                pinned = Version(metadata.version(req.name))
            except metadata.PackageNotFoundError:
                continue
        if req.specifier and not req.specifier.contains(pinned, prereleases=True):
            findings.append(
                Finding(
                    "FAIL",
                    "pins",
                    f"{requirements.name} wants {req} but songset pins {req.name}=={pinned}",
                    f"pin {req.name}=={pinned.public}, or keep this stack in its own environment "
                    "(as serving/af3_llava_think does)",
                )
            )
    if not findings:
        findings.append(Finding("PASS", "pins", f"{requirements.name} agrees with the toolkit's pins"))
    return findings


# NVIDIA's `af3` package (github:NVIDIA/audio-flamingo, branch audio_flamingo_3, pyproject.toml at AF3_COMMIT)
# pins these exactly: any other version beside it is pip's ResolutionImpossible, or, installed one after the
# other, a runtime that breaks (torchvision built for another torch: "operator torchvision::nms does not exist").
AF3_COMMIT = "c708168c7e2b9c4cdf5f4b8bc24034786e729324"
AF3_PINS = {
    "torch": "2.3.0",
    "torchvision": "0.18.0",
    "transformers": "4.46.0",
    "accelerate": "0.34.2",
    "numpy": "1.26.4",
    "sentencepiece": "0.1.99",
    "einops": "0.6.1",
    "timm": "0.9.12",
    "pytorchvideo": "0.1.5",
    "opencv-python-headless": "4.8.0.76",
    "bitsandbytes": "0.43.2",
}
# Distributions llava imports while `llava.load` runs that its pyproject does not require (installed with
# --no-deps, it brings none of its own): the module each provides, found by loading it in a clean venv.
LLAVA_IMPORTS = {
    "peft": "peft",
    "librosa": "librosa",
    "openai-whisper": "whisper",
    "deepspeed": "deepspeed",
    "kaldiio": "kaldiio",
    "soundfile": "soundfile",
    "pydub": "pydub",
    "hydra-core": "hydra",
    "loguru": "loguru",
    "matplotlib": "matplotlib",
}
# torch 2.3.0 requires triton 2.3.0, but llava's FP8 code imports triton.language.extra.cuda.libdevice (3.x):
# NVIDIA's Dockerfile and environment_setup.sh force this one afterwards, and so does the template's
# requirements-no-deps.txt (`pip install --no-deps`).
AF3_TRITON = "3.1.0"
NO_DEPS_FILE = "requirements-no-deps.txt"
LLAVA_TEMPLATE = "serving/af3_llava_think"


def _handler_tree(repo: Path) -> ast.Module | None:
    try:
        return ast.parse((repo / "handler.py").read_text(encoding="utf-8"))
    except (OSError, SyntaxError):
        return None


def is_llava_stack(repo: Path) -> bool:
    """A handler that imports NVIDIA's `llava` runtime (Stack B), which lives in its own environment."""
    tree = _handler_tree(repo)
    if tree is None:
        return False
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and any(a.name.split(".")[0] == "llava" for a in node.names):
            return True
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "llava":
            return True
    return False


def _handler_version(tree: ast.Module | None) -> str | None:
    for node in tree.body if tree else []:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "HANDLER_VERSION" for t in node.targets
        ):
            return str(ast.literal_eval(node.value))
    return None


def check_llava_handler(repo: Path) -> Finding:
    """The repo's copy of serving/af3_llava_think/handler.py is the current one (older ones lack NVIDIA's
    device placement, stage35 non-LoRA weights and the offline preprocessor config)."""
    from songset.config import conf_dir

    template = conf_dir().parent / LLAVA_TEMPLATE / "handler.py"
    if not template.is_file():
        return Finding("WARN", "llava handler", f"{template} not found: cannot compare the handler", "")
    wanted = _handler_version(_handler_tree(template.parent))
    found = _handler_version(_handler_tree(repo))
    if found != wanted:
        return Finding(
            "FAIL",
            "llava handler",
            f"handler.py is version {found} but {LLAVA_TEMPLATE}/handler.py is {wanted}: older copies leave the "
            "sound tower on the CPU, skip stage35/non_lora_trainables.bin and reach the Hub at import",
            f"copy {LLAVA_TEMPLATE}/handler.py over it",
        )
    return Finding("PASS", "llava handler", f"handler.py is the current template (version {found})")


def _llava_template_pins() -> dict[str, str]:
    """name -> "name==version" from the project's own Stack B requirements (the tested versions)."""
    from songset.config import conf_dir

    template = conf_dir().parent / LLAVA_TEMPLATE / "requirements.txt"
    if not template.is_file():
        return {}
    return {r.name.lower(): f"{r.name}{r.specifier}" for r in _read_requirements(template)}


def check_llava_requirements(requirements: Path) -> list[Finding]:
    """The endpoint image's requirements against what NVIDIA's af3 package and llava's imports need."""
    text = requirements.read_text(encoding="utf-8")
    reqs = {r.name.lower(): r for r in _read_requirements(requirements)}
    findings = []
    for name, version in AF3_PINS.items():
        req = reqs.get(name)
        if req is None or str(req.specifier) != f"=={version}":
            found = f"wants {req}" if req else f"does not pin {name}"
            why = (
                "a torchvision built for another torch dies in llava.load: operator torchvision::nms does not exist"
                if name == "torchvision"
                else "pip cannot install it beside af3 (ResolutionImpossible), or one after the other breaks it"
            )
            findings.append(
                Finding(
                    "FAIL",
                    "llava pins",
                    f"{requirements.name} {found}; NVIDIA's af3 pins {name}=={version}: {why}",
                    f"pin {name}=={version} (as {LLAVA_TEMPLATE}/requirements.txt does)",
                )
            )
    template_pins = _llava_template_pins()
    for name, module in LLAVA_IMPORTS.items():
        req = reqs.get(name)
        if req is None:
            findings.append(
                Finding(
                    "FAIL",
                    "llava imports",
                    f"{requirements.name} lacks {name}: llava imports `{module}` while loading the model",
                    f"add {template_pins.get(name, name + '==VERSION')} (as {LLAVA_TEMPLATE}/requirements.txt does)",
                )
            )
    loose = sorted(str(r) for r in reqs.values() if not any(s.operator == "==" for s in r.specifier))
    if loose:
        findings.append(
            Finding(
                "FAIL",
                "llava pins",
                f"{requirements.name} has unpinned lines ({', '.join(loose)}): drift broke this endpoint before",
                "pin every line with ==",
            )
        )
    lines = [re.split(r"(?:^|\s)#", line, maxsplit=1)[0].strip() for line in text.splitlines()]
    from_git = [line for line in lines if re.search(r"git\+|audio-flamingo|\baf3\b|\bllava\b", line)]
    if from_git:
        findings.append(
            Finding(
                "FAIL",
                "llava source",
                f"{requirements.name} installs {from_git[0]!r}: af3 with its dependencies pulls s2wrapper "
                "from git and fights these pins, and a non-editable install leaves out llava's chat templates",
                f"install the audio-flamingo checkout in the image with `pip install --no-deps -e .` at "
                f"{AF3_COMMIT[:7]} ({LLAVA_TEMPLATE}/README.md)",
            )
        )
    if "triton" in reqs:
        findings.append(
            Finding(
                "FAIL",
                "llava triton",
                f"{requirements.name} pins {reqs['triton']}: torch=={AF3_PINS['torch']} requires triton 2.3.0, "
                "so pip cannot resolve both (ResolutionImpossible)",
                f"pin triton=={AF3_TRITON} in {NO_DEPS_FILE}, installed afterwards with --no-deps",
            )
        )
    no_deps = requirements.parent / NO_DEPS_FILE
    forced = {r.name.lower(): r for r in _read_requirements(no_deps)} if no_deps.is_file() else {}
    if str(getattr(forced.get("triton"), "specifier", "")) != f"=={AF3_TRITON}":
        findings.append(
            Finding(
                "WARN",
                "llava triton",
                f"no {NO_DEPS_FILE} with triton=={AF3_TRITON} beside {requirements.name}: with torch's triton 2.3.0 "
                "llava.load fails with \"No module named 'FloatPointQuantizeTorch'\"",
                f"install triton=={AF3_TRITON} with --no-deps after requirements.txt in the image "
                f"(see {LLAVA_TEMPLATE}/{NO_DEPS_FILE})",
            )
        )
    commits = set(re.findall(r"\b[0-9a-f]{40}\b", text))
    if not commits:
        findings.append(
            Finding(
                "FAIL",
                "llava source",
                f"{requirements.name} names no audio-flamingo commit (the repository has no tags to deploy)",
                f"name the commit the image installs, e.g. # audio-flamingo {AF3_COMMIT}",
            )
        )
    elif AF3_COMMIT not in commits:
        findings.append(
            Finding(
                "WARN",
                "llava source",
                f"{requirements.name} names commit {sorted(commits)[0][:7]}; these checks know {AF3_COMMIT[:7]}",
                "re-check NVIDIA's pins at that commit",
            )
        )
    if not [f for f in findings if f.status == "FAIL"]:
        findings.append(
            Finding(
                "PASS",
                "llava pins",
                f"{requirements.name} pins NVIDIA's af3 set and every llava import (audio-flamingo "
                f"{AF3_COMMIT[:7]}); keep it out of songset's environment",
            )
        )
    return findings


def check_token() -> Finding:
    if os.environ.get(TOKEN_ENV):
        return Finding("PASS", "token", f"{TOKEN_ENV} is set")
    if os.environ.get(SECOND_TOKEN_ENV):
        return Finding(
            "WARN",
            "token",
            f"only {SECOND_TOKEN_ENV} is set; it is read after {TOKEN_ENV}",
            f"export {TOKEN_ENV}=${SECOND_TOKEN_ENV}",
        )
    wrong = [name for name in WRONG_TOKEN_NAMES if os.environ.get(name)]
    if wrong:
        return Finding(
            "WARN",
            "token",
            f"{', '.join(wrong)} is set but never read: gated repos and endpoints will answer 401",
            f"export {TOKEN_ENV}=... (and unset {wrong[0]})",
        )
    return Finding(
        "WARN", "token", f"{TOKEN_ENV} is not set", f"export {TOKEN_ENV}=hf_... for gated repos and endpoints"
    )


def _tiny_wav() -> str:
    import numpy as np
    import soundfile as sf

    buffer = io.BytesIO()
    sf.write(buffer, np.zeros(16000, dtype="float32"), 16000, format="WAV", subtype="PCM_16")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def check_url(url: str, timeout_s: float = 60.0) -> Finding:
    """POST one second of silence with max_new_tokens=1; the answer must carry a 'text'."""
    from songset.openai_client import public_url

    token = os.environ.get(TOKEN_ENV) or os.environ.get(SECOND_TOKEN_ENV)
    where = public_url(url)
    if url.rstrip("/").endswith("/v1"):  # an OpenAI-compatible server: list its models
        request = urllib.request.Request(url.rstrip("/") + "/models")
        expect = "data"
    else:
        body = {
            "inputs": {"audio": _tiny_wav(), "prompt": "Describe the audio.", "think": False},
            "parameters": {"max_new_tokens": 1},
        }
        request = urllib.request.Request(
            url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
        )
        expect = "text"
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as reply:
            answer = json.loads(reply.read())
    except urllib.error.HTTPError as exc:
        fix = f"export {TOKEN_ENV} with access to the endpoint" if exc.code in (401, 403) else "see the logs"
        return Finding("FAIL", "endpoint", f"{where} answered HTTP {exc.code}", fix)
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        reason = getattr(exc, "reason", exc)
        return Finding(
            "FAIL", "endpoint", f"{where} does not answer ({reason})", "check the URL and that it is running"
        )
    except ValueError:
        return Finding("FAIL", "endpoint", f"{where} answered something that is not JSON", "check the URL")
    if isinstance(answer, list) and len(answer) == 1:
        answer = answer[0]
    if isinstance(answer, dict) and answer.get("error"):
        return Finding("FAIL", "endpoint", f"{where} answered an error: {answer['error']}", "see the message")
    if not isinstance(answer, dict) or expect not in answer:
        got = sorted(answer) if isinstance(answer, dict) else type(answer).__name__
        return Finding(
            "FAIL",
            "endpoint",
            f"{where} answered without {expect!r} (got {got}): wrong schema",
            "deploy serving/af3_transformers/handler.py (annotator=hf_endpoint) or point at a /v1 server",
        )
    return Finding("PASS", "endpoint", f"{where} answered a tiny request")


def run_doctor(endpoint_repo: Path | None, requirements: Path | None, url: str | None) -> list[Finding]:
    for given, what in ((endpoint_repo, "endpoint repo"), (requirements, "requirements file")):
        if given is not None and not given.exists():
            return [Finding("FAIL", what, f"{given} does not exist")]
    findings: list[Finding] = []
    model_type = None
    if endpoint_repo is not None and is_llava_stack(endpoint_repo):
        return _run_llava_doctor(endpoint_repo, requirements, url)
    if endpoint_repo is not None:
        findings.append(check_handler(endpoint_repo))
        model_type = _repo_model_type(endpoint_repo)
        findings.append(check_processor(endpoint_repo))
        if requirements is None and (endpoint_repo / "requirements.txt").is_file():
            requirements = endpoint_repo / "requirements.txt"
        elif requirements is None:
            findings.append(
                Finding(
                    "WARN",
                    "requirements",
                    "the repo has no requirements.txt: the image's own transformers is used",
                    "copy serving/af3_transformers/requirements.txt next to handler.py",
                )
            )
    findings.append(check_transformers(requirements, model_type))
    if requirements is not None:
        findings.extend(check_pins(requirements))
    findings.append(check_token())
    if url:
        findings.append(check_url(url))
    return findings


def _run_llava_doctor(repo: Path, requirements: Path | None, url: str | None) -> list[Finding]:
    """Stack B: its own image, so NVIDIA's pins are checked instead of songset's."""
    findings = [check_handler(repo), check_llava_handler(repo)]
    requirements = requirements or repo / "requirements.txt"
    if requirements.is_file():
        findings.extend(check_llava_requirements(requirements))
    else:
        findings.append(
            Finding(
                "FAIL",
                "llava pins",
                f"{repo} has no requirements.txt: nothing pins NVIDIA's torch 2.3.0 set",
                f"copy {LLAVA_TEMPLATE}/requirements.txt next to handler.py",
            )
        )
    findings.append(check_token())
    if url:
        findings.append(check_url(url))
    return findings


# The first ACE-Step whose folder scan reads `<stem>.json` and `<stem>.lyrics.txt` is what `songset export`
# targets; the mirror read for songset.acestep (f30aee4, 2026-02-08) predates it. Detected by what the code
# does, since ACE-Step's version number (1.5.0) did not change with it.
_SCAN_READS_JSON = re.compile(r"""def load_json_metadata|\+\s*["']\.json["']|\}\.json["']""")
_MAX_LENGTH = re.compile(r"max_length\s*=\s*(\d+)")


def _acestep_revision(checkout: Path) -> str:
    if not (checkout / ".git").exists():
        return "not a git checkout"
    try:
        out = subprocess.run(
            ["git", "-C", str(checkout), "log", "-1", "--format=%h %cs"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        return out.stdout.strip() or "no commit"
    except (OSError, subprocess.SubprocessError):
        return "not a git checkout"


def check_acestep(checkout: Path) -> list[Finding]:
    """Whether an ACE-Step 1.5 checkout reads `songset export` the way songset wrote it."""
    training = checkout / "acestep" / "training"
    if not training.is_dir():
        return [
            Finding(
                "FAIL",
                "acestep",
                f"{checkout} is not an ACE-Step 1.5 checkout (no acestep/training/)",
                "pass the folder you run ACE-Step from (git clone https://github.com/ace-step/ACE-Step-1.5)",
            )
        ]
    sources = {p: p.read_text(encoding="utf-8", errors="replace") for p in sorted(training.rglob("*.py"))}
    revision = _acestep_revision(checkout)
    findings = []
    if any(".lyrics.txt" in text for text in sources.values()) and any(
        _SCAN_READS_JSON.search(text) for text in sources.values()
    ):
        findings.append(
            Finding(
                "PASS", "acestep scan", f"{checkout} ({revision}) scans <stem>.json and <stem>.lyrics.txt"
            )
        )
    else:
        findings.append(
            Finding(
                "FAIL",
                "acestep scan",
                f"{checkout} ({revision}) is older than the folder scan that reads <stem>.json (Feb 2026): its "
                "scan takes lyrics from <stem>.txt and labels only from a CSV, so an exported folder scans "
                "without captions, bpm or key (its dataset.json still loads with 'Load existing dataset')",
                f"git -C {checkout} pull",
            )
        )
    limits = {
        name: {int(n) for n in _MAX_LENGTH.findall(text)}
        for path, text in sources.items()
        if (name := path.name) in ("preprocess_text.py", "preprocess_lyrics.py")
    }
    expected = {"preprocess_text.py": 256, "preprocess_lyrics.py": 512}
    for name, want in expected.items():
        if name in limits and limits[name] != {want}:
            findings.append(
                Finding(
                    "WARN",
                    "acestep budgets",
                    f"{name} encodes with max_length {sorted(limits[name])}, songset counts against {want}",
                    "report it to songset: the prompt and lyrics budgets (songset.acestep) need updating",
                )
            )
    if (training / "path_safety.py").is_file():
        findings.append(
            Finding(
                "PASS",
                "acestep paths",
                "this ACE-Step reads datasets only under its working directory (or ACESTEP_SAFE_ROOT): "
                f"export with `songset export {checkout / 'datasets' / 'NAME'}`",
            )
        )
    return findings
