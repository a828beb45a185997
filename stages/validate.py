"""DVC stage `validate`: the gate. Fails naming song and rule when a sidecar breaks the contract, or
when any song failed upstream and `run.allow_partial` is false."""

from pathlib import Path

from songset.stage_main import guarded, stage_config
from songset.stages.validate import run_validate


def main() -> int:
    cfg = stage_config()
    report = run_validate(
        Path(cfg.paths.sidecars),
        Path(cfg.paths.reports),
        cfg.validation,
        caption_token_budget=int(cfg.sidecar.caption_token_budget),
        allow_partial=bool(cfg.run.allow_partial),
    )
    return 0 if report.ok else 1


if __name__ == "__main__":
    raise SystemExit(guarded(main))
