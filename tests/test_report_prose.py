"""The report on what audio LLMs write: K's two floors, English glue, frames, stacks, MinHash near duplicates.

The planted corpus (bench/planted.py) is built so the right answer is known; the full 2,000-text and
10,000-text checks are in bench/real_prose.py, this is the small version.
"""

from __future__ import annotations

import importlib.util
import json
import random
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import PROJECT_ROOT

from songset.report import (
    ReportSettings,
    build_report,
    frame_templates,
    load_annotations,
    minhash_near_duplicates,
    stack_summaries,
    template_threshold,
)

_spec = importlib.util.spec_from_file_location("planted", PROJECT_ROOT / "bench" / "planted.py")
assert _spec is not None and _spec.loader is not None
planted = importlib.util.module_from_spec(_spec)
sys.modules["planted"] = planted  # its dataclasses look their module up
_spec.loader.exec_module(planted)


def test_k_has_an_absolute_and_a_relative_floor() -> None:
    assert template_threshold(20, 0.02, 3) == 3  # 20 songs: the absolute floor
    assert template_threshold(20_000, 0.02, 3) == 400  # 20,000 songs: the relative one
    assert template_threshold(3, 0.02, 3) == 2  # never more than the other songs
    assert template_threshold(2000, 0.3, 1) == 600


def test_a_template_in_fourteen_of_fifty_songs_counts() -> None:
    rng = random.Random(3)
    words = [f"w{i}" for i in range(5000)]
    texts = {}
    for i in range(50):
        body = " ".join(rng.choice(words) for _ in range(60))
        frame = "This track is a shimmering kaleidoscopic voyage through neon memories. " if i < 14 else ""
        texts[f"s{i:02d}"] = frame + body + "."
    report = build_report(texts, settings=ReportSettings())
    reuse = {p.id: p.template_reuse for p in report.per_song}
    assert min(reuse[f"s{i:02d}"] for i in range(14)) > 0.05
    assert max(reuse[f"s{i:02d}"] for i in range(14, 50)) == 0.0
    assert ("opening", "this track is", 14) in [
        (f.position, f.frame, f.songs) for f in report.frame_templates
    ]


def test_ordinary_english_is_not_template() -> None:
    rng = random.Random(4)
    words = [f"w{i}" for i in range(5000)]
    texts = {
        f"s{i}": f"It has a sense of {' '.join(rng.choice(words) for _ in range(30))}." for i in range(4)
    }
    report = build_report(texts, settings=ReportSettings())
    assert report.template_reuse == 0.0 and report.top_phrases == []


def test_frames_need_more_than_k_songs() -> None:
    sentences = [[["this", "track", "is", "x"], ["overall", "it", "is", "y"]] for _ in range(3)]
    assert [f.frame for f in frame_templates(sentences, 2)] == ["this track is", "overall it is"]
    assert frame_templates(sentences, 3) == []


def test_minhash_pairs_equal_brute_force_at_the_threshold() -> None:
    rng = np.random.default_rng(5)
    base = [np.unique(rng.integers(0, 2**40, size=90, dtype=np.uint64)) for _ in range(60)]
    sets = list(base)
    for b in base[:20]:  # edits: 3 of ~90 elements replaced
        edited = b.copy()
        edited[:3] = rng.integers(0, 2**40, size=3, dtype=np.uint64)
        sets.append(np.unique(edited))
    ids = [f"t{i:03d}" for i in range(len(sets))]
    want = sorted(
        (ids[i], ids[j], round(len(np.intersect1d(a, b)) / len(np.union1d(a, b)), 4))
        for i, a in enumerate(sets)
        for j, b in enumerate(sets)
        if i < j and len(np.intersect1d(a, b)) / len(np.union1d(a, b)) >= 0.8
    )
    got = minhash_near_duplicates(sets, ids, threshold=0.8)
    assert sorted(got) == want and len(want) == 20


def test_planted_corpus_small() -> None:
    corpus = planted.planted_corpus(templated=45, varied=225, exact=15, near=15, seed=2)
    report = build_report(corpus.texts, settings=ReportSettings())
    reuse = {p.id: p.template_reuse for p in report.per_song}
    templated = np.mean([reuse[i] for i in corpus.templated])
    varied = np.mean([reuse[i] for i in corpus.varied])
    assert templated >= 3 * varied and templated > 0.1
    found = {(a, b) for a, b, _ in report.near_duplicate_pairs}
    assert sum(tuple(sorted(p)) in found for p in corpus.near_pairs) >= 14
    assert sum(tuple(sorted(p)) in found for p in corpus.exact_pairs) == 15
    assert report.exact_duplicate_songs == 15


def test_timestamp_fragments_are_not_words() -> None:
    texts = {
        "a": "[0:00-0:15] Soft piano (0-18%). At 45 seconds the 30-second mark passes. Strings swell.",
        "b": "[0:00-0:15] Soft piano (20-40%). At 50 seconds the 10-second mark passes. Strings swell.",
    }
    report = build_report(texts, settings=ReportSettings())
    assert report.exact_duplicate_songs == 1  # only the times differ


def _raw(song: str, text: str, backend: str, model: str, prompt_sha: str) -> str:
    prov = {"backend": backend, "model_id": model, "prompt": {"name": "p", "text": "", "sha256": prompt_sha}}
    return json.dumps({"id": song, "text": text, "provenance": prov})


def test_prompt_variants_group_under_their_stack(tmp_path: Path) -> None:
    rng = random.Random(6)
    words = [f"w{i}" for i in range(3000)]
    for prompt in ("a" * 64, "b" * 64):
        for i in range(5):
            text = " ".join(rng.choice(words) for _ in range(40))
            (tmp_path / f"mf_{prompt[0]}_{i}.json").write_text(_raw(f"s{i}", text, "mf", "nvidia/mf", prompt))
    for i in range(3):
        text = " ".join(rng.choice(words) for _ in range(40))
        (tmp_path / f"q_{i}.json").write_text(_raw(f"s{i}", text, "openai_audio", "qwen", "c" * 64))
    records = load_annotations(tmp_path)
    stacks = stack_summaries(records, ReportSettings())
    assert set(stacks) == {"mf:nvidia/mf", "openai_audio:qwen"}
    assert stacks["mf:nvidia/mf"].songs == 10
    assert stacks["mf:nvidia/mf"].prompts == {"aaaaaaaa": 5, "bbbbbbbb": 5}


# ---- the real texts, when ../shared is present ---------------------------------------------------------------

REAL = Path(__import__("os").environ.get("SONGSET_SHARED_DIR", PROJECT_ROOT.parent / "shared"))
REAL_TEXTS = REAL / "data" / "real-annotations" / "texts.jsonl"


@pytest.mark.skipif(not REAL_TEXTS.is_file(), reason="../shared/data/real-annotations is not here")
def test_music_flamingo_frame_is_found_in_the_real_texts() -> None:
    rows = [json.loads(line) for line in REAL_TEXTS.read_text(encoding="utf-8").splitlines() if line.strip()]
    report = build_report({r["id"]: r["text"] for r in rows}, settings=ReportSettings())
    frames = {(f.position, f.frame): f.songs for f in report.frame_templates}
    assert frames.get(("opening", "this track is"), 0) >= 8
