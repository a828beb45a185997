"""DVC stage `sidecars`: clean + metadata + song lyrics (lyrics stage) + overrides -> data/sidecars/ (ACE-Step 1.5 layout)."""

from pathlib import Path

from songset.lineage import lineage_stamp
from songset.stage_main import guarded, run_options, stage_config
from songset.stages.base import finish_stage
from songset.stages.sidecars import load_attributions, run_sidecars


def main() -> int:
    cfg = stage_config()
    paths = cfg.paths
    result = run_sidecars(
        Path(paths.clean),
        Path(paths.metadata),
        Path(paths.song_lyrics),
        Path(paths.overrides),
        cfg.sidecar,
        Path(paths.sidecars),
        run_options(cfg),
        attributions=load_attributions(Path(paths.audio)),
        lineage=lineage_stamp(Path("."), Path("params.yaml")),
    )
    finish_stage(result, Path(paths.reports))
    return 0


if __name__ == "__main__":
    raise SystemExit(guarded(main))
