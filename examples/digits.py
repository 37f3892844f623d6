"""Handwritten digits (scikit-learn's bundled 8x8 images, no download) with a chainrule MLP,
beside scikit-learn's MLPClassifier and a PyTorch twin trained the same way.

    python examples/digits.py                 # full run, prints a table, saves a confusion matrix
    python examples/digits.py --quick         # a few epochs, for the smoke test

What "the same way" means here:
- the same split (75% train / 25% test, seeded), standardised with the training part's statistics;
- the same network: 64 -> 64 -> ReLU -> 10 (logits), softmax cross-entropy;
- the same initial weights: chainrule draws them, PyTorch and scikit-learn get copies
  (scikit-learn stores weights as (in, out), so they are transposed);
- the same optimizer (Adam, lr 1e-3, betas 0.9/0.999, eps 1e-8, no weight decay), epochs and batch
  size. What cannot be shared is the shuffling: scikit-learn draws its own batch order; PyTorch
  here is fed chainrule's batches, so its run matches chainrule's step for step.

Training time is measured around the training loop only (no data loading or evaluation), on the
same machine, one after the other. Every library gets the same number of CPU threads (--threads,
default 1: PyTorch via torch.set_num_threads, NumPy's BLAS via threadpoolctl when installed). On a
busy two-core machine, PyTorch's default of one thread per core made its run about 25 times slower
(52 s against 2.1 s: threads waiting on each other), which says nothing about the libraries. The
numbers are whatever this machine gives; nothing else is tuned for the comparison.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from pathlib import Path

import numpy as np

import chainrule as cr
from chainrule import nn, optim
from chainrule.data import DataLoader, Standardizer, TensorDataset, train_val_split

HIDDEN = 64
LR = 1e-3
BATCH_SIZE = 32
EPOCHS = 30
SEED = 0


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)
    parser.add_argument("--lr", type=float, default=LR)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--threads", type=int, default=1,
                        help="CPU threads for every library (default 1)")
    parser.add_argument("--quick", action="store_true",
                        help="3 epochs, for a smoke test (also: CHAINRULE_QUICK=1)")
    parser.add_argument("--out", default="examples/output", help="folder for the pictures")
    args = parser.parse_args(argv)
    if args.quick or os.environ.get("CHAINRULE_QUICK") == "1":
        args.quick, args.epochs = True, 3
    return args


def load_data(seed):
    """Standardised digits split 75/25: ((X_train, y_train), (X_test, y_test)), float32 / int64."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    X = digits.data.astype(np.float32)
    y = digits.target.astype(np.int64)
    cr.manual_seed(seed)
    (X_train, y_train), (X_test, y_test) = train_val_split(X, y, val_fraction=0.25)
    scaler = Standardizer().fit(X_train)
    return (scaler.transform(X_train), y_train), (scaler.transform(X_test), y_test)


# ------------------------------------------------------------------------------------------------
# chainrule
# ------------------------------------------------------------------------------------------------


def build_chainrule_model(n_features, n_classes):
    return nn.Sequential(nn.Linear(n_features, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, n_classes))


def train_chainrule(model, train, epochs, batch_size, lr):
    """Adam on softmax cross-entropy, the plain loop; returns (seconds, the batches it used)."""
    optimizer = optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    loader = DataLoader(TensorDataset(*train), batch_size=batch_size, shuffle=True)
    used_batches = []  # the order, so the PyTorch twin can see the very same batches
    started = time.perf_counter()
    for _ in range(epochs):
        order = []
        for inputs, targets in loader:
            loss = loss_fn(model(inputs), targets)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            order.append((inputs.numpy(), targets.numpy()))
        used_batches.append(order)
    seconds = time.perf_counter() - started
    return seconds, used_batches


def predict_chainrule(model, X):
    with cr.no_grad():
        return model(cr.tensor(X)).numpy().argmax(axis=1)


# ------------------------------------------------------------------------------------------------
# PyTorch twin
# ------------------------------------------------------------------------------------------------


def train_torch(initial_state, used_batches, lr, threads):
    """The same network in PyTorch from the same weights, on chainrule's batches, in order.

    Returns (seconds, predict function). The batches are converted to torch tensors before the
    clock starts, so the time is the training alone.
    """
    import torch

    torch.set_num_threads(threads)
    n_features, n_classes = initial_state["0.weight"].shape[1], initial_state["2.weight"].shape[0]
    model = torch.nn.Sequential(torch.nn.Linear(n_features, HIDDEN), torch.nn.ReLU(),
                                torch.nn.Linear(HIDDEN, n_classes))
    model.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in initial_state.items()})
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = torch.nn.CrossEntropyLoss()
    batches = [[(torch.from_numpy(x), torch.from_numpy(t)) for x, t in epoch]
               for epoch in used_batches]
    started = time.perf_counter()
    for epoch in batches:
        for inputs, targets in epoch:
            loss = loss_fn(model(inputs), targets)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
    seconds = time.perf_counter() - started

    def predict(X):
        with torch.no_grad():
            return model(torch.from_numpy(X)).argmax(dim=1).numpy()

    return seconds, predict


# ------------------------------------------------------------------------------------------------
# scikit-learn
# ------------------------------------------------------------------------------------------------


