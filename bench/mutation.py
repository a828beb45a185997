"""Mutation testing where a silent bug costs a training run: do the tests notice a small wrong change?

Runs mutmut (PyPI) one module at a time, each against only the fast tests that cover it, in a scratch copy
of the project (the working tree is never touched). Prints the kill rate per module and every surviving
mutant's diff. Not part of CI: it takes minutes per module.

    python bench/mutation.py                       # every module below, one after the other
    python bench/mutation.py sidecars export       # some of them
    python bench/mutation.py --budget-s 600 --keep /tmp/mut   # per-module time limit; keep the scratch copy

Needs `pip install -e ".[mutation]"` (mutmut). Kill rate = killed / (killed + survived + no tests):
a mutant no selected test reaches counts as a survivor. Timeouts count as killed (the change was noticed).
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import difflib
import fnmatch
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# What the selected tests read besides src/ and tests/ (prompts, the compose config, the NOTICE).
PROJECT_FILES = ("pyproject.toml", "conf", "params.yaml", "dvc.yaml", "NOTICE", "stages")


@dataclass(frozen=True)
class Target:
    source: str  # file to mutate, relative to the project root
    tests: tuple[str, ...]  # the fast tests that cover it
    functions: tuple[str, ...] = ()  # only these functions (mutmut names), when the file does much else
    why: str = ""


# The override-disagreement tests of test_lineage.py; the rest of it (trace, edit) covers lineage.py.
DISAGREEMENT_TESTS = (
    "test_bpm_disagreement_beyond_8_percent_and_octaves_noted_apart",
    "test_key_disagrees_only_when_neither_estimate_nor_runner_up",
    "test_disagreement_lands_in_sidecar_warnings_and_trace",
)

TARGETS: dict[str, Target] = {
    "cache": Target(
        "src/songset/cache.py",
        ("tests/test_cache.py", "tests/test_cache_keys.py"),
        why="content-addressed per-song results: a wrong key or entry serves a stale result",
    ),
    "backend": Target(
        "src/songset/backend.py",
        ("tests/test_cache_keys.py",),
        why="what of a backend's identity goes into every cache key",
    ),
    "audio_keys": Target(
        "src/songset/stages/base.py",
        ("tests/test_cache_keys.py", "tests/test_stage_jobs.py"),
        functions=("x_audio_jobs__mutmut_*",),
        why="the per-song keys of the audio stages (annotate, estimate)",
    ),
    "clean_keys": Target(
        "src/songset/stages/clean.py",
        (
            "tests/test_cache_keys.py",
            "tests/test_stage_jobs.py",
            "tests/cleaners/test_openai_cleaner.py",  # a paid cleaner's token use, summed
            "tests/test_user_week.py::test_a_missing_openai_key_fails_once_before_any_song",
        ),
        functions=("x_clean_jobs__mutmut_*", "x_run_clean__mutmut_*"),
        why="the per-song keys of the clean stage",
    ),
    "sidecar_keys": Target(
        "src/songset/stages/sidecars.py",
        ("tests/test_cache_keys.py", "tests/test_git_lineage.py", "tests/test_stage_jobs.py"),
        functions=("x_run_sidecars__mutmut_*",),
        why="the per-song keys of the sidecar stage, and the lineage stamp",
    ),
    "sidecars": Target(
        "src/songset/sidecars.py",
        (
            "tests/test_sidecars.py",
            "tests/test_sidecar_rules.py",
            "tests/test_sidecar_text.py",
            "tests/lyrics/test_sidecar_declared.py",  # the declared-tag source: file tags beat estimates
            *(f"tests/test_lineage.py::{name}" for name in DISAGREEMENT_TESTS),
        ),
        why="sidecar building, override precedence, confidence filters, key identity",
    ),
    "lyrics_keys": Target(
        "src/songset/stages/lyrics.py",
        ("tests/lyrics/test_stage.py",),
        why="the lyrics stage's per-song key and inputs (lyrics file, override lyrics/language, clean facts)",
    ),
    "lyrics_resolve": Target(
        "src/songset/lyrics/resolve.py",
        (
            "tests/lyrics/test_resolve.py",
            "tests/lyrics/test_sidecar_declared.py",
            "tests/test_sidecar_rules.py",
            "tests/test_sidecars.py",  # an empty lyrics file
            "tests/lyrics/test_stage.py",
        ),
        why="lyrics and language precedence: override, lyrics file, embedded tags, transcription",
    ),
    "keys": Target(
        "src/songset/theory.py",
        ("tests/test_theory.py", "tests/test_key_spelling.py"),
        functions=("x_spell_key__mutmut_*", "x_key_index_name__mutmut_*", "x_profile_parts__mutmut_*"),
        why="key spelling ACE-Step reads (F# minor, Bb major)",
    ),
    "export": Target(
        "src/songset/export.py",
        ("tests/test_export.py", "tests/test_export_formats.py", "tests/test_export_warnings.py"),
        why="the folder and dataset.json ACE-Step trains from",
    ),
    "acestep": Target(
        "src/songset/acestep.py",
        (
            "tests/test_acestep_prompt.py",
            "tests/test_acestep_contract.py",
            "tests/test_export.py",
            "tests/test_export_formats.py",
            "tests/test_sidecar_text.py",
        ),
        why="ACE-Step's reading rules export and sidecars follow: scanned formats, prompt room, sung lyrics",
    ),
    "lineage": Target(
        "src/songset/lineage.py",
        ("tests/test_lineage.py", "tests/test_git_lineage.py", "tests/test_trace.py"),
        why="git revision, dirty flag, params hash, trace and trace --check",
    ),
}


@dataclass(frozen=True)
class TableTarget:
    """Module-level data mutmut does not mutate (it mutates functions): each row's settings are mutated
    here, one at a time, and the tests run on each variant."""

    source: str
    tests: tuple[str, ...]
    why: str = ""


TABLE_TARGETS: dict[str, TableTarget] = {
    "sidecar_fields": TableTarget(
        "src/songset/sidecar_fields.py",
        (
            "tests/test_sidecar_rules.py",
            "tests/lyrics/test_sidecar_declared.py",
            "tests/test_sidecars.py",
            "tests/test_sidecar_text.py",
            "tests/test_sidecar_fields.py",  # the table's consumers: edit help, report coverage, export keys
            "tests/test_report.py",  # the thresholds the report marks, read through the table
        ),
        why="the sidecar field table: each field's sources in order, its confidence, threshold, setting",
    ),
}
# The row attributes naming another field or setting; a mutant points one at another row's or at None.
TABLE_NAMES = ("estimate", "confidence", "threshold", "config", "declared")


def table_mutants(text: str) -> list[tuple[str, str]]:
    """(description, mutated source) for each one-place change to a `SidecarField(...)` row: a source
    dropped, two adjacent sources swapped, a named field or setting pointed elsewhere or removed."""
    rows = re.findall(r"SidecarField\((.*?)\n        \),", text, flags=re.S)
    values: dict[str, set[str]] = {name: set() for name in TABLE_NAMES}
    for row in rows:
        for name, value in re.findall(r'(\w+)="([^"]*)",', row):
            if name in values:
                values[name].add(value)
    mutants = []
    for row in rows:
        field = re.search(r'name="(\w+)"', row)
        label = field.group(1) if field else "?"
        sources_line = re.search(r"sources=\(([^)]*)\),", row)
        if sources_line:
            sources = [s.strip() for s in sources_line.group(1).split(",") if s.strip()]
            variants = [(f"drops {s}", sources[:i] + sources[i + 1 :]) for i, s in enumerate(sources)]
            variants += [
                (f"swaps {a} and {b}", [*sources[:i], b, a, *sources[i + 2 :]])
                for i, (a, b) in enumerate(itertools.pairwise(sources))
            ]
            for what, order in variants:
                joined = ", ".join(order) + ("," if len(order) == 1 else "")
                new_row = row.replace(sources_line.group(0), f"sources=({joined}),")
                mutants.append((f"{label}: sources {what}", text.replace(row, new_row, 1)))
        for name, value in re.findall(r'(\w+)="([^"]*)",', row):
            if name not in values:
                continue
            for other in [*sorted(values[name] - {value}), None]:
                replacement = f'{name}="{other}",' if other is not None else f"{name}=None,"
                new_row = row.replace(f'{name}="{value}",', replacement, 1)
                mutants.append((f"{label}: {name} {value} -> {other}", text.replace(row, new_row, 1)))
    return mutants


def run_table_target(name: str, target: TableTarget, budget_s: float, keep: Path | None) -> dict[str, object]:
    """Each table mutant against the target's tests (first failure stops a run); killed = a test failed."""
    base = Path(tempfile.mkdtemp(prefix=f"songset-mutation-{name}-", dir=keep))
    work = scratch_copy(Target(target.source, target.tests), base)
    env = {**os.environ, "PYTHONPATH": str(work / "src"), "GX_ANALYTICS_ENABLED": "False"}
    env.setdefault("NUMBA_CACHE_DIR", str(Path.home() / ".cache" / "songset" / "numba"))
    path = work / target.source
    original = path.read_text(encoding="utf-8")
    started = time.monotonic()
    results: dict[str, str] = {}
    note = ""
    for description, mutated in table_mutants(original):
        left = budget_s - (time.monotonic() - started)
        if left <= 0:
            note = f"stopped at the {budget_s:.0f} s budget"
            break
        path.write_text(mutated, encoding="utf-8")
        try:
            done = subprocess.run(
                [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *target.tests],
                cwd=work,
                env=env,
                capture_output=True,
                text=True,
                timeout=left,
                check=False,
            )
            results[description] = "killed" if done.returncode != 0 else "survived"
        except subprocess.TimeoutExpired:
            note = f"stopped at the {budget_s:.0f} s budget"
            break
        finally:
            path.write_text(original, encoding="utf-8")
    if keep is None:
        shutil.rmtree(base, ignore_errors=True)
    killed = sum(1 for s in results.values() if s == "killed")
    survivors = {d: ("survived", d) for d, s in results.items() if s == "survived"}
    return {
        "module": name,
        "mutants": len(results),
        "killed": killed,
        "not_killed": len(survivors),
        "other": {},
        "rate": killed / len(results) if results else float("nan"),
        "wall_s": time.monotonic() - started,
        "note": note,
        "survivors": survivors,
    }


