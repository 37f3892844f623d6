"""Tests for chainrule.optim: trajectories equal to torch.optim, steps worked by hand, the state
dict round trip, argument checks and zero_grad."""

import numpy as np
import pytest

import chainrule as cr
from chainrule import optim
from chainrule.nn import Parameter

STEPS = 25


# --------------------------------------------------------------------------------------------
# A small problem, built twice: in chainrule and in torch, from the same float64 arrays
# --------------------------------------------------------------------------------------------


def make_problem(seed=0):
    rng = np.random.default_rng(seed)
    return {
        "W": rng.normal(size=(3, 4)),
        "b": rng.normal(size=3),
        "x": rng.normal(size=(6, 4)),
        "y": rng.uniform(-0.5, 0.5, size=(6, 3)),
    }


def loss_chainrule(W, b, data):
    x, y = cr.tensor(data["x"], dtype="float64"), cr.tensor(data["y"], dtype="float64")
    return (((x @ W.T + b).tanh() - y) ** 2).mean()


def loss_torch(torch, W, b, data):
    x, y = torch.tensor(data["x"]), torch.tensor(data["y"])
    return (((x @ W.T + b).tanh() - y) ** 2).mean()


def param_spec(W, b, grouped):
    """The params argument: a plain list, or two groups where the second overrides lr."""
    if grouped:
        return [{"params": [W]}, {"params": [b], "lr": 0.003}]
    return [W, b]


def torch_kwargs(kwargs):
    """chainrule and torch share argument names; torch gets its single-tensor path (foreach=False),
    the loop chainrule runs (chainrule accepts foreach=False too)."""
    return dict(kwargs, foreach=False)


