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
