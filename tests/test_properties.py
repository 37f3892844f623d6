"""Property tests of the engine with hypothesis: random shapes, broadcasts, indices and values.

Two properties for every op:
- forward: the result equals NumPy's (same values, shape and dtype, in float32 and float64);
- backward: with a random upstream gradient g, the gradient of sum(g * op(inputs)) equals central
  finite differences in float64. A random g (not all ones) matters: with g = 1 a backward that is
  wrong by anything summing to zero along the output would pass.

The finite differences here are computed directly (not with chainrule.gradcheck), so these tests
check the engine independently of its other tests.
"""

import operator

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import chainrule as cr

PROPERTY = settings(max_examples=100, deadline=None, database=None)
EPS = 1e-6
RTOL, ATOL = 1e-5, 1e-7

small_shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4)
pair_shapes = hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=4)
dtypes = st.sampled_from([np.float32, np.float64])


def floats_in(low, high, away_from_zero=0.0):
    """Elements in [low, high] (and outside (-away, away) when asked)."""
    if not away_from_zero:
        return st.floats(low, high)
    parts = []
    if low <= -away_from_zero:
        parts.append(st.floats(low, -away_from_zero))
    if high >= away_from_zero:
        parts.append(st.floats(max(low, away_from_zero), high))
    return st.one_of(parts)


def array(data, shape, low=-3.0, high=3.0, dtype=np.float64, away_from_zero=0.0):
    """A float64 array drawn in the domain, then cast to ``dtype``."""
    values = data.draw(hnp.arrays(np.float64, shape, elements=floats_in(low, high, away_from_zero)))
    return values.astype(dtype)


def finite_difference_grads(fn, arrays, upstream):
    """d sum(upstream * fn(*arrays)) / d arrays[i], by central differences, for every input."""
    def objective():
        with cr.no_grad():
            return float(np.sum(upstream * fn(*[cr.tensor(a) for a in arrays]).numpy()))

    grads = []
    for a in arrays:
        grad = np.zeros_like(a)
        for index in np.ndindex(a.shape):
            original = a[index]
            a[index] = original + EPS
            plus = objective()
            a[index] = original - EPS
            minus = objective()
            a[index] = original
            grad[index] = (plus - minus) / (2 * EPS)
        grads.append(grad)
    return grads


def assert_backward_matches_finite_differences(fn, arrays, data):
    inputs = [cr.tensor(a, requires_grad=True) for a in arrays]
    out = fn(*inputs)
    upstream = array(data, out.shape, -2.0, 2.0)
    out.backward(upstream)
    expected = finite_difference_grads(fn, [a.copy() for a in arrays], upstream)
    for i, (x, grad) in enumerate(zip(inputs, expected)):
        assert x.grad is not None, f"input {i} got no gradient"
        assert x.grad.shape == x.shape
        # atol scaled by the gradient's size: an entry that is a small difference of large terms
        # carries the finite differences' rounding of those terms (seen in CI: 0.0022 from +-8.25)
        scale = max(1.0, float(np.abs(grad).max())) if grad.size else 1.0
        np.testing.assert_allclose(x.grad.numpy(), grad, rtol=RTOL, atol=ATOL * scale,
                                   err_msg=f"gradient of input {i} (shape {x.shape})")


def assert_same_as_numpy(result, expected, exact=True):
    expected = np.asarray(expected)
    assert isinstance(result, cr.Tensor)
    assert result.shape == expected.shape
    assert result.dtype == expected.dtype
    if exact:
        np.testing.assert_array_equal(result.numpy(), expected)
    else:
        rtol = 1e-5 if expected.dtype == np.float32 else 1e-12
        np.testing.assert_allclose(result.numpy(), expected, rtol=rtol, atol=rtol)


# ----- binary ops with broadcasting --------------------------------------------------------------

# name: (chainrule op, NumPy op, domain of a, domain of b as (low, high, away_from_zero))
BINARY = {
    "add": (operator.add, np.add, (-3, 3, 0), (-3, 3, 0)),
    "sub": (operator.sub, np.subtract, (-3, 3, 0), (-3, 3, 0)),
    "mul": (operator.mul, np.multiply, (-3, 3, 0), (-3, 3, 0)),
    "div": (operator.truediv, np.divide, (-3, 3, 0), (-3, 3, 0.5)),
    "pow": (operator.pow, np.power, (0.5, 3, 0), (-2, 2, 0)),
}


