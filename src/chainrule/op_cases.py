"""The table of op cases: every built-in op, on small inputs, in the shapes and domains that matter.

One table drives three checks: ``tests/test_ops.py`` runs each case through gradcheck (float64,
full Jacobian, so a backward that only a random upstream gradient would expose cannot pass) and
against PyTorch (forward and gradients with a random upstream gradient, rtol 1e-9), and
``chainrule gradcheck`` runs it as a self-test a learner can watch. A registry test fails if any
``Function`` subclass in chainrule has no case here.

A case's ``fn(lib, *tensors)`` is written once for both libraries: ``lib`` is the ``chainrule`` or the
``torch`` module, and the tensors are of that library. Where the two spell an op differently, the
case gives a separate ``torch_fn``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from . import handwritten, ops

DOMAINS = {
    # name: how to draw an input array of a given shape from a numpy Generator
    "any": lambda rng, shape: rng.standard_normal(shape),
    # away from 0 and kinks: |x| in [0.2, 2.2]
    "away": lambda rng, shape: np.sign(rng.standard_normal(shape)) * rng.uniform(0.2, 2.2, shape),
    "positive": lambda rng, shape: rng.uniform(0.5, 2.0, shape),
    "unit": lambda rng, shape: rng.uniform(0.05, 0.95, shape),  # probabilities
    "binary": lambda rng, shape: rng.integers(0, 2, shape).astype(np.float64),
}


@dataclass
class OpCase:
    name: str
    fn: Callable
    shapes: tuple
    covers: tuple
    domains: tuple = ()
    torch_fn: Callable | None = None
    grad_inputs: tuple | None = None  # which inputs get requires_grad (default: all)
    eps: float = 1e-6
    extra: dict = field(default_factory=dict)

    def make_inputs(self, seed: int = 0) -> list:
        """The case's input arrays (float64), drawn reproducibly."""
        rng = np.random.default_rng(seed)
        domains = self.domains or ("any",) * len(self.shapes)
        return [np.asarray(DOMAINS[d](rng, s), dtype=np.float64) for d, s in zip(domains, self.shapes)]

    def requires_grad(self, i: int) -> bool:
        return self.grad_inputs is None or i in self.grad_inputs


TARGETS4 = np.array([2, 0, 2, 1])  # class indices for 4 samples of 3 classes
TARGETS4_IGNORED = np.array([2, -100, 2, 1])  # the second sample ignored (PyTorch's ignore_index)
CLASS_WEIGHT3 = np.array([0.3, 1.0, 2.5])
POS_WEIGHT3 = np.array([0.5, 1.0, 3.0])
TARGETS2x4 = np.array([[2, 0, 1, 2], [1, 1, 0, 2]])  # class indices at 4 positions of 2 samples
ELEMENT_WEIGHT4x1 = np.array([[0.5], [2.0], [1.0], [0.0]])  # one weight per sample, broadcast
MASK = np.array([[True, False, True], [False, False, True], [True, True, False], [False, True, True]])
REPEATED = np.array([0, 2, 0, 3, 0])
TOKEN_IDS = np.array([[1, 4, 1, 0], [3, 3, 2, 1]])  # (2, 4) ids into a table of 5, with repeats
KEY_MASK = np.array([[True, True, False, True, False], [True, False, True, True, True],
                     [False, True, True, False, True]])  # (L=3, S=5): True where a query may look
VAR_OPS = (ops.Mean, ops.Sub, ops.Mul, ops.Sum, ops.Div)  # var = sum((x - mean)^2) / (n - correction)


def _torch_lstm_cell(torch, x, h, c, w_ih, w_hh, b_ih, b_hh):
    """The LSTM cell's equations in torch ops (for a hidden state narrower than the cell, as with
    proj_size, which torch's fused cell does not take)."""
    i, f, g, o = (x @ w_ih.T + b_ih + h @ w_hh.T + b_hh).chunk(4, dim=1)
    c_next = i.sigmoid() * g.tanh() + f.sigmoid() * c
    return torch.stack((o.sigmoid() * c_next.tanh(), c_next))


