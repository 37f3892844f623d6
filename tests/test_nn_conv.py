"""Convolution, pooling and normalization layers against PyTorch: the same weights (loaded from the
PyTorch module's state_dict), outputs, gradients and running statistics over several training and
evaluation steps in float64 (rtol 1e-9); default initialisation; repr and state_dict keys; save,
load and export; bad input."""

import math

import numpy as np
import pytest

import chainrule
from chainrule import nn

torch = pytest.importorskip("torch")

RTOL, ATOL = 1e-9, 1e-12


def _pair(ours_cls, torch_cls, *args, **kwargs):
    ours = ours_cls(*args, **kwargs, dtype=chainrule.float64)
    theirs = torch_cls(*args, **kwargs, dtype=torch.float64)
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


def _close(a, b, what):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=RTOL, atol=ATOL, err_msg=what)


def _steps(ours, theirs, shape, steps=3, seed=0):
    """Train-mode steps, then eval steps; compare output, input and parameter gradients, and
    every buffer after each step."""
    rng = np.random.default_rng(seed)
    for step in range(2 * steps):
        mode = step < steps
        ours.train(mode)
        theirs.train(mode)
        x = rng.standard_normal(shape) * 2 + 0.5
        a = chainrule.tensor(x, requires_grad=True)
        b = torch.tensor(x, requires_grad=True)
        out_a, out_b = ours(a), theirs(b)
        _close(out_a.numpy(), out_b.detach().numpy(), f"output, step {step}")
        upstream = rng.standard_normal(out_a.shape)
        out_a.backward(upstream)
        out_b.backward(torch.tensor(upstream))
        _close(a.grad.numpy(), b.grad.numpy(), f"input gradient, step {step}")
        for (name, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
            _close(p.grad.numpy(), q.grad.numpy(), f"gradient of {name}, step {step}")
        ours_buffers = dict(ours.named_buffers())
        for name, buf in theirs.named_buffers():
            assert name in ours_buffers, name
            _close(ours_buffers[name].numpy(), buf.numpy(), f"buffer {name}, step {step}")
        ours.zero_grad()
        theirs.zero_grad()


LAYERS = [
    ("Conv2d", (3, 4, 3), dict(stride=2, padding=1), (2, 3, 7, 6)),
    ("Conv2d", (4, 6, (3, 2)), dict(dilation=(2, 1), groups=2, padding="same"), (2, 4, 6, 5)),
    ("Conv2d", (2, 3, 3), dict(padding=1, padding_mode="reflect", bias=False), (2, 2, 5, 5)),
    ("Conv2d", (2, 3, 3), dict(padding=(1, 2), padding_mode="circular"), (1, 2, 4, 5)),
    ("Conv2d", (2, 3, 4), dict(padding="same", padding_mode="replicate"), (1, 2, 6, 5)),
    ("Conv1d", (3, 4, 3), dict(stride=2, padding=1), (2, 3, 9)),
    ("ConvTranspose2d", (3, 2, 3), dict(stride=2, padding=1, output_padding=1), (2, 3, 4, 5)),
    ("ConvTranspose1d", (4, 6, 3), dict(groups=2, dilation=2), (2, 4, 5)),
    ("MaxPool2d", (3,), dict(stride=2, padding=1, ceil_mode=True), (2, 3, 8, 7)),
    ("MaxPool1d", (2,), {}, (2, 3, 7)),
    ("AvgPool2d", (3,), dict(stride=2, padding=1, count_include_pad=False), (2, 3, 7, 8)),
    ("AvgPool1d", (3,), dict(stride=2), (2, 3, 9)),
    ("AdaptiveAvgPool2d", ((2, 3),), {}, (2, 3, 7, 8)),
    ("AdaptiveMaxPool2d", (3,), {}, (2, 3, 7, 8)),
    ("BatchNorm2d", (3,), {}, (4, 3, 5, 4)),
    ("BatchNorm2d", (3,), dict(momentum=None), (4, 3, 2, 3)),
    ("BatchNorm2d", (3,), dict(affine=False, momentum=0.3), (4, 3, 2, 3)),
    ("BatchNorm2d", (3,), dict(track_running_stats=False), (4, 3, 2, 3)),
    ("BatchNorm1d", (4,), {}, (6, 4)),
    ("BatchNorm1d", (4,), dict(bias=False), (3, 4, 5)),
    ("LayerNorm", ((3, 4),), {}, (2, 5, 3, 4)),
    ("GroupNorm", (2, 6), {}, (3, 6, 2, 3)),
    ("InstanceNorm2d", (3,), dict(affine=True, track_running_stats=True), (2, 3, 4, 5)),
    ("InstanceNorm2d", (3,), {}, (2, 3, 4, 5)),
]
NO_DTYPE = {"MaxPool2d", "MaxPool1d", "AvgPool2d", "AvgPool1d", "AdaptiveAvgPool2d", "AdaptiveMaxPool2d"}


@pytest.mark.parametrize("name, args, kwargs, shape", LAYERS,
                         ids=[f"{n}{a}{k}" for n, a, k, _ in LAYERS])
def test_layer_equals_torch_over_train_and_eval_steps(name, args, kwargs, shape):
    if name in NO_DTYPE:
        ours, theirs = getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    else:
        ours, theirs = _pair(getattr(nn, name), getattr(torch.nn, name), *args, **kwargs)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    _steps(ours, theirs, shape)


def test_a_small_cnn_trains_step_for_step_with_torch():
    def build(lib):
        m = lib.nn
        return m.Sequential(
            m.Conv2d(1, 4, 3, padding=1), m.BatchNorm2d(4), m.ReLU(), m.MaxPool2d(2),
            m.Conv2d(4, 6, 3), m.ReLU(), m.AdaptiveAvgPool2d(1), m.Flatten(), m.Linear(6, 3))

    theirs = build(torch).double()
    ours = build(chainrule).double()
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    opt_a = chainrule.optim.SGD(ours.parameters(), lr=0.1, momentum=0.9)
    opt_b = torch.optim.SGD(theirs.parameters(), lr=0.1, momentum=0.9)
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((8, 1, 8, 8)), rng.integers(0, 3, 8)
    for _ in range(5):
        loss_a = nn.functional.cross_entropy(ours(chainrule.tensor(x)), chainrule.tensor(y))
        loss_b = torch.nn.functional.cross_entropy(theirs(torch.tensor(x)), torch.tensor(y))
        _close(loss_a.item(), loss_b.item(), "loss")
        for opt, loss in ((opt_a, loss_a), (opt_b, loss_b)):
            opt.zero_grad()
            loss.backward()
            opt.step()
    for (k, a), (_, b) in zip(ours.state_dict().items(), theirs.state_dict().items()):
        _close(a, b.numpy(), k)


def test_return_indices_equal_torch():
    x = np.random.default_rng(2).standard_normal((2, 3, 7, 8))
    for ours_fn, torch_fn, kwargs in (
        (nn.functional.max_pool2d, torch.nn.functional.max_pool2d,
         dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, return_indices=True)),
        (nn.functional.max_pool2d, torch.nn.functional.max_pool2d,
         dict(kernel_size=(2, 3), dilation=2, return_indices=True)),
        (nn.functional.adaptive_max_pool2d, torch.nn.functional.adaptive_max_pool2d,
         dict(output_size=(3, 5), return_indices=True)),
    ):
        (ya, ia), (yb, ib) = ours_fn(chainrule.tensor(x), **kwargs), torch_fn(torch.tensor(x), **kwargs)
        np.testing.assert_array_equal(ia.numpy(), ib.numpy())
        _close(ya.numpy(), yb.numpy(), "values")
    row = x[:, :, 0]
    _, ia = nn.functional.max_pool1d(chainrule.tensor(row), 3, 2, 1, return_indices=True)
    _, ib = torch.nn.functional.max_pool1d(torch.tensor(row), 3, 2, 1, return_indices=True)
    np.testing.assert_array_equal(ia.numpy(), ib.numpy())