CASES = [
    ("SGD", dict(lr=0.1), False),
    ("SGD", dict(lr=0.1, momentum=0.9), False),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.5), False),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True), False),
    ("SGD", dict(lr=0.1, momentum=0.5, weight_decay=0.1), False),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01, maximize=True), False),
    ("SGD", dict(lr=0.1, momentum=0.9), True),
    ("Adam", dict(lr=0.01), False),
    ("Adam", dict(lr=0.01, weight_decay=0.1), False),
    ("Adam", dict(lr=0.01, amsgrad=True), False),
    ("Adam", dict(lr=0.02, betas=(0.5, 0.9), eps=1e-3, amsgrad=True, weight_decay=0.05), False),
    ("Adam", dict(lr=0.01, maximize=True), False),
    ("Adam", dict(lr=0.01), True),
    ("AdamW", dict(lr=0.01), False),
    ("AdamW", dict(lr=0.01, weight_decay=0.1, amsgrad=True), False),
    ("AdamW", dict(lr=0.01, maximize=True), True),
    ("RMSprop", dict(), False),
    ("RMSprop", dict(lr=0.01, alpha=0.9), False),
    ("RMSprop", dict(lr=0.01, momentum=0.9), False),
    ("RMSprop", dict(lr=0.01, centered=True), False),
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5, weight_decay=0.1), False),
    ("RMSprop", dict(lr=0.01, maximize=True, eps=1e-4), True),
    ("Adagrad", dict(lr=0.1), False),
    ("Adagrad", dict(lr=0.1, lr_decay=0.1), False),
    ("Adagrad", dict(lr=0.1, weight_decay=0.1), False),
    ("Adagrad", dict(lr=0.1, initial_accumulator_value=0.5, eps=1e-6), False),
    ("Adagrad", dict(lr=0.1, maximize=True), True),
    ("Adadelta", dict(), False),
    ("Adadelta", dict(lr=0.5, rho=0.5), False),
    ("Adadelta", dict(lr=2.0, rho=0.95, eps=1e-4, weight_decay=0.1), False),
    ("Adadelta", dict(rho=1.0, maximize=True), False),  # rho = 1: v and u never move from 0
    ("Adadelta", dict(lr=0.5, rho=0.8), True),
    ("Adamax", dict(), False),
    ("Adamax", dict(lr=0.02, betas=(0.5, 0.9)), False),
    ("Adamax", dict(lr=0.02, eps=1e-2, weight_decay=0.1), False),
    ("Adamax", dict(lr=0.02, maximize=True), True),
    ("NAdam", dict(), False),
    ("NAdam", dict(lr=0.01, betas=(0.8, 0.99)), False),
    ("NAdam", dict(lr=0.01, momentum_decay=0.5), False),  # a fast momentum schedule
    ("NAdam", dict(lr=0.01, momentum_decay=0.0, eps=1e-3), False),
    ("NAdam", dict(lr=0.01, weight_decay=0.1), False),
    ("NAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True), False),
    ("NAdam", dict(lr=0.01, maximize=True, weight_decay=0.05, decoupled_weight_decay=True), True),
    ("RAdam", dict(lr=0.01), False),
    ("RAdam", dict(lr=0.01, betas=(0.9, 0.9)), False),  # rho_inf = 19: rectified from t = 6
    ("RAdam", dict(lr=0.01, betas=(0.5, 0.6)), False),  # rho_inf = 4: never rectified
    ("RAdam", dict(lr=0.01, weight_decay=0.1), False),
    ("RAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True), False),
    ("RAdam", dict(lr=0.01, eps=1e-3, maximize=True), False),
    ("RAdam", dict(lr=0.01, weight_decay=0.05, decoupled_weight_decay=True), True),
]


@pytest.fixture
def torch64():
    """torch with float64 as its default dtype for the test's duration. Its optimizers keep
    scalar state (NAdam's mu_product, the step counts) in tensors of the default dtype, so with
    float32 NAdam's product of momentum coefficients is rounded to float32 at every step, where
    chainrule keeps a Python float; in float64 both compute the same numbers."""
    torch = pytest.importorskip("torch")
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield torch
    torch.set_default_dtype(previous)


@pytest.mark.parametrize("foreach", [False, True])
@pytest.mark.parametrize("name, kwargs, grouped", CASES)
def test_trajectory_equals_torch(torch64, name, kwargs, grouped, foreach):
    """Step by step equal to torch's, each with its loop (foreach=False) and with its multi-tensor
    path against chainrule's flat one (foreach=True, chainrule.optim.flat)."""
    if foreach and name not in HAS_FOREACH:
        pytest.skip(f"{name} has no foreach path")
    torch = torch64
    data = make_problem()
    W, b = Parameter(data["W"].copy()), Parameter(data["b"].copy())
    tW = torch.tensor(data["W"], requires_grad=True)
    tb = torch.tensor(data["b"], requires_grad=True)
    ours = getattr(optim, name)(param_spec(W, b, grouped), foreach=foreach, **kwargs)
    theirs = getattr(torch.optim, name)(param_spec(tW, tb, grouped),
                                        **dict(torch_kwargs(kwargs), foreach=foreach))
    for step in range(STEPS):
        ours.zero_grad()
        loss_chainrule(W, b, data).backward()
        ours.step()
        theirs.zero_grad()
        loss_torch(torch, tW, tb, data).backward()
        theirs.step()
        for mine, reference in ((W, tW), (b, tb)):
            np.testing.assert_allclose(
                mine.numpy(), reference.detach().numpy(), rtol=1e-7, atol=1e-12,
                err_msg=f"{name}({kwargs}) differs from torch after step {step + 1}",
            )
    # The parameters really moved, so the comparison above compared something.
    assert np.abs(W.numpy() - data["W"]).max() > 1e-3
    assert W.dtype == np.float64


@pytest.mark.parametrize("name, kwargs", [(n, k) for n, k, grouped in CASES if not grouped])
def test_a_0d_parameter_follows_torch(torch64, name, kwargs):
    # A learnable scalar (a temperature, a scale): NumPy arithmetic on 0-d arrays gives scalars,
    # which in-place updates of the parameter and its buffers must not lose.
    torch = torch64
    data = make_problem()
    scale, W = Parameter(np.array(1.5)), Parameter(data["W"].copy())
    t_scale = torch.tensor(1.5, dtype=torch.float64, requires_grad=True)
    tW = torch.tensor(data["W"], requires_grad=True)
    ours = getattr(optim, name)([scale, W], **kwargs)
    theirs = getattr(torch.optim, name)([t_scale, tW], **torch_kwargs(kwargs))
    x, y = data["x"], data["y"]
    for step in range(STEPS):
        ours.zero_grad()
        (((cr.tensor(x) @ W.T).tanh() * scale - cr.tensor(y)) ** 2).mean().backward()
        ours.step()
        theirs.zero_grad()
        (((torch.tensor(x) @ tW.T).tanh() * t_scale - torch.tensor(y)) ** 2).mean().backward()
        theirs.step()
        np.testing.assert_allclose(scale.numpy(), t_scale.item(), rtol=1e-7,
                                   err_msg=f"{name}({kwargs}) differs after step {step + 1}")
    assert scale.shape == () and abs(scale.item() - 1.5) > 1e-3
    for value in ours.state_dict()["state"].get(0, {}).values():  # buffers: the parameter's shape
        assert not isinstance(value, np.ndarray) or value.shape == ()
    restored = getattr(optim, name)([scale, W], **kwargs)
    restored.load_state_dict(ours.state_dict())


# --------------------------------------------------------------------------------------------
# Steps worked by hand
# --------------------------------------------------------------------------------------------


def test_sgd_momentum_steps_by_hand():
    p = Parameter(np.array([1.0, -2.0]))
    opt = optim.SGD([p], lr=0.1, momentum=0.9)

    # Step 1: loss = sum(p^2), g = 2p = [2, -4]. The buffer starts at g: b = [2, -4].
    # p = p - lr * b = [1 - 0.2, -2 + 0.4] = [0.8, -1.6]
    (p * p).sum().backward()
    opt.step()
    np.testing.assert_allclose(opt.state[p]["momentum_buffer"], [2.0, -4.0], rtol=1e-15)
    np.testing.assert_allclose(p.numpy(), [0.8, -1.6], rtol=1e-15)

    # Step 2: g = 2p = [1.6, -3.2]; b = 0.9 * [2, -4] + [1.6, -3.2] = [3.4, -6.8]
    # p = [0.8 - 0.1 * 3.4, -1.6 + 0.1 * 6.8] = [0.46, -0.92]
    opt.zero_grad()
    (p * p).sum().backward()
    opt.step()
    np.testing.assert_allclose(opt.state[p]["momentum_buffer"], [3.4, -6.8], rtol=1e-14)
    np.testing.assert_allclose(p.numpy(), [0.46, -0.92], rtol=1e-14)


def test_adam_step_by_hand():
    p = Parameter(np.array([1.0, -3.0]))
    opt = optim.Adam([p], lr=0.1, betas=(0.9, 0.999), eps=1e-8)

    # loss = sum(c * p) with c = [0.5, 2], so g = c = [0.5, 2].
    # m = 0.9 * 0 + 0.1 * g = [0.05, 0.2]
    # v = 0.999 * 0 + 0.001 * g^2 = [0.00025, 0.004]
    # bias corrections at t = 1: 1 - 0.9 = 0.1 and 1 - 0.999 = 0.001
    # m_hat = m / 0.1 = [0.5, 2];  sqrt(v_hat) = sqrt(v / 0.001) = sqrt([0.25, 4]) = [0.5, 2]
    # p = p - 0.1 * m_hat / (sqrt(v_hat) + 1e-8)
    #   = [1 - 0.1 * 0.5 / (0.5 + 1e-8), -3 - 0.1 * 2 / (2 + 1e-8)]  (the first step is about lr)
    c = cr.tensor([0.5, 2.0], dtype="float64")
    (c * p).sum().backward()
    opt.step()
    assert opt.state[p]["step"] == 1
    np.testing.assert_allclose(opt.state[p]["exp_avg"], [0.05, 0.2], rtol=1e-15)
    np.testing.assert_allclose(opt.state[p]["exp_avg_sq"], [0.00025, 0.004], rtol=1e-13)
    expected = [1 - 0.1 * 0.5 / (0.5 + 1e-8), -3 - 0.1 * 2 / (2 + 1e-8)]
    np.testing.assert_allclose(p.numpy(), expected, rtol=1e-14)


def test_adamw_decay_is_applied_to_the_parameter_not_the_gradient():
    # With a zero gradient Adam's update is 0 / (0 + eps) = 0, so only the decay acts:
    # AdamW: p = p * (1 - lr * wd) = 2 * (1 - 0.1 * 0.5) = 1.9.
    # Adam (coupled): g = 0 + wd * p = 1, so its first step is about lr: p = 2 - 0.1 = 1.9 too,
    # but on the second step with p = 1.9, AdamW shrinks by the factor 0.95 again (1.805).
    p = Parameter(np.array([2.0]))
    opt = optim.AdamW([p], lr=0.1, weight_decay=0.5)
    for expected in (2.0 * 0.95, 2.0 * 0.95 * 0.95):
        p.grad = cr.zeros(1, dtype="float64")
        opt.step()
        np.testing.assert_allclose(p.numpy(), [expected], rtol=1e-15)


def test_adadelta_step_by_hand():
    p = Parameter(np.array([1.0, -2.0]))
    opt = optim.Adadelta([p], lr=1.0, rho=0.9, eps=1e-6)

    # loss = sum(c * p) with c = [0.5, 2], so g = c.
    # v = 0.9 * 0 + 0.1 * g^2 = [0.025, 0.4]
    # delta = sqrt(u + eps) / sqrt(v + eps) * g, with u = 0:
    #       = [sqrt(1e-6) / sqrt(0.025001) * 0.5, sqrt(1e-6) / sqrt(0.400001) * 2]
    #       = [1e-3 / 0.1581170 * 0.5, 1e-3 / 0.6324563 * 2] = [0.00316221, 0.00316227]
    #   (the first step is about sqrt(eps / (1 - rho)) * sign(g), whatever the size of g)
    # u = 0.9 * 0 + 0.1 * delta^2
    # p = p - 1.0 * delta
    c = cr.tensor([0.5, 2.0], dtype="float64")
    (c * p).sum().backward()
    opt.step()
    delta = np.array([1e-3 / np.sqrt(0.025001) * 0.5, 1e-3 / np.sqrt(0.400001) * 2])
    np.testing.assert_allclose(delta, [0.00316221, 0.00316227], rtol=1e-5)  # (6 digits)
    assert opt.state[p]["step"] == 1
    np.testing.assert_allclose(opt.state[p]["square_avg"], [0.025, 0.4], rtol=1e-15)
    np.testing.assert_allclose(opt.state[p]["acc_delta"], 0.1 * delta**2, rtol=1e-14)
    np.testing.assert_allclose(p.numpy(), [1.0 - delta[0], -2.0 - delta[1]], rtol=1e-15)

    # Step 2, same g: v = 0.9 * [0.025, 0.4] + 0.1 * [0.25, 4] = [0.0475, 0.76]
    # delta2 = sqrt(0.1 * delta^2 + eps) / sqrt(v + eps) * g: u, the steps so far, now sets the scale.
    opt.step()
    v = np.array([0.0475, 0.76])
    delta2 = np.sqrt(0.1 * delta**2 + 1e-6) / np.sqrt(v + 1e-6) * np.array([0.5, 2.0])
    np.testing.assert_allclose(p.numpy(), [1.0 - delta[0] - delta2[0], -2.0 - delta[1] - delta2[1]],
                               rtol=1e-14)


def test_radam_steps_by_hand():
    # A constant gradient g = c = [0.5, -2]: then m = (1 - beta1^t) * g, so m_hat = g exactly,
    # and v = (1 - beta2^t) * g^2, so sqrt(1 - beta2^t) / (sqrt(v) + eps) = 1 / (|g| + eps').
    p = Parameter(np.array([1.0, -3.0]))
    opt = optim.RAdam([p], lr=0.1, betas=(0.9, 0.999), eps=1e-8)
    c = np.array([0.5, -2.0])
    rho_inf = 2 / (1 - 0.999) - 1  # = 1999
    expected = np.array([1.0, -3.0])
    for t in range(1, 7):
        p.grad = cr.tensor(c)
        opt.step()
        rho_t = rho_inf - 2 * t * 0.999**t / (1 - 0.999**t)
        if t <= 5:
            # rho_t = 1, 2, 3, 4, 5 (up to rounding: 4.9999...): not above 5, so no adaptive
            # step yet: p = p - lr * m_hat = p - 0.1 * g
            assert rho_t <= 5
            expected = expected - 0.1 * c
        else:
            # t = 6: rho_6 = 1999 - 12 * 0.999^6 / (1 - 0.999^6) = 5.99416 > 5: rectified.
            # r = sqrt((5.99416 - 4) * (5.99416 - 2) * 1999 / (1995 * 1997 * 5.99416)) = 0.0258211
            # l = sqrt(1 - 0.999^6) / (sqrt(v) + 1e-8) = 1 / (|g| + 1e-8 / sqrt(1 - 0.999^6))
            # p = p - lr * m_hat * l * r = p - 0.1 * sign(g) * 0.0258211 (about)
            assert rho_t == pytest.approx(5.994163751655833, rel=1e-12)
            r = np.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            assert r == pytest.approx(0.02582111280185855, rel=1e-12)
            bias_correction2 = 1 - 0.999**6
            adaptive = np.sqrt(bias_correction2) / (np.sqrt(bias_correction2 * c**2) + 1e-8)
            expected = expected - 0.1 * c * adaptive * r
        np.testing.assert_allclose(p.numpy(), expected, rtol=1e-14, err_msg=f"step {t}")
    np.testing.assert_allclose(p.numpy() - (np.array([1.0, -3.0]) - 0.5 * c),
                               -0.1 * np.sign(c) * 0.02582111280185855, rtol=1e-6)  # (eps)


# --------------------------------------------------------------------------------------------
# State dict
# --------------------------------------------------------------------------------------------

ROUND_TRIP = [
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True)),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("AdamW", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, momentum=0.5, centered=True)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01)),
    ("Adadelta", dict(lr=0.5, weight_decay=0.01)),
    ("Adamax", dict(lr=0.01)),
    ("NAdam", dict(lr=0.01, decoupled_weight_decay=True, weight_decay=0.1)),
    ("RAdam", dict(lr=0.01)),
]


