"""A tiny GPT trained from scratch on Shakespeare, characters in, characters out (after nanoGPT).

    python examples/tiny_gpt.py                         # train (a few minutes on 2 cores), sample
    python examples/tiny_gpt.py --quick                 # a few steps of a smaller model (smoke test)
    python examples/tiny_gpt.py --steps 2000 --out runs/gpt
    python examples/tiny_gpt.py --resume runs/gpt/tiny_gpt.crk --steps 3000   # continue
    python examples/tiny_gpt.py --sample-only runs/gpt/tiny_gpt.crk --temperature 0.8 --top-k 10
    python examples/tiny_gpt.py --compare-torch         # then the same model in PyTorch, side by side

The model is a decoder-only Transformer: token and position embeddings, n_layer blocks of
(LayerNorm, causal multi-head self-attention, residual; LayerNorm, GELU MLP, residual), a final
LayerNorm and an output head that shares its weight with the token embedding (weight tying: one
Parameter, used twice; its gradient is the sum of both uses). Training: AdamW (weight decay on
the matrices only), a linear warm-up then cosine decay of the learning rate (LambdaLR), gradient
clipping at norm 1. Every derivative on the way is hand-written in chainrule.ops; attention is one
fused op (ops.ScaledDotProductAttention) whose backward docs/sequence_models.md derives.

The corpus is examples/data/tiny_shakespeare.txt (public domain; source in
examples/data/SOURCES.txt): the first 90% trains, the last 10% validates. A loss is in nats per
character; predicting uniformly over the 65 characters costs ln 65 = 4.17.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np

import chainrule as cr
from chainrule import nn, optim
from chainrule.nn import functional as F

# examples/charlm.py, beside this file: the corpus, batches, evaluation, schedule, sampling
from charlm import evaluate, get_batch, limit_blas_threads, load_corpus, lr_lambda, pick_next

# ----- settings (defaults; each has a command-line flag) ----------------------------------------
N_LAYER = 2
N_HEAD = 4
N_EMBD = 64
BLOCK_SIZE = 64          # context length in characters
BATCH_SIZE = 16
STEPS = 600
LR = 3e-3
MIN_LR = 3e-4
WARMUP = 50
WEIGHT_DECAY = 0.1
GRAD_CLIP = 1.0
EVAL_EVERY = 100
EVAL_BATCHES = 10
SEED = 1337


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=None,
                        help=f"optimizer steps in all (default {STEPS}; 40 with --quick)")
    parser.add_argument("--n-layer", type=int, default=N_LAYER)
    parser.add_argument("--n-head", type=int, default=N_HEAD)
    parser.add_argument("--n-embd", type=int, default=N_EMBD)
    parser.add_argument("--block-size", type=int, default=BLOCK_SIZE)
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)
    parser.add_argument("--lr", type=float, default=LR)
    parser.add_argument("--min-lr", type=float, default=MIN_LR)
    parser.add_argument("--warmup", type=int, default=WARMUP)
    parser.add_argument("--weight-decay", type=float, default=WEIGHT_DECAY)
    parser.add_argument("--grad-clip", type=float, default=GRAD_CLIP)
    parser.add_argument("--dropout", type=float, default=0.0)
    parser.add_argument("--eval-every", type=int, default=EVAL_EVERY)
    parser.add_argument("--eval-batches", type=int, default=EVAL_BATCHES)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--threads", type=int, default=1,
                        help="CPU threads for NumPy's BLAS and for PyTorch (default 1; on a busy "
                             "machine more threads only wait on each other)")
    parser.add_argument("--out", type=Path, default=None,
                        help="folder for the checkpoint tiny_gpt.crk (default: no checkpoint)")
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
    args = parser.parse_args(argv)
    if args.quick:
        args.n_layer, args.n_embd, args.block_size = 1, 32, 32
        args.batch_size, args.eval_every, args.eval_batches, args.warmup = 8, 20, 4, 5
        args.samples = 80
    if args.steps is None:
        args.steps = 40 if args.quick else STEPS
    if args.n_embd % args.n_head:
        parser.error(f"--n-embd ({args.n_embd}) must be divisible by --n-head ({args.n_head}).")
    return args


# ----- the model ---------------------------------------------------------------------------------


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention where position t sees positions 0..t only."""

    def __init__(self, n_embd, n_head, dropout):
        super().__init__()
        self.n_head, self.dropout = n_head, dropout
        self.c_attn = nn.Linear(n_embd, 3 * n_embd)  # q, k, v for all heads in one product
        self.c_proj = nn.Linear(n_embd, n_embd)

    def forward(self, x):
        B, T, C = x.shape
        qkv = self.c_attn(x)
        q, k, v = (t.reshape(B, T, self.n_head, C // self.n_head).transpose(1, 2)
                   for t in qkv.split(C, dim=2))  # (B, heads, T, head size)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True,
                                           dropout_p=self.dropout if self.training else 0.0)
        return self.c_proj(y.transpose(1, 2).reshape(B, T, C))


