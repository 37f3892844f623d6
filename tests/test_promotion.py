"""Dtype promotion by PyTorch's rules, and the small PyTorch-parity corners of the Tensor API:
max(dim) as a named tuple, std/var with correction, flatten of empty dims, squeeze of a tuple,
and error messages that name the op."""

import itertools
import operator

import numpy as np
import pytest

import chainrule as cr
from chainrule.ops.promotion import result_dtype

torch = pytest.importorskip("torch")

DTYPES = ["bool", "uint8", "int32", "int64", "float32", "float64"]


def _values(dtype, shape):
    """Small positive values every dtype holds (no zero, so division and powers are defined)."""
    values = np.array([1, 2, 3, 2, 1, 3])[: int(np.prod(shape))].reshape(shape)
    return np.ones(shape, dtype=bool) if dtype == "bool" else values.astype(dtype)


# Each operand as a pair (chainrule's, torch's): dimensioned tensors, 0-d tensors, Python scalars
# and NumPy scalars (which PyTorch, like chainrule, takes as Python scalars of their kind).
OPERANDS = {
    **{f"{d} tensor": (lambda d=d: (cr.tensor(_values(d, (3,))), torch.tensor(_values(d, (3,)))))
       for d in DTYPES},
    **{f"0-d {d}": (lambda d=d: (cr.tensor(_values(d, ())), torch.tensor(_values(d, ()))))
       for d in DTYPES},
    "True": lambda: (True, True),
    "int 2": lambda: (2, 2),
    "float 2.5": lambda: (2.5, 2.5),
    "np.float64(2.5)": lambda: (np.float64(2.5), 2.5),
    "np.int32(2)": lambda: (np.int32(2), 2),
}
TENSOR_OPERANDS = [k for k in OPERANDS if "tensor" in k or k.startswith("0-d")]


def _same_dtype(ours, theirs):
    return str(ours.dtype) == str(theirs.dtype).replace("torch.", "")


@pytest.mark.parametrize("left, right", [
    (a, b) for a, b in itertools.product(OPERANDS, OPERANDS) if a in TENSOR_OPERANDS or b in TENSOR_OPERANDS
])
def test_result_dtype_equals_torch_result_type(left, right):
    (ours_a, theirs_a), (ours_b, theirs_b) = OPERANDS[left](), OPERANDS[right]()
    expected = torch.result_type(theirs_a, theirs_b)
    assert str(result_dtype(ours_a, ours_b)) == str(expected).replace("torch.", "")


ARITHMETIC = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
              "**": operator.pow}
COMPARISONS = {"<": operator.lt, "==": operator.eq, ">=": operator.ge}


@pytest.mark.parametrize("symbol", [*ARITHMETIC, *COMPARISONS])
def test_binary_operators_give_torch_dtypes_and_values(symbol):
    fn = {**ARITHMETIC, **COMPARISONS}[symbol]
    checked = 0
    for left, right in itertools.product(OPERANDS, OPERANDS):
        if left not in TENSOR_OPERANDS and right not in TENSOR_OPERANDS:
            continue
        (ours_a, theirs_a), (ours_b, theirs_b) = OPERANDS[left](), OPERANDS[right]()
        try:
            expected = fn(theirs_a, theirs_b)
        except (RuntimeError, TypeError):  # bool - bool, bool ** bool: PyTorch refuses them
            continue
        result = fn(ours_a, ours_b)
        where = f"{left} {symbol} {right}"
        assert _same_dtype(result, expected), (where, result.dtype, expected.dtype)
        np.testing.assert_allclose(result.numpy(), expected.numpy(), rtol=1e-6, err_msg=where)
        checked += 1
    assert checked > 150


