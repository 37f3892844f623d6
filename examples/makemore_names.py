"""Made-up first names from a small character-level model (after Karpathy's makemore, part 2).

    python examples/makemore_names.py                   # train (about a minute on 2 cores), sample
    python examples/makemore_names.py --quick           # a few steps (smoke test)
    python examples/makemore_names.py --steps 50000 --hidden 300 --samples 30 --temperature 0.8

The model reads the last 3 characters of a name (padded with '.', which also marks the end),
embeds each in n_embd numbers (nn.Embedding), joins them, and maps them through a tanh hidden
layer to one logit per next character (27: a-z and '.'), as in Bengio et al. (2003): an MLP over a
fixed context. Training: minibatch SGD with momentum, the learning rate divided by 10 for the last
quarter of the steps. Names are drawn one character at a time, from softmax(logits / temperature)
(top-k optional), until '.'.

The data are examples/data/names.txt: 32,033 first names (source in examples/data/SOURCES.txt),
shuffled with a fixed seed and cut 80/10/10 into train, validation and test names, as makemore
does. A loss is in nats per character; uniform over 27 characters is ln 27 = 3.30. With the
defaults (11,897 parameters) it reaches a train loss of 2.21 and a validation loss of 2.22 after
20,000 steps, 55 s on the project's shared two-core machine, one thread. See also
docs/sequence_models.md, "Examples and what they reach".
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import chainrule as cr
from chainrule import nn, optim
from chainrule.nn import functional as F

# examples/charlm.py, beside this file: top-k sampling and the BLAS thread limit
from charlm import DATA, limit_blas_threads, pick_next

NAMES = DATA / "names.txt"
BLOCK_SIZE = 3           # characters of context
N_EMBD = 10
HIDDEN = 200
BATCH_SIZE = 64
STEPS = 20000
LR = 0.1
MOMENTUM = 0.9
SEED = 42


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=None,
                        help=f"optimizer steps (default {STEPS}; 300 with --quick)")
    parser.add_argument("--block-size", type=int, default=BLOCK_SIZE)
    parser.add_argument("--n-embd", type=int, default=N_EMBD)
    parser.add_argument("--hidden", type=int, default=HIDDEN)
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)
    parser.add_argument("--lr", type=float, default=LR)
    parser.add_argument("--momentum", type=float, default=MOMENTUM)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--threads", type=int, default=1, help="CPU threads for NumPy's BLAS")
    parser.add_argument("--samples", type=int, default=20, help="names to sample at the end")
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--top-k", type=int, default=0, help="0: draw from all 27 characters")
    parser.add_argument("--eval-rows", type=int, default=None,
                        help="evaluate on the first N examples of each split (default: all of it; "
                             "20,000 with --quick)")
    parser.add_argument("--quick", action="store_true", help="a few steps (the smoke test)")
    args = parser.parse_args(argv)
    if args.steps is None:
        args.steps = 300 if args.quick else STEPS
    if args.quick and args.eval_rows is None:
        args.eval_rows = 20000
    if args.temperature <= 0:
        parser.error(f"--temperature must be positive; got {args.temperature}.")
    return args


def load_names(block_size, seed):
    """(chars, {split: (contexts, next ids)}): '.' is id 0 and a-z follow; each name gives one
    example per character and one for its end, its context the block_size ids before (0-padded)."""
    words = NAMES.read_text(encoding="utf-8").split()
    chars = ["."] + sorted(set("".join(words)))
    lookup = {c: i for i, c in enumerate(chars)}
    order = np.random.default_rng(seed).permutation(len(words))
    words = [words[i] for i in order]
    n1, n2 = int(0.8 * len(words)), int(0.9 * len(words))
    splits = {}
    for name, part in (("train", words[:n1]), ("val", words[n1:n2]), ("test", words[n2:])):
        contexts, targets = [], []
        for word in part:
            context = [0] * block_size
            for c in word + ".":
                contexts.append(context)
                targets.append(lookup[c])
                context = context[1:] + [lookup[c]]
        splits[name] = (np.array(contexts, dtype=np.int64), np.array(targets, dtype=np.int64))
    return chars, splits


class NameMLP(nn.Module):
    """ids (B, block_size) -> embeddings (B, block_size * n_embd) -> tanh(Linear) -> Linear ->
    logits (B, vocab)."""

    def __init__(self, vocab_size, block_size, n_embd, hidden):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, n_embd)
        self.hidden = nn.Linear(block_size * n_embd, hidden)
        self.out = nn.Linear(hidden, vocab_size)
        with cr.no_grad():  # a small last layer: the first predictions are near uniform
            self.out.weight.mul_(0.1)
            self.out.bias.zero_()

    def forward(self, idx):
        x = self.embed(idx).reshape(idx.shape[0], -1)
        return self.out(self.hidden(x).tanh())


@cr.no_grad()
def split_loss(model, data, rows=None):
    """The mean loss over a split (its first ``rows`` examples; None: all), in 10,000-row pieces."""
    contexts, targets = data[0][:rows], data[1][:rows]
    total = 0.0
    for start in range(0, len(targets), 10000):
        logits = model(cr.tensor(contexts[start:start + 10000]))
        loss = F.cross_entropy(logits, cr.tensor(targets[start:start + 10000]), reduction="sum")
        total += loss.item()
    return total / len(targets)


@cr.no_grad()
def sample_name(model, chars, block_size, temperature, top_k, rng):
    context, name = [0] * block_size, []
    while len(name) < 50:
        logits = model(cr.tensor(np.array([context])))
        ix = pick_next(logits.numpy()[0], temperature, top_k, rng)
        if ix == 0:
            break
        name.append(chars[ix])
        context = context[1:] + [ix]
    return "".join(name)


def main(argv=None):
    args = parse_args(argv)
    limiter = limit_blas_threads(args.threads)  # noqa: F841  (kept: the limit holds while it lives)
    cr.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    chars, splits = load_names(args.block_size, args.seed)
    model = NameMLP(len(chars), args.block_size, args.n_embd, args.hidden)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"names MLP: context {args.block_size}, embedding {args.n_embd}, hidden {args.hidden}, "
          f"vocabulary {len(chars)}: {n_params:,} parameters; "
          f"{len(splits['train'][1]):,} training examples")
    optimizer = optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum)
    scheduler = optim.lr_scheduler.MultiStepLR(optimizer, [int(0.75 * args.steps)], gamma=0.1)
    contexts, targets = splits["train"]
    report_every = max(1, args.steps // 5)

    def losses():
        return (f"train loss {split_loss(model, splits['train'], args.eval_rows):.4f}, "
                f"val loss {split_loss(model, splits['val'], args.eval_rows):.4f}")

    print(f"step 0: {losses()}")
    examples, started, begun = 0, time.perf_counter(), time.perf_counter()
    for step in range(1, args.steps + 1):
        rows = rng.integers(0, len(targets), args.batch_size)
        loss = F.cross_entropy(model(cr.tensor(contexts[rows])), cr.tensor(targets[rows]))
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        scheduler.step()
        examples += args.batch_size
        if step % report_every == 0 or step == args.steps:
            rate = examples / (time.perf_counter() - started)
            print(f"step {step}: {losses()}, lr {scheduler.get_last_lr()[0]:.2e}, "
                  f"{rate:,.0f} characters/s", flush=True)
            examples, started = 0, time.perf_counter()
    print(f"trained {args.steps} steps in {time.perf_counter() - begun:.0f} s (with the evaluations)")
    print("samples:")
    for _ in range(args.samples):
        print(sample_name(model, chars, args.block_size, args.temperature, args.top_k, rng))


if __name__ == "__main__":
    main()
