"""The engine's higher-order API against PyTorch: autograd.grad (several outputs and inputs,
grad_outputs, allow_unused, materialize_grads, retain_graph), backward(create_graph=True,
inputs=...), register_hook and retain_grad under create_graph, a custom Function to second order,
and every error sentence.

Functions here use +, -, * and sum, which are twice differentiable; values are float64 and must
equal PyTorch's to rtol 1e-9.
"""

import numpy as np
import pytest

import chainrule
from chainrule.autograd import Function, grad

torch = pytest.importorskip("torch")
# PyTorch warns that backward(create_graph=True) makes a parameter/.grad reference cycle: known
pytestmark = pytest.mark.filterwarnings("ignore:Using backward.. with create_graph=True:UserWarning")

RNG = np.random.default_rng(41)


def both(*shapes, requires_grad=True):
    arrays = [RNG.standard_normal(s) for s in shapes]
    return ([chainrule.tensor(a, requires_grad=requires_grad) for a in arrays],
            [torch.tensor(a, requires_grad=requires_grad) for a in arrays])


def close(ours, theirs):
    assert ours is not None and theirs is not None
    assert ours.shape == tuple(theirs.shape)
    np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=1e-9, atol=1e-12)


# ------------------------------------------------------------------------------------------------
# grad
# ------------------------------------------------------------------------------------------------

def two_outputs(x, y):
    return (x * x * y).sum(), x * y + y * y * y


def test_grad_of_several_outputs_with_respect_to_several_inputs():
    (x, y), (tx, ty) = both((3,), (3,))
    a, b = two_outputs(x, y)
    ta, tb = two_outputs(tx, ty)
    (v,), (tv,) = both((3,), requires_grad=False)
    ours = grad([a, b], [x, y], grad_outputs=[None, v])
    theirs = torch.autograd.grad([ta, tb], [tx, ty], grad_outputs=[None, tv])
    assert isinstance(ours, tuple) and len(ours) == 2
    for o, t in zip(ours, theirs):
        close(o, t)
        assert not o.requires_grad
    assert x.grad is None and y.grad is None  # grad touches no .grad


def test_grad_outputs_may_be_arrays_lists_or_a_single_tensor():
    (x,), (tx,) = both((2,))
    (g,) = grad(x * x, x, grad_outputs=chainrule.tensor([1.0, -2.0], dtype="float64"))
    (tg,) = torch.autograd.grad(tx * tx, tx, grad_outputs=torch.tensor([1.0, -2.0],
                                                                       dtype=torch.float64))
    close(g, tg)
    (g2,) = grad(x * x, x, grad_outputs=[np.array([1.0, -2.0])])
    close(g2, tg)


def test_second_and_third_derivatives_equal_torch():
    (x,), (tx,) = both((4,))
    (d1,) = grad((x * x * x).sum(), x, create_graph=True)
    (t1,) = torch.autograd.grad((tx * tx * tx).sum(), tx, create_graph=True)
    close(d1, t1)
    assert d1.requires_grad and d1.grad_fn is not None
    (d2,) = grad(d1.sum(), x, create_graph=True)
    (t2,) = torch.autograd.grad(t1.sum(), tx, create_graph=True)
    close(d2, t2)  # 6x
    (d3,) = grad(d2.sum(), x)
    (t3,) = torch.autograd.grad(t2.sum(), tx)
    close(d3, t3)  # 6
    np.testing.assert_allclose(d3.numpy(), 6.0)


def test_mixed_second_derivatives_with_random_weights_equal_torch():
    (x, y), (tx, ty) = both((2, 3), (3,))
    (w,), (tw,) = both((2, 3), requires_grad=False)
    gx, gy = grad((x * y * y - x * x).sum(), [x, y], create_graph=True)
    tgx, tgy = torch.autograd.grad((tx * ty * ty - tx * tx).sum(), [tx, ty], create_graph=True)
    ours = grad((gx * w).sum() + (gy * gy).sum(), [x, y])
    theirs = torch.autograd.grad((tgx * tw).sum() + (tgy * tgy).sum(), [tx, ty])
    for o, t in zip(ours, theirs):
        close(o, t)


