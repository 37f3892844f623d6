"""The engine's semantics: graph building, accumulation, freeing, dtypes, errors."""

import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd import Function


def test_tensor_defaults_and_dtypes():
    assert cr.tensor(1.5).dtype == np.float32
    assert cr.tensor([[1.0, 2.0]]).dtype == np.float32
    assert cr.tensor(3).dtype == np.int64
    assert cr.tensor([1, 2]).dtype == np.int64
    assert cr.tensor(np.zeros(3, dtype=np.float64)).dtype == np.float64
    assert cr.tensor(np.float64(2.0)).dtype == np.float64
    assert cr.tensor([1, 2], dtype="float64").dtype == np.float64
    assert cr.tensor([1, 2], dtype=cr.float32).dtype == np.float32
    t = cr.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    assert t.shape == (2, 3) and t.ndim == 2 and t.is_leaf and t.requires_grad
    assert t.T.shape == (3, 2)


def test_tensor_copies_its_data():
    source = np.ones(3)
    t = cr.tensor(source)
    source[0] = 5
    assert t.numpy()[0] == 1


def test_integer_tensor_cannot_require_grad():
    with pytest.raises(TypeError, match="only floating-point tensors can require grad.*int64"):
        cr.tensor([1, 2], requires_grad=True)


def test_unknown_dtype_name():
    with pytest.raises(TypeError, match="unknown dtype name 'floaty'"):
        cr.tensor([1.0], dtype="floaty")


def test_float32_stays_float32_with_python_scalars():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    for y in (x * 2.5, 2.5 * x, x + 1, 1 - x, x / 3, 3 / x, x**2, 2**x, -x, x.exp(), x.sigmoid()):
        assert y.dtype == np.float32, y
    y = (x * 0.1 + 1e-3).sum()
    y.backward()
    assert x.grad.dtype == np.float32


def test_float64_stays_float64():
    x = cr.tensor(np.array([1.0, 2.0]), requires_grad=True)
    assert (x * 2.5 + 1).softmax(0).dtype == np.float64


def test_mixed_dtypes_promote_and_grads_keep_their_input_dtype():
    a = cr.tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    b = cr.tensor(np.ones(3, dtype=np.float64), requires_grad=True)
    y = (a * b).sum()
    assert y.dtype == np.float64
    y.backward()
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64


def test_numpy_array_on_the_left_keeps_the_graph():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = np.array([3.0, 4.0], dtype=np.float32) * x
    assert isinstance(y, cr.Tensor)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 4.0])


def test_gradients_accumulate_across_backwards():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    (x * 3).sum().backward()
    (x * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [6.0, 6.0])


def test_diamond_graph_adds_both_paths():
    # y = a*b + a*c with b = 2a, c = a^2 ; dy/da = 2a*... check against the closed form
    a = cr.tensor(np.array([0.5, -1.5]), requires_grad=True)
    b = a * 2
    c = a * a
    y = (a * b + a * c).sum()  # = 2a^2 + a^3
    y.backward()
    np.testing.assert_allclose(a.grad.numpy(), 4 * a.numpy() + 3 * a.numpy()**2)


def test_same_tensor_used_twice_in_one_op():
    x = cr.tensor(np.array([3.0]), requires_grad=True)
    (x * x).backward()
    np.testing.assert_array_equal(x.grad.numpy(), [6.0])
    y = cr.tensor(np.array([3.0]), requires_grad=True)
    (y + y).backward()
    np.testing.assert_array_equal(y.grad.numpy(), [2.0])


def test_leaf_grads_do_not_alias_each_other():
    # add's backward hands the same array to both inputs; leaves must get arrays of their own
    a = cr.tensor(np.zeros(3), requires_grad=True)
    b = cr.tensor(np.zeros(3), requires_grad=True)
    (a + b).sum().backward()
    a.grad.data *= 10
    np.testing.assert_array_equal(b.grad.numpy(), np.ones(3))


class _Recorded(cr.autograd.Function):
    """Identity that records, in ``visits``, the order in which backward reaches it."""

    visits = []

    @staticmethod
    def forward(ctx, x, label):
        ctx.label = label
        return x.copy()

    @staticmethod
    def backward(ctx, grad_y):
        _Recorded.visits.append(ctx.label)
        return grad_y, None


