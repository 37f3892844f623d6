"""Every loss, as a module and as a function, in every reduction, against PyTorch in float64."""

import numpy as np
import pytest

import chainrule
from chainrule import nn
from chainrule.nn import functional as F

REDUCTIONS = ("mean", "sum", "none")


def _regression_data(rng):
    return 2 * rng.standard_normal((5, 3)), 2 * rng.standard_normal((5, 3))


def _probability_data(rng):
    return rng.uniform(0.02, 0.98, (5, 3)), rng.uniform(0, 1, (5, 3))


def _logit_data(rng):
    return 3 * rng.standard_normal((5, 3)), rng.integers(0, 2, (5, 3)).astype(np.float64)


def _class_data(rng):
    return 3 * rng.standard_normal((6, 4)), rng.integers(0, 4, 6)


def _log_prob_data(rng):
    logits, target = _class_data(rng)
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True)), target


# (our module, torch module name, kwargs, data maker, whether the target gets a gradient)
LOSSES = [
    (nn.MSELoss, "MSELoss", {}, _regression_data, True),
    (nn.L1Loss, "L1Loss", {}, _regression_data, True),
    (nn.HuberLoss, "HuberLoss", {}, _regression_data, True),
    (nn.HuberLoss, "HuberLoss", {"delta": 0.5}, _regression_data, True),
    (nn.HuberLoss, "HuberLoss", {"delta": 2.5}, _regression_data, True),
    (nn.BCELoss, "BCELoss", {}, _probability_data, True),
    (nn.BCEWithLogitsLoss, "BCEWithLogitsLoss", {}, _logit_data, True),
    (nn.CrossEntropyLoss, "CrossEntropyLoss", {}, _class_data, False),
    (nn.NLLLoss, "NLLLoss", {}, _log_prob_data, False),
]
LOSS_IDS = [f"{name} {kwargs}" if kwargs else name for _, name, kwargs, _, _ in LOSSES]


def _pair(torch, target, grad):
    if target.dtype.kind in "iu":
        return chainrule.tensor(target), torch.tensor(target)
    return chainrule.tensor(target, requires_grad=grad), torch.tensor(target, requires_grad=grad)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("loss", LOSSES, ids=LOSS_IDS)
def test_loss_module_equals_torch(loss, reduction):
    torch = pytest.importorskip("torch")
    ours_cls, torch_name, kwargs, make_data, target_grad = loss
    x, target = make_data(np.random.default_rng(0))
    ours_x, theirs_x = chainrule.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ours_t, theirs_t = _pair(torch, target, target_grad)
    out = ours_cls(reduction=reduction, **kwargs)(ours_x, ours_t)
    expected = getattr(torch.nn, torch_name)(reduction=reduction, **kwargs)(theirs_x, theirs_t)
    assert out.shape == tuple(expected.shape) and out.dtype == np.float64
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=1e-9, atol=1e-12)
    upstream = np.random.default_rng(1).standard_normal(out.shape)  # random: exposes 'none'
    out.backward(upstream)
    expected.backward(torch.tensor(upstream))
    np.testing.assert_allclose(ours_x.grad.numpy(), theirs_x.grad.numpy(), rtol=1e-9, atol=1e-12)
    if target_grad:
        np.testing.assert_allclose(ours_t.grad.numpy(), theirs_t.grad.numpy(), rtol=1e-9, atol=1e-12)


