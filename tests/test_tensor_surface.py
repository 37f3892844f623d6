"""Tensor methods and top-level functions of the PyTorch surface, against PyTorch: t, view_as,
comparisons, all/any, allclose, log10/log2/log1p/expm1, axis=/keepdims=, __index__, __format__,
max/min/argmax/argmin as functions, softmax's implicit dim, constants. (The new ops' derivatives are
checked by the op-case table in tests/test_ops.py.)"""

import math
import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule.nn import functional as F

torch = pytest.importorskip("torch")

X = np.array([[1.5, -2.0, 0.25, 3.0], [0.0, 2.0, -1.0, 2.0], [4.0, 0.5, 0.5, -3.5]], dtype=np.float32)
Y = np.array([[1.5, 2.0, 0.25, -3.0], [1.0, 2.0, -1.0, 2.5], [4.0, 0.5, 0.0, -3.5]], dtype=np.float32)


def numpy_dtype(torch_dtype):
    return torch.empty(0, dtype=torch_dtype).numpy().dtype


def as_numpy(value):
    if isinstance(value, (cr.Tensor, torch.Tensor)):
        return value.numpy() if isinstance(value, cr.Tensor) else value.detach().numpy()
    return value


def same(ours, theirs):
    if isinstance(theirs, tuple):  # (values, indices) of max/min along a dim
        assert len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            same(a, b)
        return
    if isinstance(theirs, torch.Tensor):
        assert isinstance(ours, cr.Tensor)
        assert ours.shape == tuple(theirs.shape)
        assert ours.dtype == numpy_dtype(theirs.dtype)
        np.testing.assert_allclose(as_numpy(ours), as_numpy(theirs), rtol=1e-6, atol=1e-7)
    else:
        assert ours == theirs and type(ours) is type(theirs)


def _method(name, *args, **kwargs):
    """x.name(*args, **kwargs); the argument "y" stands for the second tensor."""
    return lambda lib, x, y: getattr(x, name)(*(y if a == "y" else a for a in args), **kwargs)


def _function(name):
    return lambda lib, x, y: getattr(lib, name)(x, y)


