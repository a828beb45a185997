"""DVC stage `validate`: the gate. Fails naming song and rule when a sidecar breaks the contract, or
when any song failed upstream and `run.allow_partial` is false."""

from pathlib import Path

from songset.io import atomic_write_json
from songset.pipeline import upstream_failures
from songset.stage_main import guarded, stage_config
from songset.validate import validate_sidecars


def main() -> int:
    cfg = stage_config()
    reports = Path(cfg.paths.reports)
    report = validate_sidecars(
        Path(cfg.paths.sidecars),
        caption_token_budget=int(cfg.sidecar.caption_token_budget),
        upstream_failures=upstream_failures(reports / "stages"),
        allow_partial=bool(cfg.run.allow_partial),
    )
    atomic_write_json(reports / "validation.json", report)
    for line in report.lines():
        print(line)
    verdict = "passed" if report.ok else "FAILED"
    note = " (partial dataset accepted: run.allow_partial=true)" if report.partial else ""
    print(f"[validate] {report.valid_songs}/{report.songs} sidecars valid; dataset {verdict}{note}")
    return 0 if report.ok else 1


if __name__ == "__main__":
    raise SystemExit(guarded(main))