@PROPERTY
@given(name=st.sampled_from(sorted(BINARY)), shapes=pair_shapes, dtype=dtypes, data=st.data())
def test_binary_forward_broadcasts_like_numpy(name, shapes, dtype, data):
    op, np_op, domain_a, domain_b = BINARY[name]
    shape_a, shape_b = shapes.input_shapes
    a = array(data, shape_a, *domain_a[:2], dtype=dtype, away_from_zero=domain_a[2])
    b = array(data, shape_b, *domain_b[:2], dtype=dtype, away_from_zero=domain_b[2])
    assert_same_as_numpy(op(cr.tensor(a), cr.tensor(b)), np_op(a, b))


@PROPERTY
@given(name=st.sampled_from(sorted(BINARY)), shape=small_shapes, dtype=dtypes,
       scalar=floats_in(-2, 2, away_from_zero=0.5), reflected=st.booleans(), data=st.data())
def test_binary_forward_with_a_python_number(name, shape, dtype, scalar, reflected, data):
    op, np_op, domain_a, _ = BINARY[name]
    if name == "pow" and reflected:
        scalar = abs(scalar)  # a negative base to a real power is nan
    x = array(data, shape, *domain_a[:2], dtype=dtype, away_from_zero=max(domain_a[2], 0.5))
    result = op(scalar, cr.tensor(x)) if reflected else op(cr.tensor(x), scalar)
    expected = np_op(scalar, x) if reflected else np_op(x, scalar)
    assert_same_as_numpy(result, expected.astype(dtype), exact=False)


@PROPERTY
@given(name=st.sampled_from(sorted(BINARY)), shapes=pair_shapes, data=st.data())
def test_binary_backward_unbroadcasts_to_each_input(name, shapes, data):
    op, _, domain_a, domain_b = BINARY[name]
    shape_a, shape_b = shapes.input_shapes
    a = array(data, shape_a, *domain_a[:2], away_from_zero=domain_a[2])
    b = array(data, shape_b, *domain_b[:2], away_from_zero=domain_b[2])
    assert_backward_matches_finite_differences(op, [a, b], data)


@PROPERTY
@given(shape=small_shapes, exponent=st.sampled_from([-2, -1, 0, 1, 2, 3, 0.5, 1.5, -0.5]),
       data=st.data())
def test_pow_by_a_constant_exponent(shape, exponent, data):
    low = 0.5 if isinstance(exponent, float) else -3.0
    x = array(data, shape, low, 3.0, away_from_zero=0.5)
    assert_same_as_numpy(cr.tensor(x) ** exponent, np.power(x, exponent), exact=False)
    assert_backward_matches_finite_differences(lambda t: t**exponent, [x], data)


# ----- element-wise unary ops ---------------------------------------------------------------------

# name: (chainrule op, NumPy reference, domain, exact equality expected)
UNARY = {
    "exp": (cr.Tensor.exp, np.exp, (-3, 3, 0), True),
    "log": (cr.Tensor.log, np.log, (0.1, 5, 0), True),
    "tanh": (cr.Tensor.tanh, np.tanh, (-4, 4, 0), True),
    "sigmoid": (cr.Tensor.sigmoid, lambda x: 1 / (1 + np.exp(-x)), (-6, 6, 0), False),
    "relu": (cr.Tensor.relu, lambda x: np.maximum(x, 0), (-3, 3, 1e-3), True),
    "neg": (operator.neg, np.negative, (-3, 3, 0), True),
}


@PROPERTY
@given(name=st.sampled_from(sorted(UNARY)), shape=small_shapes, dtype=dtypes, data=st.data())
def test_unary_forward_matches_numpy(name, shape, dtype, data):
    op, reference, (low, high, away), exact = UNARY[name]
    x = array(data, shape, low, high, dtype=dtype, away_from_zero=away)
    assert_same_as_numpy(op(cr.tensor(x)), reference(x).astype(dtype), exact=exact)


@PROPERTY
@given(name=st.sampled_from(sorted(UNARY)), shape=small_shapes, data=st.data())
def test_unary_backward(name, shape, data):
    op, _, (low, high, away), _ = UNARY[name]
    x = array(data, shape, low, high, away_from_zero=max(away, 1e-2) if name == "relu" else away)
    assert_backward_matches_finite_differences(op, [x], data)


def test_relu_gradient_at_zero_is_zero():
    x = cr.tensor(np.array([-1.0, 0.0, 2.0]), requires_grad=True)
    x.relu().backward(np.array([5.0, 7.0, 11.0]))
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0, 11.0])


# ----- reductions ----------------------------------------------------------------------------------


@st.composite
def shape_and_dims(draw, min_dims=0):
    """A shape and a dim argument for it: None, an int or a tuple, negatives included."""
    shape = draw(hnp.array_shapes(min_dims=min_dims, max_dims=3, min_side=1, max_side=4))
    ndim = len(shape)
    if ndim == 0 or draw(st.booleans()):
        return shape, None
    dims = draw(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True))
    dims = [d - ndim if draw(st.booleans()) else d for d in dims]
    return shape, (dims[0] if len(dims) == 1 and draw(st.booleans()) else tuple(dims))


