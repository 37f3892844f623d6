"""chainrule.nn modules: registration, state dicts, modes, dtype, repr, and layers against PyTorch."""

import math

import numpy as np
import pytest

import chainrule
from chainrule import nn
from chainrule.nn import functional as F


def seed_network():
    return nn.Sequential(nn.Linear(2, 10), nn.Sigmoid(), nn.Linear(10, 1))


class Block(nn.Module):
    """A custom module whose own parameter is registered after its child."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 4)
        self.scale = nn.Parameter(np.ones(4))
        self.register_buffer("running", chainrule.zeros(4))

    def forward(self, x):
        return self.fc(x) * self.scale


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.block = Block()
        self.head = nn.Sequential(nn.ReLU(), nn.Linear(4, 2))
        self.temperature = nn.Parameter(np.array([1.0]))

    def forward(self, x):
        return self.head(self.block(x)) / self.temperature


# ----- registration and naming ---------------------------------------------------------------


def test_seed_network_has_41_parameters():
    model = seed_network()
    assert sum(p.numel() for p in model.parameters()) == 41  # 2*10 + 10 + 10*1 + 1


def test_named_parameters_of_sequential_match_torch():
    torch = pytest.importorskip("torch")
    ours = [name for name, _ in seed_network().named_parameters()]
    theirs = [
        name for name, _ in torch.nn.Sequential(
            torch.nn.Linear(2, 10), torch.nn.Sigmoid(), torch.nn.Linear(10, 1)
        ).named_parameters()
    ]
    assert ours == theirs == ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_named_parameters_of_nested_custom_modules_match_torch():
    torch = pytest.importorskip("torch")

    class TorchBlock(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(3, 4)
            self.scale = torch.nn.Parameter(torch.ones(4))
            self.register_buffer("running", torch.zeros(4))

    class TorchNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.block = TorchBlock()
            self.head = torch.nn.Sequential(torch.nn.ReLU(), torch.nn.Linear(4, 2))
            self.temperature = torch.nn.Parameter(torch.ones(1))

    ours, theirs = Net(), TorchNet()
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    # a module's own parameters come before its children's, whatever the assignment order
    assert [n for n, _ in ours.named_parameters()][0] == "temperature"
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    assert [n for n, _ in ours.named_children()] == ["block", "head"]
    assert [n for n, _ in ours.named_buffers()] == ["block.running"]


def test_parameters_are_the_registered_objects_in_order():
    model = seed_network()
    expected = [model[0].weight, model[0].bias, model[2].weight, model[2].bias]
    assert all(a is b for a, b in zip(model.parameters(), expected))
    assert len(list(model.parameters())) == 4


def test_shared_parameter_is_listed_once():
    shared = nn.Linear(3, 3)
    model = nn.Sequential(shared, nn.Tanh(), shared)
    assert [n for n, _ in model.named_parameters()] == ["0.weight", "0.bias"]
    assert len(list(model.modules())) == 3  # Sequential, Linear once, Tanh


def test_reassigning_an_attribute_moves_it_between_registries():
    model = Block()
    model.scale = nn.Linear(1, 1)
    assert "scale" not in model._parameters and "scale" in model._modules
    with pytest.raises(TypeError, match="cannot assign a Tensor to the parameter 'weight'"):
        model.fc.weight = chainrule.zeros(4, 3)


def test_parameter_before_init_is_a_clear_error():
    class Forgetful(nn.Module):
        def __init__(self):
            self.weight = nn.Parameter(np.ones(2))

    with pytest.raises(AttributeError, match="call super\\(\\).__init__\\(\\) first"):
        Forgetful()


def test_missing_attribute_and_missing_forward():
    model = Block()
    with pytest.raises(AttributeError, match="'Block' object has no attribute 'nope'"):
        _ = model.nope
    with pytest.raises(NotImplementedError, match="Module has no forward"):
        nn.Module()(1)


def test_children_and_modules():
    model = Net()
    assert [type(m).__name__ for m in model.children()] == ["Block", "Sequential"]
    assert [type(m).__name__ for m in model.modules()] == [
        "Net", "Block", "Linear", "Sequential", "ReLU", "Linear"
    ]


# ----- Sequential ------------------------------------------------------------------------------


def test_sequential_indexing_slicing_iteration_and_append():
    model = seed_network()
    assert len(model) == 3
    assert isinstance(model[1], nn.Sigmoid) and model[-1] is model[2]
    head = model[1:]
    assert isinstance(head, nn.Sequential) and len(head) == 2
    assert [n for n, _ in head.named_parameters()] == ["2.weight", "2.bias"]  # names kept
    assert [type(m).__name__ for m in model] == ["Linear", "Sigmoid", "Linear"]
    model.append(nn.Sigmoid())
    assert len(model) == 4 and isinstance(model[3], nn.Sigmoid)
    with pytest.raises(IndexError, match="index 4 is out of range for 4 modules"):
        model[4]
    with pytest.raises(TypeError, match="every element must be a Module"):
        nn.Sequential(nn.ReLU(), "relu")


def test_repr_matches_torch():
    torch = pytest.importorskip("torch")
    ours = nn.Sequential(
        nn.Linear(2, 10), nn.Sigmoid(), nn.Sequential(nn.Flatten(), nn.GELU(), nn.Identity()),
        nn.Softplus(), nn.LeakyReLU(0.2), nn.Softmax(dim=1), nn.Linear(10, 1, bias=False),
    )
    theirs = torch.nn.Sequential(
        torch.nn.Linear(2, 10), torch.nn.Sigmoid(),
        torch.nn.Sequential(torch.nn.Flatten(), torch.nn.GELU(), torch.nn.Identity()),
        torch.nn.Softplus(), torch.nn.LeakyReLU(0.2), torch.nn.Softmax(dim=1),
        torch.nn.Linear(10, 1, bias=False),
    )
    assert repr(ours) == repr(theirs)
    assert repr(nn.MSELoss()) == repr(torch.nn.MSELoss())


# ----- state dict --------------------------------------------------------------------------------


def test_state_dict_is_an_ordered_copy():
    model = Block()
    sd = model.state_dict()
    assert list(sd) == ["scale", "running", "fc.weight", "fc.bias"]
    assert all(isinstance(v, np.ndarray) for v in sd.values())
    sd["fc.weight"][...] = 123.0
    assert not np.any(model.fc.weight.numpy() == 123.0)  # a copy, not the live array


def test_state_dict_round_trip_copies_in_place():
    chainrule.manual_seed(1)
    source = seed_network()
    chainrule.manual_seed(2)
    target = seed_network()
    live = target[0].weight.numpy()  # the array an optimizer would hold
    result = target.load_state_dict(source.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert target[0].weight.numpy() is live
    for (name, a), b in zip(source.state_dict().items(), target.state_dict().values()):
        np.testing.assert_array_equal(a, b, err_msg=name)


def test_load_state_dict_accepts_tensors_and_casts_dtype():
    model = seed_network()  # float32
    sd = {name: chainrule.tensor(np.full(v.shape, 0.25, dtype=np.float64))
          for name, v in model.state_dict().items()}
    model.load_state_dict(sd)
    assert model[0].weight.dtype == np.float32
    np.testing.assert_array_equal(model[0].weight.numpy(), np.full((10, 2), 0.25, np.float32))


def test_load_state_dict_from_torch_model():
    torch = pytest.importorskip("torch")
    theirs = torch.nn.Sequential(torch.nn.Linear(2, 10), torch.nn.Sigmoid(), torch.nn.Linear(10, 1))
    model = seed_network().double()
    model.load_state_dict(theirs.state_dict())  # torch tensors convert through __array__
    x = np.random.default_rng(0).standard_normal((6, 2))
    expected = theirs.double()(torch.tensor(x)).detach().numpy()
    np.testing.assert_allclose(model(chainrule.tensor(x)).numpy(), expected, rtol=1e-9)


def test_load_state_dict_names_missing_and_unexpected_keys():
    model = seed_network()
    sd = model.state_dict()
    del sd["2.bias"]
    sd["3.weight"] = np.zeros((1, 1))
    with pytest.raises(ValueError, match=r"missing key\(s\) '2.bias'; unexpected key\(s\) '3.weight'"):
        model.load_state_dict(sd)
    result = model.load_state_dict(sd, strict=False)
    assert result.missing_keys == ["2.bias"] and result.unexpected_keys == ["3.weight"]


def test_load_state_dict_shape_mismatch_names_key_and_both_shapes():
    model = seed_network()
    before = model[0].bias.numpy().copy()
    sd = model.state_dict()
    sd["0.weight"] = np.zeros((3, 2))
    sd["0.bias"] = np.ones(10)
    message = r"'0.weight' has shape \(3, 2\), but the parameter in the model has shape \(10, 2\)"
    with pytest.raises(ValueError, match=message):
        model.load_state_dict(sd)
    with pytest.raises(ValueError, match=message):
        model.load_state_dict(sd, strict=False)  # shapes are checked even when not strict
    np.testing.assert_array_equal(model[0].bias.numpy(), before)  # nothing copied on error


def test_load_state_dict_rejects_non_mappings_and_non_numbers():
    model = seed_network()
    with pytest.raises(TypeError, match="expected a mapping"):
        model.load_state_dict([1, 2])
    sd = model.state_dict()
    sd["0.bias"] = np.array(["a"] * 10)
    with pytest.raises(TypeError, match="the value for '0.bias' must be numbers"):
        model.load_state_dict(sd)


# ----- modes, gradients, dtype ---------------------------------------------------------------------


def test_train_eval_toggle_every_submodule():
    model = Net()
    assert model.training and all(m.training for m in model.modules())
    assert model.eval() is model
    assert not any(m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())
    model.train(False)
    assert not model.head[1].training
    with pytest.raises(TypeError, match="mode must be a bool"):
        model.train("yes")


def test_zero_grad_sets_to_none_or_zeros():
    model = seed_network()
    model(chainrule.randn(4, 2)).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.numpy().any() for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_double_and_float_keep_the_parameter_objects():
    model = Block()
    params = list(model.parameters())
    assert model.double() is model
    assert all(p.dtype == np.float64 for p in model.parameters())
    assert model.running.dtype == np.float64
    assert all(a is b for a, b in zip(params, model.parameters()))
    model.float()
    assert all(p.dtype == np.float32 for p in model.parameters())
    model.to("float64")
    assert model.fc.weight.dtype == np.float64
    with pytest.raises(TypeError, match="only floating-point dtypes"):
        model.to(np.int64)
    assert model.to("cpu") is model and model.fc.weight.dtype == np.float64  # the one device
    with pytest.raises(RuntimeError, match="'cuda' is not available"):
        model.to("cuda")


# ----- Linear --------------------------------------------------------------------------------


def test_linear_shapes_and_default_init_bounds():
    layer = nn.Linear(300, 400)
    assert layer.weight.shape == (400, 300) and layer.bias.shape == (400,)
    assert layer.weight.dtype == np.float32
    bound = 1 / math.sqrt(300)
    for p in (layer.weight, layer.bias):
        assert np.abs(p.numpy()).max() <= bound
        assert np.abs(p.numpy()).max() > 0.95 * bound  # fills the range, not a narrower one
    w_std = layer.weight.numpy().std()
    assert abs(w_std - bound / math.sqrt(3)) < 0.02 * bound / math.sqrt(3)  # U(-k, k) std k/sqrt 3


def test_linear_init_is_reproducible_under_manual_seed():
    chainrule.manual_seed(42)
    a = nn.Linear(5, 3)
    chainrule.manual_seed(42)
    b = nn.Linear(5, 3)
    np.testing.assert_array_equal(a.weight.numpy(), b.weight.numpy())
    np.testing.assert_array_equal(a.bias.numpy(), b.bias.numpy())
    c = nn.Linear(5, 3)
    assert not np.array_equal(a.weight.numpy(), c.weight.numpy())


def test_linear_without_bias_and_argument_checks():
    layer = nn.Linear(3, 2, bias=False, dtype=np.float64)
    assert layer.bias is None and [n for n, _ in layer.named_parameters()] == ["weight"]
    assert layer.weight.dtype == np.float64
    with pytest.raises(
        ValueError, match=r"'in_features' parameter of Linear must be an int in the range \[0, inf\). Got -1"
    ):
        nn.Linear(-1, 2)
    with pytest.raises(
        TypeError, match=r"'out_features' parameter of Linear must be an int in the range \[0, inf\). Got 2.0"
    ):
        nn.Linear(2, 2.0)
    assert nn.Linear(np.int64(0), 2).in_features == 0
    with pytest.raises(TypeError, match="dtype must be a floating-point dtype"):
        nn.Linear(2, 2, dtype=np.int64)
    with pytest.raises(ValueError, match="last dim of the input must be in_features = 3"):
        layer(chainrule.zeros(4, 5, dtype=np.float64))


def _torch_twin(torch, model):
    """A float64 torch Sequential with the same layers and weights as ours."""
    twin = []
    for module in model:
        if isinstance(module, nn.Linear):
            layer = torch.nn.Linear(module.in_features, module.out_features,
                                    bias=module.bias is not None, dtype=torch.float64)
            with torch.no_grad():
                layer.weight.copy_(torch.tensor(module.weight.numpy()))
                if module.bias is not None:
                    layer.bias.copy_(torch.tensor(module.bias.numpy()))
            twin.append(layer)
        else:
            twin.append(getattr(torch.nn, type(module).__name__)(
                **{k: getattr(module, k) for k in _ARGS.get(type(module).__name__, ())}))
    return torch.nn.Sequential(*twin)


_ARGS = {
    "LeakyReLU": ("negative_slope",), "Softmax": ("dim",), "LogSoftmax": ("dim",),
    "GELU": ("approximate",), "ELU": ("alpha",), "Softplus": ("beta", "threshold"),
    "Flatten": ("start_dim", "end_dim"),
}


def _compare_with_torch(torch, model, x):
    theirs = _torch_twin(torch, model)
    ours_x = chainrule.tensor(x, requires_grad=True)
    theirs_x = torch.tensor(x, requires_grad=True)
    out, expected = model(ours_x), theirs(theirs_x)
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=1e-9, atol=1e-12)
    upstream = np.random.default_rng(5).standard_normal(out.shape)
    out.backward(upstream)
    expected.backward(torch.tensor(upstream))
    np.testing.assert_allclose(ours_x.grad.numpy(), theirs_x.grad.numpy(), rtol=1e-9, atol=1e-12)
    for (name, p), q in zip(model.named_parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-9, atol=1e-12, err_msg=name)


def test_seed_network_forward_and_gradients_equal_torch():
    torch = pytest.importorskip("torch")
    model = seed_network().double()
    _compare_with_torch(torch, model, np.random.default_rng(1).standard_normal((8, 2)))


def test_linear_on_3d_input_and_without_bias_equals_torch():
    torch = pytest.importorskip("torch")
    model = nn.Sequential(nn.Linear(3, 4, dtype=np.float64), nn.Linear(4, 2, bias=False)).double()
    _compare_with_torch(torch, model, np.random.default_rng(2).standard_normal((2, 5, 3)))


ACTIVATIONS = [
    nn.ReLU(), nn.LeakyReLU(), nn.LeakyReLU(0.2), nn.Sigmoid(), nn.Tanh(), nn.Softmax(dim=1),
    nn.Softmax(dim=0), nn.LogSoftmax(dim=1), nn.GELU(), nn.GELU(approximate="tanh"), nn.ELU(),
    nn.ELU(alpha=0.5), nn.SELU(), nn.Softplus(), nn.Softplus(beta=2.0, threshold=1.0), nn.SiLU(),
]


@pytest.mark.parametrize("activation", ACTIVATIONS, ids=[repr(a) for a in ACTIVATIONS])
def test_activation_module_in_a_network_equals_torch(activation):
    torch = pytest.importorskip("torch")
    chainrule.manual_seed(3)
    model = nn.Sequential(nn.Linear(3, 6), activation, nn.Linear(6, 2)).double()
    # scaled so that inputs reach both sides of every kink and the softplus threshold
    x = 3 * np.random.default_rng(3).standard_normal((7, 3))
    _compare_with_torch(torch, model, x)


def test_flatten_and_identity_equal_torch():
    torch = pytest.importorskip("torch")
    model = nn.Sequential(nn.Flatten(), nn.Identity(), nn.Linear(12, 2)).double()
    _compare_with_torch(torch, model, np.random.default_rng(4).standard_normal((5, 3, 4)))
    model = nn.Sequential(nn.Flatten(0, 1), nn.Linear(4, 2)).double()
    _compare_with_torch(torch, model, np.random.default_rng(4).standard_normal((5, 3, 4)))


def test_activation_argument_checks():
    with pytest.raises(ValueError, match="'approximate' parameter of GELU must be 'none' or 'tanh'"):
        nn.GELU(approximate="erf")
    with pytest.raises(ValueError, match=r"softmax: dim 2 is out of range for a tensor with 2 dims"):
        nn.Softmax(dim=2)(chainrule.zeros(3, 4))
    with pytest.raises(ValueError, match="start_dim=2 comes after end_dim=1"):
        nn.Flatten(2, 1)(chainrule.zeros(2, 3, 4))


# ----- Dropout -------------------------------------------------------------------------------------


def test_dropout_is_identity_in_eval():
    layer = nn.Dropout(0.5).eval()
    x = chainrule.randn(20, 30)
    assert layer(x) is x


def test_dropout_zeroes_and_scales_in_train():
    p = 0.3
    layer = nn.Dropout(p)
    x = chainrule.tensor(np.ones((200, 300)), requires_grad=True)
    y = layer(x)
    kept = y.numpy() != 0
    np.testing.assert_allclose(y.numpy()[kept], 1 / (1 - p), rtol=1e-12)
    assert abs(kept.mean() - (1 - p)) < 0.01  # 60,000 draws: 4.5 standard deviations
    y.backward(np.ones(y.shape))
    np.testing.assert_array_equal(x.grad.numpy(), y.numpy())  # dL/dx = m / (1 - p)


def test_dropout_is_reproducible_under_manual_seed():
    x = chainrule.ones(10, 10)
    chainrule.manual_seed(7)
    first = nn.Dropout(0.5)(x).numpy()
    chainrule.manual_seed(7)
    second = nn.Dropout(0.5)(x).numpy()
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(first, nn.Dropout(0.5)(x).numpy())


def test_dropout_edge_probabilities_and_checks():
    x = chainrule.ones(4, 4)
    assert nn.Dropout(0.0)(x) is x
    assert not nn.Dropout(1.0)(x).numpy().any()
    assert F.dropout(x, 0.5, training=False) is x
    with pytest.raises(
        ValueError, match=r"'p' parameter of Dropout must be a float in the range \[0, 1\]. Got 1.5 instead."
    ):
        nn.Dropout(1.5)
    with pytest.raises(
        TypeError, match=r"The 'p' parameter of Dropout must be a float in the range \[0, 1\]. Got '0.5'"
    ):
        nn.Dropout("0.5")
    with pytest.raises(
        ValueError, match=r"'p' parameter of dropout must be a float in the range \[0, 1\]. Got -0.1 instead."
    ):
        F.dropout(x, -0.1)
    with pytest.raises(
        ValueError, match=r"The 'p' parameter of dropout must be a float in the range \[0, 1\]. Got nan"
    ):
        F.dropout(x, float("nan"))


def test_parameter_attribute_follows_every_change_of_the_registry():
    layer = nn.Linear(3, 2)
    new = nn.Parameter(np.zeros((2, 3), dtype=np.float32))
    layer.weight = new
    assert layer.weight is new and dict(layer.named_parameters())["weight"] is new
    layer.bias = None
    assert layer.bias is None and "bias" not in dict(layer.named_parameters())
    layer.register_parameter("bias", nn.Parameter(np.ones(2, dtype=np.float32)))
    assert layer.bias is layer._parameters["bias"]
    del layer.weight
    assert "weight" not in dict(layer.named_parameters())
    with pytest.raises(AttributeError):
        _ = layer.weight


def test_modules_can_be_called_every_way_pytorch_allows():
    import functools
    import inspect

    linear = nn.Linear(2, 1)
    x = chainrule.ones(3, 2)
    expected = linear.forward(x).numpy()
    for call in (linear, functools.partial(nn.Module.__call__, linear),
                 lambda t: nn.Module.__call__(linear, t)):
        np.testing.assert_array_equal(call(x).numpy(), expected)
    assert str(inspect.signature(linear)) == "(*args, **kwargs)"
