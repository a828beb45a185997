"""Stage `sidecars`: clean annotation + metadata + the lyrics stage's output + optional override and attribution -> the
ACE-Step 1.5 sidecars (`<id>.json`, `<id>.lyrics.txt`) and the dataset manifest.

Inputs per song: `SidecarInputs`. Compute: `build_sidecar` (songset.sidecars). Writes the sidecar, the sung
lyrics file, and, after the loop, `songset-manifest.json`, stamped with the lineage of this run.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, NotRequired, TypedDict

import yaml

from songset.acestep import sung_lyrics
from songset.cache import cache_key
from songset.config import settings_of
from songset.io import (
    atomic_write_json,
    atomic_write_text,
    read_json,
    sha256_file,
    sha256_json,
    sweep_orphan_temp_files,
)
from songset.runner import SongJob, StageResult, describe_error, run_stage
from songset.schemas import DatasetManifest, ManifestEntry, Sidecar, SongFailure
from songset.sidecars import SIDECAR_VERSION, SidecarSettings, build_sidecar, sidecar_json
from songset.stages.base import RunOptions, open_cache
from songset.validate import MANIFEST_NAME


class SidecarInputs(TypedDict):
    """One song's upstream outputs as read from disk. A TypedDict (not a model) because `build_sidecar`
    reads it by key, and the optional inputs (lyrics, override, attribution) may be absent."""

    clean: dict[
        str, Any
    ]  # CleanAnnotation as JSON; validated in build_sidecar, where a failure names the song
    metadata: dict[str, Any]  # SongMetadata as JSON
    song_lyrics: NotRequired[dict[str, Any] | None]  # the lyrics stage's SongLyrics as JSON
    override: NotRequired[str | None]  # data/overrides/<id>.yaml text
    override_file: NotRequired[str]
    attribution: NotRequired[str | None]  # the credit line from attribution.yaml


def _read_optional(path: Path) -> bytes | None:
    return path.read_bytes() if path.is_file() else None


def load_attributions(audio_dir: Path) -> dict[str, str]:
    """`attribution.yaml` beside the audio: file name -> credit line, carried into each sidecar."""
    path = audio_dir / "attribution.yaml"
    if not path.is_file():
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping of audio file name -> credit")
    return {str(k): str(v).strip() for k, v in data.items()}


def run_sidecars(
    clean_dir: Path,
    metadata_dir: Path,
    song_lyrics_dir: Path,
    overrides_dir: Path,
    sidecar_cfg: Any,
    out_dir: Path,
    options: RunOptions,
    *,
    attributions: dict[str, str] | None = None,
    lineage: dict[str, Any] | None = None,
) -> StageResult[Sidecar]:
    """Build every sidecar; `lineage` (git revision, dirty flag, params hash) is stamped at write time.

    The stamp is applied when writing, not when computing, so a sidecar taken from the per-song cache
    still names the commit and params that wrote this dataset version. Lyrics, language and declared
    values come from the lyrics stage's output (`song_lyrics_dir`, data/annotations/lyrics).
    """
    settings = SidecarSettings.model_validate(settings_of(sidecar_cfg))
    attributions = attributions or {}
    sweep_orphan_temp_files(out_dir)
    clean_ids = {p.stem for p in clean_dir.glob("*.json")} if clean_dir.is_dir() else set()
    meta_ids = {p.stem for p in metadata_dir.glob("*.json")} if metadata_dir.is_dir() else set()
    jobs: list[SongJob[SidecarInputs]] = []
    failed: list[SongFailure] = []
    for song_id in sorted(clean_ids & meta_ids):  # songs missing upstream already failed there
        clean_path, meta_path = clean_dir / f"{song_id}.json", metadata_dir / f"{song_id}.json"
        lyrics_path = song_lyrics_dir / f"{song_id}.json"
        override_path = next(
            (p for p in (overrides_dir / f"{song_id}.yaml", overrides_dir / f"{song_id}.yml") if p.is_file()),
            overrides_dir / f"{song_id}.yaml",
        )
        try:
            clean = read_json(clean_path)
            metadata = read_json(meta_path)
            song_lyrics = read_json(lyrics_path) if lyrics_path.is_file() else None
            override_bytes = _read_optional(override_path)
            override = override_bytes.decode("utf-8") if override_bytes is not None else None
        except (OSError, ValueError) as exc:
            failed.append(
                SongFailure(id=song_id, file=str(clean_path), stage="sidecars", reason=describe_error(exc))
            )
            continue
        attribution = attributions.get(str(metadata.get("audio_file")))
        key = cache_key(
            stage="sidecars",
            clean=sha256_file(clean_path),
            metadata=sha256_file(meta_path),
            song_lyrics=sha256_file(lyrics_path) if song_lyrics is not None else None,
            override=sha256_json(override),
            attribution=attribution,
            settings=settings.model_dump(),
            version=SIDECAR_VERSION,
        )
        inputs: SidecarInputs = {
            "clean": clean,
            "metadata": metadata,
            "song_lyrics": song_lyrics,
            "override": override,
            "override_file": str(override_path),
            "attribution": attribution,
        }
        jobs.append(SongJob(id=song_id, file=clean_path, key=key, inputs=inputs))

    def write(job: SongJob[SidecarInputs], sidecar: Sidecar) -> None:
        if lineage and "sidecar" in sidecar.source.provenance:
            provenance = dict(sidecar.source.provenance)
            provenance["sidecar"] = provenance["sidecar"].model_copy(update=lineage)
            source = sidecar.source.model_copy(update={"provenance": provenance})
            sidecar = sidecar.model_copy(update={"source": source})
        atomic_write_json(out_dir / f"{job.id}.json", sidecar_json(sidecar))
        lyrics_path = out_dir / f"{job.id}.lyrics.txt"
        if sung_lyrics(sidecar):
            atomic_write_text(lyrics_path, sidecar.lyrics.rstrip("\n") + "\n")
        else:
            lyrics_path.unlink(missing_ok=True)

    result = run_stage(
        "sidecars",
        jobs,
        functools.partial(build_sidecar, settings=settings),
        Sidecar,
        open_cache(options, "sidecars"),
        write,
        workers=1,  # assembling JSON is cheaper than starting processes
        settings_sha256=sha256_json(settings.model_dump()),
        pre_failed=failed,
        executor=options.executor,
    )
    write_manifest(out_dir, result.outputs, lineage=lineage)
    return result


def write_manifest(
    out_dir: Path,
    sidecars: dict[str, Sidecar],
    *,
    lineage: dict[str, Any] | None = None,
) -> DatasetManifest:
    entries = [
        ManifestEntry(
            id=song_id,
            audio=sidecar.source.audio_file,
            sidecar=f"{song_id}.json",
            lyrics=f"{song_id}.lyrics.txt" if sung_lyrics(sidecar) else None,
            duration=sidecar.duration,
            caption_tokens=sidecar.source.caption_tokens,
            flags=sidecar.source.flags,
        )
        for song_id, sidecar in sorted(sidecars.items())
    ]
    lineage = lineage or {}
    manifest = DatasetManifest(
        songs=len(entries),
        params_sha256=lineage.get("params_sha256") or "",
        git_revision=lineage.get("git_revision"),
        git_dirty=lineage.get("git_dirty"),
        entries=entries,
    )
    atomic_write_json(out_dir / MANIFEST_NAME, manifest)
    return manifest
