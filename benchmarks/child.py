"""One measurement in a fresh process: set up one implementation on one workload, time its steps,
then report quality, memory and the BLAS library in use as one JSON line on stdout.

run.py starts this script once per (implementation, workload, round), with the thread-count
variables already in the environment, so they take effect before NumPy or PyTorch load their
thread pools.

    python benchmarks/child.py --impl floor --threads 1 \
        --job '{"workload": "seed", "batch": 32, "steps": 2000, "warmup": 200}'

What it measures, in order:
1. ``warmup`` untimed steps (first-call costs, caches, the allocator settling);
2. ``steps`` timed steps in ``blocks`` equal blocks; each block gives one time per step, and the
   fastest block is the result (timeit's convention: on a shared machine other processes only
   ever add time, so the fastest block is the best estimate of the step's own cost; the median
   block is reported too);
3. the validation quality after all those steps (every implementation runs the same steps on the
   same batches from the same weights, so the qualities should agree);
4. memory: the process's peak resident set (ru_maxrss: interpreter, libraries, data and all), and
   the peak of memory traced by tracemalloc during a few more steps, above what was allocated
   when they began (NumPy reports its array buffers to tracemalloc, so this is the step's working
   memory in arrays and Python objects; PyTorch allocates outside it, so None there).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import numbers
import os
import resource
import statistics
import sys
import time
import tracemalloc

IMPLEMENTATIONS = {
    "floor": "impl_floor",
    "floor-dot": "impl_floor_dot",
    "chainrule": "impl_chainrule",
    "chainrule-ops": "impl_chainrule_ops",
    "torch": "impl_torch",
    "sklearn": "impl_sklearn",
    # the convolutional workload (lenet, run by run_conv.py)
    "floor-conv": "impl_floor_conv",
    "chainrule-conv": "impl_chainrule_conv",
    "torch-conv": "impl_torch_conv",
    # the sequence workloads (gpt and lstm, run by run_seq.py)
    "floor-seq": "impl_floor_seq",
    "chainrule-seq": "impl_chainrule_seq",
    "torch-seq": "impl_torch_seq",
}

TRACEMALLOC_STEPS = 3


def _run_steps(module, state, n):
    many = getattr(module, "steps", None)
    if many is not None:
        many(state, n)
        return
    step = module.step
    for _ in range(n):
        step(state)


def _blas_info(module_name: str) -> list:
    """The BLAS/OpenMP libraries loaded in this process, as threadpoolctl sees them."""
    libraries = []
    try:
        from threadpoolctl import threadpool_info
    except ImportError:  # the thread count is still pinned by the environment variables
        threadpool_info = list
        libraries.append({"api": "unknown (threadpoolctl not installed)", "version": None,
                          "architecture": None, "threads": None, "file": ""})
    for lib in threadpool_info():
        libraries.append(
            {
                "api": lib.get("internal_api"),
                "version": lib.get("version"),
                "architecture": lib.get("architecture"),
                "threads": lib.get("num_threads"),
                "file": os.path.basename(lib.get("filepath", "")),
            }
        )
    if module_name.startswith("impl_torch"):
        import torch

        libraries.append(
            {
                "api": "torch" + (" mkl" if torch.backends.mkl.is_available() else "")
                + (" mkldnn" if torch.backends.mkldnn.is_available() else ""),
                "version": torch.__version__,
                "architecture": torch.backends.cpu.get_cpu_capability(),
                "threads": torch.get_num_threads(),
                "file": "built into torch",
            }
        )
    return libraries


def measure(impl, workload, batch, seed, steps, warmup, blocks, threads, n_train, tiny=False) -> dict:
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # the environment variables set by run.py pin the threads already

        def threadpool_limits(limits):
            return contextlib.nullcontext()

    module_name = IMPLEMENTATIONS[impl]
    with threadpool_limits(limits=threads):
        module = importlib.import_module(module_name)
        if module_name.startswith("impl_torch"):
            import torch

            torch.set_num_threads(threads)
        state = module.setup(workload, batch, seed, n_train=n_train, **({"tiny": True} if tiny else {}))
        first_loss = None
        if warmup:  # an implementation that leaves its loss in state["loss"] reports the first one
            _run_steps(module, state, 1)
            loss = state.get("loss") if isinstance(state, dict) else None
            first_loss = float(loss) if isinstance(loss, numbers.Real) else None
        _run_steps(module, state, warmup - 1 if warmup else 0)
        blocks = max(1, min(blocks, steps))
        per_block = [steps // blocks + (1 if b < steps % blocks else 0) for b in range(blocks)]
        block_us = []
        for n in per_block:
            start = time.perf_counter()
            _run_steps(module, state, n)
            block_us.append((time.perf_counter() - start) / n * 1e6)
        steps_done = warmup + steps
        quality = module.quality(state)
        step_peak_mb = None
        if not module_name.startswith("impl_torch"):
            tracemalloc.start()
            tracemalloc.reset_peak()
            base, _ = tracemalloc.get_traced_memory()
            _run_steps(module, state, TRACEMALLOC_STEPS)
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            step_peak_mb = (peak - base) / 2**20
        blas = _blas_info(module_name)
    return {
        "impl": impl,
        "name": module.NAME,
        "workload": workload,
        "batch": batch,
        "threads": threads,
        "steps_timed": steps,
        "steps_before_quality": steps_done,
        "us_per_step": min(block_us),
        "us_per_step_median_block": statistics.median(block_us),
        "block_us": block_us,
        "quality": quality,
        "first_loss": first_loss,
        "rss_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,  # KiB on Linux
        "step_peak_mb": step_peak_mb,
        "blas": blas,
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--impl", choices=sorted(IMPLEMENTATIONS), required=True)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--job", action="append", required=True, type=json.loads, metavar="JSON",
        help='one measurement: {"workload": "seed", "batch": 32, "steps": 2000, "warmup": 200, '
        '"blocks": 5, "n_train": null}; repeat to run several one after the other in this '
        "process (quick mode only: a full run uses one process per measurement)",
    )
    args = parser.parse_args(argv)
    for job in args.job:
        result = measure(
            args.impl, job["workload"], job["batch"], args.seed, job["steps"],
            job.get("warmup", 0), job.get("blocks", 5), args.threads, job.get("n_train"),
            job.get("tiny", False),
        )
        sys.stdout.write(json.dumps(result) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
