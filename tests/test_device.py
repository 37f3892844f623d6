"""The 'cuda' device (issue #19): moves, refusals, modules, optimizers, saving, training.

Runs on the GPU where CuPy finds one, else on the CPU stand-in (the ``cuda`` fixture, conftest.py),
whose arrays refuse implicit conversion to NumPy as CuPy's do. Results are compared with the same
computation on the CPU: equal to rounding on the stand-in (NumPy does the work), to float32/float64
tolerances on a GPU.
"""

import numpy as np
import pytest

import chainrule as cr
from chainrule import backend, kernels, nn, standin
from chainrule.backend import is_device_array


def _close(cuda, got, expected, float32=False):
    got = got.cpu().numpy() if isinstance(got, cr.Tensor) else got
    expected = expected.numpy() if isinstance(expected, cr.Tensor) else expected
    if cuda == "standin":
        rtol = 1e-6 if float32 else 1e-12
    else:
        rtol = 1e-4 if float32 else 1e-9
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=rtol * 1e-2)


# ----- tensors: where they live, moves, refusals -------------------------------------------------
def test_factories_and_moves_put_the_numbers_on_the_device(cuda):
    x = cr.zeros(2, 3, device="cuda")
    assert x.device == cr.device("cuda", 0) and x.is_cuda and is_device_array(x._data)
    assert str(x.device) == "cuda:0"
    y = cr.randn(2, 3)
    assert y.cuda().device.type == "cuda" and y.to("cuda:0").cpu().device.type == "cpu"
    np.testing.assert_array_equal(y.cuda().cpu().numpy(), y.numpy())  # a copy there and back
    assert cr.ones_like(x).device == x.device  # *_like keep the input's device
    assert cr.tensor([1.0, 2.0], device="cuda").device == x.device
    assert "device='cuda:0'" in repr(x)


def test_the_same_seed_draws_the_same_numbers_on_every_device(cuda):
    cr.manual_seed(3)
    on_cpu = cr.randn(4, 5)
    cr.manual_seed(3)
    on_gpu = cr.randn(4, 5, device="cuda")
    np.testing.assert_array_equal(on_gpu.cpu().numpy(), on_cpu.numpy())


def test_a_device_tensor_never_becomes_a_numpy_array_silently(cuda):
    x = cr.ones(3, device="cuda")
    with pytest.raises(TypeError, match="can't convert a cuda:0 device tensor to a NumPy array; copy "
                                        r"it to the host first with \.cpu\(\)"):
        x.numpy()
    with pytest.raises(TypeError, match="cuda:0 device tensor"):
        np.asarray(x)
    np.testing.assert_array_equal(x.numpy(force=True), np.ones(3, np.float32))  # on purpose
    assert x.sum().item() == 3.0 and x.tolist() == [1.0, 1.0, 1.0]  # explicit, as PyTorch


def test_tensors_on_two_devices_are_refused_in_one_sentence_naming_both(cuda):
    a, b = cr.ones(3, device="cuda"), cr.ones(3)
    with pytest.raises(RuntimeError, match="Add: expected all tensors to be on the same device, but "
                                           "found at least two devices, cuda:0 and cpu"):
        a + b
    with pytest.raises(RuntimeError, match="MatMul: .*cuda:0 and cpu"):
        cr.ones(2, 3, device="cuda") @ cr.ones(3, 2)


def test_numbers_and_numpy_constants_go_to_the_tensors_device(cuda):
    x = cr.arange(4.0, device="cuda")
    for y in (x * 2, 2 * x, x + np.ones(4, np.float32), x > 1.5, x.clamp(0.5, 2.5)):
        assert y.device.type == "cuda"
    np.testing.assert_array_equal((x * 2).cpu().numpy(), [0.0, 2.0, 4.0, 6.0])


def test_the_gradient_flows_back_across_a_move(cuda):
    x = cr.randn(3, 4, dtype=cr.float64, requires_grad=True)
    y = (x.cuda() * 3).sin().sum()
    assert y.device.type == "cuda"
    y.backward()
    assert x.grad.device.type == "cpu"
    np.testing.assert_allclose(x.grad.numpy(), 3 * np.cos(3 * x.numpy()), rtol=1e-12)
    # and a second derivative through the move
    x.grad = None
    (g,) = cr.autograd.grad((x.cuda() ** 3).sum(), x, create_graph=True)
    (h,) = cr.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(h.numpy(), 6 * x.numpy(), rtol=1e-12)


def test_in_place_changes_and_version_counters_work_on_the_device(cuda):
    w = cr.ones(3, device="cuda", requires_grad=True)
    y = w * w
    with cr.no_grad():
        w.add_(1.0)
    with pytest.raises(RuntimeError, match="was changed by an in-place operation after Mul used it"):
        y.sum().backward()
    x = cr.zeros(2, 3, device="cuda")
    x[0] = 5.0
    x[:, 1] += 1.0
    np.testing.assert_array_equal(x.cpu().numpy(), [[5, 6, 5], [0, 1, 0]])


# ----- modules, optimizers, training ---------------------------------------------------------------
def _mlp():
    cr.manual_seed(0)
    return nn.Sequential(nn.Linear(2, 10), nn.Sigmoid(), nn.Linear(10, 1))


def _seed_data(n=64):
    rng = np.random.default_rng(0)
    ab = rng.standard_normal((n, 2)).astype(np.float32)
    z = (5 * ab[:, :1] ** 2 + 3 * ab[:, 1:] ** 2).astype(np.float32)
    return cr.tensor(ab), cr.tensor(z)


def test_module_to_cuda_moves_parameters_in_place_and_buffers(cuda):
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    params = list(model.parameters())
    assert model.to("cuda") is model
    assert all(a is b for a, b in zip(params, model.parameters()))  # the same Parameter objects
    assert all(p.device.type == "cuda" for p in model.parameters())
    assert all(b.device.type == "cuda" for b in model.buffers())
    model.cpu()
    assert all(p.device.type == "cpu" for p in model.parameters())