def test_backward_reaches_a_node_only_after_every_node_that_used_it():
    # Made in an order where depth and creation disagree: 'late' is made last but is one step
    # from the input, 'deep' three steps. Every node must run after all of its consumers (its
    # gradient is complete only then) and exactly once.
    _Recorded.visits = []
    x = cr.tensor(np.array([0.3, -0.7]), requires_grad=True)
    a = _Recorded.apply(x * 2, "a")
    deep = _Recorded.apply(_Recorded.apply(a.exp(), "b") * a, "deep")
    late = _Recorded.apply(x.sin(), "late")
    y = (deep * late + a * late).sum()
    y.backward()
    order = _Recorded.visits
    assert sorted(order) == ["a", "b", "deep", "late"]  # each once
    assert order.index("deep") < order.index("b") < order.index("a")  # a is used by b and deep
    # the gradient itself, in closed form: y = sum(e^{2x} 2x sin x + 2x sin x)
    xs = x.numpy()
    d = np.exp(2 * xs) * (2 * xs * 2 + 2) * np.sin(xs) + np.exp(2 * xs) * 2 * xs * np.cos(xs)
    d += 2 * np.sin(xs) + 2 * xs * np.cos(xs)
    np.testing.assert_allclose(x.grad.numpy(), d, rtol=1e-12)


def test_many_paths_meet_without_repeating_work():
    # Each layer uses the one before twice, so there are 2**40 paths from y to x; the walk must
    # visit each of the 40 nodes once, with every path's part summed.
    _Recorded.visits = []
    x = cr.tensor(np.array([1.0]), requires_grad=True)
    h = x
    for i in range(40):
        h = _Recorded.apply(h, i) * 0.5 + _Recorded.apply(h, f"{i}'") * 0.5
    h.sum().backward()
    assert len(_Recorded.visits) == 80
    np.testing.assert_allclose(x.grad.numpy(), [1.0])


def test_topological_order_lists_every_node_after_the_nodes_it_came_from():
    x = cr.tensor(np.array([0.5, 1.5]), requires_grad=True)
    a = x.exp()
    b = x.sin()
    c = (a * b + a).tanh()
    order = cr.autograd.topological_order(c.grad_fn)
    position = {node: i for i, node in enumerate(order)}
    assert len(order) == 5  # exp, sin, mul, add, tanh, and nothing twice
    for node in order:
        for parent in node.next_functions():
            assert position[parent] < position[node]


def test_a_leaf_grad_never_shares_memory_with_what_a_user_backward_returned():
    # A Function that does not declare backward_returns_new_arrays may hand back an array it
    # keeps; the leaf's .grad must be a copy, so updating .grad in place cannot change it.
    class Kept(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.ones = np.ones_like(x)
            return x.sum()

        @staticmethod
        def backward(ctx, grad_y):
            return ctx.ones

    x = cr.tensor(np.zeros(3), requires_grad=True)
    node_output = Kept.apply(x)
    kept = node_output.grad_fn.ones
    node_output.backward()
    x.grad.data *= 5
    np.testing.assert_array_equal(kept, np.ones(3))


def test_a_subclass_with_its_own_backward_does_not_inherit_the_new_arrays_promise():
    # A straight-through ReLU hands grad_y back unchanged; add gives both inputs that one array.
    # Were the parent's promise inherited, a and b would end up sharing one .grad buffer.
    class StraightThrough(cr.ops.ReLU):
        @staticmethod
        def backward(ctx, grad_y):
            return grad_y

    assert cr.ops.ReLU.backward_returns_new_arrays
    assert not StraightThrough.backward_returns_new_arrays
    a = cr.tensor([1.0, -1.0], requires_grad=True)
    b = cr.tensor([2.0, -2.0], requires_grad=True)
    loss = (StraightThrough.apply(a) + StraightThrough.apply(b)).sum()
    loss.backward(retain_graph=True)
    loss.backward()
    np.testing.assert_array_equal(a.grad.numpy(), [2.0, 2.0])
    np.testing.assert_array_equal(b.grad.numpy(), [2.0, 2.0])
    assert not np.shares_memory(a.grad.numpy(), b.grad.numpy())


def test_graph_nodes_refuse_copy_and_pickle_leaves_do_not():
    # backward orders nodes by the number each got when made, in this process: a copied node
    # would share its number, an unpickled one would bring another process's
    import copy
    import pickle

    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    for attempt in (copy.deepcopy, pickle.dumps):
        with pytest.raises(TypeError, match=r"graph node \(Mul\) cannot be copied or pickled"):
            attempt(y)
    np.testing.assert_array_equal(copy.deepcopy(y.detach()).numpy(), [2.0, 4.0])
    np.testing.assert_array_equal(copy.deepcopy(x).numpy(), [1.0, 2.0])


def test_forward_sees_an_empty_input_record():
    seen = {}

    class Looks(Function):
        @staticmethod
        def forward(ctx, x):
            seen["inputs"], seen["next"] = ctx.inputs, ctx.next_functions()
            return x * 1.0

        @staticmethod
        def backward(ctx, grad_y):
            return grad_y

    Looks.apply(cr.tensor([1.0], requires_grad=True))
    assert seen == {"inputs": (), "next": []}


def test_deep_chain_has_no_recursion_limit():
    x = cr.tensor(np.array([1.0]), requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 1.0
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0])


