"""Made-up first names from a small character-level model (after Karpathy's makemore, part 2).

    python examples/makemore_names.py                   # train (about a minute on 2 cores), sample
    python examples/makemore_names.py --quick           # a few steps (smoke test)
    python examples/makemore_names.py --steps 50000 --hidden 300 --samples 30 --temperature 0.8
    python examples/makemore_names.py --model gpt       # examples/tiny_gpt.py's GPT instead

The model reads the last 3 characters of a name (padded with '.', which also marks the end),
embeds each in n_embd numbers (nn.Embedding), joins them, and maps them through a tanh hidden
layer to one logit per next character (27: a-z and '.'), as in Bengio et al. (2003): an MLP over a
fixed context. Training: minibatch SGD with momentum, the learning rate divided by 10 for the last
quarter of the steps. Names are drawn one character at a time, from softmax(logits / temperature)
(top-k optional), until '.'. With --model gpt, the model is instead examples/tiny_gpt.py's
decoder-only Transformer over the whole name so far ('.' then the name, 16 positions: the longest
name has 15 letters), trained with AdamW on whole names, the padding after each name's end
ignored by the loss (ignore_index=-1).

The data are examples/data/names.txt: 32,033 first names (source in examples/data/SOURCES.txt),
shuffled with a fixed seed and cut 80/10/10 into train, validation and test names, as makemore
does. A loss is in nats per character; uniform over 27 characters is ln 27 = 3.30. With the
defaults (11,897 parameters) it reaches a train loss of 2.21 and a validation loss of 2.22 after
20,000 steps, 55 s on the project's shared two-core machine, one thread; with --model gpt
(26,848 parameters), 2.10 and 2.11 after 3,000 steps, 40 s. See also docs/sequence_models.md,
"Examples and what they reach".
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import chainrule as cr
from chainrule import nn, optim
from chainrule.nn import functional as F

# examples/charlm.py and tiny_gpt.py, beside this file: top-k sampling, the BLAS thread limit, GPT
from charlm import DATA, limit_blas_threads, pick_next
from tiny_gpt import GPT

NAMES = DATA / "names.txt"
BLOCK_SIZE = 3           # characters of context (the MLP's)
HIDDEN = 200
MOMENTUM = 0.9
N_LAYER, N_HEAD = 2, 4   # the GPT's
SEED = 42
# per model: embedding size, batch size, learning rate, steps (and with --quick)
DEFAULTS = {"mlp": {"n_embd": 10, "batch_size": 64, "lr": 0.1, "steps": 20000, "quick_steps": 300},
            "gpt": {"n_embd": 32, "batch_size": 32, "lr": 3e-3, "steps": 3000, "quick_steps": 60}}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=("mlp", "gpt"), default="mlp")
    parser.add_argument("--steps", type=int, default=None,
                        help="optimizer steps (default 20,000 for the MLP, 3,000 for the GPT; 300 "
                             "and 60 with --quick)")
    parser.add_argument("--block-size", type=int, default=BLOCK_SIZE,
                        help="the MLP's context (the GPT sees the whole name)")
    parser.add_argument("--n-embd", type=int, default=None, help="default 10 (MLP), 32 (GPT)")
    parser.add_argument("--hidden", type=int, default=HIDDEN, help="the MLP's hidden layer")
    parser.add_argument("--n-layer", type=int, default=N_LAYER, help="the GPT's blocks")
    parser.add_argument("--n-head", type=int, default=N_HEAD, help="the GPT's heads")
    parser.add_argument("--batch-size", type=int, default=None, help="default 64 (MLP), 32 (GPT)")
    parser.add_argument("--lr", type=float, default=None,
                        help="default 0.1 (the MLP's SGD), 3e-3 (the GPT's AdamW)")
    parser.add_argument("--momentum", type=float, default=MOMENTUM, help="the MLP's SGD")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--threads", type=int, default=1, help="CPU threads for NumPy's BLAS")
    parser.add_argument("--samples", type=int, default=20, help="names to sample at the end")
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--top-k", type=int, default=0, help="0: draw from all 27 characters")
    parser.add_argument("--eval-rows", type=int, default=None,
                        help="evaluate on the first N rows of each split (default: all of it; "
                             "with --quick 20,000 examples for the MLP, 2,000 names for the GPT)")
    parser.add_argument("--quick", action="store_true", help="a few steps (the smoke test)")
    args = parser.parse_args(argv)
    defaults = DEFAULTS[args.model]
    for key in ("n_embd", "batch_size", "lr"):
        if getattr(args, key) is None:
            setattr(args, key, defaults[key])
    if args.steps is None:
        args.steps = defaults["quick_steps"] if args.quick else defaults["steps"]
    if args.model == "gpt" and args.n_embd % args.n_head:
        parser.error(f"--n-embd ({args.n_embd}) must be divisible by --n-head ({args.n_head}).")
    if args.quick and args.eval_rows is None:
        args.eval_rows = 20000 if args.model == "mlp" else 2000
    if args.temperature <= 0:
        parser.error(f"--temperature must be positive; got {args.temperature}.")
    return args


def load_names(model, block_size, seed):
    """(chars, {split: (inputs, targets)}): '.' is id 0 and a-z follow. For the MLP, one example
    per character of a name and one for its end, the input the block_size ids before (0-padded).
    For the GPT, one row per name: inputs '.' then the name, targets the name then '.', padded
    to the longest name + 1 (inputs with 0, targets with -1, which the loss ignores)."""
    words = NAMES.read_text(encoding="utf-8").split()
    chars = ["."] + sorted(set("".join(words)))
    lookup = {c: i for i, c in enumerate(chars)}
    order = np.random.default_rng(seed).permutation(len(words))
    words = [words[i] for i in order]
    n1, n2 = int(0.8 * len(words)), int(0.9 * len(words))
    length = max(len(w) for w in words) + 1
    splits = {}
    for name, part in (("train", words[:n1]), ("val", words[n1:n2]), ("test", words[n2:])):
        inputs, targets = [], []
        for word in part:
            ids = [lookup[c] for c in word]
            if model == "gpt":
                inputs.append([0] + ids + [0] * (length - 1 - len(ids)))
                targets.append(ids + [0] + [-1] * (length - 1 - len(ids)))
                continue
            context = [0] * block_size
            for i in ids + [0]:
                inputs.append(context)
                targets.append(i)
                context = context[1:] + [i]
        splits[name] = (np.array(inputs, dtype=np.int64), np.array(targets, dtype=np.int64))
    return chars, splits


class NameMLP(nn.Module):
    """ids (B, block_size) -> embeddings (B, block_size * n_embd) -> tanh(Linear) -> Linear ->
    logits (B, vocab)."""

    def __init__(self, vocab_size, block_size, n_embd, hidden):
        super().__init__()
        self.block_size = block_size
        self.embed = nn.Embedding(vocab_size, n_embd)
        self.hidden = nn.Linear(block_size * n_embd, hidden)
        self.out = nn.Linear(hidden, vocab_size)
        with cr.no_grad():  # a small last layer: the first predictions are near uniform
            self.out.weight.mul_(0.1)
            self.out.bias.zero_()

    def forward(self, idx):
        x = self.embed(idx).reshape(idx.shape[0], -1)
        return self.out(self.hidden(x).tanh())

    def next_logits(self, ids):
        """The logits of the character after ``ids`` (the name so far), as a NumPy array."""
        context = ([0] * self.block_size + ids)[-self.block_size:]
        return self(cr.tensor(np.array([context]))).numpy()[0]


class NameGPT(nn.Module):
    """examples/tiny_gpt.py's GPT over '.' and the name so far: ids (B, T) -> logits (B, T, vocab)."""

    def __init__(self, vocab_size, block_size, n_layer, n_head, n_embd):
        super().__init__()
        self.gpt = GPT(vocab_size, block_size, n_layer, n_head, n_embd)

    def forward(self, idx):
        return self.gpt(idx)[0]

    def next_logits(self, ids):
        context = ([0] + ids)[-self.gpt.block_size:]
        return self(cr.tensor(np.array([context]))).numpy()[0, -1]


