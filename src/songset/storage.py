"""Where audio and caches live: a local (or mounted) path, or an fsspec URL such as `s3://bucket/songs`.

A URL becomes a `UPath` (universal-pathlib: pathlib's API over fsspec), so the code that names, lists and
reads files is the same for both. What differs is decided here and only here:

- listing: one `find` call returns every object with its size and checksum, instead of a request per file;
- content hashes: songs are keyed by the sha256 of their bytes. For a URL, the hash is remembered per
  (url, size, ETag or mtime) in the user's cache folder, so the driver reads each object's bytes once, not
  on every run (DVC keeps its own state the same way, by path, size and checksum metadata);
- decoding: backends read local files, so a worker fetches a song's object into a private temporary folder,
  under its own name, just before computing it, and deletes it after (`local_job`). Workers read audio where
  it is; the driver never moves audio to them.

Credentials and endpoints are the storage library's own (for s3: `AWS_*` variables, `~/.aws`, or fsspec's
`FSSPEC_S3_ENDPOINT_URL`): never settings, so they never reach params, outputs or logs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from songset.io import atomic_write_text, is_remote, sha256_file, sha256_json

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def is_url(text: str | os.PathLike[str]) -> bool:
    return bool(_URL.match(str(text)))


def location(text: str | os.PathLike[str]) -> Path:
    """A folder or file setting as a path: `Path` for local ones, a `UPath` for fsspec URLs.

    The URL's storage library must be installed (`s3fs` for s3://, `gcsfs` for gs://); if not, the error
    says which package to install.
    """
    if not is_url(text) or str(text).startswith("file://"):
        return Path(str(text).removeprefix("file://"))
    try:
        from upath import UPath
    except ImportError as exc:
        raise ValueError(f"{text}: fsspec URLs need universal-pathlib: pip install -e '.[remote]'") from exc
    try:
        return UPath(str(text))
    except (ImportError, ValueError) as exc:
        raise ValueError(f"{text}: {exc}") from None


def _stamp(info: dict[str, Any]) -> dict[str, Any]:
    """What changes whenever an object's bytes do: size plus the store's checksum or modification time."""
    checksum = next(
        (info[k] for k in ("ETag", "etag", "md5Hash", "crc32c", "checksum", "sha256") if info.get(k)), None
    )
    modified = next(
        (info[k] for k in ("LastModified", "mtime", "updated", "last_modified") if info.get(k)), None
    )
    return {"size": info.get("size"), "checksum": checksum, "modified": None if checksum else str(modified)}


def list_files(root: Path) -> list[tuple[Path, dict[str, Any]]]:
    """Every file under `root`, recursively, sorted, with its stamp (remote) or an empty one (local)."""
    if not is_remote(root):
        if not root.is_dir():
            raise FileNotFoundError(f"audio folder {root} does not exist")
        return [(p, {}) for p in sorted(p for p in root.rglob("*") if p.is_file())]
    fs = root.fs  # type: ignore[attr-defined]
    base = root.path  # type: ignore[attr-defined]
    if not fs.isdir(base):
        raise FileNotFoundError(f"audio folder {root} does not exist")
    found = fs.find(base, detail=True)
    out = []
    for name, info in sorted(found.items()):
        if info.get("type", "file") != "file":
            continue
        out.append((root.with_segments(f"{root.protocol}://{name}"), _stamp(info)))  # type: ignore[attr-defined]
    return out


def _memo_dir() -> Path:
    explicit = os.environ.get("SONGSET_HASH_MEMO")
    if explicit:
        return Path(explicit)
    from platformdirs import user_cache_path

    return user_cache_path("songset", appauthor=False) / "content-hashes"


def content_sha256(path: Path, stamp: dict[str, Any] | None = None) -> str:
    """sha256 of the file's bytes. Remote objects are hashed once per (url, size, checksum or mtime)."""
    if not is_remote(path):
        return sha256_file(path)
    if not stamp:
        stamp = _stamp(path.fs.info(path.path))  # type: ignore[attr-defined]
    memo = _memo_dir() / f"{sha256_json({'url': str(path), **stamp})}.sha256"
    with contextlib.suppress(OSError):
        known = memo.read_text(encoding="ascii").strip()
        if re.fullmatch(r"[0-9a-f]{64}", known):
            return known
    digest = sha256_file(path)
    with contextlib.suppress(OSError):  # a read-only cache folder costs speed, not correctness
        atomic_write_text(memo, digest + "\n")
    return digest


@contextlib.contextmanager
def local_copy(path: Path) -> Iterator[Path]:
    """The file as a local path for decoders: itself when local, else a private copy under the same name."""
    if not is_remote(path):
        yield path
        return
    folder = Path(tempfile.mkdtemp(prefix="songset-audio-"))
    try:
        local = folder / path.name
        path.fs.get_file(path.path, str(local))  # type: ignore[attr-defined]
        yield local
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def local_job(job: Any) -> Iterator[Any]:
    """A SongJob whose `file` a decoder can open (the runner names errors by the song's own URL)."""
    if not is_remote(job.file):
        yield job
        return
    with local_copy(job.file) as local:
        yield dataclasses.replace(job, file=local)