def test_dropout2d_zeroes_whole_channels_and_scales_the_rest():
    chainrule.manual_seed(0)
    x = chainrule.ones(50, 8, 3, 3)
    y = nn.Dropout2d(0.25)(x).numpy()
    per_channel = y.reshape(50, 8, 9)
    assert set(np.unique(per_channel)) <= {0.0, np.float32(1 / 0.75)}
    assert (per_channel.min(axis=2) == per_channel.max(axis=2)).all()  # a channel is all or nothing
    assert 0.15 < (per_channel[:, :, 0] == 0).mean() < 0.35
    assert nn.Dropout2d(0.25).eval()(x) is x


def test_unflatten_and_upsample_equal_torch():
    x = np.random.default_rng(3).standard_normal((2, 12))
    assert nn.Unflatten(1, (3, -1))(chainrule.tensor(x)).shape == (2, 3, 4)
    img = np.random.default_rng(4).standard_normal((1, 2, 3, 4))
    for kw in (dict(scale_factor=2), dict(size=(5, 7), mode="bilinear", align_corners=True)):
        _close(nn.Upsample(**kw)(chainrule.tensor(img)).numpy(),
               torch.nn.Upsample(**kw)(torch.tensor(img)).numpy(), str(kw))


# ----- default initialisation ----------------------------------------------------------------


