"""chainrule.autograd.functional against torch.autograd.functional: the same numbers (float64,
rtol 1e-9), the same return structures (a Tensor for a Tensor, tuples for tuples, tuples of tuples
for jacobian/hessian of tuples), the same strict behaviour and results detached unless
create_graph=True.

The small functions use only ops that were twice differentiable when this was written (+, -, *,
sum). The MLP tests need every op of an MLP's loss to have a backward_graph; until then they skip,
naming the ops that lack one (found at run time, so they turn on by themselves).
"""

import numpy as np
import pytest

import chainrule
from chainrule import ops
from chainrule.autograd import functional as AF
from chainrule.autograd import grad, topological_order
from chainrule.nn import functional as F

torch = pytest.importorskip("torch")
TF = torch.autograd.functional

RNG = np.random.default_rng(14)


def both(*shapes, requires_grad=False):
    """The same random float64 arrays as chainrule and as torch tensors."""
    arrays = [RNG.standard_normal(s) for s in shapes]
    ours = tuple(chainrule.tensor(a, requires_grad=requires_grad) for a in arrays)
    theirs = tuple(torch.tensor(a, requires_grad=requires_grad) for a in arrays)
    return ours, theirs


def assert_same(ours, theirs, where="result"):
    """Same nesting (tuple vs Tensor), shapes, values (rtol 1e-9) and requires_grad."""
    if isinstance(theirs, tuple):
        assert isinstance(ours, tuple), f"{where}: torch gives a tuple, chainrule {type(ours)}"
        assert len(ours) == len(theirs), f"{where}: {len(ours)} entries, torch {len(theirs)}"
        for k, (a, b) in enumerate(zip(ours, theirs)):
            assert_same(a, b, f"{where}[{k}]")
        return
    assert isinstance(ours, chainrule.Tensor), f"{where}: torch gives a Tensor, chainrule {type(ours)}"
    assert ours.shape == tuple(theirs.shape), f"{where}: shape {ours.shape}, torch {theirs.shape}"
    assert ours.dtype == np.float64
    assert ours.requires_grad == theirs.requires_grad, f"{where}: requires_grad differs"
    np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=1e-9, atol=1e-12,
                               err_msg=where)


def without_backward_graph(outputs, *more_ops):
    """Names of the ops in the graph of ``outputs`` (and of ``more_ops``) that have no
    backward_graph, so cannot be differentiated twice yet."""
    outputs = outputs if isinstance(outputs, tuple) else (outputs,)
    names = {op.name() for op in more_ops if op.backward_graph is None}
    for out in outputs:
        if out.grad_fn is not None:
            names |= {n.name for n in topological_order(out.grad_fn) if n.fn.backward_graph is None}
    return sorted(names)


def skip_unless_twice_differentiable(outputs, *more_ops):
    missing = without_backward_graph(outputs, *more_ops)
    if missing:
        pytest.skip(f"no backward_graph yet (the gradgraph branch adds them): {', '.join(missing)}")


# ------------------------------------------------------------------------------------------------
# Functions written once for both libraries (operators and .sum() only)
# ------------------------------------------------------------------------------------------------

def f_tensor_tensor(x):  # (2, 3) -> (2, 3)
    return x * x * x + (-x)


def f_tuple_tensor(x, y):  # (2, 3), (3,) -> (2, 3): broadcasting in both directions
    return x * y * y + x


def f_tensor_tuple(x):  # (3,) -> ((3,), ())
    return x * x, (x * x * x).sum()


def f_tuple_tuple(x, y):  # (3,), (2, 3) -> ((2, 3), ())
    return x * y, (x * x).sum() + (y * y * y).sum()


STRUCTURES = [
    (f_tensor_tensor, [(2, 3)], False),
    (f_tuple_tensor, [(2, 3), (3,)], True),
    (f_tensor_tuple, [(3,)], False),
    (f_tuple_tuple, [(3,), (2, 3)], True),
]
STRUCTURE_IDS = ["tensor-tensor", "tuple-tensor", "tensor-tuple", "tuple-tuple"]


