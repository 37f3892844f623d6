"""The sequence floors: the tiny GPT and the character LSTM written by hand in NumPy, no graph.

What a careful NumPy programmer writes for these two networks, forward and backward worked out on
paper and fused where natural:

- GPT: the embeddings by indexing; per block a LayerNorm (saving x̂ and 1/σ), one product for
  q, k and v, attention as two batched products around a row softmax computed in place with the
  causal mask added as -inf, the GELU(tanh) MLP; the tied head as one product with the token
  table. Backward: the same blocks in reverse (LayerNorm's three-term formula, attention's
  dS = P * (dP - rowsum(dP * P)), the GELU's derivative from the saved tanh), dq, dk and dv written
  straight into one (B, T, 3, heads, head size) buffer, so the q/k/v product's gradient is one
  product; the embedding gradient by np.add.at. Then clipping by the total norm and AdamW, in
  place, with PyTorch's formulas.
- LSTM: the input projections of all 64 steps in one product before the loop (only h W_hhᵀ is
  left per step), gates activated in place in that buffer; backward walks the steps in reverse
  writing every step's dgates into one (T, N, 4H) buffer, so dW_ih, dW_hh, the biases and the
  layer's input gradient are each one product (or sum) over all steps. Then Adam, in place.

Interface (shared by every impl_*.py): setup(workload, batch, seed) -> state; step(state);
quality(state) -> dict. step leaves the loss, as a float, in state["loss"].
"""

import math

import numpy as np

from workloads_seq import cross_entropy_of_logits, make_problem

NAME = "numpy floor"
GELU_K = math.sqrt(2.0 / math.pi)
LN_EPS = 1e-5


def setup(workload, batch, seed=0, n_train=None, tiny=False):
    problem = make_problem(workload, batch, seed, n_train, tiny)
    params = {k: v.copy() for k, v in problem.weights.items()}
    w = problem.workload
    if workload == "gpt":
        T = w.context
        mask = np.triu(np.full((T, T), -np.inf, dtype=np.float32), 1)  # -inf above the diagonal
        decay = {k for k, v in params.items() if v.ndim == 2}
    else:
        mask, decay = None, set()
    return {"problem": problem, "params": params, "mask": mask, "decay": decay,
            "m": {k: np.zeros_like(v) for k, v in params.items()},
            "v": {k: np.zeros_like(v) for k, v in params.items()}, "t": 0, "i": 0}


def step(state):
    problem = state["problem"]
    ids, targets = problem.batches[state["i"] % len(problem.batches)]
    state["i"] += 1
    if problem.workload.name == "gpt":
        logits, cache = gpt_forward(state["params"], ids, problem.workload, state["mask"])
        loss, grad_logits = _cross_entropy(logits, targets.reshape(-1))
        grads = gpt_backward(state["params"], grad_logits, cache, problem.workload)
        _clip(grads, problem.workload.grad_clip)
    else:
        logits, cache = lstm_forward(state["params"], ids, problem.workload)
        loss, grad_logits = _cross_entropy(logits, targets.T.reshape(-1))  # rows in (T, N) order
        grads = lstm_backward(state["params"], grad_logits, cache, problem.workload)
    _adamw(state, grads)
    state["loss"] = loss


def quality(state):
    problem = state["problem"]
    ids, targets = problem.val
    if problem.workload.name == "gpt":
        logits, _ = gpt_forward(state["params"], ids, problem.workload, state["mask"])
        return {"val_loss": cross_entropy_of_logits(logits, targets)}
    logits, _ = lstm_forward(state["params"], ids, problem.workload)
    return {"val_loss": cross_entropy_of_logits(logits, targets.T)}


# ----- shared pieces -------------------------------------------------------------------------------


def _cross_entropy(logits, targets):
    """Mean cross-entropy of (M, V) logits; returns (loss, dL/dlogits = (softmax - onehot) / M)."""
    m = logits.shape[0]
    logits -= logits.max(axis=1, keepdims=True)
    np.exp(logits, out=logits)
    total = logits.sum(axis=1, keepdims=True)
    rows = np.arange(m)
    loss = float(np.mean(np.log(total[:, 0]) - np.log(logits[rows, targets])))
    logits /= total
    logits[rows, targets] -= 1.0
    logits *= 1.0 / m
    return loss, logits


def _clip(grads, max_norm):
    """PyTorch's clip_grad_norm_: scale every gradient by min(1, max_norm / (total norm + 1e-6))."""
    total = math.sqrt(sum(float(np.vdot(g, g)) for g in grads.values()))
    coef = max_norm / (total + 1e-6)
    if coef < 1.0:
        for g in grads.values():
            g *= np.float32(coef)


