"""chainrule.nn.functional: every activation and linear against torch.nn.functional, in float64."""

import functools

import numpy as np
import pytest

import chainrule
from chainrule.nn import functional as F

# (name, our call, torch's call); inputs scaled by 3 so every kink and threshold is crossed
ACTIVATIONS = [
    ("relu", lambda f, x: f.relu(x)),
    ("leaky_relu", lambda f, x: f.leaky_relu(x)),
    ("leaky_relu 0.2", lambda f, x: f.leaky_relu(x, negative_slope=0.2)),
    ("sigmoid", lambda f, x: f.sigmoid(x)),
    ("tanh", lambda f, x: f.tanh(x)),
    ("softmax dim 1", lambda f, x: f.softmax(x, dim=1)),
    ("softmax dim -1 3-D", lambda f, x: f.softmax(x.reshape(2, 3, 4), dim=-1)),
    ("log_softmax dim 0", lambda f, x: f.log_softmax(x, dim=0)),
    ("gelu", lambda f, x: f.gelu(x)),
    ("gelu tanh", lambda f, x: f.gelu(x, approximate="tanh")),
    ("elu", lambda f, x: f.elu(x)),
    ("elu 0.7", lambda f, x: f.elu(x, alpha=0.7)),
    ("selu", lambda f, x: f.selu(x)),
    ("softplus", lambda f, x: f.softplus(x)),
    ("softplus beta 2 threshold 3", lambda f, x: f.softplus(x, beta=2.0, threshold=3.0)),
    ("silu", lambda f, x: f.silu(x)),
]


@pytest.mark.parametrize("call", [c for _, c in ACTIVATIONS], ids=[n for n, _ in ACTIVATIONS])
def test_activation_equals_torch(call):
    torch = pytest.importorskip("torch")
    x = 3 * np.random.default_rng(0).standard_normal((6, 4))
    ours_x = chainrule.tensor(x, requires_grad=True)
    theirs_x = torch.tensor(x, requires_grad=True)
    out, expected = call(F, ours_x), call(torch.nn.functional, theirs_x)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=1e-9, atol=1e-12)
    upstream = np.random.default_rng(1).standard_normal(out.shape)  # random, not ones
    out.backward(upstream)
    expected.backward(torch.tensor(upstream))
    np.testing.assert_allclose(ours_x.grad.numpy(), theirs_x.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_activations_keep_float32():
    x = chainrule.randn(6, 4)
    for _, call in ACTIVATIONS:
        assert call(F, x).dtype == np.float32


def test_functions_accept_arrays():
    x = np.array([[-1.0, 2.0]])
    np.testing.assert_array_equal(F.relu(x).numpy(), [[0.0, 2.0]])
    np.testing.assert_allclose(F.sigmoid([0.0]).numpy(), [0.5])


@pytest.mark.parametrize("bias", [True, False])
def test_linear_equals_torch(bias):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    arrays = [rng.standard_normal(s) for s in [(5, 3), (4, 3), (4,)]][: 3 if bias else 2]
    ours = [chainrule.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, expected = F.linear(*ours), torch.nn.functional.linear(*theirs)
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=1e-9)
    upstream = rng.standard_normal(out.shape)
    out.backward(upstream)
    expected.backward(torch.tensor(upstream))
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_dropout_function_scales_gradient_by_mask():
    chainrule.manual_seed(3)
    x = chainrule.tensor(np.full((50, 40), 2.0), requires_grad=True)
    y = F.dropout(x, p=0.25)
    mask = (y.numpy() != 0).astype(np.float64)
    np.testing.assert_allclose(y.numpy(), 2.0 * mask / 0.75, rtol=1e-12)
    upstream = np.random.default_rng(3).standard_normal(y.shape)
    y.backward(upstream)
    np.testing.assert_allclose(x.grad.numpy(), upstream * mask / 0.75, rtol=1e-12)


def test_argument_errors():
    x = chainrule.zeros(2, 3)
    with pytest.raises(ValueError, match="'approximate' parameter of gelu must be 'none' or 'tanh'"):
        F.gelu(x, approximate="fast")
    with pytest.raises(TypeError, match="softmax: dim must be an int. Got 1.0 instead."):
        F.softmax(x, dim=1.0)  # (dim=None is PyTorch's implicit choice: tests/test_pytorch_surface.py)
    with pytest.raises(ValueError, match="log_softmax: dim -3 is out of range"):
        F.log_softmax(x, dim=-3)
    with pytest.raises(
        TypeError, match="'negative_slope' parameter of leaky_relu must be a real number. Got '0.1' instead."
    ):
        F.leaky_relu(x, negative_slope="0.1")
    with pytest.raises(TypeError, match="'alpha' parameter of elu must be a real number. Got True instead."):
        F.elu(x, alpha=True)
    with pytest.raises(ValueError, match="'beta' parameter of softplus must be non-zero. Got 0.0 instead."):
        F.softplus(x, beta=0)
    with pytest.raises(TypeError, match="relu: expected a Tensor or an array as input"):
        F.relu("x")


def test_softmax_says_the_same_thing_however_it_is_called():
    # one argument check, in the op: x.softmax, chainrule.softmax and F.softmax agree word for word
    x = chainrule.randn(2, 3)
    for name in ("softmax", "log_softmax"):
        messages = set()
        method, function, functional = (getattr(x, name), getattr(chainrule, name),
                                        getattr(chainrule.nn.functional, name))
        for call in (method, functools.partial(function, x), functools.partial(functional, x)):
            for bad in (1.0, 5):
                with pytest.raises((TypeError, ValueError)) as info:
                    call(bad)
                messages.add((bad, str(info.value)))
        assert len(messages) == 2, messages
