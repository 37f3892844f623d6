"""A character-level LSTM language model on Shakespeare (after Karpathy's char-rnn).

    python examples/char_lstm.py                        # train (a few minutes on 2 cores), sample
    python examples/char_lstm.py --quick                # a few steps of a smaller model (smoke test)
    python examples/char_lstm.py --steps 2000 --minutes 10 --out runs/lstm   # stops at whichever first
    python examples/char_lstm.py --resume runs/lstm/char_lstm.crk --steps 3000   # continue
    python examples/char_lstm.py --sample-only runs/lstm/char_lstm.crk --temperature 0.8 --top-k 10
    python examples/char_lstm.py --compare-torch        # then the same model in PyTorch, side by side

The model: an embedding of each character (nn.Embedding), an LSTM over the sequence (nn.LSTM,
batch_first; one fused op per time step, ops.LSTMCell, whose backward docs/sequence_models.md
derives), and a Linear head to one logit per character; the loss is the cross-entropy of the next
character at every position. Training: Adam, a linear warm-up then cosine decay of the learning
rate (LambdaLR), gradient clipping at norm 1, on windows of block_size characters drawn at random
from the first 90% of examples/data/tiny_shakespeare.txt (public domain; source in
examples/data/SOURCES.txt), each started from a zero state. Sampling carries the LSTM's state
from character to character, so it costs one step per character, however long the text.

What it reaches, measured on the project's shared two-core machine (busy), one thread, float32,
with the defaults (embedding 64, 1 layer of hidden size 256, block 64, batch 32, 350,593
parameters): after 600 steps (5 minutes) a validation loss of 1.82 nats per character, the same
as its PyTorch twin's to four decimals; with --steps 2000, 1.66 after 10 minutes (1.61 at step
1,750; one evaluation is 10 random batches, about +-0.03). Predicting uniformly over the 65
characters costs ln 65 = 4.17. More in docs/sequence_models.md, "Examples and what they reach".
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

import chainrule as cr
from chainrule import nn, optim
from chainrule.nn import functional as F

# examples/charlm.py, beside this file: the corpus, batches, evaluation, schedule, sampling
from charlm import evaluate, get_batch, limit_blas_threads, load_corpus, lr_lambda, pick_next

# ----- settings (defaults; each has a command-line flag) ----------------------------------------
N_EMBD = 64
HIDDEN = 256
NUM_LAYERS = 1
BLOCK_SIZE = 64          # characters per training window (backprop through 64 steps)
BATCH_SIZE = 32
STEPS = 600
LR = 3e-3
MIN_LR = 3e-4
WARMUP = 30
GRAD_CLIP = 1.0
EVAL_EVERY = 100
EVAL_BATCHES = 10
SEED = 1337
CONFIG = ("n_embd", "hidden", "num_layers", "block_size")  # what a checkpoint must remember


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=None,
                        help=f"optimizer steps in all (default {STEPS}; 40 with --quick); the "
                             "learning rate decays to --min-lr at the last")
    parser.add_argument("--minutes", type=float, default=None,
                        help="stop training after this many minutes, even before --steps")
    parser.add_argument("--n-embd", type=int, default=N_EMBD)
    parser.add_argument("--hidden", type=int, default=HIDDEN)
    parser.add_argument("--num-layers", type=int, default=NUM_LAYERS)
    parser.add_argument("--dropout", type=float, default=0.0, help="between LSTM layers")
    parser.add_argument("--block-size", type=int, default=BLOCK_SIZE)
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)
    parser.add_argument("--lr", type=float, default=LR)
    parser.add_argument("--min-lr", type=float, default=MIN_LR)
    parser.add_argument("--warmup", type=int, default=WARMUP)
    parser.add_argument("--grad-clip", type=float, default=GRAD_CLIP)
    parser.add_argument("--eval-every", type=int, default=EVAL_EVERY)
    parser.add_argument("--eval-batches", type=int, default=EVAL_BATCHES)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--threads", type=int, default=1,
                        help="CPU threads for NumPy's BLAS and for PyTorch (default 1)")
    parser.add_argument("--out", type=Path, default=None,
                        help="folder for the checkpoint char_lstm.crk (default: no checkpoint)")
    parser.add_argument("--resume", type=Path, default=None, help="a checkpoint to continue from")
    parser.add_argument("--sample-only", type=Path, default=None,
                        help="load this checkpoint and only sample")
    parser.add_argument("--samples", type=int, default=300, help="characters to sample at the end")
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--top-k", type=int, default=20)
    parser.add_argument("--prompt", default="\n")
    parser.add_argument("--compare-torch", action="store_true",
                        help="then train the same model in PyTorch from the same initial weights, "
                             "on the same batches, and print both (needs torch)")
    parser.add_argument("--quick", action="store_true",
                        help="a smaller model for a few steps (the smoke test)")
    if "--quick" in (sys.argv[1:] if argv is None else argv):  # smaller defaults; flags still win
        parser.set_defaults(n_embd=16, hidden=64, block_size=32, batch_size=16, eval_every=20,
                            eval_batches=4, warmup=5, samples=80)
    args = parser.parse_args(argv)
    if args.steps is None:
        args.steps = 40 if args.quick else STEPS
    if args.temperature <= 0:
        parser.error(f"--temperature must be positive; got {args.temperature}.")
    return args


# ----- the model ---------------------------------------------------------------------------------


class CharLSTM(nn.Module):
    """ids (B, T) -> embedding (B, T, n_embd) -> LSTM -> (B, T, hidden) -> Linear -> logits
    (B, T, vocab). ``forward(idx, targets=None, state=None)`` returns (logits, loss, state): the
    loss is None without targets, and state is the LSTM's final (h, c), to carry on from."""

    def __init__(self, vocab_size, n_embd, hidden, num_layers, dropout=0.0):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, n_embd)
        self.lstm = nn.LSTM(n_embd, hidden, num_layers, batch_first=True, dropout=dropout)
        self.head = nn.Linear(hidden, vocab_size)

    def forward(self, idx, targets=None, state=None):
        out, state = self.lstm(self.embed(idx), state)
        logits = self.head(out)
        if targets is None:
            return logits, None, state
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
        return logits, loss, state


