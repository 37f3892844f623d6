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
    # Checked to second order too (gradgradcheck, and second derivatives against PyTorch). False
    # only with a reason in ``extra["first_order_only"]`` (e.g. PyTorch itself has no second
    # derivative there).
    second_order: bool = True

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
STRIDED = (slice(1, None), slice(None, None, 2))  # [1:, ::2]
VAR_OPS = (ops.Mean, ops.Sub, ops.Mul, ops.Sum, ops.Div)  # var = sum((x - mean)^2) / (n - correction)


def _torch_index_put(torch, values, shape, index):
    """PyTorch's zeros(shape) with values written at a basic index (slices, ints), differentiably."""
    out = torch.zeros(shape, dtype=values.dtype)
    out[index] = values
    return out


def _torch_lstm_cell(torch, x, h, c, w_ih, w_hh, b_ih, b_hh):
    """The LSTM cell's equations in torch ops (for a hidden state narrower than the cell, as with
    proj_size, which torch's fused cell does not take)."""
    i, f, g, o = (x @ w_ih.T + b_ih + h @ w_hh.T + b_hh).chunk(4, dim=1)
    c_next = i.sigmoid() * g.tanh() + f.sigmoid() * c
    return torch.stack((o.sigmoid() * c_next.tanh(), c_next))


def _torch_lstm_cell_from_gates(torch, gi, h, c, w_hh, b_hh):
    """The LSTM cell given the input's share of the gates, gi = x W_ihᵀ + b_ih, in torch ops."""
    i, f, g, o = (gi + h @ w_hh.T + b_hh).chunk(4, dim=1)
    c_next = i.sigmoid() * g.tanh() + f.sigmoid() * c
    return torch.stack((o.sigmoid() * c_next.tanh(), c_next))