def test_second_backward_raises_unless_graph_retained():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = (x.sigmoid() * 2).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="already freed.*retain_graph=True"):
        y.backward()
    z = (x.sigmoid() * 2).sum()
    z.backward(retain_graph=True)
    z.backward()
    assert x.grad is not None


def test_backward_on_non_scalar_needs_gradient():
    x = cr.tensor(np.ones((32, 1)), requires_grad=True)
    with pytest.raises(RuntimeError, match=r"shape \(32, 1\) needs an explicit gradient"):
        (x * 2).backward()
    (x * 2).backward(np.ones((32, 1)))
    np.testing.assert_array_equal(x.grad.numpy(), 2 * np.ones((32, 1)))


def test_backward_gradient_shape_checked():
    x = cr.tensor(np.ones(3), requires_grad=True)
    with pytest.raises(ValueError, match=r"gradient has shape \(2,\).*shape \(3,\)"):
        (x * 2).backward(np.ones(2))


def test_backward_without_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        cr.tensor([1.0]).sum().backward()


def test_non_leaf_grad_not_kept_unless_retained():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    h = x * 2
    h2 = x * 3
    h2.retain_grad()
    (h * h2).sum().backward()
    assert h.grad is None
    np.testing.assert_array_equal(h2.grad.numpy(), h.numpy())


def test_no_grad_context_and_decorator():
    x = cr.tensor([1.0], requires_grad=True)
    with cr.no_grad():
        y = x * 2
    assert not y.requires_grad and y.grad_fn is None

    @cr.no_grad()
    def f(t):
        return t * 2

    assert not f(x).requires_grad
    assert (x * 2).requires_grad
    assert cr.is_grad_enabled()


def test_grad_switches_as_decorators_restore_the_mode_in_recursion():
    @cr.no_grad()
    def depth(n):
        return depth(n - 1) if n else cr.is_grad_enabled()

    assert depth(3) is False
    assert cr.is_grad_enabled()  # the inner call's exit did not leave the switch off

    @cr.set_grad_enabled(False)  # as a decorator: off only inside, as in PyTorch
    def inside():
        return cr.is_grad_enabled()

    assert cr.is_grad_enabled()
    assert inside() is False
    assert cr.is_grad_enabled()
    with cr.set_grad_enabled(False):  # as a context manager: the mode before it comes back
        assert not cr.is_grad_enabled()
    assert cr.is_grad_enabled()
    with cr.no_grad():
        with cr.set_grad_enabled(True):
            assert cr.is_grad_enabled()
        assert not cr.is_grad_enabled()  # back to no_grad's, not left on
    assert cr.is_grad_enabled()
    cr.set_grad_enabled(False)  # as a plain call it takes effect at once
    try:
        assert not cr.is_grad_enabled()
    finally:
        cr.set_grad_enabled(True)


def test_a_cast_to_integers_leaves_the_graph():
    x = cr.tensor([1.5, 2.5], requires_grad=True)
    y = x.to("int64")
    assert not y.requires_grad and y.grad_fn is None
    (y.float() * x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 2.0])  # as PyTorch: y is a constant