def test_allow_unused_gives_none_and_materialize_grads_gives_zeros():
    (x, y), (tx, ty) = both((3,), (2,))
    gx, gy = grad((x * x).sum(), [x, y], allow_unused=True)
    tgx, tgy = torch.autograd.grad((tx * tx).sum(), [tx, ty], allow_unused=True)
    close(gx, tgx)
    assert gy is None and tgy is None
    gx, gy = grad((x * x).sum(), [x, y], materialize_grads=True)
    tgx, tgy = torch.autograd.grad((tx * tx).sum(), [tx, ty], materialize_grads=True)
    close(gy, tgy)
    np.testing.assert_array_equal(gy.numpy(), np.zeros(2))
    with pytest.raises(ValueError, match="materialize_grads=True needs allow_unused to be True or "
                                         "left out"):
        grad((x * x).sum(), [x, y], allow_unused=False, materialize_grads=True)


def test_retain_graph_defaults_to_create_graph():
    (x,), _ = both((3,))
    out = (x * x).sum()
    grad(out, x)  # create_graph False: the graph is freed
    with pytest.raises(RuntimeError, match="backward: the graph through Sum was already freed by an "
                                           "earlier backward"):
        grad(out, x)
    out = (x * x).sum()
    grad(out, x, create_graph=True)  # retained by default
    (again,) = grad(out, x)
    np.testing.assert_allclose(again.numpy(), 2 * x.numpy())
    out = (x * x).sum()
    grad(out, x, retain_graph=True)
    grad(out, x)


def test_grad_is_not_accumulated_into_leaves_even_with_create_graph():
    (x,), _ = both((3,))
    grad((x * x).sum(), x, create_graph=True)
    assert x.grad is None


# ------------------------------------------------------------------------------------------------
# backward(create_graph=True, inputs=...)
# ------------------------------------------------------------------------------------------------

def test_backward_with_create_graph_leaves_a_grad_that_can_be_differentiated():
    (x,), (tx,) = both((3,))
    (x * x * x).sum().backward(create_graph=True)
    (tx * tx * tx).sum().backward(create_graph=True)
    close(x.grad, tx.grad)
    assert x.grad.requires_grad and x.grad.grad_fn is not None
    (second,) = grad(x.grad.sum(), x)
    (tsecond,) = torch.autograd.grad(tx.grad.sum(), tx)
    close(second, tsecond)


def test_backward_with_create_graph_accumulates_out_of_place_into_a_graph():
    (x,), (tx,) = both((2,))
    (x * x).sum().backward(create_graph=True)
    (x * x * x).sum().backward(create_graph=True)
    (tx * tx).sum().backward(create_graph=True)
    (tx * tx * tx).sum().backward(create_graph=True)
    close(x.grad, tx.grad)  # 2x + 3x^2
    (d,) = grad(x.grad.sum(), x)
    (td,) = torch.autograd.grad(tx.grad.sum(), tx)
    close(d, td)  # 2 + 6x


def test_backward_retains_the_graph_under_create_graph():
    (x,), _ = both((2,))
    out = (x * x).sum()
    out.backward(create_graph=True)
    out.backward()  # still there: retain_graph defaulted to True; this one frees it
    with pytest.raises(RuntimeError, match="already freed"):
        out.backward()


def test_backward_inputs_accumulates_only_into_those():
    (x, y), (tx, ty) = both((3,), (3,))
    (x * y * y).sum().backward(inputs=[y])
    (tx * ty * ty).sum().backward(inputs=[ty])
    assert x.grad is None and tx.grad is None
    close(y.grad, ty.grad)
    (x2,), _ = both((3,))
    mid = x2 * x2
    (mid * x2).sum().backward(inputs=[mid])  # a non-leaf named in inputs gets its .grad
    np.testing.assert_allclose(mid.grad.numpy(), x2.numpy())
    assert x2.grad is None
    with pytest.raises(RuntimeError, match="backward: 'inputs' is empty"):
        (x * x).sum().backward(inputs=[])
    with pytest.raises(RuntimeError, match=r"backward: inputs\[0\] must be a tensor that requires "
                                           r"grad"):
        (x * x).sum().backward(inputs=[chainrule.tensor([1.0])])


