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
from chainrule.apps import plot
from chainrule.data import DataLoader, TensorDataset, train_val_split
from chainrule.training.loop import fit

SAMPLES = 100_000
HIDDEN = 10
EPOCHS = 50
LR = 0.01
BATCH_SIZE = 500
SEED = 0


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
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


def save_pictures(model, history, train_inputs, out: Path):
    """The loss curve and the learned surface beside the target, with chainrule.apps.plot."""

    def model_fn(points):
        with cr.no_grad():
            return model(cr.tensor(points.astype(np.float32))).numpy().ravel()

    plot.loss_curves(history, out / "seed_loss.png", log_scale=True, ylabel="MSE",
                     title=f"2-10-1 sigmoid network, plain SGD: val MSE {history.val_loss[-1]:.2f}")
    plot.surface_comparison(lambda points: target(points[:, 0], points[:, 1]), model_fn,
                            out / "seed_surface.png", names=("a", "b"),
                            title="z = 5a² + 3b²: target, learned, and their difference",
                            train_points=train_inputs[:2000])


def main(argv=None):
    args = parse_args(argv)
    cr.manual_seed(args.seed)
    inputs, targets = make_data(args.samples)
    (X_train, y_train), val_data = train_val_split(inputs, targets, val_fraction=0.3)

    model = nn.Sequential(nn.Linear(2, HIDDEN), nn.Sigmoid(), nn.Linear(HIDDEN, 1))
    n_parameters = sum(p.numpy().size for p in model.parameters())
    print(f"seed regression: {args.samples} samples (70/30 split), network 2-{HIDDEN}-1 with "
          f"{n_parameters} parameters, SGD lr {args.lr}, batch size {args.batch_size}")
    optimizer = optim.SGD(model.parameters(), lr=args.lr)
    loader = DataLoader(TensorDataset(X_train, y_train), batch_size=args.batch_size, shuffle=True)

    history = fit(model, nn.MSELoss(), optimizer, loader, val_data=val_data, epochs=args.epochs)
    print(f"final validation MSE: {history.val_loss[-1]:.4f} (the variance of z is "
          f"{float(val_data[1].var()):.1f}: a network that learned nothing scores that)")

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if plot.available():
        save_pictures(model, history, X_train, out)
        print(f"saved {out / 'seed_loss.png'} and {out / 'seed_surface.png'}")
    else:
        print(f"matplotlib is not installed: no pictures ({plot.INSTALL_HINT}).")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