FUNCTIONS = [
    ("mse_loss", {}, _regression_data),
    ("l1_loss", {}, _regression_data),
    ("huber_loss", {"delta": 0.7}, _regression_data),
    ("binary_cross_entropy", {}, _probability_data),
    ("binary_cross_entropy_with_logits", {}, _logit_data),
    ("cross_entropy", {}, _class_data),
    ("nll_loss", {}, _log_prob_data),
]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name,kwargs,make_data", FUNCTIONS, ids=[f[0] for f in FUNCTIONS])
def test_loss_function_with_array_target_equals_torch(name, kwargs, make_data, reduction):
    torch = pytest.importorskip("torch")
    x, target = make_data(np.random.default_rng(2))
    ours_x, theirs_x = chainrule.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out = getattr(F, name)(ours_x, target, reduction=reduction, **kwargs)  # target: a NumPy array
    expected = getattr(torch.nn.functional, name)(
        theirs_x, torch.tensor(target), reduction=reduction, **kwargs
    )
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=1e-9, atol=1e-12)
    upstream = np.random.default_rng(3).standard_normal(out.shape)
    out.backward(upstream)
    expected.backward(torch.tensor(upstream))
    np.testing.assert_allclose(ours_x.grad.numpy(), theirs_x.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_l1_and_huber_at_kinks_follow_torch():
    # d = 0 (sign(0) = 0) and |d| = delta exactly, where the pieces meet
    torch = pytest.importorskip("torch")
    x = np.array([0.0, 1.0, -1.0, 0.5, 3.0])
    t = np.array([0.0, 0.0, 0.0, 0.5, 1.0])
    for name, kwargs in [("l1_loss", {}), ("huber_loss", {"delta": 1.0}), ("huber_loss", {"delta": 2.0})]:
        ours_x, theirs_x = chainrule.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        out = getattr(F, name)(ours_x, t, reduction="sum", **kwargs)
        expected = getattr(torch.nn.functional, name)(theirs_x, torch.tensor(t), reduction="sum",
                                                      **kwargs)
        out.backward()
        expected.backward()
        np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=1e-12)
        np.testing.assert_allclose(ours_x.grad.numpy(), theirs_x.grad.numpy(), rtol=1e-12, err_msg=name)