@cr.no_grad()
def sample(model, chars, prompt, n, temperature, top_k, rng):
    """The prompt, then n characters, each drawn from softmax(logits / temperature) restricted to
    the top_k most likely (top_k 0: all); the LSTM's state carries the whole text so far."""
    model.eval()
    lookup = {c: i for i, c in enumerate(chars)}
    idx = [lookup.get(c, 0) for c in prompt] or [0]
    logits, _, state = model(cr.tensor(np.array([idx])))  # the prompt in one pass
    for _ in range(n):
        idx.append(pick_next(logits.numpy()[0, -1], temperature, top_k, rng))
        logits, _, state = model(cr.tensor(np.array([idx[-1:]])), state=state)
    model.train()
    return "".join(chars[i] for i in idx)


# ----- training ----------------------------------------------------------------------------------


def main(argv=None):
    args = parse_args(argv)
    limiter = limit_blas_threads(args.threads)  # noqa: F841  (kept: the limit holds while it lives)
    cr.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    chars, train_data, val_data = load_corpus()
    start_step, checkpoint = 0, None
    if args.resume or args.sample_only:
        checkpoint = cr.load(args.resume or args.sample_only)
        for key in CONFIG:
            setattr(args, key, int(checkpoint["config"][key]))
    model = CharLSTM(len(chars), args.n_embd, args.hidden, args.num_layers, args.dropout)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"char LSTM: embedding {args.n_embd}, {args.num_layers} layer(s) of hidden size "
          f"{args.hidden}, block {args.block_size}, vocabulary {len(chars)}: {n_params:,} parameters")
    if checkpoint is not None:
        model.load_state_dict(checkpoint["model"])
        start_step = int(checkpoint["step"])
    if args.sample_only:
        print(sample(model, chars, args.prompt, args.samples, args.temperature, args.top_k, rng))
        return

    optimizer = optim.Adam(model.parameters(), lr=args.lr)
    scheduler = optim.lr_scheduler.LambdaLR(optimizer, lr_lambda(args))
    if checkpoint is not None:
        optimizer.load_state_dict(checkpoint["optimizer"])
        scheduler.load_state_dict(checkpoint["scheduler"])
    splits = {"train": train_data, "val": val_data}
    initial_state = model.state_dict()
    deadline = None if args.minutes is None else time.perf_counter() + 60 * args.minutes

    step, tokens, started = start_step, 0, time.perf_counter()
    begun = started
    while step < args.steps:
        x, y = get_batch(train_data, args.batch_size, args.block_size, rng)
        _, loss, _ = model(x, y)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), args.grad_clip)
        optimizer.step()
        optimizer.zero_grad()
        scheduler.step()
        step += 1
        tokens += x.numel()
        out_of_time = deadline is not None and time.perf_counter() > deadline
        if step % args.eval_every == 0 or step == args.steps or out_of_time:
            rate = tokens / (time.perf_counter() - started)
            losses = evaluate(ModelLoss(model), splits, args, rng)
            print(f"step {step}: train loss {losses['train']:.4f}, val loss {losses['val']:.4f}, "
                  f"lr {scheduler.get_last_lr()[0]:.2e}, {rate:,.0f} tokens/s", flush=True)
            tokens, started = 0, time.perf_counter()
        if out_of_time:
            print(f"stopped after {args.minutes:g} minutes, at step {step} of {args.steps}")
            break
    print(f"trained {step - start_step} steps in {time.perf_counter() - begun:.0f} s (with the "
          "evaluations)")
    if args.compare_torch and start_step == 0:
        torch_twin(args, len(chars), initial_state, splits, step)

    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        path = args.out / "char_lstm.crk"
        cr.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                 "scheduler": scheduler.state_dict(), "step": step,
                 "config": {key: getattr(args, key) for key in CONFIG}}, path)
        print(f"saved {path}")
    print("sample:")
    print(sample(model, chars, args.prompt, args.samples, args.temperature, args.top_k, rng))


