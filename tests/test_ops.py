"""Every op, two ways: gradcheck (float64 finite differences, full Jacobian) and PyTorch.

The cases come from ``chainrule.op_cases``; the registry test below fails when an op has no case.
"""

import numpy as np
import pytest

import chainrule
from chainrule.autograd import Function
from chainrule.gradcheck import check_gradients
from chainrule.op_cases import all_cases

CASES = all_cases()
IDS = [c.name for c in CASES]


def _chainrule_inputs(case, arrays):
    return [chainrule.tensor(a, requires_grad=case.requires_grad(i)) for i, a in enumerate(arrays)]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_gradcheck(case):
    inputs = _chainrule_inputs(case, case.make_inputs())
    result = check_gradients(lambda *xs: case.fn(chainrule, *xs), inputs, eps=case.eps)
    assert result.ok, result.message()


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_against_torch(case):
    torch = pytest.importorskip("torch")
    arrays = case.make_inputs()
    ours = _chainrule_inputs(case, arrays)
    theirs = [torch.tensor(a, requires_grad=case.requires_grad(i)) for i, a in enumerate(arrays)]
    out = case.fn(chainrule, *ours)
    torch_fn = case.torch_fn or case.fn
    expected = torch_fn(torch, *theirs)
    assert out.shape == tuple(expected.shape)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=1e-9, atol=1e-12)

    upstream = np.random.default_rng(7).standard_normal(out.shape)  # random, not ones
    out.backward(upstream)
    expected.backward(torch.tensor(upstream))
    for i, (a, b) in enumerate(zip(ours, theirs)):
        if not case.requires_grad(i):
            assert a.grad is None
            continue
        assert a.grad is not None, f"input {i} got no gradient"
        assert a.grad.shape == a.shape
        np.testing.assert_allclose(a.grad.data, b.grad.numpy(), rtol=1e-9, atol=1e-12,
                                   err_msg=f"gradient of input {i}")


def _all_function_subclasses():
    found, stack = set(), [Function]
    while stack:
        for sub in stack.pop().__subclasses__():
            if sub not in found:
                found.add(sub)
                stack.append(sub)
    return {
        f for f in found
        if f.__module__.startswith("chainrule.") and not getattr(f, "known_wrong", False)
    }


def test_every_op_has_a_case():
    covered = {op for case in CASES for op in case.covers}
    missing = sorted(f.__qualname__ for f in _all_function_subclasses() - covered)
    assert not missing, f"ops with no case in chainrule/op_cases.py: {missing}"


def test_every_op_states_its_derivative():
    for op in _all_function_subclasses():
        doc = op.__doc__ or ""
        assert "forward:" in doc and "backward:" in doc, f"{op.__qualname__} docstring lacks formulas"


def test_cases_cover_more_than_a_trivial_subset():
    # guards the registry test itself: it must see the built-in ops
    assert len(_all_function_subclasses()) >= 40
