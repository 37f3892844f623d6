"""The convolutional workloads: LeNet-style on 1x28x28 images and a small ResNet block on 3x32x32,
their data and shared initial weights.

    lenet   conv 5x5 (1 -> 6) -> ReLU -> max-pool 2 -> conv 5x5 (6 -> 16) -> ReLU -> max-pool 2
            -> flatten (16 * 4 * 4 = 256) -> Linear 120 -> ReLU -> Linear 84 -> ReLU -> Linear 10
            softmax cross-entropy, SGD lr 0.01, momentum 0.9, float32

    resnet  conv 3x3 (3 -> 16, padding 1, no bias) -> BatchNorm -> ReLU = h, then one residual block
            relu(BN(conv 3x3(relu(BN(conv 3x3(h))))) + h), global average pooling, Linear 16 -> 10;
            softmax cross-entropy, SGD lr 0.01, momentum 0.9, float32 (batch norm in training mode)

Data: ten classes, each a smooth random 28x28 pattern; an image is its class's pattern plus N(0, 1)
noise per pixel (2,048 training and 512 validation images). Every implementation gets the same
arrays, batches and initial weights from ``make_problem``, as in workloads.py, so after the same
steps they must reach the same validation quality (the benchmark's guard against a fast wrong run).

Weights use PyTorch's layouts and default init: conv W (out, in, 5, 5) and Linear W (out, in),
weights and biases from U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = in * 5 * 5 for a conv.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from workloads import Problem

DTYPE = np.float32


@dataclass(frozen=True)
class ConvWorkload:
    name: str
    loss: str
    lr: float
    momentum: float
    n_train: int
    n_val: int
    activation: str = "relu"


LENET = ConvWorkload("lenet", "cross_entropy", 0.01, 0.9, n_train=2_048, n_val=512)
RESNET = ConvWorkload("resnet", "cross_entropy", 0.01, 0.9, n_train=1_024, n_val=256)
WORKLOADS = {"lenet": LENET, "resnet": RESNET}
# (kind, weight shape): two convolutions, then three Linear layers
LAYERS = [("conv", (6, 1, 5, 5)), ("conv", (16, 6, 5, 5)), ("linear", (120, 256)),
          ("linear", (84, 120)), ("linear", (10, 84))]


def _patterns(rng, n_classes, size=28):
    """Smooth random images: white noise averaged over 5x5 neighbourhoods, then scaled to std 1."""
    noise = rng.standard_normal((n_classes, size + 4, size + 4))
    smooth = sum(noise[:, i:i + size, j:j + size] for i in range(5) for j in range(5)) / 5
    return smooth / smooth.std()


# the ResNet block's convolutions (no bias: batch norm follows) and its Linear layer
RESNET_LAYERS = [("conv", (16, 3, 3, 3)), ("conv", (16, 16, 3, 3)), ("conv", (16, 16, 3, 3)),
                 ("linear", (10, 16))]


def make_problem(name: str, batch: int, seed: int = 0, n_train: int | None = None) -> Problem:
    """The 'lenet' or 'resnet' problem, built the same way in every process. ``weights`` holds
    (W, b) per layer of LAYERS or RESNET_LAYERS; b is None for the ResNet's convolutions (their
    batch norms start at weight 1, bias 0, PyTorch's default)."""
    if name not in WORKLOADS:
        raise ValueError(f"workloads_conv: unknown workload {name!r}; expected one of {list(WORKLOADS)}.")
    workload = WORKLOADS[name]
    rng = np.random.default_rng(seed)
    n_train = workload.n_train if n_train is None else n_train
    n_train = max(batch, n_train - n_train % batch)
    n = n_train + workload.n_val
    labels = rng.integers(0, 10, size=n)
    if name == "lenet":
        centers = 0.5 * _patterns(rng, 10)
        x = (centers[labels] + rng.standard_normal((n, 28, 28)))[:, None].astype(DTYPE)
    else:
        centers = 0.5 * _patterns(rng, 30, size=32).reshape(10, 3, 32, 32)
        x = (centers[labels] + rng.standard_normal((n, 3, 32, 32))).astype(DTYPE)
    y = labels.astype(np.int64)
    weight_rng = np.random.default_rng(seed + 1)
    weights = []
    for kind, shape in (LAYERS if name == "lenet" else RESNET_LAYERS):
        bound = 1.0 / np.sqrt(np.prod(shape[1:]))
        w = weight_rng.uniform(-bound, bound, size=shape).astype(DTYPE)
        b = weight_rng.uniform(-bound, bound, size=shape[:1]).astype(DTYPE)
        weights.append((w, None if (name == "resnet" and kind == "conv") else b))
    return Problem(workload=workload, batch=batch, x_train=x[:n_train], y_train=y[:n_train],
                   x_val=x[n_train:], y_val=y[n_train:], weights=weights)