def module_name(source: str) -> str:
    return source.removeprefix("src/").removesuffix(".py").replace("/", ".")


def scratch_copy(target: Target, where: Path) -> Path:
    """The project's src, tests and config in `where`, with a setup.cfg telling mutmut what to do."""
    shutil.copytree(ROOT / "src", where / "src", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "tests", where / "tests", ignore=shutil.ignore_patterns("__pycache__"))
    copied = []
    for name in PROJECT_FILES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, where / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif path.is_file():
            shutil.copy2(path, where / name)
        else:
            continue
        copied.append(name)
    lines = [
        "[mutmut]",
        "source_paths = src",
        f"only_mutate = {target.source}",
        "pytest_add_cli_args_test_selection = " + "\n    ".join(target.tests),
        "pytest_add_cli_args = -p no:cacheprovider -q",
        "also_copy = " + "\n    ".join(copied),
    ]
    (where / "setup.cfg").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return where


def statuses(work: Path, target: Target) -> dict[str, str]:
    """Mutant name -> mutmut's status, for the mutants of this target only."""
    from mutmut.stats import status_by_exit_code

    meta = work / "mutants" / f"{target.source}.meta"
    if not meta.is_file():
        return {}
    codes: dict[str, int | None] = json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"]
    prefix = module_name(target.source) + "."
    return {
        name: status_by_exit_code[code]
        for name, code in codes.items()
        if not target.functions
        or any(fnmatch.fnmatchcase(name.removeprefix(prefix), pattern) for pattern in target.functions)
    }


