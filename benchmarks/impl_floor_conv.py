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
        params.append(w.copy())
        if b is not None:
            params.append(b.copy())
        elif workload == "resnet":  # the batch norm after this convolution: gamma 1, beta 0
            params += [np.ones(w.shape[0], dtype=w.dtype), np.zeros(w.shape[0], dtype=w.dtype)]
    running = [np.zeros(16, dtype=np.float32) if k % 2 == 0 else np.ones(16, dtype=np.float32)
               for k in range(6)]  # the three batch norms' running mean and variance
    return {"problem": problem, "batches": problem.batches(), "params": params, "running": running,
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


# ----- the ResNet block: 3x3 convolutions with padding 1, batch norm, a skip connection -------


def _im2col_pad(x):
    """3x3, stride 1, padding 1: (N, C, H, W) -> (N, C * 9, H * W)."""
    n, c, h, w = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    cols = np.empty((n, c, 3, 3, h, w), dtype=x.dtype)
    for i in range(3):
        for j in range(3):
            cols[:, :, i, j] = xp[:, :, i:i + h, j:j + w]
    return cols.reshape(n, c * 9, h * w)


def _col2im_pad(cols, shape):
    """Adjoint of _im2col_pad: (N, C * 9, H * W) added back into (N, C, H, W)."""
    n, c, h, w = shape
    cols = cols.reshape(n, c, 3, 3, h, w)
    xp = np.zeros((n, c, h + 2, w + 2), dtype=cols.dtype)
    for i in range(3):
        for j in range(3):
            xp[:, :, i:i + h, j:j + w] += cols[:, :, i, j]
    return xp[:, :, 1:-1, 1:-1]


def _bn(x, gamma, beta, running_mean, running_var, momentum=0.1, eps=1e-5):
    """Batch norm in training: (y, x_hat, r); updates the running statistics in place."""
    m = x.size // x.shape[1]
    mean = x.mean(axis=(0, 2, 3))
    xc = x - mean[:, None, None]
    var = (xc * xc).mean(axis=(0, 2, 3))
    r = 1.0 / np.sqrt(var + eps)
    x_hat = xc * r[:, None, None]
    running_mean *= 1 - momentum
    running_mean += momentum * mean
    running_var *= 1 - momentum
    running_var += momentum * var * (m / (m - 1))
    return x_hat * gamma[:, None, None] + beta[:, None, None], x_hat, r


def _bn_backward(g, x_hat, r, gamma):
    """(dL/dx, dL/dgamma, dL/dbeta): dL/dx = r (g' - mean(g') - x_hat mean(g' x_hat)), g' = g gamma."""
    grad_gamma = (g * x_hat).sum(axis=(0, 2, 3))
    grad_beta = g.sum(axis=(0, 2, 3))
    m = g.size // g.shape[1]
    gg = g * gamma[:, None, None]
    grad_x = gg - (grad_beta * gamma / m)[:, None, None]
    grad_x -= x_hat * (grad_gamma * gamma / m)[:, None, None]
    grad_x *= r[:, None, None]
    return grad_x, grad_gamma, grad_beta


def _conv3(x, w):
    n, _, h, wd = x.shape
    cols = _im2col_pad(x)
    return (w.reshape(w.shape[0], -1) @ cols).reshape(n, w.shape[0], h, wd), cols


def _resnet_forward(params, running, x):
    ws, g0, be0, w1, g1, be1, w2, g2, be2, fw, fb = params
    h0, cols0 = _conv3(x, ws)
    b0, xh0, r0 = _bn(h0, g0, be0, running[0], running[1])
    a0 = np.maximum(b0, 0)
    h1, cols1 = _conv3(a0, w1)
    b1, xh1, r1 = _bn(h1, g1, be1, running[2], running[3])
    a1 = np.maximum(b1, 0)
    h2, cols2 = _conv3(a1, w2)
    b2, xh2, r2 = _bn(h2, g2, be2, running[4], running[5])
    s = b2
    s += a0
    a2 = np.maximum(s, 0, out=s)
    p = a2.mean(axis=(2, 3))
    z = p @ fw.T
    z += fb
    return z, (cols0, xh0, r0, b0, a0, cols1, xh1, r1, b1, a1, cols2, xh2, r2, a2, p)


def _resnet_grads(params, running, x, labels):
    ws, g0, be0, w1, g1, be1, w2, g2, be2, fw, fb = params
    z, (cols0, xh0, r0, b0, a0, cols1, xh1, r1, b1, a1, cols2, xh2, r2, a2, p) = \
        _resnet_forward(params, running, x)
    z -= z.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    z[np.arange(z.shape[0]), labels] -= 1.0
    z *= 1.0 / z.shape[0]
    n, c, h, w = a2.shape
    gp = z @ fw
    gs = np.empty_like(a2)
    gs[...] = (gp / (h * w))[:, :, None, None]  # global average pooling's backward
    gs *= a2 > 0  # the ReLU after the sum; the sum sends gs to both branches
    gh2, gg2, gbe2 = _bn_backward(gs, xh2, r2, g2)
    gh2 = gh2.reshape(n, c, h * w)
    gw2 = (gh2 @ cols2.transpose(0, 2, 1)).sum(axis=0).reshape(w2.shape)
    ga1 = _col2im_pad(w2.reshape(c, -1).T @ gh2, a1.shape)
    ga1 *= b1 > 0
    gh1, gg1, gbe1 = _bn_backward(ga1, xh1, r1, g1)
    gh1 = gh1.reshape(n, c, h * w)
    gw1 = (gh1 @ cols1.transpose(0, 2, 1)).sum(axis=0).reshape(w1.shape)
    ga0 = _col2im_pad(w1.reshape(c, -1).T @ gh1, a0.shape)
    ga0 += gs  # the skip connection
    ga0 *= b0 > 0
    gh0, gg0, gbe0 = _bn_backward(ga0, xh0, r0, g0)
    gws = (gh0.reshape(n, c, h * w) @ cols0.transpose(0, 2, 1)).sum(axis=0).reshape(ws.shape)
    return [gws, gg0, gbe0, gw1, gg1, gbe1, gw2, gg2, gbe2, z.T @ p, z.sum(axis=0)]


def step(state):
    x, t = state["batches"][state["i"] % len(state["batches"])]
    state["i"] += 1
    workload = state["problem"].workload
    lr, momentum = workload.lr, workload.momentum
    if workload.name == "resnet":
        grads = _resnet_grads(state["params"], state["running"], x, t)
    else:
        grads = _grads(state["params"], x, t)
    for p, g, buf in zip(state["params"], grads, state["buffers"]):
        buf *= momentum
        buf += g
        p -= lr * buf


def quality(state):
    problem = state["problem"]
    if problem.workload.name == "resnet":  # batch statistics, as the others' training mode
        return quality_from_outputs(problem, _resnet_forward(state["params"], state["running"],
                                                             problem.x_val)[0])
    return quality_from_outputs(problem, _forward(state["params"], problem.x_val)[0])
