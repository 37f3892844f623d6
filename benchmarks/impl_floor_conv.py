"""The convolutional floor: LeNet written by hand in NumPy, im2col + GEMM, no framework, no graph.

What a careful NumPy programmer writes for this one network: each convolution is an im2col copy
(one strided copy per kernel offset, in a layout that needs no transposes) and one batched matrix
product; 2x2 max pooling is a reshape and a max;
the backward is worked out by hand (the weight gradient is a product with the saved columns, the
input gradient of conv 2 is col2im of Wᵀ dL/dy, the pooling gradient goes to the argmax) and
fused where natural (ReLU's mask applied in place). The input images need no gradient, so conv 1
computes none (chainrule skips it too: its Conv.backward checks needs_input_grad).

Interface (shared by every impl_*.py): setup(workload, batch, seed) -> state; step(state);
quality(state) -> dict.
"""

import numpy as np

from workloads import quality_from_outputs
from workloads_conv import make_problem

NAME = "numpy im2col+GEMM floor"


def setup(workload, batch, seed=0, n_train=None):
    problem = make_problem(workload, batch, seed, n_train)
    params = []
    for w, b in problem.weights:
        params += [w.copy(), b.copy()]
    return {"problem": problem, "batches": problem.batches(), "params": params,
            "buffers": [np.zeros_like(p) for p in params], "i": 0}


def _im2col(x, k):
    """(N, C, H, W) -> columns (N, C * k * k, OH * OW): one strided copy per kernel offset, each
    written in place (the layout lets the product come out as (N, O, OH * OW), no transposes)."""
    n, c, h, w = x.shape
    oh, ow = h - k + 1, w - k + 1
    cols = np.empty((n, c, k, k, oh, ow), dtype=x.dtype)
    for i in range(k):
        for j in range(k):
            cols[:, :, i, j] = x[:, :, i:i + oh, j:j + ow]
    return cols.reshape(n, c * k * k, oh * ow)


def _conv(x, w, b):
    """Valid 5x5 convolution, stride 1: y = W_flat @ cols + b per sample; returns (y, cols)."""
    n, _, h, wd = x.shape
    o, _, k, _ = w.shape
    cols = _im2col(x, k)
    y = w.reshape(o, -1) @ cols  # (N, O, OH * OW)
    y += b[:, None]
    return y.reshape(n, o, h - k + 1, wd - k + 1), cols


def _col2im(cols, shape, k):
    """Adjoint of _im2col: columns (N, C * k * k, OH * OW) added back into (N, C, H, W)."""
    n, c, h, w = shape
    oh, ow = h - k + 1, w - k + 1
    cols = cols.reshape(n, c, k, k, oh, ow)
    x = np.zeros((n, c, h, w), dtype=cols.dtype)
    for i in range(k):
        for j in range(k):
            x[:, :, i:i + oh, j:j + ow] += cols[:, :, i, j]
    return x


def _pool(x):
    """2x2 max pooling, stride 2: (y, mask of the argmax positions)."""
    n, c, h, w = x.shape
    blocks = x.reshape(n, c, h // 2, 2, w // 2, 2).transpose(0, 1, 2, 4, 3, 5)
    blocks = blocks.reshape(n, c, h // 2, w // 2, 4)
    arg = blocks.argmax(axis=-1)
    y = np.take_along_axis(blocks, arg[..., None], axis=-1)[..., 0]
    return y, arg


def _unpool(grad_y, arg, shape):
    """The pooling gradient: each dL/dy to its window's argmax."""
    n, c, h, w = shape
    grad = np.zeros((n, c, h // 2, w // 2, 4), dtype=grad_y.dtype)
    np.put_along_axis(grad, arg[..., None], grad_y[..., None], axis=-1)
    return grad.reshape(n, c, h // 2, w // 2, 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(shape)


def _forward(params, x):
    w1, b1, w2, b2, w3, b3, w4, b4, w5, b5 = params
    c1, cols1 = _conv(x, w1, b1)
    np.maximum(c1, 0, out=c1)
    p1, arg1 = _pool(c1)
    c2, cols2 = _conv(p1, w2, b2)
    np.maximum(c2, 0, out=c2)
    p2, arg2 = _pool(c2)
    f = p2.reshape(p2.shape[0], -1)
    h3 = f @ w3.T
    h3 += b3
    np.maximum(h3, 0, out=h3)
    h4 = h3 @ w4.T
    h4 += b4
    np.maximum(h4, 0, out=h4)
    z = h4 @ w5.T
    z += b5
    return z, (x, c1, cols1, p1, arg1, c2, cols2, p2, arg2, f, h3, h4)


def _grads(params, x, labels):
    """Forward, then the backward by hand, layer by layer from the top."""
    w1, b1, w2, b2, w3, b3, w4, b4, w5, b5 = params
    z, (x, c1, cols1, p1, arg1, c2, cols2, p2, arg2, f, h3, h4) = _forward(params, x)
    z -= z.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    z[np.arange(z.shape[0]), labels] -= 1.0
    z *= 1.0 / z.shape[0]  # dL/dz = (softmax - onehot) / N
    g4 = z @ w5
    g4 *= h4 > 0
    g3 = g4 @ w4
    g3 *= h3 > 0
    gf = g3 @ w3
    gc2 = _unpool(gf.reshape(p2.shape), arg2, c2.shape)
    gc2 *= c2 > 0
    g2 = gc2.reshape(gc2.shape[0], gc2.shape[1], -1)  # (N, O, OH * OW)
    gw2 = (g2 @ cols2.transpose(0, 2, 1)).sum(axis=0).reshape(w2.shape)
    gp1 = _col2im(w2.reshape(w2.shape[0], -1).T @ g2, p1.shape, w2.shape[-1])
    gc1 = _unpool(gp1, arg1, c1.shape)
    gc1 *= c1 > 0
    g1 = gc1.reshape(gc1.shape[0], gc1.shape[1], -1)
    gw1 = (g1 @ cols1.transpose(0, 2, 1)).sum(axis=0).reshape(w1.shape)
    return [gw1, g1.sum(axis=(0, 2)), gw2, g2.sum(axis=(0, 2)), g3.T @ f, g3.sum(axis=0),
            g4.T @ h3, g4.sum(axis=0), z.T @ h4, z.sum(axis=0)]


def step(state):
    x, t = state["batches"][state["i"] % len(state["batches"])]
    state["i"] += 1
    workload = state["problem"].workload
    lr, momentum = workload.lr, workload.momentum
    for p, g, buf in zip(state["params"], _grads(state["params"], x, t), state["buffers"]):
        buf *= momentum
        buf += g
        p -= lr * buf


def quality(state):
    problem = state["problem"]
    return quality_from_outputs(problem, _forward(state["params"], problem.x_val)[0])
