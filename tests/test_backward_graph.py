"""Each op's backward_graph (its derivative written with chainrule ops, for create_graph=True) beside
its NumPy backward: the same numbers at first order on every op case, and the places where the
second derivative needs care (domains, 0-d outputs, third order).

tests/test_ops.py checks every case's second derivatives (gradgradcheck and PyTorch)."""

import warnings

import numpy as np
import pytest

import chainrule
from chainrule import handwritten, ops
from chainrule.autograd import grad
from chainrule.op_cases import all_cases

CASES = all_cases()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_backward_graph_gives_the_same_first_derivatives_as_backward(case):
    arrays = case.make_inputs()
    diff = [i for i in range(len(arrays)) if case.requires_grad(i)]
    upstream = np.random.default_rng(5).standard_normal(
        case.fn(chainrule, *[chainrule.tensor(a) for a in arrays]).shape)
    results = []
    for create_graph in (False, True):
        inputs = [chainrule.tensor(a, requires_grad=case.requires_grad(i)) for i, a in enumerate(arrays)]
        out = case.fn(chainrule, *inputs)
        grads = grad(out, [inputs[i] for i in diff], chainrule.tensor(upstream),
                     create_graph=create_graph, allow_unused=True)
        results.append([None if g is None else g.numpy() for g in grads])
    for i, fast, recorded in zip(diff, *results):
        assert (fast is None) == (recorded is None), f"input {i}"
        if fast is not None:
            np.testing.assert_allclose(recorded, fast, rtol=1e-12, atol=1e-14, err_msg=f"input {i}")


def _second_derivatives(lib, a, b, v, w1, w2):
    """d/d(a, b, v) of <w1, dL/da> + <w2, dL/db> for L = <a ** b, v>."""
    make = chainrule.tensor if lib is chainrule else lib.tensor
    a, b, v = (make(x, requires_grad=True) for x in (a, b, v))
    ga, gb = lib.autograd.grad(a**b, [a, b], v, create_graph=True)
    total = (ga * make(w1)).sum() + (gb * make(w2)).sum()
    return [s.numpy() if lib is chainrule else s.detach().numpy() for s in
            lib.autograd.grad(total, [a, b, v])]


def test_pow_at_a_zero_base_keeps_the_second_derivatives_that_exist():
    # 0 ** b: backward gives dL/db = 0 where a == 0 and b >= 0, and dL/da = 0 where b == 0. Its
    # backward_graph feeds those masked branches a safe base, so that log(0) and 0 ** -1 cannot
    # leak nan into the second derivative. PyTorch's where() lets them leak: it answers nan at
    # every a == 0 below, and for dL/dv where a == b == 0.
    torch = pytest.importorskip("torch")
    a = np.array([0.0, 0.0, 0.0, 1.5, 0.0, 2.0])
    b = np.array([0.0, 2.0, 1.0, 0.0, 3.0, 0.5])
    v = np.array([0.3, -1.2, 0.7, 0.9, 1.1, -0.4])
    w1, w2 = np.arange(1.0, 7.0), np.arange(2.0, 8.0)
    ours = _second_derivatives(chainrule, a, b, v, w1, w2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = _second_derivatives(torch, a, b, v, w1, w2)
    for name, o, t in zip(("a", "b", "v"), ours, theirs):
        assert np.all(np.isfinite(o)), (name, o)
        finite = np.isfinite(t)
        np.testing.assert_allclose(o[finite], t[finite], rtol=1e-12, err_msg=name)
    # where a == 0 and the derivatives exist, worked by hand: y = a^2 at a = 0 has y_aa = 2 and
    # y_ab = y_bb = 0 (a^2 log a -> 0); y = a^3 has all three 0. Second derivative w.r.t. a is
    # v (w1 y_aa + w2 y_ab), w.r.t. b is v (w1 y_ab + w2 y_bb).
    assert ours[0][1] == pytest.approx(v[1] * w1[1] * 2) and ours[1][1] == 0
    assert ours[0][4] == 0 and ours[1][4] == 0


def test_a_zero_dim_output_saved_for_backward_is_in_the_graph():
    # np.sqrt of a 0-d array is a NumPy scalar, not an array: the engine makes it an array, and
    # what forward saved must be that same array, or backward_graph would see a constant.
    x = chainrule.tensor(2.25, dtype="float64", requires_grad=True)
    (dy,) = grad(x.sqrt(), x, create_graph=True)
    (d2y,) = grad(dy, x)
    assert dy.item() == pytest.approx(1 / 3)  # 1 / (2 sqrt(x))
    assert d2y.item() == pytest.approx(-1 / (4 * 1.5**3))  # -1 / (4 y^3)


THIRD_ORDER = [
    ("sigmoid", lambda lib, x: x.sigmoid()),
    ("tanh", lambda lib, x: x.tanh()),
    ("log_softmax", lambda lib, x: x.log_softmax(1)),
    ("softmax", lambda lib, x: x.softmax(0)),
    ("gelu", lambda lib, x: lib.nn.functional.gelu(x)),
    ("gelu tanh", lambda lib, x: lib.nn.functional.gelu(x, approximate="tanh")),
    ("softplus", lambda lib, x: lib.nn.functional.softplus(x)),
    ("silu", lambda lib, x: lib.nn.functional.silu(x)),
    ("x ** 3 / sqrt", lambda lib, x: (x**3 + 2.0) / (x * x + 1.0).sqrt()),
    ("sin cos exp", lambda lib, x: x.sin() * x.cos().exp()),
    ("matmul", lambda lib, x: (x @ x.T).sigmoid()),
    ("max dim and getitem", lambda lib, x: x.max(dim=1)[0][1:] ** 3),
]


@pytest.mark.parametrize("fn", [f for _, f in THIRD_ORDER], ids=[n for n, _ in THIRD_ORDER])
def test_third_derivatives_equal_pytorch(fn):
    torch = pytest.importorskip("torch")
    x0 = np.random.default_rng(2).standard_normal((3, 4))
    found = []
    for lib in (chainrule, torch):
        x = (chainrule.tensor if lib is chainrule else torch.tensor)(x0, requires_grad=True)
        y = fn(lib, x)
        (g1,) = lib.autograd.grad(y.sum(), x, create_graph=True)
        (g2,) = lib.autograd.grad((g1 * g1).sum(), x, create_graph=True)
        (g3,) = lib.autograd.grad((g2 * x).sum(), x)
        found.append(g3.numpy() if lib is chainrule else g3.detach().numpy())
    np.testing.assert_allclose(found[0], found[1], rtol=1e-9, atol=1e-12)


def test_the_seed_layer_backward_graph_reproduces_its_wrong_backward():
    # SeedSigmoidLayer is known wrong (gradcheck catches it); its backward_graph computes the same
    # wrong formula, so the mistake looks the same with create_graph=True.
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s) for s in ((5, 2), (10, 2), (10,))]
    upstream = chainrule.tensor(rng.standard_normal((5, 10)))
    results = []
    for create_graph in (False, True):
        inputs = [chainrule.tensor(a, requires_grad=True) for a in arrays]
        out = handwritten.SeedSigmoidLayer.apply(*inputs)
        results.append([g.numpy() for g in grad(out, inputs, upstream, create_graph=create_graph)])
    for fast, recorded in zip(*results):
        np.testing.assert_allclose(recorded, fast, rtol=1e-12)
    assert handwritten.SeedSigmoidLayer.backward_graph is not None