def test_in_place_changes_of_a_leaf_that_requires_grad_are_refused_while_grad_is_enabled():
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    for change in (lambda t: t.zero_(), lambda t: t.fill_(3.0), lambda t: t.copy_([0.0, 0.0])):
        with pytest.raises(RuntimeError, match=r"leaf tensor that requires grad.*no_grad"):
            change(w)
    with cr.no_grad():  # initialising or loading weights
        w.copy_(np.array([5.0]))  # broadcast, as in PyTorch
    np.testing.assert_array_equal(w.numpy(), [5.0, 5.0])
    with pytest.raises(ValueError, match=r"copy_: cannot copy shape \(3,\) into shape \(2,\)"):
        cr.tensor([1.0, 2.0]).copy_([1.0, 2.0, 3.0])


def test_detach_cuts_the_graph_and_shares_data():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    d = (x * 2).detach()
    assert d.is_leaf and not d.requires_grad
    y = (d * x).sum()
    y.backward()
    np.testing.assert_array_equal(x.grad.numpy(), d.numpy())


def test_max_with_dim_returns_values_and_indices():
    x = cr.tensor(np.array([[1.0, 5.0, 2.0], [7.0, 0.0, 7.0]]), requires_grad=True)
    values, indices = x.max(dim=1)
    np.testing.assert_array_equal(values.numpy(), [5.0, 7.0])
    np.testing.assert_array_equal(indices.numpy(), [1, 0])
    values.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 1, 0], [1, 0, 0]])


def test_reductions_and_arg_reductions_follow_pytorch_at_the_edges():
    torch = pytest.importorskip("torch")
    data = np.arange(6.0).reshape(2, 3)
    ours, theirs = cr.tensor(data, requires_grad=True), torch.tensor(data, requires_grad=True)
    for name in ("sum", "mean"):  # an empty dim tuple reduces every dim
        a, b = getattr(ours, name)(()), getattr(theirs, name)(())
        assert a.shape == tuple(b.shape) == ()
        np.testing.assert_allclose(a.numpy(), b.detach().numpy())
    ours.sum(()).backward()
    np.testing.assert_array_equal(ours.grad.numpy(), np.ones((2, 3)))
    for keepdim in (False, True):  # a 0-d tensor's only index is 0, of shape ()
        values, indices = cr.tensor(3.0).max(0, keepdim=keepdim)
        t_values, t_indices = torch.tensor(3.0).max(0, keepdim=keepdim)
        assert values.shape == tuple(t_values.shape) and indices.shape == tuple(t_indices.shape)
        assert indices.item() == t_indices.item() == 0
        assert cr.tensor(3.0).argmin(-1, keepdim=keepdim).shape == ()
    with pytest.raises(ValueError, match=r"argmax: dim 2 is out of range for a tensor with 2 dims"):
        ours.argmax(2)


def test_overall_max_ties_share_the_gradient():
    x = cr.tensor(np.array([3.0, 1.0, 3.0]), requires_grad=True)
    x.max().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.5, 0.0, 0.5])


def test_repeated_indices_accumulate():
    x = cr.tensor(np.arange(4.0), requires_grad=True)
    x[cr.tensor([0, 0, 3, 0])].sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 0.0, 0.0, 1.0])


def test_boolean_mask_indexing():
    x = cr.tensor(np.arange(4.0), requires_grad=True)
    (x[x > 1.5] * 2).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0, 2.0, 2.0])


def test_comparisons_are_boolean_and_carry_no_graph():
    x = cr.tensor([1.0, -1.0], requires_grad=True)
    m = x > 0
    assert m.dtype == np.bool_ and not m.requires_grad
    np.testing.assert_array_equal(m.numpy(), [True, False])
    assert (x == x).all()


