"""The floor: each workload written by hand in NumPy, no framework, no graph.

Forward, the backward worked out by hand, and the SGD update, on the same arrays as everyone else.
This is what a careful NumPy programmer writes for one fixed network, so it is the speed to aim for:
an autodiff engine cannot do less NumPy work, only add bookkeeping on top.

Interface (shared by every impl_*.py): setup(workload, batch, seed) -> state; step(state);
quality(state) -> dict.
"""

import numpy as np

from workloads import make_problem, quality_from_outputs

NAME = "numpy floor"


def setup(workload, batch, seed=0, n_train=None):
    problem = make_problem(workload, batch, seed, n_train)
    params = []
    for w, b in problem.weights:
        params += [w.copy(), b.copy()]
    momentum = problem.workload.momentum
    return {
        "problem": problem,
        "batches": problem.batches(),
        "params": params,
        # SGD momentum buffers, PyTorch's convention: buf = momentum * buf + grad, starting at grad
        # (a zero buffer gives exactly that on the first step).
        "buffers": [np.zeros_like(p) for p in params] if momentum else None,
        "i": 0,
    }


def _sigmoid(x):
    """1 / (1 + exp(-x)), computed as 0.5 tanh(x / 2) + 0.5 (cannot overflow), in place."""
    y = np.tanh(0.5 * x)
    y *= 0.5
    y += 0.5
    return y


def _relu(x):
    """max(x, 0), in place."""
    return np.maximum(x, 0, out=x)


def _seed_grads(params, x, t):
    """2-10-1 sigmoid network, MSE loss: gradients of (W1, b1, W2, b2).

    h = x W1ᵀ + b1,  s = sigmoid(h),  y = s W2ᵀ + b2,  L = mean((y - t)^2)
    dL/dy = 2 (y - t) / N;  dL/dW2 = dL/dyᵀ s;  dL/db2 = sum_rows dL/dy
    dL/ds = dL/dy W2;  dL/dh = dL/ds * s (1 - s);  dL/dW1 = dL/dhᵀ x;  dL/db1 = sum_rows dL/dh
    """
    w1, b1, w2, b2 = params
    h = x @ w1.T
    h += b1
    s = _sigmoid(h)
    y = s @ w2.T
    y += b2
    grad_y = y - t
    grad_y *= 2.0 / y.size
    grad_s = grad_y @ w2
    grad_s *= s
    grad_s *= 1.0 - s
    return [grad_s.T @ x, grad_s.sum(axis=0), grad_y.T @ s, grad_y.sum(axis=0)]


def _wide_grads(params, x, labels):
    """784-512-512-10 ReLU network, softmax cross-entropy: gradients of every W and b.

    r1 = relu(x W1ᵀ + b1),  r2 = relu(r1 W2ᵀ + b2),  z = r2 W3ᵀ + b3,  L = mean_i -log softmax(z_i)[t_i]
    dL/dz = (softmax(z) - onehot(t)) / N, then per layer, from the top:
    dL/dW = dL/doutᵀ in,  dL/db = sum_rows dL/dout,  dL/din = dL/dout W, times (r > 0) below a ReLU
    """
    w1, b1, w2, b2, w3, b3 = params
    r1 = x @ w1.T
    r1 += b1
    np.maximum(r1, 0, out=r1)
    r2 = r1 @ w2.T
    r2 += b2
    np.maximum(r2, 0, out=r2)
    z = r2 @ w3.T
    z += b3
    z -= z.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)  # softmax
    z[np.arange(z.shape[0]), labels] -= 1.0
    z *= 1.0 / z.shape[0]
    grad_z = z
    grad_r2 = grad_z @ w3
    grad_r2 *= r2 > 0
    grad_r1 = grad_r2 @ w2
    grad_r1 *= r1 > 0
    return [
        grad_r1.T @ x, grad_r1.sum(axis=0),
        grad_r2.T @ r1, grad_r2.sum(axis=0),
        grad_z.T @ r2, grad_z.sum(axis=0),
    ]


def step(state, seed_grads=_seed_grads):
    """One minibatch SGD update: p -= lr * grad, or with momentum buf = mu buf + grad, p -= lr buf.
    (``seed_grads`` lets impl_floor_dot reuse this step with its own seed gradients.)"""
    x, t = state["batches"][state["i"] % len(state["batches"])]
    state["i"] += 1
    workload = state["problem"].workload
    grads_of = seed_grads if workload.loss == "mse" else _wide_grads
    grads = grads_of(state["params"], x, t)
    lr, momentum, buffers = workload.lr, workload.momentum, state["buffers"]
    if buffers is None:
        for p, g in zip(state["params"], grads):
            g *= lr
            p -= g
    else:
        for p, g, buf in zip(state["params"], grads, buffers):
            buf *= momentum
            buf += g
            p -= lr * buf


def outputs(state, x):
    """The network's output (regression value or class logits) for inputs x."""
    params = state["params"]
    activation = _sigmoid if state["problem"].workload.activation == "sigmoid" else _relu
    out = x
    for j in range(0, len(params), 2):
        out = out @ params[j].T + params[j + 1]
        if j + 2 < len(params):
            out = activation(out)
    return out


def quality(state):
    problem = state["problem"]
    return quality_from_outputs(problem, outputs(state, problem.x_val))
