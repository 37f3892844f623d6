"""The sequence workloads (issue 18): a tiny GPT and a two-layer LSTM, character-level language
models on Shakespeare, their data and shared initial weights.

    gpt    token + position embeddings (vocabulary 65, d=128, context 128), 4 blocks of
           (LayerNorm, causal 4-head self-attention, residual; LayerNorm, GELU(tanh) MLP 128-512-128,
           residual), final LayerNorm, output head tied to the token embedding (examples/tiny_gpt.py
           at this size); cross-entropy over every position; gradient clipping at norm 1;
           AdamW lr 1e-3, betas (0.9, 0.95), weight decay 0.1 on the 2-D parameters; batch 16
    lstm   Embedding(65, 128) -> LSTM(128, 256, num_layers=2, batch_first=True) -> Linear(256, 65)
           over 64 time steps, cross-entropy over every position; Adam lr 2e-3; batch 32

Every implementation gets the same token windows, in the same order, and the same initial weights
from ``make_problem`` (a dict keyed by PyTorch's state_dict names), so their first losses agree to
float32 rounding and, after the same steps, so do their validation losses: the benchmark's guard
against a fast but wrong run.

Weights: GPT-2's init for the GPT (N(0, 0.02), the two residual projections N(0, 0.02 / sqrt(2 *
layers)), biases 0, LayerNorm 1 and 0); PyTorch's defaults for the LSTM model (embedding N(0, 1),
LSTM weights and biases U(+-1/sqrt(hidden)), Linear U(+-1/sqrt(in))).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np

DTYPE = np.float32
CORPUS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples",
                      "data", "tiny_shakespeare.txt")


@dataclass(frozen=True)
class SeqWorkload:
    name: str
    context: int      # time steps per window
    n_train: int      # training windows (whole batches of them)
    n_val: int        # validation windows
    lr: float
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    hidden: int = 256
    betas: tuple = (0.9, 0.95)
    weight_decay: float = 0.0
    grad_clip: float = 0.0  # 0: none


GPT = SeqWorkload("gpt", context=128, n_train=256, n_val=32, lr=1e-3, weight_decay=0.1,
                  grad_clip=1.0)
LSTM = SeqWorkload("lstm", context=64, n_train=512, n_val=64, lr=2e-3, n_layer=2, n_embd=128,
                   hidden=256, betas=(0.9, 0.999))
WORKLOADS = {"gpt": GPT, "lstm": LSTM}
# quick mode (the smoke test): the same code at sizes that take milliseconds
TINY = {"gpt": dict(context=16, n_layer=1, n_embd=32, n_train=8, n_val=4),
        "lstm": dict(context=8, n_embd=16, hidden=32, n_train=8, n_val=4)}


@dataclass
class SeqProblem:
    """The workload, its token windows and the initial weights. ``batches`` is a list of (ids,
    targets) int64 arrays of shape (batch, context); step i trains on ``batches[i % len]``."""

    workload: SeqWorkload
    batch: int
    vocab: int
    batches: list
    val: tuple          # (ids, targets), shape (n_val, context)
    weights: dict       # PyTorch state_dict names -> float32 arrays


def _corpus():
    text = open(CORPUS, encoding="utf-8").read()
    chars = sorted(set(text))
    lookup = {c: i for i, c in enumerate(chars)}
    return np.fromiter((lookup[c] for c in text), dtype=np.int64, count=len(text)), len(chars)


def _windows(data, starts, context):
    ids = np.stack([data[s:s + context] for s in starts])
    targets = np.stack([data[s + 1:s + 1 + context] for s in starts])
    return ids, targets


def make_problem(name: str, batch: int, seed: int = 0, n_train: int | None = None,
                 tiny: bool = False) -> SeqProblem:
    """The 'gpt' or 'lstm' problem, built the same way in every process. ``tiny`` shrinks the model
    and data (quick mode); ``n_train`` overrides the number of training windows."""
    if name not in WORKLOADS:
        raise ValueError(f"workloads_seq: unknown workload {name!r}; expected one of {list(WORKLOADS)}.")
    workload = WORKLOADS[name]
    if tiny:
        workload = SeqWorkload(**{**workload.__dict__, **TINY[name]})
    data, vocab = _corpus()
    rng = np.random.default_rng(seed)
    n_train = workload.n_train if n_train is None else n_train
    n_train = max(batch, n_train - n_train % batch)
    split = int(0.9 * len(data))
    train_ids, train_targets = _windows(data, rng.integers(0, split - workload.context - 1, n_train),
                                        workload.context)
    val = _windows(data, rng.integers(split, len(data) - workload.context - 1, workload.n_val),
                   workload.context)
    batches = [(train_ids[i:i + batch], train_targets[i:i + batch]) for i in range(0, n_train, batch)]
    init = gpt_weights if name == "gpt" else lstm_weights
    weights = init(workload, vocab, np.random.default_rng(seed + 1))
    return SeqProblem(workload, batch, vocab, batches, val, weights)


def gpt_weights(w: SeqWorkload, vocab: int, rng) -> dict:
    """GPT-2's init under tiny_gpt.py's module names (lm_head.weight is wte.weight: not listed)."""
    c = w.n_embd

    def normal(shape, std=0.02):
        return (std * rng.standard_normal(shape)).astype(DTYPE)

    weights = {"wte.weight": normal((vocab, c)), "wpe.weight": normal((w.context, c))}
    residual_std = 0.02 / math.sqrt(2 * w.n_layer)
    for layer in range(w.n_layer):
        p = f"h.{layer}."
        weights.update({
            p + "ln_1.weight": np.ones(c, DTYPE), p + "ln_1.bias": np.zeros(c, DTYPE),
            p + "attn.c_attn.weight": normal((3 * c, c)), p + "attn.c_attn.bias": np.zeros(3 * c, DTYPE),
            p + "attn.c_proj.weight": normal((c, c), residual_std),
            p + "attn.c_proj.bias": np.zeros(c, DTYPE),
            p + "ln_2.weight": np.ones(c, DTYPE), p + "ln_2.bias": np.zeros(c, DTYPE),
            p + "mlp.0.weight": normal((4 * c, c)), p + "mlp.0.bias": np.zeros(4 * c, DTYPE),
            p + "mlp.2.weight": normal((c, 4 * c), residual_std), p + "mlp.2.bias": np.zeros(c, DTYPE),
        })
    weights.update({"ln_f.weight": np.ones(c, DTYPE), "ln_f.bias": np.zeros(c, DTYPE)})
    return weights


def lstm_weights(w: SeqWorkload, vocab: int, rng) -> dict:
    """PyTorch's default init under the names of impl_chainrule_seq.CharLSTM's state_dict."""
    h = w.hidden
    bound = 1.0 / math.sqrt(h)
    weights = {"embed.weight": rng.standard_normal((vocab, w.n_embd)).astype(DTYPE)}
    for layer in range(w.n_layer):
        fan_in = w.n_embd if layer == 0 else h
        for name, shape in ((f"weight_ih_l{layer}", (4 * h, fan_in)), (f"weight_hh_l{layer}", (4 * h, h)),
                            (f"bias_ih_l{layer}", (4 * h,)), (f"bias_hh_l{layer}", (4 * h,))):
            weights["lstm." + name] = rng.uniform(-bound, bound, shape).astype(DTYPE)
    weights["head.weight"] = rng.uniform(-bound, bound, (vocab, h)).astype(DTYPE)
    weights["head.bias"] = rng.uniform(-bound, bound, (vocab,)).astype(DTYPE)
    return weights


def cross_entropy_of_logits(logits: np.ndarray, targets: np.ndarray) -> float:
    """Mean cross-entropy of (M, V) logits against (M,) class ids, in float64: the validation loss
    every implementation reports, computed the same way from its own logits."""
    logits = np.asarray(logits, dtype=np.float64).reshape(-1, logits.shape[-1])
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_prob = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return float(-log_prob[np.arange(len(log_prob)), targets.reshape(-1)].mean())
