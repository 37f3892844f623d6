"""GPU training-step benchmark (issue #19): chainrule on 'cuda' against PyTorch CUDA (eager) and,
for the MLPs, a hand-fused CuPy floor, side by side in one run, float32, medians of alternating
rounds.

    python benchmarks/run_gpu.py                 # on a machine with CuPy and an NVIDIA GPU
    python benchmarks/run_gpu.py --profile p.txt # and where chainrule's step spends its host time
    python benchmarks/run_gpu.py --standin       # plumbing check anywhere: tiny sizes, the CPU
                                                 # stand-in device, no timing worth reading
    python benchmarks/run_gpu.py --count         # anywhere: kernel launches and waits per step
    python benchmarks/run_gpu.py --count --where 20 --only gpt   # and the lines that launch most

Workloads (a training step: forward, cross-entropy, backward, optimizer step):
    mlp-small   784-512-512-10, ReLU, batch 256, SGD      (launch-bound: many small kernels)
    mlp-gemm    4096-4096-4096-10, ReLU, batch 4096, SGD  (GEMM-bound)
    lenet       benchmarks/workloads_conv.py's LeNet, batch 256, SGD with momentum
    gpt         benchmarks/workloads_seq.py's tiny GPT (4 layers, d 128, context 128), batch 16,
                AdamW, gradient clipping at norm 1

chainrule and PyTorch run the same model code (the module's ``lib`` is ``chainrule`` or ``torch``)
from the same weights; every implementation's first loss is compared before timing, so one that
computes something else cannot look fast. ``chainrule-unfused`` is chainrule with its fused
element-wise kernels turned off (chainrule.kernels): what fusing gains, measured side by side.
Results are printed and written as JSON (--out). No number here is asserted by a test: speed
lives in the reports.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

import chainrule as cr  # noqa: E402
from chainrule import backend, kernels  # noqa: E402

WORKLOADS = {
    "mlp-small": ("mlp", (784, 512, 512, 10), 256),
    "mlp-gemm": ("mlp", (4096, 4096, 4096, 10), 4096),
    "lenet": ("lenet", None, 256),
    "gpt": ("gpt", None, 16),
}
STANDIN_WORKLOADS = {"mlp-small": ("mlp", (24, 16, 16, 5), 8), "mlp-gemm": ("mlp", (32, 32, 32, 5), 16),
                     "lenet": ("lenet", None, 8), "gpt": ("gpt", "tiny", 2)}
LR = 0.01


def mlp_problem(sizes, batch, seed=0):
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


# ----- chainrule and PyTorch: the same code, lib = chainrule or torch ----------------------------
def _on_device(lib, array):
    return lib.tensor(array, device="cuda")


def _mlp(lib, weights):
    layers = []
    for k, (w, b) in enumerate(weights):
        linear = lib.nn.Linear(w.shape[1], w.shape[0])
        with lib.no_grad():
            linear.weight.copy_(lib.tensor(w))
            linear.bias.copy_(lib.tensor(b))
        layers += [linear] + ([lib.nn.ReLU()] if k + 1 < len(weights) else [])
    return lib.nn.Sequential(*layers)


def lib_setup(lib, kind, sizes, batch):
    """The workload's model on 'cuda', its optimizer and one batch, in ``lib``."""
    clip = 0.0
    if kind == "mlp":
        weights, x, labels = mlp_problem(sizes, batch)
        model = _mlp(lib, weights).to("cuda")
        opt = lib.optim.SGD(model.parameters(), lr=LR)
    elif kind == "lenet":
        from impl_chainrule_conv import build, layers_with_weights
        from workloads_conv import make_problem

        problem = make_problem("lenet", batch, n_train=batch)
        model = build(lib)
        with lib.no_grad():
            for layer, (w, b) in zip(layers_with_weights(model), problem.weights):
                layer.weight.copy_(lib.tensor(w))
                layer.bias.copy_(lib.tensor(b))
        model = model.to("cuda")
        opt = lib.optim.SGD(model.parameters(), lr=problem.workload.lr,
                            momentum=problem.workload.momentum)
        x, labels = problem.x_train[:batch], problem.y_train[:batch]
    else:
        from impl_chainrule_seq import build
        from workloads_seq import make_problem

        problem = make_problem("gpt", batch, tiny=sizes == "tiny")
        model, opt = build(lib, "gpt", problem)
        model.to("cuda")  # in place, as PyTorch's: the optimizer keeps the same parameters
        w = problem.workload
        clip = w.grad_clip
        x, labels = problem.batches[0]
    return {"lib": lib, "model": model, "opt": opt, "params": list(model.parameters()),
            "clip": clip, "x": _on_device(lib, x), "t": _on_device(lib, labels)}


