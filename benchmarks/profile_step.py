"""Where a chainrule training step spends its time: phases, engine pieces, and cProfile.

    python benchmarks/profile_step.py                     # seed network, batch 32
    python benchmarks/profile_step.py --batch 500 --cprofile 25

Prints three things for impl_chainrule's step (nn.Sequential + nn.MSELoss + optim.SGD):

1. the step split into phases (zero_grad, forward, loss, backward, optimizer step), timed with
   perf_counter around each phase over many steps (best of a few repeats), next to the
   hand-written NumPy floor's whole step;
2. the cost of single engine pieces on this graph (timeit, best of repeats): each op's apply
   against the bare NumPy forward it wraps (the difference is per-op bookkeeping), the Module
   call layer, the topological sort, gradient accumulation, Tensor and Node creation;
3. optionally (--cprofile N) the N functions with the most own time under cProfile (which
   inflates every Python call, so read it for where, not for how much).

One BLAS thread, as in the benchmark. The machine is shared: run it twice and trust the lower.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before NumPy loads its thread pool

import argparse  # noqa: E402
import cProfile  # noqa: E402
import pstats  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import timeit  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

import chainrule as cr  # noqa: E402
import impl_chainrule  # noqa: E402
import impl_floor  # noqa: E402
from chainrule import autograd, ops  # noqa: E402
from chainrule.tensor import Tensor  # noqa: E402


def best_us(fn, number, repeat=5):
    """Best time per call in microseconds over ``repeat`` runs of ``number`` calls (None when
    ``fn`` fails: the engine may have renamed or removed the piece since this was written)."""
    try:
        return min(timeit.repeat(fn, number=number, repeat=repeat)) / number * 1e6
    except (AttributeError, TypeError):
        return None


def phases(state, steps: int, repeat: int = 3) -> dict:
    """Best-of-repeat mean time per phase of impl_chainrule's step, in microseconds."""
    model, loss_fn, optimizer = state["model"], state["loss_fn"], state["optimizer"]
    batches = state["batches"]
    clock = time.perf_counter
    best = None
    for _ in range(repeat):
        totals = dict.fromkeys(("zero_grad", "forward", "loss", "backward", "optimizer step"), 0.0)
        for i in range(steps):
            x, t = batches[i % len(batches)]
            t0 = clock()
            optimizer.zero_grad()
            t1 = clock()
            out = model(x)
            t2 = clock()
            loss = loss_fn(out, t)
            t3 = clock()
            loss.backward()
            t4 = clock()
            optimizer.step()
            t5 = clock()
            totals["zero_grad"] += t1 - t0
            totals["forward"] += t2 - t1
            totals["loss"] += t3 - t2
            totals["backward"] += t4 - t3
            totals["optimizer step"] += t5 - t4
        result = {k: v / steps * 1e6 for k, v in totals.items()}
        if best is None or sum(result.values()) < sum(best.values()):
            best = result
    return best


def pieces(state) -> list:
    """(what, microseconds) for single engine pieces on the seed network's graph."""
    model, loss_fn = state["model"], state["loss_fn"]
    x, t = state["batches"][0]
    first = model[0]
    w, b = first.weight, first.bias
    h = ops.Linear.apply(x, w, b)
    s = ops.Sigmoid.apply(h)
    out = model(x)
    loss = loss_fn(out, t)
    x_a, w_a, b_a, h_a, out_a, t_a = x.data, w.data, b.data, h.data, out.data, t.data
    grad = np.ones_like(h_a)

    def linear_numpy():
        y = x_a @ w_a.T
        y += b_a
        return y

    def mse_numpy():
        diff = out_a - t_a
        return np.asarray((diff * diff).mean())

    def mse_numpy_sum():
        diff = out_a - t_a
        return np.asarray(np.dot(diff.ravel(), diff.ravel()) / diff.size)

    def backward_retained():
        loss.backward(retain_graph=True)

    def no_grad_block():
        with cr.no_grad():
            pass

    n = 20_000
    rows = [
        ("Linear.apply (forward + graph record)", best_us(lambda: ops.Linear.apply(x, w, b), n)),
        ("  its NumPy work: x @ W.T; += b", best_us(linear_numpy, n)),
        ("nn.Linear call (Module.__call__ -> F.linear -> apply)", best_us(lambda: first(x), n)),
        ("Sigmoid.apply", best_us(lambda: ops.Sigmoid.apply(h), n)),
        ("  its NumPy work: 0.5 * tanh(0.5 x) + 0.5", best_us(lambda: 0.5 * np.tanh(0.5 * h_a)
                                                              + 0.5, n)),
        ("nn.MSELoss call", best_us(lambda: loss_fn(out, t), n)),
        ("  its NumPy work: diff, (diff*diff).mean()", best_us(mse_numpy, n)),
        ("  same with dot(diff, diff) / n instead of .mean()", best_us(mse_numpy_sum, n)),
        ("whole model(x): 3 Module calls + 3 applies", best_us(lambda: model(x), n)),
        ("loss.backward(retain_graph=True), whole graph", best_us(backward_retained, n // 4)),
        ("topological_order(loss.grad_fn), 4 nodes", best_us(
            lambda: autograd.topological_order(loss.grad_fn), n)),
        ("Node.next_functions() of the loss node", best_us(loss.grad_fn.next_functions, n)),
        ("Node(fn) creation", best_us(lambda: autograd.Node(ops.Sigmoid), n * 5)),
        ("Tensor._from_op (a Tensor for an op's output)", best_us(
            lambda: Tensor._from_op(h_a, None), n * 5)),
        ("np.array(grad) (copy made by _accumulate_into)", best_us(lambda: np.array(grad), n * 5)),
        ("np.ones_like(loss) (the seed gradient)", best_us(lambda: np.ones_like(loss.data), n * 5)),
        ("with no_grad(): (entered once per backward)", best_us(no_grad_block, n * 5)),
        ("optimizer.zero_grad()", best_us(state["optimizer"].zero_grad, n)),
    ]
    del s
    return rows


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workload", default="seed", choices=("seed", "wide"))
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--cprofile", type=int, default=0, metavar="N",
                        help="also print the top N functions by own time under cProfile")
    args = parser.parse_args(argv)

    state = impl_chainrule.setup(args.workload, args.batch, seed=0)
    floor = impl_floor.setup(args.workload, args.batch, seed=0)
    for _ in range(200):
        impl_chainrule.step(state)
        impl_floor.step(floor)
    split = phases(state, args.steps)
    floor_us = best_us(lambda: impl_floor.step(floor), args.steps, repeat=3)
    total = sum(split.values())
    print(f"{args.workload} network, batch {args.batch}: chainrule step {total:.1f} us, "
          f"NumPy floor step {floor_us:.1f} us ({total / floor_us:.2f}x)")
    for name, us in split.items():
        print(f"  {name:16s} {us:8.1f} us  {100 * us / total:5.1f} %")
    if args.workload == "seed":
        print("\nEngine pieces (best of 5, microseconds per call):")
        for name, us in pieces(state):
            print(f"  {name:58s} " + ("    n/a" if us is None else f"{us:7.2f}"))
    if args.cprofile:
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(args.steps):
            impl_chainrule.step(state)
        profiler.disable()
        print()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(args.cprofile)


if __name__ == "__main__":
    main()