@pytest.mark.parametrize("make", [
    lambda p: cr.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3),
    lambda p: cr.optim.SGD(p, lr=0.05, momentum=0.9, dampening=0.1),
    lambda p: cr.optim.Adam(p, lr=0.01, amsgrad=True),
    lambda p: cr.optim.AdamW(p, lr=0.01),
    lambda p: cr.optim.RMSprop(p, lr=0.01, momentum=0.5, centered=True),
    lambda p: cr.optim.Adagrad(p, lr=0.05),
    lambda p: cr.optim.Adadelta(p),
    lambda p: cr.optim.Adamax(p, lr=0.01),
    lambda p: cr.optim.NAdam(p, lr=0.01),
    lambda p: cr.optim.RAdam(p, lr=0.01),
], ids=["sgd", "sgd-momentum", "adam", "adamw", "rmsprop", "adagrad", "adadelta", "adamax", "nadam", "radam"])
def test_training_on_cuda_follows_the_cpu_step_for_step(cuda, make):
    """The seed network, trained on both devices from the same weights: the same losses."""
    x, z = _seed_data()
    losses = {}
    for device in ("cpu", "cuda"):
        model = _mlp().to(device)
        opt = make(model.parameters())
        sched = cr.optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.5)
        xd, zd = x.to(device), z.to(device)
        run = []
        for _ in range(8):
            opt.zero_grad()
            loss = nn.functional.mse_loss(model(xd), zd)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            nn.utils.clip_grad_value_(model.parameters(), 2.0)
            opt.step()
            sched.step()
            assert loss.device.type == device
            run.append(loss.item())
        losses[device] = run
    _close(cuda, np.array(losses["cuda"]), np.array(losses["cpu"]), float32=True)


def test_lbfgs_on_cuda_equals_the_cpu(cuda):
    x, z = _seed_data()
    losses = {}
    for device in ("cpu", "cuda"):
        model = _mlp().double().to(device)
        opt = cr.optim.LBFGS(model.parameters(), lr=0.5, max_iter=5)
        xd, zd = x.double().to(device), z.double().to(device)

        def closure(opt=opt, model=model, xd=xd, zd=zd):
            opt.zero_grad()
            loss = nn.functional.mse_loss(model(xd), zd)
            loss.backward()
            return loss

        losses[device] = [float(opt.step(closure)) for _ in range(3)]
    _close(cuda, np.array(losses["cuda"]), np.array(losses["cpu"]))


def test_a_small_cnn_and_a_transformer_layer_train_on_cuda_as_on_the_cpu(cuda):
    cr.manual_seed(0)
    images = cr.randn(4, 1, 8, 8, dtype=cr.float64)
    labels = cr.tensor([0, 1, 2, 1])
    tokens = cr.randn(2, 5, 8, dtype=cr.float64)
    results = {}
    for device in ("cpu", "cuda"):
        cr.manual_seed(1)
        cnn = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                            nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64, 3)).double().to(device)
        layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0,
                                           batch_first=True).double().to(device)
        lstm = nn.LSTM(8, 6, batch_first=True).double().to(device)
        loss = nn.functional.cross_entropy(cnn(images.to(device)), labels.to(device))
        out, _ = lstm(layer(tokens.to(device), is_causal=False))
        total = loss + out.pow(2).mean()
        total.backward()
        grads = [p.grad.cpu().numpy() for p in (*cnn.parameters(), *layer.parameters(),
                                                 *lstm.parameters())]
        results[device] = (total.item(), grads)
    _close(cuda, np.array(results["cuda"][0]), np.array(results["cpu"][0]))
    for got, expected in zip(results["cuda"][1], results["cpu"][1]):
        _close(cuda, got, expected)


# ----- saving, loading, checking ------------------------------------------------------------------
def test_save_writes_host_arrays_and_load_maps_them_where_asked(cuda, tmp_path):
    model = _mlp().to("cuda")
    path = tmp_path / "model.crk"
    cr.save(model.state_dict(), path)
    state = cr.load(path)  # on the host, as saved
    assert all(type(a) is np.ndarray for a in state.values())
    on_device = cr.load(path, map_location="cuda")
    assert all(is_device_array(a) for a in on_device.values())
    fresh = nn.Sequential(nn.Linear(2, 10), nn.Sigmoid(), nn.Linear(10, 1))  # on the CPU
    fresh.load_state_dict(on_device)  # copied across devices, as PyTorch's load_state_dict
    np.testing.assert_array_equal(fresh[0].weight.numpy(), model[0].weight.cpu().numpy())
    model.load_state_dict(state)  # host arrays into a model on the device
    assert model[0].weight.device.type == "cuda"
    with pytest.raises(TypeError, match="map_location"):
        cr.load(path, map_location=lambda storage, loc: storage)


def test_optimizer_state_saves_from_and_loads_onto_the_device(cuda, tmp_path):
    x, z = _seed_data()
    model = _mlp().to("cuda")
    opt = cr.optim.Adam(model.parameters(), lr=0.01)
    nn.functional.mse_loss(model(x.cuda()), z.cuda()).backward()
    opt.step()
    cr.save({"model": model.state_dict(), "opt": opt.state_dict()}, tmp_path / "c.crk")
    saved = cr.load(tmp_path / "c.crk")
    again = _mlp().to("cuda")
    opt2 = cr.optim.Adam(again.parameters(), lr=0.01)
    again.load_state_dict(saved["model"])
    opt2.load_state_dict(saved["opt"])
    for p in again.parameters():
        assert all(is_device_array(v) for v in opt2.state[p].values() if hasattr(v, "shape"))


def test_gradcheck_and_anomaly_detection_run_on_the_device(cuda):
    x = cr.randn(3, 4, dtype=cr.float64, device="cuda", requires_grad=True)
    w = cr.randn(4, 2, dtype=cr.float64, device="cuda", requires_grad=True)
    assert cr.autograd.gradcheck(lambda a, b: (a @ b).tanh(), (x, w))
    assert cr.autograd.gradgradcheck(lambda a, b: (a @ b).tanh(), (x, w))
    with cr.autograd.detect_anomaly():
        with pytest.raises(RuntimeError, match="Log produced nan in forward"):
            (x - 10).log()  # the log of negative numbers


def test_export_to_pytorch_takes_a_model_on_the_device(cuda):
    torch = pytest.importorskip("torch")
    from chainrule.apps.interop import to_torch_state_dict

    model = _mlp().to("cuda")
    state = to_torch_state_dict(model.state_dict())
    assert all(isinstance(v, torch.Tensor) and v.device.type == "cpu" for v in state.values())
    np.testing.assert_array_equal(state["0.weight"].numpy(), model[0].weight.cpu().numpy())


def test_probes_answer_for_the_device(cuda):
    assert cr.cuda.is_available() and cr.cuda.device_count() == 1
    assert cr.accelerator.current_accelerator() == cr.device("cuda")
    assert cr.cuda.current_device() == 0
    cr.cuda.synchronize()
    name = cr.cuda.get_device_name()
    assert name == ("CPU stand-in" if cuda == "standin" else name) and name