class Block(nn.Module):
    def __init__(self, n_embd, n_head, dropout):
        super().__init__()
        self.ln_1 = nn.LayerNorm(n_embd)
        self.attn = CausalSelfAttention(n_embd, n_head, dropout)
        self.ln_2 = nn.LayerNorm(n_embd)
        self.mlp = nn.Sequential(nn.Linear(n_embd, 4 * n_embd), nn.GELU(approximate="tanh"),
                                 nn.Linear(4 * n_embd, n_embd), nn.Dropout(dropout))

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    def __init__(self, vocab_size, block_size, n_layer, n_head, n_embd, dropout=0.0):
        super().__init__()
        self.block_size = block_size
        self.wte = nn.Embedding(vocab_size, n_embd)
        self.wpe = nn.Embedding(block_size, n_embd)
        self.drop = nn.Dropout(dropout)
        self.h = nn.Sequential(*(Block(n_embd, n_head, dropout) for _ in range(n_layer)))
        self.ln_f = nn.LayerNorm(n_embd)
        self.lm_head = nn.Linear(n_embd, vocab_size, bias=False)
        self.lm_head.weight = self.wte.weight  # weight tying: one Parameter in two modules
        for name, p in self.named_parameters():  # GPT-2's init: N(0, 0.02), biases zero
            if name.endswith("bias"):
                nn.init.zeros_(p)
            elif p.ndim == 2:
                std = 0.02 / math.sqrt(2 * n_layer) if name.endswith("c_proj.weight") or \
                    name.endswith("mlp.2.weight") else 0.02
                nn.init.normal_(p, 0.0, std)

    def forward(self, idx, targets=None):
        T = idx.shape[1]
        x = self.drop(self.wte(idx) + self.wpe(cr.arange(T, device=idx.device)))
        logits = self.lm_head(self.ln_f(self.h(x)))
        if targets is None:
            return logits, None
        return logits, F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


# ----- sampling (the corpus, batches, evaluation and schedule are examples/charlm.py's) -------


@cr.no_grad()
def sample(model, chars, prompt, n, temperature, top_k, rng):
    """Generate n characters: at each step the next character is drawn from softmax(logits / T),
    restricted to the top_k most likely (top_k 0: all), given the last block_size characters."""
    model.eval()
    lookup = {c: i for i, c in enumerate(chars)}
    idx = [lookup.get(c, 0) for c in prompt] or [0]
    for _ in range(n):
        context = cr.tensor(np.array([idx[-model.block_size:]]))
        logits = model(context)[0].numpy()[0, -1]
        idx.append(pick_next(logits, temperature, top_k, rng))
    model.train()
    return "".join(chars[i] for i in idx)


def main(argv=None):
    args = parse_args(argv)
    limiter = limit_blas_threads(args.threads)  # noqa: F841  (kept: the limit holds while it lives)
    cr.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    chars, train_data, val_data = load_corpus()
    start_step, checkpoint = 0, None
    if args.resume or args.sample_only:
        checkpoint = cr.load(args.resume or args.sample_only)
        for key in ("n_layer", "n_head", "n_embd", "block_size"):
            setattr(args, key, int(checkpoint["config"][key]))
    model = GPT(len(chars), args.block_size, args.n_layer, args.n_head, args.n_embd, args.dropout)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"tiny GPT: {args.n_layer} layers, {args.n_head} heads, d={args.n_embd}, context "
          f"{args.block_size}, vocabulary {len(chars)}: {n_params:,} parameters")
    if checkpoint is not None:
        model.load_state_dict(checkpoint["model"])
        start_step = int(checkpoint["step"])
    if args.sample_only:
        print(sample(model, chars, args.prompt, args.samples, args.temperature, args.top_k, rng))
        return

    decay = [p for name, p in model.named_parameters() if p.ndim == 2]
    no_decay = [p for name, p in model.named_parameters() if p.ndim != 2]
    optimizer = optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=args.lr,
                            betas=(0.9, 0.95))
    scheduler = optim.lr_scheduler.LambdaLR(optimizer, lr_lambda(args))
    if checkpoint is not None:
        optimizer.load_state_dict(checkpoint["optimizer"])
        scheduler.load_state_dict(checkpoint["scheduler"])
    splits = {"train": train_data, "val": val_data}

    initial_state = model.state_dict()
    tokens, started = 0, time.perf_counter()
    for step in range(start_step, args.steps):
        x, y = get_batch(train_data, args.batch_size, args.block_size, rng)
        _, loss = model(x, y)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), args.grad_clip)
        optimizer.step()
        optimizer.zero_grad()
        scheduler.step()
        tokens += x.numel()
        if (step + 1) % args.eval_every == 0 or step + 1 == args.steps:
            rate = tokens / (time.perf_counter() - started)
            losses = evaluate(model, splits, args, rng)
            print(f"step {step + 1}: train loss {losses['train']:.4f}, val loss "
                  f"{losses['val']:.4f}, lr {scheduler.get_last_lr()[0]:.2e}, {rate:,.0f} tokens/s")
            tokens, started = 0, time.perf_counter()
    if args.compare_torch and start_step == 0:
        torch_twin(args, len(chars), initial_state, splits)

    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        path = args.out / "tiny_gpt.crk"
        config = {key: getattr(args, key) for key in ("n_layer", "n_head", "n_embd", "block_size")}
        cr.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                 "scheduler": scheduler.state_dict(), "step": args.steps, "config": config}, path)
        print(f"saved {path}")
    print("sample:")
    print(sample(model, chars, args.prompt, args.samples, args.temperature, args.top_k, rng))


