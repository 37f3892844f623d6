"""The seed regression, written with the library: a 2-10-1 sigmoid network learns z = 5a^2 + 3b^2.

    python examples/seed_regression.py           # 100,000 samples, 50 epochs (about 10 s)
    python examples/seed_regression.py --quick   # 5 epochs (the smoke test)

This is the experiment chainrule grew from (see docs/backprop_by_hand.md): a, b ~ N(0, 1),
100,000 samples, 70/30 train/validation split, mean squared error, plain SGD, batches of 500.
With a correct backward it reaches a validation MSE near 3; the hand-derived version that started
it all stuck near 56-68.

Pictures (in --out, default examples/output/): seed_loss.png (train and validation MSE per epoch)
and seed_surface.png (the learned surface beside the target, and their difference).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

import chainrule as cr
from chainrule import nn, optim
from chainrule.data import DataLoader, TensorDataset, train_val_split
from chainrule.train import fit

SAMPLES = 100_000
HIDDEN = 10
EPOCHS = 50
LR = 0.01
BATCH_SIZE = 500
SEED = 0


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=SAMPLES)
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--lr", type=float, default=LR)
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--quick", action="store_true",
                        help="5 epochs, for a smoke test (also: CHAINRULE_QUICK=1)")
    parser.add_argument("--out", default="examples/output", help="folder for the pictures")
    args = parser.parse_args(argv)
    if args.quick or os.environ.get("CHAINRULE_QUICK") == "1":
        args.quick, args.epochs = True, 5
    return args


def target(a, b):
    return 5 * a**2 + 3 * b**2


def make_data(samples):
    """(inputs (n, 2), targets (n, 1)) as float32, drawn from chainrule's seeded generator."""
    ab = cr.random.default_generator().standard_normal((samples, 2))
    z = target(ab[:, :1], ab[:, 1:])
    return ab.astype(np.float32), z.astype(np.float32)


def save_pictures(model, history, out: Path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker  # noqa: F401  (matplotlib.ticker below)

    # the loss curve
    fig, ax = plt.subplots(figsize=(5.5, 3.6), dpi=100)
    ax.plot(history.epoch, history.train_loss, label="train")
    ax.plot(history.epoch, history.val_loss, label="validation")
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
    ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_yticks([1, 2, 3, 5, 10, 20, 50, 100])
    ax.set_ylim(min(min(history.train_loss), min(history.val_loss)) * 0.8,
                max(max(history.train_loss), max(history.val_loss)) * 1.2)
    ax.set_xlabel("epoch")
    ax.set_ylabel("MSE (log scale)")
    ax.set_title(f"2-10-1 sigmoid net, plain SGD: val MSE {history.val_loss[-1]:.2f}", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "seed_loss.png")
    plt.close(fig)

    # the learned surface beside the target, on a grid over [-3, 3]^2
    grid = np.linspace(-3, 3, 61, dtype=np.float32)
    a, b = np.meshgrid(grid, grid)
    with cr.no_grad():
        learned = model(cr.tensor(np.stack([a.ravel(), b.ravel()], axis=1))).data.reshape(a.shape)
    wanted = target(a, b)
    fig, axes = plt.subplots(1, 3, figsize=(10.5, 3.3), dpi=90)
    levels = np.arange(0, 75, 5)
    for ax, values, title in ((axes[0], wanted, "target 5a² + 3b²"),
                              (axes[1], learned, "learned by the network")):
        filled = ax.contourf(a, b, values, levels=levels, cmap="viridis", extend="both")
        ax.set_title(title, fontsize=10)
    fig.colorbar(filled, ax=axes[:2].tolist(), shrink=0.85, ticks=np.arange(0, 75, 10))
    difference = learned - wanted
    limit = 5 * np.ceil(float(np.abs(difference).max()) / 5)
    image = axes[2].contourf(a, b, difference, levels=np.linspace(-limit, limit, 17), cmap="RdBu_r")
    axes[2].set_title("learned - target", fontsize=10)
    fig.colorbar(image, ax=axes[2], shrink=0.85, ticks=np.linspace(-limit, limit, 7))
    # 95% of the N(0, I) training points lie inside radius sqrt(5.99) = 2.45
    angle = np.linspace(0, 2 * np.pi, 200)
    for ax in axes:
        ax.plot(2.45 * np.cos(angle), 2.45 * np.sin(angle), "w--" if ax is not axes[2] else "k--",
                linewidth=0.8)
        ax.set_xlabel("a")
        ax.set_aspect("equal")
    axes[2].text(0, -2.85, "dashed: 95% of the data inside", ha="center", fontsize=7)
    axes[0].set_ylabel("b")
    fig.savefig(out / "seed_surface.png", bbox_inches="tight")
    plt.close(fig)


def main(argv=None):
    args = parse_args(argv)
    cr.manual_seed(args.seed)
    inputs, targets = make_data(args.samples)
    (X_train, y_train), val_data = train_val_split(inputs, targets, val_fraction=0.3)

    model = nn.Sequential(nn.Linear(2, HIDDEN), nn.Sigmoid(), nn.Linear(HIDDEN, 1))
    n_parameters = sum(p.data.size for p in model.parameters())
    print(f"seed regression: {args.samples} samples (70/30 split), network 2-{HIDDEN}-1 with "
          f"{n_parameters} parameters, SGD lr {args.lr}, batch size {args.batch_size}")
    optimizer = optim.SGD(model.parameters(), lr=args.lr)
    loader = DataLoader(TensorDataset(X_train, y_train), batch_size=args.batch_size, shuffle=True)

    history = fit(model, nn.MSELoss(), optimizer, loader, val_data=val_data, epochs=args.epochs)
    print(f"final validation MSE: {history.val_loss[-1]:.4f} (the variance of z is "
          f"{float(val_data[1].var()):.1f}: a network that learned nothing scores that)")

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    try:
        save_pictures(model, history, out)
        print(f"saved {out / 'seed_loss.png'} and {out / 'seed_surface.png'}")
    except ImportError:
        print("matplotlib is not installed: no pictures.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
