"""The health detectors as functions: pure functions over recorded statistics that return a
Finding (kind, where, evidence) or None, and the wording that turns a finding into a sentence."""

import copy
import math

import numpy as np
import pytest

import chainrule as cr
from chainrule.data import DataLoader, TensorDataset
from chainrule.training import detectors
from chainrule.training.callbacks import TrainState
from chainrule.training.detectors import Finding
from chainrule.training.health import HealthMonitor, word
from chainrule.training.loop import fit

CLI = {"lr": "--lr", "clip_norm": "--clip-norm 1"}


# ----- measurements ---------------------------------------------------------------------------

def test_saturated_fraction_of_sigmoid_and_tanh_outputs():
    sigmoid = np.array([0.0, 0.009, 0.011, 0.5, 0.989, 0.991, 1.0, 0.7])
    assert detectors.saturated_fraction(sigmoid, "sigmoid") == 4 / 8  # 0, 0.009, 0.991, 1
    tanh = np.array([-1.0, -0.995, -0.98, 0.0, 0.98, 0.995])
    assert detectors.saturated_fraction(tanh, "tanh") == 3 / 6


def test_dead_fraction_counts_units_dead_for_every_sample():
    outputs = np.array([[0.0, 0.0, 1.0, 0.0],
                        [0.0, 2.0, 0.0, 0.0],
                        [0.0, 0.0, 0.0, -1.0]])  # units 0 and 3 never positive
    assert detectors.dead_fraction(outputs) == 0.5
    assert detectors.dead_fraction(np.array([0.0, 1.0])) == 0.5  # one sample, 1-D
    assert detectors.dead_fraction(outputs.reshape(3, 1, 4)) == 0.5  # (N, L, units)


def test_label_entropy():
    labels = np.array([0, 0, 0, 2])  # frequencies 3/4 and 1/4 (class 1 absent)
    expected = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))
    assert detectors.label_entropy(labels) == pytest.approx(expected, rel=1e-12)
    assert detectors.label_entropy(np.array([1, 1, 1])) == 0.0
    assert detectors.label_entropy(np.array([0.5, 1.0])) is None  # not class labels
    assert detectors.label_entropy(np.array([], dtype=np.int64)) is None


def test_norm_and_median():
    assert detectors.norm(np.array([3.0, 4.0], dtype=np.float32)) == 5.0
    assert detectors.norm(np.array([1e20, 1e20], dtype=np.float32)) == pytest.approx(math.sqrt(2) * 1e20)
    assert detectors.median([5.0, 1.0, 3.0, 2.0]) == 2.5
    assert math.isnan(detectors.median([]))


# ----- detectors ------------------------------------------------------------------------------

def test_exploding_gradients():
    norms = {"a": [1.0, 1.2, 0.8, 100.0], "b": [1.0, 1.0, 1.0, 1.0], "c": [2.0, 2.0, 2.0, 400.0]}
    finding = detectors.exploding_gradients(norms, factor=50.0)
    # c is 200 x its median 2, a is 100 x its median 1: c is shown, a follows "also"
    assert (finding.kind, finding.where) == ("exploding gradients", "c")
    assert finding.evidence == {"norm": 400.0, "median": 2.0, "also": ["a"]}
    assert finding.step is None and finding.epoch is None and finding.text == ""
    # at exactly factor x the median it is not an explosion
    assert detectors.exploding_gradients({"a": [1.0, 50.0]}, factor=50.0) is None
    assert detectors.exploding_gradients({"a": [1.0, 50.5]}, factor=50.0).where == "a"
    # the median is of the last `reference` norms before the newest
    finding = detectors.exploding_gradients({"a": [1000.0, 1.0, 1.0, 60.0]}, reference=2)
    assert finding.evidence["median"] == 1.0
    # nothing to compare with yet
    assert detectors.exploding_gradients({"a": [1e9]}) is None
    assert detectors.exploding_gradients({}) is None


def test_a_non_finite_gradient_norm_is_an_explosion_against_the_finite_ones():
    norms = {"a": [1.0, float("nan"), 3.0, float("inf")], "b": [1.0, 1.0, 1.0, 1.0]}
    finding = detectors.exploding_gradients(norms)
    assert finding.where == "a" and finding.evidence["median"] == 2.0  # of 1 and 3
    assert math.isinf(finding.evidence["norm"])
    # the monitor passes the finite norms it keeps: the same answer
    finite = {"a": [1.0, 3.0], "b": [1.0, 1.0, 1.0, 1.0]}
    assert detectors.exploding_gradients(norms, finite) == finding


