"""chainrule.nn.utils: gradient clipping against torch.nn.utils, and flat parameter vectors."""

import math

import numpy as np
import pytest

import chainrule
from chainrule import nn
from chainrule.nn import utils

SHAPES = [(4, 3), (4,), (2, 5)]


def _params_with_grads(scale=1.0, seed=0):
    """Three float64 parameters with gradients (and one without), plus torch twins."""
    rng = np.random.default_rng(seed)
    grads = [scale * rng.standard_normal(s) for s in SHAPES]
    ours = [nn.Parameter(np.zeros(s)) for s in SHAPES] + [nn.Parameter(np.zeros(2))]
    for p, g in zip(ours, grads):
        p.grad = chainrule.tensor(g)
    return ours, grads


def _torch_params(torch, grads):
    params = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
    for p, g in zip(params, grads):
        p.grad = torch.tensor(g)
    return params + [torch.zeros(2, dtype=torch.float64, requires_grad=True)]


@pytest.mark.parametrize("norm_type", [1.0, 2.0, math.inf, 3.0, 0.0, -math.inf, 0.5])
@pytest.mark.parametrize("max_norm", [0.5, 1e3])  # clipping, and a norm already below max_norm
def test_clip_grad_norm_equals_torch(norm_type, max_norm):
    torch = pytest.importorskip("torch")
    ours, grads = _params_with_grads()
    theirs = _torch_params(torch, grads)
    total = utils.clip_grad_norm_(ours, max_norm, norm_type=norm_type)
    expected = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=norm_type)
    assert isinstance(total, chainrule.Tensor) and total.shape == () and total.dtype == np.float64
    np.testing.assert_allclose(total.item(), expected.item(), rtol=1e-12)
    for p, q in zip(ours, theirs):
        if q.grad is None:
            assert p.grad is None
        else:
            np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-12)


def test_clip_grad_norm_result_has_norm_max_norm():
    ours, grads = _params_with_grads(scale=10.0)
    before = math.sqrt(sum((g**2).sum() for g in grads))
    total = utils.clip_grad_norm_(ours, 1.0)
    assert total.item() == pytest.approx(before, rel=1e-12)
    after = math.sqrt(sum((p.grad.numpy()**2).sum() for p in ours if p.grad is not None))
    assert after == pytest.approx(1.0 / (1.0 + 1e-6 / before), rel=1e-12)  # PyTorch's 1e-6


def test_clip_grad_norm_single_tensor_and_model_parameters():
    p = nn.Parameter(np.array([3.0, 4.0]))
    p.grad = chainrule.tensor(np.array([3.0, 4.0]))
    assert utils.clip_grad_norm_(p, 1.0).item() == pytest.approx(5.0)
    np.testing.assert_allclose(p.grad.numpy(), np.array([0.6, 0.8]) / (1 + 1e-6 / 5), rtol=1e-12)

    model = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1))
    model(chainrule.randn(4, 2)).sum().backward()
    arrays = [p.grad.numpy() for p in model.parameters()]
    utils.clip_grad_norm_(model.parameters(), 1e-3)
    assert all(p.grad.numpy() is a for p, a in zip(model.parameters(), arrays))  # modified in place
    norm = math.sqrt(sum(float((a.astype(np.float64) ** 2).sum()) for a in arrays))
    assert norm == pytest.approx(1e-3, rel=1e-4)


def test_clip_grad_norm_with_no_gradients_returns_zero():
    params = [nn.Parameter(np.zeros(3))]
    assert utils.clip_grad_norm_(params, 1.0).item() == 0.0


def test_clip_grad_norm_nonfinite():
    ours, grads = _params_with_grads()
    ours[0].grad.numpy()[0, 0] = np.nan
    with pytest.raises(RuntimeError, match="total norm of order 2.0 of the gradients is nan"):
        utils.clip_grad_norm_(ours, 1.0, error_if_nonfinite=True)
    np.testing.assert_array_equal(ours[1].grad.numpy(), grads[1])  # nothing scaled on error
    ours[0].grad.numpy()[0, 0] = np.inf
    with pytest.raises(RuntimeError, match="order inf .* is inf"):
        utils.clip_grad_norm_(ours, 1.0, norm_type="inf", error_if_nonfinite=True)
    total = utils.clip_grad_norm_(ours, 1.0)  # the default scales anyway, as PyTorch does
    assert math.isinf(total.item())


def test_clip_grad_value_equals_torch():
    torch = pytest.importorskip("torch")
    ours, grads = _params_with_grads(scale=2.0)
    theirs = _torch_params(torch, grads)
    assert utils.clip_grad_value_(ours, 0.7) is None
    torch.nn.utils.clip_grad_value_(theirs, 0.7)
    for p, q in zip(ours, theirs):
        if q.grad is not None:
            np.testing.assert_array_equal(p.grad.numpy(), q.grad.numpy())
    assert max(np.abs(p.grad.numpy()).max() for p in ours if p.grad is not None) == 0.7