# ------------------------------------------------------------------------------------------------
# Hooks and retain_grad
# ------------------------------------------------------------------------------------------------

def test_a_hook_can_replace_a_leaf_gradient_and_be_removed():
    (x,), (tx,) = both((3,))
    handle = x.register_hook(lambda g: g * 3.0)
    thandle = tx.register_hook(lambda g: g * 3.0)
    (x * x).sum().backward()
    (tx * tx).sum().backward()
    close(x.grad, tx.grad)  # 3 * 2x
    handle.remove()
    thandle.remove()
    x.grad = None
    tx.grad = None
    (x * x).sum().backward()
    (tx * tx).sum().backward()
    close(x.grad, tx.grad)  # 2x again
    np.testing.assert_allclose(x.grad.numpy(), 2 * x.numpy())


def test_a_hook_on_a_non_leaf_changes_what_flows_further_and_sees_the_gradient():
    (x,), (tx,) = both((3,))
    seen, tseen = [], []
    mid, tmid = x * x, tx * tx
    mid.register_hook(lambda g: seen.append(g.numpy().copy()))
    tmid.register_hook(lambda g: tseen.append(g.numpy().copy()))
    mid.register_hook(lambda g: -g)
    tmid.register_hook(lambda g: -g)
    (mid * x).sum().backward()
    (tmid * tx).sum().backward()
    np.testing.assert_allclose(seen[0], tseen[0])
    close(x.grad, tx.grad)  # x^2 (direct) - 2x * x (through the negated mid)


def test_hooks_run_under_create_graph_and_their_result_stays_in_the_graph():
    (x,), (tx,) = both((3,))
    x.register_hook(lambda g: g * g)
    tx.register_hook(lambda g: g * g)
    (x * x * x).sum().backward(create_graph=True)
    (tx * tx * tx).sum().backward(create_graph=True)
    close(x.grad, tx.grad)  # (3x^2)^2
    assert x.grad.grad_fn is not None
    (d,) = grad(x.grad.sum(), x)
    (td,) = torch.autograd.grad(tx.grad.sum(), tx)
    close(d, td)  # 36 x^3


def test_a_leaf_hook_sees_the_whole_gradient_once_not_each_part():
    """x * x * x sends x three parts of its gradient; the hook runs once, on their sum 3x^2, as in
    PyTorch (so a hook that squares gives (3x^2)^2, not 3 (x^2)^2)."""
    for create_graph in (False, True):
        (x,), (tx,) = both((3,))
        calls, tcalls = [], []
        x.register_hook(lambda g, calls=calls: calls.append(1) or g * g)
        tx.register_hook(lambda g, calls=tcalls: calls.append(1) or g * g)
        (x * x * x).sum().backward(create_graph=create_graph)
        (tx * tx * tx).sum().backward(create_graph=create_graph)
        close(x.grad, tx.grad)
        assert len(calls) == len(tcalls) == 1
        (g,) = grad((x * x * x).sum(), x)  # grad runs the hook too, and touches no .grad
        (tg,) = torch.autograd.grad((tx * tx * tx).sum(), tx)
        close(g, tg)


def test_hook_errors():
    (x,), _ = both((2,))
    with pytest.raises(TypeError, match="register_hook: the hook must be callable. Got int"):
        x.register_hook(3)
    with pytest.raises(RuntimeError, match="register_hook: this tensor does not require grad"):
        chainrule.tensor([1.0]).register_hook(lambda g: g)
    x.register_hook(lambda g: 1.0)
    with pytest.raises(TypeError, match="a gradient hook must return a Tensor or None. Got float"):
        (x * x).sum().backward()
    (y,), _ = both((2,))
    y.register_hook(lambda g: g.sum())
    with pytest.raises(RuntimeError, match=r"a gradient hook returned shape \(\) for a gradient of "
                                           r"shape \(2,\)"):
        (y * y).sum().backward()


