"""Gradient clipping and flat parameter vectors (``chainrule.nn.utils``).

    clip_grad_norm_        rescale all gradients together so their joint norm is at most max_norm
    clip_grad_value_       clamp every gradient element to [-clip_value, clip_value]
    parameters_to_vector   all parameters as one flat Tensor
    vector_to_parameters   copy a flat vector back into the parameters
    rnn.pad_sequence       sequences of different lengths as one padded batch (utils_rnn.py)
"""

from __future__ import annotations

import math

import numpy as np

from ..backend import as_array, get_array_module, held_only_by, zeros_on
from ..autograd.engine import bump_version
from ..checks import argument_error, check_real
from ..tensor import Tensor
from . import utils_rnn as rnn  # noqa: F401  (chainrule.nn.utils.rnn, as torch.nn.utils.rnn)

__all__ = ["clip_grad_norm_", "clip_grad_value_", "parameters_to_vector", "vector_to_parameters"]


def _as_list(op: str, parameters) -> list:
    """A single Tensor or an iterable of Tensors, as a list."""
    if isinstance(parameters, Tensor):
        return [parameters]
    try:
        params = list(parameters)
    except TypeError:
        raise TypeError(
            f"{op}: expected a Tensor or an iterable of Tensors. Got {type(parameters).__name__} "
            "instead."
        ) from None
    for p in params:
        if not isinstance(p, Tensor):
            raise TypeError(f"{op}: every parameter must be a Tensor. Got {type(p).__name__}.")
    return params


def _vector_norm(array: np.ndarray, norm_type: float):
    """||a||_p of all elements: (sum |a_i|^p)^(1/p); max |a_i| for p = inf, min |a_i| for
    p = -inf, and the number of non-zero elements for p = 0 (PyTorch's vector norms)."""
    if norm_type == 2.0:  # the usual one: sqrt(a . a), one product (no |a| needed)
        flat = array.ravel()
        return np.sqrt(np.dot(flat, flat))
    flat = np.abs(array.ravel())
    if norm_type == math.inf:
        return flat.max() if flat.size else zeros_on(flat, ())
    if norm_type == -math.inf:
        return flat.min() if flat.size else np.full_like(flat, math.inf, shape=())
    if norm_type == 0:
        return as_array(np.count_nonzero(flat)).astype(flat.dtype)
    return (flat**norm_type).sum() ** (1.0 / norm_type)


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False, foreach=None) -> Tensor:
    """Scale the gradients of ``parameters`` in place so that their total norm is at most max_norm.

    The total norm treats all gradients as one long vector (PyTorch's definition):
        total = || (||g_1||_p, ||g_2||_p, ...) ||_p          (for p = inf: max_i max |g_i|)
        clip_coef = min(max_norm / (total + 1e-6), 1)
        g_i <- g_i * clip_coef                                 for every gradient
    Parameters whose ``.grad`` is None are skipped. Returns the total norm before clipping as a
    0-d Tensor. With ``error_if_nonfinite=True`` a nan or inf total raises RuntimeError instead of
    scaling every gradient to nan. ``foreach`` is accepted for PyTorch's signature and ignored: for
    p = 2 the gradients are always taken end to end, one norm and one scaling for all of them
    (``_scale_end_to_end``), the same numbers as one by one.
    """
    params = _as_list("clip_grad_norm_", parameters)
    max_norm = check_real("clip_grad_norm_", "max_norm", max_norm)
    if isinstance(norm_type, str) and norm_type.lower() in ("inf", "-inf"):
        norm_type = math.inf if norm_type.lower() == "inf" else -math.inf
    norm_type = check_real("clip_grad_norm_", "norm_type", norm_type)
    with_grads = [p for p in params if p.grad is not None]
    grads = [p.grad._data for p in with_grads]
    if not grads:
        return Tensor._from_op(np.zeros((), dtype=np.float32), None)
    dtype = np.result_type(*grads)
    everything = None
    if (norm_type == 2.0 and all(g.dtype == dtype for g in grads)
            and len({id(p.grad) for p in with_grads}) == len(with_grads)):  # (a parameter listed
        # twice has its gradient scaled twice, as in PyTorch: the loop below does that)
        # the norm of the norms is the norm of all the numbers end to end: three array
        # operations for any number of gradients (on a GPU, three kernels instead of two each)
        everything = get_array_module(grads[0]).concatenate([g.reshape(-1) for g in grads])
        total = as_array(_vector_norm(everything, 2.0))
    else:
        norms = np.stack([as_array(_vector_norm(g, norm_type)).astype(dtype, copy=False)
                          for g in grads])
        total = as_array(_vector_norm(norms, norm_type)).astype(dtype, copy=False)
    if error_if_nonfinite and not np.isfinite(total):
        raise RuntimeError(
            f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is {total}, so "
            "they cannot be clipped; pass error_if_nonfinite=False to scale them anyway."
        )
    with np.errstate(invalid="ignore"):  # a non-finite total gives nan or 0, as in PyTorch
        clip_coef = np.minimum(max_norm / (total + dtype.type(1e-6)), dtype.type(1.0))
        if everything is None:
            for g in grads:
                g *= clip_coef.astype(g.dtype, copy=False)
        else:
            del grads  # (no name may hold a gradient's array: see _scale_end_to_end)
            _scale_end_to_end(everything, clip_coef, [p.grad for p in with_grads])
    return Tensor._from_op(total, None)


