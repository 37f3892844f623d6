"""gradcheck catches wrong derivatives, and says which input and element are wrong.

The built-in ops all pass gradcheck in tests/test_ops.py. Here: deliberately wrong backwards (each a
Function with ``known_wrong = True``) must all FAIL, including one that a check through
sum(outputs) passes, and the seed network's layer with the seed's derivative is caught with a message
that points at the weight and bias gradients.
"""

import sys

import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd import Function
from chainrule.gradcheck import GradcheckError, check_gradients, check_module_gradients
from chainrule.handwritten import SeedSigmoidLayer, SigmoidLayer


def _t(array, requires_grad=True):
    return cr.tensor(np.asarray(array, dtype=np.float64), requires_grad=requires_grad)


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


# ---------------------------------------------------------------------------------------------
# Deliberately wrong backwards
# ---------------------------------------------------------------------------------------------


class SignFlippedExp(Function):
    """forward: y = exp(x)      backward (WRONG sign): dL/dx = -dL/dy * y"""

    known_wrong = True

    @staticmethod
    def forward(ctx, x):
        y = np.exp(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad_y):
        (y,) = ctx.saved_tensors
        return -grad_y * y


class TransposedMatMul(Function):
    """forward: Y = A @ B       backward (WRONG: B instead of Bᵀ): dL/dA = dL/dY @ B"""

    known_wrong = True

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a @ b

    @staticmethod
    def backward(ctx, grad_y):
        a, b = ctx.saved_tensors
        return grad_y @ b, a.T @ grad_y  # shapes fit for square B, which hides the mistake


class SeedMatrixProductSigmoid(Function):
    """forward: y = sigmoid(x)  backward (WRONG, the seed's): dL/dx = dL/dy @ (yᵀ (1 - y))"""

    known_wrong = True

    @staticmethod
    def forward(ctx, x):
        y = _sigmoid(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad_y):
        (y,) = ctx.saved_tensors
        return grad_y @ (y.T @ (1 - y))  # (N, k) @ (k, k): the shape fits, the math does not


class BiasGradientAveraged(Function):
    """forward: y = x + b (b broadcast over rows)
    backward (WRONG, the seed's): dL/db = mean over rows of dL/dy (the batch sum is right)"""

    known_wrong = True

    @staticmethod
    def forward(ctx, x, b):
        return x + b

    @staticmethod
    def backward(ctx, grad_y):
        return grad_y, grad_y.mean(axis=0)


class BiasGradientFirstRow(Function):
    """forward: y = x + b (b broadcast over rows)
    backward (WRONG, broadcasting not undone): dL/db = dL/dy of the first row only"""

    known_wrong = True

    @staticmethod
    def forward(ctx, x, b):
        return x + b

    @staticmethod
    def backward(ctx, grad_y):
        return grad_y, grad_y[0]


class DiagonalOnlySoftmax(Function):
    """forward: softmax along dim 1
    backward (WRONG, the Jacobian's diagonal only): dL/dx = dL/dy * y * (1 - y)"""

    known_wrong = True

    @staticmethod
    def forward(ctx, x):
        e = np.exp(x - x.max(axis=1, keepdims=True))
        y = e / e.sum(axis=1, keepdims=True)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad_y):
        (y,) = ctx.saved_tensors
        return grad_y * y * (1 - y)


class MeanCentredSoftmax(Function):
    """forward: softmax along dim 1
    backward (WRONG: the plain mean of dL/dy where the y-weighted sum belongs):
        dL/dx_i = y_i * (dL/dy_i - mean_j dL/dy_j)
    right is  dL/dx_i = y_i * (dL/dy_i - sum_j dL/dy_j y_j). For dL/dy = all ones both give 0,
    which is also the true gradient of sum(softmax(x)) = 1: a sum-based check cannot tell."""

    known_wrong = True

    @staticmethod
    def forward(ctx, x):
        e = np.exp(x - x.max(axis=1, keepdims=True))
        y = e / e.sum(axis=1, keepdims=True)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad_y):
        (y,) = ctx.saved_tensors
        return y * (grad_y - grad_y.mean(axis=1, keepdims=True))