def test_the_gpu_benchmark_runs_end_to_end_on_the_stand_in(tmp_path):
    """benchmarks/run_gpu.py, tiny sizes on the stand-in: every workload's implementations agree
    on the first loss (it refuses to time them otherwise) and it writes its JSON. No timing
    asserted."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    out = tmp_path / "gpu.json"
    done = subprocess.run([sys.executable, str(root / "benchmarks" / "run_gpu.py"), "--standin",
                           "--rounds", "1", "--steps", "2", "--out", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    results = json.loads(out.read_text())
    assert set(results["workloads"]) == {"mlp-small", "mlp-gemm", "lenet", "gpt"}
    for entry in results["workloads"].values():
        assert "chainrule" in entry["median_us"]
        assert ("floor" in entry["median_us"]) == (entry["kind"] == "mlp")


def test_fit_trains_a_model_on_the_device_from_a_cpu_data_loader(cuda):
    """fit moves each batch to the model's device (as PyTorch code does by hand): the same
    history as on the CPU."""
    from chainrule.training.loop import fit

    x, z = _seed_data(96)
    histories = {}
    for device in ("cpu", "cuda"):
        model = _mlp().to(device)
        cr.manual_seed(5)
        loader = cr.utils.data.DataLoader(cr.utils.data.TensorDataset(x, z), batch_size=16,
                                          shuffle=True)
        opt = cr.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        history = fit(model, nn.MSELoss(), opt, loader, val_data=(x[:32], z[:32]), epochs=3,
                      clip_norm=10.0, log=None)
        histories[device] = history.train_loss + history.val_loss
    _close(cuda, np.array(histories["cuda"]), np.array(histories["cpu"]), float32=True)


def test_initialisers_write_into_parameters_on_the_device(cuda):
    """nn.init draws on the host (the same numbers as on the CPU) and writes on the device."""
    for init in (nn.init.xavier_uniform_, nn.init.kaiming_normal_, nn.init.orthogonal_,
                 nn.init.trunc_normal_, nn.init.zeros_):
        weights = {}
        for device in ("cpu", "cuda"):
            w = cr.empty(4, 3).to(device)
            cr.manual_seed(2)
            init(w)
            assert w.device.type == device
            weights[device] = w.cpu().numpy()
        np.testing.assert_array_equal(weights["cuda"], weights["cpu"])


def test_in_place_ops_on_the_device_inside_and_outside_the_graph(cuda):
    for requires_grad in (False, True):
        leaf = cr.arange(6.0).reshape(2, 3).to("cuda").requires_grad_(requires_grad)
        x = leaf * 1.0  # not a leaf: in-place changes are recorded when it requires grad
        x.copy_(cr.ones(2, 3))  # from the host, as PyTorch's copy_ across devices
        x.add_(1.0)
        x.mul_(cr.full((3,), 2.0, device="cuda"))
        x[0] = 7.0
        x[1, 1:] = cr.tensor([5.0, 6.0])  # a host tensor written into a device one
        x.clamp_(max=6.5)
        x.fill_(x.max())  # a 0-d device tensor
        x.zero_().add_(3)
        assert x.device.type == "cuda"
        np.testing.assert_array_equal(x.cpu().numpy(), np.full((2, 3), 3.0))
        if requires_grad:
            x.sum().backward()
            np.testing.assert_array_equal(leaf.grad.cpu().numpy(), np.zeros((2, 3)))


def test_random_in_place_fills_on_the_device_draw_the_cpu_numbers(cuda):
    for fill in (lambda t: t.uniform_(-1, 1), lambda t: t.normal_(0, 2), lambda t: t.bernoulli_(0.3)):
        drawn = {}
        for device in ("cpu", "cuda"):
            cr.manual_seed(4)
            t = fill(cr.empty(3, 4, device=device))
            assert t.device.type == device
            drawn[device] = t.cpu().numpy()
        np.testing.assert_array_equal(drawn["cuda"], drawn["cpu"])


def test_module_constructors_take_device_as_pytorchs_do(cuda):
    cr.manual_seed(0)
    on_cpu = nn.Linear(3, 2)
    cr.manual_seed(0)
    on_gpu = nn.Linear(3, 2, device="cuda")
    assert on_gpu.weight.device.type == "cuda"
    np.testing.assert_array_equal(on_gpu.weight.cpu().numpy(), on_cpu.weight.numpy())
    norm = nn.BatchNorm1d(4, device="cuda")
    assert all(b.device.type == "cuda" for b in norm.buffers())
    conv = nn.Conv2d(1, 2, 3, device=cr.device("cuda"))
    assert conv.weight.device.type == "cuda"

    class Net(nn.Module):  # a user's module takes device= too, and a nested one works
        def __init__(self, width):
            super().__init__()
            self.fc = nn.Linear(width, 1)

        def forward(self, x):
            return self.fc(x)

    net = Net(4, device="cuda")
    assert net.fc.weight.device.type == "cuda"
    assert net(cr.ones(2, 4, device="cuda")).device.type == "cuda"


def test_chainrule_train_on_the_device_matches_the_cpu_and_resumes_anywhere(cuda, tmp_path, capsys):
    """`chainrule train --device cuda`: the same losses as on the CPU (the stand-in computes with
    NumPy; a GPU to float32 tolerance), a checkpoint of host arrays that resumes on the CPU, and
    predict reads it."""
    import json

    from chainrule.cli import main

    runs = {}
    for device in ("cpu", "cuda"):
        out = tmp_path / device
        assert main(["train", "--images", "digits", "--epochs", "2", "--batch-norm", "--channels",
                     "4,8", "--device", device, "--out", str(out), "--no-plots", "--json"]) == 0
        runs[device] = json.loads(capsys.readouterr().out)
    for key in ("final_train_loss", "final_val_loss"):
        _close(cuda, np.array(runs["cuda"][key]), np.array(runs["cpu"][key]), float32=True)
    # accuracy counts images: float32 sums in another order on a GPU may move one borderline
    # image of the 359 to the other side; the stand-in computes with NumPy and agrees exactly
    flipped = abs(runs["cuda"]["val_accuracy"] - runs["cpu"]["val_accuracy"]) * 359
    assert flipped < (0.5 if cuda == "standin" else 1.5), runs
    state = cr.load(tmp_path / "cuda" / "checkpoint.crk")
    assert all(type(a) is np.ndarray for a in state["model"].values())  # saved on the host
    assert main(["train", "--resume", str(tmp_path / "cuda"), "--epochs", "3", "--no-plots",
                 "--quiet"]) == 0  # on the CPU now
    assert main(["predict", "--model", str(tmp_path / "cuda"), "--images", "digits", "--out",
                 str(tmp_path / "p.csv")]) == 0


# ----- what a GPU checks later, refuses, and launches ----------------------------------------------
def _raised_later(make, match):
    """make() raises nothing on the device; the next synchronisation raises, naming the op."""
    result = make()
    with pytest.raises(IndexError, match=match + r".*\(Found on the GPU at the next synchronisation"):
        result.sum().item()


def test_indices_out_of_range_are_reported_at_the_next_synchronisation(cuda):
    """Token ids, gather's and indexing's integer arrays: on the GPU the check's answer stays on
    the device until the host waits anyway (as PyTorch's device-side checks); on the CPU at once."""
    emb = nn.Embedding(5, 3)
    x = cr.arange(6.0).reshape(2, 3)
    bad_ids, bad_rows = cr.tensor([1, 7]), cr.tensor([[0, 3, 1]])
    with pytest.raises(IndexError, match=r"Embedding: token ids must lie in \[0, 4\].*Got 7 instead\.$"):
        emb(bad_ids)
    emb.to("cuda")
    _raised_later(lambda: emb(bad_ids.to("cuda")), r"Embedding: token ids must lie in \[0, 4\].*Got 7")
    xd = x.to("cuda")
    _raised_later(lambda: xd.gather(1, bad_rows.to("cuda")), r"gather: index 3 is out of range")
    _raised_later(lambda: xd[cr.tensor([0, 2], device="cuda")], r"getitem: index 2 is out of bounds")
    _raised_later(lambda: xd[cr.tensor([0, -3], device="cuda")], r"getitem: index -3 is out of bounds")
    assert xd[cr.tensor([1, -2], device="cuda")].cpu().numpy().tolist() == [[3, 4, 5], [0, 1, 2]]
    xd[cr.tensor([4], device="cuda")] = 1.0
    with pytest.raises(IndexError, match=r"setitem: index 4 is out of bounds.*next synchronisation"):
        cr.cuda.synchronize()
    emb(cr.tensor([[0, 4]] * 3, device="cuda"))  # in range: nothing raised, now or later
    cr.cuda.synchronize()


def test_pending_checks_are_answered_at_the_latest_after_a_bounded_number(cuda):
    from chainrule import backend

    emb = nn.Embedding(5, 3, device="cuda")
    ids = cr.tensor([1, 2], device="cuda")
    for _ in range(backend.PENDING_LIMIT - 1):
        emb(ids)
    assert len(backend._pending) == backend.PENDING_LIMIT - 1
    emb(ids)  # the limit: every pending check answered with one wait
    assert backend._pending == []


def test_a_tensor_on_another_device_as_targets_ids_or_index_is_refused(cuda):
    """As PyTorch: the targets, token ids or index must be on the device of what they go with
    (lists and arrays are constants and go there)."""
    logits = cr.randn(4, 3, device="cuda")
    targets = cr.tensor([0, 2, 1, 1])
    both = r"expected all tensors to be on the same device, but found at least two devices, cuda:0 and cpu"
    for call in (lambda: nn.functional.cross_entropy(logits, targets),
                 lambda: nn.functional.nll_loss(logits.log_softmax(1), targets),
                 lambda: nn.Embedding(5, 2, device="cuda")(targets),
                 lambda: logits.gather(1, targets[:, None]),
                 lambda: logits.index_select(0, targets),
                 lambda: nn.functional.cross_entropy(logits.cpu(), targets.to("cuda")),
                 lambda: logits.masked_fill(cr.ones(4, 3, dtype=cr.bool), 0.0),
                 lambda: cr.where(cr.ones(4, 3, dtype=cr.bool), logits, 0.0)):
        with pytest.raises(RuntimeError, match=both):
            call()
    assert nn.functional.cross_entropy(logits, [0, 2, 1, 1]).device.type == "cuda"  # a constant
    assert logits.masked_fill(cr.tensor(True), 0.0).device.type == "cuda"  # 0-d: a number


def test_factories_make_their_numbers_on_the_device(cuda):
    """zeros, ones, full, eye, arange (integers) and the *_like are made on the device: nothing is
    copied from the host (random numbers are drawn there on purpose, for seed parity)."""
    if cuda != "standin":
        pytest.skip("counted on the stand-in")
    from chainrule import standin

    like = cr.ones(2, 3, device="cuda")
    makes = [lambda: cr.zeros(2, 3, device="cuda"), lambda: cr.ones(4, device="cuda"),
             lambda: cr.full((2, 2), 7, device="cuda"), lambda: cr.eye(3, device="cuda"),
             lambda: cr.arange(5, device="cuda"), lambda: cr.zeros_like(like),
             lambda: cr.ones_like(like), lambda: cr.full_like(like, 2.5)]
    for make in makes:
        standin.counts.reset()
        standin.counts.counting = True
        try:
            t = make()
        finally:
            standin.counts.counting = False
        assert t.device.type == "cuda" and standin.counts.uploads == 0, make
    assert cr.arange(5, device="cuda").cpu().numpy().tolist() == [0, 1, 2, 3, 4]
    assert cr.full((2,), 7, device="cuda").dtype == cr.int64


def _launches(step):
    from chainrule import standin

    standin.counts.reset()
    standin.counts.counting = True
    try:
        step()
    finally:
        standin.counts.counting = False
    return standin.counts.calls, standin.counts.waits


@pytest.mark.parametrize("fused", [True, False], ids=["fused", "unfused"])
def test_an_optimizer_on_the_device_updates_a_group_in_a_few_operations(cuda, fused):
    """foreach (the default on a GPU): AdamW's operations once for the group, plus a gather of
    the gradients, where the loop makes them for each parameter (the parameters live in the flat
    vector: nothing is copied back). Unfused, the update is a dozen operations; fused, one
    kernel (chainrule.kernels) after the weight decay. Counted on the stand-in (each operation
    would be one kernel launch); the same numbers."""
    if cuda != "standin":
        pytest.skip("counted on the stand-in")
    results = {}
    with kernels.fusing(fused):
        for foreach in (None, False):
            cr.manual_seed(0)
            model = nn.Sequential(*(nn.Linear(4, 4) for _ in range(5))).to("cuda")  # 10 parameters
            opt = cr.optim.AdamW(model.parameters(), lr=0.01, foreach=foreach)
            for _ in range(2):
                opt.zero_grad()
                model(cr.ones(3, 4, device="cuda")).pow(2).sum().backward()
                launches, waits = _launches(opt.step)
            results[foreach] = ([p.cpu().numpy() for p in model.parameters()], launches, waits)
    flat, looped = results[None], results[False]
    for a, b in zip(flat[0], looped[0]):
        np.testing.assert_array_equal(a, b)
    assert flat[2] == looped[2] == 0  # no waits for the device in a step
    per_parameter = 2 if fused else 12  # the decay, then the update
    assert looped[1] >= 10 * per_parameter, looped[1]
    assert flat[1] <= 1 + per_parameter + 4, flat[1]


def test_a_language_model_step_on_the_device_never_waits_for_it(cuda):
    """A training step of embeddings, a head, cross_entropy, clipping and Adam never waits for
    the device (each wait would stall the GPU's queue): the token ids' and the class targets'
    range checks are answered later (check_later)."""
    if cuda != "standin":
        pytest.skip("counted on the stand-in")
    cr.manual_seed(0)
    emb = nn.Embedding(10, 8, device="cuda")
    head = nn.Linear(8, 10, device="cuda")
    opt = cr.optim.Adam([*emb.parameters(), *head.parameters()])
    ids = cr.tensor([[1, 2, 3], [4, 5, 6]], device="cuda")

    def step():
        opt.zero_grad()
        logits = head(emb(ids) + emb(ids.flip(1)))
        nn.functional.cross_entropy(logits.reshape(-1, 10), ids.reshape(-1)).backward()
        nn.utils.clip_grad_norm_([*emb.parameters(), *head.parameters()], 1.0)
        opt.step()

    step()
    assert _launches(step)[1] == 0


def test_class_targets_out_of_range_are_reported_at_the_next_synchronisation(cuda):
    """cross_entropy and nll_loss on the GPU: a target that is neither a class nor ignore_index
    is reported at the next synchronisation, naming it; ignore_index and classes pass, and the
    loss equals the CPU's (the path that ignores targets is taken on the device whether or not
    one is ignore_index, so that the loss never waits for the device to choose)."""
    logits = cr.randn(4, 3)
    for fn in (nn.functional.cross_entropy,
               lambda x, t, **kw: nn.functional.nll_loss(x.log_softmax(1), t, **kw)):
        for targets, kw in (([0, 2, 1, 1], {}), ([0, -100, 2, -100], {}), ([1, 1, 2, 0], {"ignore_index": 1}),
                            ([0, 2, 1, 1], {"weight": cr.tensor([0.5, 2.0, 1.0])})):
            x = logits.clone().requires_grad_(True)
            xd = logits.to("cuda").requires_grad_(True)
            for inp, dev in ((x, "cpu"), (xd, "cuda")):
                w = kw.get("weight")
                fn(inp, cr.tensor(targets, device=dev),
                   **{**kw, **({"weight": w.to(dev)} if w is not None else {})}).backward()
            _close(cuda, xd.grad.cpu().numpy(), x.grad.numpy(), float32=True)
        with pytest.raises(ValueError, match=r"target class 3 is out of range for 3 classes"):
            fn(logits, cr.tensor([0, 3, -100, 1]))
        targets = cr.tensor([0, 3, -100, 1], device="cuda")
        loss = fn(logits.to("cuda"), targets)
        targets.copy_(cr.tensor([0, 1, 1, 1]))  # (the next batch into the same buffer: the report
        with pytest.raises(ValueError, match=r"target class 3 is out of range for 3 classes.*"
                                             r"\(Found on the GPU at the next synchronisation"):
            loss.item()  # names the value the loss used)


def test_probabilities_outside_0_1_are_reported_by_bce_now_on_the_cpu_later_on_the_device(cuda):
    p, t = cr.tensor([0.2, 1.5, 0.7]), cr.tensor([0.0, 1.0, 1.0])
    message = (r"binary_cross_entropy: every input must be a probability in \[0, 1\]. "
               r"Got values from 0.2 to 1.5")
    with pytest.raises(ValueError, match=message + r"; use binary_cross_entropy_with_logits"):
        nn.functional.binary_cross_entropy(p, t)
    loss = nn.functional.binary_cross_entropy(p.to("cuda"), t.to("cuda"))
    with pytest.raises(ValueError, match=message + r".*\(Found on the GPU at the next synchronisation"):
        loss.item()
    nan_passes = nn.functional.binary_cross_entropy(cr.tensor([0.5, float("nan")], device="cuda"),
                                                    cr.tensor([1.0, 0.0], device="cuda"))
    assert np.isnan(nan_passes.item())  # (as in PyTorch: nan is not outside [0, 1])


def test_losses_with_every_target_ignored_or_a_total_weight_of_zero_equal_the_cpu(cuda):
    """nan where the CPU (and PyTorch) give nan and 0 where they give 0, through the device's
    path that never reads the total weight."""
    x = np.array([[1.0, 2.0, 3.0], [0.5, -1.0, 2.0], [3.0, 0.0, -2.0]])
    t = np.array([0, 2, 1])
    cases = [(nn.functional.cross_entropy, t, {"weight": [0.0, 0.0, 1.0], "ignore_index": 2}),
             (nn.functional.cross_entropy, t,
              {"weight": [0.0, 0.0, 1.0], "ignore_index": 2, "label_smoothing": 0.3}),
             (nn.functional.cross_entropy, t, {"weight": [0.0, 0.0, 0.0]}),
             (nn.functional.cross_entropy, np.array([-100] * 3), {}),
             (nn.functional.nll_loss, np.array([-100] * 3), {}),
             (nn.functional.nll_loss, t, {"weight": [0.0, 0.0, 0.0], "reduction": "sum"})]
    for fn, targets, kwargs in cases:
        grads, losses = [], []
        for device in ("cpu", "cuda"):
            inp = cr.tensor(x, device=device, requires_grad=True)
            options = {k: (cr.tensor(v, dtype=cr.float64, device=device) if k == "weight" else v)
                       for k, v in kwargs.items()}
            loss = fn(inp, cr.tensor(targets, device=device), **options)
            loss.backward()
            losses.append(loss.item())
            grads.append(inp.grad.cpu().numpy())
        np.testing.assert_array_equal(np.isnan(losses), [np.isnan(losses[0])] * 2, str(kwargs))
        np.testing.assert_array_equal(np.isnan(grads[1]), np.isnan(grads[0]), str(kwargs))
        _close(cuda, np.nan_to_num(grads[1]), np.nan_to_num(grads[0]))


def test_as_tensor_of_an_array_goes_to_the_default_device(cuda):
    """As PyTorch's: without device=, an array or a list goes to the default device (a copy);
    a Tensor stays where it is; on the CPU the array's memory is still shared."""
    array = np.arange(3.0)
    assert np.shares_memory(cr.as_tensor(array).numpy(), array)
    cr.set_default_device("cuda")
    assert cr.as_tensor(array).device.type == "cuda"
    assert cr.as_tensor([1, 2]).device.type == "cuda"
    assert cr.as_tensor(cr.ones(2, device="cpu")).device.type == "cpu"
    assert cr.as_tensor(array, device="cpu").device.type == "cpu"


def test_numbers_in_arithmetic_are_not_copied_to_the_device(cuda):
    """x * 0.5 + 2 on the GPU passes the numbers to the kernels as arguments: no copy from the
    host (each would stall), the tensor's dtype kept; second derivatives still work."""
    if cuda != "standin":
        pytest.skip("counted on the stand-in")
    from chainrule import standin

    x = cr.ones(3, device="cuda", requires_grad=True)
    standin.counts.reset()
    standin.counts.counting = True
    try:
        y = ((x * 0.5 + 2) ** 2 / 3 - 1).sum()
        y.backward()
    finally:
        standin.counts.counting = False
    assert standin.counts.uploads == 0 and standin.counts.waits == 0
    assert y.dtype == cr.float32 and x.grad.dtype == cr.float32
    (g,) = cr.autograd.grad((2.0 ** x).sum(), x, create_graph=True)
    (gg,) = cr.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(gg.cpu().numpy(), 2.0 * np.log(2.0) ** 2, rtol=1e-6)


def test_small_integer_ids_and_targets_are_checked_against_large_ranges(cuda):
    """int8 ids for 300 rows: -1 is out of range (seen as uint8 it would be 255, under 300), on
    the CPU at once and on the device at the next synchronisation; int8 index arrays index a
    300-long axis on the device; int8 targets with ignore_index -100 and 300 classes are ignored."""
    ids = cr.tensor(np.array([1, -1], dtype=np.int8))
    with pytest.raises(IndexError, match=r"token ids must lie in \[0, 299\].*Got -1"):
        nn.Embedding(300, 2)(ids)
    with pytest.raises(ValueError, match=r"one_hot: class index -1 is out of range"):
        nn.functional.one_hot(ids, 300)
    logits = cr.randn(3, 300, dtype=cr.float64)
    small = cr.tensor(np.array([5, -100, 7], dtype=np.int8))
    np.testing.assert_allclose(nn.functional.cross_entropy(logits, small).item(),
                               nn.functional.cross_entropy(logits, small.long()).item(), rtol=1e-12)
    with pytest.raises(ValueError, match=r"target class -1 is out of range for 300 classes"):
        nn.functional.cross_entropy(logits, cr.tensor(np.array([5, -1, 7], dtype=np.int8)))
    x = cr.arange(300.0, device="cuda")
    assert x[cr.tensor(np.array([1, -2], dtype=np.int8), device="cuda")].cpu().numpy().tolist() == [1, 298]
    _raised_later(lambda: nn.Embedding(300, 2, device="cuda")(ids.to("cuda")),
                  r"token ids must lie in \[0, 299\].*Got -1")


def test_switching_the_stand_in_off_answers_its_checks_and_switches_anyway():
    from chainrule import backend

    backend.use_standin_cuda(True)
    try:
        nn.Embedding(5, 2, device="cuda")(cr.tensor([9], device="cuda"))
    finally:
        with pytest.raises(IndexError, match="token ids must lie in"):
            backend.use_standin_cuda(False)
    assert backend._pending == [] and (backend.cuda_backend() is None
                                       or backend.cuda_backend().name == "cupy")


def test_the_stand_in_indexes_as_numpy_with_masks_and_wraps_as_cupy():
    from chainrule import standin

    a = np.arange(30).reshape(2, 3, 5)
    mask = np.array([[True, False, True], [False, True, False]])
    s = standin.xp.asarray(a)
    np.testing.assert_array_equal(s[standin.xp.asarray(mask), 4].get(), a[mask, 4])
    assert s[0, 0, standin.xp.asarray(np.array([7], dtype=np.int8))].get().tolist() == [2]  # 7 mod 5


def test_every_nn_example_runs_with_cuda_as_the_default_device(cuda):
    """Each nn module's docstring Example, run with set_default_device('cuda'): the modules are
    built there (as PyTorch's follow the default device), the tensors are made there, and every
    Example prints what it prints on the CPU (but for the device in a tensor's repr)."""
    import doctest
    import importlib
    import pkgutil
    import re

    class SameButDevice(doctest.OutputChecker):
        on_device = 0

        def check_output(self, want, got, optionflags):
            SameButDevice.on_device += "cuda" in got
            return super().check_output(want, re.sub(r",\s*device='cuda:0'", "", got), optionflags)

    runner = doctest.DocTestRunner(checker=SameButDevice(),
                                   optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    names = ["chainrule.nn"] + [f"chainrule.nn.{i.name}" for i in pkgutil.iter_modules(nn.__path__)]
    failed = attempted = 0
    for name in names:
        module = importlib.import_module(name)
        globs = {"chainrule": cr, "nn": nn, "np": np, **vars(module)}
        for test in doctest.DocTestFinder().find(module, globs=globs):
            cr.set_default_device("cuda")
            cr.manual_seed(0)
            try:
                result = runner.run(test, out=lambda text: None)
            finally:
                cr.set_default_device(None)
            failed += result.failed
            attempted += result.attempted
    assert attempted > 150 and failed == 0, f"{failed} of {attempted} examples failed on 'cuda'"
    assert SameButDevice.on_device > 20  # the examples' tensors were on the device


def test_index_ranges_are_made_once_per_size_on_the_device(cuda):
    """arange_on (the rows a loss picks from, pooling's positions) hands out the range it made
    before for the same arguments on the device, so that a step does not make it again; on the
    stand-in it is read-only, so a write to it would fail a test."""
    from chainrule.backend import arange_on

    like = cr.zeros(2, device="cuda")._data
    first = arange_on(like, 5)
    assert arange_on(like, 5) is first and arange_on(like, 6) is not first
    assert arange_on(like, 5, dtype=np.int32) is not first
    assert arange_on(like, 5.0).dtype == np.float64  # (5.0 == 5, but another range)
    assert arange_on(np.zeros(2), 5) is not arange_on(np.zeros(2), 5)  # the CPU: made each time
    if cuda == "standin":
        with pytest.raises(ValueError, match="read-only"):
            first[0] = 1


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
def test_col2im_on_the_device_equals_the_cpus(cuda, dtype):
    """col2im (a convolution's input gradient, fold, max pooling's backward) is one scatter-add on
    the device and one addition per kernel offset on the CPU: the same sums, for overlapping
    windows, strides, dilation and padding cut off (float16, which a GPU cannot add atomically
    everywhere, takes the CPU's way on the device too)."""
    from chainrule.ops.conv import col2im

    rng = np.random.default_rng(0)
    for (kh, kw), stride, dilation, padding, (oh, ow) in (((3, 3), (1, 1), (1, 1), ((1, 1), (1, 1)), (5, 6)),
                                                          ((2, 3), (2, 1), (1, 2), ((0, 1), (2, 0)), (3, 4)),
                                                          ((3, 2), (1, 3), (2, 1), ((1, 0), (0, 1)), (4, 3))):
        h = (oh - 1) * stride[0] + dilation[0] * (kh - 1) + 1 - sum(padding[0])
        w = (ow - 1) * stride[1] + dilation[1] * (kw - 1) + 1 - sum(padding[1])
        cols = rng.standard_normal((2, 3, kh, kw, oh, ow)).astype(dtype)
        expected = col2im(cols, (2, 3, h, w), stride, padding, dilation)
        got = col2im(cr.tensor(cols, device="cuda")._data, (2, 3, h, w), stride, padding, dilation)
        got = cr.Tensor._from_op(got, None).cpu().numpy()
        np.testing.assert_allclose(got, expected, rtol=1e-3 if dtype == np.float16 else 1e-6, atol=1e-3)


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.uint16, np.int32, np.int64])
def test_cross_entropy_takes_targets_of_every_integer_dtype_on_the_device(cuda, dtype):
    """Targets of every integer dtype give the CPU's loss on the device, whose path compares them
    with ignore_index (where the dtype cannot hold it, uint8 and -100, it does not compare: CuPy
    may refuse that comparison, which the stand-in cannot show)."""
    logits = cr.randn(4, 3)
    targets = np.array([0, 2, 1, 1], dtype=dtype)
    expected = nn.functional.cross_entropy(logits, cr.tensor(targets))
    got = nn.functional.cross_entropy(logits.to("cuda"), cr.tensor(targets, device="cuda"))
    _close(cuda, got.cpu().numpy(), expected.numpy(), float32=True)


