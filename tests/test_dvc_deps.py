"""dvc.yaml is complete by construction: every stage depends on all project code it can run, on every prompt
file its backends can read, and on every param it reads; a transport setting (`run.jobs`) is in no stage.

Why: DVC re-runs a stage only for the deps and params it lists. A module or prompt left out means an edit
leaves `dvc status` clean and the dataset silently keeps the old outputs.
"""

from __future__ import annotations

import ast
import re
from modulefinder import ModuleFinder
from pathlib import Path

import pytest
import yaml
from conftest import PROJECT_ROOT

SRC = PROJECT_ROOT / "src"
# The config groups whose `_target_` a stage instantiates: every backend of the group can run in that stage.
STAGE_GROUPS = {
    "annotate": "annotator",
    "clean": "cleaner",
    "estimate": "estimator",
    "lyrics": "transcriber",
    "validate": "validation",
}
# Settings that change how songs are run, never what is built: listing them would rebuild for nothing.
# `run.*` is the chosen executor's settings block (`run.local`, `run.ray`), read by name at run time.
TRANSPORT_PARAMS = {"run.jobs", "run.executor", "run.ray", "run.*"}


def _dvc() -> dict:
    return yaml.safe_load((PROJECT_ROOT / "dvc.yaml").read_text())


def _params() -> dict:
    return yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text())


def _render(value: str) -> str:
    """DVC's `${paths.x}` templating, resolved from params.yaml as DVC does."""
    params = _params()

    def lookup(match: re.Match[str]) -> str:
        node = params
        for part in match.group(1).split("."):
            node = node[part]
        return str(node)

    return re.sub(r"\$\{([\w.]+)\}", lookup, value)


def _entries(items: list) -> list[str]:
    return [_render(next(iter(i)) if isinstance(i, dict) else i) for i in items]


def _backend_modules(group: str) -> set[str]:
    modules = set()
    for conf in sorted((PROJECT_ROOT / "conf" / group).glob("*.yaml")):
        target = yaml.safe_load(conf.read_text()).get("_target_")
        if target:
            modules.add(target.rsplit(".", 1)[0])
    return modules


def _module_files(stage: str) -> set[Path]:
    """Project modules the stage can import: static analysis, so imports inside functions count too."""
    finder = ModuleFinder(path=[str(SRC)])
    finder.run_script(str(PROJECT_ROOT / "stages" / f"{stage}.py"))
    group = STAGE_GROUPS.get(stage)
    for module in _backend_modules(group) if group else ():
        finder.import_hook(module)
    return {
        Path(m.__file__).resolve()
        for name, m in finder.modules.items()
        if name.split(".")[0] == "songset" and m.__file__
    }


def _covered(path: Path, deps: list[str]) -> bool:
    for dep in deps:
        dep_path = (PROJECT_ROOT / dep).resolve()
        if path == dep_path or dep_path in path.parents:
            return True
    return False


STAGES = list(_dvc()["stages"])


def test_stages_are_the_entry_points() -> None:
    assert sorted(STAGES) == sorted(p.stem for p in (PROJECT_ROOT / "stages").glob("*.py"))


@pytest.mark.parametrize("stage", STAGES)
def test_stage_depends_on_all_code_it_can_run(stage: str) -> None:
    deps = _entries(_dvc()["stages"][stage]["deps"])
    files = _module_files(stage)
    assert SRC / "songset" / "stages" / "base.py" in files, "the module finder found no project code"
    missing = sorted(str(f.relative_to(PROJECT_ROOT)) for f in files if not _covered(f, deps))
    assert not missing, f"dvc.yaml stage {stage!r} misses code it can run: {missing}"
    assert f"stages/{stage}.py" in deps


@pytest.mark.parametrize("stage", STAGES)
def test_stage_that_can_read_a_prompt_depends_on_the_prompt_files(stage: str) -> None:
    deps = _entries(_dvc()["stages"][stage]["deps"])
    reads_prompts = any(f.name == "prompts.py" for f in _module_files(stage))
    assert ("conf/prompt" in deps) == reads_prompts, (stage, reads_prompts)


DYNAMIC = "*"  # a key chosen at run time (`run_cfg.get(name)`): the executor's own settings block


