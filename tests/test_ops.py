"""Every op, two ways: gradcheck (float64 finite differences, full Jacobian) and PyTorch.

The cases come from ``chainrule.op_cases``; the registry test below fails when an op has no case.
"""

import numpy as np
import pytest

import chainrule
from chainrule.autograd import Function, keep_input_tensors, topological_order
from chainrule.tensor import Tensor
from chainrule.gradcheck import check_gradients, check_second_derivatives
from chainrule.op_cases import all_cases

CASES = all_cases()
IDS = [c.name for c in CASES]


def _chainrule_inputs(case, arrays):
    return [chainrule.tensor(a, requires_grad=case.requires_grad(i)) for i, a in enumerate(arrays)]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_gradcheck(case):
    inputs = _chainrule_inputs(case, case.make_inputs())
    result = check_gradients(lambda *xs: case.fn(chainrule, *xs), inputs, eps=case.eps)
    assert result.ok, result.message()


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_against_torch(case):
    torch = pytest.importorskip("torch")
    arrays = case.make_inputs()
    ours = _chainrule_inputs(case, arrays)
    theirs = [torch.tensor(a, requires_grad=case.requires_grad(i)) for i, a in enumerate(arrays)]
    out = case.fn(chainrule, *ours)
    torch_fn = case.torch_fn or case.fn
    expected = torch_fn(torch, *theirs)
    assert out.shape == tuple(expected.shape)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=1e-9, atol=1e-12)

    upstream = np.random.default_rng(7).standard_normal(out.shape)  # random, not ones
    out.backward(upstream)
    expected.backward(torch.tensor(upstream))
    for i, (a, b) in enumerate(zip(ours, theirs)):
        if not case.requires_grad(i):
            assert a.grad is None
            continue
        assert a.grad is not None, f"input {i} got no gradient"
        assert a.grad.shape == a.shape
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-9, atol=1e-12,
                                   err_msg=f"gradient of input {i}")


def _skip_unless_twice_differentiable(case):
    if not case.second_order:
        pytest.skip(case.extra.get("first_order_only", "first order only"))
    missing = sorted(op.name() for op in case.covers if op.backward_graph is None)
    if missing:  # tests/test_ops.py::test_every_op_is_twice_differentiable lists these
        pytest.skip(f"no backward_graph yet: {', '.join(missing)}")


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_gradgradcheck(case):
    _skip_unless_twice_differentiable(case)
    inputs = _chainrule_inputs(case, case.make_inputs())
    result = check_second_derivatives(lambda *xs: case.fn(chainrule, *xs), inputs, eps=case.eps)
    assert result.ok, result.message()


def _second_derivatives(lib, grad, out, inputs, v, weights):
    """d/d(inputs, v) of sum_i <w_i, d<out, v>/d input_i>: every second derivative of the op,
    contracted with random vectors, by the library's own autograd."""
    firsts = grad(out, inputs, v, create_graph=True, allow_unused=True)
    total = sum((g * w).sum() for g, w in zip(firsts, weights) if g is not None and g.requires_grad)
    leaves = [*inputs, v]
    if isinstance(total, int):  # no first derivative depends on anything: all second ones are 0
        return [None] * len(leaves)
    seconds = grad(total, leaves, allow_unused=True)
    # PyTorch may answer a known zero as a ZeroTensor, which converts only with force=True
    return [None if s is None else (s.numpy() if lib is chainrule else s.detach().numpy(force=True))
            for s in seconds]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_second_derivatives_against_torch(case):
    _skip_unless_twice_differentiable(case)
    torch = pytest.importorskip("torch")
    arrays = case.make_inputs()
    diff = [i for i in range(len(arrays)) if case.requires_grad(i)]
    ours_all = _chainrule_inputs(case, arrays)
    theirs_all = [torch.tensor(a, requires_grad=case.requires_grad(i)) for i, a in enumerate(arrays)]
    out = case.fn(chainrule, *ours_all)
    expected = (case.torch_fn or case.fn)(torch, *theirs_all)
    rng = np.random.default_rng(11)
    upstream = rng.standard_normal(out.shape)
    weights = [rng.standard_normal(arrays[i].shape) for i in diff]
    ours = _second_derivatives(
        chainrule, chainrule.autograd.grad, out, [ours_all[i] for i in diff],
        chainrule.tensor(upstream, requires_grad=True), [chainrule.tensor(w) for w in weights])
    theirs = _second_derivatives(
        torch, torch.autograd.grad, expected, [theirs_all[i] for i in diff],
        torch.tensor(upstream, requires_grad=True), [torch.tensor(w) for w in weights])
    names = [f"input {i}" for i in diff] + ["the upstream gradient"]
    for name, a, b in zip(names, ours, theirs):
        if a is None or b is None:  # one library found no dependence: the other's must be zero
            rest = b if a is None else a
            assert rest is None or not np.any(rest), f"second derivative w.r.t. {name}"
            continue
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12, err_msg=f"second derivative w.r.t. {name}")


