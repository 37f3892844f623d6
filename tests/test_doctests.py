"""The docstring examples (>>>) of the nn, training, application and command modules run, and
print what they say; every nn module (layer, loss, container) has an Example, and every layer and
loss a Shape section, as PyTorch's documentation has."""

import doctest
import importlib
import pkgutil

import numpy as np
import pytest

import chainrule
import chainrule.apps
import chainrule.commands
import chainrule.nn
import chainrule.training


def _modules():
    names = ["chainrule.cli", "chainrule.train", "chainrule.handwritten", "chainrule.files",
             "chainrule.checks"]
    for package in (chainrule.nn, chainrule.training, chainrule.apps, chainrule.commands):
        names.append(package.__name__)
        names += [f"{package.__name__}.{info.name}" for info in pkgutil.iter_modules(package.__path__)]
    return names


@pytest.mark.parametrize("name", _modules())
def test_docstring_examples(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # an example that writes files writes them here
    module = importlib.import_module(name)
    # (the examples, as PyTorch's, take `chainrule` and `nn` as imported)
    globs = {"chainrule": chainrule, "nn": chainrule.nn, "np": np, **vars(module)}
    result = doctest.testmod(module, globs=globs,
                             optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
                             verbose=False, report=True)
    assert result.failed == 0, f"{result.failed} of the {result.attempted} examples in {name} failed"


def test_the_examples_are_there():
    """The modules above hold examples (so the test above is not vacuous)."""
    counts = {}
    finder = doctest.DocTestFinder()
    for name in _modules():
        module = importlib.import_module(name)
        counts[name] = sum(len(test.examples) for test in finder.find(module))
    for name in ("chainrule.training.tasks", "chainrule.training.builders",
                 "chainrule.training.lifecycle", "chainrule.apps.seed", "chainrule.nn.module",
                 "chainrule.training.detectors", "chainrule.training.health", "chainrule.nn.layers",
                 "chainrule.nn.conv", "chainrule.nn.loss", "chainrule.nn.rnn"):
        assert counts[name] > 0, name


# Modules that hold other modules or parameters: their input is whatever their contents take, so
# they have an Example but no Shape section.
_CONTAINERS = {"Module", "Sequential", "ModuleList", "ModuleDict", "ParameterList", "ParameterDict"}


def _nn_modules():
    import inspect

    return sorted(name for name in dir(chainrule.nn)
                  if inspect.isclass(getattr(chainrule.nn, name))
                  and issubclass(getattr(chainrule.nn, name), chainrule.nn.Module))


@pytest.mark.parametrize("name", _nn_modules())
def test_every_nn_module_has_shape_and_example_sections(name):
    """As PyTorch's docs (torch/nn/modules/linear.py): a 'Shape:' section that says the input and
    output, and an 'Example:' section whose >>> lines run (test_docstring_examples runs them)."""
    doc = getattr(chainrule.nn, name).__doc__ or ""
    lines = [line.strip() for line in doc.splitlines()]
    assert "Example:" in lines, f"nn.{name} has no 'Example:' section"
    example = doc[doc.index("Example:"):]
    assert ">>> " in example, f"nn.{name}'s Example section has no >>> line"
    if name not in _CONTAINERS:
        assert "Shape:" in lines, f"nn.{name} has no 'Shape:' section"
        shape = doc[doc.index("Shape:"):doc.index("Example:")]
        assert "- Input" in shape and "- Output" in shape, f"nn.{name}'s Shape section"


def test_the_nn_modules_are_all_checked():
    assert {"Linear", "Conv2d", "LSTM", "MultiheadAttention", "CrossEntropyLoss", "ReLU",
            "Sequential"} <= set(_nn_modules())
    assert len(_nn_modules()) >= 57