def train_sklearn(initial_state, train, epochs, batch_size, lr, seed):
    """MLPClassifier with the same layers, init, Adam settings, epochs and batch size.

    scikit-learn has no argument for initial weights, so a warm start is used: one fit call with
    max_iter=1 builds its internal state, then its weights are replaced with chainrule's initial
    ones (transposed: scikit-learn stores (in, out)) and the real fit starts from them, with a fresh
    Adam. alpha=0 switches off its L2 penalty; n_iter_no_change=epochs stops it from ending early.
    Its softmax cross-entropy and Adam are the same algorithms (Adam puts the bias correction into
    the step size, which is the same update up to where eps sits).
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    clf = MLPClassifier(hidden_layer_sizes=(HIDDEN,), activation="relu", solver="adam",
                        alpha=0.0, batch_size=batch_size, learning_rate_init=lr, max_iter=1,
                        shuffle=True, random_state=seed, tol=0.0, n_iter_no_change=max(epochs, 1),
                        warm_start=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(*train)  # builds the internal state; its weights are replaced next
        clf.coefs_ = [np.array(initial_state["0.weight"]).T.copy(),
                      np.array(initial_state["2.weight"]).T.copy()]
        clf.intercepts_ = [np.array(initial_state["0.bias"]).copy(),
                           np.array(initial_state["2.bias"]).copy()]
        clf.max_iter = epochs
        clf.n_iter_ = 0
        clf.t_ = 0
        clf.loss_curve_ = []
        clf.best_loss_ = np.inf
        clf._no_improvement_count = 0
        started = time.perf_counter()
        clf.fit(*train)
        seconds = time.perf_counter() - started
    return seconds, clf.predict


# ------------------------------------------------------------------------------------------------
# report
# ------------------------------------------------------------------------------------------------


def confusion_matrix(y_true, y_pred, n_classes):
    matrix = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(matrix, (y_true, y_pred), 1)
    return matrix


def save_confusion_matrix(matrix, accuracy, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.6, 4.2), dpi=100)
    ax.imshow(matrix, cmap="Blues")
    n = matrix.shape[0]
    for i in range(n):
        for j in range(n):
            if matrix[i, j]:
                color = "white" if matrix[i, j] > matrix.max() / 2 else "black"
                ax.text(j, i, str(matrix[i, j]), ha="center", va="center", fontsize=8, color=color)
    ax.set_xticks(range(n))
    ax.set_yticks(range(n))
    ax.set_xlabel("predicted digit")
    ax.set_ylabel("true digit")
    ax.set_title(f"chainrule MLP on digits: test accuracy {accuracy:.1%}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def limit_blas_threads(threads):
    """NumPy's BLAS (used by chainrule and scikit-learn) to ``threads`` threads, if possible."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return None
    return threadpool_limits(limits=threads, user_api="blas")


def main(argv=None):
    args = parse_args(argv)
    limit_blas_threads(args.threads)
    try:
        train, test = load_data(args.seed)
    except ImportError:
        print("digits: this example needs scikit-learn for its bundled data set "
              "(pip install scikit-learn).")
        return 1
    n_features, n_classes = train[0].shape[1], 10
    print(f"digits: {len(train[0])} training and {len(test[0])} test images, {n_features} pixels, "
          f"{n_classes} classes; MLP {n_features}-{HIDDEN}-{n_classes} (ReLU), Adam lr {args.lr}, "
          f"batch size {args.batch_size}, {args.epochs} epochs, {args.threads} thread(s) each")

    cr.manual_seed(args.seed)
    model = build_chainrule_model(n_features, n_classes)
    initial_state = {k: np.array(v) for k, v in model.state_dict().items()}
    rows = []

    seconds, used_batches = train_chainrule(model, train, args.epochs, args.batch_size, args.lr)
    predictions = predict_chainrule(model, test[0])
    chainrule_accuracy = float(np.mean(predictions == test[1]))
    rows.append(("chainrule", chainrule_accuracy, seconds))

    try:
        seconds, predict = train_sklearn(initial_state, train, args.epochs, args.batch_size,
                                         args.lr, args.seed)
        rows.append(("scikit-learn MLPClassifier", float(np.mean(predict(test[0]) == test[1])),
                     seconds))
    except ImportError:
        rows.append(("scikit-learn MLPClassifier", None, None))

    try:
        seconds, predict = train_torch(initial_state, used_batches, args.lr, args.threads)
        rows.append(("PyTorch twin", float(np.mean(predict(test[0]) == test[1])), seconds))
    except ImportError:
        rows.append(("PyTorch twin", None, None))

    print()
    print("| library | test accuracy | training time |")
    print("|---|---|---|")
    for name, accuracy, seconds in rows:
        if accuracy is None:
            print(f"| {name} | not installed | not installed |")
        else:
            print(f"| {name} | {accuracy:.2%} | {seconds:.2f} s |")

    others = [r for r in rows[1:] if r[1] is not None]
    if others:
        best = max(r[1] for r in others)
        gap = 100 * (best - chainrule_accuracy)
        verdict = "within" if gap <= 1.0 else "NOT within"
        print(f"\nchainrule accuracy is {verdict} 1 point of the best other "
              f"({gap:+.2f} points behind)." if gap > 0 else
              f"\nchainrule accuracy is the best or tied ({-gap:.2f} points ahead).")
        slower = [name for name, _, s in others if s <= rows[0][2]]
        if slower:
            print(f"chainrule is NOT faster than: {', '.join(slower)}.")
        else:
            print("chainrule trained faster than every other library here.")

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "digits_confusion.png"
    try:
        save_confusion_matrix(confusion_matrix(test[1], predictions, n_classes), chainrule_accuracy,
                              path)
        print(f"saved {path}")
    except ImportError:
        print("matplotlib is not installed: no confusion-matrix picture.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
