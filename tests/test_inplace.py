"""In-place changes (x += y, x.add_(y), x[i] = v) and the check that an op's saved values are intact.

Each program runs in both libraries with the same code, compared value by value and gradient by
gradient: the in-place changes must mean what they mean in PyTorch.
"""

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")

X = np.array([0.5, -1.5, 2.0, 0.25])
W = np.array([1.5, 0.5, -2.0, 3.0])


def _both(program):
    """Run program(lib, x, w) in both libraries from the same float64 leaves; return
    (ours, theirs), each (output array, x.grad, w.grad)."""
    results = []
    for lib in (cr, torch):
        x = lib.tensor(X.copy(), requires_grad=True)
        w = lib.tensor(W.copy(), requires_grad=True)
        out = program(lib, x, w)
        out.sum().backward()
        grads = [None if t.grad is None else np.array(t.grad.detach().numpy() if lib is torch
                                                        else t.grad.numpy()) for t in (x, w)]
        results.append((np.array(out.detach().numpy()), *grads))
    return results


def _plus_equals(lib, x, w):
    y = x * 2
    y += w
    return y * y


def _times_equals_tensor(lib, x, w):
    y = x.exp()
    z = y * 1
    z *= w
    z /= 2.0
    z -= x
    return z


def _methods(lib, x, w):
    y = x * w
    y.add_(w, alpha=0.5)
    y.sub_(x)
    y.mul_(3.0)
    y.clamp_(-2.0, 4.0)
    return y


def _setitem(lib, x, w):
    y = x * 1
    y[1:3] = w[:2] * 4
    y[0] = 7.0
    return y * w


def _indexed_augmented(lib, x, w):
    y = x * 1
    y[1:] -= w[1:]  # getitem, in-place on the view, setitem
    y[y > 1.0] *= 2.0  # boolean mask
    return y * x


def _view_changed_in_place(lib, x, w):
    y = x * 1
    part = y[:2]
    part *= w[:2]  # changes y's memory: y must see it, in values and in the graph
    return y * y


def _copy_and_fill(lib, x, w):
    y = x * 1
    y[2:].copy_(w[:2])
    z = (x * 1)
    z.fill_(1.5)
    return y + z


@pytest.mark.parametrize("program", [_plus_equals, _times_equals_tensor, _methods, _setitem,
                                     _indexed_augmented, _view_changed_in_place, _copy_and_fill])
def test_in_place_changes_in_the_graph_equal_torch(program):
    ours, theirs = _both(program)
    for name, a, b in zip(("output", "x.grad", "w.grad"), ours, theirs):
        if b is None:
            assert a is None or not a.any(), name
            continue
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("lib", [cr, torch], ids=["chainrule", "torch"])
def test_changing_a_value_an_op_saved_is_caught_at_backward(lib):
    x = lib.tensor(X.copy(), requires_grad=True)
    y = x.sigmoid()  # saves its output
    y.mul_(2)  # allowed ...
    with pytest.raises(RuntimeError, match="in-?place operation"):
        y.sum().backward()  # ... but its backward would use the new values

    c = lib.tensor(X.copy())  # a constant that Mul saves
    w = lib.tensor(W.copy(), requires_grad=True)
    loss = (c * w).sum()
    with lib.no_grad():
        c += 1
    with pytest.raises(RuntimeError, match="in-?place operation"):
        loss.backward()


def test_a_change_through_data_is_caught_too():
    # Stricter than PyTorch, which does not see changes made through .data: chainrule stamps the
    # memory itself, so the gradient can never silently use the new numbers.
    w = cr.tensor(W.copy(), requires_grad=True)
    loss = (w * w).sum()
    w.data.mul_(10)
    with pytest.raises(RuntimeError, match="Mul saved for its backward"):
        loss.backward()


def test_changing_after_backward_is_fine_and_the_version_counts():
    w = cr.tensor(W.copy(), requires_grad=True)
    (w * w).sum().backward()
    assert w._version == 0
    with cr.no_grad():
        w -= 0.1 * w.grad  # the tutorial's update: in place, so w itself changes
        w.grad.zero_()
    np.testing.assert_allclose(w.numpy(), W - 0.1 * 2 * W)
    assert w._version == 1 and not w.grad.numpy().any()
    (w * w).sum().backward()  # a new graph saves the new values: no complaint


def test_the_tutorial_update_through_data_and_no_grad_changes_the_parameter():
    model = cr.nn.Linear(3, 1)
    weight_before = model.weight.numpy().copy()
    identity = id(model.weight)
    loss = model(cr.tensor(np.ones((2, 3), dtype=np.float32))).sum()
    loss.backward()
    with cr.no_grad():
        for p in model.parameters():
            p -= 0.5 * p.grad
    assert id(model.weight) == identity  # the same Parameter, changed in place
    np.testing.assert_allclose(model.weight.numpy(), weight_before - 0.5 * 2.0, rtol=1e-6)
    for p in model.parameters():
        p.data += -0.5 * p.grad  # the .data spelling
    np.testing.assert_allclose(model.weight.numpy(), weight_before - 2.0, rtol=1e-6)