def _scale_end_to_end(everything, scale, grads) -> None:
    """Every gradient times ``scale``, in one operation on ``everything`` (the gradients end to end,
    a copy): each gradient that nothing else holds then becomes its piece of it, a view with the
    new numbers (backend.held_only_by), and the others are copied from theirs. On a GPU that is
    one kernel for any number of gradients, instead of one each."""
    everything *= scale
    offset = 0
    for grad in grads:
        shape, size = grad._data.shape, grad._data.size
        piece = everything[offset:offset + size].reshape(shape)
        offset += size
        if grad.grad_fn is None and held_only_by(grad):
            grad._data = piece
        else:
            grad._data[...] = piece


def clip_grad_value_(parameters, clip_value: float, foreach=None) -> None:
    """Clamp every gradient element into [-clip_value, clip_value], in place:
        g <- min(max(g, -clip_value), clip_value)
    Parameters whose ``.grad`` is None are skipped. (``foreach``: as in clip_grad_norm_.)"""
    params = _as_list("clip_grad_value_", parameters)
    clip_value = check_real("clip_grad_value_", "clip_value", clip_value)
    if clip_value < 0:
        raise argument_error("clip_grad_value_", "clip_value", "non-negative", clip_value)
    for p in params:
        if p.grad is not None:
            np.clip(p.grad._data, -clip_value, clip_value, out=p.grad._data)


def parameters_to_vector(parameters) -> Tensor:
    """Every parameter flattened and joined into one 1-D Tensor (differentiable, through cat)."""
    from ..functions import cat

    params = _as_list("parameters_to_vector", parameters)
    if not params:
        raise ValueError("parameters_to_vector: expected at least one parameter. Got none.")
    return cat([p.reshape(-1) for p in params])


def vector_to_parameters(vec, parameters) -> None:
    """Copy consecutive slices of the 1-D ``vec`` into the parameters' arrays, in place (the inverse
    of parameters_to_vector)."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"vector_to_parameters: expected a Tensor. Got {type(vec).__name__} instead.")
    if vec.ndim != 1:
        raise ValueError(f"vector_to_parameters: expected a 1-D vector. Got shape {vec.shape}.")
    params = _as_list("vector_to_parameters", parameters)
    total = sum(p._data.size for p in params)
    if vec.shape[0] != total:
        raise ValueError(
            f"vector_to_parameters: the vector has {vec.shape[0]} elements, but the parameters "
            f"have {total}."
        )
    offset = 0
    for p in params:
        n = p._data.size
        bump_version(p._data)  # an in-place change: a graph that saved the old values refuses
        p._data[...] = vec._data[offset:offset + n].reshape(p.shape)
        offset += n