def test_vanishing_gradients():
    norms = {"0.weight": [1e-9, 2e-9, 1e-9], "2.weight": [0.5, 0.4, 0.6], "4.weight": [1e-3] * 3}
    finding = detectors.vanishing_gradients(norms, window=3, ratio=1e-5)
    assert (finding.kind, finding.where) == ("vanishing gradients", "0.weight")
    assert finding.evidence == {"norm": 1e-9, "ratio": pytest.approx(2e-9), "window": 3,
                                "largest": "2.weight", "largest_norm": 0.5, "also": []}
    # the window: only the last `window` norms count
    recovering = {"0.weight": [1e-9, 1e-9, 0.1], "2.weight": [0.5, 0.5, 0.5]}
    assert detectors.vanishing_gradients(recovering, window=1) is None
    assert detectors.vanishing_gradients(recovering, window=3).where == "0.weight"
    # one weight has nothing to be compared with; all-zero gradients are not "vanishing"
    assert detectors.vanishing_gradients({"0.weight": [1e-9] * 3}) is None
    assert detectors.vanishing_gradients({"a": [0.0] * 3, "b": [0.0] * 3}) is None


def test_large_updates():
    ratios = {"0.weight": [3.0, 3.0], "0.bias": [0.001, 0.001], "2.weight": [1.5, 2.0]}
    finding = detectors.large_updates(ratios, window=2, limit=1.0)
    assert (finding.kind, finding.where) == ("large updates", "0.weight")
    assert finding.evidence == {"ratio": 3.0, "window": 2, "also": ["2.weight"]}
    assert detectors.large_updates({"a": [3.0]}, window=2) is None  # not a full window yet
    assert detectors.large_updates({"a": [1.0, 1.0]}, window=2, limit=1.0) is None


def test_divergence():
    finding = detectors.divergence([4.0, 3.5, float("nan")])
    assert (finding.kind, finding.where) == ("divergence", None)
    assert math.isnan(finding.evidence["loss"]) and finding.evidence["previous"] == 3.5
    assert detectors.divergence([float("inf")]).evidence["previous"] is None
    assert detectors.divergence([2.0, 20.0, 150.0, 250.0], factor=100.0).evidence == {
        "loss": 250.0, "first": 2.0}
    assert detectors.divergence([2.0, 200.0], factor=100.0) is None  # exactly 100 x: not above
    assert detectors.divergence([0.0, 5.0]) is None  # a first loss of 0 gives no scale
    assert detectors.divergence([]) is None


def test_stall():
    flat = [10.0, 5.0, 5.001, 5.002, 5.0015]
    assert detectors.stall(flat, epochs=4, tolerance=1e-3).evidence == {
        "low": 5.0, "epochs": 4, "tolerance": 1e-3}
    assert detectors.stall(flat, epochs=5, tolerance=1e-3) is None  # 10 is in the window
    assert detectors.stall(flat[-3:], epochs=4) is None  # too few epochs
    assert detectors.stall([1.0, float("nan"), 1.0], epochs=3) is None


def test_no_better_than_the_mean_and_than_chance():
    losses = [10.0, 9.5, 9.2]
    finding = detectors.no_better_than_mean(losses, [9.0, 11.0], epochs=3, ratio=0.9)
    assert finding.kind == "no better than the mean"
    assert finding.evidence == {"epochs": 3, "loss": 9.2, "variance": 10.0}
    assert detectors.no_better_than_mean(losses, [9.0, 11.0], epochs=4) is None  # too early
    assert detectors.no_better_than_mean(losses, [20.0], epochs=3) is None  # 46% of it: learned
    assert detectors.no_better_than_mean(losses, [], epochs=3) is None  # not an MSE run
    chance = detectors.no_better_than_chance([1.5, 1.39], [math.log(4)], epochs=2, ratio=0.9)
    assert chance.kind == "no better than chance"
    assert chance.evidence == {"epochs": 2, "loss": 1.39, "entropy": pytest.approx(math.log(4))}
    assert detectors.no_better_than_chance([1.5, 0.3], [math.log(4)], epochs=2) is None
    assert detectors.no_better_than_chance([1.5, 1.4], [0.0], epochs=2) is None  # one class


