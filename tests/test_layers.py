"""The layers only point down, and no two of our modules import each other (directly or round a loop).

Every import of our own code counts, also one inside a function: a lazy import may keep torch out of
the CLI's start-up, but it may not point up or close a circle. The layers, bottom to top:

    ground   genlab/core/ (config, registry, parsing, paths, errors, optim, assets, ...), genlab/families/
    data     datamodules/
    models   lightning_modules/, metrics, the callbacks a model brings along
    engine   genlab/store, runner, use, data, safety, sweeps, share, compress, export; the store's callbacks
    top      CLI, UI, REST server
"""

from __future__ import annotations

import ast
from pathlib import Path

from genlab.core.paths import PROJECT_ROOT

PACKAGES = ("genlab", "lightning_modules", "datamodules", "callbacks", "ui")

GROUND, DATA, MODELS, ENGINE, TOP = range(5)
# Longest prefix wins; anything of ours not listed is engine.
LAYERS: dict[str, int] = {
    "genlab.core": GROUND,  # config, parsing, registry, paths, errors, assets, atomic files: torch-free
    "genlab.families": GROUND,
    "genlab.metrics.config": GROUND,
    "datamodules": DATA,
    "lightning_modules": MODELS,
    "genlab.metrics": MODELS,
    "callbacks.image_metrics": MODELS,
    "callbacks.nan_guard": MODELS,
    "callbacks.steps": MODELS,
    "callbacks": ENGINE,
    "genlab.cli": TOP,
    "genlab.__main__": TOP,
    "genlab.serve": TOP,
    "ui": TOP,
}
NAMES = ["ground", "data", "models", "engine", "top"]


def layer(module: str) -> int:
    if module == "genlab":
        return GROUND
    best, rank = "", ENGINE
    for prefix, r in LAYERS.items():
        if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > len(best):
            best, rank = prefix, r
    return rank


def module_name(path: Path) -> str:
    rel = path.relative_to(PROJECT_ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def own_modules() -> dict[str, Path]:
    found = {}
    for pkg in PACKAGES:
        for path in sorted((PROJECT_ROOT / pkg).rglob("*.py")):
            found[module_name(path)] = path
    return found


def imports_of(path: Path, modules: dict[str, Path]) -> set[str]:
    """Our modules that `path` imports anywhere in the file (resolved to the longest known module)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    out = set()
    for name in names:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        if name:
            out.add(name)
    return out


def graph() -> dict[str, set[str]]:
    modules = own_modules()
    return {m: imports_of(p, modules) - {m} for m, p in modules.items()}


def test_no_module_imports_a_higher_layer() -> None:
    upward = [
        f"{m} ({NAMES[layer(m)]}) imports {t} ({NAMES[layer(t)]})"
        for m, targets in graph().items()
        for t in sorted(targets)
        if layer(t) > layer(m)
    ]
    assert not upward, "upward imports:\n" + "\n".join(upward)


def test_no_import_circles() -> None:
    g = graph()
    # Package __init__ files that re-export their children are not circles of behaviour.
    g = {m: {t for t in ts if not m.startswith(t + ".")} for m, ts in g.items()}
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for t in sorted(g.get(m, ())):
            if state.get(t) == 1:
                cycles.append(" -> ".join(stack[stack.index(t) :] + [t]))
            elif t not in state:
                visit(t)
        stack.pop()
        state[m] = 2

    for m in sorted(g):
        if m not in state:
            visit(m)
    assert not cycles, "import circles:\n" + "\n".join(cycles)


def test_the_layer_map_sees_the_known_edges() -> None:
    """The checker itself works: it finds an engine module's imports and ranks them."""
    g = graph()
    assert "genlab.store.runs" in g["genlab.runner.jobs"]
    assert layer("genlab.runner.jobs") == ENGINE and layer("lightning_modules.vae") == MODELS
    assert layer("ui.views.run") == TOP and layer("genlab.families.vae") == GROUND


def test_the_ui_imports_only_the_engine_api() -> None:
    """ui/ talks to genlab only: never to the data modules, the models or the callbacks directly."""
    g = graph()
    direct = [
        f"{m} imports {t}"
        for m, targets in g.items()
        if m.startswith("ui")
        for t in sorted(targets)
        if not (t.startswith("genlab") or t.startswith("ui"))
    ]
    assert not direct, "the UI bypasses the engine API:\n" + "\n".join(direct)
