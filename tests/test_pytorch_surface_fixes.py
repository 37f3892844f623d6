"""Small PyTorch-surface fixes found by the PyTorch programs (tests/pytorch_programs/), each
checked against torch."""

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("method", ["round", "floor", "ceil"])
@pytest.mark.parametrize("shape", [(), (7,), (2, 5)])
def test_rounding_equals_torch(method, shape, rng):
    values = rng.uniform(-3, 3, size=shape).astype(np.float32)
    if shape:
        values.flat[0] = 2.5  # a half: both round half to even
    got = getattr(cr.tensor(values), method)()
    want = getattr(torch.tensor(values), method)()
    assert got.shape == tuple(want.shape) and got.dtype == np.float32
    np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_round_decimals_and_no_graph():
    x = cr.tensor([1.2345, -0.5, 0.5, 1.5], requires_grad=True)
    np.testing.assert_array_equal(x.round(decimals=2).numpy(),
                                  torch.tensor([1.2345, -0.5, 0.5, 1.5]).round(decimals=2).numpy())
    assert not x.round().requires_grad  # a step function: a constant (documented difference)
    with pytest.raises(TypeError, match="round: decimals must be an int; got float"):
        x.round(decimals=1.5)


@pytest.mark.parametrize("p", [2, "fro", 1, 3, 0.5, 0, float("inf"), float("-inf")])
@pytest.mark.parametrize("dim, keepdim", [(None, False), (1, False), ((0, 2), True), (-1, True)])
def test_norm_equals_torch(p, dim, keepdim, rng):
    values = rng.normal(size=(2, 3, 4))
    if not (isinstance(p, float) and 0 < p < 1):  # documented: nan there, PyTorch 0
        values[0, 0, 0] = 0.0
    x, tx = cr.tensor(values, requires_grad=True), torch.tensor(values, requires_grad=True)
    got, want = x.norm(p, dim=dim, keepdim=keepdim), tx.norm(p, dim=dim, keepdim=keepdim)
    np.testing.assert_allclose(got.numpy(), want.detach().numpy(), rtol=1e-12)
    upstream = rng.normal(size=tuple(want.shape))
    if p != 0:
        got.backward(cr.tensor(upstream))
        want.backward(torch.tensor(upstream))
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_norm_of_zero_has_zero_gradient_as_torch():
    x = cr.zeros(3, requires_grad=True)
    x.norm().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros(3))


def test_norm_refuses_what_it_does_not_support():
    x = cr.ones(3)
    with pytest.raises(ValueError, match="norm: p must be a number or 'fro'; got 'nuc'"):
        x.norm("nuc")
    with pytest.raises(ValueError, match="norm: the dtype argument is not supported"):
        x.norm(dtype=cr.float64)
    with pytest.raises(TypeError, match="norm: expected a floating-point tensor; got dtype int64"):
        cr.tensor([1, 2]).norm()


def _pair(values, requires_grad=False):
    return (cr.tensor(values, requires_grad=requires_grad),
            torch.tensor(values, requires_grad=requires_grad))


@pytest.mark.parametrize("method", ["scatter_", "scatter_add_", "index_add_", "masked_fill_"])
def test_in_place_indexing_equals_torch_in_the_graph(method, rng):
    (x, tx), (src, tsrc) = _pair(rng.normal(size=(3, 4)), True), _pair(rng.normal(size=(3, 4)), True)
    index = np.array([[2, 0, 1, 0], [1, 2, 0, 1], [0, 1, 2, 2]])
    mask = rng.uniform(size=(3, 4)) > 0.5
    results = []
    for lib, base, source in ((cr, x, src), (torch, tx, tsrc)):
        y = base * 1.0  # a non-leaf, which may change in place inside the graph
        if method == "scatter_":
            y.scatter_(1, lib.tensor(index), source)
        elif method == "scatter_add_":
            y.scatter_add_(0, lib.tensor(index), source)
        elif method == "index_add_":
            y.index_add_(0, lib.tensor([2, 0, 2]), source, alpha=0.5)
        else:
            y.masked_fill_(lib.tensor(mask), -1.5)
        (y * lib.tensor(index * 1.0 + 1)).sum().backward()
        results.append((y.detach().numpy(), base.grad.numpy(),
                        None if source.grad is None else source.grad.numpy()))
    (y, grad_x, grad_src), (ty, tgrad_x, tgrad_src) = results
    np.testing.assert_allclose(y, ty, rtol=1e-12)
    np.testing.assert_allclose(grad_x, tgrad_x, rtol=1e-12)
    if tgrad_src is None:
        assert grad_src is None
    else:
        np.testing.assert_allclose(grad_src, tgrad_src, rtol=1e-12)


def test_in_place_indexing_refused_on_a_leaf_that_requires_grad():
    x = cr.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="masked_fill_: this is a leaf tensor that requires grad"):
        x.masked_fill_(cr.tensor([True, False, True]), 1.0)
    with cr.no_grad():
        x.masked_fill_(cr.tensor([True, False, True]), 1.0)
    assert x.tolist() == [1.0, 0.0, 1.0]