def test_the_examples_of_the_rules():
    ints, int32 = cr.tensor([1, 2, 3]), cr.tensor(np.array([1, 2, 3], dtype=np.int32))
    floats = cr.tensor([1.0, 2.0, 3.0])
    assert (ints / ints).dtype == np.float32  # true division of integers is float32
    assert (ints + floats).dtype == np.float32  # not NumPy's float64
    assert (floats + cr.tensor(2.0, dtype="float64")).dtype == np.float32  # 0-d ranks lower
    assert (floats + cr.tensor([2.0], dtype="float64")).dtype == np.float64  # dimensioned do not
    assert (int32 + 5).dtype == np.int32 and (5 - int32).dtype == np.int32
    assert (cr.tensor([1], dtype="uint8") + 5).dtype == np.uint8
    assert (ints + cr.tensor(2.0, dtype="float64")).dtype == np.float64  # a higher category counts
    assert (ints * np.float64(0.5)).dtype == np.float32  # a NumPy scalar counts as a Python one


def test_uint8_with_an_out_of_range_number_wraps_as_in_torch():
    for fn in (lambda t: t - 1, lambda t: t + 300):
        ours, theirs = fn(cr.tensor([0, 7], dtype="uint8")), fn(torch.tensor([0, 7], dtype=torch.uint8))
        assert ours.dtype == np.uint8
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_arrays_and_lists_count_as_tensors():
    floats = cr.tensor([1.0, 2.0, 3.0])
    assert (floats + np.array([1.0, 2.0, 3.0])).dtype == np.float64  # a float64 array, dimensioned
    assert (floats + np.array(1.0)).dtype == np.float32  # a 0-d array ranks as a 0-d tensor
    assert (np.array([1, 2, 3]) * floats).dtype == np.float32
    assert (floats + [1, 2, 3]).dtype == np.float32  # a list is made as cr.tensor makes it
    assert (cr.tensor([1, 2, 3]) + [0.5, 0.5, 0.5]).dtype == np.float32
    assert ([1, 2, 3] - cr.tensor([1, 2, 3])).dtype == np.int64


def _pair(data, dtype=None, requires_grad=False):
    return (cr.tensor(data, dtype=dtype, requires_grad=requires_grad),
            torch.tensor(data, dtype=getattr(torch, dtype) if dtype else None,
                         requires_grad=requires_grad))


def test_gradients_flow_back_in_each_inputs_own_dtype():
    for dims_a, dims_b in (((2, 3), (2, 3)), ((2, 3), ()), ((), (3,))):
        rng = np.random.default_rng(0)
        a_data, b_data = rng.standard_normal(dims_a), rng.standard_normal(dims_b)
        a, ta = _pair(a_data, "float32", requires_grad=True)
        b, tb = _pair(b_data, "float64", requires_grad=True)
        out, expected = a * b + b, ta * tb + tb
        assert _same_dtype(out, expected), (dims_a, dims_b)
        out.sum().backward()
        expected.sum().backward()
        assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64
        np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy(), rtol=1e-6)
        np.testing.assert_allclose(b.grad.numpy(), tb.grad.numpy(), rtol=1e-6)


def test_an_integer_tensor_with_a_float_tensor_gives_float32_and_its_gradient():
    ints, (w, tw) = cr.tensor([1, 2, 3]), _pair([0.5, -1.0, 2.0], "float32", requires_grad=True)
    out = ints * w
    assert out.dtype == np.float32
    out.sum().backward()
    (torch.tensor([1, 2, 3]) * tw).sum().backward()
    assert w.grad.dtype == np.float32
    np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy())


def test_same_dtype_operands_add_no_cast():
    x, w = cr.randn(32, 10), cr.randn(32, 10, requires_grad=True)
    for out in (x * w, w + 0.5, 0.5 * w, w @ x.T):
        assert out.grad_fn.next_functions() == [], out.grad_fn  # the leaves directly, no Cast
    int_plus_float = cr.tensor([1, 2]) + cr.tensor([0.5, 1.0], requires_grad=True)
    assert int_plus_float.grad_fn.name == "Add"


