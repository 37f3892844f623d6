"""Paired timing in one process: short blocks of steps of two or more implementations, alternating.

    python benchmarks/paired.py                          # chainrule against the floor, seed, batch 32
    python benchmarks/paired.py --batch 500 --impls chainrule,chainrule-ops,floor-dot,floor
    python benchmarks/paired.py --workload gpt --batch 16 --impls chainrule-seq,floor-seq \
        --rounds 20 --block 1 --warmup 2             # the sequence workloads (run_seq.py's)

run.py gives every measurement its own process, as a benchmark should; on a machine that switches
between a fast and a slow state, a round whose two children ran in different states gives a
ratio far off the rest. Here the implementations share one process and take turns in blocks of
50 steps (order reversed every round), so both sides of each pair see nearly the same moment.
Printed per implementation: its best block, 10th percentile and median (µs per step), and
against the last one named (the reference): the ratio of best blocks and the median of the
per-pair ratios. This is how the engine changes in the README were measured, before and after
each commit. Sharing a process favours no one: each implementation keeps its own state, and
the warm-up runs every one of them first.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before NumPy loads its thread pool

import argparse  # noqa: E402
import importlib  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from child import IMPLEMENTATIONS  # noqa: E402


def paired(names: list, workload: str, batch: int, rounds: int, block: int, warmup: int) -> dict:
    """µs per step of each implementation, one number per block, blocks taken in turn."""
    modules = [importlib.import_module(IMPLEMENTATIONS[name]) for name in names]
    states = [m.setup(workload, batch) for m in modules]
    for module, state in zip(modules, states):
        for _ in range(warmup):
            module.step(state)
    times = {name: [] for name in names}
    turn = list(zip(names, modules, states))
    for r in range(rounds):
        for name, module, state in (turn if r % 2 == 0 else turn[::-1]):
            step = module.step
            start = time.perf_counter()
            for _ in range(block):
                step(state)
            times[name].append((time.perf_counter() - start) / block * 1e6)
    return times


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--impls", default="chainrule,floor",
                        help="comma-separated, the reference last (default: chainrule,floor)")
    parser.add_argument("--workload", default="seed", choices=("seed", "wide", "gpt", "lstm"))
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=600)
    parser.add_argument("--block", type=int, default=50, help="steps per block")
    parser.add_argument("--warmup", type=int, default=300)
    args = parser.parse_args(argv)
    names = args.impls.split(",")
    unknown = [n for n in names if n not in IMPLEMENTATIONS]
    if unknown:
        parser.error(f"unknown implementation(s) {unknown}; choose from {sorted(IMPLEMENTATIONS)}")
    if "torch" in names or "sklearn" in names:
        parser.error("paired.py compares NumPy-based implementations in one process; use run.py "
                     "for torch and sklearn, which need their own thread settings")
    times = paired(names, args.workload, args.batch, args.rounds, args.block, args.warmup)
    reference = times[names[-1]]
    print(f"{args.workload}, batch {args.batch}: {args.rounds} rounds of {args.block}-step blocks, "
          f"one process, reference {names[-1]}")
    for name in names:
        t = sorted(times[name])
        pairs = [a / b for a, b in zip(times[name], reference)]
        print(f"  {name:14s} best {t[0]:8.1f}  p10 {t[len(t) // 10]:8.1f}  median "
              f"{statistics.median(t):8.1f} us | best / best {t[0] / min(reference):.2f}  "
              f"median of pair ratios {statistics.median(pairs):.2f}")


if __name__ == "__main__":
    main()