def test_retain_grad_under_create_graph_keeps_a_differentiable_grad():
    (x,), (tx,) = both((3,))
    mid, tmid = x * x, tx * tx
    mid.retain_grad()
    tmid.retain_grad()
    (mid * mid * x).sum().backward(create_graph=True)
    (tmid * tmid * tx).sum().backward(create_graph=True)
    close(mid.grad, tmid.grad)  # 2 mid x
    assert mid.grad.grad_fn is not None
    (d,) = grad(mid.grad.sum(), x)
    (td,) = torch.autograd.grad(tmid.grad.sum(), tx)
    close(d, td)


# ------------------------------------------------------------------------------------------------
# Custom Functions
# ------------------------------------------------------------------------------------------------

class Cube(Function):
    """forward: y = x^3      backward: dL/dx = dL/dy * 3x^2      (NumPy only: once differentiable)"""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x ** 3

    @staticmethod
    def backward(ctx, grad_y):
        (x,) = ctx.saved_tensors
        return grad_y * 3 * x * x


class TwiceCube(Cube):
    """The same, plus backward_graph: the formula on Tensors, so differentiable to any order."""

    @staticmethod
    def backward_graph(ctx, grad_y):
        (x,) = ctx.saved_tensors
        return grad_y * 3 * x * x


class Double(Function):
    """forward: y = 2x       backward: dL/dx = 2 dL/dy       (saves nothing)"""

    @staticmethod
    def forward(ctx, x):
        return 2 * x

    @staticmethod
    def backward(ctx, grad_y):
        return 2 * grad_y


def test_a_function_without_backward_graph_is_refused_under_create_graph_with_the_fix():
    (x,), _ = both((3,))
    with pytest.raises(RuntimeError, match=r"Cube.backward is written on NumPy arrays, so it can be "
                                           r"differentiated only once.*Give Cube a "
                                           r"backward_graph\(ctx, grad\).*docs/higher_order.md"):
        grad(Cube.apply(x).sum(), x, create_graph=True)
    with pytest.raises(RuntimeError, match="Cube.backward is written on NumPy arrays"):
        Cube.apply(x).sum().backward(create_graph=True)
    # first order is untouched
    Cube.apply(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 3 * x.numpy() ** 2)


def test_a_function_whose_backward_depends_on_nothing_that_requires_grad_is_allowed():
    """Double saves nothing and gets a constant gradient: its NumPy backward is exact as a constant,
    so create_graph does not need its backward_graph."""
    (x,), _ = both((3,))
    (g,) = grad(Double.apply(x).sum(), x, create_graph=True)
    np.testing.assert_allclose(g.numpy(), 2.0)
    assert not g.requires_grad


def test_a_custom_function_with_backward_graph_works_to_second_and_third_order():
    (x,), (tx,) = both((4,))
    (d1,) = grad(TwiceCube.apply(x).sum(), x, create_graph=True)
    (d2,) = grad(d1.sum(), x, create_graph=True)
    (d3,) = grad(d2.sum(), x)
    (t1,) = torch.autograd.grad((tx ** 3).sum(), tx, create_graph=True)
    (t2,) = torch.autograd.grad(t1.sum(), tx, create_graph=True)
    (t3,) = torch.autograd.grad(t2.sum(), tx)
    close(d1, t1)
    close(d2, t2)
    close(d3, t3)
    assert chainrule.autograd.gradgradcheck(TwiceCube.apply, (x,))


# ------------------------------------------------------------------------------------------------
# Error sentences
# ------------------------------------------------------------------------------------------------