class DoubleWithOneWrongEntry(Function):
    """forward: y = 2x (1-D)    backward (WRONG at element 1 only): dL/dx = dL/dy * 2, but 3 at [1]"""

    known_wrong = True

    @staticmethod
    def forward(ctx, x):
        return 2 * x

    @staticmethod
    def backward(ctx, grad_y):
        slope = np.full_like(grad_y, 2.0)
        slope[1] = 3.0
        return grad_y * slope


def _inputs(rng, *shapes):
    return [_t(rng.standard_normal(s)) for s in shapes]


WRONG = [
    (SignFlippedExp, lambda rng: _inputs(rng, (3, 4))),
    (TransposedMatMul, lambda rng: _inputs(rng, (2, 3), (3, 3))),
    (SeedMatrixProductSigmoid, lambda rng: _inputs(rng, (4, 3))),
    (BiasGradientAveraged, lambda rng: _inputs(rng, (4, 3), (3,))),
    (BiasGradientFirstRow, lambda rng: _inputs(rng, (4, 3), (3,))),
    (DiagonalOnlySoftmax, lambda rng: _inputs(rng, (3, 4))),
    (MeanCentredSoftmax, lambda rng: _inputs(rng, (3, 4))),
    (DoubleWithOneWrongEntry, lambda rng: _inputs(rng, (3,))),
]


@pytest.mark.parametrize("op, make_inputs", WRONG, ids=[op.__name__ for op, _ in WRONG])
def test_gradcheck_fails_every_known_wrong_backward(op, make_inputs, rng):
    inputs = make_inputs(rng)
    with pytest.raises(GradcheckError, match=r"gradcheck: the gradient"):
        cr.gradcheck(op.apply, inputs)
    assert cr.gradcheck(op.apply, inputs, raise_exception=False) is False


def test_every_known_wrong_function_in_this_file_is_checked():
    module = sys.modules[__name__]
    defined = {
        value for value in vars(module).values()
        if isinstance(value, type) and issubclass(value, Function) and getattr(value, "known_wrong", False)
        and value.__module__ == __name__
    }
    assert defined == {op for op, _ in WRONG}


def _sum_based_check(fn, x, eps=1e-6, atol=1e-5, rtol=1e-3) -> bool:
    """The weak check: backward of sum(fn(x)) (upstream gradient all ones) against finite
    differences of sum(fn(x)). It only sees the Jacobian's column sums."""
    x.grad = None
    fn(x).sum().backward()
    analytical = x.grad.numpy().copy()
    flat = x.numpy().reshape(-1)
    numerical = np.empty_like(flat)
    with cr.no_grad():
        for i in range(flat.size):
            original = flat[i]
            flat[i] = original + eps
            plus = float(fn(x).sum().item())
            flat[i] = original - eps
            minus = float(fn(x).sum().item())
            flat[i] = original
            numerical[i] = (plus - minus) / (2 * eps)
    return bool(np.allclose(analytical.reshape(-1), numerical, atol=atol, rtol=rtol))


def test_a_sum_based_check_passes_a_wrong_softmax_that_the_full_jacobian_catches(rng):
    x = _t(rng.standard_normal((3, 4)))
    assert _sum_based_check(MeanCentredSoftmax.apply, x)  # fooled: both sides are 0
    result = check_gradients(MeanCentredSoftmax.apply, (x,))
    assert not result.ok
    assert result.mismatches[0].bad_entries > 0
    # The right softmax passes both, so the sum check is not simply broken.
    assert _sum_based_check(lambda t: t.softmax(1), x)
    assert cr.gradcheck(lambda t: t.softmax(1), (x,))


def test_the_sum_based_check_does_catch_the_diagonal_only_softmax(rng):
    # dL/dy = 1 gives y (1 - y) != 0 here, so even the weak check sees this one.
    x = _t(rng.standard_normal((3, 4)))
    assert not _sum_based_check(DiagonalOnlySoftmax.apply, x)


# ---------------------------------------------------------------------------------------------
# The worked example: the seed network's hidden layer
# ---------------------------------------------------------------------------------------------