CALLS = {
    "t": lambda lib, x, y: x.t(),
    "t 1-D": lambda lib, x, y: x[0].t(),
    "lib.t": lambda lib, x, y: lib.t(x),
    "view_as": lambda lib, x, y: x.view_as(y.reshape(4, 3)),
    "reshape_as": lambda lib, x, y: x.reshape_as(y.reshape(2, 6)),
    "expand_as": lambda lib, x, y: x[:1].expand_as(y),
    "flatten": lambda lib, x, y: lib.flatten(x),
    "flatten dims": lambda lib, x, y: lib.flatten(x.reshape(3, 2, 2), 1),
    **{f"{op} method": _method(op, "y") for op in ("eq", "ne", "lt", "le", "gt", "ge")},
    **{f"{op} function": _function(op) for op in ("eq", "ne", "lt", "le", "gt", "ge")},
    "gt number": lambda lib, x, y: x.gt(0.5),
    "eq int": lambda lib, x, y: lib.eq(x.long(), 2),
    "all": lambda lib, x, y: lib.all(x),
    "any": lambda lib, x, y: lib.any(x > 3),
    "all dim": lambda lib, x, y: x.all(dim=1),
    "any dim keepdim": lambda lib, x, y: (x > 1).any(0, keepdim=True),
    "all axis keepdims": lambda lib, x, y: lib.all(x, axis=1, keepdims=True),
    "all uint8": lambda lib, x, y: (x > 0).to(lib.uint8).all(),
    "isclose": lambda lib, x, y: lib.isclose(x, y),
    "isclose tolerances": lambda lib, x, y: x.isclose(y + 1e-3, rtol=0, atol=2e-3),
    "isclose nan": lambda lib, x, y: lib.isclose(x.log(), y.log(), equal_nan=True),
    "allclose": lambda lib, x, y: lib.allclose(x, y),
    "allclose self": lambda lib, x, y: lib.allclose(x, x + 1e-7),
    "equal": lambda lib, x, y: lib.equal(x, y),
    "equal self": lambda lib, x, y: lib.equal(x, x.clone()),
    "equal shapes": lambda lib, x, y: lib.equal(x, x.reshape(4, 3)),
    "log10": lambda lib, x, y: x.abs().log10(),
    "log2": lambda lib, x, y: lib.log2(x.abs()),
    "log1p": lambda lib, x, y: lib.log1p(x.abs() * 1e-5),
    "expm1": lambda lib, x, y: x.expm1() - lib.expm1(y * 1e-6),
    "log10 int": lambda lib, x, y: lib.log10(lib.tensor([1, 10, 1000])),
    "nelement": lambda lib, x, y: x.nelement(),
    "numel function": lambda lib, x, y: lib.numel(x),
    "element_size": lambda lib, x, y: x.element_size() + x.double().element_size() + x.long().element_size(),
    "is_floating_point": lambda lib, x, y: (x.is_floating_point(), x.long().is_floating_point()),
    "lib.is_floating_point": lambda lib, x, y: lib.is_floating_point(x.half()),
    "is_tensor": lambda lib, x, y: (lib.is_tensor(x), lib.is_tensor(3.0), lib.is_tensor([x])),
    "max": lambda lib, x, y: lib.max(x),
    "max dim": lambda lib, x, y: tuple(lib.max(x, 1)),
    "max dim keepdim": lambda lib, x, y: tuple(lib.max(x, dim=0, keepdim=True)),
    "max other": lambda lib, x, y: lib.max(x, y),
    "min": lambda lib, x, y: lib.min(x),
    "min dim": lambda lib, x, y: tuple(lib.min(x, -1)),
    "min other": lambda lib, x, y: lib.min(x, y),
    "argmax": lambda lib, x, y: lib.argmax(x),
    "argmax dim": lambda lib, x, y: lib.argmax(x, dim=1),
    "argmin dim keepdim": lambda lib, x, y: lib.argmin(x, 0, keepdim=True),
    **{f"{op} axis": _method(op, axis=1) for op in ("sum", "mean", "std", "var", "argmax", "argmin")},
    **{f"{op} keepdims": _method(op, dim=0, keepdims=True)
       for op in ("sum", "mean", "std", "var", "argmax", "argmin")},
    **{f"{op} axis keepdims": _method(op, axis=-1, keepdims=True) for op in ("sum", "mean", "std", "var")},
    "softmax axis": _method("softmax", axis=1),
    "log_softmax axis": _method("log_softmax", axis=0),
    "unsqueeze axis": _method("unsqueeze", axis=1),
    "squeeze axis": lambda lib, x, y: x[:1].squeeze(axis=0),
    "max axis": lambda lib, x, y: tuple(x.max(axis=1)),
    "min axis keepdims": lambda lib, x, y: tuple(x.min(axis=0, keepdims=True)),
    "lib.sum axis": lambda lib, x, y: lib.sum(x, axis=0),
    "lib.mean keepdims": lambda lib, x, y: lib.mean(x, 1, keepdims=True),
    "new_zeros": lambda lib, x, y: x.new_zeros(2),
}


@pytest.mark.parametrize("name", list(CALLS))
def test_matches_pytorch(name):
    call = CALLS[name]
    ours = call(cr, cr.tensor(X), cr.tensor(Y))
    theirs = call(torch, torch.tensor(X), torch.tensor(Y))
    same(ours, theirs)


def test_t_and_view_as_carry_gradients():
    x = cr.tensor(X, requires_grad=True)
    upstream = np.arange(12, dtype=np.float32).reshape(4, 3)
    x.t().backward(cr.tensor(upstream))
    np.testing.assert_array_equal(x.grad.numpy(), upstream.T)
    z = cr.tensor(X, requires_grad=True)
    (z.view_as(cr.ones(2, 6)) * 2).sum().backward()
    np.testing.assert_array_equal(z.grad.numpy(), np.full((3, 4), 2.0))
    with pytest.raises(ValueError, match=r"t: expected a tensor with at most 2 dims; got shape \(2, 2, 3\)"):
        cr.ones(2, 2, 3).t()