@pytest.mark.parametrize("layer, fan_in", [
    (lambda: nn.Conv2d(32, 64, (3, 5)), 32 * 15),
    (lambda: nn.Conv2d(32, 64, 3, groups=4), 8 * 9),
    (lambda: nn.Conv1d(40, 64, 7), 40 * 7),
    (lambda: nn.ConvTranspose2d(64, 48, 3, groups=2), 24 * 9),  # PyTorch: weight.shape[1] * k
])
def test_conv_default_init_is_kaiming_uniform_a_sqrt5(layer, fan_in):
    chainrule.manual_seed(0)
    m = layer()
    bound = 1 / math.sqrt(fan_in)  # kaiming_uniform_(a=sqrt(5)): sqrt(3) * sqrt(1/3) / sqrt(fan_in)
    w = m.weight.numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.03 * bound / math.sqrt(3)
    b = m.bias.numpy()
    assert np.abs(b).max() <= bound and np.abs(b).max() > 0.8 * bound
    assert nn.init._calculate_fan_in_and_fan_out(m.weight)[0] == fan_in
    assert nn.init.calculate_gain("conv2d") == 1 == nn.init.calculate_gain("conv_transpose1d")


def test_norm_layers_start_at_identity_scale():
    bn = nn.BatchNorm2d(5)
    np.testing.assert_array_equal(bn.weight.numpy(), np.ones(5))
    np.testing.assert_array_equal(bn.bias.numpy(), np.zeros(5))
    np.testing.assert_array_equal(bn.running_var.numpy(), np.ones(5))
    assert bn.num_batches_tracked.numpy().dtype == np.int64 and bn.num_batches_tracked.item() == 0


# ----- save, load, export ------------------------------------------------------------------


def _cnn(lib):
    m = lib.nn
    return m.Sequential(m.Conv2d(1, 3, 3), m.BatchNorm2d(3), m.ReLU(), m.MaxPool2d(2),
                        m.Flatten(), m.Linear(3 * 3 * 3, 2))


def test_save_and_load_carry_the_buffers(tmp_path):
    model = _cnn(chainrule).double()
    model.train()
    for _ in range(3):
        model(chainrule.randn(4, 1, 8, 8).double())
    path = tmp_path / "cnn.pt"
    chainrule.save(model.state_dict(), path)
    fresh = _cnn(chainrule).double()
    fresh.load_state_dict(chainrule.load(path))
    for (k, a), (_, b) in zip(model.state_dict().items(), fresh.state_dict().items()):
        np.testing.assert_array_equal(a, b, err_msg=k)
    assert fresh[1].num_batches_tracked.item() == 3