@pytest.mark.parametrize("value", [1000.0, -1000.0])
def test_stable_forwards_do_not_overflow_or_warn(value):
    x = cr.tensor(np.array([value, 0.0, -value]), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = x.sigmoid()
        sm = x.softmax(0)
        lsm = x.log_softmax(0)
        (s.sum() + sm[0] + lsm.sum()).backward()
    assert np.isfinite(s.numpy()).all() and np.isfinite(sm.numpy()).all() and np.isfinite(lsm.numpy()).all()
    assert np.isfinite(x.grad.numpy()).all()
    np.testing.assert_allclose(sm.numpy().sum(), 1.0)


def test_matmul_error_names_the_shapes():
    a, b = cr.randn(32, 3), cr.randn(4, 8)
    with pytest.raises(ValueError, match=r"matmul: cannot multiply shapes \(32, 3\) and \(4, 8\): "
                                         r"inner dimensions 3 != 4"):
        a @ b


def test_reshape_and_dim_errors():
    with pytest.raises(ValueError, match=r"cannot reshape a tensor of shape \(2, 3\)"):
        cr.randn(2, 3).reshape(4, 2)
    with pytest.raises(ValueError, match=r"sum: dim 2 is out of range for a tensor with 2 dims"):
        cr.randn(2, 3).sum(dim=2)
    with pytest.raises(ValueError, match="cat: all tensors must have the same shape except in dim 0"):
        cr.cat([cr.randn(2, 3), cr.randn(2, 4)], 0)


class _WrongShape(Function):
    """forward: y = 2x   backward: deliberately wrong shape"""

    @staticmethod
    def forward(ctx, x):
        return 2 * x

    @staticmethod
    def backward(ctx, grad_y):
        return grad_y.sum(axis=0)


def test_engine_checks_gradient_shapes_and_names_the_op():
    x = cr.tensor(np.ones((3, 2)), requires_grad=True)
    with pytest.raises(RuntimeError, match=r"_WrongShape.backward returned a gradient of shape "
                                           r"\(2,\) for input 0, whose shape is \(3, 2\)"):
        _WrongShape.apply(x).sum().backward()


class _Cube(Function):
    """forward: y = x^3     backward: dL/dx = dL/dy * 3 x^2"""

    @staticmethod
    def forward(ctx, x, scale):
        ctx.save_for_backward(x)
        ctx.scale = scale
        return scale * x**3

    @staticmethod
    def backward(ctx, grad_y):
        (x,) = ctx.saved_tensors
        assert ctx.needs_input_grad == (True, False)
        return grad_y * ctx.scale * 3 * x**2, None


def test_user_function_with_non_tensor_argument():
    x = cr.tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = _Cube.apply(x, 2.0)
    assert y.grad_fn.name == "_Cube"
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 6 * x.numpy()**2)
    assert cr.gradcheck(lambda t: _Cube.apply(t, 2.0), (x,))


def test_factories_and_seed():
    cr.manual_seed(3)
    a = cr.randn(2, 3)
    cr.manual_seed(3)
    b = cr.randn(2, 3)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert cr.zeros(2, 3).dtype == np.float32 and cr.zeros((2, 3)).shape == (2, 3)
    assert cr.ones(2, dtype="float64").dtype == np.float64
    assert cr.arange(5).dtype == np.int64 and cr.arange(0.0, 1.0, 0.25).shape == (4,)
    assert cr.full((2,), 7.0).numpy().tolist() == [7.0, 7.0]
    assert cr.zeros_like(cr.randn(3, dtype="float64")).dtype == np.float64
    assert 0 <= cr.rand(100).numpy().min() and cr.rand(100).numpy().max() < 1
    with pytest.raises(ValueError, match="sizes must be non-negative ints"):
        cr.zeros(-1)


def test_where_maximum_minimum_functions():
    a = cr.tensor([1.0, 5.0], requires_grad=True)
    b = cr.tensor([3.0, 2.0], requires_grad=True)
    np.testing.assert_array_equal(cr.where(a > b, a, b).numpy(), [3.0, 5.0])
    np.testing.assert_array_equal(cr.maximum(a, b).numpy(), [3.0, 5.0])
    np.testing.assert_array_equal(cr.minimum(a, 2.0).numpy(), [1.0, 2.0])
    with pytest.raises(TypeError, match="where: condition must be boolean"):
        cr.where(a, a, b)


def test_item_and_repr():
    t = cr.tensor([[2.5]], requires_grad=True)
    assert t.item() == 2.5
    assert "requires_grad=True" in repr(t)
    assert "grad_fn=<MulBackward>" in repr(t * 2)
    with pytest.raises(ValueError, match="only a tensor with one element"):
        cr.tensor([1.0, 2.0]).item()


def test_backward_may_return_trailing_nones_for_omitted_optional_arguments():
    x = cr.tensor(np.array([1.0, 2.0]), requires_grad=True)
    t = cr.tensor(np.array([0.0, 0.0]))
    cr.ops.MSELoss.apply(x, t).backward()  # reduction left at its default
    np.testing.assert_allclose(x.grad.numpy(), [1.0, 2.0])