def _cfg_reads(tree: ast.AST, roots: dict[str, list[str]], helpers: frozenset[str] = frozenset()) -> set[str]:
    """Config keys read in code, as dotted keys: `cfg.a.b`, `cfg.a.get("b")`, `paths.x` (after
    `paths = cfg.paths`), and a helper's parameter bound to `cfg.a` (`roots` maps a name to its key prefix).
    A block handed whole to a helper (`executor_of(cfg.run)`) is read where the helper reads it."""
    reads: set[str] = set()
    for node in ast.walk(tree):
        parent = getattr(node, "parent", None)
        if not isinstance(node, ast.Attribute) or isinstance(parent, ast.Attribute):
            continue
        chain: list[str] = []
        cur: ast.AST = node
        while isinstance(cur, ast.Attribute):
            chain.append(cur.attr)
            cur = cur.value
        if not (isinstance(cur, ast.Name) and cur.id in roots):
            continue
        chain = roots[cur.id] + chain[::-1]
        if chain[-1] == "get":  # cfg.run.get("subset"): the key is the call's argument
            if not (isinstance(parent, ast.Call) and parent.args):
                continue
            arg = parent.args[0]
            chain[-1] = str(arg.value) if isinstance(arg, ast.Constant) else DYNAMIC
        elif isinstance(parent, ast.Call) and isinstance(parent.func, ast.Name) and parent.func.id in helpers:
            continue  # handed to a helper: counted by what the helper reads
        if chain != ["paths"]:
            reads.add(".".join(chain[:2]))
    return reads


def _helper_calls(tree: ast.AST, roots: dict[str, list[str]], helpers: dict[str, ast.FunctionDef]):
    """(helper, roots for its first parameter) for each call of a helper with a config block as argument."""
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in helpers):
            continue
        func = helpers[node.func.id]
        params = [a.arg for a in func.args.args]
        bound: dict[str, list[str]] = {}
        for param, arg in zip(params, node.args, strict=False):
            chain: list[str] = []
            cur: ast.AST = arg
            while isinstance(cur, ast.Attribute):
                chain.append(cur.attr)
                cur = cur.value
            if isinstance(cur, ast.Name) and cur.id in roots:
                bound[param] = roots[cur.id] + chain[::-1]
        yield func, bound


def _parented(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            child.parent = node  # type: ignore[attr-defined]
    return tree


def _stage_reads(stage: str) -> set[str]:
    script = _parented(ast.parse((PROJECT_ROOT / "stages" / f"{stage}.py").read_text()))
    helpers = {
        f.name: f
        for f in _parented(ast.parse((SRC / "songset" / "stage_main.py").read_text())).body
        if isinstance(f, ast.FunctionDef)
    }
    names = frozenset(helpers)
    base = {"cfg": [], "paths": ["paths"]}
    reads = _cfg_reads(script, base, names)
    todo = list(_helper_calls(script, base, helpers))
    seen: set[tuple[str, str]] = set()
    while todo:
        func, bound = todo.pop()
        marker = (func.name, repr(sorted(bound.items())))
        if marker in seen:
            continue
        seen.add(marker)
        roots = {**base, **bound}
        reads |= _cfg_reads(func, roots, names)
        todo.extend(_helper_calls(func, roots, helpers))
    return reads


@pytest.mark.parametrize("stage", STAGES)
def test_stage_lists_every_param_it_reads_and_no_transport_setting(stage: str) -> None:
    params = [str(p) for p in _dvc()["stages"][stage].get("params", [])]
    reads = _stage_reads(stage) - TRANSPORT_PARAMS
    assert reads, "found no config reads: the analysis is broken"
    unlisted = sorted(r for r in reads if not any(r == p or r.startswith(p + ".") for p in params))
    assert not unlisted, f"dvc.yaml stage {stage!r} reads params it does not list: {unlisted}"
    assert not TRANSPORT_PARAMS & set(params), f"{stage!r} lists a transport setting"


def test_output_paths_come_from_params() -> None:
    """Paths live in params.yaml (`paths`); dvc.yaml refers to them, never repeats them as literals."""
    text = (PROJECT_ROOT / "dvc.yaml").read_text()
    for key, value in _params()["paths"].items():
        literal = re.findall(rf"^\s+- {re.escape(str(value))}(?:/|:|$)", text, flags=re.M)
        assert not literal, f"dvc.yaml repeats paths.{key} ({value}) as a literal"


def test_the_analysis_sees_a_missing_dependency() -> None:
    """The checks above can fail: leave out one module a stage runs and it is reported."""
    files = _module_files("estimate")
    deps = [str(f.relative_to(PROJECT_ROOT)) for f in files if f.name != "songs.py"]
    assert [f.name for f in files if not _covered(f, deps)] == ["songs.py"]
    without_library = [d for d in _entries(_dvc()["stages"]["estimate"]["deps"]) if d != "src/songset"]
    assert SRC / "songset" / "songs.py" in {f for f in files if not _covered(f, without_library)}