def s_one(x):
    return (x * x * x).sum()


def s_two(x, y):
    return (x * x * y).sum() + (y * y * y).sum() + (x * y).sum()


SCALARS = [(s_one, [(2, 3)], False), (s_two, [(2, 3), (3,)], True)]
SCALAR_IDS = ["one-input", "two-inputs"]


def point(shapes, as_tuple, requires_grad=False):
    ours, theirs = both(*shapes, requires_grad=requires_grad)
    return (ours, theirs) if as_tuple else (ours[0], theirs[0])


def vectors_like(values):
    """Random chainrule/torch vectors shaped as ``values`` (a torch Tensor or tuple of them)."""
    if isinstance(values, tuple):
        pairs = [vectors_like(v) for v in values]
        return tuple(p[0] for p in pairs), tuple(p[1] for p in pairs)
    (ours,), (theirs,) = both(tuple(values.shape))
    return ours, theirs


# ------------------------------------------------------------------------------------------------
# Equal to PyTorch
# ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("func, shapes, as_tuple", STRUCTURES, ids=STRUCTURE_IDS)
def test_jacobian_equals_torch(func, shapes, as_tuple):
    ours, theirs = point(shapes, as_tuple)
    assert_same(AF.jacobian(func, ours), TF.jacobian(func, theirs))


@pytest.mark.parametrize("func, shapes, as_tuple", STRUCTURES, ids=STRUCTURE_IDS)
def test_vjp_equals_torch(func, shapes, as_tuple):
    ours, theirs = point(shapes, as_tuple)
    v_ours, v_theirs = vectors_like(func(*(theirs if as_tuple else (theirs,))))
    assert_same(AF.vjp(func, ours, v_ours), TF.vjp(func, theirs, v_theirs))


@pytest.mark.parametrize("func, shapes, as_tuple", STRUCTURES, ids=STRUCTURE_IDS)
def test_jvp_by_the_double_vjp_trick_equals_torch(func, shapes, as_tuple):
    ours, theirs = point(shapes, as_tuple)
    v_ours, v_theirs = vectors_like(theirs)
    assert_same(AF.jvp(func, ours, v_ours), TF.jvp(func, theirs, v_theirs))


@pytest.mark.parametrize("func, shapes, as_tuple", SCALARS, ids=SCALAR_IDS)
def test_hessian_equals_torch(func, shapes, as_tuple):
    ours, theirs = point(shapes, as_tuple)
    assert_same(AF.hessian(func, ours), TF.hessian(func, theirs))


@pytest.mark.parametrize("name", ["hvp", "vhp"])
@pytest.mark.parametrize("func, shapes, as_tuple", SCALARS, ids=SCALAR_IDS)
def test_hvp_and_vhp_equal_torch(name, func, shapes, as_tuple):
    ours, theirs = point(shapes, as_tuple)
    v_ours, v_theirs = vectors_like(theirs)
    assert_same(getattr(AF, name)(func, ours, v_ours), getattr(TF, name)(func, theirs, v_theirs))


def test_hvp_equals_vhp_and_the_hessian_times_v():
    (x,), _ = both((4,))
    (v,), _ = both((4,))
    _, hv = AF.hvp(s_one, x, v)
    _, vh = AF.vhp(s_one, x, v)
    H = AF.hessian(s_one, x)
    np.testing.assert_allclose(hv.numpy(), H.numpy() @ v.numpy(), rtol=1e-12)
    np.testing.assert_allclose(vh.numpy(), v.numpy() @ H.numpy(), rtol=1e-12)
    np.testing.assert_allclose(H.numpy(), np.diag(6 * x.numpy()), rtol=1e-12)  # d2(x^3)/dx2 = 6x