def lib_step(s):
    """One training step, the same for chainrule and torch."""
    lib = s["lib"]
    s["opt"].zero_grad()
    out = s["model"](s["x"])
    loss = lib.nn.functional.cross_entropy(out.reshape(-1, out.shape[-1]), s["t"].reshape(-1))
    loss.backward()
    if s["clip"]:
        lib.nn.utils.clip_grad_norm_(s["params"], s["clip"])
    s["opt"].step()
    return loss


# ----- the hand-fused floor: the same step written directly in the device's array library --------
def floor_setup(sizes, batch):
    weights, x, labels = mlp_problem(sizes, batch)
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


def _sync(name):
    if name == "torch":
        import torch

        torch.cuda.synchronize()
    else:
        cr.cuda.synchronize()


def time_steps(name, step, state, steps):
    """(µs per step, µs per step on the host): the second stops the clock before waiting for
    the GPU, so where the two are close the step is bound by the host (Python and launches)."""
    _sync(name)
    start = time.perf_counter()
    for _ in range(steps):
        step(state)
    host = time.perf_counter() - start
    _sync(name)
    return (time.perf_counter() - start) / steps * 1e6, host / steps * 1e6


def unfused_step(state):
    """chainrule's step with its fused kernels turned off: each op's NumPy calls, one launch each."""
    with kernels.fusing(False):
        return lib_step(state)


def implementations(kind, sizes, batch):
    """name -> (state, step) for the workload: chainrule with and without its fused kernels,
    PyTorch where it sees a GPU, and the floor for the MLPs."""
    impls = {"chainrule": (lib_setup(cr, kind, sizes, batch), lib_step),
             "chainrule-unfused": (lib_setup(cr, kind, sizes, batch), unfused_step)}
    if kind == "mlp":
        impls["floor"] = (floor_setup(sizes, batch), floor_step)
    try:
        import torch
    except ImportError:
        return impls
    if torch.cuda.is_available():
        impls["torch"] = (lib_setup(torch, kind, sizes, batch), lib_step)
    return impls


def profile_step(name, state, steps, out):
    """chainrule's step under cProfile: where the host time goes, by function."""
    profiler = cProfile.Profile()
    _sync("chainrule")
    profiler.enable()
    for _ in range(steps):
        lib_step(state)
    _sync("chainrule")
    profiler.disable()
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(35)
    out.write(f"\n===== {name}: chainrule, {steps} steps, sorted by own time =====\n")
    out.write(text.getvalue())


def torch_kernels(name, state, out):
    """How many CUDA kernels PyTorch launches in one step (torch.profiler), beside chainrule's
    launches counted on the stand-in (--count): the number that decides a launch-bound step."""
    try:
        import torch
        from torch.profiler import ProfilerActivity, profile

        torch.cuda.synchronize()
        with profile(activities=[ProfilerActivity.CUDA]) as prof:
            lib_step(state)
            torch.cuda.synchronize()
        kernels = sum(e.count for e in prof.key_averages()
                      if str(getattr(e, "device_type", "")).endswith("CUDA"))
        out.write(f"\n===== {name}: PyTorch launches {kernels} CUDA kernels (and copies) per step =====\n")
    except Exception as err:  # noqa: BLE001 - a profiler this torch lacks is reported, not fatal
        out.write(f"\n===== {name}: PyTorch's kernels not counted: {type(err).__name__}: {err}\n")


