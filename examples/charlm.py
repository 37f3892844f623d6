"""What the character-level language-model examples share (tiny_gpt.py, char_lstm.py,
makemore_names.py): the corpus as integer ids, random batches of windows, the learning-rate
schedule, the evaluation, drawing the next character with a temperature and top-k, and holding
NumPy's BLAS to a number of threads. Not an example of its own: the others import it.

A loss is in nats per character: the mean of -ln p(next character); predicting uniformly over
V characters costs ln V.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

import chainrule as cr

DATA = Path(__file__).with_name("data")
SHAKESPEARE = DATA / "tiny_shakespeare.txt"


def load_corpus(path=SHAKESPEARE, train_fraction=0.9):
    """(chars, train ids, validation ids): the sorted characters of the text, and the text as
    int64 ids into them, cut into the first ``train_fraction`` and the rest."""
    text = Path(path).read_text(encoding="utf-8")
    chars = sorted(set(text))
    lookup = {c: i for i, c in enumerate(chars)}
    data = np.fromiter((lookup[c] for c in text), dtype=np.int64, count=len(text))
    split = int(train_fraction * len(data))
    return chars, data[:split], data[split:]


def get_batch(data, batch_size, block_size, rng):
    """batch_size windows of block_size ids at random places, and the same windows one character
    later (the targets), as (batch_size, block_size) int64 Tensors."""
    starts = rng.integers(0, len(data) - block_size - 1, batch_size)
    x = np.stack([data[s:s + block_size] for s in starts])
    y = np.stack([data[s + 1:s + 1 + block_size] for s in starts])
    return cr.tensor(x), cr.tensor(y)


@cr.no_grad()
def evaluate(model, splits, args, rng):
    """Mean loss of ``model(x, y)[1]`` over args.eval_batches random batches of each split, in
    evaluation mode."""
    model.eval()
    losses = {}
    for name, data in splits.items():
        total = 0.0
        for _ in range(args.eval_batches):
            x, y = get_batch(data, args.batch_size, args.block_size, rng)
            total += model(x, y)[1].item()
        losses[name] = total / args.eval_batches
    model.train()
    return losses


def pick_next(logits, temperature, top_k, rng) -> int:
    """Draw one id from softmax(logits / temperature) (a 1-D NumPy array of logits), restricted
    to the top_k most likely (top_k 0: all)."""
    logits = logits / temperature
    if 0 < top_k < len(logits):
        kth = np.partition(logits, -top_k)[-top_k]
        logits = np.where(logits < kth, -np.inf, logits)
    probs = np.exp(logits - logits.max())
    return int(rng.choice(len(probs), p=probs / probs.sum()))


def lr_lambda(args):
    """Linear warm-up to 1 over args.warmup steps, then cosine decay to args.min_lr / args.lr at
    args.steps: the factor LambdaLR multiplies the learning rate by."""
    floor = args.min_lr / args.lr

    def factor(step):
        if step < args.warmup:
            return (step + 1) / args.warmup
        progress = min(1.0, (step - args.warmup) / max(1, args.steps - args.warmup))
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))

    return factor


def limit_blas_threads(threads):
    """NumPy's BLAS (what chainrule's matrix products run on) to ``threads`` threads, when
    threadpoolctl is installed. On a shared two-core machine the default of one BLAS thread per
    core made a training step four times slower: the threads wait on each other. Keep the
    returned object alive for as long as the limit should hold."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return None
    return threadpool_limits(limits=threads, user_api="blas")