def mutant_diffs(work: Path, target: Target, names: list[str]) -> dict[str, str]:
    """The changed lines of each mutant against the original function, read from mutmut's mutants file.

    One parse instead of a `mutmut show` process per mutant (seconds each on a busy machine).
    """
    source = (work / "mutants" / target.source).read_text(encoding="utf-8")
    lines = source.splitlines()
    functions = {
        node.name: lines[node.lineno - 1 : node.end_lineno]
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno is not None
    }
    diffs = {}
    for name in names:
        mangled = name.rsplit(".", 1)[-1]  # a method's mutants are named xǁClassǁmethod__mutmut_N
        original = functions.get(mangled.rsplit("__mutmut_", 1)[0] + "__mutmut_orig", [])
        mutant = functions.get(mangled, [])
        changed = difflib.unified_diff(original[1:], mutant[1:], lineterm="", n=0)
        diffs[name] = "\n".join(
            line for line in changed if line[:1] in "+-" and not line.startswith(("+++", "---"))
        )
    return diffs


def run_target(name: str, target: Target, budget_s: float, keep: Path | None) -> dict[str, object]:
    base = Path(tempfile.mkdtemp(prefix=f"songset-mutation-{name}-", dir=keep))
    work = scratch_copy(target, base)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # import the mutants, not the tree
    env.setdefault("NUMBA_CACHE_DIR", str(Path.home() / ".cache" / "songset" / "numba"))
    env["GX_ANALYTICS_ENABLED"] = "False"
    prefix = module_name(target.source) + "."
    names = [prefix + pattern for pattern in target.functions]
    started = time.monotonic()
    mutmut = [sys.executable, "-m", "mutmut"]
    try:
        done = subprocess.run(
            [*mutmut, "run", "--max-children", "1", *names],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=budget_s,
            check=False,
        )
        note = "" if done.returncode == 0 else f"mutmut exited {done.returncode}: {done.stderr[-400:]}"
    except subprocess.TimeoutExpired:
        note = f"stopped at the {budget_s:.0f} s budget; unchecked mutants are listed as not checked"
    wall = time.monotonic() - started
    found = statuses(work, target)
    count = {s: sum(1 for v in found.values() if v == s) for s in set(found.values())}
    killed = count.get("killed", 0) + count.get("timeout", 0)
    not_killed = count.get("survived", 0) + count.get("no tests", 0)
    survivors = sorted(n for n, s in found.items() if s in ("survived", "no tests", "suspicious"))
    diffs = {mutant: (found[mutant], diff) for mutant, diff in mutant_diffs(work, target, survivors).items()}
    if keep is None:
        shutil.rmtree(base, ignore_errors=True)
    return {
        "module": name,
        "mutants": len(found),
        "killed": killed,
        "not_killed": not_killed,
        "other": {s: c for s, c in count.items() if s not in ("killed", "timeout", "survived", "no tests")},
        "rate": killed / (killed + not_killed) if killed + not_killed else float("nan"),
        "wall_s": wall,
        "note": note,
        "survivors": diffs,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("modules", nargs="*", choices=[[], *TARGETS, *TABLE_TARGETS], help="default: all")
    parser.add_argument("--budget-s", type=float, default=900.0, help="time limit per module (default 900)")
    parser.add_argument("--keep", type=Path, help="keep the scratch copies under this folder")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument(
        "--only", nargs="+", default=(), metavar="FUNCTION", help="mutate only these functions (mutmut names)"
    )
    args = parser.parse_args(argv)
    try:
        import mutmut  # noqa: F401
    except ImportError:
        print('mutmut is not installed: pip install -e ".[mutation]"', file=sys.stderr)
        return 2
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
    results = []
    for name in args.modules or [*TARGETS, *TABLE_TARGETS]:
        if name in TABLE_TARGETS:
            table = TABLE_TARGETS[name]
            print(f"[{name}] {table.source}: {table.why}", flush=True)
            result = run_table_target(name, table, args.budget_s, args.keep)
        else:
            target = TARGETS[name]
            if args.only:
                target = dataclasses.replace(target, functions=tuple(f"x_{f}__mutmut_*" for f in args.only))
            print(f"[{name}] {target.source}: {target.why}", flush=True)
            result = run_target(name, target, args.budget_s, args.keep)
        results.append(result)
        print(
            f"[{name}] {result['killed']}/{result['killed'] + result['not_killed']} killed "
            f"({result['rate']:.0%}) in {result['wall_s']:.0f} s {result['note']}",
            flush=True,
        )

    print("\n| module | mutants | killed | survived | kill rate | other | s |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        other = ", ".join(f"{k} {v}" for k, v in r["other"].items()) or ""  # type: ignore[union-attr]
        print(
            f"| {r['module']} | {r['mutants']} | {r['killed']} | {r['not_killed']} | {r['rate']:.0%} "
            f"| {other} | {r['wall_s']:.0f} |"
        )
    for r in results:
        for mutant, (status, diff) in r["survivors"].items():  # type: ignore[union-attr]
            print(f"\n## {mutant} ({status})\n{diff}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
