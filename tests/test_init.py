"""chainrule.nn.init: gains and fans equal PyTorch's; samples follow each initialiser's formula."""

import math

import numpy as np
import pytest

import chainrule
from chainrule import nn
from chainrule.nn import init

OUT, IN = 400, 300  # a Linear(300, 400) weight: fan_in = 300, fan_out = 400


def weight(dtype=np.float64, shape=(OUT, IN)):
    return nn.Parameter(np.zeros(shape, dtype=dtype))


def assert_std(values, expected):
    assert abs(values.std() - expected) < 0.02 * expected, (values.std(), expected)


def assert_mean(values, expected, std):
    assert abs(values.mean() - expected) < 0.02 * std, (values.mean(), expected)


GAINS = [
    ("linear", None), ("conv1d", None), ("conv2d", None), ("conv3d", None),
    ("conv_transpose1d", None), ("conv_transpose2d", None), ("conv_transpose3d", None),
    ("sigmoid", None), ("tanh", None), ("relu", None), ("leaky_relu", None),
    ("leaky_relu", 0.2), ("leaky_relu", 0), ("leaky_relu", math.sqrt(5)), ("selu", None),
]


@pytest.mark.parametrize("nonlinearity,param", GAINS)
def test_calculate_gain_equals_torch(nonlinearity, param):
    torch = pytest.importorskip("torch")
    assert init.calculate_gain(nonlinearity, param) == pytest.approx(
        torch.nn.init.calculate_gain(nonlinearity, param), rel=1e-15
    )


def test_calculate_gain_errors():
    with pytest.raises(ValueError, match="unsupported nonlinearity 'swish'"):
        init.calculate_gain("swish")
    with pytest.raises(ValueError, match="negative slope of leaky_relu must be a number"):
        init.calculate_gain("leaky_relu", "0.1")


@pytest.mark.parametrize("shape", [(400, 300), (8, 3, 5, 5), (2, 7, 3)])
def test_fans_equal_torch(shape):
    torch = pytest.importorskip("torch")
    ours = init._calculate_fan_in_and_fan_out(weight(shape=shape))
    assert ours == torch.nn.init._calculate_fan_in_and_fan_out(torch.zeros(shape))


def test_uniform_bounds_and_std():
    w = init.uniform_(weight(), a=-0.5, b=1.5)
    assert w.numpy().min() >= -0.5 and w.numpy().max() <= 1.5
    std = 2.0 / math.sqrt(12)  # std of U(a, b) = (b - a) / sqrt(12)
    assert_std(w.numpy(), std)
    assert_mean(w.numpy(), 0.5, std)


def test_normal_std_and_mean():
    w = init.normal_(weight(), mean=1.0, std=0.3)
    assert_std(w.numpy(), 0.3)
    assert_mean(w.numpy(), 1.0, 0.3)


def _truncated_normal_moments(mean, std, a, b):
    """Mean and std of N(mean, std^2) truncated to [a, b] (the textbook formulas)."""
    alpha, beta = (a - mean) / std, (b - mean) / std
    pdf = lambda z: math.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
    cdf = lambda z: 0.5 * math.erfc(-z / math.sqrt(2))
    survival = lambda z: 0.5 * math.erfc(z / math.sqrt(2))  # 1 - cdf, precise in the upper tail
    z = cdf(beta) - cdf(alpha) if alpha + beta <= 0 else survival(alpha) - survival(beta)
    shift = (pdf(alpha) - pdf(beta)) / z
    var = 1 + (alpha * pdf(alpha) - beta * pdf(beta)) / z - shift**2
    return mean + std * shift, std * math.sqrt(var)


@pytest.mark.parametrize("mean,std,a,b", [
    (0.0, 1.0, -2.0, 2.0),   # the defaults
    (0.0, 0.02, -0.04, 0.04),  # a transformer-style init
    (0.5, 0.2, 0.4, 3.0),    # asymmetric
    (0.0, 1.0, 4.0, 6.0),    # far in the upper tail
    (0.0, 1.0, 9.0, 11.0),   # beyond where Phi(a) rounds to 1 in float64 (sampled flipped)
    (0.0, 1.0, -9.0, -7.0),  # far in the lower tail
])
def test_trunc_normal_bounds_and_moments(mean, std, a, b):
    w = init.trunc_normal_(weight(), mean=mean, std=std, a=a, b=b)
    assert w.numpy().min() >= a and w.numpy().max() <= b
    expected_mean, expected_std = _truncated_normal_moments(mean, std, a, b)
    assert_std(w.numpy(), expected_std)
    assert_mean(w.numpy(), expected_mean, expected_std)


def test_xavier_uniform_bound_and_std():
    gain = 2.0
    w = init.xavier_uniform_(weight(), gain=gain)
    std = gain * math.sqrt(2.0 / (IN + OUT))
    bound = math.sqrt(3.0) * std
    assert np.abs(w.numpy()).max() <= bound and np.abs(w.numpy()).max() > 0.99 * bound
    assert_std(w.numpy(), std)