def _adamw(state, grads):
    """PyTorch's Adam/AdamW, in place: p *= 1 - lr*wd (decayed parameters only); m = b1 m + (1-b1) g;
    v = b2 v + (1-b2) g²; p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)."""
    w = state["problem"].workload
    b1, b2 = w.betas
    state["t"] += 1
    t = state["t"]
    step_size = w.lr / (1 - b1 ** t)
    root_bc2 = math.sqrt(1 - b2 ** t)
    for name, p in state["params"].items():
        g, m, v = grads[name], state["m"][name], state["v"][name]
        if name in state["decay"]:
            p *= np.float32(1 - w.lr * w.weight_decay)
        m *= b1
        m += (1 - b1) * g
        v *= b2
        g *= g
        g *= 1 - b2
        v += g
        denom = np.sqrt(v)
        denom /= root_bc2
        denom += 1e-8
        np.divide(m, denom, out=denom)
        denom *= step_size
        p -= denom


# ----- the GPT -----------------------------------------------------------------------------------


def _layer_norm(x, weight, bias):
    """y = (x - mean) / sqrt(var + eps) * weight + bias over the last dim; returns (y, x̂, 1/σ)."""
    centred = x - x.mean(axis=-1, keepdims=True)
    rstd = 1.0 / np.sqrt(np.mean(centred * centred, axis=-1, keepdims=True) + LN_EPS)
    centred *= rstd
    return centred * weight + bias, centred, rstd


def _layer_norm_backward(grad_y, xhat, rstd, weight, grads, prefix):
    """dx = (1/σ) (dx̂ - mean(dx̂) - x̂ mean(dx̂ x̂)), dx̂ = dy * weight; dweight, dbias summed."""
    grads[prefix + "weight"] = np.einsum("mc,mc->c", grad_y, xhat)
    grads[prefix + "bias"] = grad_y.sum(axis=0)
    dxhat = grad_y * weight
    grad_x = dxhat - dxhat.mean(axis=-1, keepdims=True)
    dxhat *= xhat
    grad_x -= xhat * dxhat.mean(axis=-1, keepdims=True)
    grad_x *= rstd
    return grad_x


def gpt_forward(p, ids, w, mask):
    """Logits (B*T, V) and what backward needs."""
    B, T = ids.shape
    C, nh = w.n_embd, w.n_head
    hs, M = C // nh, B * T
    scale = 1.0 / math.sqrt(hs)
    x = p["wte.weight"][ids]
    x += p["wpe.weight"][:T]
    x = x.reshape(M, C)
    layers = []
    for layer in range(w.n_layer):
        pre = f"h.{layer}."
        a, xhat1, rstd1 = _layer_norm(x, p[pre + "ln_1.weight"], p[pre + "ln_1.bias"])
        qkv = a @ p[pre + "attn.c_attn.weight"].T
        qkv += p[pre + "attn.c_attn.bias"]
        q, k, v = qkv.reshape(B, T, 3, nh, hs).transpose(2, 0, 3, 1, 4)  # each (B, nh, T, hs)
        scores = q @ k.swapaxes(-1, -2)
        scores *= scale
        scores += mask[:T, :T]
        scores -= scores.max(axis=-1, keepdims=True)
        np.exp(scores, out=scores)
        scores /= scores.sum(axis=-1, keepdims=True)
        probs = scores
        y = (probs @ v).transpose(0, 2, 1, 3).reshape(M, C)
        attn = y @ p[pre + "attn.c_proj.weight"].T
        attn += p[pre + "attn.c_proj.bias"]
        x = x + attn
        m, xhat2, rstd2 = _layer_norm(x, p[pre + "ln_2.weight"], p[pre + "ln_2.bias"])
        h = m @ p[pre + "mlp.0.weight"].T
        h += p[pre + "mlp.0.bias"]
        t = h * h
        t *= 0.044715
        t += 1.0
        t *= h
        t *= GELU_K
        np.tanh(t, out=t)
        g = t + 1.0
        g *= h
        g *= 0.5
        out = g @ p[pre + "mlp.2.weight"].T
        out += p[pre + "mlp.2.bias"]
        x = x + out
        layers.append((a, xhat1, rstd1, qkv, probs, y, m, xhat2, rstd2, h, t, g))
    xf, xhatf, rstdf = _layer_norm(x, p["ln_f.weight"], p["ln_f.bias"])
    logits = xf @ p["wte.weight"].T
    return logits, (ids, layers, xf, xhatf, rstdf)