def test_v_may_be_left_out_only_for_one_element():
    (x,), (tx,) = both(())
    assert_same(AF.vjp(lambda x: x * x * x, x), TF.vjp(lambda x: x * x * x, tx))
    assert_same(AF.jvp(lambda x: x * x * x, x), TF.jvp(lambda x: x * x * x, tx))
    assert_same(AF.hvp(lambda x: x * x * x, x), TF.hvp(lambda x: x * x * x, tx))
    assert_same(AF.vhp(lambda x: x * x * x, x), TF.vhp(lambda x: x * x * x, tx))
    (y,), _ = both((3,))
    with pytest.raises(RuntimeError, match="vjp: v may be left out only when the function returns "
                                           "a single Tensor with one element"):
        AF.vjp(lambda y: y * y, y)
    for name in ("jvp", "hvp", "vhp"):
        with pytest.raises(RuntimeError, match=f"{name}: v may be left out only when the input is "
                                               "a single Tensor with one element"):
            getattr(AF, name)(s_one, y)


def test_v_must_match_in_number_and_shape():
    (x, y), _ = both((2, 3), (3,))
    with pytest.raises(RuntimeError, match=r"vjp: v has shape \(3,\), but output has shape "
                                           r"\(2, 3\): they must be equal"):
        AF.vjp(f_tuple_tensor, (x, y), y)
    with pytest.raises(RuntimeError, match=r"jvp: v\[1\] has shape \(2, 3\), but input 1 has shape "
                                           r"\(3,\)"):
        AF.jvp(f_tuple_tensor, (x, y), (x, x))
    with pytest.raises(RuntimeError, match="hvp: v has 1 tensors, but the inputs are a tuple of 2"):
        AF.hvp(s_two, (x, y), (x,))
    with pytest.raises(RuntimeError, match="vhp: v must be a single Tensor, as the inputs are"):
        AF.vhp(s_one, x, (x, x))
    # torch refuses the same calls
    (tx, ty) = (torch.tensor(x.numpy()), torch.tensor(y.numpy()))
    with pytest.raises(RuntimeError):
        TF.vjp(f_tuple_tensor, (tx, ty), ty)
    with pytest.raises(RuntimeError):
        TF.hvp(s_two, (tx, ty), (tx,))


def test_inputs_and_outputs_must_be_tensors():
    with pytest.raises(TypeError, match="jacobian: inputs must be a Tensor"):
        AF.jacobian(s_one, [1.0, 2.0])
    (x,), _ = both((2,))
    with pytest.raises(TypeError, match=r"vjp: the function's output\[1\] must be a Tensor"):
        AF.vjp(lambda x: (x, 3.0), x, (x, x))


def test_hessian_and_hvp_need_one_number_out():
    (x,), _ = both((3,))
    with pytest.raises(RuntimeError, match=r"hessian: the function must return a Tensor with one "
                                           r"element. Got shape \(3,\) instead"):
        AF.hessian(lambda x: x * x, x)
    with pytest.raises(RuntimeError, match="hvp: the function must return a single Tensor, not a "
                                           "tuple of 2"):
        AF.hvp(lambda x: (s_one(x), s_one(x)), x, x)
    with pytest.raises(RuntimeError, match="hessian: the function must return a single Tensor"):
        AF.hessian(lambda x: (s_one(x), s_one(x)), x)


def test_a_one_element_output_of_any_shape_has_a_hessian():
    (x,), (tx,) = both((3,))
    assert_same(AF.hessian(lambda x: s_one(x).reshape(1, 1), x),
                TF.hessian(lambda x: s_one(x).reshape(1, 1), tx))


# ------------------------------------------------------------------------------------------------
# strict: zeros where an output does not depend on an input, or an error
# ------------------------------------------------------------------------------------------------

def uses_only_x(x, y):
    return x * x * x


def scalar_of_x_only(x, y):
    return (x * x * x).sum()