def run_steps(opt, W, b, data, steps):
    for _ in range(steps):
        opt.zero_grad()
        loss_chainrule(W, b, data).backward()
        opt.step()


def assert_plain(value):
    """Only arrays, plain numbers, bools, strings, tuples, lists and dicts: savable without pickle."""
    if isinstance(value, dict):
        for key, item in value.items():
            assert isinstance(key, (int, str))
            assert_plain(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            assert_plain(item)
    else:
        assert value is None or isinstance(value, (np.ndarray, int, float, bool, str)), type(value)
        assert not isinstance(value, cr.Tensor)


@pytest.mark.parametrize("name, kwargs", ROUND_TRIP)
def test_state_dict_round_trip_continues_bit_identically(name, kwargs):
    data = make_problem(seed=1)
    W, b = Parameter(data["W"].copy()), Parameter(data["b"].copy())
    opt = getattr(optim, name)(param_spec(W, b, grouped=True), **kwargs)
    run_steps(opt, W, b, data, 5)
    saved = opt.state_dict()
    assert_plain(saved)
    W2, b2 = Parameter(W.numpy().copy()), Parameter(b.numpy().copy())

    run_steps(opt, W, b, data, 5)  # the uninterrupted run

    restored = getattr(optim, name)(param_spec(W2, b2, grouped=True), lr=123.0)
    restored.load_state_dict(saved)
    assert restored.param_groups[1]["lr"] == 0.003  # options come from the saved groups
    run_steps(restored, W2, b2, data, 5)
    np.testing.assert_array_equal(W2.numpy(), W.numpy())
    np.testing.assert_array_equal(b2.numpy(), b.numpy())


def test_state_dict_layout():
    W, b = Parameter(np.ones((3, 4))), Parameter(np.ones(3))
    opt = optim.Adam([{"params": [W]}, {"params": [b], "lr": 0.5}], lr=0.01)
    (W.sum() * 2).backward()  # only W gets a gradient, so only W gets state
    opt.step()
    saved = opt.state_dict()
    assert list(saved["state"]) == [0]
    assert saved["state"][0]["step"] == 1
    assert set(saved["state"][0]) == {"step", "exp_avg", "exp_avg_sq"}
    assert isinstance(saved["state"][0]["exp_avg"], np.ndarray)
    assert saved["param_groups"][0]["params"] == [0]
    assert saved["param_groups"][1]["params"] == [1]
    assert saved["param_groups"][1]["lr"] == 0.5
    assert saved["param_groups"][0]["betas"] == (0.9, 0.999)
    # The snapshot does not follow later steps.
    before = saved["state"][0]["exp_avg"].copy()
    opt.step()
    np.testing.assert_array_equal(saved["state"][0]["exp_avg"], before)


def test_load_state_dict_accepts_string_keys_and_casts_to_the_parameter_dtype():
    W = Parameter(np.ones(3, dtype=np.float32))
    opt = optim.SGD([W], lr=0.1, momentum=0.9)
    saved = {
        "state": {"0": {"momentum_buffer": np.array([1.0, 2.0, 3.0])}},
        "param_groups": [dict(opt.state_dict()["param_groups"][0], momentum=0.5)],
    }
    opt.load_state_dict(saved)
    buf = opt.state[W]["momentum_buffer"]
    assert buf.dtype == np.float32
    np.testing.assert_array_equal(buf, [1.0, 2.0, 3.0])
    assert opt.param_groups[0]["momentum"] == 0.5
    assert opt.param_groups[0]["params"][0] is W


def test_load_state_dict_rejects_a_different_layout():
    W, b = Parameter(np.ones(3)), Parameter(np.ones(2))
    saved = optim.SGD([W, b]).state_dict()
    with pytest.raises(ValueError, match="has 1 parameter groups, but this SGD has 2"):
        optim.SGD([{"params": [W]}, {"params": [b]}]).load_state_dict(saved)
    with pytest.raises(ValueError, match="group 0 has 2 parameters, but this SGD's group 0 has 1"):
        optim.SGD([W]).load_state_dict(saved)
    with pytest.raises(ValueError, match="expected a dict with 'state' and 'param_groups'"):
        optim.SGD([W]).load_state_dict({"state": {}})
    bad = {"state": {0: {"momentum_buffer": np.ones(5)}}, "param_groups": saved["param_groups"]}
    with pytest.raises(ValueError, match="saved 'momentum_buffer' of parameter 0 has shape"):
        optim.SGD([W, b]).load_state_dict(bad)


# --------------------------------------------------------------------------------------------
# Parameters, groups, state and zero_grad
# --------------------------------------------------------------------------------------------


def test_zero_grad_set_to_none():
    p = Parameter(np.ones(3))
    opt = optim.SGD([p], lr=0.1)
    (p * 3.0).sum().backward()
    opt.zero_grad()  # set_to_none=True by default
    assert p.grad is None
    p_before = p.numpy().copy()
    opt.step()  # a parameter without a gradient is skipped
    np.testing.assert_array_equal(p.numpy(), p_before)


def test_zero_grad_to_zeros_keeps_the_gradient_array():
    p = Parameter(np.ones(3))
    opt = optim.SGD([p], lr=0.1, weight_decay=0.5)
    (p * 3.0).sum().backward()
    grad = p.grad
    opt.zero_grad(set_to_none=False)
    assert p.grad is grad
    np.testing.assert_array_equal(p.grad.numpy(), np.zeros(3))
    # A zero gradient is still a gradient: weight decay moves p = 1 - 0.1 * (0 + 0.5 * 1) = 0.95.
    opt.step()
    np.testing.assert_allclose(p.numpy(), [0.95] * 3, rtol=1e-15)
    # The next backward adds to the zeros.
    (p * 3.0).sum().backward()
    np.testing.assert_array_equal(p.grad.numpy(), [3.0] * 3)


ALL = ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Adamax", "NAdam", "RAdam"]


@pytest.mark.parametrize("name", ALL)
def test_parameters_without_grad_are_skipped_and_get_no_state(name):
    W, b = Parameter(np.ones(3)), Parameter(np.ones(2))
    opt = getattr(optim, name)([W, b], lr=0.1, **({"momentum": 0.9} if name == "SGD" else {}))
    (W * W).sum().backward()
    opt.step()
    np.testing.assert_array_equal(b.numpy(), np.ones(2))
    assert opt.state[b] == {}
    assert opt.state[W] != {}
    assert not np.array_equal(W.numpy(), np.ones(3))


@pytest.mark.parametrize("name", ALL)
def test_float32_parameters_stay_float32(name):
    p = Parameter(np.ones(4, dtype=np.float32))
    opt = getattr(optim, name)([p], lr=0.1, weight_decay=0.1)
    for _ in range(3):
        opt.zero_grad()
        (p * p).sum().backward()
        opt.step()
    assert p.numpy().dtype == np.float32
    assert all(v.dtype == np.float32 for v in opt.state[p].values() if isinstance(v, np.ndarray))


def test_state_is_keyed_by_parameter_in_registration_order():
    params = [Parameter(np.ones(2)) for _ in range(4)]
    opt = optim.Adam([{"params": params[:2]}, {"params": params[2:]}])
    assert list(opt.state) == params
    for p in reversed(params):  # steps in another order do not reorder the state
        p.grad = cr.ones(2, dtype="float64")
    opt.step()
    assert list(opt.state) == params


def test_a_buffer_is_created_when_its_option_is_switched_on_later():
    p = Parameter(np.array([1.0, 2.0]))
    opt = optim.RMSprop([p], lr=0.01)
    for _ in range(2):
        opt.zero_grad()
        (p * p).sum().backward()
        opt.step()
    assert "momentum_buffer" not in opt.state[p]
    opt.param_groups[0]["momentum"] = 0.9
    before = p.numpy().copy()
    opt.zero_grad()
    (p * p).sum().backward()
    opt.step()
    # The new buffer starts at 0, so after this step b = g / avg and p moved by -lr * b.
    buf = opt.state[p]["momentum_buffer"]
    assert np.all(buf > 0)
    np.testing.assert_allclose(p.numpy(), before - 0.01 * buf, rtol=1e-15)


def test_param_groups_fill_in_defaults():
    W, b = Parameter(np.ones(2)), Parameter(np.ones(2))
    opt = optim.SGD([{"params": W}, {"params": [b], "momentum": 0.5}], lr=0.1, momentum=0.9)
    assert opt.param_groups[0]["params"] == [W]
    assert opt.param_groups[0]["momentum"] == 0.9
    assert opt.param_groups[1]["momentum"] == 0.5
    assert opt.param_groups[1]["lr"] == 0.1
    c = Parameter(np.ones(2))
    opt.add_param_group({"params": [c], "lr": 0.01})
    assert opt.param_groups[2]["lr"] == 0.01 and opt.param_groups[2]["momentum"] == 0.9
    assert c in opt.state


def test_group_lr_is_used():
    # Two groups with lr 0.1 and 0.01 and the same gradient 1: steps of 0.1 and 0.01.
    W, b = Parameter(np.zeros(1)), Parameter(np.zeros(1))
    opt = optim.SGD([{"params": [W]}, {"params": [b], "lr": 0.01}], lr=0.1)
    (W + b).sum().backward()
    opt.step()
    np.testing.assert_allclose([W.numpy()[0], b.numpy()[0]], [-0.1, -0.01], rtol=1e-15)


def test_step_returns_the_closure_loss():
    p = Parameter(np.array([3.0]))
    opt = optim.SGD([p], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss

    with cr.no_grad():  # the closure records its graph even here
        loss = opt.step(closure)
    assert loss.item() == 9.0
    np.testing.assert_allclose(p.numpy(), [3.0 - 0.25 * 6.0], rtol=1e-15)


# --------------------------------------------------------------------------------------------
# Argument checks
# --------------------------------------------------------------------------------------------

BAD_ARGUMENTS = [
    (optim.SGD, dict(lr=-0.1), ValueError,
     r"The 'lr' parameter of SGD must be a float in the range \[0, inf\)\. Got -0.1 instead\."),
    (optim.SGD, dict(momentum=1.5), ValueError,
     r"The 'momentum' parameter of SGD must be a float in the range \[0, 1\)\. Got 1.5 instead\."),
    (optim.SGD, dict(momentum=-0.5), ValueError, r"'momentum' parameter of SGD .* Got -0.5"),
    (optim.SGD, dict(dampening=2), ValueError, r"'dampening' parameter of SGD .* range \[0, 1\]"),
    (optim.SGD, dict(weight_decay=-1e-4), ValueError, r"'weight_decay' parameter of SGD"),
    (optim.SGD, dict(lr="fast"), TypeError, r"'lr' parameter of SGD must be a float .* Got 'fast'"),
    (optim.SGD, dict(momentum=float("nan")), ValueError, r"'momentum' .* Got nan instead"),
    (optim.SGD, dict(nesterov=1), TypeError,
     r"The 'nesterov' parameter of SGD must be a bool\. Got 1 instead\."),
    (optim.SGD, dict(nesterov=True), ValueError,
     r"The 'nesterov' parameter of SGD requires momentum > 0 and dampening == 0\. "
     r"Got momentum=0.0 and dampening=0.0 instead\."),
    (optim.SGD, dict(nesterov=True, momentum=0.9, dampening=0.1), ValueError,
     r"requires momentum > 0 and dampening == 0\. Got momentum=0.9 and dampening=0.1"),
    (optim.Adam, dict(betas=(0.9, 1.0)), ValueError,
     r"The 'betas\[1\]' parameter of Adam must be a float in the range \[0, 1\)\. Got 1.0"),
    (optim.Adam, dict(betas=(-0.1, 0.999)), ValueError, r"'betas\[0\]' parameter of Adam"),
    (optim.Adam, dict(betas=0.9), TypeError, r"'betas' parameter of Adam must be a pair"),
    (optim.Adam, dict(eps=-1e-8), ValueError, r"'eps' parameter of Adam .* \[0, inf\)"),
    (optim.Adam, dict(amsgrad="yes"), TypeError, r"'amsgrad' parameter of Adam must be a bool"),
    (optim.AdamW, dict(weight_decay=-0.01), ValueError, r"'weight_decay' parameter of AdamW"),
    (optim.RMSprop, dict(alpha=1.0), ValueError,
     r"The 'alpha' parameter of RMSprop must be a float in the range \[0, 1\)\. Got 1.0"),
    (optim.RMSprop, dict(momentum=-0.1), ValueError, r"'momentum' parameter of RMSprop"),
    (optim.RMSprop, dict(centered=None), TypeError, r"'centered' parameter of RMSprop .* bool"),
    (optim.Adagrad, dict(lr_decay=-1), ValueError, r"'lr_decay' parameter of Adagrad"),
    (optim.Adagrad, dict(initial_accumulator_value=-0.1), ValueError,
     r"'initial_accumulator_value' parameter of Adagrad"),
    (optim.Adagrad, dict(eps=True), TypeError, r"'eps' parameter of Adagrad .* Got True"),
    (optim.Adadelta, dict(rho=1.5), ValueError,
     r"The 'rho' parameter of Adadelta must be a float in the range \[0, 1\]\. Got 1.5 instead\."),
    (optim.Adadelta, dict(lr=-1.0), ValueError, r"'lr' parameter of Adadelta"),
    (optim.Adadelta, dict(eps=-1e-6), ValueError, r"'eps' parameter of Adadelta"),
    (optim.Adadelta, dict(weight_decay=-0.1), ValueError, r"'weight_decay' parameter of Adadelta"),
    (optim.Adadelta, dict(differentiable=True), ValueError,
     r"The 'differentiable' parameter of Adadelta must be False: chainrule runs the update outside "
     r"the graph, .* as a loop over the parameters or on a group at once \(foreach\)\. Got True "
     r"instead\."),
    (optim.Adadelta, dict(capturable=True), ValueError, r"'capturable' parameter of Adadelta"),
    (optim.Adamax, dict(betas=(0.9, 1.0)), ValueError, r"'betas\[1\]' parameter of Adamax"),
    (optim.Adamax, dict(betas="0.9"), TypeError, r"'betas' parameter of Adamax must be a pair"),
    (optim.Adamax, dict(eps=-1.0), ValueError, r"'eps' parameter of Adamax"),
    (optim.Adamax, dict(differentiable=True), ValueError,
     r"'differentiable' parameter of Adamax must be False:"),
    (optim.NAdam, dict(momentum_decay=-0.004), ValueError,
     r"The 'momentum_decay' parameter of NAdam must be a float in the range \[0, inf\)"),
    (optim.NAdam, dict(decoupled_weight_decay=1), TypeError,
     r"'decoupled_weight_decay' parameter of NAdam must be a bool"),
    (optim.NAdam, dict(betas=(1.0, 0.999)), ValueError, r"'betas\[0\]' parameter of NAdam"),
    (optim.NAdam, dict(foreach="yes"), TypeError, r"'foreach' parameter of NAdam must be a bool"),
    (optim.RAdam, dict(betas=(0.9, -0.1)), ValueError, r"'betas\[1\]' parameter of RAdam"),
    (optim.RAdam, dict(weight_decay=-1), ValueError, r"'weight_decay' parameter of RAdam"),
    (optim.RAdam, dict(maximize="no"), TypeError, r"'maximize' parameter of RAdam"),
    (optim.RAdam, dict(capturable=True), ValueError, r"'capturable' parameter of RAdam"),
    (optim.LBFGS, dict(lr=-1), ValueError, r"'lr' parameter of LBFGS"),
    (optim.LBFGS, dict(max_iter=0), ValueError,
     r"The 'max_iter' parameter of LBFGS must be an int in the range \[1, inf\)\. Got 0"),
    (optim.LBFGS, dict(max_eval=2.5), TypeError, r"'max_eval' parameter of LBFGS must be an int"),
    (optim.LBFGS, dict(history_size=0), ValueError, r"'history_size' parameter of LBFGS"),
    (optim.LBFGS, dict(tolerance_grad=-1e-7), ValueError, r"'tolerance_grad' parameter of LBFGS"),
    (optim.LBFGS, dict(tolerance_change=-1.0), ValueError, r"'tolerance_change' parameter of LBFGS"),
    (optim.LBFGS, dict(line_search_fn="armijo"), ValueError,
     r"The 'line_search_fn' parameter of LBFGS must be one of None, 'strong_wolfe'\. "
     r"Got 'armijo' instead\."),
]


@pytest.mark.parametrize("cls, kwargs, error, message", BAD_ARGUMENTS)
def test_bad_hyper_parameters_are_named(cls, kwargs, error, message):
    with pytest.raises(error, match=message):
        cls([Parameter(np.ones(2))], **kwargs)


def test_bad_group_options_are_checked_too():
    W, b = Parameter(np.ones(2)), Parameter(np.ones(2))
    with pytest.raises(ValueError, match=r"The 'lr' parameter of Adam .* Got -1.0 instead"):
        optim.Adam([{"params": [W]}, {"params": [b], "lr": -1.0}])
    opt = optim.SGD([W], lr=0.1)
    with pytest.raises(ValueError, match=r"'momentum' parameter of SGD .* Got 2 instead"):
        opt.add_param_group({"params": [b], "momentum": 2})


def test_bad_params_are_named():
    W = Parameter(np.ones(2))
    with pytest.raises(ValueError, match="SGD got an empty parameter list"):
        optim.SGD([])
    with pytest.raises(TypeError, match=r"Got a single Tensor instead; wrap it in a list"):
        optim.SGD(W)
    with pytest.raises(TypeError, match="a set has no fixed order"):
        optim.SGD({W})
    with pytest.raises(TypeError, match="SGD can only optimize Tensors. Got ndarray instead"):
        optim.SGD([np.ones(2)])
    with pytest.raises(ValueError, match="can't optimize a non-leaf Tensor"):
        optim.SGD([W * 2])
    with pytest.raises(ValueError, match=r"appears more than once in the parameter groups"):
        optim.SGD([{"params": [W]}, {"params": [W]}])
    with pytest.raises(ValueError, match="a parameter group needs a 'params' entry"):
        optim.SGD([{"lr": 0.1}])


def test_named_parameters_are_accepted_and_their_names_kept_as_in_torch():
    torch = pytest.importorskip("torch")
    model = cr.nn.Sequential(cr.nn.Linear(3, 2), cr.nn.Tanh(), cr.nn.Linear(2, 1))
    twin = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Tanh(), torch.nn.Linear(2, 1))
    ours = optim.SGD(model.named_parameters(), lr=0.1)
    theirs = torch.optim.SGD(twin.named_parameters(), lr=0.1)
    assert all(a is b for a, b in zip(ours.param_groups[0]["params"], model.parameters()))
    assert len(ours.param_groups[0]["params"]) == 4
    assert ours.state_dict()["param_groups"][0]["param_names"] == \
        theirs.state_dict()["param_groups"][0]["param_names"]


# --------------------------------------------------------------------------------------------
# LBFGS: step(closure) against torch, iteration for iteration
# --------------------------------------------------------------------------------------------


def rosenbrock(x):
    """The Rosenbrock function in 4 dimensions; its minimum is 0 at (1, 1, 1, 1)."""
    return (100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum()


LBFGS_CASES = [
    ("tanh", dict()),
    ("tanh", dict(line_search_fn="strong_wolfe")),
    ("tanh", dict(lr=0.5, history_size=2, max_iter=4)),
    ("tanh", dict(history_size=3, max_iter=8, max_eval=9, line_search_fn="strong_wolfe")),
    ("rosenbrock", dict(line_search_fn="strong_wolfe")),
    ("rosenbrock", dict(history_size=3, max_iter=7, line_search_fn="strong_wolfe")),
    ("rosenbrock", dict(max_iter=5, max_eval=6, line_search_fn="strong_wolfe")),
    ("rosenbrock", dict(lr=0.1, history_size=2)),
    ("rosenbrock", dict(tolerance_change=1e-3, tolerance_grad=1e-2, max_iter=50,
                        line_search_fn="strong_wolfe")),
]


def lbfgs_problem(kind, lib, tensor, param):
    """(parameters, loss function) for one of the LBFGS test problems, in chainrule or torch.
    The tanh regression has a 0-d scale and a parameter the loss does not use (no gradient)."""
    if kind == "rosenbrock":
        x = param(np.array([-1.2, 1.0, -0.5, 0.8]))
        return [x], lambda: rosenbrock(x)
    rng = np.random.default_rng(3)  # 40 samples and an L2 penalty: well conditioned
    W, b, scale, unused = (param(rng.normal(size=(3, 4))), param(rng.normal(size=3)),
                           param(np.array(0.7)), param(np.ones(2)))
    x, y = tensor(rng.normal(size=(40, 4))), tensor(rng.uniform(-0.5, 0.5, size=(40, 3)))
    return [W, b, scale, unused], lambda: (
        (((x @ W.T + b).tanh() * scale - y) ** 2).mean()
        + 0.01 * ((W * W).sum() + (b * b).sum() + scale * scale))


@pytest.mark.parametrize("kind, kwargs", LBFGS_CASES)
def test_lbfgs_equals_torch_step_for_step(torch64, kind, kwargs):
    torch = torch64
    ours, our_loss = lbfgs_problem(kind, cr, cr.tensor, lambda a: Parameter(a.copy()))
    theirs, their_loss = lbfgs_problem(kind, torch, torch.tensor,
                                       lambda a: torch.tensor(a, requires_grad=True))
    opt, their_opt = optim.LBFGS(ours, **kwargs), torch.optim.LBFGS(theirs, **kwargs)

    def closure():
        opt.zero_grad()
        loss = our_loss()
        loss.backward()
        return loss

    def their_closure():
        their_opt.zero_grad()
        loss = their_loss()
        loss.backward()
        return loss

    start = [p.numpy().copy() for p in ours]
    for step in range(6):
        loss, their_loss_value = opt.step(closure), their_opt.step(their_closure)
        message = f"LBFGS({kwargs}) on {kind} differs from torch after step {step + 1}"
        # (Both problems are well conditioned: on a flat valley, L-BFGS divides by differences of
        # nearly equal gradients, and the two libraries' last-bit differences would grow.)
        np.testing.assert_allclose(loss.item(), their_loss_value.item(), rtol=1e-9, atol=1e-12,
                                   err_msg=message)  # (atol: Rosenbrock's loss goes to 0)
        for mine, reference in zip(ours, theirs):
            np.testing.assert_allclose(mine.numpy(), reference.detach().numpy(), rtol=1e-9,
                                       atol=1e-12, err_msg=message)
        # The same number of iterations and closure calls: the same decisions were taken.
        our_state, their_state = opt.state[ours[0]], their_opt.state[theirs[0]]
        assert our_state["n_iter"] == their_state["n_iter"], message
        assert our_state["func_evals"] == their_state["func_evals"], message
    assert np.abs(ours[0].numpy() - start[0]).max() > 1e-2  # it did move
    if kind == "tanh":
        np.testing.assert_array_equal(ours[3].numpy(), np.ones(2))  # no gradient: zeros, no move
        assert ours[2].shape == ()


def test_lbfgs_solves_a_quadratic_exactly():
    # f(x) = 0.5 x.A.x - c.x has its minimum where A x = c. On a quadratic, BFGS with exact line
    # searches ends in at most n steps; with the strong Wolfe search and n = 3 a few more.
    A = np.array([[3.0, 1.0, 0.0], [1.0, 4.0, 1.0], [0.0, 1.0, 2.0]])
    c = np.array([1.0, -2.0, 0.5])
    x = Parameter(np.zeros(3))
    opt = optim.LBFGS([x], line_search_fn="strong_wolfe", tolerance_grad=1e-12,
                      tolerance_change=1e-15)

    def closure():
        opt.zero_grad()
        loss = 0.5 * (x @ (cr.tensor(A) @ x)) - (cr.tensor(c) * x).sum()
        loss.backward()
        return loss

    opt.step(closure)
    # Near the minimum f changes by about |x - x*|^2, which float64 resolves down to
    # |x - x*| ~ 1e-8 only (f's own rounding is 1e-16): the search stops there.
    np.testing.assert_allclose(x.numpy(), np.linalg.solve(A, c), rtol=1e-7)
    assert np.abs(x.grad.numpy()).max() < 1e-7
    assert opt.state[x]["n_iter"] <= 10


def test_lbfgs_returns_at_once_at_a_stationary_point():
    x = Parameter(np.ones(2))
    opt = optim.LBFGS([x])
    calls = []

    def closure():
        calls.append(1)
        opt.zero_grad()
        loss = ((x - 1.0) ** 2).sum()  # gradient 0 at x = 1
        loss.backward()
        return loss

    assert opt.step(closure).item() == 0.0
    assert len(calls) == 1 and opt.state[x] == {"func_evals": 1, "n_iter": 0}
    np.testing.assert_array_equal(x.numpy(), np.ones(2))


@pytest.mark.parametrize("kwargs", [dict(), dict(line_search_fn="strong_wolfe", history_size=2)])
def test_lbfgs_state_dict_round_trip_continues_bit_identically(kwargs):
    x = Parameter(np.array([-1.2, 1.0, -0.5, 0.8]))
    opt = optim.LBFGS([x], max_iter=4, **kwargs)

    def closure_for(param, optimizer):
        def closure():
            optimizer.zero_grad()
            loss = rosenbrock(param)
            loss.backward()
            return loss
        return closure

    for _ in range(3):
        opt.step(closure_for(x, opt))
    saved = opt.state_dict()
    assert_plain(saved)
    assert set(saved["state"][0]) == {"func_evals", "n_iter", "d", "t", "old_dirs", "old_stps",
                                      "ro", "H_diag", "prev_flat_grad", "prev_loss"}
    x2 = Parameter(x.numpy().copy())
    for _ in range(3):
        opt.step(closure_for(x, opt))
    restored = optim.LBFGS([x2], max_iter=4, **kwargs)
    restored.load_state_dict(saved)
    for _ in range(3):
        restored.step(closure_for(x2, restored))
    np.testing.assert_array_equal(x2.numpy(), x.numpy())
    assert restored.state[x2]["n_iter"] == opt.state[x]["n_iter"]


def test_lbfgs_misuse_is_named():
    W, b = Parameter(np.ones(2)), Parameter(np.ones(2))
    with pytest.raises(TypeError, match=r"LBFGS.step needs a closure"):
        optim.LBFGS([W]).step()
    with pytest.raises(ValueError, match=r"LBFGS optimizes one parameter group only \(no "
                                         r"per-group options\), so it cannot take a second one"):
        optim.LBFGS([{"params": [W]}, {"params": [b]}])
    with pytest.raises(ValueError, match=r"one parameter group only"):
        optim.LBFGS([W]).add_param_group({"params": [b]})


# --------------------------------------------------------------------------------------------
# PyTorch's signatures, and its implementation switches
# --------------------------------------------------------------------------------------------

OPTIMIZERS = ALL + ["LBFGS"]


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_signature_is_torchs(name):
    # The same argument names, order, kinds (positional or keyword-only) and defaults, so a
    # PyTorch call works unchanged (or is refused by name, for an unsupported switch).
    torch = pytest.importorskip("torch")
    import inspect

    def described(cls):
        return [(p.name, p.kind, p.default)
                for p in inspect.signature(cls.__init__).parameters.values()]

    assert described(getattr(optim, name)) == described(getattr(torch.optim, name))


SWITCHES = {  # the implementation switches each optimizer has in PyTorch
    "SGD": ("foreach", "differentiable", "fused"),
    "Adam": ("foreach", "capturable", "differentiable", "fused"),
    "AdamW": ("foreach", "capturable", "differentiable", "fused"),
    "RMSprop": ("foreach", "capturable", "differentiable"),
    "Adagrad": ("foreach", "differentiable", "fused"),
    "Adadelta": ("foreach", "capturable", "differentiable"),
    "Adamax": ("foreach", "capturable", "differentiable"),
    "NAdam": ("foreach", "capturable", "differentiable"),
    "RAdam": ("foreach", "capturable", "differentiable"),
}


HAS_FOREACH = ALL  # every update is written once for both (_update)


@pytest.mark.parametrize("name", ALL)
def test_implementation_switches_are_accepted_at_their_defaults_only(name):
    cls = getattr(optim, name)
    p = Parameter(np.ones(2))
    for switch in SWITCHES[name]:
        cls([p], **{switch: False})  # False is what chainrule does
        if switch in ("foreach", "fused"):
            cls([p], **{switch: None})
        if switch == "foreach" and name in HAS_FOREACH:
            assert cls([p], foreach=True).foreach is True
            continue
        with pytest.raises(ValueError, match=rf"The '{switch}' parameter of {name} must be "
                                             r"(None or )?False: chainrule runs the update outside "
                                             r"the graph"):
            cls([p], **{switch: True})


STATE_KEYS = [("SGD", dict(momentum=0.9)), ("Adam", dict(amsgrad=True)), ("AdamW", dict()),
              ("RMSprop", dict(momentum=0.5, centered=True)), ("Adagrad", dict()),
              ("Adadelta", dict()), ("Adamax", dict()), ("NAdam", dict()), ("RAdam", dict())]


@pytest.mark.parametrize("name, kwargs", STATE_KEYS)
def test_state_and_group_keys_are_torchs(torch64, name, kwargs):
    # The same per-parameter state names (exp_avg, mu_product, acc_delta, ...) and group options
    # as torch.optim, so checkpoints read the same. (torch's groups also hold its switches:
    # foreach, fused, capturable, differentiable.)
    torch = torch64
    data = make_problem()
    W, b = Parameter(data["W"].copy()), Parameter(data["b"].copy())
    tW, tb = torch.tensor(data["W"], requires_grad=True), torch.tensor(data["b"], requires_grad=True)
    ours = getattr(optim, name)([W, b], lr=0.01, **kwargs)
    theirs = getattr(torch.optim, name)([tW, tb], lr=0.01, **kwargs)
    for _ in range(2):
        ours.zero_grad()
        loss_chainrule(W, b, data).backward()
        ours.step()
        theirs.zero_grad()
        loss_torch(torch, tW, tb, data).backward()
        theirs.step()
    mine, reference = ours.state_dict(), theirs.state_dict()
    for index in (0, 1):
        assert set(mine["state"][index]) == set(reference["state"][index])
        if name != "SGD":  # (SGD counts no steps)
            assert mine["state"][index]["step"] == reference["state"][index]["step"].item() == 2
    switches = {"foreach", "fused", "capturable", "differentiable"}
    assert set(mine["param_groups"][0]) == set(reference["param_groups"][0]) - switches


def test_lbfgs_keeps_float32_and_converges():
    # The 2-D Rosenbrock function from its classic start (-1.2, 1), in float32.
    x = Parameter(np.array([-1.2, 1.0], dtype=np.float32))
    opt = optim.LBFGS([x], line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = rosenbrock(x)
        loss.backward()
        return loss

    for _ in range(5):
        opt.step(closure)
    assert x.dtype == np.float32 and opt.state[x]["d"].dtype == np.float32
    np.testing.assert_allclose(x.numpy(), [1.0, 1.0], atol=1e-3)


# ----- foreach: a whole group as one flat vector (chainrule.optim.flat) --------------------------
FOREACH_CASES = [(name, kwargs, grouped) for name, kwargs, grouped in CASES if name in HAS_FOREACH]


def _foreach_run(name, kwargs, foreach, steps=6):
    """A few steps on four parameters (one 0-d, one without a gradient at every other step, and
    a state_dict round trip in the middle); every parameter and state array after each step."""
    rng = np.random.default_rng(3)
    params = [Parameter(rng.standard_normal(shape)) for shape in ((3, 4), (4,), (), (2, 3))]
    opt = getattr(optim, name)([{"params": params[:3]}, {"params": params[3:], "lr": 0.003}],
                               foreach=foreach, **kwargs)
    history = []
    for step in range(steps):
        opt.zero_grad()
        loss = (params[0].tanh().sum() * params[1].sum() + params[2] ** 2
                + (params[3] ** 3).sum() * (step % 2))  # params[3] idle at even steps: grad 0
        loss.backward()
        if step % 2 == 0:
            params[1].grad = None  # skipped at this step: the flat group is the other three
        opt.step()
        if step == 3:  # the state replaced by loaded copies: the flat arrays gathered again
            opt.load_state_dict(opt.state_dict())
        history.append([p.numpy().copy() for p in params]
                       + [np.array(v) for k in sorted(opt.state_dict()["state"])
                          for v in opt.state_dict()["state"][k].values()])
    return history, opt, params


@pytest.mark.parametrize("name, kwargs, grouped", FOREACH_CASES)
def test_foreach_equals_the_loop_to_the_last_bit(name, kwargs, grouped):
    """The same arithmetic element by element: bit-equal parameters and state at every step,
    through skipped gradients, a 0-d parameter, two groups and a state_dict reload."""
    looped, _, _ = _foreach_run(name, kwargs, foreach=False)
    flat, opt, params = _foreach_run(name, kwargs, foreach=True)
    for step, (a, b) in enumerate(zip(looped, flat)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y, err_msg=f"{name}({kwargs}) step {step + 1}")
    for p in params:  # each parameter's state keeps its shape (a view of the flat array)
        for value in opt.state[p].values():
            if isinstance(value, np.ndarray):
                assert value.shape == p.shape


def test_foreach_falls_back_to_the_loop_for_mixed_dtypes():
    """float32 and float64 parameters cannot share one flat array: the loop runs, same result."""
    results = {}
    for foreach in (False, True):
        a, b = Parameter(np.ones(3, np.float32)), Parameter(np.ones(2))
        opt = optim.Adam([a, b], lr=0.1, foreach=foreach)
        for _ in range(2):
            opt.zero_grad()
            ((a * a).sum() + (b * b).sum()).backward()
            opt.step()
        assert a.dtype == np.float32 and b.dtype == np.float64
        results[foreach] = (a.numpy(), b.numpy())
    for x, y in zip(results[False], results[True]):
        np.testing.assert_array_equal(x, y)


def test_a_copied_foreach_optimizer_keeps_updating_its_own_state():
    """deepcopy and pickle give the copy state arrays of its own (no flat arrays shared with, or
    detached from, them): its steps update the state it saves, as the loop's do."""
    import copy
    import pickle

    results = {}
    for foreach in (False, True):
        a, b = Parameter(np.ones(3)), Parameter(np.ones(2))
        opt = optim.Adam([a, b], lr=0.1, foreach=foreach)
        for _ in range(2):
            opt.zero_grad()
            ((a * a).sum() + (b ** 3).sum()).backward()
            opt.step()
        for clone in (copy.deepcopy(opt), pickle.loads(pickle.dumps(opt))):
            a2, b2 = clone.param_groups[0]["params"]
            before = clone.state[a2]["exp_avg"].copy()
            for step in range(3):
                clone.zero_grad()
                ((a2 * a2).sum() + (b2 ** 3).sum() * (step != 1)).backward()
                if step == 1:
                    b2.grad = None  # this step takes two sets (b2's step count falls behind)
                clone.step()
            assert not np.array_equal(clone.state[a2]["exp_avg"], before)
            saved = clone.state_dict()["state"]
            results.setdefault(foreach, []).append(
                [a2.numpy().copy(), b2.numpy().copy()]
                + [np.array(v) for k in sorted(saved) for v in saved[k].values()])
    for looped, flat in zip(results[False], results[True]):
        for x, y in zip(looped, flat):
            np.testing.assert_array_equal(x, y)


def _pull_each_towards_its_index(opt, params):
    """One step of the loss sum_k ||p_k - k||^2."""
    opt.zero_grad()
    sum(((p - k) ** 2).sum() for k, p in enumerate(params)).backward()
    opt.step()


def test_foreach_keeps_the_parameters_in_its_flat_vector_unless_something_else_holds_them():
    """After a foreach step each parameter's array is its piece of the group's flat vector (the
    update needs no copy back), except an array something else still holds (a Tensor sharing it,
    a NumPy view of it): that parameter keeps its own, and what holds it sees every update, as
    with the loop. An array a user assigns between steps is taken up. Bit-equal to the loop."""
    results = {}
    for foreach in (False, True):
        params = [Parameter(np.full((2, 3), 1.0 + k)) for k in range(4)]
        shared = params[1].data       # a Tensor sharing params[1]'s array
        row = params[2].numpy()[0]    # a NumPy view of params[2]'s array
        opt = optim.Adam(params, lr=0.1, foreach=foreach)
        for step in range(4):
            _pull_each_towards_its_index(opt, params)
            if step == 1:
                params[3].data = np.full((2, 3), -1.0)  # new numbers, assigned by a user
        if foreach:
            owners = [p.numpy().base for p in params]
            assert owners[0] is not None and owners[0] is owners[3] and owners[0].shape == (24,)
            assert owners[1] is None and owners[2] is None  # their own arrays, still shared
        np.testing.assert_array_equal(shared.numpy(), params[1].numpy())
        np.testing.assert_array_equal(row, params[2].numpy()[0])
        results[foreach] = [p.numpy().copy() for p in params]
    for x, y in zip(results[False], results[True]):
        np.testing.assert_array_equal(x, y)


def test_foreach_keeps_each_groups_flat_state_from_step_to_step():
    """Two groups: each keeps its flat arrays (state and parameters) between steps, so that a
    step gathers only the gradients."""
    params = [Parameter(np.ones(3)), Parameter(np.ones(2)), Parameter(np.ones(4)), Parameter(np.ones(1))]
    opt = optim.Adam([{"params": params[:2]}, {"params": params[2:], "lr": 0.01}], foreach=True)
    seen = []
    for _ in range(3):
        opt.zero_grad()
        sum((p * p).sum() for p in params).backward()
        opt.step()
        seen.append({key: (id(flat), id(flat.values[0])) for key, flat in opt._flat.items()})
    assert len(seen[0]) == 2 and seen[0] == seen[1] == seen[2]


def test_foreach_keeps_going_when_step_counts_differ():
    """A parameter without a gradient at one step falls a step behind; the flat update goes on
    for each set of equal step counts (PyTorch's foreach keeps a step per tensor), bit-equal to
    the loop, and a loaded state dict with a missing momentum buffer falls back to the loop."""
    results = {}
    for foreach in (False, True):
        params = [Parameter(np.full(3, 1.0 + k)) for k in range(4)]
        opt = optim.AdamW(params, lr=0.1, foreach=foreach)
        flat_steps = []
        for step in range(5):
            opt.zero_grad()
            sum((p * p).sum() for p in params).backward()
            if step == 1:
                params[2].grad = None
            opt.step()
            flat_steps.append(bool(opt._flat))
        results[foreach] = [p.numpy().copy() for p in params]
        if foreach:
            assert all(flat_steps)  # (two sets from the third step on)
            assert len(opt._flat) == 2
            opt.load_state_dict(opt.state_dict())
            assert opt._flat == {}
    for x, y in zip(results[False], results[True]):
        np.testing.assert_array_equal(x, y)
    for foreach in (False, True):  # None for one buffer, an array for another: the loop runs
        a, b = Parameter(np.ones(3)), Parameter(np.ones(2))
        opt = optim.SGD([a, b], lr=0.1, momentum=0.9, foreach=foreach)
        opt.load_state_dict({"state": {0: {"momentum_buffer": None}, 1: {"momentum_buffer": np.ones(2)}},
                             "param_groups": opt.state_dict()["param_groups"]})
        opt.zero_grad()
        ((a * a).sum() + (b * b).sum()).backward()
        opt.step()
        results[("sgd", foreach)] = (a.numpy().copy(), b.numpy().copy())
    for x, y in zip(results[("sgd", False)], results[("sgd", True)]):
        np.testing.assert_array_equal(x, y)


def test_foreach_takes_up_the_parameters_flat_vector_again_after_a_state_dict_load():
    """Loading a state dict drops the optimizer's flat state; the next step finds the parameters
    still the consecutive pieces of their flat vector and keeps using it (no parameter is left
    with a copy of its own to update), bit-equal to the loop."""
    results = {}
    for foreach in (False, True):
        params = [Parameter(np.full((2, 3), 1.0 + k)) for k in range(3)]
        opt = optim.Adam(params, lr=0.1, foreach=foreach)
        for step in range(4):
            _pull_each_towards_its_index(opt, params)
            if step == 1:
                flat = params[0].numpy().base
                opt.load_state_dict(opt.state_dict())
        if foreach:
            (state,) = opt._flat.values()
            assert state.loose == [] and all(p.numpy().base is flat for p in params)
        results[foreach] = [p.numpy().copy() for p in params]
    for x, y in zip(results[False], results[True]):
        np.testing.assert_array_equal(x, y)


def test_foreach_with_parameters_on_a_foreign_buffer_equals_the_loop():
    """A parameter whose array rests on a bytes buffer (np.frombuffer) or a memory map is not a
    piece of any flat vector of ours: foreach leaves it its array and copies, as the loop does."""
    results = {}
    for foreach in (False, True):
        params = [Parameter(np.zeros(4)) for _ in range(2)]
        params[0].data = np.frombuffer(bytearray(np.arange(8.0).tobytes()), dtype=np.float64)
        opt = optim.Adam(params, lr=0.1, foreach=foreach)
        for _ in range(3):
            opt.zero_grad()
            sum((p * p).sum() for p in params).backward()
            opt.step()
        results[foreach] = [p.numpy().copy() for p in params]
    for x, y in zip(results[False], results[True]):
        np.testing.assert_array_equal(x, y)


def test_foreach_counts_each_parameters_in_place_changes_apart():
    """The parameters share one flat vector after a foreach step, but the in-place checks count
    each one's changes apart, as for arrays of their own (and as PyTorch): changing the bias
    between a forward pass and its backward leaves the weight's op alone, changing the weight
    stops it; a parameter's _version goes on from its count before the move."""
    for foreach in (False, True):
        layer = cr.nn.Linear(3, 2)
        with cr.no_grad():
            layer.weight.mul_(1.0)  # a change before any step
        version = layer.weight._version
        assert version > 0
        opt = optim.SGD(layer.parameters(), lr=0.1, foreach=foreach)
        x = cr.ones(4, 3)
        layer(x).sum().backward()
        opt.step()
        assert layer.weight._version == version, foreach  # (a step is not counted: mark_step)
        out = layer(x)
        with cr.no_grad():
            layer.bias.add_(1.0)
        out.sum().backward()  # the weight's numbers are as the forward pass saw them: runs
        out = layer(x * x)
        with cr.no_grad():
            layer.weight[0, 0] += 1.0  # through a view of the weight
        with pytest.raises(RuntimeError, match="changed by an in-place operation"):
            out.sum().backward()


def test_foreach_with_two_parameters_tied_through_data_applies_both_updates_as_the_loop():
    results = {}
    for foreach in (False, True):
        a, b = Parameter(np.ones(3)), Parameter(np.zeros(3))
        b.data = a.data  # one array, two parameters
        opt = optim.SGD([a, b], lr=0.1, foreach=foreach)
        ((a * 1.0).sum() + (b * 2.0).sum()).backward()
        opt.step()
        results[foreach] = a.numpy().copy()
    np.testing.assert_array_equal(results[True], results[False])
    np.testing.assert_allclose(results[False], 1.0 - 0.1 * (1.0 + 2.0))


def test_foreach_with_an_empty_parameter_counts_its_changes_apart_and_finds_its_vector_again():
    """A parameter of size 0 sits in the flat vector where the next one starts; a change to it
    stops no op that saved another parameter, and after a state dict load the vector is still
    found (an empty piece's address is not compared)."""
    for foreach in (False, True):
        a, e, b = Parameter(np.arange(3.0)), Parameter(np.ones(0)), Parameter(np.arange(4.0))
        opt = optim.SGD([a, e, b], lr=0.1, foreach=foreach)
        for step in range(2):
            opt.zero_grad()
            ((a * a).sum() + (b * b).sum() + (e * 2).sum()).backward()
            opt.step()
            if step == 0:
                opt.load_state_dict(opt.state_dict())
        if foreach:
            (state,) = opt._flat.values()
            assert state.loose == []
        out = (a * a).sum()
        with cr.no_grad():
            e.add_(1.0)
        out.backward()  # runs: a did not change
        assert a._version == 0 and e._version == 1, foreach