def loss_of(model, inputs, targets, reduction="mean"):
    """Cross-entropy of the next character at every position whose target is not -1."""
    logits = model(cr.tensor(inputs))
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), cr.tensor(targets.reshape(-1)),
                           ignore_index=-1, reduction=reduction)


@cr.no_grad()
def split_loss(model, data, rows=None):
    """The mean loss per character over a split (its first ``rows`` rows; None: all), in pieces
    of 10,000 rows for the MLP (1,000 names for the GPT)."""
    inputs, targets = data[0][:rows], data[1][:rows]
    piece = 10000 if targets.ndim == 1 else 1000  # one target per row (MLP), or per position
    total = 0.0
    for start in range(0, len(targets), piece):
        total += loss_of(model, inputs[start:start + piece], targets[start:start + piece],
                         reduction="sum").item()
    return total / int((targets != -1).sum())


@cr.no_grad()
def sample_name(model, chars, temperature, top_k, rng, longest=50):
    """Draw characters one at a time until '.' (or ``longest`` of them)."""
    model.eval()
    ids = []
    while len(ids) < longest:
        ix = pick_next(model.next_logits(ids), temperature, top_k, rng)
        if ix == 0:
            break
        ids.append(ix)
    model.train()
    return "".join(chars[i] for i in ids)


