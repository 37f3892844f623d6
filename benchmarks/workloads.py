"""The workloads every implementation trains, and the data and initial weights they all share.

Two networks, both trained by plain minibatch SGD on float32 data:

    seed   2-10-1, sigmoid hidden layer, MSE loss, SGD lr 0.01 (no momentum)
           inputs a, b ~ N(0, 1), target 5 a^2 + 3 b^2: a 41-parameter network where a step is
           almost all per-call overhead
    wide   784-512-512-10, ReLU hidden layers, softmax cross-entropy, SGD lr 0.01, momentum 0.9
           inputs: ten Gaussian clusters in 784 dims (label = cluster): a step is almost all
           matrix products

Every implementation gets the same arrays from ``make_problem`` (same data, same batches in the
same order, same initial weights), so after the same number of steps they should reach the same
validation quality up to float32 rounding: the quality column is how the benchmark catches a fast
but wrong run.

Weights use PyTorch's Linear layout and default init: W has shape (out, in), b shape (out,), both
drawn from U(-1/sqrt(in), 1/sqrt(in)). Implementations with another layout (scikit-learn keeps
(in, out)) transpose a copy.

Only NumPy here: the data generator is NumPy's, seeded, so each child process rebuilds exactly the
same arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DTYPE = np.float32


@dataclass(frozen=True)
class Workload:
    """One network and its training settings."""

    name: str
    sizes: tuple  # layer widths, input first: (2, 10, 1)
    activation: str  # hidden activation: "sigmoid" or "relu"
    loss: str  # "mse" (regression, target shape (N, 1)) or "cross_entropy" (int labels (N,))
    lr: float
    momentum: float
    n_train: int
    n_val: int


WORKLOADS = {
    "seed": Workload("seed", (2, 10, 1), "sigmoid", "mse", 0.01, 0.0, n_train=16_000, n_val=2_000),
    "wide": Workload(
        "wide", (784, 512, 512, 10), "relu", "cross_entropy", 0.01, 0.9, n_train=4_096, n_val=1_024
    ),
}


@dataclass
class Problem:
    """Everything an implementation needs: the workload, its data, batches and initial weights.

    ``batches`` is a list of (x, y) views into the training arrays, taken in order; step i of
    every implementation trains on ``batches[i % len(batches)]``.
    """

    workload: Workload
    batch: int
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    weights: list  # [(W (out, in), b (out,)), ...] float32, layer by layer

    @property
    def n_batches(self) -> int:
        return self.x_train.shape[0] // self.batch

    def batch_slice(self, i: int) -> slice:
        """Rows of the training set used by step i."""
        start = (i % self.n_batches) * self.batch
        return slice(start, start + self.batch)

    def batches(self) -> list:
        return [
            (self.x_train[self.batch_slice(i)], self.y_train[self.batch_slice(i)])
            for i in range(self.n_batches)
        ]


def _seed_data(rng, n):
    """a, b ~ N(0, 1); target 5 a^2 + 3 b^2, shape (n, 1)."""
    x = rng.standard_normal((n, 2)).astype(DTYPE)
    y = (5 * x[:, :1] ** 2 + 3 * x[:, 1:] ** 2).astype(DTYPE)
    return x, y


def _cluster_data(rng, n, n_features, n_classes, centers):
    """label ~ uniform over the classes; x = centers[label] + N(0, 1) noise."""
    labels = rng.integers(0, n_classes, size=n)
    x = (centers[labels] + rng.standard_normal((n, n_features))).astype(DTYPE)
    return x, labels.astype(np.int64)


def init_weights(sizes, rng) -> list:
    """PyTorch's Linear default: W (out, in) and b (out,) from U(-1/sqrt(in), 1/sqrt(in))."""
    weights = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        bound = 1.0 / np.sqrt(fan_in)
        w = rng.uniform(-bound, bound, size=(fan_out, fan_in)).astype(DTYPE)
        b = rng.uniform(-bound, bound, size=(fan_out,)).astype(DTYPE)
        weights.append((w, b))
    return weights


def make_problem(name: str, batch: int, seed: int = 0, n_train: int | None = None) -> Problem:
    """Build the data, batches and initial weights of workload ``name`` (the same in every process).

    ``n_train`` overrides the workload's training-set size (quick mode uses less data); it is
    rounded down to whole batches, with at least one batch.
    """
    workload = WORKLOADS[name]
    rng = np.random.default_rng(seed)
    n_train = workload.n_train if n_train is None else n_train
    n_train = max(batch, n_train - n_train % batch)
    n = n_train + workload.n_val
    if workload.loss == "mse":
        x, y = _seed_data(rng, n)
    else:
        n_features, n_classes = workload.sizes[0], workload.sizes[-1]
        # Cluster centres 0.15 apart per feature: separable, but it takes a few hundred steps.
        centers = 0.15 * rng.standard_normal((n_classes, n_features))
        x, y = _cluster_data(rng, n, n_features, n_classes, centers)
    weights = init_weights(workload.sizes, np.random.default_rng(seed + 1))
    return Problem(
        workload=workload,
        batch=batch,
        x_train=x[:n_train],
        y_train=y[:n_train],
        x_val=x[n_train:],
        y_val=y[n_train:],
        weights=weights,
    )


def quality_from_outputs(problem: Problem, outputs: np.ndarray) -> dict:
    """Validation quality from the network's outputs on ``problem.x_val``, computed the same way
    for every implementation: val MSE for regression (not halved), val cross-entropy and accuracy
    for classification."""
    outputs = np.asarray(outputs, dtype=np.float64)
    if problem.workload.loss == "mse":
        diff = outputs.reshape(problem.y_val.shape) - problem.y_val
        return {"val_mse": float(np.mean(diff * diff))}
    shifted = outputs - outputs.max(axis=1, keepdims=True)
    log_prob = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    rows = np.arange(outputs.shape[0])
    return {
        "val_loss": float(-log_prob[rows, problem.y_val].mean()),
        "val_accuracy": float(np.mean(outputs.argmax(axis=1) == problem.y_val)),
    }