FUNCTIONS = {
    "where(cond, 2.5, ints)": lambda lib, c, i, f, d: lib.where(c, 2.5, i),
    "where(cond, ints, floats)": lambda lib, c, i, f, d: lib.where(c, i, f),
    "where(cond, 1, 0)": lambda lib, c, i, f, d: lib.where(c, 1, 0),
    "where(cond, floats, 0-d float64)": lambda lib, c, i, f, d: lib.where(c, f, d),
    "maximum(ints, floats)": lambda lib, c, i, f, d: lib.maximum(i, f),
    "minimum(floats, 0-d float64)": lambda lib, c, i, f, d: lib.minimum(f, d),
    "cat([ints, floats])": lambda lib, c, i, f, d: lib.cat([i, f]),
    "stack([ints, floats])": lambda lib, c, i, f, d: lib.stack([i, f]),
    "ints.clamp(min=1.5)": lambda lib, c, i, f, d: i.clamp(min=1.5),
    "ints.clamp(min=1, max=2)": lambda lib, c, i, f, d: i.clamp(min=1, max=2),
    "floats.clamp(max=2)": lambda lib, c, i, f, d: f.clamp(max=2),
    "ints > 1.5": lambda lib, c, i, f, d: i > 1.5,
}


@pytest.mark.parametrize("name", FUNCTIONS)
def test_functions_promote_like_torch(name):
    def operands(lib):
        return (lib.tensor([True, False, True]), lib.tensor([1, 2, 3]), lib.tensor([0.5, 2.5, 3.5]),
                lib.tensor(2.0, dtype=lib.float64))

    ours, expected = FUNCTIONS[name](cr, *operands(cr)), FUNCTIONS[name](torch, *operands(torch))
    assert _same_dtype(ours, expected), (ours.dtype, expected.dtype)
    np.testing.assert_allclose(ours.numpy(), expected.numpy())


def test_where_example_from_the_brief():
    out = cr.where(cr.tensor([True, False]), 2.5, cr.tensor([1, 2]))
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out.numpy(), [2.5, 2.0])


def test_matmul_promotes_where_torch_would_ask_for_one_dtype():
    # torch.matmul refuses mixed dtypes; chainrule computes in the promoted dtype instead
    ints, floats = cr.tensor([[1, 2], [3, 4]]), cr.tensor([[0.5], [1.5]], requires_grad=True)
    out = ints @ floats
    assert out.dtype == np.float32 and cr.matmul(ints, floats).dtype == np.float32
    np.testing.assert_allclose(out.numpy(), [[3.5], [7.5]])
    out.sum().backward()
    assert floats.grad.dtype == np.float32
    assert (floats.T @ np.ones((2, 1))).dtype == np.float64  # a float64 array promotes
    assert (ints @ [[1], [1]]).dtype == np.int64


def test_max_and_min_along_a_dim_return_values_and_indices():
    x, tx = _pair([[1.0, 5.0, 3.0], [4.0, 2.0, 6.0]])
    for name in ("max", "min"):
        ours, expected = getattr(x, name)(dim=1), getattr(tx, name)(dim=1)
        np.testing.assert_array_equal(ours.values.numpy(), expected.values.numpy())
        np.testing.assert_array_equal(ours.indices.numpy(), expected.indices.numpy())
        values, indices = ours  # still a pair
        assert values is ours.values and indices is ours.indices and ours[0] is values
        assert type(ours).__name__ == name and "values=" in repr(ours)


@pytest.mark.parametrize("kwargs", [
    {}, {"dim": 1}, {"dim": 0, "keepdim": True}, {"dim": (0, 1)}, {"dim": 1, "correction": 0},
    {"dim": 1, "correction": 2}, {"correction": 0.5}, {"dim": -1, "unbiased": False},
    {"dim": 0, "unbiased": True}, {"dim": 0, "correction": 3},
])
@pytest.mark.filterwarnings("ignore:.*degrees of freedom")  # PyTorch's, for correction 3 of 3
def test_var_and_std_equal_torch(kwargs):
    data = np.random.default_rng(1).standard_normal((3, 4))
    for name in ("var", "std"):
        x, tx = _pair(data, requires_grad=True)
        ours, expected = getattr(x, name)(**kwargs), getattr(tx, name)(**kwargs)
        assert ours.shape == tuple(expected.shape)
        np.testing.assert_allclose(ours.numpy(), expected.detach().numpy(), rtol=1e-12)
        if np.isfinite(ours.numpy()).all():
            upstream = np.random.default_rng(2).standard_normal(ours.shape)
            ours.backward(upstream)
            expected.backward(torch.tensor(upstream))
            np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_var_with_no_degrees_of_freedom_is_nan_or_inf_as_in_torch():
    with pytest.warns(UserWarning):
        expected = torch.tensor([1.0, 2.0]).var(correction=2)
    assert np.isinf(cr.tensor([1.0, 2.0]).var(correction=2).item()) == bool(torch.isinf(expected))
    assert np.isnan(cr.tensor([1.0]).var().item())


