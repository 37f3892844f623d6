"""Weight initialisers, in place on ``tensor._data``, with PyTorch's names, arguments and formulas.

Each one fills the tensor's array, draws from ``chainrule.random.default_generator()`` (so
``chainrule.manual_seed`` makes it reproducible) and returns the tensor. No graph is recorded.

Fans follow PyTorch's layout: a Linear weight has shape (out, in), so fan_in = in and fan_out = out;
for a weight of shape (out, in, k1, k2, ...) both are multiplied by the receptive field k1 * k2 * ...
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from ..backend import to_device_of
from ..autograd.engine import bump_version
from ..checks import argument_error, check_real
from ..random import default_generator
from ..tensor import Tensor

__all__ = [
    "calculate_gain",
    "uniform_",
    "normal_",
    "trunc_normal_",
    "constant_",
    "zeros_",
    "ones_",
    "xavier_uniform_",
    "xavier_normal_",
    "kaiming_uniform_",
    "kaiming_normal_",
    "orthogonal_",
]

_GAIN_ONE = (
    "linear", "conv1d", "conv2d", "conv3d",
    "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "sigmoid",
)


def _check_tensor(op: str, tensor) -> None:
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{op}: expected a Tensor (or Parameter). Got {type(tensor).__name__} instead.")


def _fill(tensor: Tensor, values) -> Tensor:
    """Write ``values`` (drawn on the host) into the tensor's own array (in place, on its device),
    cast to its dtype."""
    bump_version(tensor._data)  # an in-place change: a graph that saved the old values refuses
    tensor._data[...] = to_device_of(np.asarray(values).astype(tensor._data.dtype, copy=False),
                                     tensor._data)
    return tensor


def calculate_gain(nonlinearity: str, param=None) -> float:
    """The factor by which an initialiser scales its standard deviation for a nonlinearity, so that
    activations keep their variance from layer to layer (PyTorch's table).

        linear, conv*, sigmoid   1
        tanh                     5 / 3
        relu                     sqrt(2)
        leaky_relu               sqrt(2 / (1 + negative_slope^2))    (param = negative_slope, 0.01)
        selu                     3 / 4
    """
    if nonlinearity in _GAIN_ONE:
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, bool) or not isinstance(param, numbers.Real):
            raise ValueError(
                f"calculate_gain: the negative slope of leaky_relu must be a number. Got "
                f"{param!r} instead."
            )
        else:
            slope = float(param)
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    known = _GAIN_ONE + ("tanh", "relu", "leaky_relu", "selu")
    raise ValueError(
        f"calculate_gain: unsupported nonlinearity {nonlinearity!r}; expected one of {known}."
    )


def _calculate_fan_in_and_fan_out(tensor: Tensor) -> tuple:
    """(fan_in, fan_out) of a weight of shape (out, in, *kernel):
    fan_in = in * prod(kernel), fan_out = out * prod(kernel)."""
    if tensor.ndim < 2:
        raise ValueError(
            f"Fan in and fan out cannot be computed for a tensor with fewer than 2 dims; this one "
            f"has shape {tensor.shape}."
        )
    receptive_field = int(np.prod(tensor.shape[2:])) if tensor.ndim > 2 else 1
    return tensor.shape[1] * receptive_field, tensor.shape[0] * receptive_field


def _calculate_correct_fan(tensor: Tensor, mode: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"The 'mode' must be 'fan_in' or 'fan_out'. Got {mode!r} instead.")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0) -> Tensor:
    """Fill with samples from the uniform distribution U(a, b)."""
    _check_tensor("uniform_", tensor)
    a = check_real("uniform_", "a", a)
    b = check_real("uniform_", "b", b)
    if a > b:
        raise argument_error("uniform_", "b", f"at least a = {a}", b)
    return _fill(tensor, default_generator().uniform(a, b, tensor.shape))


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0) -> Tensor:
    """Fill with samples from the normal distribution N(mean, std^2)."""
    _check_tensor("normal_", tensor)
    mean = check_real("normal_", "mean", mean)
    std = check_real("normal_", "std", std)
    if std < 0:
        raise argument_error("normal_", "std", "non-negative", std)
    return _fill(tensor, default_generator().normal(mean, std, tensor.shape))


def _normal_cdf(z: float) -> float:
    """Phi(z) = erfc(-z / sqrt(2)) / 2, accurate far into the lower tail."""
    return 0.5 * math.erfc(-z / math.sqrt(2.0))


def trunc_normal_(
    tensor: Tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0, b: float = 2.0
) -> Tensor:
    """Fill with samples from N(mean, std^2) truncated to [a, b] (a and b are absolute values, not
    multiples of std, as in PyTorch).

    Inverse-CDF sampling: with alpha = (a - mean) / std, beta = (b - mean) / std,
        u ~ U(Phi(alpha), Phi(beta)),   x = mean + std * Phi^-1(u),   then clamped to [a, b],
    where Phi is the standard normal CDF. When the interval lies mostly above the mean the sign is
    flipped first, so that u stays in the lower tail where it is represented precisely.
    The standard deviation of the result is std * sqrt(1 + (alpha phi(alpha) - beta phi(beta)) / Z
    - ((phi(alpha) - phi(beta)) / Z)^2), Z = Phi(beta) - Phi(alpha), phi the normal density.
    """
    from statistics import NormalDist

    _check_tensor("trunc_normal_", tensor)
    mean, std, a, b = (
        check_real("trunc_normal_", name, value)
        for name, value in (("mean", mean), ("std", std), ("a", a), ("b", b))
    )
    if std <= 0:
        raise argument_error("trunc_normal_", "std", "positive", std)
    if a >= b:
        raise argument_error("trunc_normal_", "b", f"greater than a = {a}", b)
    alpha, beta = (a - mean) / std, (b - mean) / std
    flip = alpha + beta > 0
    if flip:
        alpha, beta = -beta, -alpha
    low, high = _normal_cdf(alpha), _normal_cdf(beta)
    tiny = np.finfo(np.float64).tiny
    u = np.clip(default_generator().uniform(low, high, tensor.shape), tiny, 1 - 1e-16)
    inverse_cdf = np.frompyfunc(NormalDist().inv_cdf, 1, 1)
    z = np.asarray(inverse_cdf(u), dtype=np.float64).reshape(tensor.shape)
    if flip:
        z = -z
    return _fill(tensor, np.clip(mean + std * z, a, b))


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill with the value ``val``."""
    _check_tensor("constant_", tensor)
    check_real("constant_", "val", val)
    bump_version(tensor._data)
    tensor._data[...] = val
    return tensor


def zeros_(tensor: Tensor) -> Tensor:
    """Fill with 0."""
    return constant_(tensor, 0.0)


def ones_(tensor: Tensor) -> Tensor:
    """Fill with 1."""
    return constant_(tensor, 1.0)


def xavier_uniform_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """Glorot (Xavier) uniform initialisation: U(-bound, bound) with

        bound = gain * sqrt(6 / (fan_in + fan_out))        (std = gain * sqrt(2 / (fan_in + fan_out)))

    Glorot and Bengio, "Understanding the difficulty of training deep feedforward neural networks",
    AISTATS 2010.
    """
    _check_tensor("xavier_uniform_", tensor)
    gain = check_real("xavier_uniform_", "gain", gain)
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    bound = math.sqrt(3.0) * std
    return _fill(tensor, default_generator().uniform(-bound, bound, tensor.shape))


def xavier_normal_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """Glorot (Xavier) normal initialisation: N(0, std^2) with

        std = gain * sqrt(2 / (fan_in + fan_out))

    Glorot and Bengio, "Understanding the difficulty of training deep feedforward neural networks",
    AISTATS 2010.
    """
    _check_tensor("xavier_normal_", tensor)
    gain = check_real("xavier_normal_", "gain", gain)
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return _fill(tensor, default_generator().normal(0.0, std, tensor.shape))


def _kaiming_std(op, tensor, a, mode, nonlinearity) -> float:
    _check_tensor(op, tensor)
    a = check_real(op, "a", a)
    fan = _calculate_correct_fan(tensor, mode)
    gain = calculate_gain(nonlinearity, a)
    return gain / math.sqrt(fan) if fan > 0 else 0.0


def kaiming_uniform_(
    tensor: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu"
) -> Tensor:
    """He (Kaiming) uniform initialisation: U(-bound, bound) with

        bound = gain * sqrt(3 / fan)     (std = gain / sqrt(fan); fan = fan_in or fan_out by mode)
        gain = calculate_gain(nonlinearity, a)   (a: the negative slope of leaky_relu)

    Linear's default, a = sqrt(5), gives gain = sqrt(1/3) and so bound = 1 / sqrt(fan_in).
    He et al., "Delving Deep into Rectifiers: Surpassing Human-Level Performance on ImageNet
    Classification", ICCV 2015.
    """
    std = _kaiming_std("kaiming_uniform_", tensor, a, mode, nonlinearity)
    bound = math.sqrt(3.0) * std
    return _fill(tensor, default_generator().uniform(-bound, bound, tensor.shape))


def kaiming_normal_(
    tensor: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu"
) -> Tensor:
    """He (Kaiming) normal initialisation: N(0, std^2) with

        std = gain / sqrt(fan)      (fan = fan_in or fan_out by mode)
        gain = calculate_gain(nonlinearity, a)

    He et al., "Delving Deep into Rectifiers: Surpassing Human-Level Performance on ImageNet
    Classification", ICCV 2015.
    """
    std = _kaiming_std("kaiming_normal_", tensor, a, mode, nonlinearity)
    return _fill(tensor, default_generator().normal(0.0, std, tensor.shape))


def orthogonal_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """Fill with a (semi-)orthogonal matrix times ``gain``; dims after the first are flattened.

    Draw A ~ N(0, 1) of shape (rows, cols) (transposed when rows < cols), take its QR
    decomposition A = QR and use Q * sign(diag(R)), which makes Q uniformly distributed over the
    orthogonal matrices. The result W has W Wᵀ = gain^2 I (rows <= cols) or Wᵀ W = gain^2 I.

    Saxe et al., "Exact solutions to the nonlinear dynamics of learning in deep linear neural
    networks", ICLR 2014.
    """
    _check_tensor("orthogonal_", tensor)
    gain = check_real("orthogonal_", "gain", gain)
    if tensor.ndim < 2:
        raise ValueError(
            f"orthogonal_: only tensors with 2 or more dims are supported. Got shape "
            f"{tensor.shape} instead."
        )
    if tensor._data.size == 0:
        return tensor
    rows = tensor.shape[0]
    cols = tensor._data.size // rows
    flat = default_generator().standard_normal((rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q = q * np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return _fill(tensor, gain * q.reshape(tensor.shape))
