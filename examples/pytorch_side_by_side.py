"""The same model trained in chainrule and in PyTorch, from the same weights, loss by loss.

    python examples/pytorch_side_by_side.py                    # float32, 20 steps
    python examples/pytorch_side_by_side.py --dtype float64    # agreement to ~1e-15
    python examples/pytorch_side_by_side.py --quick            # 5 steps, for the smoke test

The two training functions below are written line for line alike: only the module prefix
differs (cr / torch). Both networks are 2-10-1 sigmoid (the seed network), both optimizers are SGD
with momentum 0.9, both see the same batches in the same order. chainrule draws the initial
weights; PyTorch gets a copy through load_state_dict: the state_dict keys ('0.weight', '0.bias',
'2.weight', '2.bias') and the Linear layout (weight is (out, in)) are the same in both.
"""

from __future__ import annotations

import argparse
import os

import chainrule as cr

STEPS = 20
BATCH_SIZE = 64
LR = 0.01
MOMENTUM = 0.9


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--steps", type=int, default=STEPS)
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    parser.add_argument("--quick", action="store_true",
                        help="5 steps, for a smoke test (also: CHAINRULE_QUICK=1)")
    parser.add_argument("--out", default="examples/output",
                        help="accepted for uniformity with the other examples; nothing is drawn")
    args = parser.parse_args(argv)
    if args.quick or os.environ.get("CHAINRULE_QUICK") == "1":
        args.quick, args.steps = True, 5
    return args


def make_batches(steps, dtype):
    """``steps`` batches of the seed data: inputs (64, 2) ~ N(0, 1), targets z = 5a^2 + 3b^2."""
    generator = cr.random.default_generator()
    batches = []
    for _ in range(steps):
        ab = generator.standard_normal((BATCH_SIZE, 2))
        z = 5 * ab[:, :1] ** 2 + 3 * ab[:, 1:] ** 2
        batches.append((ab.astype(dtype), z.astype(dtype)))
    return batches


def train_chainrule(batches, dtype):
    from chainrule import nn, optim

    model = nn.Sequential(nn.Linear(2, 10, dtype=dtype), nn.Sigmoid(), nn.Linear(10, 1, dtype=dtype))
    initial_weights = {name: value.copy() for name, value in model.state_dict().items()}
    optimizer = optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    loss_fn = nn.MSELoss()
    losses = []
    for inputs, targets in batches:
        loss = loss_fn(model(cr.tensor(inputs)), cr.tensor(targets))
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
    return initial_weights, losses


def train_torch(batches, initial_weights, dtype):
    import torch
    from torch import nn, optim

    torch_dtype = getattr(torch, dtype)
    model = nn.Sequential(nn.Linear(2, 10, dtype=torch_dtype), nn.Sigmoid(),
                          nn.Linear(10, 1, dtype=torch_dtype))
    model.load_state_dict({name: torch.from_numpy(value) for name, value in initial_weights.items()})
    optimizer = optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    loss_fn = nn.MSELoss()
    losses = []
    for inputs, targets in batches:
        loss = loss_fn(model(torch.from_numpy(inputs)), torch.from_numpy(targets))
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
    return losses


def main(argv=None):
    args = parse_args(argv)
    cr.manual_seed(0)
    batches = make_batches(args.steps, args.dtype)
    initial_weights, chainrule_losses = train_chainrule(batches, args.dtype)
    print(f"2-10-1 sigmoid network, MSE, SGD(lr={LR}, momentum={MOMENTUM}), batches of "
          f"{BATCH_SIZE}, {args.dtype}, the same initial weights in both")
    try:
        torch_losses = train_torch(batches, initial_weights, args.dtype)
    except ImportError:
        print("PyTorch is not installed: only chainrule's losses are shown "
              "(pip install torch==2.13.0 for the comparison).")
        torch_losses = [None] * len(chainrule_losses)

    print(f"{'step':>4}  {'chainrule loss':>16}  {'PyTorch loss':>16}  {'relative difference':>19}")
    worst = 0.0
    for step, (ours, theirs) in enumerate(zip(chainrule_losses, torch_losses), start=1):
        if theirs is None:
            print(f"{step:>4}  {ours:>16.8f}  {'not installed':>16}")
            continue
        relative = abs(ours - theirs) / max(abs(theirs), 1e-30)
        worst = max(worst, relative)
        print(f"{step:>4}  {ours:>16.8f}  {theirs:>16.8f}  {relative:>19.2e}")
    if torch_losses[0] is not None:
        print(f"largest relative difference over {len(chainrule_losses)} steps: {worst:.2e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
