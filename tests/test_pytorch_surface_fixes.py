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


ACTIVATIONS = [("ReLU", {}), ("LeakyReLU", {"negative_slope": 0.2}), ("ELU", {"alpha": 0.7}),
               ("SELU", {}), ("SiLU", {})]


@pytest.mark.parametrize("name, kwargs", ACTIVATIONS)
def test_inplace_activation_writes_into_its_input_and_backpropagates_as_torch(name, kwargs, rng):
    values, upstream = rng.normal(size=(4, 5)), rng.normal(size=(4, 5))
    results = []
    for lib in (cr, torch):
        w = lib.tensor(values, requires_grad=True)
        hidden = w * 2.0  # a non-leaf: in place is allowed on it
        out = getattr(lib.nn, name)(**kwargs, inplace=True)(hidden)
        assert out is hidden  # the same tensor, changed
        out.backward(lib.tensor(upstream))
        results.append((hidden.detach().numpy(), w.grad.numpy()))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-12)
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-12)


@pytest.mark.parametrize("name, kwargs", ACTIVATIONS)
def test_inplace_activation_repr_and_refusals_as_torch(name, kwargs):
    assert repr(getattr(cr.nn, name)(**kwargs, inplace=True)) == repr(
        getattr(torch.nn, name)(**kwargs, inplace=True))
    assert repr(getattr(cr.nn, name)(**kwargs)) == repr(getattr(torch.nn, name)(**kwargs))
    leaf = cr.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="this is a leaf tensor that requires grad"):
        getattr(cr.nn, name)(inplace=True)(leaf)


def test_inplace_relu_in_a_trained_network_equals_torch(rng):
    shapes = [(8, 3), (8,), (2, 8), (2,)]
    start = [rng.normal(size=s) * 0.5 for s in shapes]
    X, Y = rng.normal(size=(16, 3)), rng.normal(size=(16, 2))
    losses = []
    for lib in (cr, torch):
        model = lib.nn.Sequential(lib.nn.Linear(3, 8), lib.nn.ReLU(inplace=True),
                                  lib.nn.Linear(8, 2)).double()
        with lib.no_grad():
            for p, v in zip(model.parameters(), start):
                p.copy_(lib.tensor(v))
        optimizer = lib.optim.SGD(model.parameters(), lr=0.1)
        run = []
        for _ in range(5):
            loss = ((model(lib.tensor(X)) - lib.tensor(Y)) ** 2).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            run.append(loss.item())
        losses.append(run)
    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-12)


def test_functional_inplace_spellings():
    x = cr.tensor([-1.0, 2.0])
    assert cr.nn.functional.relu_(x) is x and x.tolist() == [0.0, 2.0]
    y = cr.tensor([-1.0, 2.0])
    assert cr.nn.functional.leaky_relu(y, 0.5, inplace=True) is y and y.tolist() == [-0.5, 2.0]
    with pytest.raises(TypeError, match="relu: inplace must be a bool. Got 'yes' instead"):
        cr.nn.functional.relu(x, inplace="yes")