def test_saturated_units_has_a_lower_bar_at_the_start():
    at_start = detectors.saturated_units("1", 0.26, at_start=True, init_limit=0.1, limit=0.5)
    assert (at_start.kind, at_start.where) == ("saturated units", "1")
    assert at_start.evidence == {"fraction": 0.26, "module": "Sigmoid", "at_start": True,
                                 "margin": 0.01}
    assert detectors.saturated_units("1", 0.26, at_start=False) is None  # a trained network's 26%
    later = detectors.saturated_units("1", 0.6, at_start=False, module="Tanh")
    assert later.evidence["at_start"] is False and later.evidence["module"] == "Tanh"
    # with a start bar above the later one, a start over the later bar is worded as "later"
    odd = detectors.saturated_units("1", 0.55, at_start=True, init_limit=0.6, limit=0.5)
    assert odd.evidence["at_start"] is False


def test_dead_units():
    finding = detectors.dead_units("3", 0.7, 10, limit=0.5)
    assert (finding.kind, finding.where) == ("dead ReLUs", "3")
    assert finding.evidence == {"dead": 7, "units": 10, "module": "ReLU"}
    assert detectors.dead_units("3", 0.5, 10, limit=0.5) is None


def test_detectors_leave_the_records_unchanged():
    records = {"a": [1.0, 1.0, 500.0], "b": [1e-12, 1e-12, 1e-12]}
    kept = copy.deepcopy(records)
    detectors.exploding_gradients(records)
    detectors.vanishing_gradients(records, window=3)
    detectors.large_updates(records, window=3)
    losses = [1.0, float("nan")]
    detectors.divergence(losses)
    detectors.stall(records["a"], epochs=3)
    assert records == kept and len(losses) == 2


# ----- wording --------------------------------------------------------------------------------

def _one_of_each():
    findings = [
        detectors.exploding_gradients({"a": [1.0, 1.0, 500.0], "b": [1.0, 1.0, 90.0]}),
        detectors.vanishing_gradients({"a": [1e-9], "b": [1.0]}, window=1),
        detectors.large_updates({"a": [3.0]}, window=1),
        detectors.divergence([1.0, float("inf")]),
        detectors.divergence([1.0, 500.0]),
        detectors.stall([5.0, 5.0], epochs=2),
        detectors.no_better_than_mean([9.5], [10.0], epochs=1),
        detectors.no_better_than_chance([1.38], [math.log(4)], epochs=1),
        detectors.saturated_units("1", 0.3, at_start=True),
        detectors.saturated_units("1", 0.6, at_start=False),
        detectors.dead_units("1", 1.0, 10),
    ]
    for finding in findings:
        finding.step, finding.epoch = 7, 2
    return findings


def test_every_kind_is_worded_beginning_with_its_kind():
    for finding in _one_of_each():
        text = word(finding)
        assert text.startswith(finding.kind + ": "), text
        if finding.where is not None:
            assert f"{finding.where} " in text
        # the caller's names replace the library's, and nothing else changes
        cli = word(finding, CLI)
        assert "--" not in text
        assert cli.replace("--clip-norm 1", "clip_norm=1").replace("--lr", "lr") == text
        assert ("lr" in text) == ("--lr" in cli)


def test_the_wording_quotes_the_evidence():
    exploding, vanishing, updates, nan, rising, stall, mean, chance, start, later, dead = (
        _one_of_each())
    assert word(exploding, CLI) == ("exploding gradients: a grad norm 5e+02 at epoch 2 step 7 "
                                    "(median 1); also b; try --clip-norm 1 or a lower --lr")
    assert word(vanishing).startswith("vanishing gradients: a grad norm 1e-09 (median of the last "
                                      "1 checks, to epoch 2 step 7), 1e-09 times b's 1")
    assert word(updates).startswith("large updates: each step changes a by 3 times its own size")
    assert word(nan) == ("divergence: the loss became inf at epoch 2 step 7 (it was 1 the step "
                         "before); try a lower lr or clip_norm=1")
    nan.evidence["stopped"] = True
    assert "before); training stopped; try" in word(nan)
    assert word(rising).startswith("divergence: the loss rose from 1 at the first step to 500 at")
    assert word(stall).startswith("stall: the epoch loss stayed within 0.1% of 5 for 2 epochs "
                                  "(to epoch 2)")
    assert "training MSE 9.5 is 95% of the targets' variance 10" in word(mean)
    assert "cross-entropy 1.38 is 100% of 1.386, the entropy" in word(chance)
    assert "at the start of training, before any update" in word(start)
    assert "30% of the outputs of layer 1 (Sigmoid)" in word(start)
    assert "at epoch 2 step 7, where their derivative is nearly 0" in word(later)
    assert word(dead).startswith("dead ReLUs: 10 of 10 units of layer 1 (ReLU) output 0 for every "
                                 "probe sample at epoch 2 step 7")