@PROPERTY
@given(name=st.sampled_from(["sum", "mean"]), shape_dim=shape_and_dims(), keepdim=st.booleans(),
       dtype=dtypes, data=st.data())
def test_sum_and_mean_forward(name, shape_dim, keepdim, dtype, data):
    shape, dim = shape_dim
    x = array(data, shape, dtype=dtype)
    result = getattr(cr.tensor(x), name)(dim, keepdim)
    expected = getattr(np, name)(x, axis=dim, keepdims=keepdim)
    assert_same_as_numpy(result, expected, exact=False)


@PROPERTY
@given(name=st.sampled_from(["sum", "mean"]), shape_dim=shape_and_dims(), keepdim=st.booleans(),
       data=st.data())
def test_sum_and_mean_backward(name, shape_dim, keepdim, data):
    shape, dim = shape_dim
    x = array(data, shape)
    assert_backward_matches_finite_differences(lambda t: getattr(t, name)(dim, keepdim), [x], data)


@st.composite
def distinct_values(draw, shape):
    """An array whose elements are all at least 0.4 apart, so max has one winner and finite
    differences cannot move it."""
    size = int(np.prod(shape))
    order = draw(st.permutations(range(size)))
    jitter = draw(hnp.arrays(np.float64, size, elements=st.floats(0, 0.1)))
    return ((np.asarray(order, dtype=np.float64) * 0.5 - size / 4 + jitter)).reshape(shape)


@PROPERTY
@given(shape_dim=shape_and_dims(), keepdim=st.booleans(), dtype=dtypes, data=st.data())
def test_max_forward(shape_dim, keepdim, dtype, data):
    shape, dims = shape_dim
    dim = None if dims is None else (dims if isinstance(dims, int) else dims[0])
    x = array(data, shape, dtype=dtype)
    t = cr.tensor(x)
    if dim is None:
        assert_same_as_numpy(t.max(), np.max(x))
    else:
        values, indices = t.max(dim, keepdim)
        assert_same_as_numpy(values, np.max(x, axis=dim, keepdims=keepdim))
        np.testing.assert_array_equal(indices.numpy(), np.argmax(x, axis=dim, keepdims=keepdim))


@PROPERTY
@given(shape_dim=shape_and_dims(), keepdim=st.booleans(), data=st.data())
def test_max_backward_with_a_unique_maximum(shape_dim, keepdim, data):
    shape, dims = shape_dim
    dim = None if dims is None else (dims if isinstance(dims, int) else dims[0])
    x = data.draw(distinct_values(shape))
    fn = (lambda t: t.max()) if dim is None else (lambda t: t.max(dim, keepdim)[0])
    assert_backward_matches_finite_differences(fn, [x], data)


def test_max_gradient_is_shared_between_ties():
    x = cr.tensor(np.array([1.0, 3.0, 3.0, 2.0]), requires_grad=True)
    x.max().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.5, 0.5, 0.0])


# ----- matmul --------------------------------------------------------------------------------------


@st.composite
def matmul_shapes(draw):
    """Shapes (a, b) that np.matmul accepts: 1-D vectors, matrices and broadcast batches."""
    batch_a, batch_b = draw(hnp.mutually_broadcastable_shapes(
        num_shapes=2, min_dims=0, max_dims=2, max_side=3)).input_shapes
    n, k, m = draw(st.integers(1, 4)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    a_vector = not batch_a and draw(st.booleans())
    b_vector = not batch_b and draw(st.booleans())
    shape_a = (k,) if a_vector else batch_a + (n, k)
    shape_b = (k,) if b_vector else batch_b + (k, m)
    return shape_a, shape_b


@PROPERTY
@given(shapes=matmul_shapes(), dtype=dtypes, data=st.data())
def test_matmul_forward(shapes, dtype, data):
    a, b = (array(data, shape, dtype=dtype) for shape in shapes)
    assert_same_as_numpy(cr.tensor(a) @ cr.tensor(b), np.matmul(a, b), exact=False)


@PROPERTY
@given(shapes=matmul_shapes(), data=st.data())
def test_matmul_backward(shapes, data):
    a, b = (array(data, shape) for shape in shapes)
    assert_backward_matches_finite_differences(operator.matmul, [a, b], data)


# ----- shape ops -----------------------------------------------------------------------------------


@st.composite
def reshapes(draw):
    """A shape and another with the same number of elements (dims regrouped, 1s added, a -1)."""
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=4, min_side=1, max_side=4))
    dims = list(draw(st.permutations(shape)))
    if len(dims) >= 2 and draw(st.booleans()):  # merge two neighbours
        i = draw(st.integers(0, len(dims) - 2))
        dims[i:i + 2] = [dims[i] * dims[i + 1]]
    for _ in range(draw(st.integers(0, 2))):  # insert size-1 dims
        dims.insert(draw(st.integers(0, len(dims))), 1)
    if dims and draw(st.booleans()):
        dims[draw(st.integers(0, len(dims) - 1))] = -1
    return shape, tuple(dims)