def test_index_put_names_a_bad_index():
    values = chainrule.tensor(np.ones((2, 2)), requires_grad=True)
    with pytest.raises(ValueError, match=r"index_put: cannot add values of shape \(2, 2\)"):
        ops.IndexPut.apply(values, (3, 4), np.array([0, 5]))


def _flip(lib, x):
    return x.flip(0) if lib is not chainrule else x[chainrule.tensor([2, 1, 0])]


AT_KINKS = [  # inputs on the kinks of the ops (or of their slopes), where conventions decide
    ("relu at 0", lambda lib, x: x.relu(), [0.0, 1.0, -1.0]),
    ("abs at 0", lambda lib, x: x.abs(), [0.0, 1.0, -1.0]),
    ("leaky_relu at 0", lambda lib, x: lib.nn.functional.leaky_relu(x, 0.1), [0.0, 1.0, -1.0]),
    ("clamp at its bounds", lambda lib, x: x.clamp(-0.5, 0.5), [-0.5, 0.5, 0.2]),
    ("max of ties", lambda lib, x: x.max(), [1.0, 1.0, 0.5]),
    ("maximum of ties", lambda lib, x: lib.maximum(x, _flip(lib, x)), [1.0, 2.0, 1.0]),
    ("elu at 0", lambda lib, x: lib.nn.functional.elu(x, 1.3), [0.0, 1.0, -1.0]),
    ("selu at 0", lambda lib, x: lib.nn.functional.selu(x), [0.0, 1.0, -1.0]),
    ("softplus at its threshold", lambda lib, x: lib.nn.functional.softplus(x, 1.0, 2.0),
     [3.0, 1.0, 2.0]),
    ("huber_loss at delta", lambda lib, x: lib.nn.functional.huber_loss(x, x * 0, reduction="none"),
     [1.0, -1.0, 0.5]),
    ("sqrt at 0", lambda lib, x: x.sqrt(), [0.0, 1.0, 4.0]),
    ("log at 0", lambda lib, x: x.log(), [0.0, 1.0, 4.0]),
]


@pytest.mark.parametrize("fn, x0", [(f, x) for _, f, x in AT_KINKS], ids=[n for n, _, _ in AT_KINKS])
def test_second_derivatives_at_kinks_follow_pytorch(fn, x0):
    # e.g. ELU's slope is alpha at x == 0 (backward takes the left side) but its derivative there
    # is 0 (PyTorch's second derivative takes the right side): followed, as PyTorch's convention.
    torch = pytest.importorskip("torch")
    found = []
    for lib in (chainrule, torch):
        make = chainrule.tensor if lib is chainrule else lib.tensor
        x = make(np.array(x0), requires_grad=True)
        y = fn(lib, x)
        v = make(np.linspace(0.5, 1.5, y.numel()).reshape(tuple(y.shape)), requires_grad=True)
        (g,) = lib.autograd.grad(y, x, v, create_graph=True)
        total = (g * make(np.array([1.0, 2.0, 3.0]))).sum()
        seconds = lib.autograd.grad(total, [x, v], allow_unused=True)
        found.append([np.zeros(t.shape) if s is None else
                      (s.numpy() if lib is chainrule else s.detach().numpy(force=True))
                      for s, t in zip(seconds, (x, v))])
    for name, ours, theirs in zip(("x", "v"), *found):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=0, err_msg=name)
