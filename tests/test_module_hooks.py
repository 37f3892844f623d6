"""Module forward hooks and pre-hooks, with PyTorch's semantics (checked side by side with torch)."""

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn

torch = pytest.importorskip("torch")


def _pair():
    ours = nn.Linear(3, 2, dtype="float64")
    theirs = torch.nn.Linear(3, 2, dtype=torch.float64)
    with torch.no_grad():
        theirs.weight.copy_(torch.from_numpy(ours.weight.numpy()))
        theirs.bias.copy_(torch.from_numpy(ours.bias.numpy()))
    return ours, theirs


def _scenario(module, tensor, events):
    """The same hooks registered on a chainrule or a torch module; returns the output array."""
    module.register_forward_pre_hook(lambda m, args: events.append("pre 1"))
    module.register_forward_pre_hook(lambda m, args: (args[0] * 2,))
    module.register_forward_pre_hook(lambda m, args: events.append("pre 0"), prepend=True)
    module.register_forward_hook(lambda m, args, out: events.append("post 1"))
    module.register_forward_hook(lambda m, args, out: out + 1)
    module.register_forward_hook(lambda m, args, out: events.append("post 0"), prepend=True)
    handle = module.register_forward_hook(lambda m, args, out: events.append("removed"))
    handle.remove()
    handle.remove()  # twice is harmless, as in PyTorch
    out = module(tensor(np.ones((4, 3))))
    return out.detach().numpy()


def test_hooks_run_in_pytorchs_order_and_replace_input_and_output():
    ours, theirs = _pair()
    ours_events, torch_events = [], []
    got = _scenario(ours, cr.tensor, ours_events)
    expected = _scenario(theirs, torch.from_numpy, torch_events)
    assert ours_events == torch_events == ["pre 0", "pre 1", "post 0", "post 1"]
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_with_kwargs_hooks_and_the_handle_as_a_context_manager():
    class Scale(nn.Module):
        def forward(self, x, factor=1.0):
            return x * factor

    module, seen = Scale(), []
    with module.register_forward_pre_hook(lambda m, args, kwargs: (args, {"factor": 3.0}),
                                          with_kwargs=True), \
            module.register_forward_hook(lambda m, args, kwargs, out: seen.append(kwargs),
                                         with_kwargs=True):
        assert module(cr.tensor([1.0, 2.0])).tolist() == [3.0, 6.0]
    assert seen == [{"factor": 3.0}]
    assert module(cr.tensor([1.0, 2.0])).tolist() == [1.0, 2.0]  # removed on leaving the block


def test_always_call_runs_when_forward_raises():
    class Broken(nn.Module):
        def forward(self, x):
            raise ValueError("broken forward")

    module, calls = Broken(), []
    module.register_forward_hook(lambda m, args, out: calls.append(("always", out)),
                                 always_call=True)
    module.register_forward_hook(lambda m, args, out: calls.append(("normal", out)))
    with pytest.raises(ValueError, match="broken forward"):
        module(cr.tensor([1.0]))
    assert calls == [("always", None)]


def test_hooks_leave_the_gradient_flowing_and_refuse_a_non_callable():
    layer = nn.Linear(2, 1, dtype="float64")
    layer.register_forward_hook(lambda m, args, out: out * 2)
    layer(cr.ones(1, 2, dtype=cr.float64)).sum().backward()
    assert layer.bias.grad.tolist() == [2.0]
    with pytest.raises(TypeError, match="the hook must be callable. Got int instead"):
        layer.register_forward_hook(3)


def test_a_module_without_hooks_has_no_hook_dicts():
    layer = nn.Linear(2, 1)
    assert "_forward_hooks" not in layer.__dict__
    layer(cr.ones(1, 2))
    assert "_forward_hooks" not in layer.__dict__
