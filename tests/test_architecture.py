"""The import rules of docs/architecture.md, read off the source with `ast`: every module imports
only its own layer or those below, no import circle spans more than two files, no stage imports
another, file handling imports nothing of hintrag, and no module below the stages loads them."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "hintrag"

# Bottom first; a module may import its own layer and the layers below (docs/architecture.md).
LAYERS = (
    ("base", ("", "files", "errors", "stats", "textsearch", "machine", "usage")),
    ("parts", ("llm", "envs")),
    ("play", ("records", "metrics", "agents", "hints", "training", "episodes", "scripted", "tables", "shards",
              "workers")),
    ("framework", ("stagespec", "stagegraph", "store", "artifacts", "play", "warmstart", "tracking", "validate")),
    ("stages", ("stages",)),
)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _resolve(name: str) -> str:
    """The module of the package that `name` (a module or a name in one) is."""
    while name not in MODULES:
        name = name.rpartition(".")[0]
    return name


def imports(module: str) -> set[str]:
    """The hintrag modules `module` imports anywhere in its file (lazy imports in functions too)."""
    found = set()
    for node in ast.walk(ast.parse(MODULES[module].read_text())):
        if isinstance(node, ast.Import):
            found |= {_resolve(a.name) for a in node.names if a.name.startswith("hintrag")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("hintrag"):
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                found.add(full if full in MODULES else _resolve(node.module))
    return found - {module, "hintrag"} if module != "hintrag" else found - {"hintrag"}


GRAPH = {module: imports(module) for module in MODULES}


def layer(module: str) -> int:
    top = module.split(".")[1] if "." in module else ""
    for index, (_, tops) in enumerate(LAYERS):
        if top in tops:
            return index
    raise AssertionError(f"{module} is in no layer of LAYERS: add it to the one it belongs to (docs/architecture.md)")


def test_every_module_imports_only_its_layer_and_below() -> None:
    wrong = [f"{m} ({LAYERS[layer(m)][0]}) imports {d} ({LAYERS[layer(d)][0]})"
             for m, deps in GRAPH.items() for d in sorted(deps) if layer(d) > layer(m)]
    assert not wrong, "\n".join(wrong)


def circles() -> list[set[str]]:
    """The strongly connected components of the import graph (Tarjan's algorithm), as sets."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[set[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in GRAPH[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                component.add(w)
                if w == v:
                    break
            found.append(component)

    for v in GRAPH:
        if v not in index:
            visit(v)
    return found


def test_no_import_circle_spans_more_than_two_files() -> None:
    big = [sorted(c) for c in circles() if len(c) > 2]
    assert not big, f"import circles of more than two files: {big}"


def test_no_stage_imports_another() -> None:
    stages = [m for m in MODULES if m.startswith("hintrag.stages.")]
    wrong = [f"{m} imports {d}" for m in stages for d in GRAPH[m] if d in stages]
    assert not wrong, "\n".join(wrong)


def test_file_handling_imports_nothing_of_hintrag() -> None:
    assert GRAPH["hintrag.files"] == set()


def test_no_module_below_the_stages_loads_them() -> None:
    """Imported for real, in a fresh interpreter: a lazy or dynamic import would show here too."""
    below = [m for m in MODULES if layer(m) < layer("hintrag.stages") and m != "hintrag"]
    code = ("import importlib, sys\n"
            f"for name in {below!r}:\n"
            "    importlib.import_module(name)\n"
            "    assert 'hintrag.stages' not in sys.modules, name + ' imports hintrag.stages'\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
