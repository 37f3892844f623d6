"""Module backward hooks (register_full_backward_hook / _pre_hook) against PyTorch's."""

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")


def _run(lib, x_requires_grad, replace):
    m = lib.nn.Linear(3, 2).double()
    with lib.no_grad():
        m.weight.copy_(lib.tensor(np.arange(6.0).reshape(2, 3) / 5))
        m.bias.copy_(lib.tensor([0.1, -0.2]))
    seen = []

    def hook(module, grad_input, grad_output):
        seen.append(("full", [None if g is None else g.detach().numpy().copy() for g in grad_input],
                     [g.detach().numpy().copy() for g in grad_output]))
        return (grad_input[0] * 2,) if replace and grad_input[0] is not None else None

    def pre(module, grad_output):
        seen.append(("pre", [g.detach().numpy().copy() for g in grad_output]))
        return (grad_output[0] * 3,) if replace else None

    handles = [m.register_full_backward_hook(hook), m.register_full_backward_pre_hook(pre)]
    x = lib.tensor(np.linspace(-1, 1, 12).reshape(4, 3), requires_grad=x_requires_grad)
    (m(x) ** 2).sum().backward()
    for h in handles:
        h.remove()
    m.weight.grad = None
    (m(x) ** 2).sum().backward()  # removed: no more calls
    grads = [x.grad.numpy() if x.grad is not None else None, m.weight.grad.numpy()]
    return seen, grads


@pytest.mark.parametrize("x_requires_grad", [True, False])
@pytest.mark.parametrize("replace", [False, True])
def test_backward_hooks_see_and_replace_what_torch_s_do(x_requires_grad, replace):
    ours, our_grads = _run(cr, x_requires_grad, replace)
    theirs, their_grads = _run(torch, x_requires_grad, replace)
    assert [s[0] for s in ours] == [s[0] for s in theirs] == ["pre", "full"]
    for a, b in zip(ours, theirs):
        for part_a, part_b in zip(a[1:], b[1:]):
            for ga, gb in zip(part_a, part_b):
                assert (ga is None) == (gb is None)
                if ga is not None:
                    np.testing.assert_allclose(ga, gb, rtol=1e-12)
    for ga, gb in zip(our_grads, their_grads):
        assert (ga is None) == (gb is None)
        if ga is not None:
            np.testing.assert_allclose(ga, gb, rtol=1e-12)


def test_a_backward_hook_must_be_callable():
    with pytest.raises(TypeError, match="register_full_backward_hook: the hook must be callable"):
        cr.nn.Linear(2, 1).register_full_backward_hook(3)
