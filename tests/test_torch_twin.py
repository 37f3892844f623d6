"""The PyTorch twin: same layers and weights, same optimizer, same gradient treatment, lockstep."""

import numpy as np
import pytest

import chainrule
from chainrule import nn, optim
from chainrule.data import DataLoader, TensorDataset
from chainrule.apps.torch_twin import (
    TorchTwin, build_torch_twin, max_relative_difference, torch_loss_like, torch_optimizer_like,
)
from chainrule.training.loop import fit

torch = pytest.importorskip("torch")


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Tiny tensors: PyTorch's extra threads only spin (see the torch_twin docstring)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def _regression_data(n=240, features=3, dtype=np.float64, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, features)).astype(dtype)
    y = (np.sin(x[:, :1]) + x[:, 1:2] ** 2).astype(dtype)
    return x, y


@pytest.mark.parametrize("activation", [
    nn.ReLU(), nn.LeakyReLU(0.2), nn.Sigmoid(), nn.Tanh(), nn.Softmax(dim=1), nn.LogSoftmax(dim=1),
    nn.GELU(), nn.GELU("tanh"), nn.ELU(0.7), nn.SELU(), nn.Softplus(2.0, 10.0), nn.SiLU(),
])
def test_twin_forward_equals_chainrule_for_every_activation(activation):
    model = nn.Sequential(nn.Linear(3, 5, dtype="float64"), activation,
                          nn.Linear(5, 2, dtype="float64"))
    twin = build_torch_twin(model)
    x, _ = _regression_data(7)
    ours = model(chainrule.tensor(x)).numpy()
    theirs = twin(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-13)


def test_twin_copies_names_shapes_and_dtype():
    model = nn.Sequential(nn.Linear(2, 10), nn.Sigmoid(), nn.Linear(10, 1))
    twin = build_torch_twin(model)
    theirs = dict(twin.named_parameters())
    assert list(theirs) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    for name, param in model.named_parameters():
        assert theirs[name].dtype == torch.float32
        np.testing.assert_array_equal(theirs[name].detach().numpy(), param.numpy())


def test_twin_refuses_what_it_cannot_copy():
    with pytest.raises(TypeError, match="Dropout\\(p=0.5\\) cannot be twinned"):
        build_torch_twin(nn.Sequential(nn.Linear(2, 3), nn.Dropout(0.5)))
    with pytest.raises(TypeError, match="expected a chainrule nn.Sequential"):
        build_torch_twin(nn.Linear(2, 3))

    class Custom(nn.Module):
        def forward(self, x):
            return x

    with pytest.raises(TypeError, match="the layer Custom has no PyTorch twin"):
        build_torch_twin(nn.Sequential(nn.Linear(2, 3), Custom()))
    with pytest.raises(TypeError, match="torch_loss_like: expected a loss of chainrule.nn"):
        torch_loss_like(nn.Sigmoid())


