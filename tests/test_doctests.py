"""The docstring examples (>>>) of the training, application and command modules run, and print
what they say."""

import doctest
import importlib
import pkgutil

import numpy as np
import pytest

import chainrule
import chainrule.apps
import chainrule.commands
import chainrule.training


def _modules():
    names = ["chainrule.cli", "chainrule.train", "chainrule.handwritten", "chainrule.files",
             "chainrule.checks", "chainrule.nn.module"]
    for package in (chainrule.training, chainrule.apps, chainrule.commands):
        names.append(package.__name__)
        names += [f"{package.__name__}.{info.name}" for info in pkgutil.iter_modules(package.__path__)]
    return names


@pytest.mark.parametrize("name", _modules())
def test_docstring_examples(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # an example that writes files writes them here
    module = importlib.import_module(name)
    result = doctest.testmod(module, globs={"chainrule": chainrule, "np": np, **vars(module)},
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
                 "chainrule.training.lifecycle", "chainrule.apps.seed", "chainrule.nn.module"):
        assert counts[name] > 0, name