def test_cross_entropy_at_logits_of_1000_is_finite_and_equals_torch():
    torch = pytest.importorskip("torch")
    x = np.array([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 999.0], [0.0, 0.0, -1000.0]])
    t = np.array([1, 1, 2])
    ours_x, theirs_x = chainrule.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out = nn.CrossEntropyLoss()(ours_x, t)
    expected = torch.nn.CrossEntropyLoss()(theirs_x, torch.tensor(t))
    out.backward()
    expected.backward()
    assert np.isfinite(out.numpy()) and np.isfinite(ours_x.grad.numpy()).all()
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=1e-9)
    np.testing.assert_allclose(ours_x.grad.numpy(), theirs_x.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_bce_with_logits_at_100_is_finite_and_equals_torch():
    torch = pytest.importorskip("torch")
    x = np.array([[100.0, -100.0], [-100.0, 100.0], [50.0, -0.5]])
    t = np.array([[0.0, 1.0], [0.0, 1.0], [1.0, 0.3]])
    ours_x, theirs_x = chainrule.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out = nn.BCEWithLogitsLoss(reduction="sum")(ours_x, t)
    expected = torch.nn.BCEWithLogitsLoss(reduction="sum")(theirs_x, torch.tensor(t))
    out.backward()
    expected.backward()
    assert np.isfinite(out.numpy()) and np.isfinite(ours_x.grad.numpy()).all()
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=1e-9)
    np.testing.assert_allclose(ours_x.grad.numpy(), theirs_x.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_log_softmax_then_nll_equals_cross_entropy():
    x, t = _class_data(np.random.default_rng(4))
    logits = chainrule.tensor(x)
    composed = nn.NLLLoss()(nn.LogSoftmax(dim=1)(logits), t)
    fused = nn.CrossEntropyLoss()(logits, t)
    np.testing.assert_allclose(composed.numpy(), fused.numpy(), rtol=1e-12)


def test_array_target_takes_the_input_dtype():
    x = chainrule.randn(4, 3)  # float32
    assert F.mse_loss(x, np.zeros((4, 3))).dtype == np.float32  # a float64 target does not promote


@pytest.mark.parametrize("cls", [nn.MSELoss, nn.L1Loss, nn.HuberLoss, nn.CrossEntropyLoss,
                                 nn.NLLLoss, nn.BCELoss, nn.BCEWithLogitsLoss])
def test_bad_reduction_is_named(cls):
    with pytest.raises(ValueError, match=f"'reduction' parameter of {cls.__name__} must be one of"):
        cls(reduction="average")


@pytest.mark.parametrize("name", [f[0] for f in FUNCTIONS])
def test_bad_reduction_in_function_is_named(name):
    with pytest.raises(ValueError, match=f"'reduction' parameter of {name} must be one of .* Got 'avg'"):
        getattr(F, name)(chainrule.zeros(2, 2), np.zeros(2, dtype=np.int64), reduction="avg")


@pytest.mark.parametrize("name", ["mse_loss", "l1_loss", "huber_loss", "binary_cross_entropy",
                                  "binary_cross_entropy_with_logits"])
def test_shape_mismatch_names_both_shapes(name):
    x = chainrule.full((4, 1), 0.5)
    with pytest.raises(ValueError, match=rf"{name}: input shape \(4, 1\) and target shape \(4,\) differ"):
        getattr(F, name)(x, np.full(4, 0.5, dtype=np.float32))


def test_class_target_errors():
    x = chainrule.zeros(3, 4)
    with pytest.raises(ValueError, match=r"cross_entropy: expected input of shape \(N, C\)"):
        F.cross_entropy(x, np.array([0, 1]))
    with pytest.raises(ValueError, match="target class 4 is out of range for 4 classes"):
        F.nll_loss(x, np.array([0, 4, 1]))
    with pytest.raises(TypeError, match="target must hold integer class indices"):
        F.nll_loss(x, np.array([0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match=r"class probabilities \(a floating dtype\) must have the "
                                         r"input's shape \(3, 4\). Got \(3,\) instead"):
        F.cross_entropy(x, np.array([0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match=r"input of shape \(3, 4, 2\) \(class dim 1\), the target of "
                                         r"class indices must have shape \(3, 2\). Got \(3,\)"):
        F.cross_entropy(chainrule.zeros(3, 4, 2), np.array([0, 1, 2]))
    with pytest.raises(ValueError, match=r"for input of shape \(4,\) \(class dim 0\).*shape \(\)"):
        F.nll_loss(chainrule.zeros(4), np.array([1]))
    with pytest.raises(ValueError, match="a 0-d input"):
        F.cross_entropy(chainrule.tensor(1.0), np.array(0))
    with pytest.raises(ValueError, match=r"ignore_index \(0\) applies to class indices only"):
        F.cross_entropy(x, np.full((3, 4), 0.25), ignore_index=0)
    with pytest.raises(ValueError, match=r"one weight per class: shape \(4,\) for an input of "
                                         r"shape \(3, 4, 2\). Got shape \(2,\)"):
        F.cross_entropy(chainrule.zeros(3, 4, 2), np.zeros((3, 2), dtype=int), weight=[1.0, 2.0])
    with pytest.raises(ValueError, match=r"binary_cross_entropy: weight of shape \(2,\) does not "
                                         r"broadcast to the input's shape \(4, 3\)"):
        F.binary_cross_entropy(chainrule.full((4, 3), 0.5), np.zeros((4, 3)), [1.0, 2.0])


def test_class_losses_of_one_sample_have_the_shapes_of_torch():
    torch = pytest.importorskip("torch")
    x = np.array([0.5, -1.0, 2.0])
    for reduction in REDUCTIONS:
        out = F.cross_entropy(chainrule.tensor(x), np.array(2), reduction=reduction)
        expected = torch.nn.functional.cross_entropy(torch.tensor(x), torch.tensor(2),
                                                     reduction=reduction)
        assert out.shape == tuple(expected.shape) == ()
        np.testing.assert_allclose(out.numpy(), expected.numpy(), rtol=1e-12)


def test_probabilities_promote_with_the_logits_as_in_torch():
    x = chainrule.zeros(2, 3, requires_grad=True)
    t = chainrule.tensor(np.full((2, 3), 1 / 3), requires_grad=True)  # float64: the loss is too
    loss = F.cross_entropy(x, t)
    assert loss.dtype == np.float64
    np.testing.assert_allclose(loss.item(), np.log(3), rtol=1e-6)
    loss.backward()
    assert x.grad.dtype == np.float32 and t.grad.dtype == np.float64  # each in its own dtype
    np.testing.assert_allclose(x.grad.numpy(), 0, atol=1e-7)  # softmax equals the target
    # an array target is taken in the logits' dtype, as in the other losses
    assert F.cross_entropy(x, np.full((2, 3), 1 / 3)).dtype == np.float32


def test_one_samples_label_may_be_a_numpy_integer():
    labels = np.array([0, 2, 1])
    x = chainrule.tensor([0.5, -1.0, 2.0])
    assert F.cross_entropy(x, labels[1]).item() == F.cross_entropy(x, np.array(2)).item()


def test_an_input_without_classes_is_named():
    for target in (np.zeros(2, dtype=int), np.zeros((2, 0))):
        with pytest.raises(ValueError, match=r"input of shape \(2, 0\) has no classes"):
            F.cross_entropy(chainrule.zeros(2, 0), target)
    with pytest.raises(ValueError, match="a 0-d input"):
        F.cross_entropy(chainrule.tensor(1.0), np.array(1.0))


def test_huber_delta_must_be_positive():
    with pytest.raises(ValueError, match="'delta' parameter of HuberLoss must be positive"):
        nn.HuberLoss(delta=0)
    with pytest.raises(ValueError, match="'delta' parameter of huber_loss must be positive. Got -1.0"):
        F.huber_loss(chainrule.zeros(2), chainrule.zeros(2), delta=-1.0)
    with pytest.raises(TypeError, match="'delta' parameter of huber_loss must be a real number. Got '1'"):
        F.huber_loss(chainrule.zeros(2), chainrule.zeros(2), delta="1")


def test_float32_loss_value_is_summed_accurately_over_many_elements():
    # Four million float32 squared differences: NumPy's pairwise sum stays near float32's own
    # precision; a running float32 dot product (BLAS sdot) would be off by about 1e-5.
    rng = np.random.default_rng(0)
    x = rng.standard_normal(4_000_000).astype(np.float32)
    exact = np.mean(x.astype(np.float64) ** 2)
    for loss in (F.mse_loss(chainrule.tensor(x), np.zeros_like(x)),
                 nn.MSELoss(reduction="sum")(chainrule.tensor(x), np.zeros_like(x)) / x.size):
        assert loss.dtype == np.float32
        assert abs(loss.item() - exact) / exact < 1e-6


def test_complex_mse_keeps_its_meaning_and_its_gradient():
    # sum of d^2, not of |d|^2; the gradient 2 d / n, scaled by a complex dL/dL as well
    x = chainrule.tensor(np.array([1 + 1j, 2 - 1j], np.complex128), requires_grad=True)
    loss = F.mse_loss(x, np.zeros(2, np.complex128))
    np.testing.assert_allclose(loss.numpy(), ((1 + 1j) ** 2 + (2 - 1j) ** 2) / 2)
    loss.backward()
    np.testing.assert_allclose(x.grad.numpy(), [1 + 1j, 2 - 1j])


def _class_data_one_ignored(rng):
    logits, target = _class_data(rng)
    target[1] = -100  # PyTorch's default ignore_index
    return logits, target


def _class_probability_data(rng):
    logits, _ = _class_data(rng)
    return logits, rng.dirichlet(np.ones(4), size=6)


def _per_position_class_data(rng):  # (N, C, d1, d2): a score vector per sample and position
    return 3 * rng.standard_normal((2, 4, 3, 2)), rng.integers(0, 4, (2, 3, 2))


def _per_position_probability_data(rng):
    return 3 * rng.standard_normal((2, 4, 3)), rng.dirichlet(np.ones(4), size=(2, 3)).transpose(0, 2, 1)


# (torch module name, its options given a library (chainrule or torch), data maker)
OPTIONS = [
    ("CrossEntropyLoss", lambda lib: {}, _class_probability_data),
    ("CrossEntropyLoss", lambda lib: {"weight": lib.tensor(np.array([0.5, 1.0, 2.0, 0.25])),
                                      "label_smoothing": 0.2}, _class_probability_data),
    ("CrossEntropyLoss", lambda lib: {"weight": lib.tensor(np.array([0.5, 1.0, 2.0, 0.25])),
                                      "ignore_index": 1}, _per_position_class_data),
    ("CrossEntropyLoss", lambda lib: {"weight": lib.tensor(np.array([0.5, 1.0, 2.0, 0.25]))},
     _per_position_probability_data),
    ("NLLLoss", lambda lib: {"ignore_index": 2}, _per_position_class_data),
    ("BCELoss", lambda lib: {"weight": lib.tensor(np.array([[0.5], [1.0], [2.0], [0.0], [3.0]]))},
     _probability_data),
    ("BCEWithLogitsLoss", lambda lib: {"weight": lib.tensor(np.array([0.5, 2.0, 1.0])),
                                       "pos_weight": lib.tensor(np.array([3.0, 1.0, 0.5]))},
     _logit_data),
    ("CrossEntropyLoss", lambda lib: {"weight": lib.tensor(np.array([0.5, 1.0, 2.0, 0.25]))},
     _class_data_one_ignored),
    ("CrossEntropyLoss", lambda lib: {"label_smoothing": 0.15}, _class_data),
    ("CrossEntropyLoss", lambda lib: {"weight": lib.tensor(np.array([0.5, 1.0, 2.0, 0.25])),
                                      "ignore_index": 3, "label_smoothing": 0.3}, _class_data),
    ("NLLLoss", lambda lib: {"weight": lib.tensor(np.array([2.0, 1.0, 0.5, 1.5])),
                             "ignore_index": 0}, _log_prob_data),
    ("BCEWithLogitsLoss", lambda lib: {"pos_weight": lib.tensor(np.array([0.5, 2.0, 4.0]))},
     _logit_data),
]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name,options,make_data", OPTIONS,
                         ids=[f"{o[0]} {i}" for i, o in enumerate(OPTIONS)])
def test_loss_options_equal_torch(name, options, make_data, reduction):
    torch = pytest.importorskip("torch")
    x, target = make_data(np.random.default_rng(4))
    ours_x, theirs_x = chainrule.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ours_t, theirs_t = _pair(torch, target, target.dtype.kind == "f")
    out = getattr(nn, name)(reduction=reduction, **options(chainrule))(ours_x, ours_t)
    expected = getattr(torch.nn, name)(reduction=reduction, **options(torch))(theirs_x, theirs_t)
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=1e-9, atol=1e-12)
    upstream = np.random.default_rng(5).standard_normal(out.shape)
    out.backward(upstream)
    expected.backward(torch.tensor(upstream))
    np.testing.assert_allclose(ours_x.grad.numpy(), theirs_x.grad.numpy(), rtol=1e-9, atol=1e-12)
    if target.dtype.kind == "f":
        np.testing.assert_allclose(ours_t.grad.numpy(), theirs_t.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_every_target_ignored_gives_nan_and_a_zero_gradient_as_torch():
    x = chainrule.tensor(np.ones((3, 4)), requires_grad=True)
    for loss_fn in (F.cross_entropy, F.nll_loss):
        x.grad = None
        loss = loss_fn(x, np.array([-100, -100, -100]))
        assert np.isnan(loss.item())
        loss.backward()
        np.testing.assert_array_equal(x.grad.numpy(), np.zeros((3, 4)))


def test_class_weights_are_a_buffer_in_the_state_dict():
    loss_fn = nn.CrossEntropyLoss(weight=[1.0, 2.0, 3.0])
    np.testing.assert_array_equal(loss_fn.state_dict()["weight"], [1.0, 2.0, 3.0])
    assert "weight" not in nn.CrossEntropyLoss().state_dict()
    assert "pos_weight" in nn.BCEWithLogitsLoss(pos_weight=[2.0]).state_dict()
    assert "weight" in nn.BCEWithLogitsLoss([2.0]).state_dict()
    np.testing.assert_array_equal(nn.BCELoss(weight=[[0.5]]).state_dict()["weight"], [[0.5]])


def test_loss_option_errors_name_the_option_and_value():
    x, t = chainrule.tensor(np.zeros((2, 3))), np.array([0, 2])
    with pytest.raises(ValueError, match=r"'label_smoothing' parameter of CrossEntropyLoss.*1\.5"):
        nn.CrossEntropyLoss(label_smoothing=1.5)
    with pytest.raises(ValueError, match=r"label_smoothing.*-0\.1"):
        F.cross_entropy(x, t, label_smoothing=-0.1)
    with pytest.raises(ValueError, match=r"one weight per class: shape \(3,\).*Got shape \(2,\)"):
        F.cross_entropy(x, t, weight=[1.0, 2.0])
    with pytest.raises(ValueError, match=r"weight must be 1-D.*\(2, 3\)"):
        nn.NLLLoss(weight=np.ones((2, 3)))
    with pytest.raises(TypeError, match=r"'ignore_index' parameter of nll_loss must be an int"):
        F.nll_loss(x, t, ignore_index=1.5)
    with pytest.raises(ValueError, match=r"target class 7 is out of range for 3 classes.*ignore_index=-100"):
        F.cross_entropy(x, np.array([0, 7]))
    with pytest.raises(ValueError, match=r"pos_weight of shape \(2,\) does not broadcast to .*\(2, 3\)"):
        F.binary_cross_entropy_with_logits(x, np.zeros((2, 3)), pos_weight=[1.0, 2.0])


def test_pos_weight_of_the_wrong_type_is_named():
    with pytest.raises(TypeError, match=r"pos_weight must be a Tensor or an array of numbers. Got str"):
        F.binary_cross_entropy_with_logits(chainrule.zeros(2, 3), np.zeros((2, 3)), pos_weight="3")


def test_integer_logits_are_taken_as_float32_and_keep_fractional_weights():
    x, t = np.array([[1, 2, 3], [3, 1, 0]]), np.array([0, 2])
    as_float = x.astype(np.float32)
    for name, kwargs in (("nll_loss", {"weight": [0.3, 1.0, 2.5]}),
                         ("cross_entropy", {"weight": [0.3, 1.0, 2.5], "label_smoothing": 0.1})):
        ours, expected = getattr(F, name)(x, t, **kwargs), getattr(F, name)(as_float, t, **kwargs)
        assert ours.dtype == np.float32 and ours.item() == expected.item(), name
    y = np.array([[1, 0, 1], [0, 1, 1]])
    ours = F.binary_cross_entropy_with_logits(x, y, pos_weight=0.5)
    assert ours.item() == F.binary_cross_entropy_with_logits(as_float, y, pos_weight=0.5).item()


def test_a_total_class_weight_of_zero_gives_nan_where_torch_does():
    torch = pytest.importorskip("torch")
    x = np.array([[1.0, 2.0, 3.0], [0.5, -1.0, 2.0], [3.0, 0.0, -2.0]])
    t = np.array([0, 2, 1])
    for kwargs in ({"weight": [0.0, 0.0, 1.0], "ignore_index": 2},
                   {"weight": [0.0, 0.0, 1.0], "ignore_index": 2, "label_smoothing": 0.3},
                   {"weight": [0.0, 0.0, 0.0]}):
        ours = chainrule.tensor(x, requires_grad=True)
        theirs = torch.tensor(x, requires_grad=True)
        loss = F.cross_entropy(ours, t, **kwargs)
        torch_weight = torch.tensor(kwargs["weight"], dtype=torch.float64)
        expected = torch.nn.functional.cross_entropy(
            theirs, torch.tensor(t), **{**kwargs, "weight": torch_weight})
        loss.backward()
        expected.backward()
        assert np.isnan(loss.item()) and np.isnan(expected.item())
        np.testing.assert_array_equal(np.isnan(ours.grad.numpy()), np.isnan(theirs.grad.numpy()))
        np.testing.assert_array_equal(np.nan_to_num(ours.grad.numpy()), np.nan_to_num(theirs.grad.numpy()))


def test_weight_buffers_are_checked_and_the_callers_tensor_is_left_alone():
    weight = chainrule.tensor([1.0, 2.0, 3.0])
    cross_entropy, nll = nn.CrossEntropyLoss(weight=weight), nn.NLLLoss(weight=weight)
    cross_entropy.double()
    assert cross_entropy.weight.dtype == np.float64
    assert weight.dtype == nll.weight.dtype == np.float32
    with pytest.raises(TypeError, match=r"BCEWithLogitsLoss: pos_weight must be a Tensor or an array"):
        nn.BCEWithLogitsLoss(pos_weight="abc")
    with pytest.raises(TypeError, match=r"BCEWithLogitsLoss: pos_weight must hold numbers. Got dtype <U1"):
        nn.BCEWithLogitsLoss(pos_weight=np.array(["a", "b"]))
    with pytest.raises(TypeError, match=r"CrossEntropyLoss: weight must be a Tensor or an array"):
        nn.CrossEntropyLoss(weight=2.0)
    with pytest.raises(ValueError, match=r"cross_entropy: weight requires grad.*weight.detach\(\)"):
        F.cross_entropy(np.zeros((2, 3)), np.array([0, 1]),
                        chainrule.tensor([1.0, 1.0, 1.0], requires_grad=True))
    # (N, C, d) input is a score vector per position: the same loss as its rows (N * d, C)
    x, t = np.random.default_rng(0).standard_normal((2, 3, 4)), np.array([[0, 2, 1, 1], [2, 2, 0, 1]])
    rows = F.nll_loss(x.transpose(0, 2, 1).reshape(8, 3), t.reshape(8), [1.0, 2.0, 3.0])
    assert F.nll_loss(x, t, [1.0, 2.0, 3.0]).item() == rows.item()


def test_a_tensor_target_of_another_dtype_promotes_as_in_torch():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).standard_normal(3).astype(np.float32)
    for target in (np.array([1, 2, 3]), np.array([1.0, 2.0, 3.0])):  # int64, float64
        for name in ("mse_loss", "l1_loss"):
            ours_x, theirs_x = chainrule.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
            out = getattr(F, name)(ours_x, chainrule.tensor(target))
            expected = getattr(torch.nn.functional, name)(theirs_x, torch.tensor(target))
            assert str(out.dtype) == str(expected.dtype).replace("torch.", ""), (name, target.dtype)
            np.testing.assert_allclose(out.item(), expected.item(), rtol=1e-6)
            out.backward()
            expected.backward()
            assert ours_x.grad.dtype == np.float32
            np.testing.assert_allclose(ours_x.grad.numpy(), theirs_x.grad.numpy(), rtol=1e-6)
