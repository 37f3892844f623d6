"""Three interleaved spirals: a small MLP learns to tell them apart, and a picture shows how.

    python examples/spiral.py            # 200 epochs, panels at several epochs (a few seconds)
    python examples/spiral.py --quick    # 10 epochs, for the smoke test

No straight line separates the three arms, so the network has to bend its decision boundary around
them. A callback records the network's prediction on a grid of points at chosen epochs; the
picture spiral_boundary.png (in --out) shows those snapshots side by side: first nearly straight
cuts, then the boundary winding in along the arms.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

import chainrule as cr
from chainrule import nn, optim
from chainrule.training.callbacks import Callback
from chainrule.data import DataLoader, TensorDataset, train_val_split
from chainrule.training.loop import fit

POINTS_PER_CLASS = 300
CLASSES = 3
HIDDEN = 64
EPOCHS = 200
LR = 0.005
BATCH_SIZE = 64
SEED = 0
SNAPSHOT_FRACTIONS = (0.005, 0.025, 0.1, 0.25, 0.5, 1.0)  # of the epochs, rounded up to >= 1


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--lr", type=float, default=LR)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--quick", action="store_true",
                        help="10 epochs, for a smoke test (also: CHAINRULE_QUICK=1)")
    parser.add_argument("--out", default="examples/output", help="folder for the picture")
    args = parser.parse_args(argv)
    if args.quick or os.environ.get("CHAINRULE_QUICK") == "1":
        args.quick, args.epochs = True, 10
    return args


def make_spiral(points_per_class, classes, generator):
    """Points on ``classes`` spiral arms with a little noise: X (n, 2) float32, y (n,) int64.

    Arm k, point i: radius r = i / points_per_class (0 to 1), angle t = 3 pi r + 2 pi k / classes +
    noise, so each arm turns one and a half times; (x1, x2) = (r sin t, r cos t).
    """
    radius = np.tile(np.linspace(0.0, 1.0, points_per_class), classes)
    labels = np.repeat(np.arange(classes), points_per_class)
    angle = 3 * np.pi * radius + 2 * np.pi * labels / classes
    angle = angle + 0.2 * generator.standard_normal(radius.shape)
    points = np.stack([radius * np.sin(angle), radius * np.cos(angle)], axis=1)
    return points.astype(np.float32), labels.astype(np.int64)


class BoundarySnapshots(Callback):
    """After chosen epochs, the predicted class on a grid (and the validation accuracy)."""

    def __init__(self, epochs, grid_points, val_data):
        self.epochs = set(epochs)
        self.grid_points = grid_points
        self.val_data = val_data
        self.snapshots = []  # (epoch, predicted classes on the grid, validation accuracy)

    def on_epoch_end(self, state):
        if state.epoch in self.epochs:
            with cr.no_grad():
                grid_classes = state.model(cr.tensor(self.grid_points)).numpy().argmax(axis=1)
                val_classes = state.model(cr.tensor(self.val_data[0])).numpy().argmax(axis=1)
            accuracy = float(np.mean(val_classes == self.val_data[1]))
            self.snapshots.append((state.epoch, grid_classes, accuracy))


def snapshot_epochs(epochs):
    return sorted({max(1, int(np.ceil(f * epochs))) for f in SNAPSHOT_FRACTIONS})


def save_picture(snapshots, grid_shape, extent, points, labels, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap

    colors = ["#1f77b4", "#ff7f0e", "#2ca02c"]
    light = ListedColormap(["#c6dbef", "#fdd0a2", "#c7e9c0"])
    columns = min(3, len(snapshots))
    rows = int(np.ceil(len(snapshots) / columns))
    fig, axes = plt.subplots(rows, columns, figsize=(3.0 * columns, 3.1 * rows), dpi=80,
                             squeeze=False)
    for ax in axes.ravel()[len(snapshots):]:
        ax.axis("off")
    for ax, (epoch, grid_classes, accuracy) in zip(axes.ravel(), snapshots):
        ax.imshow(grid_classes.reshape(grid_shape), origin="lower", cmap=light,
                  extent=(-extent, extent, -extent, extent), vmin=0, vmax=2, interpolation="nearest")
        for k, color in enumerate(colors):
            chosen = labels == k
            ax.scatter(points[chosen, 0], points[chosen, 1], s=4, color=color)
        ax.set_title(f"epoch {epoch}: val accuracy {accuracy:.0%}", fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle("Decision regions of a 2-64-64-3 MLP while it learns", fontsize=11)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(argv=None):
    args = parse_args(argv)
    cr.manual_seed(args.seed)
    points, labels = make_spiral(POINTS_PER_CLASS, CLASSES, cr.random.default_generator())
    train, val = train_val_split(points, labels, val_fraction=0.2)

    model = nn.Sequential(nn.Linear(2, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, HIDDEN), nn.ReLU(),
                          nn.Linear(HIDDEN, CLASSES))
    optimizer = optim.Adam(model.parameters(), lr=args.lr)
    loader = DataLoader(TensorDataset(*train), batch_size=BATCH_SIZE, shuffle=True)

    extent, resolution = 1.2, 150
    axis = np.linspace(-extent, extent, resolution, dtype=np.float32)
    grid = np.stack([g.ravel() for g in np.meshgrid(axis, axis)], axis=1)
    snapshots = BoundarySnapshots(snapshot_epochs(args.epochs), grid, val)

    every = max(1, args.epochs // 10)
    history = fit(model, nn.CrossEntropyLoss(), optimizer, loader, val_data=val,
                  epochs=args.epochs, callbacks=[snapshots],
                  log=lambda line: print(line) if int(line.split(":")[0].split()[1]) % every == 0
                  else None)
    final_accuracy = snapshots.snapshots[-1][2]
    print(f"spiral: {len(train[0])} training points, {len(val[0])} validation points; final "
          f"validation loss {history.val_loss[-1]:.4f}, accuracy {final_accuracy:.1%}")

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "spiral_boundary.png"
    try:
        save_picture(snapshots.snapshots, (resolution, resolution), extent, *train, path)
        print(f"saved {path}")
    except ImportError:
        print("matplotlib is not installed: no picture.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