def gpt_backward(p, grad_logits, cache, w):
    ids, layers, xf, xhatf, rstdf = cache
    B, T = ids.shape
    C, nh = w.n_embd, w.n_head
    hs, M = C // nh, B * T
    scale = 1.0 / math.sqrt(hs)
    grads = {}
    grad_wte = grad_logits.T @ xf  # the tied head's share of the token table's gradient
    dx = _layer_norm_backward(grad_logits @ p["wte.weight"], xhatf, rstdf, p["ln_f.weight"],
                              grads, "ln_f.")
    for layer in reversed(range(w.n_layer)):
        pre = f"h.{layer}."
        a, xhat1, rstd1, qkv, probs, y, m, xhat2, rstd2, h, t, g = layers[layer]
        # MLP: x_out = x_mid + gelu(m W1ᵀ + b1) W2ᵀ + b2
        grads[pre + "mlp.2.weight"] = dx.T @ g
        grads[pre + "mlp.2.bias"] = dx.sum(axis=0)
        dh = dx @ p[pre + "mlp.2.weight"]
        # gelu'(h) = 0.5 (1 + t) + 0.5 h (1 - t²) k (1 + 3 * 0.044715 h²),  t = tanh(k (h + 0.044715 h³))
        inner = h * h
        inner *= 3 * 0.044715
        inner += 1.0
        inner *= GELU_K * 0.5
        inner *= h
        inner *= 1.0 - t * t
        t += 1.0
        t *= 0.5
        inner += t
        dh *= inner
        grads[pre + "mlp.0.weight"] = dh.T @ m
        grads[pre + "mlp.0.bias"] = dh.sum(axis=0)
        dx += _layer_norm_backward(dh @ p[pre + "mlp.0.weight"], xhat2, rstd2, p[pre + "ln_2.weight"],
                                   grads, pre + "ln_2.")
        # attention: x_mid = x_in + attn(ln_1(x_in)) W_pᵀ + b_p
        grads[pre + "attn.c_proj.weight"] = dx.T @ y
        grads[pre + "attn.c_proj.bias"] = dx.sum(axis=0)
        dy = (dx @ p[pre + "attn.c_proj.weight"]).reshape(B, T, nh, hs).transpose(0, 2, 1, 3)
        q, k, v = qkv.reshape(B, T, 3, nh, hs).transpose(2, 0, 3, 1, 4)
        dqkv = np.empty((B, T, 3, nh, hs), dtype=dx.dtype)
        dq, dk, dv = dqkv.transpose(2, 0, 3, 1, 4)  # views: writing them fills dqkv
        np.matmul(probs.swapaxes(-1, -2), dy, out=dv)
        dprobs = dy @ v.swapaxes(-1, -2)
        dprobs -= (dprobs * probs).sum(axis=-1, keepdims=True)
        dprobs *= probs  # now dS (masked entries: P = 0, so 0)
        dprobs *= scale
        np.matmul(dprobs, k, out=dq)
        np.matmul(dprobs.swapaxes(-1, -2), q, out=dk)
        dqkv = dqkv.reshape(M, 3 * C)
        grads[pre + "attn.c_attn.weight"] = dqkv.T @ a
        grads[pre + "attn.c_attn.bias"] = dqkv.sum(axis=0)
        dx += _layer_norm_backward(dqkv @ p[pre + "attn.c_attn.weight"], xhat1, rstd1,
                                   p[pre + "ln_1.weight"], grads, pre + "ln_1.")
    np.add.at(grad_wte, ids.reshape(-1), dx)
    grads["wte.weight"] = grad_wte
    grad_wpe = np.zeros_like(p["wpe.weight"])
    grad_wpe[:T] = dx.reshape(B, T, C).sum(axis=0)
    grads["wpe.weight"] = grad_wpe
    return grads


# ----- the LSTM ------------------------------------------------------------------------------------


def _sigmoid_(x):
    """In place: x <- 1 / (1 + exp(-x)), as 0.5 tanh(x / 2) + 0.5 (cannot overflow)."""
    x *= 0.5
    np.tanh(x, out=x)
    x *= 0.5
    x += 0.5