def test_state_dict_loads_into_torch_and_back():
    model = _cnn(chainrule).double()
    for _ in range(2):
        model(chainrule.randn(4, 1, 8, 8).double())
    theirs = _cnn(torch).double()
    theirs.load_state_dict({k: torch.tensor(v) for k, v in model.state_dict().items()})
    model.eval()
    theirs.eval()
    x = np.random.default_rng(5).standard_normal((2, 1, 8, 8))
    _close(model(chainrule.tensor(x)).numpy(), theirs(torch.tensor(x)).detach().numpy(), "eval output")


# ----- bad input: one sentence naming the layer, the shapes and the fix --------------------


@pytest.mark.parametrize("make, x_shape, error, match", [
    (lambda: nn.Conv2d(3, 8, 5), (3, 28, 28), ValueError,
     r"Conv2d\(3, 8, kernel_size=\(5, 5\), stride=\(1, 1\)\): expected a 4-D input \(N, C, H, W\); "
     r"got shape \(3, 28, 28\)\. Add a batch dim with x\.unsqueeze\(0\)"),
    (lambda: nn.Conv2d(3, 8, 5), (2, 1, 28, 28), ValueError,
     r"Conv2d\(3, 8.*the input has 1 channels but the weight of shape \(8, 3, 5, 5\) expects 3"),
    (lambda: nn.Conv2d(1, 8, 5), (2, 1, 4, 4), ValueError,
     r"Conv2d\(1, 8.*kernel of size \(5, 5\).*larger than the padded input of size \(4, 4\)"),
    (lambda: nn.MaxPool2d(3), (2, 1, 2, 2), ValueError,
     r"MaxPool2d\(kernel_size=3.*larger than the padded input"),
    (lambda: nn.BatchNorm2d(16), (4, 8, 5, 5), ValueError,
     r"BatchNorm2d\(16\): the input has 8 channels \(dim 1 of shape \(4, 8, 5, 5\)\) but num_features is 16"),
    (lambda: nn.BatchNorm2d(16), (16, 5, 5), ValueError,
     r"BatchNorm2d\(16\): expected a 4-D \(N, C, H, W\) input; got shape \(16, 5, 5\)"),
    (lambda: nn.Conv1d(3, 4, 3), (2, 3, 8, 8), ValueError,
     r"Conv1d\(3, 4.*expected a 3-D input \(N, C, L\)"),
    (lambda: nn.GroupNorm(2, 6), (2, 4, 3), ValueError,
     r"GroupNorm\(2, 6.*expected an input \(N, 6, \.\.\.\)"),
])
def test_bad_input_is_one_sentence_naming_the_layer(make, x_shape, error, match):
    with pytest.raises(error, match=match):
        make()(chainrule.zeros(*x_shape))