@PROPERTY
@given(shapes=reshapes(), data=st.data())
def test_reshape(shapes, data):
    shape, target = shapes
    x = array(data, shape)
    assert_same_as_numpy(cr.tensor(x).reshape(target), np.reshape(x, target))
    assert_backward_matches_finite_differences(lambda t: t.reshape(target), [x], data)


@st.composite
def shape_and_two_dims(draw):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=4))
    ndim = len(shape)
    return shape, draw(st.integers(-ndim, ndim - 1)), draw(st.integers(-ndim, ndim - 1))


@PROPERTY
@given(shape_dims=shape_and_two_dims(), data=st.data())
def test_transpose(shape_dims, data):
    shape, dim0, dim1 = shape_dims
    x = array(data, shape)
    assert_same_as_numpy(cr.tensor(x).transpose(dim0, dim1), np.swapaxes(x, dim0, dim1))
    assert_backward_matches_finite_differences(lambda t: t.transpose(dim0, dim1), [x], data)


@PROPERTY
@given(shape=small_shapes, data=st.data())
def test_permute_and_T(shape, data):
    dims = tuple(data.draw(st.permutations(range(len(shape)))))
    x = array(data, shape)
    assert_same_as_numpy(cr.tensor(x).permute(*dims), np.transpose(x, dims))
    assert_same_as_numpy(cr.tensor(x).T, x.T)
    assert_backward_matches_finite_differences(lambda t: t.permute(*dims), [x], data)


@PROPERTY
@given(shape=hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4), data=st.data())
def test_getitem_basic_indices(shape, data):
    index = data.draw(hnp.basic_indices(shape, allow_newaxis=True, allow_ellipsis=True))
    x = array(data, shape)
    assert_same_as_numpy(cr.tensor(x)[index], np.asarray(x[index]))
    assert_backward_matches_finite_differences(lambda t: t[index], [x], data)


@PROPERTY
@given(shape=hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4), data=st.data())
def test_getitem_integer_arrays_accumulate_repeats(shape, data):
    index = data.draw(hnp.integer_array_indices(
        shape, result_shape=hnp.array_shapes(min_dims=1, max_dims=2, max_side=5)))
    x = array(data, shape)
    assert_same_as_numpy(cr.tensor(x)[index], x[index])
    assert_backward_matches_finite_differences(lambda t: t[index], [x], data)


@PROPERTY
@given(shape=hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4), data=st.data())
def test_getitem_boolean_mask(shape, data):
    mask = data.draw(hnp.arrays(np.bool_, shape))
    x = array(data, shape)
    assert_same_as_numpy(cr.tensor(x)[mask], x[mask])
    assert_backward_matches_finite_differences(lambda t: t[mask], [x], data)


# ----- compositions --------------------------------------------------------------------------------


@PROPERTY
@given(shapes=pair_shapes, data=st.data())
def test_a_composed_expression_with_shared_inputs(shapes, data):
    """Gradients flowing to the same input along several paths are added (a used three times)."""
    shape_a, shape_b = shapes.input_shapes
    a = array(data, shape_a, -2, 2)
    b = array(data, shape_b, -2, 2)

    def fn(a, b):
        return (a * b).tanh() + (a - b).sigmoid() * a.exp() / (1 + a * a)

    assert_backward_matches_finite_differences(fn, [a, b], data)


@PROPERTY
@given(name=st.sampled_from(sorted(BINARY)), shapes=pair_shapes, dtype=dtypes, data=st.data())
def test_gradients_keep_each_inputs_dtype_and_shape(name, shapes, dtype, data):
    op, _, domain_a, domain_b = BINARY[name]
    shape_a, shape_b = shapes.input_shapes
    a = cr.tensor(array(data, shape_a, *domain_a[:2], dtype=dtype, away_from_zero=domain_a[2]),
                  requires_grad=True)
    b = cr.tensor(array(data, shape_b, *domain_b[:2], dtype=dtype, away_from_zero=domain_b[2]),
                  requires_grad=True)
    out = op(a, b).tanh().sum()
    assert out.dtype == dtype
    out.backward()
    for x in (a, b):
        assert x.grad.dtype == dtype and x.grad.shape == x.shape
        assert np.isfinite(x.grad.numpy()).all()