def _assigned(a, index, v):
    """y = a * 1 with y[index] = v: index assignment in the graph (the same code in both libraries)."""
    y = a * 1
    y[index] = v
    return y


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
    _case("log10", lambda lib, a: a.log10(), [(3, 4)], ops.Log10, domains=("positive",)),
    _case("log2", lambda lib, a: a.log2(), [(3, 4)], ops.Log2, domains=("positive",)),
    _case("log1p", lambda lib, a: a.log1p(), [(3, 4)], ops.Log1p, domains=("positive",)),
    _case("log1p near 0", lambda lib, a: lib.log1p(a * 1e-3), [(3, 4)], (ops.Log1p, ops.Mul)),
    _case("expm1", lambda lib, a: a.expm1(), [(3, 4)], ops.Expm1),
    _case("expm1 near 0", lambda lib, a: lib.expm1(a * 1e-3), [(3, 4)], (ops.Expm1, ops.Mul)),
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
    # GetItem's adjoint (its backward as an op, so that indexing is twice differentiable)
    _case("index_put slice", lambda lib, v: ops.IndexPut.apply(v, (3, 4), STRIDED),
          [(2, 2)], ops.IndexPut, torch_fn=lambda torch, v: _torch_index_put(torch, v, (3, 4), STRIDED)),
    _case("index_put repeated indices", lambda lib, v: ops.IndexPut.apply(v, (4, 3), REPEATED),
          [(5, 3)], ops.IndexPut, torch_fn=lambda torch, v: torch.zeros(4, 3, dtype=v.dtype).index_put(
              (torch.tensor(REPEATED),), v, accumulate=True)),
    _case("index_put boolean mask", lambda lib, v: ops.IndexPut.apply(v, (4, 3), MASK),
          [(int(MASK.sum()),)], ops.IndexPut, torch_fn=lambda torch, v: torch.zeros(
              4, 3, dtype=v.dtype).index_put((torch.tensor(MASK),), v, accumulate=True)),
    _case("cat dim 0", lambda lib, a, b: lib.cat([a, b], 0), [(2, 3), (4, 3)], ops.Cat),
    _case("cat dim -1", lambda lib, a, b, c: lib.cat([a, b, c], -1), [(2, 3), (2, 1), (2, 2)],
          ops.Cat),
    _case("stack dim 0", lambda lib, a, b: lib.stack([a, b], 0), [(2, 3), (2, 3)], ops.Stack),
    _case("stack dim 1", lambda lib, a, b: lib.stack([a, b], 1), [(2, 3), (2, 3)], ops.Stack),
    _case("clone", lambda lib, a: a.clone() * 1.5, [(3, 4)], ops.Cast),
    _case("setitem slice", lambda lib, a, v: _assigned(a, (slice(1, None), slice(None, None, 2)), v),
          [(3, 4), (2, 2)], (ops.SetItem, ops.GetItem)),
    _case("setitem broadcast row", lambda lib, a, v: _assigned(a, 1, v), [(3, 4), (4,)],
          (ops.SetItem, ops.GetItem)),
    _case("setitem index array", lambda lib, a, v: _assigned(a, lib.tensor([2, 0]), v),
          [(3, 4), (2, 1)], (ops.SetItem, ops.GetItem)),
    _case("setitem boolean mask", lambda lib, a, v: _assigned(a, lib.tensor(MASK[:3]), v),
          [(3, 3), ()], (ops.SetItem, ops.GetItem)),
    _case("double", lambda lib, a: a.double(), [(3, 4)], ops.Cast),
    # the move between devices; on one device a copy (test_device.py moves between two)
    _case("to its own device, a copy", lambda lib, a: ops.ToDevice.apply(a, a.device) * 1.5, [(3, 4)],
          ops.ToDevice, torch_fn=lambda torch, a: a.to(a.device, copy=True) * 1.5),
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
    _case("normal cdf (gelu's Phi)", lambda lib, a: ops.NormalCDF.apply(a), [(3, 4)], ops.NormalCDF,
          torch_fn=lambda torch, a: torch.special.ndtr(a)),
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
    _case("lstm_cell", lambda lib, x, h, c, wi, wh, bi, bh:
          lib.stack(ops.LSTMCell.apply(x, h, c, wi, wh, bi, bh)),
          [(3, 4), (3, 5), (3, 5), (20, 4), (20, 5), (20,), (20,)], (ops.LSTMCell, ops.Stack),
          torch_fn=lambda torch, x, h, c, wi, wh, bi, bh: torch.stack(
              torch._VF.lstm_cell(x, (h, c), wi, wh, bi, bh))),
    _case("lstm_cell no bias", lambda lib, x, h, c, wi, wh: lib.stack(ops.LSTMCell.apply(x, h, c, wi, wh)),
          [(3, 4), (3, 5), (3, 5), (20, 4), (20, 5)], (ops.LSTMCell, ops.Stack),
          torch_fn=lambda torch, x, h, c, wi, wh: torch.stack(
              torch._VF.lstm_cell(x, (h, c), wi, wh, None, None))),
    _case("lstm_cell projected h (H_h=2), constant x", lambda lib, x, h, c, wi, wh, bi, bh:
          lib.stack(ops.LSTMCell.apply(x, h, c, wi, wh, bi, bh)),
          [(3, 4), (3, 2), (3, 5), (20, 4), (20, 2), (20,), (20,)], (ops.LSTMCell, ops.Stack),
          grad_inputs=(1, 2, 3, 4, 5, 6),
          torch_fn=lambda torch, x, h, c, wi, wh, bi, bh: _torch_lstm_cell(torch, x, h, c, wi, wh,
                                                                           bi, bh)),
    _case("lstm_cell precomputed input gates (W_ih None), as nn.LSTM calls it",
          lambda lib, gi, h, c, wh, bh: lib.stack(ops.LSTMCell.apply(gi, h, c, None, wh, None, bh)),
          [(3, 20), (3, 5), (3, 5), (20, 5), (20,)], (ops.LSTMCell, ops.Stack),
          torch_fn=_torch_lstm_cell_from_gates),
    _case("lstm_cell, only h' used (c' gets no gradient)", lambda lib, x, h, c, wi, wh, bi, bh:
          ops.LSTMCell.apply(x, h, c, wi, wh, bi, bh)[0] * 1.0,
          [(3, 4), (3, 5), (3, 5), (20, 4), (20, 5), (20,), (20,)], (ops.LSTMCell, ops.Mul),
          torch_fn=lambda torch, x, h, c, wi, wh, bi, bh: torch._VF.lstm_cell(
              x, (h, c), wi, wh, bi, bh)[0] * 1.0),
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
    # ---- convolution, pooling, normalization ----
    *[
        _case(f"conv2d {label}", lambda lib, *t, kw=kw: lib.nn.functional.conv2d(*t, **kw),
              shapes, ops.Conv)
        for label, shapes, kw in (
            ("basic", [(2, 3, 5, 6), (4, 3, 3, 3), (4,)], {}),
            ("stride 2 padding 1", [(2, 3, 7, 6), (4, 3, 3, 2), (4,)], dict(stride=2, padding=1)),
            ("dilation 2 padding (1, 2) no bias", [(1, 2, 7, 8), (3, 2, 3, 3)],
             dict(dilation=2, padding=(1, 2))),
            ("groups 2 stride (2, 1)", [(2, 4, 5, 5), (6, 2, 3, 3), (6,)], dict(groups=2, stride=(2, 1))),
            ("same, even kernel, dilation (1, 2)", [(1, 2, 5, 6), (3, 2, 2, 4), (3,)],
             dict(padding="same", dilation=(1, 2))),
            ("valid, uneven stride", [(2, 2, 6, 7), (2, 2, 2, 3)], dict(padding="valid", stride=(3, 2))),
        )
    ],
    _case("conv2d constant input", lambda lib, x, w, b: lib.nn.functional.conv2d(x, w, b, padding=1),
          [(2, 3, 4, 4), (2, 3, 3, 3), (2,)], ops.Conv, grad_inputs=(1, 2)),
    *[
        _case(f"conv1d {label}", lambda lib, *t, kw=kw: lib.nn.functional.conv1d(*t, **kw),
              shapes, ops.Conv)
        for label, shapes, kw in (
            ("stride 2 padding 1 dilation 2", [(2, 3, 9), (4, 3, 3), (4,)],
             dict(stride=2, padding=1, dilation=2)),
            ("groups 3 same even kernel", [(2, 3, 7), (6, 1, 4), (6,)], dict(groups=3, padding="same")),
        )
    ],
    *[
        _case(f"conv_transpose2d {label}",
              lambda lib, *t, kw=kw: lib.nn.functional.conv_transpose2d(*t, **kw), shapes,
              ops.ConvTranspose)
        for label, shapes, kw in (
            ("stride 2 padding 1 output_padding 1", [(2, 3, 4, 5), (3, 2, 3, 3), (2,)],
             dict(stride=2, padding=1, output_padding=1)),
            ("groups 2 dilation 2 stride (1, 2)", [(1, 4, 3, 4), (4, 3, 2, 3)],
             dict(groups=2, dilation=2, stride=(1, 2), output_padding=(0, 1))),
        )
    ],
    _case("conv_transpose1d stride 3 padding 1 output_padding 2",
          lambda lib, x, w, b: lib.nn.functional.conv_transpose1d(
              x, w, b, stride=3, padding=1, output_padding=2),
          [(2, 2, 5), (2, 3, 3), (3,)], ops.ConvTranspose),
    _case("unfold kernel (2, 3) dilation (2, 1) padding 1 stride (1, 2)",
          lambda lib, x: lib.nn.functional.unfold(x, (2, 3), dilation=(2, 1), padding=1, stride=(1, 2)),
          [(2, 3, 5, 6)], ops.Unfold),
    _case("fold kernel 2 stride 2 padding 1 (overlap-free) ",
          lambda lib, x: lib.nn.functional.fold(x, (5, 6), 2, padding=1, stride=2),
          [(2, 12, 12)], ops.Fold),
    _case("fold kernel 3 stride 1 (overlapping windows)",
          lambda lib, x: lib.nn.functional.fold(x, (4, 5), 3, dilation=(1, 2)),
          [(1, 18, 2)], ops.Fold),
    *[
        _case(f"max_pool2d {label}", lambda lib, x, kw=kw: lib.nn.functional.max_pool2d(x, **kw),
              [shape], ops.MaxPool)
        for label, shape, kw in (
            ("kernel 3 stride 2 padding 1", (2, 3, 7, 8), dict(kernel_size=3, stride=2, padding=1)),
            ("kernel (2, 3) dilation 2 ceil_mode", (2, 2, 7, 8),
             dict(kernel_size=(2, 3), stride=(2, 1), dilation=2, ceil_mode=True)),
            ("kernel 2 default stride, odd size", (1, 3, 5, 7), dict(kernel_size=2)),
        )
    ],
    _case("max_pool1d kernel 3 stride 2 padding 1 ceil_mode",
          lambda lib, x: lib.nn.functional.max_pool1d(x, 3, 2, 1, ceil_mode=True), [(2, 3, 10)],
          ops.MaxPool),
    _case("max_pool2d return_indices values",
          lambda lib, x: lib.nn.functional.max_pool2d(x, 3, 2, 1, return_indices=True)[0],
          [(2, 2, 6, 5)], ops.MaxPool),
    *[
        _case(f"avg_pool2d {label}", lambda lib, x, kw=kw: lib.nn.functional.avg_pool2d(x, **kw),
              [shape], ops.AvgPool)
        for label, shape, kw in (
            ("kernel 3 stride 2 padding 1", (2, 3, 7, 8), dict(kernel_size=3, stride=2, padding=1)),
            ("ceil_mode count_include_pad=False", (2, 2, 7, 6),
             dict(kernel_size=(3, 2), stride=2, padding=1, ceil_mode=True, count_include_pad=False)),
            ("ceil_mode count_include_pad", (1, 2, 6, 7),
             dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
            ("divisor_override", (1, 2, 5, 5), dict(kernel_size=2, divisor_override=3)),
        )
    ],
    _case("avg_pool1d kernel 4 stride 3 padding 2 ceil_mode",
          lambda lib, x: lib.nn.functional.avg_pool1d(x, 4, 3, 2, ceil_mode=True), [(2, 3, 10)],
          ops.AvgPool),
    _case("adaptive_avg_pool2d (7, 5) -> (3, 2)",
          lambda lib, x: lib.nn.functional.adaptive_avg_pool2d(x, (3, 2)), [(2, 3, 7, 5)], ops.Resample),
    _case("adaptive_avg_pool2d (None, 4)",
          lambda lib, x: lib.nn.functional.adaptive_avg_pool2d(x, (None, 4)), [(1, 2, 3, 6)],
          ops.Resample),
    _case("adaptive_max_pool2d (7, 5) -> (3, 4)",
          lambda lib, x: lib.nn.functional.adaptive_max_pool2d(x, (3, 4)), [(2, 3, 7, 5)],
          ops.AdaptiveMaxPool),
    _case("batch_norm training (N, C, H, W)",
          lambda lib, x, w, b: lib.nn.functional.batch_norm(
              x, lib.tensor(np.zeros(3)), lib.tensor(np.ones(3)), w, b, training=True, momentum=0.2),
          [(4, 3, 2, 3), (3,), (3,)], ops.BatchNorm),
    _case("batch_norm training (N, C) no affine, no running stats",
          lambda lib, x: lib.nn.functional.batch_norm(x, None, None, training=True),
          [(5, 4)], ops.BatchNorm),
    _case("batch_norm eval (N, C, L)",
          lambda lib, x, w, b: lib.nn.functional.batch_norm(
              x, lib.tensor(np.array([0.1, -0.3, 0.5])), lib.tensor(np.array([0.5, 1.2, 2.0])), w, b,
              training=False),
          [(2, 3, 4), (3,), (3,)], ops.BatchNorm),
    _case("layer_norm (3, 4) affine", lambda lib, x, w, b: lib.nn.functional.layer_norm(x, (3, 4), w, b),
          [(2, 3, 4), (3, 4), (3, 4)], ops.LayerNorm),
    _case("layer_norm (4,) no affine", lambda lib, x: lib.nn.functional.layer_norm(x, (4,)),
          [(3, 4)], ops.LayerNorm),
    _case("layer_norm over every dim, affine",  # (the affine gradients sum over no dims)
          lambda lib, x, w, b: lib.nn.functional.layer_norm(x, (3, 4), w, b),
          [(3, 4), (3, 4), (3, 4)], ops.LayerNorm),
    _case("group_norm 3 groups affine",
          lambda lib, x, w, b: lib.nn.functional.group_norm(x, 3, w, b),
          [(2, 6, 3, 2), (6,), (6,)], ops.GroupNorm),
    _case("instance_norm affine",
          lambda lib, x, w, b: lib.nn.functional.instance_norm(x, weight=w, bias=b),
          [(2, 3, 4, 5), (3,), (3,)], ops.GroupNorm),
    *[
        _case(f"pad {mode} {pads}", lambda lib, x, p=pads, m=mode, v=value: lib.nn.functional.pad(
              x, p, mode=m, value=v), [shape], ops.Pad)
        for mode, pads, shape, value in (
            ("constant", (1, 2, 0, 1), (2, 3, 4), 0.5),
            ("reflect", (2, 1, 1, 2), (1, 2, 4, 5), None),
            ("replicate", (2, 3), (2, 2, 4), None),
            ("circular", (1, 2, 2, 1), (1, 2, 3, 4), None),
        )
    ],
    *[
        _case(f"interpolate {label}", lambda lib, x, kw=kw: lib.nn.functional.interpolate(x, **kw),
              [shape], ops.Resample)
        for label, shape, kw in (
            ("nearest size (5, 7)", (2, 2, 3, 4), dict(size=(5, 7))),
            ("nearest scale 2", (1, 2, 3, 4), dict(scale_factor=2)),
            ("nearest 1-D size 7", (2, 2, 5), dict(size=7)),
            ("bilinear align_corners size (5, 7)", (2, 2, 3, 4),
             dict(size=(5, 7), mode="bilinear", align_corners=True)),
            ("bilinear scale 1.7", (1, 2, 4, 6), dict(scale_factor=1.7, mode="bilinear",
                                                      align_corners=False)),
            ("bilinear downsample size (2, 3)", (1, 2, 5, 7), dict(size=(2, 3), mode="bilinear")),
            ("linear 1-D scale 2.5", (2, 3, 4), dict(scale_factor=2.5, mode="linear",
                                                     align_corners=False)),
        )
    ],
]