def test_var_and_std_arguments_are_checked():
    x = cr.randn(2, 3)
    with pytest.raises(TypeError, match="var: give 'correction' or 'unbiased', not both"):
        x.var(correction=1, unbiased=True)
    with pytest.raises(TypeError, match="std: unbiased must be a bool"):
        x.std(unbiased=1)
    with pytest.raises(TypeError, match="var: correction must be a number"):
        x.var(correction="1")
    assert cr.tensor([1, 2, 3]).std().dtype == np.float32  # an integer tensor is taken as float32


def test_flatten_keeps_zero_sized_dims():
    for shape, args in (((0, 3), (1,)), ((0, 3), ()), ((2, 0, 3), (1,)), ((2, 0, 3), (0, 1)),
                        ((4, 0), (0,))):
        ours, expected = cr.zeros(*shape).flatten(*args), torch.zeros(*shape).flatten(*args)
        assert ours.shape == tuple(expected.shape), (shape, args)


def test_squeeze_accepts_a_tuple_of_dims():
    x, tx = cr.zeros(1, 2, 1, 3), torch.zeros(1, 2, 1, 3)
    for dims in ((0, 2), (0, 1), (-2,), (), [2, 0], 0, 1):
        assert x.squeeze(dims).shape == tuple(tx.squeeze(dims).shape), dims
    with pytest.raises(ValueError, match="squeeze: dim .* names the same dim twice"):
        x.squeeze((0, -4))
    with pytest.raises(ValueError, match="squeeze: dim 4 is out of range"):
        x.squeeze((0, 4))
    y = cr.ones(1, 3, requires_grad=True)
    y.squeeze((0,)).sum().backward()
    assert y.grad.shape == (1, 3)


@pytest.mark.parametrize("fn, message", [
    (lambda: cr.ones(3) + cr.ones(4), r"add: cannot broadcast shapes \(3,\) and \(4,\)"),
    (lambda: cr.ones(2, 3) - np.ones((3, 2)), r"sub: cannot broadcast shapes \(2, 3\) and \(3, 2\)"),
    (lambda: cr.ones(3) * [1.0, 2.0], r"mul: cannot broadcast shapes \(3,\) and \(2,\)"),
    (lambda: np.ones(2) / cr.ones(3), r"div: cannot broadcast shapes \(2,\) and \(3,\)"),
    (lambda: cr.ones(3) ** cr.ones(2), r"pow: cannot broadcast shapes \(3,\) and \(2,\)"),
    (lambda: cr.maximum(cr.ones(3), cr.ones(2)), r"maximum: cannot broadcast shapes \(3,\) and \(2,\)"),
    (lambda: cr.where(cr.ones(3) > 0, cr.ones(2), 0.0),
     r"where: cannot broadcast shapes \(3,\), \(2,\) and \(\)"),
    (lambda: cr.cat([cr.tensor(1.0), cr.tensor(2.0)]),
     "cat: zero-dimensional tensors cannot be concatenated"),
    (lambda: cr.ones(2, 3).softmax(2), r"softmax: dim 2 is out of range .* \[-2, 1\]"),
    (lambda: cr.ones(2, 3).log_softmax(-3), r"log_softmax: dim -3 is out of range .* \[-2, 1\]"),
    (lambda: cr.softmax(cr.tensor(1.0), 1), r"softmax: dim 1 is out of range .* \[-1, 0\]"),
    (lambda: cr.ones(2, 3).var(5), r"var: dim 5 is out of range .* \[-2, 1\]"),
    (lambda: cr.ones(2, 3).std(-3), r"std: dim -3 is out of range"),
])
def test_error_messages_name_the_op(fn, message):
    with pytest.raises(ValueError, match=message):
        fn()