@pytest.mark.parametrize("make, error, match", [
    (lambda: nn.Conv2d(3, 8, 3, stride=0), ValueError, r"'stride' parameter of Conv2d must be at least 1"),
    (lambda: nn.Conv2d(3, 8, 3, groups=2), ValueError,
     r"Conv2d: groups=2 must divide both in_channels=3 and out_channels=8"),
    (lambda: nn.Conv2d(4, 8, 3, stride=2, padding="same"), ValueError, r"padding='same' needs stride 1"),
    (lambda: nn.MaxPool2d(2, stride=0), ValueError, r"'stride' parameter of MaxPool2d must be at least 1"),
    (lambda: nn.GroupNorm(4, 6), ValueError, r"GroupNorm: num_groups=4 must divide num_channels=6"),
    (lambda: nn.ConvTranspose2d(3, 3, 3, stride=1, output_padding=1), ValueError,
     r"output_padding=\(1, 1\) must be smaller than the stride"),
    (lambda: nn.Conv2d(3, 8, 3, padding_mode="mirror"), ValueError, r"'padding_mode' parameter of Conv2d"),
])
def test_bad_arguments_are_refused_at_construction(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_functional_bad_input_messages():
    F = nn.functional
    x = chainrule.zeros(2, 4, 6, 6)
    with pytest.raises(ValueError, match=r"conv2d: groups=3 must divide both the input channels \(4\)"):
        F.conv2d(x, chainrule.zeros(6, 2, 3, 3), groups=3)
    with pytest.raises(TypeError, match=r"conv2d: input dtype float32 and weight dtype float64 differ"):
        F.conv2d(x, chainrule.zeros(6, 4, 3, 3).double())
    with pytest.raises(ValueError, match=r"pad: reflect padding \(6, 6\) must be smaller"):
        F.pad(x, (6, 6), mode="reflect")
    with pytest.raises(ValueError, match=r"max_pool2d: padding \(2, 2\) must be at most half"):
        F.max_pool2d(x, 2, padding=2)
    with pytest.raises(ValueError, match=r"interpolate: give exactly one of size and scale_factor"):
        F.interpolate(x)
    with pytest.raises(ValueError, match=r"batch_norm: expected more than 1 value per channel"):
        F.batch_norm(chainrule.zeros(1, 3), None, None, training=True)


def test_torch_twin_builds_the_new_layers_with_their_weights_and_buffers():
    from chainrule.torch_twin import build_torch_twin

    m = nn
    model = m.Sequential(
        m.Conv2d(1, 4, 3, padding=1, padding_mode="reflect"), m.BatchNorm2d(4), m.ReLU(),
        m.MaxPool2d(2, ceil_mode=True), m.ConvTranspose2d(4, 2, 2, stride=2), m.GroupNorm(1, 2),
        m.AvgPool2d(2), m.AdaptiveMaxPool2d(2), m.Flatten(), m.Unflatten(1, (2, 4)),
        m.LayerNorm(4), m.Flatten(), m.Linear(8, 3)).double()
    for _ in range(2):
        model(chainrule.randn(4, 1, 9, 9).double())
    twin = build_torch_twin(model)
    assert [type(t).__name__ for t in twin] == [type(o).__name__ for o in model]
    _close(twin[1].running_var.numpy(), model[1].running_var.numpy(), "running_var")
    assert twin[1].num_batches_tracked.item() == 2
    model.eval()
    twin.eval()
    x = np.random.default_rng(6).standard_normal((3, 1, 9, 9))
    _close(model(chainrule.tensor(x)).numpy(), twin(torch.tensor(x)).detach().numpy(), "output")


def test_conv_transpose_output_size_picks_the_output_padding_as_torch():
    ours, theirs = _pair(nn.ConvTranspose2d, torch.nn.ConvTranspose2d, 3, 2, 3, stride=2, padding=1)
    x = np.random.default_rng(7).standard_normal((1, 3, 4, 5))
    for size in ((7, 9), (8, 10), (8, 9)):
        a = ours(chainrule.tensor(x), output_size=size)
        b = theirs(torch.tensor(x), output_size=size)
        assert a.shape == tuple(b.shape) == (1, 2) + size
        _close(a.numpy(), b.detach().numpy(), str(size))
    with pytest.raises(ValueError, match=r"output_size \(12, 9\) is not reachable"):
        ours(chainrule.tensor(x), output_size=(12, 9))


def test_no_grad_forward_keeps_no_graph_and_equals_the_graph_forward():
    model = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.BatchNorm2d(3), nn.MaxPool2d(2)).double()
    model.eval()
    x = chainrule.randn(2, 2, 6, 6).double()
    with chainrule.no_grad():
        quiet = model(x)
    assert quiet.grad_fn is None and not quiet.requires_grad
    np.testing.assert_array_equal(quiet.numpy(), model(x).numpy())