def _seed_layer_inputs(rng, x_requires_grad=False):
    x = _t(rng.standard_normal((5, 2)), requires_grad=x_requires_grad)
    w = _t(rng.uniform(-1, 1, (10, 2)))
    b = _t(rng.uniform(-1, 1, (10,)))
    return x, w, b


def test_the_right_hand_written_sigmoid_layer_passes(rng):
    assert cr.gradcheck(SigmoidLayer.apply, _seed_layer_inputs(rng, x_requires_grad=True))


def test_the_seed_layer_fails_with_a_message_pointing_at_weight_and_bias(rng):
    x, w, b = _seed_layer_inputs(rng)
    with pytest.raises(GradcheckError) as info:
        cr.gradcheck(SeedSigmoidLayer.apply, (x, w, b))
    message = str(info.value)
    assert "the gradients of 2 inputs are wrong" in message
    assert "input 1 (shape (10, 2))" in message  # the weight
    assert "input 2 (shape (10,))" in message  # the bias
    assert "input 0" not in message  # x is data here
    result = check_gradients(SeedSigmoidLayer.apply, (x, w, b))
    assert [m.index for m in result.mismatches] == [1, 2]
    assert result.mismatches[0].bad_entries == result.mismatches[0].entries  # every weight entry


def test_the_seed_layer_is_also_wrong_for_the_input_gradient(rng):
    result = check_gradients(SeedSigmoidLayer.apply, _seed_layer_inputs(rng, x_requires_grad=True))
    assert [m.name for m in result.mismatches] == ["input 0", "input 1", "input 2"]


# ---------------------------------------------------------------------------------------------
# The message, element by element
# ---------------------------------------------------------------------------------------------


def test_message_names_input_element_both_values_and_the_difference(rng):
    x = _t(rng.standard_normal(3))
    with pytest.raises(
        GradcheckError,
        match=r"gradient of input 0 \(shape \(3,\)\) is wrong at element \(1,\) for output element "
        r"\(1,\): numerical 2, analytical 3 \(max difference 1;",
    ):
        cr.gradcheck(DoubleWithOneWrongEntry.apply, (x,))
    result = check_gradients(DoubleWithOneWrongEntry.apply, (x,))
    (m,) = result.mismatches
    assert (m.bad_entries, m.entries) == (1, 9)
    assert m.numerical == pytest.approx(2.0, abs=1e-6) and m.analytical == 3.0


def test_each_wrong_input_is_reported_with_its_own_worst_element(rng):
    # x + b with b's gradient averaged: only b is wrong; x (input 0) must not be blamed.
    x, b = _inputs(rng, (4, 3), (3,))
    result = check_gradients(BiasGradientAveraged.apply, (x, b))
    assert [m.name for m in result.mismatches] == ["input 1"]
    (m,) = result.mismatches
    # dL/db_k for output (i, k) is 1; the averaged backward says 1/4.
    assert m.numerical == pytest.approx(1.0, abs=1e-6) and m.analytical == pytest.approx(0.25)
    assert m.max_abs_error == pytest.approx(0.75, abs=1e-6)


def test_an_input_that_needs_no_grad_is_not_checked(rng):
    x, b = _inputs(rng, (4, 3), (3,))
    b.requires_grad_(False)
    assert cr.gradcheck(BiasGradientAveraged.apply, (x, b))  # x's gradient is right


def test_a_nan_gradient_fails(rng):
    class NanBackward(Function):
        known_wrong = True

        @staticmethod
        def forward(ctx, x):
            return x * 1.0

        @staticmethod
        def backward(ctx, grad_y):
            return grad_y * np.nan

    assert not cr.gradcheck(NanBackward.apply, (_t(rng.standard_normal(2)),), raise_exception=False)


def test_float32_inputs_warn(rng):
    x = cr.tensor(rng.standard_normal(3).astype(np.float32), requires_grad=True)
    with pytest.warns(UserWarning, match="input 0 is float32; finite differences need float64"):
        cr.gradcheck(lambda t: t * t, (x,), atol=1e-2, rtol=1e-2)