def test_independent_inputs_give_zeros_unless_strict():
    (x, y), (tx, ty) = both((3,), (2,))
    assert_same(AF.jacobian(uses_only_x, (x, y)), TF.jacobian(uses_only_x, (tx, ty)))
    assert_same(AF.hessian(scalar_of_x_only, (x, y)), TF.hessian(scalar_of_x_only, (tx, ty)))
    (v,), (tv,) = both((3,))
    assert_same(AF.vjp(uses_only_x, (x, y), v), TF.vjp(uses_only_x, (tx, ty), tv))
    assert_same(AF.vhp(scalar_of_x_only, (x, y), (v, y)),
                TF.vhp(scalar_of_x_only, (tx, ty), (tv, ty)))
    assert_same(AF.hvp(scalar_of_x_only, (x, y), (v, y)),
                TF.hvp(scalar_of_x_only, (tx, ty), (tv, ty)))
    # an output that does not depend on the inputs at all: zeros too
    assert_same(AF.jacobian(lambda x: chainrule.tensor([1.0, 2.0], dtype="float64"), x),
                TF.jacobian(lambda x: torch.tensor([1.0, 2.0], dtype=torch.float64), tx))


def test_strict_refuses_an_output_independent_of_an_input_as_torch_does():
    (x, y), (tx, ty) = both((3,), (2,))
    (v,), (tv,) = both((3,))
    calls = [
        ("jacobian", lambda m, a, b, w: m.jacobian(uses_only_x, (a, b), strict=True),
         "jacobian: output 0 of the function does not depend on input 1; strict=True refuses"),
        ("vjp", lambda m, a, b, w: m.vjp(uses_only_x, (a, b), w, strict=True),
         "vjp: the output does not depend on input 1; strict=True refuses"),
        ("hessian", lambda m, a, b, w: m.hessian(scalar_of_x_only, (a, b), strict=True),
         "hessian: the function does not depend on input 1; strict=True refuses"),
        ("vhp", lambda m, a, b, w: m.vhp(scalar_of_x_only, (a, b), (w, b), strict=True),
         "vhp: the output does not depend on input 1; strict=True refuses"),
        ("hvp", lambda m, a, b, w: m.hvp(scalar_of_x_only, (a, b), (w, b), strict=True),
         "hvp: the output does not depend on input 1; strict=True refuses"),
        ("jvp", lambda m, a, b, w: m.jvp(uses_only_x, (a, b), (w, b), strict=True),
         "jvp: the gradient with respect to input 1 does not depend on the output gradient"),
    ]
    for name, call, message in calls:
        with pytest.raises(RuntimeError):
            call(TF, tx, ty, tv)
        assert message.startswith(f"{name}: ")
        with pytest.raises(RuntimeError, match=message):
            call(AF, x, y, v)


def test_strict_refuses_an_output_without_a_graph_and_a_linear_function_for_the_hessian():
    (x,), (tx,) = both((2,))

    def constant(x):
        return chainrule.tensor([1.0, 2.0], dtype="float64")

    with pytest.raises(RuntimeError):
        TF.jacobian(lambda x: torch.ones(2, dtype=torch.float64), tx, strict=True)
    with pytest.raises(RuntimeError, match="jacobian: output 0 of the function does not require "
                                           "grad, so it does not depend on the inputs"):
        AF.jacobian(constant, x, strict=True)

    def linear(x):
        return (x * 2.0).sum()

    with pytest.raises(RuntimeError):
        TF.hessian(linear, tx, strict=True)
    with pytest.raises(RuntimeError, match=r"hessian: the gradient with respect to input 0 does "
                                           r"not depend on the inputs \(is the function linear"):
        AF.hessian(linear, x, strict=True)
    assert_same(AF.hessian(linear, x), TF.hessian(linear, tx))  # not strict: zeros


# ------------------------------------------------------------------------------------------------
# Refused by name; results detached unless create_graph
# ------------------------------------------------------------------------------------------------