@pytest.mark.parametrize("make_optimizer", [
    lambda p: optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3),
    lambda p: optim.Adam(p, lr=0.01, betas=(0.8, 0.99), amsgrad=True),
    lambda p: optim.AdamW(p, lr=0.01, weight_decay=0.1),
    lambda p: optim.RMSprop(p, lr=0.01, momentum=0.5, centered=True),
    lambda p: optim.Adagrad(p, lr=0.1, lr_decay=0.01),
], ids=["sgd", "adam", "adamw", "rmsprop", "adagrad"])
def test_lockstep_through_fit_agrees_in_float64(make_optimizer):
    """fit trains chainrule; the lockstep callback trains the twin on the same batches."""
    x, y = _regression_data()
    model = nn.Sequential(nn.Linear(3, 8, dtype="float64"), nn.Tanh(),
                          nn.Linear(8, 1, dtype="float64"))
    optimizer = make_optimizer(model.parameters())
    loss_fn = nn.MSELoss()
    twin = TorchTwin(model, loss_fn, optimizer)
    assert type(twin.optimizer).__name__ == type(optimizer).__name__
    loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True)
    history = fit(model, loss_fn, optimizer, loader, val_data=(x[:50], y[:50]), epochs=3,
                  callbacks=[twin.lockstep((x[:50], y[:50]))], log=None)
    assert len(twin.step_loss) == len(history.step_loss) == 3 * 8
    assert max_relative_difference(history.step_loss, twin.step_loss) < 1e-10
    np.testing.assert_allclose(twin.epoch_val_loss, history.val_loss, rtol=1e-10)
    for name, param in twin.model.named_parameters():
        np.testing.assert_allclose(param.detach().numpy(), dict(model.named_parameters())[name].numpy(),
                                   rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("treatment", [
    {"clip_value": 0.05}, {"clip_norm": 0.1}, {"normalize_grad": True},
])
def test_lockstep_treats_gradients_as_fit_does(treatment):
    x, y = _regression_data()
    model = nn.Sequential(nn.Linear(3, 6, dtype="float64"), nn.Sigmoid(),
                          nn.Linear(6, 1, dtype="float64"))
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    twin = TorchTwin(model, nn.MSELoss(), optimizer, **treatment)
    loader = DataLoader(TensorDataset(x, y), batch_size=40, shuffle=True)
    history = fit(model, nn.MSELoss(), optimizer, loader, epochs=2, callbacks=[twin.lockstep()],
                  log=None, **treatment)
    assert max_relative_difference(history.step_loss, twin.step_loss) < 1e-10
    # An untreated twin from the same weights and batches ends elsewhere: the treatment acted.
    chainrule.manual_seed(0)
    plain_model = nn.Sequential(nn.Linear(3, 6, dtype="float64"), nn.Sigmoid(),
                                nn.Linear(6, 1, dtype="float64"))
    plain = TorchTwin(plain_model, nn.MSELoss(), optim.SGD(plain_model.parameters(), lr=0.1))
    for inputs, targets in DataLoader(TensorDataset(x, y), batch_size=40, shuffle=True):
        plain.step(inputs, targets)
    assert not np.allclose(plain.step_loss, twin.step_loss[:len(plain.step_loss)], rtol=1e-6)


def test_lockstep_follows_an_lr_scheduler():
    x, y = _regression_data()
    model = nn.Sequential(nn.Linear(3, 4, dtype="float64"), nn.ReLU(),
                          nn.Linear(4, 1, dtype="float64"))
    optimizer = optim.SGD(model.parameters(), lr=0.05)
    scheduler = optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    twin = TorchTwin(model, nn.MSELoss(), optimizer)
    history = fit(model, nn.MSELoss(), optimizer,
                  DataLoader(TensorDataset(x, y), batch_size=60, shuffle=True), epochs=3,
                  scheduler=scheduler, callbacks=[twin.lockstep()], log=None)
    assert twin.optimizer.param_groups[0]["lr"] == pytest.approx(0.0125)
    assert max_relative_difference(history.step_loss, twin.step_loss) < 1e-10


def test_torch_optimizer_like_copies_hyper_parameters():
    model = nn.Sequential(nn.Linear(2, 2))
    ours = optim.RMSprop(model.parameters(), lr=0.003, alpha=0.9, eps=1e-6, momentum=0.2)
    theirs = torch_optimizer_like(ours, list(build_torch_twin(model).parameters()))
    group = theirs.param_groups[0]
    assert (group["lr"], group["alpha"], group["eps"], group["momentum"]) == (0.003, 0.9, 1e-6, 0.2)


def test_max_relative_difference():
    assert max_relative_difference([1.0, 2.0], [1.0, 2.0]) == 0.0
    assert max_relative_difference([1.0, 4.0], [1.0, 5.0]) == pytest.approx(0.2)
    assert max_relative_difference([0.0], [0.0]) == 0.0
    assert max_relative_difference([1.0], [float("nan")]) == float("inf")
    with pytest.raises(ValueError, match="must be equally long. Got 2 and 1 values"):
        max_relative_difference([1.0, 2.0], [1.0])