def torch_twin(args, vocab_size, initial_state, splits):
    """The same model in PyTorch (the same module names, so the same state_dict), trained from
    chainrule's initial weights on the same batches (a generator with the same seed, drawn in the
    same order) with the same optimizer, schedule and clipping, on the same number of threads."""
    import torch

    torch.set_num_threads(args.threads)
    tnn = torch.nn

    class TorchAttention(tnn.Module):
        def __init__(self):
            super().__init__()
            self.c_attn = tnn.Linear(args.n_embd, 3 * args.n_embd)
            self.c_proj = tnn.Linear(args.n_embd, args.n_embd)

        def forward(self, x):
            B, T, C = x.shape
            q, k, v = (t.reshape(B, T, args.n_head, C // args.n_head).transpose(1, 2)
                       for t in self.c_attn(x).split(C, dim=2))
            y = tnn.functional.scaled_dot_product_attention(
                q, k, v, is_causal=True, dropout_p=args.dropout if self.training else 0.0)
            return self.c_proj(y.transpose(1, 2).reshape(B, T, C))

    class TorchBlock(tnn.Module):
        def __init__(self):
            super().__init__()
            n = args.n_embd
            self.ln_1, self.attn, self.ln_2 = tnn.LayerNorm(n), TorchAttention(), tnn.LayerNorm(n)
            self.mlp = tnn.Sequential(tnn.Linear(n, 4 * n), tnn.GELU(approximate="tanh"),
                                      tnn.Linear(4 * n, n), tnn.Dropout(args.dropout))

        def forward(self, x):
            x = x + self.attn(self.ln_1(x))
            return x + self.mlp(self.ln_2(x))

    class TorchGPT(tnn.Module):
        def __init__(self):
            super().__init__()
            self.wte = tnn.Embedding(vocab_size, args.n_embd)
            self.wpe = tnn.Embedding(args.block_size, args.n_embd)
            self.drop = tnn.Dropout(args.dropout)
            self.h = tnn.Sequential(*(TorchBlock() for _ in range(args.n_layer)))
            self.ln_f = tnn.LayerNorm(args.n_embd)
            self.lm_head = tnn.Linear(args.n_embd, vocab_size, bias=False)
            self.lm_head.weight = self.wte.weight

        def forward(self, idx, targets):
            x = self.drop(self.wte(idx) + self.wpe(torch.arange(idx.shape[1], device=idx.device)))
            logits = self.lm_head(self.ln_f(self.h(x)))
            return tnn.functional.cross_entropy(logits.reshape(-1, vocab_size), targets.reshape(-1))

    model = TorchGPT()
    model.load_state_dict({k: torch.tensor(v) for k, v in initial_state.items()})
    decay = [p for p in model.parameters() if p.ndim == 2]
    no_decay = [p for p in model.parameters() if p.ndim != 2]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                                   {"params": no_decay, "weight_decay": 0.0}], lr=args.lr,
                                  betas=(0.9, 0.95))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda(args))
    rng = np.random.default_rng(args.seed)

    def batch(data):
        x, y = get_batch(data, args.batch_size, args.block_size, rng)
        return torch.tensor(x.numpy()), torch.tensor(y.numpy())

    tokens, started = 0, time.perf_counter()
    for step in range(args.steps):
        x, y = batch(splits["train"])
        model(x, y).backward()
        tnn.utils.clip_grad_norm_(model.parameters(), args.grad_clip)
        optimizer.step()
        optimizer.zero_grad()
        scheduler.step()
        tokens += x.numel()
        if (step + 1) % args.eval_every == 0 or step + 1 == args.steps:
            rate = tokens / (time.perf_counter() - started)
            model.eval()
            with torch.no_grad():
                losses = {name: sum(model(*batch(data)).item() for _ in range(args.eval_batches))
                          / args.eval_batches for name, data in splits.items()}
            model.train()
            print(f"torch step {step + 1}: train loss {losses['train']:.4f}, val loss "
                  f"{losses['val']:.4f}, {rate:,.0f} tokens/s")
            tokens, started = 0, time.perf_counter()


if __name__ == "__main__":
    main()
