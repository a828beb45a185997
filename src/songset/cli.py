"""`songset`: the same library functions the DVC stages call, on any files, with Hydra overrides.

songset compose [OVERRIDES]                      write params.yaml from conf/
songset annotate AUDIO... -o DIR [OVERRIDES]
songset clean RAW.json... -o DIR [OVERRIDES]
songset estimate AUDIO... --json [OVERRIDES]     one JSON object per line
songset validate DIR [OVERRIDES]                 exit 1, one line per broken song and rule
songset report DIR -o DIR
songset schema -o DIR                            JSON Schema of every file songset writes
songset trace SONG... | --check                  lineage of a sidecar; --check: exit 1 per song stale vs dvc.lock
songset edit SONG                                open data/overrides/SONG.yaml in $EDITOR, validated
songset keep [EXP]                               write an experiment's settings into conf/ (keep the winner)
songset export DIR                               the folder ACE-Step 1.5 reads (audio, .json, .lyrics.txt)
songset doctor [--endpoint-repo DIR] [--requirements FILE] [--url URL]   preflight for served annotation
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

_OVERRIDE = re.compile(r"^[+~]{0,2}[A-Za-z_][\w.@/-]*=")


def split_overrides(items: list[str]) -> tuple[list[Path], list[str]]:
    """Files first, Hydra overrides (key=value) after; an existing file named like an override is a file."""
    files: list[Path] = []
    overrides: list[str] = []
    for item in items:
        if _OVERRIDE.match(item) and not Path(item).exists():
            overrides.append(item)
        else:
            files.append(Path(item))
    return files, overrides


def existing(paths: list[Path], what: str = "input") -> list[Path]:
    """The files named on the command line; one that does not exist stops the command before any work."""
    import errno

    for path in paths:
        if not path.exists():
            raise FileNotFoundError(errno.ENOENT, f"no such {what}", str(path))
    return paths


def _default_cache_dir() -> Path:
    return Path(os.environ.get("SONGSET_CACHE_DIR", Path.home() / ".cache" / "songset"))


def _options(args: argparse.Namespace, cfg: Any) -> Any:
    from songset.stage_main import executor_of
    from songset.stages.base import RunOptions
    from songset.storage import location

    cache = None if args.no_cache else location(args.cache_dir or _default_cache_dir())
    workers = max(1, int(args.jobs or cfg.run.jobs))
    return RunOptions(cache_dir=cache, workers=workers, executor=executor_of(cfg.run))


def _add_run_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--cache-dir", help="per-song result cache (default: $SONGSET_CACHE_DIR or ~/.cache/songset)"
    )
    p.add_argument("--no-cache", action="store_true", help="compute every song, store nothing")
    p.add_argument("--jobs", type=int, help="songs in parallel (default: run.jobs)")


def _report_and_code(summary: Any) -> int:
    from songset.runner import summary_lines

    for line in summary_lines(summary):
        print(line, file=sys.stderr)
    return 1 if summary.failed else 0


def cmd_compose(args: argparse.Namespace) -> int:
    from songset.config import compose, write_params
    from songset.stages.check import check_config

    _, overrides = split_overrides(args.items)
    check_config(compose(overrides))  # a setting that does not parse never reaches params.yaml
    write_params(Path(args.output), overrides)
    print(f"wrote {args.output}")
    return 0


def cmd_conf(args: argparse.Namespace) -> int:
    """conf/<group>/*.yaml from the settings models: --check lists stale files (exit 1), --write fixes them."""
    from songset.conf_files import stale_conf_files, write_conf_files
    from songset.config import conf_dir

    root = conf_dir()
    if args.write:
        for path in write_conf_files(root):
            print(f"wrote {path}")
        return 0
    stale = stale_conf_files(root)
    for path in stale:
        print(f"{path}: differs from its settings model (run `songset conf --write`)", file=sys.stderr)
    return 1 if stale else 0


def cmd_annotate(args: argparse.Namespace) -> int:
    from songset.config import compose
    from songset.songs import songs_from_paths
    from songset.stages.annotate import run_annotate

    files, overrides = split_overrides(args.items)
    cfg = compose(overrides)
    result = run_annotate(
        songs_from_paths(existing(files)), cfg.annotator, Path(args.output), _options(args, cfg)
    )
    return _report_and_code(result.summary)


def cmd_clean(args: argparse.Namespace) -> int:
    from songset.config import compose
    from songset.stages.clean import run_clean

    files, overrides = split_overrides(args.items)
    cfg = compose(overrides)
    result = run_clean(existing(files), cfg.cleaner, Path(args.output), _options(args, cfg))
    return _report_and_code(result.summary)


# What `songset estimate` prints per file: one list, so a failed file's row has the same keys (all None).
ESTIMATE_COLUMNS = (
    "duration",
    "bpm",
    "bpm_confidence",
    "keyscale",
    "key_confidence",
    "timesignature",
    "timesignature_confidence",
)


def cmd_estimate(args: argparse.Namespace) -> int:
    import tempfile

    from songset.config import compose
    from songset.songs import songs_from_paths
    from songset.stages.estimate import run_estimate

    files, overrides = split_overrides(args.items)
    cfg = compose(overrides)
    songs = songs_from_paths(existing(files))
    with tempfile.TemporaryDirectory() as tmp:
        out_dir = Path(args.output) if args.output else Path(tmp)
        result = run_estimate(songs, cfg.estimator, out_dir, _options(args, cfg))
    failed = {f.id: f for f in [*result.summary.failed, *result.summary.skipped]}
    for song in songs:
        meta = result.outputs.get(song.id)
        row: dict[str, Any] = {"file": str(song.path)}
        row |= {name: getattr(meta, name, None) for name in ESTIMATE_COLUMNS}
        if meta is None:
            row["error"] = failed[song.id].reason if song.id in failed else "not estimated"
        if args.json:
            print(json.dumps(row, ensure_ascii=False))
        else:
            print("\t".join(f"{k}={v}" for k, v in row.items()))
    return _report_and_code(result.summary)


def cmd_validate(args: argparse.Namespace) -> int:
    from songset.config import compose, instantiate
    from songset.io import atomic_write_json
    from songset.validate import validate_sidecars

    engine = instantiate(compose(args.overrides).validation)  # validation=great_expectations to use GX
    report = validate_sidecars(Path(args.directory), caption_token_budget=args.budget, engine=engine)
    if args.output:
        atomic_write_json(Path(args.output), report)
    for line in report.lines():
        print(line)
    print(f"{report.valid_songs}/{report.songs} sidecars valid", file=sys.stderr)
    return 0 if report.ok else 1


def cmd_report(args: argparse.Namespace) -> int:
    from songset.config import compose
    from songset.stages.report import write_quality_report

    _, overrides = split_overrides(args.overrides)
    cfg = compose(overrides)
    optional = [Path(p) for p in (args.sidecars, args.metadata, args.compare) if p]
    existing([Path(args.directory), *optional], "folder")
    write_quality_report(
        raw_dir=Path(args.directory),
        out_dir=Path(args.output),
        report_cfg=cfg.report,
        sidecar_dir=Path(args.sidecars) if args.sidecars else None,
        metadata_dir=Path(args.metadata) if args.metadata else None,
        compare_dir=Path(args.compare) if args.compare else None,
    )
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    from songset.io import atomic_write_json
    from songset.schemas import json_schemas

    for name, schema in json_schemas().items():
        atomic_write_json(Path(args.output) / f"{name}.schema.json", schema)
    print(f"wrote {len(json_schemas())} schemas to {args.output}")
    return 0


def _project_path(name: str, given: str | None) -> Path:
    """A folder from the option, else from params.yaml's `paths`, else from conf/ (their one home)."""
    if given:
        return Path(given)
    from songset.config import compose, load_params

    params = Path("params.yaml")
    cfg = load_params(params) if params.is_file() else compose()
    return Path(str(cfg.paths[name]))


def cmd_trace(args: argparse.Namespace) -> int:
    from songset.io import read_json
    from songset.lineage import check_against_lock, find_sidecar, trace_lines
    from songset.schemas import Sidecar

    sidecars = _project_path("sidecars", args.sidecars)
    if args.check:
        result = check_against_lock(Path("."), sidecars)
        for note in result.notes:
            print(f"note: {note}", file=sys.stderr)
        for line in result.lines():
            print(line)
        if not result.stale:
            print(f"all sidecars in {sidecars} match dvc.lock", file=sys.stderr)
        return 1 if result.stale else 0
    if not args.songs:
        print("songset trace: name a song (or pass --check)", file=sys.stderr)
        return 2
    for i, song in enumerate(args.songs):
        path = find_sidecar(song, sidecars)
        if i:
            print()
        print("\n".join(trace_lines(Sidecar.model_validate(read_json(path)), path)))
    return 0


def cmd_edit(args: argparse.Namespace) -> int:
    from songset.edit import edit_override

    path, override = edit_override(
        args.song, _project_path("sidecars", args.sidecars), _project_path("overrides", args.overrides)
    )
    if override is None:
        print(f"{path}: unchanged", file=sys.stderr)
    else:
        decided = ", ".join(k for k, v in override.model_dump().items() if v is not None) or "nothing"
        print(f"wrote {path} ({decided}); run `dvc repro` to rebuild the sidecar", file=sys.stderr)
    return 0


def cmd_keep(args: argparse.Namespace) -> int:
    from songset.keep import experiment_params, keep

    if args.experiment:
        target = experiment_params(args.experiment)
    else:
        import yaml

        target = yaml.safe_load(Path("params.yaml").read_text(encoding="utf-8"))
    result = keep(target)
    for note in result.ignored:
        print(f"not kept: {note}", file=sys.stderr)
    for change in result.changes:
        print(f"kept {change}", file=sys.stderr)
    if not result.changes:
        print("conf/ already composes to these settings; nothing to keep", file=sys.stderr)
    else:
        files = " ".join(str(p) for p in result.files)
        print(f"wrote {files} and params.yaml; commit them: git add conf params.yaml", file=sys.stderr)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from songset.export import export_dataset

    result = export_dataset(
        _project_path("sidecars", args.sidecars),
        _project_path("audio", args.audio),
        Path(args.directory),
        notice=Path(args.notice),
        name=args.name,
        link=not args.copy,
        force=args.force,
        acestep_root=Path(args.acestep_root) if args.acestep_root else None,
    )
    if args.show_prompts:
        for song in result.prompts:
            print(
                f"== {song.song}: prompt {song.prompt_tokens}/256 tokens, lyrics {song.lyrics_tokens}/512 tokens"
            )
            print(song.prompt)
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(
        f"exported {len(result.songs)} songs to {args.directory} "
        f"({result.linked} audio files hard-linked, {result.copied} copied)",
        file=sys.stderr,
    )
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from songset.doctor import check_acestep, run_doctor

    acestep_only = args.acestep and not (args.endpoint_repo or args.requirements or args.url)
    findings = (
        []
        if acestep_only
        else run_doctor(
            Path(args.endpoint_repo) if args.endpoint_repo else None,
            Path(args.requirements) if args.requirements else None,
            args.url,
        )
    )
    if args.acestep:
        findings += check_acestep(Path(args.acestep))
    for finding in findings:
        print(finding.line())
    return 1 if any(f.status == "FAIL" for f in findings) else 0


class _SettingsHelpParser(argparse.ArgumentParser):
    """A subcommand parser whose --help ends with its backends' settings, computed only when asked."""

    settings_help: Any = None

    def format_help(self) -> str:
        text = super().format_help()
        return f"{text}\n{self.settings_help()}\n" if self.settings_help else text


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="songset", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_SettingsHelpParser)
    from songset import settings_help

    p = sub.add_parser("compose", help="compose conf/ into params.yaml (what `dvc exp run` does)")
    p.add_argument("items", nargs="*", metavar="OVERRIDE")
    p.add_argument("-o", "--output", default="params.yaml")
    p.set_defaults(func=cmd_compose)

    p = sub.add_parser("conf", help="write conf/<group>/*.yaml from the backends' settings models")
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="rewrite every stale conf file")
    mode.add_argument("--check", action="store_true", help="exit 1 naming each stale conf file")
    p.set_defaults(func=cmd_conf)

    p = sub.add_parser("annotate", help="audio -> raw annotation JSON")
    p.add_argument("items", nargs="+", metavar="AUDIO|OVERRIDE")
    p.add_argument("-o", "--output", required=True)
    _add_run_flags(p)
    p.settings_help = lambda: settings_help.group_help("annotator")
    p.set_defaults(func=cmd_annotate)

    p = sub.add_parser("clean", help="raw annotation JSON -> clean annotation JSON")
    p.add_argument("items", nargs="+", metavar="RAW.json|OVERRIDE")
    p.add_argument("-o", "--output", required=True)
    _add_run_flags(p)
    p.settings_help = lambda: settings_help.group_help("cleaner")
    p.set_defaults(func=cmd_clean)

    p = sub.add_parser("estimate", help="audio -> duration, bpm, key, meter")
    p.add_argument("items", nargs="+", metavar="AUDIO|OVERRIDE")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.add_argument("-o", "--output", help="also write metadata JSON files here")
    _add_run_flags(p)
    p.set_defaults(func=cmd_estimate)

    p = sub.add_parser("validate", help="check a sidecar folder against the ACE-Step contract")
    p.add_argument("directory")
    p.add_argument("overrides", nargs="*", metavar="OVERRIDE", help="e.g. validation=great_expectations")
    p.add_argument("--budget", type=int, default=256, help="caption token budget (default 256)")
    p.add_argument("-o", "--output", help="write the validation report JSON here")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("report", help="repetition and quality report over raw annotations")
    p.add_argument("directory")
    p.add_argument("overrides", nargs="*", metavar="OVERRIDE")
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--sidecars", help="sidecar folder, for coverage figures")
    p.add_argument("--metadata", help="metadata folder, for per-minute figures")
    p.add_argument(
        "--compare", metavar="OTHER_DIR", help="another experiment's raw annotations, side by side"
    )
    p.settings_help = settings_help.report_help
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("schema", help="export JSON Schema of every file songset writes")
    p.add_argument("-o", "--output", default="schemas")
    p.set_defaults(func=cmd_schema)

    p = sub.add_parser("trace", help="print a sidecar's lineage; --check: stale sidecars vs dvc.lock")
    p.add_argument("songs", nargs="*", metavar="SONG", help="song id or sidecar path")
    p.add_argument("--check", action="store_true", help="exit 1, one line per song stale against dvc.lock")
    p.add_argument("--sidecars", help="sidecar folder (default: paths.sidecars)")
    p.set_defaults(func=cmd_trace)

    p = sub.add_parser("edit", help="edit a song's human override in $EDITOR, validated before saving")
    p.add_argument("song", metavar="SONG")
    p.add_argument("--sidecars", help="sidecar folder (default: paths.sidecars)")
    p.add_argument("--overrides", help="overrides folder (default: paths.overrides)")
    p.set_defaults(func=cmd_edit)

    p = sub.add_parser("keep", help="write an experiment's settings into conf/ (what later runs start from)")
    p.add_argument(
        "experiment", nargs="?", metavar="EXP", help="experiment name or git revision (default: params.yaml)"
    )
    p.set_defaults(func=cmd_keep)

    p = sub.add_parser("export", help="write the folder ACE-Step 1.5 reads, with dataset.json and NOTICE")
    p.add_argument("directory", metavar="DIR")
    p.add_argument("--sidecars", help="sidecar folder (default: paths.sidecars)")
    p.add_argument("--audio", help="audio folder (default: paths.audio)")
    p.add_argument("--notice", default="NOTICE", help="project NOTICE to include (default: NOTICE)")
    p.add_argument("--name", default="songset", help="dataset name in dataset.json")
    p.add_argument("--copy", action="store_true", help="copy audio instead of hard-linking it")
    p.add_argument("--force", action="store_true", help="write into a non-empty folder")
    p.add_argument(
        "--acestep-root",
        metavar="DIR",
        help="ACE-Step's working directory (default: the checkout DIR is in); audio_path is relative to it",
    )
    p.add_argument(
        "--show-prompts", action="store_true", help="print each song's ACE-Step prompt and its token counts"
    )
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("doctor", help="preflight for served annotation: exit 1 when something blocks a run")
    p.add_argument("--endpoint-repo", metavar="DIR", help="the endpoint's model repo (handler.py, configs)")
    p.add_argument("--requirements", metavar="FILE", help="the endpoint's requirements.txt")
    p.add_argument("--url", help="endpoint URL (HF handler) or OpenAI-compatible /v1 URL to probe")
    p.add_argument(
        "--acestep", metavar="DIR", help="an ACE-Step 1.5 checkout: does it read `songset export`?"
    )
    p.set_defaults(func=cmd_doctor)
    return parser


def main(argv: list[str] | None = None) -> int:
    from songset.stage_main import setup_logging

    setup_logging()
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:  # files or overrides given after an option: argparse leaves them over
        target = "items" if hasattr(args, "items") else "overrides" if hasattr(args, "overrides") else None
        if target is None or any(item.startswith("-") for item in extra):
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        setattr(args, target, [*getattr(args, target), *extra])
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from songset.runner import SongError

    try:
        return int(args.func(args))
    except OSError as exc:  # a missing input, a full disk, a read-only folder: one line naming the path
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"songset {args.command}: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2
    except (ValueError, RuntimeError, SongError, HydraException, OmegaConfBaseException) as exc:
        # a setting that does not exist or does not parse (Hydra's own message ends in a hint line)
        message = " ".join(str(exc).split())
        print(f"songset {args.command}: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