def test_vectorize_and_forward_mode_are_refused_by_name():
    (x,), _ = both((3,))
    with pytest.raises(ValueError, match="jacobian: vectorize=True .* Leave vectorize=False; the "
                                         "result is the same"):
        AF.jacobian(f_tensor_tensor, x, vectorize=True)
    with pytest.raises(ValueError, match="hessian: vectorize=True"):
        AF.hessian(s_one, x, vectorize=True)
    with pytest.raises(ValueError, match="jacobian: strategy='forward-mode' is not supported: "
                                         "chainrule has reverse mode only"):
        AF.jacobian(f_tensor_tensor, x, strategy="forward-mode")
    with pytest.raises(ValueError, match="hessian: outer_jacobian_strategy='forward-mode'"):
        AF.hessian(s_one, x, outer_jacobian_strategy="forward-mode")
    with pytest.raises(ValueError, match="jacobian: strategy must be 'reverse-mode' or "
                                         "'forward-mode'. Got 'sideways' instead"):
        AF.jacobian(f_tensor_tensor, x, strategy="sideways")


def test_results_are_detached_and_inputs_untouched_without_create_graph():
    (x, y), _ = both((2, 3), (3,), requires_grad=True)
    J = AF.jacobian(f_tuple_tensor, (x, y))
    out, product = AF.vjp(f_tuple_tensor, (x, y), x)
    for t in (*J, out, *product):
        assert not t.requires_grad and t.grad_fn is None
    assert x.grad is None and y.grad is None  # grad, not backward: no .grad touched


def test_jacobian_with_create_graph_is_differentiable_again_as_in_torch():
    (x,), (tx,) = both((3,), requires_grad=True)
    J = AF.jacobian(lambda x: x * x * x, x, create_graph=True)
    TJ = TF.jacobian(lambda x: x * x * x, tx, create_graph=True)
    skip_unless_twice_differentiable(J, ops.Stack, ops.Reshape)
    assert_same(J, TJ)
    (d,) = grad(J.sum(), x)  # d/dx sum(diag(3x^2)) = 6x
    (td,) = torch.autograd.grad(TJ.sum(), tx)
    np.testing.assert_allclose(d.numpy(), td.numpy(), rtol=1e-9)


def test_create_graph_keeps_vjp_jvp_hvp_vhp_connected_to_the_inputs():
    (x, y), (tx, ty) = both((2, 3), (3,), requires_grad=True)
    (v, w), (tv, tw) = both((2, 3), (3,))
    for name in ("vjp", "jvp", "hvp", "vhp"):
        func = s_two if name in ("hvp", "vhp") else f_tuple_tensor
        if name == "vjp":
            args, targs = (x, y), (tx, ty)
            vec, tvec = v, tv
        else:
            args, targs = (x, y), (tx, ty)
            vec, tvec = (v, w), (tv, tw)
        out, product = getattr(AF, name)(func, args, vec, create_graph=True)
        tout, tproduct = getattr(TF, name)(func, targs, tvec, create_graph=True)
        assert_same((out, product), (tout, tproduct), name)
        # differentiate the product again, with respect to the original inputs
        first = product if isinstance(product, tuple) else (product,)
        tfirst = tproduct if isinstance(tproduct, tuple) else (tproduct,)
        total = sum((p * p).sum() for p in first)
        ttotal = sum((p * p).sum() for p in tfirst)
        skip_unless_twice_differentiable(total)
        ours = grad(total, (x, y), allow_unused=True, materialize_grads=True)
        theirs = torch.autograd.grad(ttotal, (tx, ty), allow_unused=True, materialize_grads=True)
        for a, b in zip(ours, theirs):
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-9, atol=1e-12, err_msg=name)


def test_hessian_with_create_graph_gives_third_derivatives():
    (x,), (tx,) = both((3,), requires_grad=True)
    skip_unless_twice_differentiable((), ops.Stack)
    H = AF.hessian(s_one, x, create_graph=True)
    TH = TF.hessian(s_one, tx, create_graph=True)
    assert_same(H, TH)
    (d,) = grad((H * H).sum(), x)  # H = diag(6x): d/dx sum(36 x^2) = 72 x
    np.testing.assert_allclose(d.numpy(), 72 * x.numpy(), rtol=1e-12)