def _aliased(node, grad_out, returned) -> list:
    """What each array a backward returned shares memory with, of everything it must not: the
    incoming gradient, the inputs, what forward saved or set on ctx, the other returned arrays."""
    held = ({f"incoming gradient {k}": g for k, g in enumerate(grad_out)}
            if isinstance(grad_out, list) else {"the incoming gradient": grad_out})
    for i, x in enumerate(node.input_tensors or ()):
        if isinstance(x, (Tensor, np.ndarray)):
            held[f"input {i}"] = x.numpy() if isinstance(x, Tensor) else x
    for i, saved in enumerate(node.saved_tensors or ()):
        if isinstance(saved, np.ndarray):
            held[f"saved tensor {i}"] = saved
    for name, value in vars(node).items():
        if isinstance(value, np.ndarray):
            held[f"ctx.{name}"] = value
    found = []
    for i, r in enumerate(returned):
        if r is None:
            continue
        others = {**held, **{f"returned gradient {j}": o for j, o in enumerate(returned)
                             if j != i and o is not None}}
        found += [f"gradient {i} shares memory with {what}" for what, a in others.items()
                  if np.shares_memory(r, a)]
    return found


NEW_ARRAY_CASES = [c for c in CASES if any(f.backward_returns_new_arrays for f in c.covers)]


@pytest.mark.parametrize("case", NEW_ARRAY_CASES, ids=[c.name for c in NEW_ARRAY_CASES])
def test_backward_returns_new_arrays_where_the_op_says_so(case):
    # The engine keeps such an array as a leaf's .grad without a copy, so a later in-place update
    # of that .grad must not be able to reach anything else.
    with keep_input_tensors():
        out = case.fn(chainrule, *_chainrule_inputs(case, case.make_inputs()))
    rng = np.random.default_rng(3)
    checked = 0
    for node in topological_order(out.grad_fn):
        if not node.fn.backward_returns_new_arrays:
            continue
        if node.output_nodes:  # an op with several outputs: one gradient each
            grad_out = [np.asarray(rng.standard_normal(shape)) for shape in node.output_shape]
            returned = node.fn.backward(node, *grad_out)
        else:
            grad_out = np.asarray(rng.standard_normal(node.output_shape))
            returned = node.fn.backward(node, grad_out)
        returned = returned if isinstance(returned, tuple) else (returned,)
        assert not _aliased(node, grad_out, returned), (node.name, _aliased(node, grad_out, returned))
        checked += 1
    assert checked


def test_the_new_array_check_catches_a_backward_that_hands_back_what_it_holds():
    class PassThrough(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * 1.0

        @staticmethod
        def backward(ctx, grad_y):
            return grad_y

    class ReturnsSaved(PassThrough):
        @staticmethod
        def backward(ctx, grad_y):
            return ctx.saved_tensors[0]

    for op, expected in ((PassThrough, "incoming gradient"), (ReturnsSaved, "saved tensor 0")):
        with keep_input_tensors():
            out = op.apply(chainrule.tensor(np.ones(3), requires_grad=True))
        grad_out = np.ones(3)
        found = _aliased(out.grad_fn, grad_out, (op.backward(out.grad_fn, grad_out),))
        assert any(expected in f for f in found), found


def _all_function_subclasses():
    found, stack = set(), [Function]
    while stack:
        for sub in stack.pop().__subclasses__():
            if sub not in found:
                found.add(sub)
                stack.append(sub)
    return {
        f for f in found
        if f.__module__.startswith("chainrule.") and not getattr(f, "known_wrong", False)
        and not getattr(f, "engine_internal", False)
    }


def test_every_op_has_a_case():
    covered = {op for case in CASES for op in case.covers}
    missing = sorted(f.__qualname__ for f in _all_function_subclasses() - covered)
    assert not missing, f"ops with no case in chainrule/op_cases.py: {missing}"


def test_every_op_is_twice_differentiable():
    first_order_only = {op for case in CASES if not case.second_order for op in case.covers}
    missing = sorted(f.__qualname__ for f in _all_function_subclasses() - first_order_only
                     if f.backward_graph is None)
    assert not missing, f"ops with no backward_graph (differentiable once only): {missing}"


def test_every_op_states_its_derivative():
    for op in _all_function_subclasses():
        doc = op.__doc__ or ""
        assert "forward:" in doc and "backward:" in doc, f"{op.__qualname__} docstring lacks formulas"


def test_cases_cover_more_than_a_trivial_subset():
    # guards the registry test itself: it must see the built-in ops
    assert len(_all_function_subclasses()) >= 40