def test_a_change_through_a_view_whose_base_is_gone_is_still_caught_on_the_device(cuda):
    """A view keeps what owns its memory (as a CuPy view holds its base), so the in-place
    check finds the change even when nothing else holds the owner any more."""
    for device in ("cpu", "cuda"):
        x = cr.arange(6.0, device=device)
        view = x[2:]
        del x
        a = cr.ones(4, device=device, requires_grad=True)
        out = (a * view).sum()
        with cr.no_grad():
            view.mul_(10.0)
        assert view._version == 1, device
        with pytest.raises(RuntimeError, match="changed by an in-place operation"):
            out.backward()


def test_a_saved_number_is_a_constant_to_backward_graph_whatever_the_id_of_its_array(cuda,
                                                                                     monkeypatch):
    """On the device a number operand is saved as a number and becomes a new 0-d array for
    backward_graph. A new array may get the id of a freed array, an op's output among them; it
    must still be a constant, never taken for that output (it was, now and then, on the
    stand-in: a second derivative with a wrong shape)."""
    from chainrule.autograd import function

    x = cr.tensor([1.0, 2.0], device="cuda", requires_grad=True)
    y = x * 3.0
    numbers = [a for a in y.grad_fn.saved_tensors if isinstance(a, np.generic)]
    if not numbers:
        pytest.skip("this device saves the number as an array")
    monkeypatch.setattr(function, "_number_as_array", lambda number, like: y._data)  # the id
    saved = function._GraphContext(y.grad_fn).saved_tensors  # of the output, as if reused
    assert [t.grad_fn for t in saved if t._data is y._data] == [None]