def test_xavier_normal_std():
    w = init.xavier_normal_(weight(), gain=init.calculate_gain("tanh"))
    assert_std(w.numpy(), 5.0 / 3 * math.sqrt(2.0 / (IN + OUT)))


@pytest.mark.parametrize("mode,fan", [("fan_in", IN), ("fan_out", OUT)])
def test_kaiming_uniform_bound_and_std(mode, fan):
    w = init.kaiming_uniform_(weight(), a=0.1, mode=mode, nonlinearity="leaky_relu")
    std = math.sqrt(2.0 / (1 + 0.1**2)) / math.sqrt(fan)
    bound = math.sqrt(3.0) * std
    assert np.abs(w.numpy()).max() <= bound and np.abs(w.numpy()).max() > 0.99 * bound
    assert_std(w.numpy(), std)


def test_kaiming_uniform_with_a_sqrt5_is_linears_bound():
    w = init.kaiming_uniform_(weight(), a=math.sqrt(5))
    bound = 1 / math.sqrt(IN)
    assert np.abs(w.numpy()).max() <= bound and np.abs(w.numpy()).max() > 0.99 * bound


@pytest.mark.parametrize("mode,fan", [("fan_in", IN), ("fan_out", OUT)])
def test_kaiming_normal_std(mode, fan):
    w = init.kaiming_normal_(weight(), mode=mode, nonlinearity="relu")
    assert_std(w.numpy(), math.sqrt(2.0) / math.sqrt(fan))


@pytest.mark.parametrize("shape", [(OUT, IN), (IN, OUT), (6, 2, 3, 3)])
def test_orthogonal_rows_or_columns_are_orthonormal_times_gain(shape):
    gain = 1.5
    w = init.orthogonal_(weight(shape=shape), gain=gain)
    flat = w.numpy().reshape(shape[0], -1)
    gram = flat @ flat.T if flat.shape[0] <= flat.shape[1] else flat.T @ flat
    np.testing.assert_allclose(gram, gain**2 * np.eye(gram.shape[0]), atol=1e-10)


def test_constant_zeros_ones():
    w = weight()
    assert init.constant_(w, 0.25) is w and np.all(w.numpy() == 0.25)
    init.ones_(w)
    assert np.all(w.numpy() == 1.0)
    init.zeros_(w)
    assert not w.numpy().any()


INITIALISERS = [
    lambda t: init.uniform_(t, -1, 1), lambda t: init.normal_(t), lambda t: init.trunc_normal_(t),
    init.xavier_uniform_, init.xavier_normal_, init.kaiming_uniform_, init.kaiming_normal_,
    init.orthogonal_,
]


@pytest.mark.parametrize("fill", INITIALISERS)
def test_in_place_reproducible_and_dtype_preserving(fill):
    w = weight(np.float32, (20, 30))
    array = w.numpy()
    assert fill(w) is w and w.numpy() is array and w.dtype == np.float32  # in place on t.numpy()
    chainrule.manual_seed(11)
    first = fill(weight(np.float32, (20, 30))).numpy()
    chainrule.manual_seed(11)
    second = fill(weight(np.float32, (20, 30))).numpy()
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(first, fill(weight(np.float32, (20, 30))).numpy())


def test_argument_errors():
    with pytest.raises(ValueError, match="'b' parameter of uniform_ must be at least a = 1.0. Got 0.0"):
        init.uniform_(weight(), a=1.0, b=0.0)
    with pytest.raises(ValueError, match="'std' parameter of normal_ must be non-negative. Got -1.0"):
        init.normal_(weight(), std=-1)
    with pytest.raises(ValueError, match="'std' parameter of trunc_normal_ must be positive. Got 0.0"):
        init.trunc_normal_(weight(), std=0)
    with pytest.raises(
        ValueError, match="The 'b' parameter of trunc_normal_ must be greater than a = 2.0. Got -2.0 instead."
    ):
        init.trunc_normal_(weight(), a=2, b=-2)
    with pytest.raises(ValueError, match=r"fewer than 2 dims; this one has shape \(5,\)"):
        init.xavier_uniform_(weight(shape=(5,)))
    with pytest.raises(ValueError, match="'mode' must be 'fan_in' or 'fan_out'. Got 'fan_avg'"):
        init.kaiming_normal_(weight(), mode="fan_avg")
    with pytest.raises(ValueError, match="orthogonal_: only tensors with 2 or more dims"):
        init.orthogonal_(weight(shape=(5,)))
    with pytest.raises(TypeError, match="xavier_normal_: expected a Tensor"):
        init.xavier_normal_(np.zeros((3, 3)))
    with pytest.raises(TypeError, match="'a' parameter of uniform_ must be a real number. Got '0' instead."):
        init.uniform_(weight(), a="0")
    with pytest.raises(TypeError, match="'gain' parameter of orthogonal_ must be a real number. Got None"):
        init.orthogonal_(weight(), gain=None)