def test_softmax_of_a_0d_tensor_is_one_as_in_torch():
    for dim in (0, -1):
        x = cr.tensor(3.0, requires_grad=True)
        out = x.log_softmax(dim)
        assert out.shape == () and out.item() == 0.0 and x.softmax(dim).item() == 1.0
        out.backward()
        assert x.grad.item() == 0.0


def test_a_dtype_with_no_arithmetic_is_refused_by_name():
    with pytest.raises(TypeError, match="dtype <U1 takes no part in arithmetic"):
        cr.ones(1) + np.array(["a"])


def test_bitwise_operators_iteration_and_non_numbers_as_in_torch():
    torch = pytest.importorskip("torch")
    a, b = np.array([5, 3, -2]), np.array([1, 6, 7])
    for op in (lambda x, y: x & y, lambda x, y: x | y, lambda x, y: ~x):
        np.testing.assert_array_equal(op(cr.tensor(a), cr.tensor(b)).numpy(),
                                      op(torch.tensor(a), torch.tensor(b)).numpy())
    flags = np.array([True, False, True])
    np.testing.assert_array_equal((~cr.tensor(flags)).numpy(), ~flags)
    rows = list(cr.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True))
    assert [r.shape for r in rows] == [(2,), (2,)] and rows[1].requires_grad
    with pytest.raises(TypeError, match="iteration over a 0-d tensor"):
        list(cr.tensor(1.0))
    with pytest.raises(TypeError, match="data must be numbers.*Got str"):
        cr.tensor("abc")


def test_remainder_and_floor_division_as_in_torch():
    torch = pytest.importorskip("torch")
    a, b = np.array([5.5, -3.2, 7.0]), np.array([2.0, 2.0, -3.0])
    for op in (operator.mod, operator.floordiv):
        for x, y in ((a, b), (a.astype(np.float32), 2), (np.array([7, -7]), 3),
                     (np.array([7, -7]), 2.5), (5, b)):
            ours = op(cr.tensor(x) if isinstance(x, np.ndarray) else x,
                      cr.tensor(y) if isinstance(y, np.ndarray) else y)
            theirs = op(torch.tensor(x) if isinstance(x, np.ndarray) else x,
                        torch.tensor(y) if isinstance(y, np.ndarray) else y)
            assert str(ours.dtype) == str(theirs.dtype).replace("torch.", "")
            np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)
    x = cr.tensor(a, requires_grad=True)
    assert not (x // 2).requires_grad  # a floor: no graph (its derivative is 0 where it exists)


def test_relu_passes_the_gradient_through_nan_as_torch():
    torch = pytest.importorskip("torch")
    x = np.array([np.nan, -1.0, 0.0, 2.0, -0.0])
    ours, theirs = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ours.relu().sum().backward()
    theirs.relu().sum().backward()
    np.testing.assert_array_equal(ours.grad.numpy(), theirs.grad.numpy())


def test_nan_gradients_of_max_min_maximum_minimum_as_torch():
    torch = pytest.importorskip("torch")
    x = np.array([1.0, np.nan, 3.0, np.nan])
    for name in ("max", "min"):
        ours, theirs = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        getattr(ours, name)().backward()
        getattr(theirs, name)().backward()
        np.testing.assert_array_equal(ours.grad.numpy(), theirs.grad.numpy())
    a, b = np.array([np.nan, 1.0, 2.0, 2.0, 3.0]), np.array([0.0, np.nan, 1.0, 2.0, 5.0])
    for name in ("maximum", "minimum"):
        ours = [cr.tensor(v, requires_grad=True) for v in (a, b)]
        theirs = [torch.tensor(v, requires_grad=True) for v in (a, b)]
        getattr(cr, name)(*ours).sum().backward()
        getattr(torch, name)(*theirs).sum().backward()
        for mine, reference in zip(ours, theirs):
            np.testing.assert_array_equal(mine.grad.numpy(), reference.grad.numpy())