def test_bad_in_place_changes_get_one_sentence():
    leaf = cr.tensor(X.copy(), requires_grad=True)
    with pytest.raises(RuntimeError, match="add_: this is a leaf tensor that requires grad"):
        leaf.add_(1.0)
    with pytest.raises(RuntimeError, match="setitem: this is a leaf tensor that requires grad"):
        leaf[0] = 1.0
    ints = cr.tensor([1, 2, 3])
    with pytest.raises(RuntimeError, match="float.* cannot be written into this int64 tensor"):
        ints += 0.5
    with pytest.raises(RuntimeError, match="cannot change the shape"):
        cr.tensor([1.0, 2.0]).add_(cr.tensor([[1.0], [2.0]]))
    expanded = cr.tensor([1.0, 2.0]).expand(3, 2)
    with pytest.raises(RuntimeError, match="cannot be written.*clone"):
        expanded.add_(1.0)
    reshaped = (leaf * 1).reshape(2, 2)
    with pytest.raises(RuntimeError, match="view.*out of place"):
        reshaped += 1.0
    with pytest.raises(ValueError, match=r"setitem: cannot assign a value of shape \(3,\)"):
        cr.tensor([1.0, 2.0])[:] = np.ones(3)


def test_in_place_on_ints_and_views_under_no_grad_behaves_as_numpy_would():
    t = cr.tensor([[1, 2], [3, 4]])
    t[0] += 10
    t[:, 1] = 0
    t *= 2
    np.testing.assert_array_equal(t.numpy(), [[22, 0], [6, 0]])
    base = cr.tensor([1.0, 2.0, 3.0])
    view = base[1:]
    view.add_(1.0)  # a view: the base sees it, as in PyTorch
    np.testing.assert_array_equal(base.numpy(), [1.0, 3.0, 4.0])


def _review_cases(lib):
    """Programs a review found wrong once (each compared with torch below)."""
    out = []
    x = lib.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], requires_grad=True)
    y = x * 1
    picked = y[:, [0, 2]]  # an index array: a copy, never a view of y
    picked.add_(10)
    out.append(y.detach().numpy().copy())
    z = lib.zeros(3)
    z[0].add_(1)  # one element by an int: a view, as in PyTorch
    z[1].fill_(7)
    out.append(z.numpy().copy())
    x = lib.tensor([0.5, 1.0], requires_grad=True)
    y = x * 1
    c = lib.zeros(2)
    c.copy_(y)  # c gets a node of its own, not y's
    seen = []
    c.register_hook(lambda g: seen.append(g.detach().numpy().copy()))
    (c * 2 + y * 3).sum().backward()
    out += [seen[0], x.grad.numpy().copy()]
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.retain_grad()
    y.mul_(3)  # retain_grad follows the tensor to its new value
    (y * y).sum().backward()
    out.append(y.grad.numpy().copy())
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    w = lib.tensor([3.0, 4.0], requires_grad=True)
    y = x * w
    y.retain_grad()
    (y * y).sum().backward(inputs=[y, w])  # a target's gradient is not added twice
    out.append(y.grad.numpy().copy())
    x = lib.tensor([0.5, 1.0], requires_grad=True)
    y = x * 2
    y.zero_()  # still in the graph, with a zero gradient
    (y + x).sum().backward()
    out.append(x.grad.numpy().copy())
    return out


def test_what_a_review_found_now_equals_torch():
    for a, b in zip(_review_cases(cr), _review_cases(torch), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12)


@pytest.mark.parametrize("lib", [cr, torch], ids=["chainrule", "torch"])
def test_parameters_changed_by_a_step_init_or_load_are_caught_in_a_kept_graph(lib):
    w = lib.tensor([1.0, 2.0], requires_grad=True)
    optimizer = lib.optim.SGD([w], lr=1.0)
    loss = (w * w).sum()
    loss.backward(retain_graph=True)
    optimizer.step()
    with pytest.raises(RuntimeError, match="in-?place operation"):
        loss.backward()
    layer = lib.nn.Linear(2, 1)
    x = lib.tensor([[1.0, 2.0]], requires_grad=True)
    out = layer(x).sum()
    lib.nn.init.constant_(layer.weight, 3.0)
    with pytest.raises(RuntimeError, match="in-?place operation"):
        out.backward()
    out = layer(x).sum()
    layer.load_state_dict(lib.nn.Linear(2, 1).state_dict())
    with pytest.raises(RuntimeError, match="in-?place operation"):
        out.backward()


def test_a_hook_that_refers_to_its_tensor_does_not_keep_it_alive():
    import gc
    import weakref

    x = cr.tensor([1.0, 2.0], requires_grad=True)
    x.register_hook(lambda g, x=x: g * 2)
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [4.0, 8.0])
    ref = weakref.ref(x)
    del x
    gc.collect()
    assert ref() is None
