"""README "Export": what `songset export` warns about, where ACE-Step would cut or invent silently (a prompt
over its 256 positions, lyrics over 512, a sung song without lyrics), each at its exact edge, and what each
song's record holds. Counted with the Qwen3 tokenizer directly."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from test_export_formats import in_acestep, project

from songset.acestep import Metas, text_prompt
from songset.export import export_dataset
from songset.schemas import Sidecar
from songset.tokens import qwen3_tokenizer


def positions(text: str) -> int:
    return len(qwen3_tokenizer().encode(text)) + 1  # + the <|endoftext|> its tokenizer appends


def edit(data: Path, song: str, **fields: Any) -> Sidecar:
    path = data / "sidecars" / f"{song}.json"
    sidecar = json.loads(path.read_text())
    for name, value in fields.items():
        if name == "flags":
            sidecar["source"]["flags"] = value
        elif value is None:
            sidecar.pop(name, None)
        else:
            sidecar[name] = value
    path.write_text(json.dumps(sidecar))
    return Sidecar.model_validate(sidecar)


def caption_of(positions_wanted: int, metas: Metas) -> str:
    words: list[str] = []
    while positions(text_prompt(" ".join(["Warm", *words]), metas)) < positions_wanted:
        words.append("drums")
    return " ".join(["Warm", *words])


def lyrics_of(positions_wanted: int) -> str:
    words: list[str] = []
    while positions("[Verse]\n" + " ".join(["la", *words])) < positions_wanted:
        words.append("la")  # " la" is one token: the count steps by one
    text = "[Verse]\n" + " ".join(["la", *words])
    assert positions(text) == positions_wanted
    return text


def test_export_warns_past_acesteps_limits_and_not_at_them(tmp_path: Path) -> None:
    data = project(
        tmp_path, {"at": ".wav", "over": ".wav", "sung": ".wav", "flagged": ".wav", "inst": ".wav"}
    )
    metas = Metas.of(Sidecar.model_validate_json((data / "sidecars" / "at.json").read_text()))
    at_caption, over_caption = caption_of(256, metas), caption_of(257, metas)
    edit(data, "at", caption=at_caption, lyrics=lyrics_of(512), language="en", vocal_language="en")
    edit(data, "over", caption=over_caption, lyrics=lyrics_of(513), language="en", vocal_language="en")
    edit(data, "sung", lyrics=None, language="en", vocal_language="en")
    edit(data, "flagged", lyrics=None, language=None, flags=["vocals_without_lyrics"])
    result = export_dataset(data / "sidecars", data / "audio", in_acestep(tmp_path))
    assert sorted(result.warnings) == sorted(
        [
            "over: ACE-Step's prompt is 257 tokens, over 256; it cuts the end, the metas "
            "(bpm, key, duration) first: shorten the caption",
            "over: lyrics are 513 tokens; ACE-Step trains on the first 512 only",
            "sung: sung but no lyrics; ACE-Step trains it with `[Instrumental]` as its lyrics "
            "(add data/lyrics/sung.txt)",
            "flagged: sung but no lyrics; ACE-Step trains it with `[Instrumental]` as its lyrics "
            "(add data/lyrics/flagged.txt)",
        ]
    )
    prompts = {p.song: p for p in result.prompts}
    assert (prompts["at"].prompt, prompts["at"].prompt_tokens) == (text_prompt(at_caption, metas), 256)
    assert (prompts["over"].prompt_tokens, prompts["at"].lyrics_tokens, prompts["over"].lyrics_tokens) == (
        257,
        512,
        513,
    )
    samples = {s["id"]: s for s in json.loads((in_acestep(tmp_path) / "dataset.json").read_text())["samples"]}
    assert (samples["inst"]["language"], samples["inst"]["is_instrumental"]) == ("unknown", True)
    assert (samples["flagged"]["is_instrumental"], samples["sung"]["language"]) == (False, "en")


def test_notice_lists_every_credited_song_apart(tmp_path: Path) -> None:
    """CC BY asks for each work's credit: two credited songs are two entries, in export order."""
    data = project(tmp_path, {"a": ".wav", "b": ".wav"})
    for song, credit in (("a", "Song A by X, CC BY 4.0"), ("b", "Song B by Y, CC BY-SA 4.0")):
        path = data / "sidecars" / f"{song}.json"
        sidecar = json.loads(path.read_text())
        sidecar["source"]["attribution"] = credit
        path.write_text(json.dumps(sidecar))
    out = tmp_path / "export"
    export_dataset(data / "sidecars", data / "audio", out, notice=tmp_path / "no-NOTICE")
    assert (out / "NOTICE").read_text() == (
        "Songs in this export and their credits:\n\n"
        "a.wav\n  Song A by X, CC BY 4.0\n\nb.wav\n  Song B by Y, CC BY-SA 4.0\n"
    )