def all_cases() -> list:
    """Every op case (built-in ones plus any registered later)."""
    return list(CASES)


# ---- sequence-model tensor ops ----
# Indices are constants (lib.tensor of an int64 array) and repeat where the op must add up the
# gradients of an element read or written twice (gather, scatter_add, index_select, index_add);
# scatter's indices are distinct within a row, since with repeats which write survives is
# undefined. sort and topk see standard-normal draws, which are distinct with probability 1, so
# no ties decide an order (ties are tested for the stable sort in tests/test_seqops.py).
DOMAINS["some zeros"] = lambda rng, shape: _with_zeros(rng.standard_normal(shape), [1, 5, 6])
DOMAINS["one zero"] = lambda rng, shape: _with_zeros(rng.standard_normal(shape), [1])


def _with_zeros(x, flat_positions):
    """x with exact zeros at these flat positions: for a (3, 4) input, row 0 holds one zero and
    row 1 two, column 1 two zeros and column 2 one (prod's derivative at zeros)."""
    x.reshape(-1)[flat_positions] = 0.0
    return x


GATHER_INDEX = np.array([[0, 0, 3], [1, 2, 1], [3, 3, 3]])  # (3, 3) into (3, 4) along dim 1
GATHER_INDEX_DIM0 = np.array([[3, 0], [3, 3]])  # (2, 2) into (4, 3) along dim 0: smaller than input
GATHER_INDEX_3D = np.array([[[1, 0, 1]], [[2, 2, 0]]])  # (2, 1, 3) into (2, 3, 3) along dim -1
SCATTER_INDEX = np.array([[0, 4], [2, 1], [3, 0]])  # distinct in each row: (3, 2) into (3, 5)
SCATTER_INDEX_DIM0 = np.array([[1, 0, 2], [0, 2, 1]])  # distinct in each column: (2, 3) into (3, 3)
SCATTER_ADD_INDEX = np.array([[0, 0, 2, 3, 0], [1, 1, 1, 2, 3], [3, 2, 3, 2, 0]])  # repeats
REPEATS4 = np.array([1, 0, 2, 3])  # repeat_interleave counts, one of them 0
CAUSAL4 = np.tril(np.ones((4, 4), dtype=bool))