def lstm_forward(p, ids, w):
    """Logits (T*N, V), rows in time-major order, and what backward needs."""
    H = w.hidden
    x = p["embed.weight"][ids.T]  # (T, N, E): time-major from the start
    T, N = ids.shape[1], ids.shape[0]
    layers = []
    for layer in range(w.n_layer):
        w_ih, w_hh = p[f"lstm.weight_ih_l{layer}"], p[f"lstm.weight_hh_l{layer}"]
        acts = (x.reshape(T * N, -1) @ w_ih.T).reshape(T, N, 4 * H)  # every step's x W_ihᵀ at once
        acts += p[f"lstm.bias_ih_l{layer}"]
        acts += p[f"lstm.bias_hh_l{layer}"]
        hs = np.empty((T, N, H), dtype=x.dtype)
        cs = np.empty_like(hs)
        tanh_cs = np.empty_like(hs)
        h = np.zeros((N, H), dtype=x.dtype)
        c = h
        for t in range(T):
            gates = acts[t]
            gates += h @ w_hh.T
            _sigmoid_(gates[:, :2 * H])         # i, f
            _sigmoid_(gates[:, 3 * H:])         # o
            np.tanh(gates[:, 2 * H:3 * H], out=gates[:, 2 * H:3 * H])  # g
            i, f, g, o = gates[:, :H], gates[:, H:2 * H], gates[:, 2 * H:3 * H], gates[:, 3 * H:]
            c = np.multiply(f, c, out=cs[t])
            c += i * g
            np.tanh(c, out=tanh_cs[t])
            h = np.multiply(o, tanh_cs[t], out=hs[t])
        layers.append((x, acts, hs, cs, tanh_cs))
        x = hs
    logits = x.reshape(T * N, H) @ p["head.weight"].T
    logits += p["head.bias"]
    return logits, (ids, layers)


def lstm_backward(p, grad_logits, cache, w):
    ids, layers = cache
    H = w.hidden
    grads = {"head.weight": grad_logits.T @ layers[-1][2].reshape(-1, H),
             "head.bias": grad_logits.sum(axis=0)}
    grad_out = (grad_logits @ p["head.weight"]).reshape(layers[-1][2].shape)  # dL/dh_t from above
    for layer in reversed(range(w.n_layer)):
        x, acts, hs, cs, tanh_cs = layers[layer]
        T, N = hs.shape[:2]
        w_ih, w_hh = p[f"lstm.weight_ih_l{layer}"], p[f"lstm.weight_hh_l{layer}"]
        grad_acts = np.empty_like(acts)
        dh_next = np.zeros((N, H), dtype=x.dtype)
        dc_next = np.zeros((N, H), dtype=x.dtype)
        for t in reversed(range(T)):
            gates, dgates = acts[t], grad_acts[t]
            i, f, g, o = gates[:, :H], gates[:, H:2 * H], gates[:, 2 * H:3 * H], gates[:, 3 * H:]
            tanh_c = tanh_cs[t]
            dh = grad_out[t] + dh_next
            # dc = dc' + dh * o * (1 - tanh(c)²)
            dc = 1.0 - tanh_c * tanh_c
            dc *= o
            dc *= dh
            dc += dc_next
            # dgates_o = dh * tanh(c) * o (1 - o);  dgates_i = dc * g * i (1 - i)
            np.multiply(dh, tanh_c, out=dgates[:, 3 * H:])
            dgates[:, 3 * H:] *= o * (1.0 - o)
            np.multiply(dc, g, out=dgates[:, :H])
            dgates[:, :H] *= i * (1.0 - i)
            # dgates_f = dc * c_prev * f (1 - f);  dgates_g = dc * i * (1 - g²)
            if t:
                np.multiply(dc, cs[t - 1], out=dgates[:, H:2 * H])
                dgates[:, H:2 * H] *= f * (1.0 - f)
            else:
                dgates[:, H:2 * H] = 0.0
            np.multiply(dc, i, out=dgates[:, 2 * H:3 * H])
            dgates[:, 2 * H:3 * H] *= 1.0 - g * g
            dc *= f
            dc_next = dc
            dh_next = dgates @ w_hh
        flat = grad_acts.reshape(T * N, 4 * H)
        grads[f"lstm.weight_ih_l{layer}"] = flat.T @ x.reshape(T * N, -1)
        grads[f"lstm.weight_hh_l{layer}"] = flat[N:].T @ hs[:-1].reshape((T - 1) * N, H)
        grads[f"lstm.bias_ih_l{layer}"] = flat.sum(axis=0)
        grads[f"lstm.bias_hh_l{layer}"] = grads[f"lstm.bias_ih_l{layer}"].copy()
        grad_out = (flat @ w_ih).reshape(x.shape)
    grad_embed = np.zeros_like(p["embed.weight"])
    np.add.at(grad_embed, ids.T.reshape(-1), grad_out.reshape(-1, grad_out.shape[-1]))
    grads["embed.weight"] = grad_embed
    return grads