def test_log_aliases_keep_accuracy_near_zero():
    tiny = cr.tensor([1e-10, -1e-12], dtype=cr.float64)
    np.testing.assert_allclose(tiny.log1p().numpy(), [1e-10 - 5e-21, -1e-12], rtol=1e-12)
    np.testing.assert_allclose(tiny.expm1().numpy(), [1e-10 + 5e-21, -1e-12], rtol=1e-12)


def test_numpy_and_pytorch_spellings_together_are_refused():
    with pytest.raises(TypeError, match="sum: give 'dim' or 'axis', not both"):
        cr.ones(2, 2).sum(0, axis=1)
    with pytest.raises(TypeError, match="mean: give 'keepdim' or 'keepdims', not both"):
        cr.ones(2, 2).mean(dim=0, keepdim=True, keepdims=True)


def test_index_on_one_element_integer_tensors():
    classes = ["cat", "dog", "bird"]
    pred = cr.tensor([[0.1, 3.0, 0.2]])
    assert classes[pred.argmax()] == classes[torch.tensor([[0.1, 3.0, 0.2]]).argmax()] == "dog"
    assert classes[cr.tensor([2])] == "bird"
    assert list(range(10))[cr.tensor(3):cr.tensor(5)] == [3, 4]
    for bad in (cr.tensor(1.0), cr.tensor([1, 2])):
        with pytest.raises(TypeError, match="only integer tensors of a single element can be used as an"):
            classes[bad]
        with pytest.raises(TypeError):
            classes[torch.tensor(bad.tolist())]  # PyTorch refuses the same


def test_format_of_0d_tensors_as_pytorch():
    for value, spec in ((0.123456, ".4f"), (2.5, ">8.2f"), (7, "03d"), (1e-9, ".2e"), (True, "")):
        assert format(cr.tensor(value), spec) == format(torch.tensor(value), spec)
    loss = cr.tensor(0.693147)
    assert f"loss {loss:.4f}" == "loss 0.6931"
    assert f"{cr.tensor([1.5])}" == str(cr.tensor([1.5]))
    with pytest.raises(TypeError, match=r"format: only a 0-d tensor takes a format spec such as '.4f'; "
                                        r"this one has shape \(1,\)"):
        f"{cr.tensor([0.5]):.4f}"
    with pytest.raises(TypeError):
        f"{torch.tensor([0.5]):.4f}"  # PyTorch refuses it too


@pytest.mark.parametrize("shape", [(5,), (2, 5), (2, 3, 4), (2, 3, 4, 5)])
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_without_dim_takes_pytorchs_implicit_dim_and_warns(shape, name):
    values = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    with warnings.catch_warnings(record=True) as ours_warned:
        warnings.simplefilter("always")
        ours = getattr(F, name)(cr.tensor(values))
    with warnings.catch_warnings(record=True) as theirs_warned:
        warnings.simplefilter("always")
        theirs = getattr(torch.nn.functional, name)(torch.tensor(values))
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-5, atol=1e-6)
    assert [w.category for w in ours_warned] == [UserWarning]
    assert str(ours_warned[0].message) == str(theirs_warned[0].message)
    assert ours_warned[0].filename == __file__  # the warning points at the caller's line


def test_constants():
    assert cr.pi == torch.pi == math.pi and cr.e == torch.e
    assert cr.inf == torch.inf and math.isnan(cr.nan)


def test_eq_function_against_numbers_and_broadcast():
    same(cr.eq(cr.tensor(X), cr.tensor(X[0])), torch.eq(torch.tensor(X), torch.tensor(X[0])))
    same(cr.ge(cr.tensor([1, 2, 3]), 2), torch.ge(torch.tensor([1, 2, 3]), 2))