def _pieces(lib, parts, join):
    """Join pieces, each scaled by a different factor, so a gradient routed to the wrong piece
    shows."""
    return join([p * (i + 1.0) for i, p in enumerate(parts)])


CASES += [
    # gather / scatter / scatter_add
    _case("gather dim 1 repeated indices", lambda lib, a: lib.gather(a, 1, lib.tensor(GATHER_INDEX)),
          [(3, 4)], ops.Gather),
    _case("gather dim 0 index smaller than input",
          lambda lib, a: a.gather(0, lib.tensor(GATHER_INDEX_DIM0)), [(4, 3)], ops.Gather),
    _case("gather 3-D dim -1", lambda lib, a: a.gather(-1, lib.tensor(GATHER_INDEX_3D)), [(2, 3, 3)],
          ops.Gather),
    _case("scatter src dim 1", lambda lib, a, s: a.scatter(1, lib.tensor(SCATTER_INDEX), s),
          [(3, 5), (3, 2)], ops.Scatter),
    _case("scatter src dim 0", lambda lib, a, s: lib.scatter(a, 0, lib.tensor(SCATTER_INDEX_DIM0), s),
          [(3, 3), (2, 3)], ops.Scatter),
    _case("scatter value", lambda lib, a: a.scatter(1, lib.tensor(SCATTER_INDEX), 2.5), [(3, 5)],
          ops.Scatter),
    _case("scatter_add dim 1 repeated indices",
          lambda lib, a, s: a.scatter_add(1, lib.tensor(SCATTER_ADD_INDEX), s), [(3, 4), (3, 5)],
          ops.ScatterAdd),
    _case("scatter_add dim 0 repeated indices",
          lambda lib, a, s: lib.scatter_add(a, 0, lib.tensor(SCATTER_ADD_INDEX.T), s),
          [(4, 3), (5, 3)], ops.ScatterAdd),
    # index_select / index_add
    _case("index_select dim 0 repeated", lambda lib, a: lib.index_select(a, 0, lib.tensor(REPEATED)),
          [(4, 3)], ops.IndexSelect),
    _case("index_select dim 1 3-D", lambda lib, a: a.index_select(1, lib.tensor([2, 0, 2])),
          [(2, 3, 4)], ops.IndexSelect),
    _case("index_add dim 0 repeated alpha 0.5",
          lambda lib, a, s: a.index_add(0, lib.tensor(REPEATED), s, alpha=0.5), [(4, 3), (5, 3)],
          ops.IndexAdd),
    _case("index_add dim -1", lambda lib, a, s: lib.index_add(a, -1, lib.tensor([1, 1]), s),
          [(2, 3), (2, 2)], ops.IndexAdd),
    # masked_fill (the mask never gets a gradient)
    _case("masked_fill number", lambda lib, a: a.masked_fill(lib.tensor(MASK), -3.0), [(4, 3)],
          ops.MaskedFill),
    _case("masked_fill broadcast causal mask",
          lambda lib, a: lib.masked_fill(a, ~lib.tensor(CAUSAL4), -1e4), [(2, 4, 4)], ops.MaskedFill),
    _case("masked_fill 0-d value tensor", lambda lib, a, v: a.masked_fill(lib.tensor(MASK), v),
          [(4, 3), ()], ops.MaskedFill),
    # tril / triu / repeat / flip / roll
    _case("tril", lambda lib, a: a.tril(), [(4, 4)], ops.Tril),
    _case("tril diagonal -1 batched", lambda lib, a: lib.tril(a, diagonal=-1), [(2, 3, 4)], ops.Tril),
    _case("triu diagonal 1", lambda lib, a: a.triu(1), [(3, 4)], ops.Triu),
    _case("triu diagonal -2", lambda lib, a: lib.triu(a, -2), [(5, 3)], ops.Triu),
    _case("repeat (3, 2)", lambda lib, a: a.repeat(3, 2), [(2, 3)], ops.Repeat),
    _case("repeat adds a leading dim", lambda lib, a: a.repeat((2, 1, 3)), [(2, 3)], ops.Repeat),
    _case("flip dims (0, 2)", lambda lib, a: lib.flip(a, (0, 2)), [(2, 3, 4)], ops.Flip),
    _case("flip -1", lambda lib, a: a.flip(-1), [(3, 4)], ops.Flip),
    _case("roll 2 dim 1", lambda lib, a: lib.roll(a, 2, 1), [(3, 4)], ops.Roll),
    _case("roll (1, -2) dims (0, 1)", lambda lib, a: a.roll((1, -2), (0, 1)), [(3, 4)], ops.Roll),
    _case("roll flattened", lambda lib, a: a.roll(5), [(3, 4)], ops.Roll),
    # repeat_interleave is index_select; split/chunk (Split) and unbind (Unbind): several outputs
    _case("repeat_interleave int dim 0", lambda lib, a: a.repeat_interleave(2, dim=0), [(3, 2)],
          ops.IndexSelect),
    _case("repeat_interleave tensor dim 1",
          lambda lib, a: lib.repeat_interleave(a, lib.tensor(REPEATS4), dim=1), [(2, 4)],
          ops.IndexSelect),
    _case("repeat_interleave flattened", lambda lib, a: a.repeat_interleave(3), [(2, 2)],
          (ops.IndexSelect, ops.Reshape)),
    _case("split int 2 dim 1", lambda lib, a: _pieces(lib, a.split(2, 1), lambda p: lib.cat(p, 1)),
          [(3, 5)], (ops.Split, ops.Mul, ops.Cat)),
    _case("split sizes [1, 3] dim 0",
          lambda lib, a: _pieces(lib, lib.split(a, [1, 3], 0), lambda p: lib.cat(p, 0)), [(4, 2)],
          (ops.Split, ops.Mul, ops.Cat)),
    _case("chunk 3 of 5", lambda lib, a: _pieces(lib, lib.chunk(a, 3, 0), lambda p: lib.cat(p, 0)),
          [(5, 2)], (ops.Split, ops.Mul, ops.Cat)),
    _case("split, one piece unused", lambda lib, a: a.split([2, 1, 2], -1)[2] * 3.0, [(2, 5)],
          (ops.Split, ops.Mul)),
    _case("unbind dim 1", lambda lib, a: _pieces(lib, lib.unbind(a, 1), lambda p: lib.stack(p, 0)),
          [(2, 3)], (ops.Unbind, ops.Mul, ops.Stack)),
    _case("unbind 1-D, two slices used", lambda lib, a: a.unbind(0)[1] * a.unbind(0)[3], [(4,)],
          (ops.Unbind, ops.Mul)),
    _case("unbind dim -1 3-D, slices summed", lambda lib, a: sum(a.unbind(-1)[1:]), [(2, 3, 4)],
          (ops.Unbind, ops.Add)),
    # cumsum / prod / logsumexp
    _case("cumsum dim 0", lambda lib, a: lib.cumsum(a, 0), [(4, 3)], ops.CumSum),
    _case("cumsum dim -1 3-D", lambda lib, a: a.cumsum(dim=-1), [(2, 3, 4)], ops.CumSum),
    _case("cumprod dim 1", lambda lib, a: lib.cumprod(a, 1), [(3, 4)], ops.CumProd),
    _case("cumprod dim 0 3-D", lambda lib, a: a.cumprod(dim=0), [(3, 2, 2)], ops.CumProd),
    _case("cumprod dim 1 with zeros", lambda lib, a: a.cumprod(1), [(3, 4)], ops.CumProd,
          domains=("some zeros",)),
    _case("cumprod dim 0 with zeros", lambda lib, a: a.cumprod(0), [(3, 4)], ops.CumProd,
          domains=("some zeros",)),
    _case("prod all", lambda lib, a: a.prod(), [(3, 4)], ops.Prod),
    _case("prod dim 1", lambda lib, a: lib.prod(a, 1), [(3, 4)], ops.Prod),
    _case("prod dim 0 keepdim", lambda lib, a: a.prod(0, keepdim=True), [(3, 4)], ops.Prod),
    _case("prod dim 1 with zeros", lambda lib, a: a.prod(1), [(3, 4)], ops.Prod,
          domains=("some zeros",)),
    _case("prod dim 0 with zeros", lambda lib, a: a.prod(0), [(3, 4)], ops.Prod,
          domains=("some zeros",)),
    _case("prod all with one zero", lambda lib, a: a.prod(), [(3, 4)], ops.Prod,
          domains=("one zero",)),
    _case("logsumexp dim 1", lambda lib, a: a.logsumexp(1), [(3, 4)], ops.LogSumExp),
    _case("logsumexp dims (0, 2) keepdim", lambda lib, a: lib.logsumexp(a, (0, 2), keepdim=True),
          [(2, 3, 4)], ops.LogSumExp),
    _case("logsumexp of large values (stable)", lambda lib, a: (a * 30.0 + 1000.0).logsumexp(-1),
          [(3, 4)], (ops.LogSumExp, ops.Mul, ops.Add)),
    # sort / topk: the values are gathered through the order, so Gather is the derivative
    _case("sort dim -1", lambda lib, a: a.sort().values, [(3, 4)], ops.Gather),
    _case("sort descending dim 0", lambda lib, a: lib.sort(a, 0, descending=True)[0], [(3, 4)],
          ops.Gather),
    _case("topk 2 largest dim 1", lambda lib, a: a.topk(2, 1).values, [(3, 5)], ops.Gather),
    _case("topk 3 smallest dim 0", lambda lib, a: lib.topk(a, 3, 0, largest=False)[0], [(4, 3)],
          ops.Gather),
    # einsum: the contractions of attention and bilinear layers, traces and sums
    *[
        _case(f"einsum {eq}", lambda lib, *xs, eq=eq: lib.einsum(eq, *xs), shapes, ops.Einsum)
        for eq, shapes in (
            ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
            ("bhqd,bhkd->bhqk", [(2, 2, 3, 4), (2, 2, 5, 4)]),
            ("bhqk,bhkd->bhqd", [(2, 2, 3, 5), (2, 2, 5, 4)]),
            ("ij,j->i", [(3, 4), (4,)]),
            ("bi,bj->bij", [(2, 3), (2, 4)]),
            ("bi,oij,bj->bo", [(2, 3), (5, 3, 4), (2, 4)]),
            ("ii->i", [(4, 4)]),
            ("ii", [(4, 4)]),
            ("ij->j", [(3, 4)]),
            ("ij->", [(3, 4)]),
            ("i,i->", [(4,), (4,)]),
            ("ij,jk", [(3, 4), (4, 2)]),
            ("iij,jk->ik", [(3, 3, 4), (4, 2)]),
            ("...ij,...jk->...ik", [(2, 3, 4), (2, 4, 5)]),
            ("...ij,jk", [(2, 3, 4), (4, 5)]),
            ("...ij,...jk->ik", [(3, 2, 3, 4), (2, 4, 5)]),
        )
    ],
    _case("bmm", lambda lib, a, b: lib.bmm(a, b), [(2, 3, 4), (2, 4, 5)], ops.MatMul),
    _case("baddbmm beta 0.5 alpha 2 broadcast input",
          lambda lib, x, a, b: lib.baddbmm(x, a, b, beta=0.5, alpha=2.0), [(3, 5), (2, 3, 4), (2, 4, 5)],
          (ops.MatMul, ops.Mul, ops.Add)),
    _case("baddbmm method", lambda lib, x, a, b: x.baddbmm(a, b), [(2, 3, 5), (2, 3, 4), (2, 4, 5)],
          (ops.MatMul, ops.Add)),
]

CASES += [  # Tensor.norm (ops/norm.py): Norm2 for p = 2, compositions for the other p
    _case("norm all", lambda lib, a: a.norm(), [(3, 4)], ops.Norm2),
    _case("norm 2 dim 1", lambda lib, a: a.norm(2, dim=1), [(3, 4)], ops.Norm2),
    _case("norm dim (0, 2) keepdim", lambda lib, a: a.norm(dim=(0, 2), keepdim=True), [(2, 3, 4)],
          ops.Norm2),
    _case("norm p 1 dim 0", lambda lib, a: a.norm(p=1, dim=0), [(3, 4)], ops.Abs, domains=("away",)),
    _case("norm p 3 dim -1", lambda lib, a: a.norm(p=3, dim=-1), [(3, 4)], ops.Pow,
          domains=("away",)),
]