def dispatch_costs(out):
    """What one small element-wise call costs on the host, called as NumPy's function (handed to
    CuPy through __array_ufunc__ / __array_function__), as the device library's, and as an
    operator; and one synchronisation."""
    xp = backend.cuda_backend().xp
    a, b = xp.ones((256, 512), np.float32), xp.ones((256, 512), np.float32)
    calls = {"np.exp(a)": lambda: np.exp(a), "xp.exp(a)": lambda: xp.exp(a),
             "a * b": lambda: a * b, "np.multiply(a, b)": lambda: np.multiply(a, b),
             "np.sum(a, axis=1)": lambda: np.sum(a, axis=1), "a.sum(axis=1)": lambda: a.sum(axis=1),
             "np.zeros_like(a)": lambda: np.zeros_like(a), "xp.zeros_like(a)": lambda: xp.zeros_like(a),
             "np.where(a > 0, a, 0)": lambda: np.where(a > 0, a, 0),
             "synchronize": cr.cuda.synchronize, "float(a.sum())": lambda: float(a.sum())}
    calls.update(_class_pick_variants(xp))
    calls.update(_gelu_variants(xp))
    calls.update(_fused_adam_variants(xp))
    out.write("\n===== host µs per call, (256, 512) float32, median of 5 x 500 =====\n")
    for label, call in calls.items():
        rounds = []
        try:
            call()
        except Exception as err:  # noqa: BLE001 - a variant this CuPy lacks is reported, not fatal
            out.write(f"{label:>24}: failed: {type(err).__name__}: {err}\n")
            continue
        for _ in range(5):
            cr.cuda.synchronize()
            start = time.perf_counter()
            for _ in range(500):
                call()
            rounds.append((time.perf_counter() - start) / 500 * 1e6)
            cr.cuda.synchronize()
        out.write(f"{label:>24}: {statistics.median(rounds):7.1f}\n")


def _class_pick_variants(xp):
    """cross_entropy's two index operations, each written several ways, on (256, 10) float32
    with 256 targets: picking p[i, t_i], and subtracting 1 there (softmax minus the one-hot
    row). Advanced indexing in CuPy does index arithmetic of its own before the kernel; a
    comparison with the class numbers is element-wise. For the choice of cross_entropy's device
    path."""
    n, c = 256, 10
    lp, g = xp.ones((n, c), np.float32), xp.ones((n, c), np.float32)
    t = xp.zeros(n, np.int64)
    rows, classes = xp.arange(n), xp.arange(c)
    flat = rows * c

    def subtract_indexed():
        g[rows, t] -= 1

    def subtract_flat():
        g.reshape(-1)[flat + t] -= 1

    return {"xp.arange(256)": lambda: xp.arange(n),
            "p[rows, t]": lambda: lp[rows, t],
            "p.ravel().take(flat + t)": lambda: lp.reshape(-1).take(flat + t),
            "take_along_axis": lambda: xp.take_along_axis(lp, t[:, None], axis=1),
            "one-hot (t == classes)": lambda: t[:, None] == classes,
            "p[rows, t] -= 1": subtract_indexed,
            "p.ravel()[flat + t] -= 1": subtract_flat,
            "p - (t == classes)": lambda: lp - (t[:, None] == classes)}


