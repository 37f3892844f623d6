"""GPU training-step benchmark (issue #19): chainrule on 'cuda' against a hand-fused CuPy floor and
PyTorch CUDA (eager), side by side in one run, float32, medians of alternating rounds.

    python benchmarks/run_gpu.py                 # on a machine with CuPy and an NVIDIA GPU
    python benchmarks/run_gpu.py --standin       # plumbing check anywhere: tiny sizes, the CPU
                                                 # stand-in device, no timing worth reading

Workloads (a training step: forward, cross-entropy, backward, SGD):
    mlp-small   784-512-512-10, ReLU, batch 256      (launch-bound: many small kernels)
    mlp-gemm    4096-4096-4096-10, ReLU, batch 4096  (GEMM-bound)

All three start from the same weights; the first step's losses are compared before timing, so a
floor that computes something else cannot look fast. Results are printed and written as JSON
(--out). No number here is asserted by a test: speed lives in the reports.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import chainrule as cr  # noqa: E402
from chainrule import backend  # noqa: E402

WORKLOADS = {
    "mlp-small": ((784, 512, 512, 10), 256),
    "mlp-gemm": ((4096, 4096, 4096, 10), 4096),
}
STANDIN_WORKLOADS = {"mlp-small": ((24, 16, 16, 5), 8), "mlp-gemm": ((32, 32, 32, 5), 16)}
LR = 0.01


def problem(sizes, batch, seed=0):
    """Weights (PyTorch's layout and init bounds) and one batch, on the host."""
    rng = np.random.default_rng(seed)
    weights = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        bound = 1 / np.sqrt(fan_in)
        weights.append((rng.uniform(-bound, bound, (fan_out, fan_in)).astype(np.float32),
                        rng.uniform(-bound, bound, fan_out).astype(np.float32)))
    x = rng.standard_normal((batch, sizes[0])).astype(np.float32)
    labels = rng.integers(0, sizes[-1], batch)
    return weights, x, labels


# ----- chainrule on 'cuda' ------------------------------------------------------------------------
def chainrule_setup(weights, x, labels):
    layers = []
    for k, (w, b) in enumerate(weights):
        linear = cr.nn.Linear(w.shape[1], w.shape[0])
        with cr.no_grad():
            linear.weight.copy_(cr.tensor(w))
            linear.bias.copy_(cr.tensor(b))
        layers += [linear] + ([cr.nn.ReLU()] if k + 1 < len(weights) else [])
    model = cr.nn.Sequential(*layers).to("cuda")
    return {"model": model, "opt": cr.optim.SGD(model.parameters(), lr=LR),
            "x": cr.tensor(x, device="cuda"), "t": cr.tensor(labels, device="cuda")}


def chainrule_step(s):
    s["opt"].zero_grad()
    loss = cr.nn.functional.cross_entropy(s["model"](s["x"]), s["t"])
    loss.backward()
    s["opt"].step()
    return loss


# ----- the hand-fused floor: the same step written directly in the device's array library --------
def floor_setup(weights, x, labels):
    xp = backend.cuda_backend().xp
    params = [(xp.asarray(w), xp.asarray(b)) for w, b in weights]
    onehot = np.zeros((len(labels), weights[-1][0].shape[0]), np.float32)
    onehot[np.arange(len(labels)), labels] = 1
    return {"xp": xp, "params": params, "x": xp.asarray(x), "onehot": xp.asarray(onehot)}


def floor_step(s):
    xp, params, x = s["xp"], s["params"], s["x"]
    acts = [x]
    for k, (w, b) in enumerate(params):  # forward, keeping each layer's input
        z = acts[-1] @ w.T + b
        acts.append(xp.maximum(z, 0) if k + 1 < len(params) else z)
    logits = acts.pop()
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = xp.exp(shifted)
    total = exp.sum(axis=1, keepdims=True)
    loss = (xp.log(total) - (shifted * s["onehot"]).sum(axis=1, keepdims=True)).mean()
    grad = (exp / total - s["onehot"]) / x.shape[0]  # dL/dlogits of mean cross-entropy
    for k in range(len(params) - 1, -1, -1):  # backward and the SGD step, layer by layer
        w, b = params[k]
        grad_in = grad @ w if k else None
        w -= LR * (grad.T @ acts[k])
        b -= LR * grad.sum(axis=0)
        if k:
            grad = grad_in * (acts[k] > 0)
    return loss


# ----- PyTorch CUDA, eager ------------------------------------------------------------------------
def torch_setup(weights, x, labels):
    import torch

    layers = []
    for k, (w, b) in enumerate(weights):
        linear = torch.nn.Linear(w.shape[1], w.shape[0])
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(w))
            linear.bias.copy_(torch.from_numpy(b))
        layers += [linear] + ([torch.nn.ReLU()] if k + 1 < len(weights) else [])
    model = torch.nn.Sequential(*layers).cuda()
    return {"model": model, "opt": torch.optim.SGD(model.parameters(), lr=LR), "torch": torch,
            "x": torch.from_numpy(x).cuda(), "t": torch.from_numpy(labels).cuda()}


def torch_step(s):
    s["opt"].zero_grad()
    loss = s["torch"].nn.functional.cross_entropy(s["model"](s["x"]), s["t"])
    loss.backward()
    s["opt"].step()
    return loss


def _sync(name):
    if name == "torch":
        import torch

        torch.cuda.synchronize()
    else:
        cr.cuda.synchronize()


def time_steps(name, step, state, steps):
    _sync(name)
    start = time.perf_counter()
    for _ in range(steps):
        step(state)
    _sync(name)
    return (time.perf_counter() - start) / steps * 1e6  # µs per step


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--standin", action="store_true", help="the CPU stand-in device, tiny sizes")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--steps", type=int, default=50, help="steps per timed round")
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    args = parser.parse_args(argv)
    if args.standin:
        backend.use_standin_cuda(True)
    if not cr.cuda.is_available():
        print("run_gpu: no CuPy with a GPU here; use --standin to check the plumbing.")
        return 2
    workloads = STANDIN_WORKLOADS if args.standin else WORKLOADS
    impls = {"chainrule": (chainrule_setup, chainrule_step), "floor": (floor_setup, floor_step)}
    try:
        import torch

        if torch.cuda.is_available():
            impls["torch"] = (torch_setup, torch_step)
    except ImportError:
        pass
    results = {"device": cr.cuda.get_device_name(), "workloads": {}}
    for name, (sizes, batch) in workloads.items():
        weights, x, labels = problem(sizes, batch)
        states = {k: setup(weights, x, labels) for k, (setup, _) in impls.items()}
        first = {k: float(impls[k][1](states[k])) for k in impls}  # one step each, compared
        spread = max(first.values()) - min(first.values())
        if spread > 1e-3 * max(abs(v) for v in first.values()):
            raise SystemExit(f"run_gpu: {name}: the first losses differ: {first}")
        times = {k: [] for k in impls}
        for _ in range(args.rounds):  # alternate, so drift hits every implementation alike
            for k, (_, step) in impls.items():
                times[k].append(time_steps(k, step, states[k], args.steps))
        medians = {k: statistics.median(v) for k, v in times.items()}
        results["workloads"][name] = {"sizes": sizes, "batch": batch, "first_loss": first,
                                      "median_us": medians}
        line = ", ".join(f"{k} {v:,.0f} µs" for k, v in medians.items())
        ratios = ", ".join(f"chainrule/{k} {medians['chainrule'] / medians[k]:.2f}x"
                           for k in medians if k != "chainrule")
        print(f"{name} (batch {batch}): {line}; {ratios}")
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