def test_the_function_sees_fresh_inputs_not_the_ones_it_captured():
    """As in PyTorch, func gets new tensors: a tensor the function captured from outside counts as
    a constant, even when it is the same object as the input."""
    (x,), (tx,) = both((3,))

    def ours(a):
        return a * x

    def theirs(a):
        return a * tx

    assert_same(AF.jacobian(ours, x), TF.jacobian(theirs, tx))


# ------------------------------------------------------------------------------------------------
# An MLP's loss with respect to its parameters (Linear, tanh, sigmoid, MSE)
# ------------------------------------------------------------------------------------------------

def mlp_problem():
    sizes = {"w1": (4, 3), "b1": (4,), "w2": (2, 4), "b2": (2,)}
    params, tparams = both(*sizes.values())
    data, tdata = both((5, 3), (5, 2))

    def loss(lib_f, x, y):
        def f(w1, b1, w2, b2):
            hidden = lib_f.linear(x, w1, b1).tanh()
            return lib_f.mse_loss(lib_f.linear(hidden, w2, b2).sigmoid(), y)
        return f

    return (params, loss(F, *data)), (tparams, loss(torch.nn.functional, *tdata))


def _skip_unless_mlp_is_twice_differentiable():
    (params, f), _ = mlp_problem()
    with chainrule.enable_grad():
        out = f(*(p.detach().requires_grad_() for p in params))
    skip_unless_twice_differentiable(out, ops.Stack, ops.Reshape)


def test_mlp_loss_hessian_equals_torch():
    _skip_unless_mlp_is_twice_differentiable()
    (params, f), (tparams, tf) = mlp_problem()
    assert_same(AF.hessian(f, params), TF.hessian(tf, tparams))


def test_mlp_loss_hvp_and_vhp_equal_torch():
    _skip_unless_mlp_is_twice_differentiable()
    (params, f), (tparams, tf) = mlp_problem()
    v, tv = vectors_like(tparams)
    assert_same(AF.hvp(f, params, v), TF.hvp(tf, tparams, tv))
    assert_same(AF.vhp(f, params, v), TF.vhp(tf, tparams, tv))


def test_mlp_outputs_jacobian_and_jvp_equal_torch():
    _skip_unless_mlp_is_twice_differentiable()
    (params, _), (tparams, _) = mlp_problem()
    (x,), (tx,) = both((5, 3))

    def net(lib_f):
        def f(w1, b1, w2, b2):
            return lib_f.linear(lib_f.linear(x_of(lib_f), w1, b1).tanh(), w2, b2).sigmoid()
        return f

    def x_of(lib_f):
        return x if lib_f is F else tx

    assert_same(AF.jacobian(net(F), params), TF.jacobian(net(torch.nn.functional), tparams))
    v, tv = vectors_like(tparams)
    assert_same(AF.jvp(net(F), params, v), TF.jvp(net(torch.nn.functional), tparams, tv))


def test_mlp_hessian_with_create_graph_differentiates_again():
    _skip_unless_mlp_is_twice_differentiable()
    (params, f), (tparams, tf) = mlp_problem()
    params = tuple(p.detach().requires_grad_() for p in params)
    tparams = tuple(p.detach().requires_grad_() for p in tparams)
    H = AF.hessian(f, params, create_graph=True)
    TH = TF.hessian(tf, tparams, create_graph=True)
    trace = sum((H[i][i] * H[i][i]).sum() for i in range(4))
    ttrace = sum((TH[i][i] * TH[i][i]).sum() for i in range(4))
    ours = grad(trace, params)
    theirs = torch.autograd.grad(ttrace, tparams)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-9, atol=1e-12)


def test_functional_is_reachable_lazily_as_an_attribute():
    """chainrule.autograd.functional loads on first use (it imports Tensor, which imports
    chainrule.autograd); in a fresh interpreter both spellings must work."""
    import subprocess
    import sys

    code = ("import chainrule\n"
            "f = chainrule.autograd.functional\n"
            "from chainrule.autograd import functional\n"
            "assert f is functional and callable(f.hessian)\n"
            "print('ok')")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == "ok", result.stderr