def _gelu_variants(xp):
    """GELU (tanh) forward and backward on (2048, 512) float32, the tiny GPT's MLP activation:
    chainrule's op as a user calls it (about 20 array operations), against one ElementwiseKernel
    each way, the fused form a GPU path could take (for the choice of fusing the element-wise
    chains)."""
    x = cr.randn(2048, 512, device="cuda", requires_grad=True)
    g = cr.randn(2048, 512, device="cuda")

    def chainrule_op():
        x.grad = None
        cr.nn.functional.gelu(x, approximate="tanh").backward(g)

    variants = {"gelu tanh, chainrule op": chainrule_op}
    if backend.cuda_backend().name != "cupy":
        return variants
    forward = xp.ElementwiseKernel(
        "T x", "T y, T t",
        "t = tanh(T(0.7978845608028654) * (x + T(0.044715) * x * x * x)); y = T(0.5) * x * (1 + t);",
        "chainrule_gelu_forward_probe")
    backward = xp.ElementwiseKernel(
        "T x, T t, T g", "T dx",
        "dx = g * (T(0.5) * (1 + t) + T(0.5) * x * (1 - t * t)"
        " * T(0.7978845608028654) * (1 + T(3 * 0.044715) * x * x));",
        "chainrule_gelu_backward_probe")
    xa, ga = x._data, g._data

    def fused():
        y, t = forward(xa)
        return backward(xa, t, ga), y

    chainrule_op()  # the fused kernels must compute what the op computes, or the row says so
    dx, y = fused()
    gap = max(float(abs(dx - x.grad._data).max()),
              float(abs(y - cr.nn.functional.gelu(x.detach(), approximate="tanh")._data).max()))
    label = "gelu tanh, 2 ElementwiseKernels" + ("" if gap < 1e-5 else f" (DIFFERS by {gap:.2g})")
    variants[label] = fused
    return variants


def _fused_adam_variants(xp):
    """One Adam update of a (256, 512) parameter three ways: NumPy-style calls (one kernel each),
    cupy.fuse of the same arithmetic, and one ElementwiseKernel (for the optimizer's design)."""
    p, g, m, v = (xp.ones((256, 512), np.float32) for _ in range(4))
    beta1, beta2, step_size, bc2, eps = 0.9, 0.999, 1e-3, 0.1, 1e-8

    def plain():
        m.__iadd__((1 - beta1) * (g - m))
        v.__imul__(beta2)
        v.__iadd__((1 - beta2) * g * g)
        update = xp.sqrt(v)
        update /= bc2
        update += eps
        xp.divide(m, update, out=update)
        update *= step_size
        p.__isub__(update)

    variants = {"adam, 11 plain calls": plain}
    if backend.cuda_backend().name != "cupy":
        return variants

    @xp.fuse()
    def fused(p, g, m, v, beta1, beta2, step_size, bc2, eps):
        m += (1 - beta1) * (g - m)
        v *= beta2
        v += (1 - beta2) * g * g
        p -= step_size * m / (xp.sqrt(v) / bc2 + eps)

    kernel = xp.ElementwiseKernel(
        "T g, T beta1, T beta2, T step_size, T bc2, T eps", "T p, T m, T v",
        "m += (1 - beta1) * (g - m); v = beta2 * v + (1 - beta2) * g * g;"
        " p -= step_size * m / (sqrt(v) / bc2 + eps);", "chainrule_adam_probe")
    f32 = np.float32
    variants["adam, cupy.fuse"] = lambda: fused(p, g, m, v, f32(beta1), f32(beta2), f32(step_size),
                                                f32(bc2), f32(eps))
    variants["adam, ElementwiseKernel"] = lambda: kernel(g, f32(beta1), f32(beta2), f32(step_size),
                                                         f32(bc2), f32(eps), p, m, v)
    return variants