def test_grad_of_an_output_that_does_not_require_grad():
    (x,), (tx,) = both((2,))
    c = chainrule.tensor([1.0, 2.0], dtype="float64").sum()
    with pytest.raises(RuntimeError):
        torch.autograd.grad(torch.ones(2).sum(), tx)
    with pytest.raises(RuntimeError, match=r"grad: output 0 \(shape \(\)\) does not require grad: "
                                           r"no input of its computation had requires_grad=True"):
        grad(c, x)
    with pytest.raises(RuntimeError, match=r"backward\(\) on a tensor of shape \(\) that does not "
                                           r"require grad"):
        c.backward()


def test_grad_with_respect_to_an_input_not_in_the_graph():
    (x, y), (tx, ty) = both((2,), (3,))
    with pytest.raises(RuntimeError):
        torch.autograd.grad((tx * tx).sum(), [tx, ty])
    with pytest.raises(RuntimeError, match=r"grad: inputs\[1\] \(shape \(3,\)\) was not used to "
                                           r"compute the outputs.*Pass allow_unused=True"):
        grad((x * x).sum(), [x, y])
    with pytest.raises(RuntimeError, match=r"grad: inputs\[0\] \(shape \(2,\)\) does not require "
                                           r"grad"):
        grad((x * x).sum(), [chainrule.tensor([1.0, 2.0])])


def test_non_scalar_output_without_grad_outputs():
    (x,), (tx,) = both((2,))
    with pytest.raises(RuntimeError):
        torch.autograd.grad(tx * tx, tx)
    with pytest.raises(RuntimeError, match=r"grad: output 0 has shape \(2,\), so it needs an "
                                           r"explicit gradient \(grad_outputs\)"):
        grad(x * x, x)
    with pytest.raises(RuntimeError, match=r"backward: output 0 has shape \(2,\), so it needs an "
                                           r"explicit gradient"):
        (x * x).backward(create_graph=True)
    with pytest.raises(RuntimeError, match=r"backward\(\) on a tensor of shape \(2,\) needs an "
                                           r"explicit gradient"):
        (x * x).backward()


def test_mismatched_grad_outputs():
    (x,), (tx,) = both((2,))
    with pytest.raises(RuntimeError):
        torch.autograd.grad(tx * tx, tx, grad_outputs=torch.ones(3, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"grad: grad_outputs\[0\] has shape \(3,\), but output 0 "
                                         r"has shape \(2,\): they must be equal"):
        grad(x * x, x, grad_outputs=chainrule.tensor([1.0, 1.0, 1.0]))
    with pytest.raises(ValueError, match=r"grad: grad_outputs\[0\] has shape \(3,\)"):
        grad(x * x, x, grad_outputs=[np.ones(3)])
    with pytest.raises(ValueError, match="grad: got 2 grad_outputs for 1 outputs"):
        grad(x * x, x, grad_outputs=[np.ones(2), np.ones(2)])
    with pytest.raises(ValueError, match=r"backward: the gradient has shape \(3,\), but the tensor "
                                         r"has shape \(2,\)"):
        (x * x).backward(np.ones(3))


def test_a_second_backward_through_a_freed_graph():
    (x,), (tx,) = both((2,))
    out, tout = (x * x).sum(), (tx * tx).sum()
    out.backward()
    tout.backward()
    with pytest.raises(RuntimeError):
        tout.backward()
    with pytest.raises(RuntimeError, match=r"backward: the graph through Sum was already freed by "
                                           r"an earlier backward\(\). Pass retain_graph=True"):
        out.backward()


def test_grad_refuses_what_it_does_not_support_by_name():
    (x,), _ = both((2,))
    with pytest.raises(ValueError, match="grad: is_grads_batched=True is not supported"):
        grad((x * x).sum(), x, is_grads_batched=True)
    with pytest.raises(ValueError, match="grad: inputs is empty"):
        grad((x * x).sum(), [])
    with pytest.raises(TypeError, match=r"grad: inputs\[0\] must be a Tensor. Got float"):
        grad((x * x).sum(), [1.0])