def main(argv=None):
    args = parse_args(argv)
    limiter = limit_blas_threads(args.threads)  # noqa: F841  (kept: the limit holds while it lives)
    cr.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    chars, splits = load_names(args.model, args.block_size, args.seed)
    inputs, targets = splits["train"]
    if args.model == "mlp":
        model = NameMLP(len(chars), args.block_size, args.n_embd, args.hidden)
        optimizer = optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum)
        what = f"names MLP: context {args.block_size}, embedding {args.n_embd}, hidden {args.hidden}"
    else:
        model = NameGPT(len(chars), inputs.shape[1], args.n_layer, args.n_head, args.n_embd)
        optimizer = optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
        what = (f"names GPT: {args.n_layer} layers, {args.n_head} heads, d={args.n_embd}, context "
                f"{inputs.shape[1]}")
    n_params = sum(p.numel() for p in model.parameters())
    print(f"{what}, vocabulary {len(chars)}: {n_params:,} parameters; {len(targets):,} training "
          f"{'examples' if args.model == 'mlp' else 'names'}")
    scheduler = optim.lr_scheduler.MultiStepLR(optimizer, [int(0.75 * args.steps)], gamma=0.1)
    report_every = max(1, args.steps // 5)

    def losses():
        return (f"train loss {split_loss(model, splits['train'], args.eval_rows):.4f}, "
                f"val loss {split_loss(model, splits['val'], args.eval_rows):.4f}")

    print(f"step 0: {losses()}")
    examples, started, begun = 0, time.perf_counter(), time.perf_counter()
    for step in range(1, args.steps + 1):
        rows = rng.integers(0, len(targets), args.batch_size)
        loss = loss_of(model, inputs[rows], targets[rows])
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        scheduler.step()
        examples += int((targets[rows] != -1).sum())  # characters predicted
        if step % report_every == 0 or step == args.steps:
            rate = examples / (time.perf_counter() - started)
            print(f"step {step}: {losses()}, lr {scheduler.get_last_lr()[0]:.2e}, "
                  f"{rate:,.0f} characters/s", flush=True)
            examples, started = 0, time.perf_counter()
    print(f"trained {args.steps} steps in {time.perf_counter() - begun:.0f} s (with the evaluations)")
    print("samples:")
    for _ in range(args.samples):
        print(sample_name(model, chars, args.temperature, args.top_k, rng))


if __name__ == "__main__":
    main()
