"""Max pooling over windows that hold NaN, against PyTorch: the maximum is NaN, and the gradient
(and return_indices) goes to the window's last NaN in row-major order, as PyTorch's kernels do
(they move the argmax on ``val > max or isnan(val)``). The op-case table cannot hold these cases:
gradcheck's finite differences through NaN are NaN."""

import numpy as np
import pytest

import chainrule
import chainrule.nn.functional as F

torch = pytest.importorskip("torch")
NAN = float("nan")

CASES = [
    ("max_pool2d 2", lambda f, x: f.max_pool2d(x, 2, return_indices=True)),
    ("max_pool2d 3 stride 1 (overlapping)", lambda f, x: f.max_pool2d(x, 3, 1, return_indices=True)),
    ("max_pool2d 3 stride 2 padding 1 dilation 1 ceil_mode",
     lambda f, x: f.max_pool2d(x, 3, 2, 1, ceil_mode=True, return_indices=True)),
    ("max_pool2d 2 dilation 2", lambda f, x: f.max_pool2d(x, 2, 1, dilation=2, return_indices=True)),
    ("max_pool1d 3 stride 2", lambda f, x: f.max_pool1d(x.flatten(1, 2), 3, 2, return_indices=True)),
    ("adaptive_max_pool2d (2, 3)", lambda f, x: f.adaptive_max_pool2d(x, (2, 3), return_indices=True)),
    ("adaptive_max_pool2d (3, 2)", lambda f, x: f.adaptive_max_pool2d(x, (3, 2), return_indices=True)),
]


def _input(dtype):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 6, 5))
    x[0, 0, 0, 1] = x[0, 0, 1, 0] = x[0, 0, 3, 3] = NAN        # two NaN in one window, one alone
    x[1, 2] = NAN                                              # a whole plane of NaN
    x[1, 1, 2:4, 1:3] = NAN
    return x.astype(dtype)


def _same_routing(ours, theirs, dtype):
    """The gradient lands on the same elements, with the same sums (overlapping windows may add
    in another order: rounding only)."""
    np.testing.assert_array_equal(ours != 0, theirs != 0)
    rtol = 1e-12 if dtype == "float64" else 1e-6
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=0)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name, pool", CASES, ids=[c[0] for c in CASES])
def test_nan_in_a_window_is_the_max_and_takes_the_gradient_as_in_torch(name, pool, dtype):
    x = _input(dtype)
    ours_x = chainrule.tensor(x, requires_grad=True)
    theirs_x = torch.tensor(x, requires_grad=True)
    ours_y, ours_index = pool(F, ours_x)
    theirs_y, theirs_index = pool(torch.nn.functional, theirs_x)
    assert np.isnan(theirs_y.detach().numpy()).any()  # the case does put NaN in a window
    np.testing.assert_array_equal(ours_y.numpy(), theirs_y.detach().numpy())  # NaN where NaN
    np.testing.assert_array_equal(ours_index.numpy(), theirs_index.numpy())
    grad_y = np.random.default_rng(1).standard_normal(theirs_y.shape).astype(dtype)
    (ours_grad,) = chainrule.autograd.grad(ours_y, ours_x, chainrule.tensor(grad_y))
    (theirs_grad,) = torch.autograd.grad(theirs_y, theirs_x, torch.tensor(grad_y))
    _same_routing(ours_grad.numpy(), theirs_grad.numpy(), dtype)


SECOND = CASES[:2] + CASES[-1:]


@pytest.mark.parametrize("name, pool", SECOND, ids=[c[0] for c in SECOND])
def test_nan_routing_holds_for_the_second_derivative_path(name, pool):
    """backward_graph (create_graph=True) routes as backward does."""
    x = _input("float64")
    ours_x = chainrule.tensor(x, requires_grad=True)
    theirs_x = torch.tensor(x, requires_grad=True)
    ours_y = pool(F, ours_x)[0]
    theirs_y = pool(torch.nn.functional, theirs_x)[0]
    grad_y = np.random.default_rng(2).standard_normal(theirs_y.shape)
    (ours_grad,) = chainrule.autograd.grad(ours_y, ours_x, chainrule.tensor(grad_y),
                                           create_graph=True)
    (theirs_grad,) = torch.autograd.grad(theirs_y, theirs_x, torch.tensor(grad_y),
                                         create_graph=True)
    _same_routing(ours_grad.detach().numpy(), theirs_grad.detach().numpy(), "float64")
