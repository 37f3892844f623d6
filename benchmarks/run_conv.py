"""Convolution benchmarks: LeNet on 1x28x28 (batch 256) and a small ResNet block on 3x32x32 (batch
64), float32, one thread: chainrule against a hand-fused NumPy im2col+GEMM floor and PyTorch, then
where chainrule's LeNet step spends its time.

    python benchmarks/run_conv.py              # 3 rounds, about 2-4 minutes on 2 shared cores
    python benchmarks/run_conv.py --quick      # seconds: checks it works, numbers meaningless

The method is run.py's (see README.md): one fresh child process (child.py) per implementation and
round, BLAS pinned to one thread, rounds alternating the order, the fastest block of steps per
child, ratios taken within each round (median and min-max over rounds), validation quality
checked against the floor's (a fast wrong run fails), and tracemalloc's step peak as memory.
The profile at the end runs chainrule's step under cProfile in this process and groups the
time by what the code is doing.

Writes results/conv_latest.{md,json} (quick mode: results/conv_quick.*, ignored by git).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from run import child_env  # noqa: E402

VARIANTS = {"floor": "floor-conv", "chainrule": "chainrule-conv", "torch-1t": "torch-conv"}
CASES = {"lenet-256": ("lenet", 256), "resnet-64": ("resnet", 64)}
FULL = {"warmup": 3, "steps": 30, "blocks": 5, "n_train": None}
QUICK = {"warmup": 1, "steps": 2, "blocks": 2, "n_train": 256}
# (other variant, kind, limit): chainrule over the other, median over rounds (issue 17's targets)
TARGETS = [("floor", "time", 1.25), ("torch-1t", "time", 1.5), ("floor", "memory", 1.5)]
QUALITY_RTOL = 1e-3


def run_child(variant, job, seed=0):
    impl = VARIANTS[variant]
    env, _ = child_env(1)
    command = [sys.executable, os.path.join(HERE, "child.py"), "--impl", impl, "--threads", "1",
               "--seed", str(seed), "--job", json.dumps(job)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
    lines = done.stdout.strip().splitlines()
    if done.returncode or not lines:
        return {"error": (done.stderr.strip().splitlines() or ["no output"])[-1]}
    return json.loads(lines[-1])


def _spread(values):
    return (statistics.median(values), min(values), max(values)) if values else None


def measure(case, rounds, settings):
    workload, batch = CASES[case]
    job = {"workload": workload, "batch": batch, **settings}
    results = []
    names = [v for v in VARIANTS if v != "torch-1t" or _has_torch()]
    for r in range(rounds):
        order = names if r % 2 == 0 else names[::-1]
        result = {}
        for variant in order:
            result[variant] = run_child(variant, job)
            mark = result[variant].get("us_per_step")
            print(f"{case} round {r + 1}: {variant:10s} "
                  + (f"{mark / 1e3:8.1f} ms/step" if mark else result[variant].get("error", "?")),
                  flush=True)
        results.append(result)
    return results


def _has_torch():
    import importlib.util

    return importlib.util.find_spec("torch") is not None


def summarise(results):
    floor_quality = results[0]["floor"]["quality"]["val_loss"]
    summary = {}
    for variant in results[0]:
        runs = [r[variant] for r in results if "error" not in r[variant]]
        if not runs:
            summary[variant] = {"error": results[0][variant]["error"]}
            continue
        quality = runs[-1]["quality"]["val_loss"]
        summary[variant] = {
            "ms_per_step": _spread([run["us_per_step"] / 1e3 for run in runs]),
            "step_peak_mb": runs[-1]["step_peak_mb"],
            "quality": runs[-1]["quality"],
            "quality_ok": math.isfinite(quality)
            and abs(quality - floor_quality) <= QUALITY_RTOL * abs(floor_quality),
            "ratio_chainrule_over": _spread([r["chainrule"]["us_per_step"] / r[variant]["us_per_step"]
                                             for r in results if "us_per_step" in r[variant]
                                             and "us_per_step" in r["chainrule"]]),
            "ratio_floor_over": _spread([r["floor"]["us_per_step"] / r[variant]["us_per_step"]
                                         for r in results if "us_per_step" in r[variant]
                                         and "us_per_step" in r["floor"]]),
        }
    return summary


def profile_chainrule(steps):
    """cProfile of chainrule's LeNet step, grouped: im2col, the convolutions' GEMMs (with the
    layout copies around them), col2im, max pooling, and everything else."""
    import cProfile
    import pstats

    sys.path.insert(0, os.path.join(os.path.dirname(HERE), "src"))  # chainrule, as the children
    import impl_chainrule_conv as impl

    try:
        from threadpoolctl import threadpool_limits
        limit = threadpool_limits(1)
    except ImportError:
        limit = None
    state = impl.setup("lenet", 256, 0, n_train=1024)
    for _ in range(2):
        impl.step(state)
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(steps):
        impl.step(state)
    profiler.disable()
    if limit is not None:
        limit.unregister()
    groups = {
        "im2col (conv forward; conv 2's columns)": ("im2col",),
        "conv GEMMs and their layout copies": ("conv_arrays", "_weight_grad", "conv_transpose_arrays"),
        "col2im (conv 2's input gradient)": ("col2im",),
        "max pooling forward and backward": ("max_pool_arrays", "max_pool_backward", "put_along_axis",
                                             "_window_view"),
    }
    stats = pstats.Stats(profiler).stats
    total = sum(v[2] for v in stats.values())  # tottime summed: the whole profiled time
    shares = {}
    for label, names in groups.items():
        shares[label] = sum(v[2] for (_, _, fn), v in stats.items() if fn in names)
    # numpy calls made directly by those functions are counted in their tottime only when they are
    # C functions cProfile does not see (ufuncs such as np.matmul); the others it lists apart:
    shares["everything else (ReLU, Linear, loss, SGD, engine, copies)"] = total - sum(shares.values())
    return {label: (t / steps * 1e3, t / total) for label, t in shares.items()}, total / steps * 1e3


TITLES = {
    "lenet-256": "lenet-256: conv 5x5 -> pool -> conv 5x5 -> pool -> 3 Linear, 1x28x28, batch 256",
    "resnet-64": "resnet-64: conv 3x3 + BatchNorm stem, one residual block (two 3x3 convs, "
                 "BatchNorm, skip), global average pool, Linear; 3x32x32, batch 64",
}


def report(summaries, profile, profile_ms, command, rounds):
    lines = ["# Convolution benchmarks: float32, 1 thread", "", f"`{command}` ({rounds} rounds)", ""]
    for case, summary in summaries.items():
        lines += _case_report(case, summary)
    lines += ["", f"## Where chainrule's lenet-256 step goes (cProfile, {profile_ms:.0f} ms per "
              "profiled step)", "", "| part | ms per step | share |", "|---|---|---|"]
    for label, (ms, share) in profile.items():
        lines.append(f"| {label} | {ms:.1f} | {share:.0%} |")
    return "\n".join(lines) + "\n"


def _case_report(case, summary):
    lines = [f"## {TITLES[case]}", "",
             "| implementation | ms per step (median, min-max) | chainrule / it | floor / it | "
             "step peak MB | val loss | quality |", "|---|---|---|---|---|---|---|"]
    for variant, s in summary.items():
        if "error" in s:
            lines.append(f"| {variant} | error: {s['error']} | | | | | |")
            continue
        ms, ratio, floor = s["ms_per_step"], s["ratio_chainrule_over"], s["ratio_floor_over"]
        peak = "-" if s["step_peak_mb"] is None else f"{s['step_peak_mb']:.1f}"
        lines.append(
            f"| {variant} | {ms[0]:.1f} ({ms[1]:.1f}-{ms[2]:.1f}) | {ratio[0]:.2f}x "
            f"({ratio[1]:.2f}-{ratio[2]:.2f}) | {floor[0]:.2f}x | {peak} | "
            f"{s['quality']['val_loss']:.6f} | {'ok' if s['quality_ok'] else 'NO'} |")
    lines += ["", "Targets (chainrule over the other, median over rounds):", "",
              "| target | measured | result |", "|---|---|---|"]
    for other, kind, limit in TARGETS:
        if other not in summary or "error" in summary[other]:
            continue
        if kind == "time":
            value = summary[other]["ratio_chainrule_over"][0]
        else:
            value = summary["chainrule"]["step_peak_mb"] / summary[other]["step_peak_mb"]
        ok = value <= limit and summary[other]["quality_ok"] and summary["chainrule"]["quality_ok"]
        lines.append(f"| {kind}: chainrule / {other} <= {limit} | {value:.2f}x | "
                     f"{'pass' if ok else '**FAIL**'} |")
    return lines + [""]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--out", default=os.path.join(HERE, "results"))
    args = parser.parse_args(argv)
    settings = QUICK if args.quick else FULL
    rounds = args.rounds or (1 if args.quick else 3)
    results = {case: measure(case, rounds, settings) for case in CASES}
    summary = {case: summarise(case_results) for case, case_results in results.items()}
    profile, profile_ms = profile_chainrule(2 if args.quick else 10)
    command = "python benchmarks/run_conv.py" + (" --quick" if args.quick else "")
    text = report(summary, profile, profile_ms, command, rounds)
    print(text)
    os.makedirs(args.out, exist_ok=True)
    stem = "conv_quick" if args.quick else "conv_latest"
    with open(os.path.join(args.out, stem + ".md"), "w") as f:
        f.write(text)
    with open(os.path.join(args.out, stem + ".json"), "w") as f:
        json.dump({"results": results, "summary": summary, "profile": profile}, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
