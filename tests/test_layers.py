"""The layers only point down, and no two of our modules import each other (directly or round a loop).

Every import of our own code counts, also one inside a function (a lazy import may keep torch out of
the CLI's start-up, but it may not point up or close a circle), a relative import (resolved, and banned:
write the absolute name), an import of a package's `__init__` from inside the package, and a module named
in a string ("pkg.mod:Class"): a reference is an arrow whether Python or a loader follows it.
Only genlab/runner/build.py (a family's module) and genlab/cli/__init__.py (a command's module, from its
table of "module:function" references, which count as imports) import by a computed name. Each kind of loop is proven caught by a planted
case at the end. The layers, bottom to top:

    ground   genlab/core/ (config, registry, parsing, paths, errors, optim, assets, ...), genlab/families/
    data     datamodules/
    models   lightning_modules/, metrics, the callbacks a model brings along
    engine   genlab/store, runner, use, data, safety, sweeps, share, compress, export; the store's callbacks
    top      CLI, UI, REST server
"""

from __future__ import annotations

import ast
import re
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


# "pkg.mod:Attr", the loader form (entry points, Lightning's class paths); a bare dotted string is more often a
# logger's name than a reference, and a loader of bare names is a computed import (refused below).
_REFERENCE = re.compile(r"(?:" + "|".join(PACKAGES) + r")(?:\.\w+)*:\w+")
# The files that import a module by a computed name: a family's module by the registry's name, and the
# CLI's command modules, loaded one at a time from their "module:function" table (so `runs list` starts fast).
COMPUTED_IMPORTS = {"genlab.runner.build", "genlab.cli"}


def _relative_target(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    """`from ..x import y` in `module` -> the absolute name it means."""
    package = module if is_package else module.rpartition(".")[0]
    for _ in range(node.level - 1):
        package = package.rpartition(".")[0]
    return f"{package}.{node.module}" if node.module else package


def references(source: str, module: str = "", is_package: bool = False) -> tuple[set[str], list[str]]:
    """(names this source points at: imports, relative imports resolved, module names in strings;
    problems: relative imports and computed imports, as 'line: what')."""
    tree = ast.parse(source)
    names: set[str] = set()
    problems: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = _relative_target(module, is_package, node)
                problems.append(
                    f"{node.lineno}: relative import (from {'.' * node.level}{node.module or ''}); write {base}"
                )
            names.add(base)
            names.update(f"{base}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and _REFERENCE.fullmatch(node.value):
            names.add(node.value.partition(":")[0])
        elif (
            isinstance(node, ast.Call)
            and (getattr(node.func, "attr", None) == "import_module" or getattr(node.func, "id", None) == "__import__")
            and module not in COMPUTED_IMPORTS
        ):
            problems.append(f"{node.lineno}: imports a module by a computed name (only {sorted(COMPUTED_IMPORTS)} may)")
    return names, problems


def resolve(names: set[str], modules: dict[str, Path] | set[str]) -> set[str]:
    """Our modules the names point at (each resolved to the longest known module)."""
    out = set()
    for name in names:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        if name:
            out.add(name)
    return out


def imports_of(path: Path, modules: dict[str, Path]) -> set[str]:
    """Our modules that `path` points at anywhere in the file."""
    names, _ = references(path.read_text(encoding="utf-8"), module_name(path), path.name == "__init__.py")
    return resolve(names, modules)


def graph() -> dict[str, set[str]]:
    modules = own_modules()
    return {m: imports_of(p, modules) - {m} for m, p in modules.items()}


def cycles(g: dict[str, set[str]]) -> list[str]:
    """Every import circle of the graph, as 'a -> b -> a' (a package's __init__ counts like any module)."""
    state: dict[str, int] = {}
    stack: list[str] = []
    found: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for t in sorted(g.get(m, ())):
            if state.get(t) == 1:
                found.append(" -> ".join(stack[stack.index(t) :] + [t]))
            elif t not in state:
                visit(t)
        stack.pop()
        state[m] = 2

    for m in sorted(g):
        if m not in state:
            visit(m)
    return found


def upward(g: dict[str, set[str]]) -> list[str]:
    return [
        f"{m} ({NAMES[layer(m)]}) imports {t} ({NAMES[layer(t)]})"
        for m, targets in g.items()
        for t in sorted(targets)
        if layer(t) > layer(m)
    ]


def test_no_relative_or_computed_imports() -> None:
    problems = []
    for m, path in own_modules().items():
        _, found = references(path.read_text(encoding="utf-8"), m, path.name == "__init__.py")
        problems += [f"{path.relative_to(PROJECT_ROOT)}:{p}" for p in found]
    assert not problems, "\n".join(problems)


def test_no_module_imports_a_higher_layer() -> None:
    bad = upward(graph())
    assert not bad, "upward imports:\n" + "\n".join(bad)


def test_no_import_circles() -> None:
    bad = cycles(graph())
    assert not bad, "import circles:\n" + "\n".join(bad)


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


# -- planted cases: each kind of loop the checks must see -------------------------------------------


def test_a_planted_relative_import_is_resolved_and_refused() -> None:
    names, problems = references("from . import jobs\nfrom ..store import runs\n", "genlab.runner.train")
    assert resolve(names, own_modules()) >= {"genlab.runner.jobs", "genlab.store.runs"}
    assert len(problems) == 2 and "relative import" in problems[0], problems


def test_a_planted_circle_through_a_package_init_is_found() -> None:
    init, _ = references("from pkg.mod import thing\n", "pkg", is_package=True)
    mod, _ = references("import pkg\n", "pkg.mod")
    known = {"pkg", "pkg.mod"}
    g = {"pkg": resolve(init, known) - {"pkg"}, "pkg.mod": resolve(mod, known) - {"pkg.mod"}}
    assert cycles(g) == ["pkg -> pkg.mod -> pkg"], g


def test_a_planted_module_named_in_a_string_is_an_arrow() -> None:
    """A spec naming its module by string while the module imports the spec is a circle and an upward arrow."""
    spec, _ = references('FAMILY = Family(module="lightning_modules.vae:VAEModule")\n', "genlab.families.vae")
    modules = own_modules()
    g = {"genlab.families.vae": resolve(spec, modules), "lightning_modules.vae": {"genlab.families.vae"}}
    assert "lightning_modules.vae" in g["genlab.families.vae"]
    assert cycles(g) and upward(g), g


def test_a_planted_computed_import_is_refused_outside_the_builder() -> None:
    source = "import importlib\nimportlib.import_module(name)\n"
    assert references(source, "genlab.use.sample")[1]
    assert not references(source, "genlab.runner.build")[1]
