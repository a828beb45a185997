"""Start-up cost: a stage entry point imports no heavy library until it computes with one.

Why: every `dvc repro` starts one Python process per stage; a top-level `import librosa` (or pandas,
great-expectations, torch) in a module every stage loads costs each of them seconds, for nothing in the
stages that never use it. Each check runs in a fresh interpreter, so what this process loaded does not count.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import PROJECT_ROOT

# Libraries that take seconds to import; a stage loads them inside the function that computes with them.
HEAVY = ("librosa", "numba", "scipy", "pandas", "great_expectations", "torch", "transformers", "sklearn")
STAGES = sorted(p.stem for p in (PROJECT_ROOT / "stages").glob("*.py"))


def _loaded_after(code: str) -> set[str]:
    """Top-level names of the modules a fresh interpreter holds after running `code`."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return {name.split(".")[0] for name in json.loads(result.stdout.splitlines()[-1])}


def _heavy(code: str) -> list[str]:
    return sorted(set(HEAVY) & _loaded_after(code))


@pytest.mark.parametrize("stage", STAGES)
def test_stage_entry_point_imports_no_heavy_library(stage: str) -> None:
    code = f"import runpy; runpy.run_path('stages/{stage}.py', run_name='imported')"  # loads, runs no main()
    assert _heavy(code) == [], f"stages/{stage}.py imports heavy libraries at start-up"


def test_the_package_and_the_music_theory_import_no_heavy_library() -> None:
    assert _heavy("import songset, songset.theory, songset.schemas, songset.stage_main") == []


def test_the_default_annotator_loads_librosa_only_to_analyse() -> None:
    """An all-cached annotate run builds the descriptor for its identity and analyses nothing."""
    assert _heavy("import songset.annotators.descriptor") == []


def test_the_check_sees_a_heavy_import() -> None:
    """The checks above can fail: a module with a top-level `import librosa` is caught."""
    assert "librosa" in _heavy("import songset, librosa")


def test_the_old_pipeline_names_resolve_to_the_stage_modules() -> None:
    """`songset.pipeline` is a lazy re-export for one release: the old names are the stage modules' own."""
    import songset.pipeline as pipeline
    from songset.stages import base, check, clean, report, sidecars

    assert pipeline.run_sidecars is sidecars.run_sidecars
    assert pipeline.run_clean is clean.run_clean
    assert pipeline.write_quality_report is report.write_quality_report
    assert pipeline.check_config is check.check_config
    assert pipeline.RunOptions is base.RunOptions
    assert pipeline._audio_jobs is base.audio_jobs
    with pytest.raises(AttributeError, match="no attribute 'run_everything'"):
        _ = pipeline.run_everything