def count_launches(workloads, only, where=0):
    """On the stand-in device: what one training step asks of the array library, per workload and
    implementation (chainrule.standin.Counts): kernels launched, waits for the device, copies up
    to it. Runs anywhere; with the per-launch cost measured on a GPU (--profile), it says where a
    launch-bound step's time goes."""
    from chainrule import standin

    results = {}
    for name, (kind, sizes, batch) in workloads.items():
        if only and name not in only:
            continue
        results[name] = {}
        for impl, (state, step) in implementations(kind, sizes, batch).items():
            if impl == "torch":  # (not on the stand-in: nothing to count)
                continue
            step(state)
            step(state)  # state made (optimizer moments), masks cached: a step like the others
            standin.counts.where(bool(where))
            standin.counts.reset()
            standin.counts.counting = True
            try:
                step(state)
            finally:
                standin.counts.counting = False
            c = standin.counts
            results[name][impl] = {"calls": c.calls, "waits": c.waits, "uploads": c.uploads}
            print(f"{name:>10} {impl:>17}: {c.calls:5d} kernel launches, {c.waits} waits, "
                  f"{c.uploads} copies to the device per step")
            if where:
                for site, n in c.sites.most_common(where):
                    print(f"{n:16d}  {site}")
                standin.counts.where(False)
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--standin", action="store_true", help="the CPU stand-in device, tiny sizes")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--steps", type=int, default=30, help="steps per timed round")
    parser.add_argument("--only", nargs="*", default=None, help="workloads to run (default: all)")
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    parser.add_argument("--profile", type=Path, default=None,
                        help="write chainrule's host-time profile per workload here")
    parser.add_argument("--count", action="store_true",
                        help="count kernel launches and waits per step on the stand-in (anywhere, "
                             "at the real sizes), instead of timing")
    parser.add_argument("--where", type=int, default=0, metavar="N",
                        help="with --count: the N lines of code that launch the most")
    args = parser.parse_args(argv)
    unknown = set(args.only or ()) - set(WORKLOADS)
    if unknown:
        parser.error(f"--only: unknown workloads {sorted(unknown)}; expected some of {list(WORKLOADS)}.")
    if args.standin or args.count:
        backend.use_standin_cuda(True)
    if args.count:
        results = count_launches(WORKLOADS, args.only, args.where)
        if args.out:
            args.out.write_text(json.dumps({"launches": results}, indent=2))
        return 0
    if not cr.cuda.is_available():
        print("run_gpu: no CuPy with a GPU here; use --standin to check the plumbing.")
        return 2
    workloads = STANDIN_WORKLOADS if args.standin else WORKLOADS
    results = {"device": cr.cuda.get_device_name(), "workloads": {}}
    profile = args.profile.open("w") if args.profile else None
    for name, (kind, sizes, batch) in workloads.items():
        if args.only and name not in args.only:
            continue
        impls = implementations(kind, sizes, batch)
        first = {k: float(step(state).detach() if k != "floor" else step(state))
                 for k, (state, step) in impls.items()}  # one step each, compared
        spread = max(first.values()) - min(first.values())
        if spread > 1e-3 * max(abs(v) for v in first.values()):
            raise SystemExit(f"run_gpu: {name}: the first losses differ: {first}")
        for k, (state, step) in impls.items():  # warm up: kernels compiled, memory pools filled
            time_steps(k, step, state, 3)
        times = {k: [] for k in impls}
        host = {k: [] for k in impls}
        for _ in range(args.rounds):  # alternate, so drift hits every implementation alike
            for k, (state, step) in impls.items():
                total, on_host = time_steps(k, step, state, args.steps)
                times[k].append(total)
                host[k].append(on_host)
        medians = {k: statistics.median(v) for k, v in times.items()}
        host_medians = {k: statistics.median(v) for k, v in host.items()}
        results["workloads"][name] = {"kind": kind, "sizes": sizes, "batch": batch,
                                      "first_loss": first, "median_us": medians,
                                      "host_median_us": host_medians}
        line = ", ".join(f"{k} {v:,.0f} µs (host {host_medians[k]:,.0f})" for k, v in medians.items())
        ratios = ", ".join(f"chainrule/{k} {medians['chainrule'] / medians[k]:.2f}x"
                           for k in medians if k != "chainrule")
        print(f"{name} (batch {batch}): {line}; {ratios}")
        if profile:
            profile_step(name, impls["chainrule"][0], 3 * args.steps, profile)
            if "torch" in impls:
                torch_kernels(name, impls["torch"][0], profile)
    if profile:
        dispatch_costs(profile)
        profile.close()
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
