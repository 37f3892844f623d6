"""Sequence benchmarks (issue 18): the tiny GPT's training step (4 layers, 4 heads, d=128, context
128, batch 16) and a two-layer LSTM's (hidden 256, 64 steps, batch 32), float32, one thread:
chainrule against hand-fused NumPy floors and PyTorch, then where chainrule's steps spend their time.

    python benchmarks/run_seq.py               # 5 rounds, about 5-10 minutes on 2 shared cores
    python benchmarks/run_seq.py --quick       # seconds, tiny models: checks it works, numbers meaningless

The method is run.py's and run_conv.py's (see README.md): one fresh child process (child.py) per
implementation and round, BLAS pinned to one thread, rounds alternating the order, the fastest
block of steps per child, ratios taken within each round (median and min-max over rounds),
tracemalloc's step peak as memory. Two guards against a fast wrong run: the first step's loss
(all start from the same weights on the same batch) must agree with the floor's to float32
rounding, and the validation loss after all the steps to a relative 1e-3; otherwise the row says
NO and every target involving it fails. The profile at the end runs chainrule's steps under
cProfile in this process and charges each NumPy call to the chainrule file that made it.

Writes results/seq_latest.{md,json} (quick mode: results/seq_quick.*, ignored by git).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
from collections import defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from run import child_env  # noqa: E402

VARIANTS = {"floor": "floor-seq", "chainrule": "chainrule-seq", "torch-1t": "torch-seq"}
CASES = {"gpt-16": ("gpt", 16), "lstm-32": ("lstm", 32)}
# every timed step is its own block: on a shared machine the fastest single step is the least
# disturbed number (a step takes a few hundred ms; blocks of several steps were hit by other work)
FULL = {"warmup": 2, "steps": 10, "blocks": 10, "n_train": None}
QUICK = {"warmup": 1, "steps": 2, "blocks": 2, "n_train": None, "tiny": True}
# (other variant, kind, limit): chainrule over the other, median over rounds (issue 18's targets)
TARGETS = [("floor", "time", 1.3), ("torch-1t", "time", 1.3), ("floor", "memory", 1.5)]
QUALITY_RTOL = 1e-3
FIRST_LOSS_RTOL = 1e-5  # float32 rounding of a loss near 4 after a different order of sums


def run_child(variant, job, seed=0):
    env, _ = child_env(1)
    command = [sys.executable, os.path.join(HERE, "child.py"), "--impl", VARIANTS[variant],
               "--threads", "1", "--seed", str(seed), "--job", json.dumps(job)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
    lines = done.stdout.strip().splitlines()
    if done.returncode or not lines:
        return {"error": (done.stderr.strip().splitlines() or ["no output"])[-1]}
    return json.loads(lines[-1])


def _spread(values):
    return (statistics.median(values), min(values), max(values)) if values else None


def _has_torch():
    import importlib.util

    return importlib.util.find_spec("torch") is not None


def measure(case, rounds, settings):
    workload, batch = CASES[case]
    job = {"workload": workload, "batch": batch, **settings}
    names = [v for v in VARIANTS if v != "torch-1t" or _has_torch()]
    results = []
    for r in range(rounds):
        result = {}
        for variant in (names if r % 2 == 0 else names[::-1]):
            result[variant] = run_child(variant, job)
            mark = result[variant].get("us_per_step")
            print(f"{case} round {r + 1}: {variant:10s} "
                  + (f"{mark / 1e3:8.1f} ms/step" if mark else result[variant].get("error", "?")),
                  flush=True)
        results.append(result)
    return results


PAIRED = {"rounds": 15, "warmup": 1}
PAIRED_QUICK = {"rounds": 2, "warmup": 1}


def paired_child(case, rounds, warmup, tiny):
    """In this process: every implementation set up side by side, then ``rounds`` rounds of one
    step each, taking turns (order reversed every round). Returns ms per step, per round."""
    import importlib
    import time

    try:
        from threadpoolctl import threadpool_limits
        threadpool_limits(1)
    except ImportError:  # the environment variables pin the threads already
        pass
    workload, batch = CASES[case]
    names = [v for v in VARIANTS if v != "torch-1t" or _has_torch()]
    modules = {}
    for name in names:
        from child import IMPLEMENTATIONS

        modules[name] = importlib.import_module(IMPLEMENTATIONS[VARIANTS[name]])
        if name == "torch-1t":
            import torch

            torch.set_num_threads(1)
    states = {name: modules[name].setup(workload, batch, 0, tiny=tiny) for name in names}
    for name in names:
        for _ in range(warmup):
            modules[name].step(states[name])
    times = {name: [] for name in names}
    for r in range(rounds):
        for name in (names if r % 2 == 0 else names[::-1]):
            start = time.perf_counter()
            modules[name].step(states[name])
            times[name].append((time.perf_counter() - start) * 1e3)
    return times


def measure_paired(case, settings, tiny):
    """paired_child in a fresh process with BLAS pinned to one thread; a summary of its times:
    per implementation the fastest and median step, and the median (min-max) over rounds of
    chainrule's step over each other's in the same round."""
    env, _ = child_env(1)
    command = [sys.executable, os.path.abspath(__file__), "--paired-child", case, "--rounds",
               str(settings["rounds"])] + (["--quick"] if tiny else [])
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=1800)
    lines = done.stdout.strip().splitlines()
    if done.returncode or not lines:
        return {"error": (done.stderr.strip().splitlines() or ["no output"])[-1]}
    times = json.loads(lines[-1])
    return {"times_ms": times, "summary": {name: {
        "best_ms": min(t), "median_ms": statistics.median(t),
        "chainrule_over": _spread([a / b for a, b in zip(times["chainrule"], t)]),
        "floor_over": _spread([a / b for a, b in zip(times["floor"], t)])}
        for name, t in times.items()}}


def _close(a, b, rtol):
    return a is not None and b is not None and math.isfinite(a) and abs(a - b) <= rtol * abs(b)


def summarise(results, tokens_per_step):
    floor = results[0]["floor"]
    summary = {}
    for variant in results[0]:
        runs = [r[variant] for r in results if "error" not in r[variant]]
        if not runs:
            summary[variant] = {"error": results[0][variant]["error"]}
            continue
        ms = _spread([run["us_per_step"] / 1e3 for run in runs])
        summary[variant] = {
            "ms_per_step": ms,
            "tokens_per_s": tokens_per_step / ms[0] * 1e3,
            "step_peak_mb": runs[-1]["step_peak_mb"],
            "first_loss": runs[-1]["first_loss"],
            "quality": runs[-1]["quality"],
            "quality_ok": all(_close(run["first_loss"], floor["first_loss"], FIRST_LOSS_RTOL)
                              and _close(run["quality"]["val_loss"], floor["quality"]["val_loss"],
                                         QUALITY_RTOL) for run in runs),
            "ratio_chainrule_over": _spread([r["chainrule"]["us_per_step"] / r[variant]["us_per_step"]
                                             for r in results if "us_per_step" in r[variant]
                                             and "us_per_step" in r["chainrule"]]),
            "ratio_floor_over": _spread([r["floor"]["us_per_step"] / r[variant]["us_per_step"]
                                         for r in results if "us_per_step" in r[variant]
                                         and "us_per_step" in r["floor"]]),
        }
    return summary


def _where(func, src):
    """A short label for the file a profiled function lives in."""
    path = func[0]
    if path.startswith(src):
        return path[len(src):].lstrip(os.sep)
    return os.path.basename(path)


def profile_chainrule(case, steps, tiny):
    """cProfile of chainrule's step on ``case``: seconds per source file and per function, where a
    NumPy call written in C (a product, a ufunc) is charged to the function that made it."""
    import cProfile
    import pstats

    src = os.path.join(os.path.dirname(HERE), "src", "chainrule")
    sys.path.insert(0, os.path.dirname(src))  # chainrule, as the children
    import impl_chainrule_seq as impl

    try:
        from threadpoolctl import threadpool_limits
        limit = threadpool_limits(1)
    except ImportError:
        limit = None
    workload, batch = CASES[case]
    state = impl.setup(workload, batch, 0, tiny=tiny)
    impl.step(state)
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(steps):
        impl.step(state)
    profiler.disable()
    if limit is not None:
        limit.unregister()
    by_file, by_function = defaultdict(float), defaultdict(float)

    def charge(func, seconds):
        by_file[_where(func, src)] += seconds
        by_function[(_where(func, src), func[2])] += seconds

    def ours(func):  # chainrule's code or the benchmark's
        return func[0].startswith(src) or func[0].startswith(HERE)

    # Our functions keep their own time; a NumPy or built-in function (C or Python) is charged,
    # with everything below it, to the function of ours that called it.
    for func, (_, _, own, _, callers) in pstats.Stats(profiler).stats.items():
        if ours(func):
            charge(func, own)
        else:
            for caller, (_, _, _, below) in callers.items():
                if ours(caller):
                    charge(caller, below)
    total = sum(by_file.values())

    def top(table, n):
        rows = sorted(table.items(), key=lambda kv: -kv[1])[:n]
        return [(key if isinstance(key, str) else f"{key[0]}: {key[1]}", t / steps * 1e3, t / total)
                for key, t in rows]

    return {"ms_per_step": total / steps * 1e3, "files": top(by_file, 12),
            "functions": top(by_function, 15)}


TITLES = {
    "gpt-16": "gpt-16: tiny GPT, 4 layers, 4 heads, d=128, context 128, vocabulary 65, batch 16; "
              "cross-entropy, clip 1.0, AdamW",
    "lstm-32": "lstm-32: Embedding(65, 128), LSTM(128, 256, 2 layers), Linear(256, 65); 64 steps, "
               "batch 32; cross-entropy, Adam",
}


def report(summaries, paired, profiles, command, rounds, load):
    lines = ["# Sequence benchmarks: float32, 1 thread", "",
             f"`{command}` ({rounds} rounds; load average {load[0]:.1f} at the start, "
             f"{load[1]:.1f} at the end, on {os.cpu_count()} cores)", ""]
    if "--quick" in command:
        lines += ["Quick mode: tiny models (the sizes below are the full run's); numbers meaningless.",
                  ""]
    for case, summary in summaries.items():
        lines += _case_report(case, summary, paired.get(case))
        if case in paired:
            lines += _paired_report(paired[case])
    for case, prof in profiles.items():
        lines += ["", f"## Where chainrule's {case} step goes (cProfile, {prof['ms_per_step']:.0f} ms "
                  "per profiled step; C calls charged to their caller)", "",
                  "| file | ms per step | share |", "|---|---|---|"]
        lines += [f"| {label} | {ms:.1f} | {share:.0%} |" for label, ms, share in prof["files"]]
        lines += ["", "| function | ms per step | share |", "|---|---|---|"]
        lines += [f"| {label} | {ms:.1f} | {share:.0%} |" for label, ms, share in prof["functions"]]
    return "\n".join(lines) + "\n"


def _paired_report(paired):
    if "error" in paired:
        return [f"Paired (one process, steps taking turns): error: {paired['error']}", ""]
    rounds = len(next(iter(paired["times_ms"].values())))
    lines = [f"Paired: the implementations in one process, one step each in turn, {rounds} rounds "
             "(order reversed every round); the ratio is taken within each round, so both steps "
             "of a pair see nearly the same machine:", "",
             "| implementation | fastest step ms | median step ms | chainrule / it, per round: "
             "median (min-max) | floor / it |", "|---|---|---|---|---|"]
    for name, s in paired["summary"].items():
        ratio = s["chainrule_over"]
        lines.append(f"| {name} | {s['best_ms']:.1f} | {s['median_ms']:.1f} | {ratio[0]:.2f}x "
                     f"({ratio[1]:.2f}-{ratio[2]:.2f}) | {s['floor_over'][0]:.2f}x |")
    return lines + [""]


def _case_report(case, summary, paired=None):
    lines = [f"## {TITLES[case]}", "",
             "| implementation | ms per step (median, min-max) | tokens/s | chainrule / it | "
             "floor / it | step peak MB | first loss | val loss | agrees |",
             "|---|---|---|---|---|---|---|---|---|"]
    for variant, s in summary.items():
        if "error" in s:
            lines.append(f"| {variant} | error: {s['error']} | | | | | | | |")
            continue
        ms, ratio, floor = s["ms_per_step"], s["ratio_chainrule_over"], s["ratio_floor_over"]
        peak = "-" if s["step_peak_mb"] is None else f"{s['step_peak_mb']:.1f}"
        lines.append(
            f"| {variant} | {ms[0]:.1f} ({ms[1]:.1f}-{ms[2]:.1f}) | {s['tokens_per_s']:,.0f} | "
            f"{ratio[0]:.2f}x ({ratio[1]:.2f}-{ratio[2]:.2f}) | {floor[0]:.2f}x | {peak} | "
            f"{s['first_loss']:.6f} | {s['quality']['val_loss']:.6f} | "
            f"{'ok' if s['quality_ok'] else 'NO'} |")
    paired = None if paired is None or "error" in paired else paired["summary"]
    lines += ["", "Targets (chainrule over the other, median over rounds; time also paired, below):",
              "", "| target | one process each | paired, one process | result |", "|---|---|---|---|"]
    for other, kind, limit in TARGETS:
        if other not in summary or "error" in summary[other] or "error" in summary["chainrule"]:
            continue
        together = "-"
        if kind == "time":
            value = summary[other]["ratio_chainrule_over"][0]
            separate = f"{value:.2f}x"
            if paired is not None and other in paired:
                value = paired[other]["chainrule_over"][0]  # the steadier number decides
                together = f"{value:.2f}x"
        else:
            value = summary["chainrule"]["step_peak_mb"] / summary[other]["step_peak_mb"]
            separate = f"{value:.2f}x"
        ok = value <= limit and summary[other]["quality_ok"] and summary["chainrule"]["quality_ok"]
        lines.append(f"| {kind}: chainrule / {other} <= {limit} | {separate} | {together} | "
                     f"{'pass' if ok else '**FAIL**'} |")
    return lines + [""]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--only", default=",".join(CASES), help=f"cases, comma-separated: {list(CASES)}")
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument("--no-paired", action="store_true")
    parser.add_argument("--paired-child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--out", default=os.path.join(HERE, "results"))
    args = parser.parse_args(argv)
    if args.paired_child:  # run by measure_paired in a fresh process
        settings = PAIRED_QUICK if args.quick else PAIRED
        times = paired_child(args.paired_child, args.rounds or settings["rounds"],
                             settings["warmup"], args.quick)
        print(json.dumps(times))
        return 0
    load_start = os.getloadavg()[0]
    cases = args.only.split(",")
    unknown = [c for c in cases if c not in CASES]
    if unknown:
        parser.error(f"unknown case(s) {unknown}; choose from {list(CASES)}")
    settings = QUICK if args.quick else FULL
    rounds = args.rounds or (1 if args.quick else 5)
    results = {case: measure(case, rounds, settings) for case in cases}
    paired = {} if args.no_paired else {
        case: measure_paired(case, PAIRED_QUICK if args.quick else PAIRED, args.quick)
        for case in cases}
    summary = {}
    for case, case_results in results.items():
        from workloads_seq import make_problem

        problem = make_problem(CASES[case][0], CASES[case][1], tiny=args.quick)
        summary[case] = summarise(case_results, problem.batch * problem.workload.context)
    profiles = {} if args.no_profile else {
        case: profile_chainrule(case, 1 if args.quick else 3, args.quick) for case in cases}
    command = "python benchmarks/run_seq.py" + " ".join([""] + (argv if argv is not None else sys.argv[1:]))
    text = report(summary, paired, profiles, command, rounds, (load_start, os.getloadavg()[0]))
    print(text)
    os.makedirs(args.out, exist_ok=True)
    stem = "seq_quick" if args.quick else "seq_latest"
    with open(os.path.join(args.out, stem + ".md"), "w") as f:
        f.write(text)
    with open(os.path.join(args.out, stem + ".json"), "w") as f:
        json.dump({"results": results, "summary": summary, "paired": paired, "profiles": profiles},
                  f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