def test_clip_argument_errors():
    ours, _ = _params_with_grads()
    with pytest.raises(
        TypeError, match="The 'max_norm' parameter of clip_grad_norm_ must be a real number. Got '1' instead."
    ):
        utils.clip_grad_norm_(ours, "1")
    with pytest.raises(
        ValueError, match="'clip_value' parameter of clip_grad_value_ must be non-negative. Got -1.0 instead."
    ):
        utils.clip_grad_value_(ours, -1)
    with pytest.raises(TypeError, match="expected a Tensor or an iterable of Tensors"):
        utils.clip_grad_value_(3, 1.0)


def test_parameters_to_vector_and_back():
    torch = pytest.importorskip("torch")
    model = nn.Sequential(nn.Linear(2, 3), nn.Sigmoid(), nn.Linear(3, 1)).double()
    vec = utils.parameters_to_vector(model.parameters())
    twin = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Sigmoid(), torch.nn.Linear(3, 1))
    twin.double().load_state_dict({k: torch.tensor(v) for k, v in model.state_dict().items()})
    expected = torch.nn.utils.parameters_to_vector(twin.parameters())
    np.testing.assert_array_equal(vec.numpy(), expected.detach().numpy())
    utils.vector_to_parameters(chainrule.tensor(np.arange(vec.shape[0], dtype=np.float64)),
                               model.parameters())
    np.testing.assert_array_equal(model[0].weight.numpy(), np.arange(6.0).reshape(3, 2))
    np.testing.assert_array_equal(model[2].bias.numpy(), [12.0])
    with pytest.raises(ValueError, match="the vector has 5 elements, but the parameters have 13"):
        utils.vector_to_parameters(chainrule.zeros(5), model.parameters())


def test_clip_functions_accept_torchs_foreach_argument():
    ours, grads = _params_with_grads()
    utils.clip_grad_norm_(ours, 1.0, foreach=None)
    utils.clip_grad_value_(ours, 0.1, foreach=True)
    assert max(np.abs(p.grad.numpy()).max() for p in ours if p.grad is not None) <= 0.1


def test_clip_grad_norm_scales_every_gradient_in_one_operation_and_keeps_shared_ones_shared():
    """The gradients end to end are scaled once; each gradient nothing else holds becomes its
    piece of that vector (same numbers, one operation for all), and one that something holds (a
    Tensor sharing it, a NumPy view of it) is scaled in place, so what holds it sees the change,
    as in PyTorch. The numbers equal a gradient-by-gradient scaling."""
    rng = np.random.default_rng(0)
    params = [nn.Parameter(rng.standard_normal(shape)) for shape in ((3, 2), (4,), (), (2, 2))]
    for p in params:
        p.grad = chainrule.tensor(rng.standard_normal(p.shape) * 10)
    before = [p.grad.numpy().copy() for p in params]
    shared, row = params[1].grad.data, params[3].grad.numpy()[0]
    total = utils.clip_grad_norm_(params, 1.0)
    coef = 1.0 / (total.item() + 1e-6)
    for p, g in zip(params, before):
        np.testing.assert_array_equal(p.grad.numpy(), g * coef)
    np.testing.assert_array_equal(shared.numpy(), params[1].grad.numpy())
    np.testing.assert_array_equal(row, params[3].grad.numpy()[0])
    owners = [p.grad.numpy().base for p in params]
    assert owners[0] is not None and owners[0] is owners[2] and owners[0].shape == (15,)
    assert owners[1] is None and owners[3] is None


def test_clip_grad_norm_with_a_parameter_listed_twice_scales_its_gradient_twice_as_torch():
    torch = pytest.importorskip("torch")
    values = np.array([3.0, 4.0])
    p, q = nn.Parameter(np.ones(2)), nn.Parameter(np.ones(2))
    p.grad, q.grad = chainrule.tensor(values), chainrule.tensor(values * 2)
    tp, tq = (torch.ones(2, dtype=torch.float64, requires_grad=True) for _ in range(2))
    tp.grad, tq.grad = torch.tensor(values), torch.tensor(values * 2)
    ours = utils.clip_grad_norm_([p, q, p], 1.0)
    theirs = torch.nn.utils.clip_grad_norm_([tp, tq, tp], 1.0)
    np.testing.assert_allclose(ours.item(), theirs.item(), rtol=1e-12)
    for mine, reference in ((p, tp), (q, tq)):
        np.testing.assert_allclose(mine.grad.numpy(), reference.grad.numpy(), rtol=1e-12)