def _case(name, fn, shapes, covers, **kw):
    covers = covers if isinstance(covers, tuple) else (covers,)
    return OpCase(name, fn, tuple(shapes), covers, **kw)


def _loss_case(name, op, torch_name, domains, reduction, **kw):
    return _case(
        f"{name} ({reduction})",
        lambda lib, x, t: op.apply(x, t, reduction),
        [(4, 3), (4, 3)],
        op,
        domains=domains,
        torch_fn=lambda torch, x, t: getattr(torch.nn.functional, torch_name)(x, t, reduction=reduction),
        **kw,
    )


CASES = [
    # ---- arithmetic: every binary op with scalar, row, column and 3-D vs 2-D broadcasting ----
    *[
        _case(f"{name} {label}", fn, shapes, op, domains=domains)
        for name, op, fn, domains in [
            ("add", ops.Add, lambda lib, a, b: a + b, ("any", "any")),
            ("sub", ops.Sub, lambda lib, a, b: a - b, ("any", "any")),
            ("mul", ops.Mul, lambda lib, a, b: a * b, ("any", "any")),
            ("div", ops.Div, lambda lib, a, b: a / b, ("any", "away")),
            ("pow", ops.Pow, lambda lib, a, b: a**b, ("positive", "any")),
        ]
        for label, shapes in [
            ("same shape", [(3, 4), (3, 4)]),
            ("scalar", [(3, 4), ()]),
            ("row", [(3, 4), (4,)]),
            ("column", [(3, 4), (3, 1)]),
            ("3-D vs 2-D", [(2, 3, 4), (3, 4)]),
            ("both broadcast", [(3, 1), (1, 4)]),
        ]
    ],
    _case("add python scalar", lambda lib, a: 2.5 + a, [(3, 4)], ops.Add),
    _case("rsub python scalar", lambda lib, a: 1.0 - a, [(3, 4)], ops.Sub),
    _case("rdiv python scalar", lambda lib, a: 1.0 / a, [(3, 4)], ops.Div, domains=("away",)),
    _case("neg", lambda lib, a: -a, [(3, 4)], ops.Neg),
    _case("pow 2", lambda lib, a: a**2, [(3, 4)], ops.Pow),
    _case("pow 3", lambda lib, a: a**3, [(3, 4)], ops.Pow),
    _case("pow 0.5", lambda lib, a: a**0.5, [(3, 4)], ops.Pow, domains=("positive",)),
    _case("pow -1", lambda lib, a: a**-1, [(3, 4)], ops.Pow, domains=("away",)),
    _case("rpow 2**x", lambda lib, a: 2.0**a, [(3, 4)], ops.Pow),
    # ---- element-wise math ----
    _case("exp", lambda lib, a: a.exp(), [(3, 4)], ops.Exp),
    _case("log", lambda lib, a: a.log(), [(3, 4)], ops.Log, domains=("positive",)),
    _case("sqrt", lambda lib, a: a.sqrt(), [(3, 4)], ops.Sqrt, domains=("positive",)),
    _case("abs", lambda lib, a: a.abs(), [(3, 4)], ops.Abs, domains=("away",)),
    _case("sin", lambda lib, a: a.sin(), [(3, 4)], ops.Sin),
    _case("cos", lambda lib, a: a.cos(), [(3, 4)], ops.Cos),
    _case("clamp min max", lambda lib, a: a.clamp(-0.5, 0.7), [(4, 5)], ops.Clamp),
    _case("clamp min", lambda lib, a: a.clamp(min=0.1), [(4, 5)], ops.Clamp),
    _case("clamp max", lambda lib, a: a.clamp(max=0.1), [(4, 5)], ops.Clamp),
    # ---- selection ----
    _case("where", lambda lib, a, b: lib.where(a > 0, a, b), [(3, 4), (3, 4)], ops.Where,
          domains=("away", "any")),
    _case("where broadcast", lambda lib, a, b: lib.where(a > 0, a, b), [(3, 4), (4,)], ops.Where,
          domains=("away", "any")),
    _case("maximum", lambda lib, a, b: lib.maximum(a, b), [(3, 4), (3, 4)], ops.Maximum),
    _case("maximum broadcast", lambda lib, a, b: lib.maximum(a, b), [(3, 4), (3, 1)], ops.Maximum),
    _case("minimum", lambda lib, a, b: lib.minimum(a, b), [(3, 4), (3, 4)], ops.Minimum),
    _case("minimum broadcast", lambda lib, a, b: lib.minimum(a, b), [(3, 4), (4,)], ops.Minimum),
    # ---- reductions ----
    _case("sum all", lambda lib, a: a.sum(), [(3, 4)], ops.Sum),
    _case("sum dim 0", lambda lib, a: a.sum(dim=0), [(3, 4)], ops.Sum),
    _case("sum dim -1 keepdim", lambda lib, a: a.sum(dim=-1, keepdim=True), [(2, 3, 4)], ops.Sum),
    _case("sum dims (0, 2)", lambda lib, a: a.sum(dim=(0, 2)), [(2, 3, 4)], ops.Sum),
    _case("mean all", lambda lib, a: a.mean(), [(3, 4)], ops.Mean),
    _case("mean dim 1", lambda lib, a: a.mean(dim=1), [(3, 4)], ops.Mean),
    _case("mean dims (0, 1) keepdim", lambda lib, a: a.mean(dim=(0, 1), keepdim=True), [(2, 3, 4)],
          ops.Mean),
    _case("max all", lambda lib, a: a.max(), [(3, 4)], ops.Max),
    _case("max dim 1", lambda lib, a: a.max(dim=1)[0], [(3, 4)], ops.Max),
    _case("max dim 0 keepdim", lambda lib, a: a.max(dim=0, keepdim=True)[0], [(3, 4)], ops.Max),
    _case("min all", lambda lib, a: a.min(), [(3, 4)], ops.Min),
    _case("min dim -1", lambda lib, a: a.min(dim=-1)[0], [(2, 3, 4)], ops.Min),
    _case("max dim 1 .values", lambda lib, a: a.max(dim=1).values, [(3, 4)], ops.Max),
    # var and std are composed of these ops (std adds a sqrt), so they need no derivative of their own
    _case("var all", lambda lib, a: a.var(), [(3, 4)], VAR_OPS),
    _case("var dim 1", lambda lib, a: a.var(dim=1), [(3, 4)], VAR_OPS),
    _case("var dim 0 keepdim correction 0", lambda lib, a: a.var(dim=0, keepdim=True, correction=0),
          [(3, 4)], VAR_OPS),
    _case("std all", lambda lib, a: a.std(), [(3, 4)], (*VAR_OPS, ops.Sqrt)),
    _case("std dims (0, 2) unbiased=False", lambda lib, a: a.std(dim=(0, 2), unbiased=False),
          [(2, 3, 4)], (*VAR_OPS, ops.Sqrt)),
    # ---- shape ----
    _case("reshape", lambda lib, a: a.reshape(4, 3), [(3, 4)], ops.Reshape),
    _case("view -1", lambda lib, a: a.view(-1), [(2, 3, 4)], ops.Reshape),
    _case("transpose", lambda lib, a: a.transpose(0, 1), [(3, 4)], ops.Permute),
    _case("T", lambda lib, a: a.T, [(3, 4)], ops.Permute),
    _case("permute 3-D", lambda lib, a: a.permute(2, 0, 1), [(2, 3, 4)], ops.Permute),
    _case("expand", lambda lib, a: a.expand(2, 3, 4), [(3, 1)], ops.Expand),
    _case("getitem int", lambda lib, a: a[1], [(3, 4)], ops.GetItem),
    _case("getitem slice", lambda lib, a: a[1:, ::2], [(3, 4)], ops.GetItem),
    _case("getitem None Ellipsis", lambda lib, a: a[None, ..., 1], [(2, 3, 4)], ops.GetItem),
    _case("getitem repeated indices", lambda lib, a: a[lib.tensor(REPEATED)], [(4, 3)], ops.GetItem),
    _case("getitem row+column arrays", lambda lib, a: a[lib.tensor([0, 2, 0]), lib.tensor([1, 1, 1])],
          [(4, 3)], ops.GetItem),
    _case("getitem boolean mask", lambda lib, a: a[lib.tensor(MASK)], [(4, 3)], ops.GetItem),
    _case("cat dim 0", lambda lib, a, b: lib.cat([a, b], 0), [(2, 3), (4, 3)], ops.Cat),
    _case("cat dim -1", lambda lib, a, b, c: lib.cat([a, b, c], -1), [(2, 3), (2, 1), (2, 2)],
          ops.Cat),
    _case("stack dim 0", lambda lib, a, b: lib.stack([a, b], 0), [(2, 3), (2, 3)], ops.Stack),
    _case("stack dim 1", lambda lib, a, b: lib.stack([a, b], 1), [(2, 3), (2, 3)], ops.Stack),
    _case("clone", lambda lib, a: a.clone() * 1.5, [(3, 4)], ops.Cast),
    _case("double", lambda lib, a: a.double(), [(3, 4)], ops.Cast),
    # ---- matrix products ----
    _case("matmul 1-D @ 1-D", lambda lib, a, b: a @ b, [(4,), (4,)], ops.MatMul),
    _case("matmul 2-D @ 1-D", lambda lib, a, b: a @ b, [(3, 4), (4,)], ops.MatMul),
    _case("matmul 1-D @ 2-D", lambda lib, a, b: a @ b, [(3,), (3, 4)], ops.MatMul),
    _case("matmul 2-D @ 2-D", lambda lib, a, b: a @ b, [(3, 4), (4, 2)], ops.MatMul),
    _case("matmul 3-D @ 2-D", lambda lib, a, b: a @ b, [(2, 3, 4), (4, 2)], ops.MatMul),
    _case("matmul 2-D @ 3-D", lambda lib, a, b: a @ b, [(3, 4), (2, 4, 2)], ops.MatMul),
    _case("matmul batch broadcast", lambda lib, a, b: lib.matmul(a, b), [(2, 1, 3, 4), (3, 4, 2)],
          ops.MatMul),
    _case("matmul 1-D @ 3-D", lambda lib, a, b: a @ b, [(4,), (2, 4, 3)], ops.MatMul),
    _case("linear", lambda lib, x, w, b: ops.Linear.apply(x, w, b), [(5, 3), (4, 3), (4,)],
          ops.Linear, torch_fn=lambda torch, x, w, b: torch.nn.functional.linear(x, w, b)),
    _case("linear no bias", lambda lib, x, w: ops.Linear.apply(x, w, None), [(5, 3), (4, 3)],
          ops.Linear, torch_fn=lambda torch, x, w: torch.nn.functional.linear(x, w)),
    _case("linear 3-D input", lambda lib, x, w, b: ops.Linear.apply(x, w, b),
          [(2, 5, 3), (4, 3), (4,)], ops.Linear,
          torch_fn=lambda torch, x, w, b: torch.nn.functional.linear(x, w, b)),
    _case("linear constant input", lambda lib, x, w, b: ops.Linear.apply(x, w, b),
          [(5, 3), (4, 3), (4,)], ops.Linear, grad_inputs=(1, 2),
          torch_fn=lambda torch, x, w, b: torch.nn.functional.linear(x, w, b)),
    # ---- activations ----
    _case("relu", lambda lib, a: a.relu(), [(3, 4)], ops.ReLU, domains=("away",)),
    _case("leaky_relu", lambda lib, a: ops.LeakyReLU.apply(a, 0.1), [(3, 4)], ops.LeakyReLU,
          domains=("away",),
          torch_fn=lambda torch, a: torch.nn.functional.leaky_relu(a, 0.1)),
    _case("sigmoid", lambda lib, a: a.sigmoid(), [(3, 4)], ops.Sigmoid),
    _case("tanh", lambda lib, a: a.tanh(), [(3, 4)], ops.Tanh),
    _case("softmax dim 1", lambda lib, a: a.softmax(1), [(3, 4)], ops.Softmax),
    _case("softmax dim 0", lambda lib, a: a.softmax(dim=0), [(3, 4)], ops.Softmax),
    _case("log_softmax dim 1", lambda lib, a: a.log_softmax(1), [(3, 4)], ops.LogSoftmax),
    _case("log_softmax dim -1 3-D", lambda lib, a: a.log_softmax(-1), [(2, 3, 4)], ops.LogSoftmax),
    _case("gelu", lambda lib, a: ops.GELU.apply(a, "none"), [(3, 4)], ops.GELU,
          torch_fn=lambda torch, a: torch.nn.functional.gelu(a)),
    _case("gelu 0-d", lambda lib, a: ops.GELU.apply(a, "none"), [()], ops.GELU,
          torch_fn=lambda torch, a: torch.nn.functional.gelu(a)),
    _case("gelu tanh", lambda lib, a: ops.GELU.apply(a, "tanh"), [(3, 4)], ops.GELU,
          torch_fn=lambda torch, a: torch.nn.functional.gelu(a, approximate="tanh")),
    _case("elu", lambda lib, a: ops.ELU.apply(a, 1.3), [(3, 4)], ops.ELU, domains=("away",),
          torch_fn=lambda torch, a: torch.nn.functional.elu(a, 1.3)),
    _case("selu", lambda lib, a: ops.SELU.apply(a), [(3, 4)], ops.SELU, domains=("away",),
          torch_fn=lambda torch, a: torch.nn.functional.selu(a)),
    _case("softplus", lambda lib, a: ops.Softplus.apply(a, 1.0, 20.0), [(3, 4)], ops.Softplus,
          torch_fn=lambda torch, a: torch.nn.functional.softplus(a)),
    _case("softplus beta 2", lambda lib, a: ops.Softplus.apply(a, 2.0, 1.0), [(3, 4)], ops.Softplus,
          domains=("away",), torch_fn=lambda torch, a: torch.nn.functional.softplus(a, 2.0, 1.0)),
    _case("silu", lambda lib, a: ops.SiLU.apply(a), [(3, 4)], ops.SiLU,
          torch_fn=lambda torch, a: torch.nn.functional.silu(a)),
    # ---- fused losses ----
    *[
        _loss_case("mse_loss", ops.MSELoss, "mse_loss", ("any", "any"), r)
        for r in ("mean", "sum", "none")
    ],
    *[
        _loss_case("l1_loss", ops.L1Loss, "l1_loss", ("any", "any"), r)
        for r in ("mean", "sum", "none")
    ],
    *[
        _loss_case("huber_loss", ops.HuberLoss, "huber_loss", ("any", "any"), r)
        for r in ("mean", "sum", "none")
    ],
    _case("huber_loss delta 0.5 (sum)", lambda lib, x, t: ops.HuberLoss.apply(x, t, "sum", 0.5),
          [(4, 3), (4, 3)], ops.HuberLoss,
          torch_fn=lambda torch, x, t: torch.nn.functional.huber_loss(x, t, reduction="sum",
                                                                       delta=0.5)),
    *[
        _loss_case("binary_cross_entropy", ops.BCELoss, "binary_cross_entropy", ("unit", "unit"), r)
        for r in ("mean", "sum", "none")
    ],
    *[
        _loss_case("binary_cross_entropy_with_logits", ops.BCEWithLogitsLoss,
                   "binary_cross_entropy_with_logits", ("any", "unit"), r)
        for r in ("mean", "sum", "none")
    ],
    *[
        _case(f"cross_entropy ({r})", lambda lib, x, r=r: ops.CrossEntropyLoss.apply(x, TARGETS4, r),
              [(4, 3)], ops.CrossEntropyLoss,
              torch_fn=lambda torch, x, r=r: torch.nn.functional.cross_entropy(
                  x, torch.tensor(TARGETS4), reduction=r))
        for r in ("mean", "sum", "none")
    ],
    *[
        _case(f"nll_loss ({r})", lambda lib, x, r=r: ops.NLLLoss.apply(x, TARGETS4, r),
              [(4, 3)], ops.NLLLoss,
              torch_fn=lambda torch, x, r=r: torch.nn.functional.nll_loss(
                  x, torch.tensor(TARGETS4), reduction=r))
        for r in ("mean", "sum", "none")
    ],
    *[  # cross-entropy's options: class weights, an ignored target, label smoothing, all three
        _case(f"cross_entropy {label} ({r})",
              lambda lib, x, r=r, t=t, w=w, e=e: ops.CrossEntropyLoss.apply(x, t, r, w, -100, e),
              [(4, 3)], ops.CrossEntropyLoss,
              torch_fn=lambda torch, x, r=r, t=t, w=w, e=e: torch.nn.functional.cross_entropy(
                  x, torch.tensor(t), None if w is None else torch.tensor(w), reduction=r,
                  label_smoothing=e))
        for label, t, w, e in (("weighted", TARGETS4, CLASS_WEIGHT3, 0.0),
                               ("ignore_index", TARGETS4_IGNORED, None, 0.0),
                               ("label_smoothing", TARGETS4, None, 0.2),
                               ("weighted, ignored, smoothed", TARGETS4_IGNORED, CLASS_WEIGHT3, 0.2))
        for r in ("mean", "sum", "none")
    ],
    *[
        _case(f"nll_loss weighted, ignored ({r})",
              lambda lib, x, r=r: ops.NLLLoss.apply(x, TARGETS4_IGNORED, r, CLASS_WEIGHT3, -100),
              [(4, 3)], ops.NLLLoss,
              torch_fn=lambda torch, x, r=r: torch.nn.functional.nll_loss(
                  x, torch.tensor(TARGETS4_IGNORED), torch.tensor(CLASS_WEIGHT3), reduction=r))
        for r in ("mean", "sum", "none")
    ],
    *[
        _case(f"binary_cross_entropy_with_logits pos_weight ({r})",
              lambda lib, x, t, r=r: ops.BCEWithLogitsLoss.apply(x, t, r, POS_WEIGHT3),
              [(4, 3), (4, 3)], ops.BCEWithLogitsLoss, domains=("any", "unit"),
              torch_fn=lambda torch, x, t, r=r: torch.nn.functional.binary_cross_entropy_with_logits(
                  x, t, reduction=r, pos_weight=torch.tensor(POS_WEIGHT3)))
        for r in ("mean", "sum", "none")
    ],
    # ---- class losses through nn.functional: other shapes, class probabilities; element weights
    *[
        _case(f"cross_entropy (N, C, d) weighted ({r})",
              lambda lib, x, r=r: lib.nn.functional.cross_entropy(
                  x, lib.tensor(TARGETS2x4), lib.tensor(CLASS_WEIGHT3), reduction=r),
              [(2, 3, 4)], (ops.CrossEntropyLoss, ops.Permute, ops.Reshape))
        for r in ("mean", "none")
    ],
    _case("cross_entropy one sample (C,) (none)",
          lambda lib, x: lib.nn.functional.cross_entropy(x, lib.tensor(2), reduction="none"),
          [(3,)], (ops.CrossEntropyLoss, ops.Reshape)),
    *[
        _case(f"nll_loss (N, C, d) ({r})",
              lambda lib, x, r=r: lib.nn.functional.nll_loss(x, lib.tensor(TARGETS2x4), reduction=r),
              [(2, 3, 4)], (ops.NLLLoss, ops.Permute, ops.Reshape))
        for r in ("mean", "none")
    ],
    *[  # the target's gradient too: probabilities may come from another network (distillation)
        _case(f"cross_entropy of probabilities {label} ({r})",
              lambda lib, x, t, r=r, w=w, e=e: lib.nn.functional.cross_entropy(
                  x, t, None if w is None else lib.tensor(w), reduction=r, label_smoothing=e),
              [shape, shape], (ops.LogSoftmax, ops.Mul, ops.Sum), domains=("any", "unit"))
        for label, shape, w, e in (("", (4, 3), None, 0.0),
                                   ("weighted, smoothed", (4, 3), CLASS_WEIGHT3, 0.2),
                                   ("(N, C, d) weighted", (2, 3, 4), CLASS_WEIGHT3, 0.0),
                                   ("one sample (C,)", (3,), None, 0.1))
        for r in ("mean", "sum", "none")
    ],
    *[
        _case(f"binary_cross_entropy element weight ({r})",
              lambda lib, x, t, r=r: lib.nn.functional.binary_cross_entropy(
                  x, t, lib.tensor(ELEMENT_WEIGHT4x1), reduction=r),
              [(4, 3), (4, 3)], (ops.BCELoss, ops.Mul), domains=("unit", "unit"))
        for r in ("mean", "sum", "none")
    ],
    *[
        _case(f"binary_cross_entropy_with_logits element weight, pos_weight ({r})",
              lambda lib, x, t, r=r: lib.nn.functional.binary_cross_entropy_with_logits(
                  x, t, lib.tensor(CLASS_WEIGHT3), reduction=r, pos_weight=lib.tensor(POS_WEIGHT3)),
              [(4, 3), (4, 3)], (ops.BCEWithLogitsLoss, ops.Mul), domains=("any", "unit"))
        for r in ("mean", "sum", "none")
    ],
    # ---- compositions: the seed network's layer, a diamond, reuse ----
    _case("seed hidden layer sigmoid(x Wᵀ + b)", lambda lib, x, w, b: (x @ w.T + b).sigmoid(),
          [(5, 2), (10, 2), (10,)], (ops.MatMul, ops.Add, ops.Sigmoid, ops.Permute)),
    _case("hand-written sigmoid layer", lambda lib, x, w, b: handwritten.SigmoidLayer.apply(x, w, b),
          [(5, 2), (10, 2), (10,)], handwritten.SigmoidLayer,
          torch_fn=lambda torch, x, w, b: torch.sigmoid(x @ w.T + b)),
    *[  # % with the divisor's sign; away from the jumps of floor(a / b)
        _case(f"remainder {label}", fn, shapes, ops.Remainder, domains=domains)
        for label, fn, shapes, domains in (
            ("a % b", lambda lib, a, b: a % b, [(3, 4), (3, 4)], ("away", "positive")),
            ("broadcast b", lambda lib, a, b: a % b, [(3, 4), (4,)], ("away", "positive")),
            ("by a negative number", lambda lib, a: a % -0.7, [(3, 4)], ("positive",)),
        )
    ],
    # ---- embedding lookup (scatter-add backward) ----
    _case("embedding 2-D ids, repeats", lambda lib, w: lib.nn.functional.embedding(
        lib.tensor(TOKEN_IDS), w), [(5, 3)], ops.Embedding),
    # The padding row gets no gradient by convention, not because the output ignores it; so that
    # finite differences agree, these cases zero the padding positions' outputs (tests/
    # test_embedding.py checks the padding row's zero gradient under a random upstream gradient).
    _case("embedding 1-D ids, padding_idx", lambda lib, w: lib.nn.functional.embedding(
        lib.tensor(TOKEN_IDS[1]), w, padding_idx=3) * lib.tensor(TOKEN_IDS[1:2].T != 3) * 1.0,
        [(5, 3)], (ops.Embedding, ops.Mul)),
    _case("embedding 2-D ids, negative padding_idx", lambda lib, w: lib.nn.functional.embedding(
        lib.tensor(TOKEN_IDS), w, padding_idx=-1) * lib.tensor((TOKEN_IDS != 4)[..., None]) * 1.0,
        [(5, 3)], (ops.Embedding, ops.Mul)),
    _case("embedding 0-d id", lambda lib, w: lib.nn.functional.embedding(lib.tensor(4), w),
          [(5, 3)], ops.Embedding),
    # ---- recurrent cells: one fused time step each (x, h[, c], W_ih, W_hh[, b_ih, b_hh]) ----
    _case("lstm_cell", lambda lib, x, h, c, wi, wh, bi, bh: ops.LSTMCell.apply(x, h, c, wi, wh, bi, bh),
          [(3, 4), (3, 5), (3, 5), (20, 4), (20, 5), (20,), (20,)], ops.LSTMCell,
          torch_fn=lambda torch, x, h, c, wi, wh, bi, bh: torch.stack(
              torch._VF.lstm_cell(x, (h, c), wi, wh, bi, bh))),
    _case("lstm_cell no bias", lambda lib, x, h, c, wi, wh: ops.LSTMCell.apply(x, h, c, wi, wh),
          [(3, 4), (3, 5), (3, 5), (20, 4), (20, 5)], ops.LSTMCell,
          torch_fn=lambda torch, x, h, c, wi, wh: torch.stack(
              torch._VF.lstm_cell(x, (h, c), wi, wh, None, None))),
    _case("lstm_cell projected h (H_h=2), constant x", lambda lib, x, h, c, wi, wh, bi, bh:
          ops.LSTMCell.apply(x, h, c, wi, wh, bi, bh),
          [(3, 4), (3, 2), (3, 5), (20, 4), (20, 2), (20,), (20,)], ops.LSTMCell,
          grad_inputs=(1, 2, 3, 4, 5, 6),
          torch_fn=lambda torch, x, h, c, wi, wh, bi, bh: _torch_lstm_cell(torch, x, h, c, wi, wh,
                                                                           bi, bh)),
    _case("gru_cell", lambda lib, x, h, wi, wh, bi, bh: ops.GRUCell.apply(x, h, wi, wh, bi, bh),
          [(3, 4), (3, 5), (15, 4), (15, 5), (15,), (15,)], ops.GRUCell,
          torch_fn=lambda torch, x, h, wi, wh, bi, bh: torch._VF.gru_cell(x, h, wi, wh, bi, bh)),
    _case("gru_cell no bias", lambda lib, x, h, wi, wh: ops.GRUCell.apply(x, h, wi, wh),
          [(3, 4), (3, 5), (15, 4), (15, 5)], ops.GRUCell,
          torch_fn=lambda torch, x, h, wi, wh: torch._VF.gru_cell(x, h, wi, wh, None, None)),
    # ---- attention: softmax(Q Kᵀ * scale + M) V, fused ----
    _case("sdpa 3-D", lambda lib, q, k, v: lib.nn.functional.scaled_dot_product_attention(q, k, v),
          [(2, 3, 4), (2, 5, 4), (2, 5, 6)], ops.ScaledDotProductAttention),
    _case("sdpa 4-D heads, is_causal", lambda lib, q, k, v:
          lib.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True),
          [(2, 2, 4, 3), (2, 2, 4, 3), (2, 2, 4, 5)], ops.ScaledDotProductAttention),
    _case("sdpa bool mask, scale 0.3", lambda lib, q, k, v:
          lib.nn.functional.scaled_dot_product_attention(q, k, v, lib.tensor(KEY_MASK), scale=0.3),
          [(2, 3, 4), (2, 5, 4), (2, 5, 2)], ops.ScaledDotProductAttention),
    _case("sdpa float mask with a gradient, broadcast over the batch", lambda lib, q, k, v, m:
          lib.nn.functional.scaled_dot_product_attention(q, k, v, m),
          [(2, 3, 4), (2, 5, 4), (2, 5, 2), (3, 5)], ops.ScaledDotProductAttention),
    _case("sdpa constant query, 2-D", lambda lib, q, k, v:
          lib.nn.functional.scaled_dot_product_attention(q, k, v), [(3, 4), (5, 4), (5, 2)],
          ops.ScaledDotProductAttention, grad_inputs=(1, 2)),
    _case("diamond a*a + a.exp()", lambda lib, a: a * a + a.exp(), [(3, 4)], (ops.Mul, ops.Exp)),
]


def all_cases() -> list:
    """Every op case (built-in ones plus any registered later)."""
    return list(CASES)
