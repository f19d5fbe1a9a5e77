"""The package's import graph: no cycles, and no module imports from a layer above its own.

Data flows one way (datasets → models → training → run folder → evaluation, generation and reports); this
keeps the code that way. Lazy imports inside functions count too: they are dependencies all the same.
"""
import ast
from fnmatch import fnmatch
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "cgan"
# Lowest first. A module may import from its own layer and the ones below.
LAYERS = [
    ("cgan", "cgan.batching", "cgan.errors", "cgan.io", "cgan.lock", "cgan.labels_cifar100"),
    ("cgan.models", "cgan.models.*"),
    ("cgan.config", "cgan.data", "cgan.distribute", "cgan.plots", "cgan.runtime"),
    ("cgan.runs",),
    ("cgan.evaluation", "cgan.evaluation.metrics", "cgan.evaluation.inception", "cgan.evaluation.classifier",
     "cgan.evaluation.scoring"),
    ("cgan.training", "cgan.training.*"),
    ("cgan.generate", "cgan.onnx", "cgan.onnx_weights"),
    ("cgan.evaluation.evaluate", "cgan.reports", "cgan.reports.*", "cgan.notebook", "cgan.notebook.*"),
    ("cgan.cli", "cgan.__main__"),
]


def _name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] == "cgan":
            for alias in node.names:  # `from cgan.x import y` imports the module cgan.x.y where there is one
                submodule = f"{node.module}.{alias.name}"
                found.add(submodule if submodule in MODULES else node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.split(".")[0] == "cgan")
    return found - {_name(path)}


MODULES = {_name(path): path for path in PACKAGE.rglob("*.py")}
GRAPH = {name: _imports(path) for name, path in MODULES.items()}


def _layer(module: str) -> int:
    matches = [i for i, layer in enumerate(LAYERS) if any(fnmatch(module, pattern) for pattern in layer)]
    assert matches, f"{module} belongs to no layer: add it to LAYERS"
    return matches[0]


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_imports_from_a_higher_layer(module):
    upward = sorted(target for target in GRAPH[module] if _layer(target) > _layer(module))
    assert not upward, f"{module} (layer {_layer(module)}) imports {upward} from higher layers"


def test_the_import_graph_has_no_cycles():
    state, path = {}, []

    def visit(module):
        state[module] = "open"
        path.append(module)
        for target in sorted(GRAPH.get(module, ())):
            if state.get(target) == "open":
                raise AssertionError("import cycle: " + " → ".join(path[path.index(target):] + [target]))
            if target not in state:
                visit(target)
        path.pop()
        state[module] = "done"

    for module in sorted(GRAPH):
        if module not in state:
            visit(module)


def test_the_checks_see_the_imports():
    # The graph must find lazy imports inside functions and `from package import module` forms.
    assert "cgan.training.quality" in GRAPH["cgan.training.train"]  # imported inside train()
    assert "cgan.evaluation.metrics" in GRAPH["cgan.evaluation.scoring"]  # from cgan.evaluation import metrics
    assert _layer("cgan.cli") > _layer("cgan.training.train") > _layer("cgan.runs") > _layer("cgan.data")