def test_an_unknown_kind_is_refused_by_name():
    with pytest.raises(ValueError, match="word: no wording for a finding of kind 'odd'"):
        word(Finding("odd"))


# ----- the monitor: records, calls the detectors, words their findings ------------------------

def _run_that_diverges(names=None):
    model = cr.nn.Linear(1, 1)
    with cr.no_grad():
        model.weight.fill_(1.0)
        model.bias.fill_(0.0)
    x = np.ones((4, 1), dtype=np.float32)
    monitor = HealthMonitor(names=names)
    fit(model, cr.nn.MSELoss(), cr.optim.SGD(model.parameters(), lr=1e3),
        DataLoader(TensorDataset(x, x * 3), batch_size=4), epochs=5, callbacks=[monitor], log=None)
    return monitor


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_the_monitors_findings_hold_where_and_evidence_and_its_warnings_are_their_words():
    monitor = _run_that_diverges(CLI)
    assert monitor.findings and len(monitor.findings) == len(monitor.warnings)
    for finding, warning in zip(monitor.findings, monitor.warnings):
        assert finding.text == warning == word(finding, CLI)
        assert finding.evidence and finding.step is not None and finding.epoch >= 1
    kinds = [f.kind for f in monitor.findings]
    assert "exploding gradients" in kinds and "divergence" in kinds
    exploding = monitor.findings[kinds.index("exploding gradients")]
    assert exploding.where in ("weight", "bias")
    assert exploding.evidence["norm"] == monitor.grad_norms[exploding.where][exploding.step]


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_findings_survive_a_checkpoint_with_their_evidence(tmp_path):
    monitor = _run_that_diverges()
    cr.save({"health": monitor.state_dict()}, tmp_path / "c.crk")
    restored = HealthMonitor()
    restored.load_state_dict(cr.load(tmp_path / "c.crk")["health"])
    assert len(restored.findings) == len(monitor.findings)
    for a, b in zip(restored.findings, monitor.findings):
        assert (a.kind, a.where, a.step, a.epoch, a.text) == (b.kind, b.where, b.step, b.epoch, b.text)
        assert a.evidence.keys() == b.evidence.keys()
        assert word(a) == a.text  # the evidence still words the same sentence
    # a checkpoint from before findings held their evidence: [kind, step, epoch, text]
    state = monitor.state_dict()
    state["findings"] = [entry[:4] for entry in state["findings"]]
    old = HealthMonitor()
    old.load_state_dict(state)
    assert [(f.kind, f.where, f.evidence, f.text) for f in old.findings] == [
        (f.kind, None, {}, f.text) for f in monitor.findings]


def test_each_warning_is_given_once_per_run_and_once_per_layer_for_activations():
    model = cr.nn.Sequential(cr.nn.Linear(2, 3), cr.nn.Sigmoid(), cr.nn.Linear(3, 3),
                             cr.nn.Sigmoid())
    for p in model.parameters():
        cr.nn.init.constant_(p, 10.0)  # every sigmoid output at 1
    monitor = HealthMonitor(probe_every=1)
    state = TrainState(model=model, optimizer=None, epoch=1)
    monitor.on_train_begin(state)
    state.inputs = cr.tensor(np.ones((4, 2), dtype=np.float32))
    for _ in range(3):
        monitor.on_after_backward(state)
        state.loss = float("nan")
        monitor.on_step_end(state)
    assert [(f.kind, f.where) for f in monitor.findings] == [
        ("saturated units", "1"), ("saturated units", "3"), ("divergence", None)]