@pytest.mark.parametrize("fused", [True, False], ids=["fused", "unfused"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_max_pooling_on_the_device_picks_the_cpus_maximum_and_offset_ties_and_nan_included(
        cuda, fused, dtype):
    """The device copies the windows out and takes max and argmax (of a key, fused); the CPU
    keeps a running maximum. Same maxima and offsets: the first maximum on ties (infinities
    among them), the last NaN in a window with NaN (PyTorch's rule, an infinity beside it or
    not), through padding, strides and dilation."""
    from chainrule.ops.pool import max_pool_arrays

    rng = np.random.default_rng(1)
    x = rng.integers(0, 3, size=(2, 3, 7, 8)).astype(dtype)  # many ties
    x[0, 0, 1, 1] = x[0, 0, 1, 2] = x[1, 2, 4, 4] = np.nan
    x[0, 1, 2, 2] = x[0, 1, 2, 3] = x[1, 2, 4, 5] = np.inf
    x[1, 0, :2, :3] = -np.inf
    for kernel, stride, padding, dilation in (((2, 2), (2, 2), ((0, 0), (0, 0)), (1, 1)),
                                              ((3, 3), (1, 2), ((1, 1), (1, 0)), (1, 1)),
                                              ((2, 3), (2, 1), ((0, 1), (1, 1)), (2, 1))):
        h, w = x.shape[2] + sum(padding[0]), x.shape[3] + sum(padding[1])
        out_hw = ((h - dilation[0] * (kernel[0] - 1) - 1) // stride[0] + 1,
                  (w - dilation[1] * (kernel[1] - 1) - 1) // stride[1] + 1)
        y, offset = max_pool_arrays(x, kernel, stride, padding, dilation, out_hw)
        with kernels.fusing(fused):
            yd, offset_d = max_pool_arrays(cr.tensor(x, device="cuda")._data, kernel, stride,
                                           padding, dilation, out_hw)
        assert np.isnan(y).any() and np.isposinf(y).any()
        np.testing.assert_array_equal(cr.Tensor._from_op(yd, None).cpu().numpy(), y)
        np.testing.assert_array_equal(cr.Tensor._from_op(offset_d, None).cpu().numpy(), offset)


def test_the_counter_says_which_line_launched(cuda):
    """counts.where() adds, per line of the caller's code, the launches it asked for
    (benchmarks/run_gpu.py --count --where N)."""
    if cuda != "standin":
        pytest.skip("counted on the stand-in")
    from chainrule import standin

    x = cr.ones(3, device="cuda")
    standin.counts.where(True)
    try:
        launches, _ = _launches(lambda: (x * 2.0).exp())
        sites = dict(standin.counts.sites)
    finally:
        standin.counts.where(False)
    assert launches == sum(sites.values()) == 2
    assert all(":" in site and site.split(":")[0].endswith((".py")) for site in sites), sites
    assert any(site.startswith("chainrule/ops/") for site in sites), sites


def _attention_of_split_views(qkv):
    """A GPT's attention: q, k, v views of one projection, the heads swapped in front."""
    q, k, v = (t.reshape(2, 5, 2, 4).transpose(1, 2) for t in qkv.split(8, dim=2))
    return nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)


# (op, input shapes, launches forward and backward with the fused kernels) as docs/gpu.md counts
_FUSED_LAUNCHES = {
    "layer_norm": (lambda x, w, b: nn.functional.layer_norm(x, (8,), w, b),
                   [(4, 5, 8), (8,), (8,)], (3, 5)),
    "batch_norm": (lambda x, w, b: nn.functional.batch_norm(x, None, None, w, b, training=True),
                   [(4, 3, 5, 5), (3,), (3,)], (3, 5)),
    "group_norm": (lambda x, w, b: nn.functional.group_norm(x, 3, w, b),
                   [(4, 6, 5), (6,), (6,)], (5, 6)),
    "softmax": (lambda x: nn.functional.softmax(x, -1), [(4, 8)], (3, 3)),
    "log_softmax": (lambda x: nn.functional.log_softmax(x, -1), [(4, 8)], (3, 5)),
    "max_pool2d": (lambda x: nn.functional.max_pool2d(x, 2), [(2, 3, 8, 8)], (4, 4)),
    "attention": (_attention_of_split_views, [(2, 5, 24)], (9, 12)),
    "cross_entropy": (lambda x: nn.functional.cross_entropy(x, _targets_on_the_device()),
                      [(6, 5)], (7, 2)),
}


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_of_many_logits_and_a_huge_ignore_index_equals_the_cpu(cuda, reduction):
    """Past 65,536 logits the device sums the picked losses by rows, then the rows (one block of
    threads per whole sum would be slow); an ignore_index a double cannot hold exactly sends the
    loss to the unfused path. Both give the CPU's loss and gradient."""
    rng = np.random.default_rng(0)
    for shape, ignore in (((300, 300), -100), ((6, 5), 2 ** 53 + 2)):
        x = rng.standard_normal(shape)
        t = rng.integers(0, shape[1], shape[0])
        t[::7] = ignore
        results = []
        for device in ("cpu", "cuda"):
            logits = cr.tensor(x, requires_grad=True, device=device)
            loss = nn.functional.cross_entropy(logits, cr.tensor(t, device=device),
                                               ignore_index=ignore, reduction=reduction)
            loss.sum().backward()
            results.append((loss.cpu().numpy(), logits.grad.cpu().numpy()))
        for got, expected in zip(results[1], results[0]):
            _close(cuda, got, expected)


def _targets_on_the_device():
    """Class targets, one of them ignore_index, made on the device (a copy up, no launch)."""
    return cr.tensor([0, 4, -100, 2, 1, 3], device="cuda")


@pytest.mark.parametrize("name", list(_FUSED_LAUNCHES))
def test_fused_ops_launch_the_kernels_the_docs_count_and_fewer_than_unfused(cuda, name):
    """Each op's forward and backward launches, counted on the stand-in after a first call (index
    ranges are made once): with the fused kernels as many as docs/gpu.md says, and fewer in all
    than without them, so that a kernel that silently stopped running fails here."""
    if cuda != "standin":
        pytest.skip("counted on the stand-in")
    make, shapes, expected = _FUSED_LAUNCHES[name]
    rng = np.random.default_rng(0)
    counted = {}
    for fused in (True, False):
        with kernels.fusing(fused):
            for _ in range(2):
                inputs = [cr.tensor(rng.standard_normal(s), device="cuda", requires_grad=True)
                          for s in shapes]
                forward, y = _launches_and_result(make, *inputs)
                g = cr.tensor(rng.standard_normal(y.shape), device="cuda")
                backward, _ = _launches_and_result(y.backward, g)
            counted[fused] = (forward, backward)
    assert counted[True] == expected, counted
    assert sum(counted[True]) < sum(counted[False]), counted


def _launches_and_result(fn, *args):
    standin.counts.reset()
    standin.counts.counting = True
    try:
        result = fn(*args)
    finally:
        standin.counts.counting = False
    return standin.counts.calls, result


def test_the_counter_counts_a_copy_to_c_order_only_where_one_is_made(cuda):
    """CuPy's ascontiguousarray returns an array already in C order as it is (no kernel) and
    copies any other (one): so does the stand-in's. np.shape and the like read metadata."""
    if cuda != "standin":
        pytest.skip("counted on the stand-in")
    x = cr.ones(2, 3, 4, device="cuda")._data
    assert _launches(lambda: backend.contiguous(x))[0] == 0
    assert _launches(lambda: backend.contiguous(x.swapaxes(1, 2)))[0] == 1
    xp = backend.get_array_module(x)
    assert _launches(lambda: xp.ascontiguousarray(x, dtype=np.float64))[0] == 1
    assert backend.contiguous(x.swapaxes(1, 2)).flags.c_contiguous
    # and what reads an array's metadata launches nothing
    assert _launches(lambda: (np.shape(x), np.ndim(x), np.result_type(x, 1.0)))[0] == 0


def test_cross_entropy_with_an_ignored_row_and_every_row_ignored_equals_pytorch(cuda):
    """Two things a review found on both devices: an ignored row whose class 0 (the stand-in for
    its target) has a log-probability of -inf added nan to the loss (-(-inf) * 0), and with every
    target ignored the second derivative was nan (the nan of 0 / 0 reached it); PyTorch gives the
    other rows' loss and 0."""
    torch = pytest.importorskip("torch")
    x = np.array([[-np.inf, 1.0, 2.0], [0.5, 0.1, -0.3]])
    t = np.array([-100, 1])
    expected = torch.nn.functional.cross_entropy(torch.tensor(x), torch.tensor(t)).item()
    x2 = np.random.default_rng(0).standard_normal((3, 4))
    ignored = np.full(3, -100)
    xt = torch.tensor(x2, requires_grad=True)
    (gt,) = torch.autograd.grad(torch.nn.functional.cross_entropy(xt, torch.tensor(ignored)), [xt],
                                create_graph=True)
    (ggt,) = torch.autograd.grad((gt * gt).sum(), [xt])
    for device in ("cpu", "cuda"):
        for fused in (True, False):
            with kernels.fusing(fused):
                loss = nn.functional.cross_entropy(cr.tensor(x, device=device),
                                                   cr.tensor(t, device=device))
                np.testing.assert_allclose(loss.item(), expected, rtol=1e-12)
                nll = nn.functional.nll_loss(cr.tensor(x, device=device).log_softmax(1),
                                             cr.tensor(t, device=device))
                np.testing.assert_allclose(nll.item(), expected, rtol=1e-12)
                logits = cr.tensor(x2, requires_grad=True, device=device)
                loss = nn.functional.cross_entropy(logits, cr.tensor(ignored, device=device))
                (g,) = cr.autograd.grad(loss, [logits], create_graph=True)
                (gg,) = cr.autograd.grad((g * g).sum(), [logits])
                np.testing.assert_array_equal(gg.cpu().numpy(), ggt.numpy(), err_msg=device)


def test_with_kernels_off_cross_entropy_launches_nothing_for_its_fused_path(cuda):
    if cuda != "standin":
        pytest.skip("counted on the stand-in")
    logits = cr.tensor(np.random.default_rng(0).standard_normal((8, 5)), device="cuda")
    target = cr.tensor(np.arange(8) % 5, device="cuda")
    counts = {}
    for fused in (True, False):
        with kernels.fusing(fused):
            counts[fused] = _launches(lambda: nn.functional.cross_entropy(logits, target))[0]
    standin.counts.where(True)
    try:
        with kernels.fusing(False):
            _launches(lambda: nn.functional.cross_entropy(logits, target))
        sites = dict(standin.counts.sites)
    finally:
        standin.counts.where(False)
    assert not [s for s in sites if s.endswith(" _cross_entropy_fused")], sites
    assert counts[True] < counts[False], counts
