"""The layers of the package (docs/architecture.md): a module may import from its own layer and
those below, never from a layer above. Every import is read from the source, including the ones
inside functions (a lazy import is still a dependency)."""

import ast
import pathlib

import pytest

SRC = pathlib.Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "chainrule"

# the layers, lowest first; a module belongs to the first entry that names it or its package
LAYERS = [
    ("engine", ["chainrule.tensor", "chainrule.autograd", "chainrule.ops", "chainrule.functions",
                "chainrule.creation", "chainrule.random", "chainrule.gradcheck",
                "chainrule.serialization", "chainrule.checks", "chainrule.files",
                "chainrule.handwritten", "chainrule.op_cases", "chainrule.dtypes",
                "chainrule.device", "chainrule.accelerator", "chainrule.cuda",
                "chainrule.backends", "chainrule.autograd_compat", "chainrule.backend",
                "chainrule.standin", "chainrule.kernels"]),
    ("nn, optim, data", ["chainrule.nn", "chainrule.optim", "chainrule.data", "chainrule.utils",
                         "chainrule"]),
    ("training", ["chainrule.training", "chainrule.train"]),
    ("applications", ["chainrule.apps", "chainrule.torch_twin"]),
    ("commands", ["chainrule.commands", "chainrule.cli", "chainrule.__main__"]),
]


def _layer(module: str) -> int:
    best = None
    for rank, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if module == prefix or module.startswith(prefix + "."):
                if best is None or len(prefix) > best[1]:
                    best = (rank, len(prefix))
    if best is None:
        raise AssertionError(f"{module} is in no layer; add it to LAYERS in {__file__}")
    return best[0]


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts = parts[:-1]
        yield ".".join(parts), is_package, path


def _imports(name: str, is_package: bool, path: pathlib.Path):
    """(line, imported module) for every import of a chainrule module in the file."""
    package = name if is_package else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "chainrule":
                    yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "chainrule":
                continue
            for alias in node.names:  # "from . import nn" imports the module chainrule.nn
                candidate = f"{target}.{alias.name}"
                module_path = SRC / pathlib.Path(*candidate.split("."))
                found = module_path.with_suffix(".py").exists() or module_path.is_dir()
                yield node.lineno, candidate if found else target


def _violations():
    found = []
    for name, is_package, path in _modules():
        mine = _layer(name)
        for line, target in _imports(name, is_package, path):
            if name == "chainrule" and target.startswith("chainrule."):
                continue  # the package itself re-exports from below and beside it
            if _layer(target) > mine:
                found.append(f"{path.relative_to(SRC)}:{line}: {name} ({LAYERS[mine][0]}) imports "
                             f"{target} ({LAYERS[_layer(target)][0]})")
    return found


def test_no_module_imports_from_a_layer_above_it():
    assert _violations() == []


def test_the_check_sees_an_upward_import(tmp_path, monkeypatch):
    """The rule can fail: a training module importing an application is caught."""
    fake = tmp_path / "chainrule"
    (fake / "training").mkdir(parents=True)
    (fake / "apps").mkdir()
    (fake / "__init__.py").write_text("")
    (fake / "training" / "__init__.py").write_text("")
    (fake / "apps" / "__init__.py").write_text("")
    (fake / "apps" / "plot.py").write_text("")
    (fake / "training" / "loop.py").write_text("def f():\n    from ..apps import plot\n")
    monkeypatch.setattr(__import__(__name__), "SRC", tmp_path)
    monkeypatch.setattr(__import__(__name__), "PACKAGE", fake)
    assert _violations() == [
        "chainrule/training/loop.py:2: chainrule.training.loop (training) imports "
        "chainrule.apps.plot (applications)"]


@pytest.mark.parametrize("name", ["chainrule.training.health", "chainrule.apps.seed"])
def test_every_module_has_a_layer(name):
    assert _layer(name) in range(len(LAYERS))
