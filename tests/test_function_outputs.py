"""User Functions with several outputs, non-differentiable outputs and unmaterialized gradients,
compared with torch.autograd.Function written the same way."""

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")

X = np.array([0.3, -1.2, 2.0])


class SinCos(cr.autograd.Function):
    """forward: (s, c) = (sin x, cos x)      backward: dL/dx = dL/ds cos x - dL/dc sin x"""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.sin(x), np.cos(x)

    @staticmethod
    def backward(ctx, grad_s, grad_c):
        (x,) = ctx.saved_tensors
        return grad_s * np.cos(x) - grad_c * np.sin(x)

    @staticmethod
    def backward_graph(ctx, grad_s, grad_c):
        (x,) = ctx.saved_tensors
        return grad_s * x.cos() - grad_c * x.sin()


class TorchSinCos(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.sin(), x.cos()

    @staticmethod
    def backward(ctx, grad_s, grad_c):
        (x,) = ctx.saved_tensors
        return grad_s * x.cos() - grad_c * x.sin()


@pytest.mark.parametrize("use", [
    lambda s, c: (s * c).sum(),  # both outputs
    lambda s, c: (3 * s).sum(),  # only the first: the second's gradient is zeros
    lambda s, c: (c * c).sum() + s[0],
])
def test_several_outputs_equal_torch(use):
    x = cr.tensor(X, requires_grad=True)
    xt = torch.tensor(X, requires_grad=True)
    s, c = SinCos.apply(x)
    assert isinstance(s, cr.Tensor) and s.grad_fn is not None and repr(s.grad_fn) == "<SinCosBackward>"
    use(s, c).backward()
    use(*TorchSinCos.apply(xt)).backward()
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-12)


def test_several_outputs_are_twice_differentiable_through_backward_graph():
    x = cr.tensor(X, requires_grad=True)
    s, c = SinCos.apply(x)
    (g,) = cr.autograd.grad((s * c).sum(), x, create_graph=True)  # cos(2x)
    np.testing.assert_allclose(g.numpy(), np.cos(2 * X), rtol=1e-12)
    (h,) = cr.autograd.grad(g.sum(), x)  # -2 sin(2x)
    np.testing.assert_allclose(h.numpy(), -2 * np.sin(2 * X), rtol=1e-12)
    assert cr.autograd.gradgradcheck(lambda t: SinCos.apply(t)[0] * SinCos.apply(t)[1], (x,))


class MaxWithIndex(cr.autograd.Function):
    """forward: (m, i) = (max x, argmax x)     backward: dL/dx = dL/dm at i, 0 elsewhere"""

    @staticmethod
    def forward(ctx, x):
        index = np.asarray(np.argmax(x))
        ctx.mark_non_differentiable(index)
        ctx.set_materialize_grads(False)
        ctx.index, ctx.shape = int(index), x.shape
        return np.asarray(x[index]), index

    @staticmethod
    def backward(ctx, grad_m, grad_i):
        assert grad_i is None  # not materialized, and indices get none anyway
        grad_x = np.zeros(ctx.shape)
        if grad_m is not None:
            grad_x[ctx.index] = grad_m
        return grad_x


def test_non_differentiable_outputs_and_unmaterialized_gradients():
    x = cr.tensor(X, requires_grad=True)
    m, i = MaxWithIndex.apply(x)
    assert m.requires_grad and not i.requires_grad and i.item() == 2
    (m * 5).backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0, 5.0])


def test_needs_input_grad_says_which_inputs_need_one():
    seen = []

    class Scale(cr.autograd.Function):
        """forward: y = a * b        backward: dL/da = dL/dy * b, dL/db = dL/dy * a"""

        @staticmethod
        def forward(ctx, a, b):
            seen.append(ctx.needs_input_grad)
            ctx.save_for_backward(a, b)
            return a * b

        @staticmethod
        def backward(ctx, grad):
            a, b = ctx.saved_tensors
            return (grad * b if ctx.needs_input_grad[0] else None,
                    grad * a if ctx.needs_input_grad[1] else None)

    a = cr.tensor(X, requires_grad=True)
    Scale.apply(a, cr.tensor(X)).sum().backward()
    assert seen == [(True, False)]


def test_a_numpy_only_function_under_create_graph_says_how_to_fix_it():
    class Cube(cr.autograd.Function):
        """forward: y = x^3     backward: dL/dx = 3 x^2 dL/dy"""

        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x**3

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return 3 * x * x * grad

    x = cr.tensor(X, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"Cube\.backward is written on NumPy arrays.*backward_graph"):
        cr.autograd.grad(Cube.apply(x).sum(), x, create_graph=True)
    (g,) = cr.autograd.grad(Cube.apply(x).sum(), x)  # first order is fine
    np.testing.assert_allclose(g.numpy(), 3 * X**2)


def test_a_graph_of_ops_with_several_outputs_is_freed_without_the_cyclic_collector():
    """An op with several outputs and its outputs' Nodes point at each other; backward (without
    retain_graph) breaks that cycle, so an LSTM step's graph goes as soon as it is unused (it
    used to wait for Python's collector, raising a step's peak memory)."""
    import gc

    from chainrule.autograd.function import Node

    lstm = cr.nn.LSTM(4, 6, num_layers=2)
    x = cr.randn(5, 2, 4, requires_grad=True)

    def alive():
        return sum(1 for o in gc.get_objects() if type(o) is Node)

    gc.collect()
    before = alive()
    enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(2):
            out, state = lstm(x)
            out.sum().backward()
            del out, state
        assert alive() == before
    finally:
        if enabled:
            gc.enable()
