"""A small CNN on scikit-learn's 8x8 digits, beside the MLP of examples/digits.py and a PyTorch twin
of the CNN trained step for step from the same weights.

    python examples/cnn_digits.py             # full run: accuracy table, filters, confusion matrix
    python examples/cnn_digits.py --quick     # a few epochs, for the smoke test

The CNN: conv 3x3 (1 -> 16, padding 1) -> BatchNorm -> ReLU -> max-pool 2 -> conv 3x3 (16 -> 32,
padding 1) -> ReLU -> max-pool 2 -> flatten (32 * 2 * 2) -> linear -> 10 logits; Adam on softmax
cross-entropy. The MLP is examples/digits.py's (64 -> 64 -> ReLU -> 10) on the same split.

Both libraries run in float64 here, so that the side-by-side comparison can be exact: PyTorch gets
chainrule's initial weights and chainrule's batches, in order, and the script prints the largest
relative difference between the two losses over every training step (rounding only: about 1e-15).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

import chainrule as cr
from chainrule import nn, optim
from chainrule.data import DataLoader, TensorDataset

sys.path.insert(0, str(Path(__file__).resolve().parent))
import digits  # noqa: E402  (the MLP example: its data split and its MLP)

LR = 1e-3
BATCH_SIZE = 32
EPOCHS = 30  # as examples/digits.py
SEED = 0


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)
    parser.add_argument("--lr", type=float, default=LR)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--quick", action="store_true",
                        help="3 epochs, for a smoke test (also: CHAINRULE_QUICK=1)")
    parser.add_argument("--out", default="examples/output", help="folder for the pictures")
    args = parser.parse_args(argv)
    if args.quick or os.environ.get("CHAINRULE_QUICK") == "1":
        args.quick, args.epochs = True, 3
    return args


def build_cnn(lib):
    """The CNN in chainrule (lib = chainrule) or PyTorch (lib = torch): the same layers, names and
    state_dict keys."""
    m = lib.nn
    return m.Sequential(
        m.Conv2d(1, 16, 3, padding=1), m.BatchNorm2d(16), m.ReLU(), m.MaxPool2d(2),
        m.Conv2d(16, 32, 3, padding=1), m.ReLU(), m.MaxPool2d(2),
        m.Flatten(), m.Linear(32 * 2 * 2, 10),
    )


def as_images(X):
    return X.reshape(-1, 1, 8, 8).astype(np.float64)


def train_chainrule(model, train, epochs, batch_size, lr):
    """Adam on cross-entropy; returns (losses per step, the batches used, seconds)."""
    optimizer = optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    loader = DataLoader(TensorDataset(as_images(train[0]), train[1]), batch_size=batch_size,
                        shuffle=True)
    losses, batches = [], []
    started = time.perf_counter()
    for epoch in range(1, epochs + 1):
        model.train()
        for images, labels in loader:
            loss = loss_fn(model(images), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            batches.append((images.numpy(), labels.numpy()))
        print(f"epoch {epoch}: train loss {np.mean(losses[-len(loader):]):.4f}")
    return losses, batches, time.perf_counter() - started


def train_torch(initial_state, batches, lr):
    """The same CNN in PyTorch, from the same weights, on chainrule's batches in order."""
    import torch

    torch.set_num_threads(1)
    model = build_cnn(torch).double()
    model.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in initial_state.items()})
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = torch.nn.CrossEntropyLoss()
    losses = []
    started = time.perf_counter()
    for images, labels in batches:
        loss = loss_fn(model(torch.from_numpy(images)), torch.from_numpy(labels))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses, time.perf_counter() - started


def accuracy(model, X, y):
    model.eval()
    with cr.no_grad():
        predictions = model(cr.tensor(X)).numpy().argmax(axis=1)
    return float(np.mean(predictions == y)), predictions


def save_filters(weight, path):
    """The first layer's 3x3 filters as small grey images."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = weight.shape[0]
    fig, axes = plt.subplots(2, n // 2, figsize=(n // 2 * 0.9, 2.2), dpi=100)
    for k, ax in enumerate(axes.ravel()):
        ax.imshow(weight[k, 0], cmap="gray")
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle("learned 3x3 filters of the first convolution", fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def save_confusion_matrix(matrix, test_accuracy, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.6, 4.2), dpi=100)
    ax.imshow(matrix, cmap="Blues")
    for (i, j), count in np.ndenumerate(matrix):
        if count:
            color = "white" if count > matrix.max() / 2 else "black"
            ax.text(j, i, str(count), ha="center", va="center", fontsize=8, color=color)
    ax.set_xticks(range(10))
    ax.set_yticks(range(10))
    ax.set_xlabel("predicted digit")
    ax.set_ylabel("true digit")
    ax.set_title(f"chainrule CNN on digits: test accuracy {test_accuracy:.1%}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(argv=None):
    args = parse_args(argv)
    digits.limit_blas_threads(1)
    try:
        train, test = digits.load_data(args.seed)
    except ImportError:
        print("cnn_digits: this example needs scikit-learn for its data set (pip install scikit-learn).")
        return 1
    print(f"cnn_digits: {len(train[0])} training and {len(test[0])} test images (1 x 8 x 8); "
          f"Adam lr {args.lr}, batch size {args.batch_size}, {args.epochs} epochs, float64")

    cr.manual_seed(args.seed)
    cnn = build_cnn(cr).double()
    print(f"CNN with {sum(p.numel() for p in cnn.parameters())} parameters:\n{cnn}")
    initial_state = {k: np.array(v) for k, v in cnn.state_dict().items()}
    losses, batches, cnn_seconds = train_chainrule(cnn, train, args.epochs, args.batch_size, args.lr)
    cnn_accuracy, predictions = accuracy(cnn, as_images(test[0]), test[1])

    cr.manual_seed(args.seed)  # the MLP of examples/digits.py, same split, same epochs
    mlp = digits.build_chainrule_model(64, 10)
    digits.train_chainrule(mlp, train, args.epochs, args.batch_size, args.lr)
    mlp_accuracy = float(np.mean(digits.predict_chainrule(mlp, test[0]) == test[1]))

    print()
    print("| model | test accuracy |")
    print("|---|---|")
    print(f"| chainrule CNN | {cnn_accuracy:.2%} |")
    print(f"| chainrule MLP (examples/digits.py) | {mlp_accuracy:.2%} |")
    verdict = "beats" if cnn_accuracy > mlp_accuracy else "does NOT beat"
    print(f"\nthe CNN {verdict} the MLP by {100 * (cnn_accuracy - mlp_accuracy):+.2f} points.")

    try:
        torch_losses, torch_seconds = train_torch(initial_state, batches, args.lr)
        gap = max(abs(a - b) / max(abs(b), 1e-300) for a, b in zip(losses, torch_losses))
        print(f"PyTorch twin: {len(torch_losses)} steps from the same weights; largest relative "
              f"loss difference: {gap:.3g}")
        print(f"training time, 1 thread: chainrule {cnn_seconds:.2f} s, PyTorch {torch_seconds:.2f} s")
    except ImportError:
        print("PyTorch is not installed: no side-by-side run.")

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    try:
        save_filters(cnn[0].weight.numpy(), out / "cnn_digits_filters.png")
        save_confusion_matrix(digits.confusion_matrix(test[1], predictions, 10), cnn_accuracy,
                              out / "cnn_digits_confusion.png")
        print(f"saved {out / 'cnn_digits_filters.png'} and {out / 'cnn_digits_confusion.png'}")
    except ImportError:
        print("matplotlib is not installed: no pictures.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