def test_gradcheck_leaves_existing_grads_alone(rng):
    x = _t(rng.standard_normal(3))
    (x * x).sum().backward()
    before = x.grad.numpy().copy()
    cr.gradcheck(lambda t: t.exp(), (x,))
    np.testing.assert_array_equal(x.grad.numpy(), before)


def test_bad_arguments_are_named(rng):
    x = _t(rng.standard_normal(3))
    with pytest.raises(ValueError, match="no input requires grad"):
        cr.gradcheck(lambda t: t * 2, (_t([1.0], requires_grad=False),))
    with pytest.raises(ValueError, match="'eps' must be > 0"):
        cr.gradcheck(lambda t: t * 2, (x,), eps=0)
    with pytest.raises(ValueError, match="'atol' must be a number >= 0. Got -1"):
        cr.gradcheck(lambda t: t * 2, (x,), atol=-1)
    with pytest.raises(TypeError, match="must return a Tensor. Got ndarray"):
        cr.gradcheck(lambda t: t.numpy() * 2, (x,))


def test_a_single_tensor_is_accepted_as_inputs(rng):
    assert cr.gradcheck(lambda t: t.sin(), _t(rng.standard_normal(3)))


# ---------------------------------------------------------------------------------------------
# Modules
# ---------------------------------------------------------------------------------------------


def test_gradcheck_module_passes_the_seed_network():
    model = cr.nn.Sequential(cr.nn.Linear(2, 10), cr.nn.Sigmoid(), cr.nn.Linear(10, 1)).double()
    x = _t(np.random.default_rng(1).standard_normal((4, 2)), requires_grad=False)
    assert cr.gradcheck_module(model, (x,))


class SeedHidden(cr.nn.Module):
    """The seed network with its hand-written hidden layer."""

    def __init__(self, layer_fn):
        super().__init__()
        self.hidden = cr.nn.Linear(2, 10, dtype=np.float64)
        self.out = cr.nn.Linear(10, 1, dtype=np.float64)
        self.layer_fn = layer_fn

    def forward(self, x):
        return self.out(self.layer_fn.apply(x, self.hidden.weight, self.hidden.bias))


def test_gradcheck_module_names_the_wrong_parameters():
    x = _t(np.random.default_rng(1).standard_normal((4, 2)), requires_grad=False)
    assert cr.gradcheck_module(SeedHidden(SigmoidLayer), (x,))
    result = check_module_gradients(SeedHidden(SeedSigmoidLayer), (x,))
    assert [m.name for m in result.mismatches] == ["parameter 'hidden.weight'", "parameter 'hidden.bias'"]
    with pytest.raises(GradcheckError, match=r"parameter 'hidden.weight' \(shape \(10, 2\)\)"):
        cr.gradcheck_module(SeedHidden(SeedSigmoidLayer), (x,))


def test_a_bias_gradient_left_unsummed_is_stopped_by_the_engines_shape_check(rng):
    # Returning dL/dy itself as dL/db (shape (4, 3) for a (3,) bias) never reaches the comparison:
    # the engine names the op and both shapes first.
    class BiasGradientNotSummed(Function):
        known_wrong = True

        @staticmethod
        def forward(ctx, x, b):
            return x + b

        @staticmethod
        def backward(ctx, grad_y):
            return grad_y, grad_y

    x, b = _inputs(rng, (4, 3), (3,))
    with pytest.raises(RuntimeError, match=r"BiasGradientNotSummed.backward returned a gradient of "
                                           r"shape \(4, 3\) for input 1, whose shape is \(3,\)"):
        cr.gradcheck(BiasGradientNotSummed.apply, (x, b))


def test_an_input_made_by_an_op_is_checked_like_a_leaf():
    # gradcheck(exp, x.clone()) once read the gradient from .grad, which a non-leaf never gets,
    # and reported exp as wrong (analytical 0); PyTorch passes it, and so must we.
    x = cr.tensor(np.array([1.0, 0.5, -2.0]), requires_grad=True)
    assert cr.autograd.gradcheck(lambda t: t.exp(), (x.clone(),))
    assert x.grad is None  # the check changes no .grad
