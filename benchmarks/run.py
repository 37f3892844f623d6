"""Benchmark driver: chainrule against a hand-written NumPy floor, PyTorch and scikit-learn.

    python benchmarks/run.py                 # full run (5 rounds), writes results/latest.{md,json}
    python benchmarks/run.py --quick         # seconds: one round, few steps, results/quick.{md,json}
    python benchmarks/run.py --only seed-32,chainrule,floor --rounds 3

Every measurement is a fresh child process (child.py) running one implementation on one case
(workload and batch size), so no implementation warms caches, loads libraries or grows the heap
for another. A round runs every implementation once per case; rounds alternate the order
(A B C, then C B A, ...) so a slow drift of the machine does not favour whoever runs first. The
table gives, per implementation, the median time per step over rounds with its min-max, and the
ratio chainrule / that implementation taken within each round (median and min-max over rounds).

Children get OPENBLAS_NUM_THREADS, OMP_NUM_THREADS and MKL_NUM_THREADS set to their thread count
before anything is imported, and OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE removed (a forced core type
can make OpenBLAS pick slow kernels); each child reports the BLAS library and kernel it actually
ran (threadpoolctl), and the table shows it.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import math
import os
import platform
import shlex
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

from workloads import WORKLOADS  # noqa: E402

# case key -> (workload, batch)
CASES = {"seed-32": ("seed", 32), "seed-500": ("seed", 500), "wide-256": ("wide", 256)}

# variant key -> (implementation in child.py, threads, python package it needs)
VARIANTS = {
    "floor": ("floor", 1, None),
    "floor-dot": ("floor-dot", 1, None),
    "chainrule": ("chainrule", 1, None),
    "chainrule-ops": ("chainrule-ops", 1, None),
    "torch-1t": ("torch", 1, "torch"),
    "torch-2t": ("torch", 2, "torch"),
    "sklearn-1t": ("sklearn", 1, "sklearn"),
    "sklearn-2t": ("sklearn", 2, "sklearn"),
}
QUICK_VARIANTS = ("floor", "floor-dot", "chainrule", "chainrule-ops", "torch-1t", "sklearn-1t")

# Steps per child: (warmup, timed, blocks, training-set size or None for the workload's own).
FULL_STEPS = {"seed": (200, 2000, 10, None), "wide": (5, 100, 10, None)}
QUICK_STEPS = {"seed": (5, 40, 2, 2_000), "wide": (1, 4, 2, 512)}

# (case, other variant, kind, limit, strict): chainrule's time (or step memory) over the other's
# must be <= limit (< limit when strict), in the median over rounds.
TARGETS = [
    ("seed-32", "floor", "time", 2.0, False),
    ("seed-500", "floor", "time", 1.5, False),
    ("wide-256", "floor", "time", 1.10, False),
    ("wide-256", "torch-1t", "time", 1.0, False),
    ("wide-256", "floor", "memory", 1.3, False),
    ("seed-32", "sklearn-1t", "time", 1.0, True),
    ("seed-500", "sklearn-1t", "time", 1.0, True),
    ("wide-256", "sklearn-1t", "time", 1.0, True),
]

# Relative difference in validation quality from the floor above which a run counts as wrong.
QUALITY_RTOL = 1e-3
SUBJECT = "chainrule"
CHILD_TIMEOUT_S = 600


def child_env(threads: int) -> tuple[dict, dict]:
    """The environment of a child: thread counts pinned, OpenBLAS core overrides removed."""
    env = dict(os.environ)
    removed = {name: env.pop(name) for name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
               if name in env}
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[name] = str(threads)
    src = os.path.join(ROOT, "src")
    env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env, removed


def run_child(variant: str, cases: list, steps: dict, seed: int) -> list:
    """Measure ``variant`` on each of ``cases`` in one child process; one result per case (a dict
    with "error" for a case that failed)."""
    impl, threads, _ = VARIANTS[variant]
    command = [sys.executable, os.path.join(HERE, "child.py"), "--impl", impl,
               "--threads", str(threads), "--seed", str(seed)]
    for case in cases:
        workload, batch = CASES[case]
        warmup, timed, blocks, n_train = steps[workload]
        job = {"workload": workload, "batch": batch, "steps": timed, "warmup": warmup,
               "blocks": blocks, "n_train": n_train}
        command += ["--job", json.dumps(job)]
    env, _ = child_env(threads)
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True,
                              timeout=CHILD_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return [{"error": f"timed out after {CHILD_TIMEOUT_S} s"}] * len(cases)
    results = []
    for line in done.stdout.strip().splitlines():
        try:
            results.append(json.loads(line))
        except ValueError:
            pass
    if len(results) < len(cases):
        last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        error = {"error": f"exit {done.returncode}: {last}", "stderr": done.stderr[-4000:]}
        results += [error] * (len(cases) - len(results))
    return results


def main_metric(workload: str) -> str:
    return "val_mse" if WORKLOADS[workload].loss == "mse" else "val_loss"


def initial_quality(case: str, seed: int, n_train) -> dict:
    """Validation quality at the shared initial weights (what training should improve on)."""
    import impl_floor

    workload, batch = CASES[case]
    return impl_floor.quality(impl_floor.setup(workload, batch, seed, n_train=n_train))


def _spread(values):
    return (statistics.median(values), min(values), max(values)) if values else None


def summarise(case: str, variants: list, rounds: list) -> dict:
    """Per variant: time and memory over rounds, quality, ratio of chainrule to it per round."""
    workload = CASES[case][0]
    metric = main_metric(workload)
    floor_quality = None
    for result in rounds:
        if "error" not in result.get("floor", {"error": 1}):
            floor_quality = result["floor"]["quality"][metric]
            break
    summary = {}
    for variant in variants:
        runs = [r[variant] for r in rounds if variant in r and "error" not in r[variant]]
        errors = [r[variant]["error"] for r in rounds if variant in r and "error" in r[variant]]
        if not runs:
            summary[variant] = {"error": errors[0] if errors else "not run"}
            continue
        qualities = [run["quality"][metric] for run in runs]
        quality_ok = all(math.isfinite(q) for q in qualities) and (
            floor_quality is None
            or all(abs(q - floor_quality) <= QUALITY_RTOL * abs(floor_quality) for q in qualities)
        )
        time_ratios, memory_ratios, floor_ratios = [], [], []
        for r in rounds:
            mine, other, floor = r.get(SUBJECT, {}), r.get(variant, {}), r.get("floor", {})
            if "us_per_step" in mine and "us_per_step" in other:
                time_ratios.append(mine["us_per_step"] / other["us_per_step"])
            if "us_per_step" in floor and "us_per_step" in other:
                floor_ratios.append(floor["us_per_step"] / other["us_per_step"])
            if mine.get("step_peak_mb") and other.get("step_peak_mb"):
                memory_ratios.append(mine["step_peak_mb"] / other["step_peak_mb"])
        summary[variant] = {
            "name": runs[0]["name"],
            "threads": runs[0]["threads"],
            "us_per_step": _spread([run["us_per_step"] for run in runs]),
            "ratio": _spread(time_ratios),
            "ratios_per_round": time_ratios,
            # The same ratio for the hand-written floor: what no engine on NumPy can beat.
            "floor_ratio": _spread(floor_ratios),
            "memory_ratios_per_round": memory_ratios,
            "memory_ratio": _spread(memory_ratios),
            "quality": runs[-1]["quality"],
            "quality_ok": quality_ok,
            "steps_before_quality": runs[-1]["steps_before_quality"],
            "rss_peak_mb": statistics.median(run["rss_peak_mb"] for run in runs),
            "step_peak_mb": (statistics.median(run["step_peak_mb"] for run in runs)
                             if runs[-1]["step_peak_mb"] is not None else None),
            "blas": blas_summary(runs[-1]["blas"]),
            "errors": errors,
        }
    return summary


def blas_summary(libraries: list) -> str:
    parts = []
    for lib in libraries:
        if lib["api"] == "openmp":
            continue
        text = " ".join(str(v) for v in (lib["api"], lib["version"], lib["architecture"]) if v)
        part = f"{text} ({lib['threads']}t)"
        if part not in parts:
            parts.append(part)
    return "; ".join(parts)


def evaluate_targets(summaries: dict) -> list:
    rows = []
    for case, other, kind, limit, strict in TARGETS:
        summary = summaries.get(case, {})
        mine, theirs = summary.get(SUBJECT, {}), summary.get(other, {})
        label = (f"{case}: {SUBJECT} {'step memory' if kind == 'memory' else 'time'} / {other} "
                 f"{'<' if strict else '<='} {limit:g}")
        spread = theirs.get("memory_ratio" if kind == "memory" else "ratio")
        if "error" in mine or "error" in theirs or not spread:
            rows.append({"target": label, "ratio": None, "result": "not measured"})
            continue
        median = spread[0]
        passed = median < limit if strict else median <= limit
        if not (mine["quality_ok"] and theirs["quality_ok"]):
            passed = False
        per_round = theirs["memory_ratios_per_round" if kind == "memory" else "ratios_per_round"]
        floor_spread = theirs.get("floor_ratio") if kind == "time" and other != "floor" else None
        rows.append({"target": label, "ratio": spread, "per_round": per_round,
                     "floor_ratio": floor_spread,
                     "result": "pass" if passed else "FAIL",
                     "quality_ok": mine["quality_ok"] and theirs["quality_ok"]})
    return rows


def _fmt_spread(spread, digits=1, suffix=""):
    if not spread:
        return "-"
    median, low, high = spread
    return f"{median:.{digits}f}{suffix} ({low:.{digits}f}-{high:.{digits}f})"


def _fmt_us(us):
    return f"{us / 1000:.2f} ms" if us >= 10_000 else f"{us:.1f} us"


def render_markdown(meta: dict, summaries: dict, targets: list, initial: dict) -> str:
    lines = ["# chainrule benchmarks", ""]
    lines += [
        f"Command: `{meta['command']}`  ",
        f"Date: {meta['date']}; {meta['rounds']} round(s); git {meta['git']}  ",
        f"Machine: {meta['cpu']}, {meta['cores']} cores (shared with other work: expect noise); "
        f"load average before/after: {meta['load_before']} / {meta['load_after']}  ",
        f"Python {meta['python']}; {meta['versions']}  ",
        f"Child environment: {meta['env_note']}",
        "",
        "Times are per SGD step (forward, loss, backward, update) of one minibatch, float32. A child",
        "process times its steps in blocks and keeps its fastest block (other processes on a shared",
        "machine only add time); the table gives the median of that over rounds, and its min-max",
        "over rounds. `chainrule / this` is the ratio taken within each round. Quality is measured",
        "after the same number of steps on the same batches from the same initial weights, so it",
        f"must match the floor's (relative difference <= {QUALITY_RTOL:g}) or the run is wrong.",
        "Memory: `peak RSS` is ru_maxrss of the whole child process (interpreter, libraries,",
        "data); `step peak` is tracemalloc's peak during 3 extra steps above what was allocated",
        "before them: the arrays and Python objects a step needs (NumPy reports its buffers to",
        "tracemalloc; PyTorch allocates outside it, so `-`).",
        "",
    ]
    if meta.get("quick"):
        lines += [
            "**Quick mode**: a few steps, one round, every case of an implementation in one process;",
            "it checks that the suite runs and that every implementation trains correctly. Its times",
            "and peak RSS mean nothing: use a full run for numbers.",
            "",
        ]
    lines += [
        "## Targets",
        "",
        "`the floor's ratio` is the same ratio for the hand-written NumPy floor, in the same rounds:",
        "where it is near the limit, NumPy itself is, and no engine built on it can do better.",
        "",
        "| target | measured: median (min-max over rounds) | each round | the floor's ratio | result |",
        "|---|---|---|---|---|",
    ]
    for row in targets:
        measured = _fmt_spread(row["ratio"], 2, "x")
        if row.get("quality_ok") is False:
            measured += " (quality differs from floor)"
        each = " ".join(f"{r:.2f}" for r in row.get("per_round", []))
        floor = _fmt_spread(row.get("floor_ratio"), 2, "x")
        lines.append(f"| {row['target']} | {measured} | {each} | {floor} | {row['result']} |")
    for case, summary in summaries.items():
        workload_name, batch = CASES[case]
        w = WORKLOADS[workload_name]
        metric = main_metric(workload_name)
        sizes = "-".join(str(s) for s in w.sizes)
        lines += [
            "",
            f"## {case}: {sizes} {w.activation}, {w.loss}, SGD lr {w.lr:g}"
            + (f" momentum {w.momentum:g}" if w.momentum else "") + f", batch {batch}",
            "",
        ]
        init = initial.get(case)
        if init:
            lines += [
                "At the initial weights: "
                + ", ".join(f"{k} {v:.4g}" for k, v in init.items()) + ".",
                "",
            ]
        lines += [
            f"| implementation | threads | time/step | min-max | {SUBJECT} / this | {metric} "
            "| accuracy | quality ok | peak RSS MB | step peak MB | BLAS |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for variant, s in summary.items():
            if "error" in s:
                lines.append(f"| {variant} | | error: {s['error']} | | | | | | | | |")
                continue
            median, low, high = s["us_per_step"]
            accuracy = s["quality"].get("val_accuracy")
            step_peak = s["step_peak_mb"]
            lines.append(
                f"| {variant} | {s['threads']} | {_fmt_us(median)} | {_fmt_us(low)}-{_fmt_us(high)}"
                f" | {_fmt_spread(s['ratio'], 2, 'x')} | {s['quality'][metric]:.6g}"
                f" | {'-' if accuracy is None else f'{accuracy:.4f}'}"
                f" | {'yes' if s['quality_ok'] else 'NO'} | {s['rss_peak_mb']:.0f}"
                f" | {'-' if step_peak is None else f'{step_peak:.2f}'}"
                f" | {s['blas']} |"
            )
    return "\n".join(lines) + "\n"


def _git_commit() -> str:
    try:
        done = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--", "src"],
                               capture_output=True, text=True, timeout=10)
        return done.stdout.strip() + (" (src modified)" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def _versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    parts = []
    for package in ("numpy", "torch", "scikit-learn", "threadpoolctl"):
        try:
            parts.append(f"{package} {version(package)}")
        except PackageNotFoundError:
            parts.append(f"{package} not installed")
    return ", ".join(parts)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="one round of a few steps, to check the suite works (seconds)")
    parser.add_argument("--rounds", type=int, default=None, help="rounds (default 5; quick 1)")
    parser.add_argument("--steps", type=int, default=None,
                        help="timed steps per child for every case (default: seed 2000, wide 100)")
    parser.add_argument("--only", default=None,
                        help="comma-separated case and/or implementation keys to run, from: "
                        + ", ".join(list(CASES) + list(VARIANTS)))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=os.path.join(HERE, "results"),
                        help="folder for the results (latest.md/json; quick.md/json with --quick)")
    args = parser.parse_args(argv)
    if args.rounds is not None and args.rounds < 1:
        parser.error(f"--rounds must be at least 1. Got {args.rounds} instead.")
    if args.steps is not None and args.steps < 1:
        parser.error(f"--steps must be at least 1. Got {args.steps} instead.")
    return args


def select(args):
    cases = list(CASES)
    variants = list(QUICK_VARIANTS if args.quick else VARIANTS)
    if args.only:
        wanted = [key.strip() for key in args.only.split(",") if key.strip()]
        unknown = [key for key in wanted if key not in CASES and key not in VARIANTS]
        if unknown:
            raise SystemExit(f"--only: unknown key {unknown[0]!r}; choose from "
                             f"{', '.join(list(CASES) + list(VARIANTS))}.")
        if any(key in CASES for key in wanted):
            cases = [key for key in cases if key in wanted]
        if any(key in VARIANTS for key in wanted):
            variants = [key for key in VARIANTS if key in wanted]
    skipped = {}
    for variant in list(variants):
        package = VARIANTS[variant][2]
        if package and importlib.util.find_spec(package) is None:
            variants.remove(variant)
            skipped[variant] = f"{package} is not installed"
    return cases, variants, skipped


def main(argv=None) -> int:
    args = parse_args(argv)
    cases, variants, skipped = select(args)
    rounds = args.rounds or (1 if args.quick else 5)
    steps = dict(QUICK_STEPS if args.quick else FULL_STEPS)
    if args.steps is not None:
        steps = {k: (w, args.steps, min(b, args.steps), n) for k, (w, _, b, n) in steps.items()}
    _, removed = child_env(1)
    env_note = (
        "OPENBLAS_NUM_THREADS = OMP_NUM_THREADS = MKL_NUM_THREADS = the thread count; "
        + (f"removed {', '.join(f'{k}={v}' for k, v in removed.items())}" if removed
           else "OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE were not set")
    )
    meta = {
        "command": " ".join(shlex.quote(a) for a in ["python", os.path.relpath(__file__, ROOT)]
                            + (sys.argv[1:] if argv is None else list(argv))),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "rounds": rounds,
        "git": _git_commit(),
        "cpu": _cpu_name(),
        "cores": os.cpu_count(),
        "load_before": _load(),
        "python": platform.python_version(),
        "versions": _versions(),
        "env_note": env_note,
        "steps": steps,
        "skipped": skipped,
        "quick": args.quick,
    }
    results = {case: [] for case in cases}
    for r in range(rounds):
        order = variants if r % 2 == 0 else variants[::-1]
        round_results = {case: {} for case in cases}
        # Quick mode: one process per implementation, all cases in it (only checks it works).
        groups = [(v, cases) for v in order] if args.quick else [
            (v, [case]) for case in cases for v in order]
        for variant, group in groups:
            for case, result in zip(group, run_child(variant, group, steps, args.seed)):
                round_results[case][variant] = result
                status = (f"error: {result['error']}" if "error" in result
                          else f"{result['us_per_step']:.1f} us/step")
                print(f"round {r + 1}/{rounds} {case:9s} {variant:14s} {status}", flush=True)
        for case in cases:
            results[case].append(round_results[case])
    meta["load_after"] = _load()
    initial = {case: initial_quality(case, args.seed, steps[CASES[case][0]][3]) for case in cases}
    summaries = {case: summarise(case, variants, results[case]) for case in cases}
    targets = evaluate_targets(summaries)
    markdown = render_markdown(meta, summaries, targets, initial)
    if skipped:
        markdown += "\nSkipped: " + "; ".join(f"{k} ({v})" for k, v in skipped.items()) + "\n"
    os.makedirs(args.out, exist_ok=True)
    stem = "quick" if args.quick else "latest"
    with open(os.path.join(args.out, stem + ".md"), "w") as f:
        f.write(markdown)
    with open(os.path.join(args.out, stem + ".json"), "w") as f:
        json.dump({"meta": meta, "initial_quality": initial, "summaries": summaries,
                   "targets": targets, "rounds": results}, f, indent=1)
    print()
    print(markdown)
    failed_children = [s for summary in summaries.values() for s in summary.values()
                       if "error" in s]
    return 1 if failed_children else 0


if __name__ == "__main__":
    sys.exit(main())