class ModelLoss(nn.Module):
    """The model seen as charlm.evaluate expects: model(x, y) -> (logits, loss)."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x, y):
        return self.model(x, y)[:2]


def torch_twin(args, vocab_size, initial_state, splits, steps):
    """The same model in PyTorch (the same module names, so the same state_dict), trained from
    chainrule's initial weights on the same batches (a generator with the same seed, drawn in the
    same order) for the same steps, with the same optimizer, schedule and clipping."""
    import torch

    torch.set_num_threads(args.threads)
    tnn = torch.nn

    class TorchCharLSTM(tnn.Module):
        def __init__(self):
            super().__init__()
            self.embed = tnn.Embedding(vocab_size, args.n_embd)
            self.lstm = tnn.LSTM(args.n_embd, args.hidden, args.num_layers, batch_first=True,
                                 dropout=args.dropout)
            self.head = tnn.Linear(args.hidden, vocab_size)

        def forward(self, idx, targets):
            logits = self.head(self.lstm(self.embed(idx))[0])
            return tnn.functional.cross_entropy(logits.reshape(-1, vocab_size), targets.reshape(-1))

    model = TorchCharLSTM()
    model.load_state_dict({k: torch.tensor(v) for k, v in initial_state.items()})
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda(args))
    rng = np.random.default_rng(args.seed)

    def batch(data):
        x, y = get_batch(data, args.batch_size, args.block_size, rng)
        return torch.tensor(x.numpy()), torch.tensor(y.numpy())

    tokens, started = 0, time.perf_counter()
    for step in range(1, steps + 1):
        x, y = batch(splits["train"])
        model(x, y).backward()
        tnn.utils.clip_grad_norm_(model.parameters(), args.grad_clip)
        optimizer.step()
        optimizer.zero_grad()
        scheduler.step()
        tokens += x.numel()
        if step % args.eval_every == 0 or step == steps:
            rate = tokens / (time.perf_counter() - started)
            model.eval()
            with torch.no_grad():
                losses = {name: sum(model(*batch(data)).item() for _ in range(args.eval_batches))
                          / args.eval_batches for name, data in splits.items()}
            model.train()
            print(f"torch step {step}: train loss {losses['train']:.4f}, val loss "
                  f"{losses['val']:.4f}, {rate:,.0f} tokens/s", flush=True)
            tokens, started = 0, time.perf_counter()


if __name__ == "__main__":
    main()
