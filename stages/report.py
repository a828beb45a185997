"""DVC stage `report`: reports/quality.json (DVC metrics), reports/quality.md and plot data."""

from pathlib import Path

from songset.stage_main import guarded, stage_config
from songset.stages.report import write_quality_report


def main() -> int:
    cfg = stage_config()
    paths = cfg.paths
    write_quality_report(
        raw_dir=Path(paths.raw),
        out_dir=Path(paths.reports),
        report_cfg=cfg.report,
        sidecar_dir=Path(paths.sidecars),
        metadata_dir=Path(paths.metadata),
        stages_dir=Path(paths.reports) / "stages",
        allow_partial=bool(cfg.run.allow_partial),
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(guarded(main))