def test_the_graph_keeps_only_what_backward_needs():
    import gc
    import weakref

    x = cr.tensor(np.ones((4, 3)), requires_grad=True)
    hidden = x * 2.0  # Mul saves its inputs' arrays, not this output
    watch = weakref.ref(hidden)
    loss = hidden.exp().sum()  # Exp saves its output, not its input Tensor
    del hidden
    gc.collect()
    assert watch() is None, "an intermediate Tensor was kept alive by the graph"
    loss.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.exp(2.0) * np.ones((4, 3)))
    with cr.autograd.keep_input_tensors():
        kept = x * 2.0
        watch = weakref.ref(kept)
        loss = kept.exp().sum()
    del kept
    gc.collect()
    assert watch() is not None


@pytest.mark.parametrize("call", [
    lambda x: x.permute(2, 1), lambda x: x.permute(3, 0), lambda x: x.unsqueeze(7),
    lambda x: x.squeeze(9), lambda x: x.flatten(5), lambda x: x.transpose(0, 5),
    lambda x: cr.cat([x, x], dim=2), lambda x: cr.stack([x, x], dim=4), lambda x: x.sum(dim=-3),
], ids=["permute", "permute wraps", "unsqueeze", "squeeze", "flatten", "transpose", "cat", "stack",
        "sum"])
def test_out_of_range_dims_are_errors_not_wrapped(call):
    x = cr.randn(2, 3)
    with pytest.raises(ValueError, match=r"dim -?\d+ is out of range for a tensor with \d dims"):
        call(x)


def test_valid_negative_dims_still_work():
    x = cr.randn(2, 3)
    assert x.unsqueeze(-1).shape == (2, 3, 1) and x.unsqueeze(0).shape == (1, 2, 3)
    assert x.transpose(-1, -2).shape == (3, 2) and x.permute(-1, 0).shape == (3, 2)
    assert cr.cat([x, x], dim=-1).shape == (2, 6) and cr.stack([x, x], dim=-1).shape == (2, 3, 2)
    assert x.flatten(-2, -1).shape == (6,) and x.unsqueeze(1).squeeze(-2).shape == (2, 3)
    with pytest.raises(ValueError, match="expand: cannot expand shape"):
        cr.tensor([1.0, 2.0, 3.0]).expand(-1, 3)


def test_integer_tensors_with_python_numbers_follow_pytorch_dtypes():
    torch = pytest.importorskip("torch")
    for expression in (lambda t: t * 0.5, lambda t: 0.5 + t, lambda t: t / 2, lambda t: 1 / t,
                       lambda t: t * 2, lambda t: t - 1, lambda t: t ** 2):
        ours = expression(cr.tensor([1, 2, 3]))
        theirs = expression(torch.tensor([1, 2, 3]))
        assert str(ours.dtype) == str(theirs.dtype).replace("torch.", ""), (ours, theirs)
        np.testing.assert_allclose(ours.numpy(), theirs.numpy())


def test_real_valued_functions_of_integer_tensors_are_float32_as_in_pytorch():
    torch = pytest.importorskip("torch")
    from chainrule.nn import functional as F

    ours, theirs = cr.tensor([1, 2, 3]), torch.tensor([1, 2, 3])
    for name in ("exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid"):
        result, expected = getattr(ours, name)(), getattr(theirs, name)()
        assert result.dtype == np.float32 and expected.dtype == torch.float32, name
        np.testing.assert_allclose(result.numpy(), expected.numpy(), rtol=1e-6)
    assert ours.softmax(0).dtype == ours.log_softmax(0).dtype == cr.exp(ours).dtype == np.float32
    for name in ("sigmoid", "tanh", "gelu", "elu", "selu", "softplus", "silu"):
        assert getattr(F, name)(ours).dtype == np.float32, name
    assert cr.tensor(np.arange(3.0)).exp().dtype == np.float64  # float64 stays float64
    assert ours.relu().dtype == ours.abs().dtype == np.int64  # these stay integer, as in PyTorch


def test_var_over_every_spelling_of_all_dims_equals_torch():
    torch = pytest.importorskip("torch")
    data = np.arange(6.0).reshape(2, 3)
    for dim in ((), [], [0, 1], (0, 1), 0, [1], -1):
        np.testing.assert_allclose(cr.tensor(data).var(dim).numpy(),
                                   torch.tensor(data).var(dim).numpy(), err_msg=str(dim))


def test_leaky_relu_of_an_integer_tensor_is_float32_not_truncated():
    from chainrule.nn import functional as F

    out = F.leaky_relu(cr.tensor([-300, 2]))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.numpy(), [-3.0, 2.0])
