"""Where a chainrule training step spends its time: phases, engine pieces, and cProfile.

    python benchmarks/profile_step.py                     # seed network, batch 32
    python benchmarks/profile_step.py --batch 500 --cprofile 25

Prints three things for impl_chainrule's step (nn.Sequential + nn.MSELoss + optim.SGD):

1. the step and its parts, timed interleaved (every part once per round, many rounds, best of
   each: the machine's speed drifts, so parts timed minutes apart do not add up): the phases
   (zero_grad, forward through the Modules, loss, backward, optimizer step), the same forward
   and loss through the bare ops' apply, the ops' own forward and backward bodies (their NumPy
   work); from these, who spends the step: op bodies, apply()
   bookkeeping, the Module layer, the backward loop, the optimizer, and how much more forward and
   backward cost when run back to back than each in its own tight loop (caches and branch
   predictors are warmer in a tight loop, so every part timed alone is optimistic); next to the
   NumPy floor;
2. the cost of single engine pieces on this graph (timeit, best of repeats): each op's apply
   against the bare NumPy forward it wraps (the difference is per-op bookkeeping), the Module
   call layer, gradient accumulation, Tensor and Node creation;
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
import timeit  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

import chainrule as cr  # noqa: E402
import impl_chainrule  # noqa: E402
import impl_floor  # noqa: E402
import impl_floor_dot  # noqa: E402
from chainrule import autograd, ops  # noqa: E402
from chainrule.tensor import Tensor  # noqa: E402


def best_us(fn, number, repeat=5):
    """Best time per call in microseconds over ``repeat`` runs of ``number`` calls (None when
    ``fn`` fails: the engine may have renamed or removed the piece since this was written)."""
    try:
        return min(timeit.repeat(fn, number=number, repeat=repeat)) / number * 1e6
    except (AttributeError, TypeError):
        return None


def interleaved_best(parts: dict, number: int, rounds: int) -> dict:
    """Best time per call (us) of each callable, timing all of them once per round, in alternating
    order, so every part sees the same moments of a drifting, shared machine."""
    best = dict.fromkeys(parts, float("inf"))
    names = list(parts)
    for r in range(rounds):
        for name in names if r % 2 == 0 else names[::-1]:
            elapsed = timeit.timeit(parts[name], number=number)
            best[name] = min(best[name], elapsed / number * 1e6)
    return best


def _op_bodies(loss):
    """(``loss`` recorded under ``autograd.keep_input_tensors()``.)
    Two callables running, for every node of ``loss``'s graph, the op's own forward (on its
    input arrays, with a fresh context) and its backward (with that context and an upstream
    gradient of ones): the NumPy work of one step, without any engine around it."""
    nodes = []
    for node in autograd.topological_order(loss.grad_fn):
        arrays = [x.numpy() if isinstance(x, Tensor) else x for x in node.input_tensors]
        ctx = autograd.Node(node.fn)
        ctx.needs_input_grad = node.needs_input_grad
        out = np.asarray(node.fn.forward(ctx, *arrays))
        nodes.append((node.fn, arrays, node.needs_input_grad, ctx, np.ones_like(out)))

    def forward_bodies():
        for fn, arrays, needs, _, _ in nodes:
            ctx = autograd.Node(fn)
            ctx.needs_input_grad = needs
            fn.forward(ctx, *arrays)

    def backward_bodies():
        for fn, _, _, ctx, grad_out in nodes:
            fn.backward(ctx, grad_out)

    return forward_bodies, backward_bodies


def _bare_forward(state):
    """Forward and loss through the same ops' apply, without Module, F.* or the loss module."""
    x, t = state["batches"][0]
    plan = []
    for module in state["model"]:
        if isinstance(module, cr.nn.Linear):
            plan.append((ops.Linear, (module.weight, module.bias)))
        else:
            plan.append((ops.Sigmoid if isinstance(module, cr.nn.Sigmoid) else ops.ReLU, ()))
    loss_op = ops.MSELoss if isinstance(state["loss_fn"], cr.nn.MSELoss) else ops.CrossEntropyLoss

    def bare():
        out = x
        for op, extra in plan:
            out = op.apply(out, *extra)
        return loss_op.apply(out, t, "mean")

    return bare


def measure_parts(state, floor, floor_dot, number: int, rounds: int) -> dict:
    """Best time (us) of the whole step and of each of its parts, measured interleaved."""
    model, loss_fn, optimizer = state["model"], state["loss_fn"], state["optimizer"]
    x, t = state["batches"][0]
    with autograd.keep_input_tensors():  # so _op_bodies can find every op's input arrays
        forward_bodies, backward_bodies = _op_bodies(loss_fn(model(x), t))
    out = model(x)
    loss = loss_fn(out, t)
    optimizer.zero_grad()
    loss.backward(retain_graph=True)

    def zero_grad_and_backward():
        optimizer.zero_grad()
        loss.backward(retain_graph=True)

    def zero_grad_forward_backward():
        optimizer.zero_grad()
        loss_fn(model(x), t).backward()

    return interleaved_best(
        {
            "step": lambda: impl_chainrule.step(state),
            "floor step": lambda: impl_floor.step(floor),
            "floor-dot step": lambda: impl_floor_dot.step(floor_dot),
            "zero_grad": optimizer.zero_grad,
            "forward": lambda: model(x),
            "loss": lambda: loss_fn(out, t),
            "bare forward and loss": _bare_forward(state),
            "op forward bodies": forward_bodies,
            "zero_grad + backward": zero_grad_and_backward,
            "zero_grad + forward + loss + backward": zero_grad_forward_backward,
            "op backward bodies": backward_bodies,
            "optimizer step": optimizer.step,
        },
        number,
        rounds,
    )


def who_spends_it(parts: dict) -> list:
    """(who, us) from the interleaved parts; the remainder is what the parts do not explain."""
    backward = parts["zero_grad + backward"] - parts["zero_grad"]
    rows = [
        ("op forward bodies (NumPy work in forward())", parts["op forward bodies"]),
        ("apply() bookkeeping: Node, Tensor, input checks",
         parts["bare forward and loss"] - parts["op forward bodies"]),
        ("Module layer: __call__, F.*, parameter lookup, loss module",
         parts["forward"] + parts["loss"] - parts["bare forward and loss"]),
        ("op backward bodies (NumPy work in backward())", parts["op backward bodies"]),
        ("backward() bookkeeping: the walk, checks, accumulation",
         backward - parts["op backward bodies"]),
        ("optimizer: zero_grad + step", parts["zero_grad"] + parts["optimizer step"]),
        ("phases back to back vs each in its own tight loop",
         parts["zero_grad + forward + loss + backward"] - parts["zero_grad"] - parts["forward"]
         - parts["loss"] - backward),
    ]
    rows.append(("rest", parts["step"] - sum(us for _, us in rows)))
    return rows


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
    x_a, w_a, b_a, h_a, out_a, t_a = x.numpy(), w.numpy(), b.numpy(), h.numpy(), out.numpy(), t.numpy()
    grad = np.ones_like(h_a)

    def linear_numpy():
        y = x_a.dot(w_a.T)
        y += b_a
        return y

    def sigmoid_numpy():
        y = np.tanh(0.5 * h_a)
        y *= 0.5
        y += 0.5
        return y

    def mse_numpy():
        diff = out_a - t_a
        return np.asarray(np.add.reduce(diff * diff, axis=None) / diff.size)

    def mse_numpy_vdot():
        diff = out_a - t_a
        return np.asarray(np.vdot(diff, diff) / diff.size)

    def mse_numpy_mean():
        diff = out_a - t_a
        return np.asarray((diff * diff).mean())

    def backward_retained():
        loss.backward(retain_graph=True)

    def no_grad_block():
        with cr.no_grad():
            pass

    n = 20_000
    rows = [
        ("Linear.apply (forward + graph record)", best_us(lambda: ops.Linear.apply(x, w, b), n)),
        ("  its NumPy work: x.dot(W.T); += b", best_us(linear_numpy, n)),
        ("  the same product with @: x @ W.T", best_us(lambda: x_a @ w_a.T, n)),
        ("  the same product with .dot: x.dot(W.T)", best_us(lambda: x_a.dot(w_a.T), n)),
        ("nn.Linear call (Module.__call__ -> forward -> apply)", best_us(lambda: first(x), n)),
        ("Sigmoid.apply", best_us(lambda: ops.Sigmoid.apply(h), n)),
        ("  its NumPy work: tanh(0.5 x), *= 0.5, += 0.5", best_us(sigmoid_numpy, n)),
        ("nn.MSELoss call", best_us(lambda: loss_fn(out, t), n)),
        ("  its NumPy work: diff, add.reduce(diff * diff) / n", best_us(mse_numpy, n)),
        ("  same with (diff*diff).mean()", best_us(mse_numpy_mean, n)),
        ("  same with vdot(diff, diff) (float32 sums: inaccurate)", best_us(mse_numpy_vdot, n)),
        ("whole model(x): 3 Module calls + 3 applies", best_us(lambda: model(x), n)),
        ("loss.backward(retain_graph=True), whole graph", best_us(backward_retained, n // 4)),
        ("Node.next_functions() of the loss node", best_us(loss.grad_fn.next_functions, n)),
        ("Node(fn) creation", best_us(lambda: autograd.Node(ops.Sigmoid), n * 5)),
        ("Tensor._from_op (a Tensor for an op's output)", best_us(
            lambda: Tensor._from_op(h_a, None), n * 5)),
        ("grad.copy() (the copy a leaf's first gradient gets)", best_us(grad.copy, n * 5)),
        ("np.array(1, dtype) (the seed gradient dL/dL)", best_us(
            lambda: np.array(1, dtype=loss.numpy().dtype), n * 5)),
        ("np.ones_like(loss) (what it replaced)", best_us(lambda: np.ones_like(loss.numpy()), n * 5)),
        ("with no_grad(): (entered once per backward)", best_us(no_grad_block, n * 5)),
        ("optimizer.zero_grad()", best_us(state["optimizer"].zero_grad, n)),
    ]
    del s
    return rows


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workload", default="seed", choices=("seed", "wide"))
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--number", type=int, default=200, help="calls per timed block")
    parser.add_argument("--rounds", type=int, default=30, help="interleaved rounds")
    parser.add_argument("--cprofile", type=int, default=0, metavar="N",
                        help="also print the top N functions by own time under cProfile")
    args = parser.parse_args(argv)

    state = impl_chainrule.setup(args.workload, args.batch, seed=0)
    floor = impl_floor.setup(args.workload, args.batch, seed=0)
    floor_dot = impl_floor_dot.setup(args.workload, args.batch, seed=0)
    for _ in range(20):
        impl_chainrule.step(state)
        impl_floor.step(floor)
        impl_floor_dot.step(floor_dot)
    parts = measure_parts(state, floor, floor_dot, args.number, args.rounds)
    step, floor_us, floor_dot_us = parts["step"], parts["floor step"], parts["floor-dot step"]
    print(f"chainrule from {os.path.dirname(cr.__file__)}")
    print(f"{args.workload} network, batch {args.batch}: chainrule step {step:.1f} us, NumPy floor "
          f"step {floor_us:.1f} us ({step / floor_us:.2f}x), floor with .dot {floor_dot_us:.1f} us "
          f"({step / floor_dot_us:.2f}x); best of {args.rounds} interleaved rounds of "
          f"{args.number} calls")
    print("\nPhases of the step (each timed alone):")
    phases = {
        "zero_grad": parts["zero_grad"],
        "forward (Modules)": parts["forward"],
        "loss (module)": parts["loss"],
        "backward": parts["zero_grad + backward"] - parts["zero_grad"],
        "optimizer step": parts["optimizer step"],
    }
    for name, us in phases.items():
        print(f"  {name:58s} {us:8.1f} us  {100 * us / step:5.1f} %")
    print("\nWho spends it:")
    for name, us in who_spends_it(parts):
        print(f"  {name:58s} {us:8.1f} us  {100 * us / step:5.1f} %")
    if args.workload == "seed":
        print("\nEngine pieces (best of 5, microseconds per call):")
        for name, us in pieces(state):
            print(f"  {name:58s} " + ("    n/a" if us is None else f"{us:7.2f}"))
    if args.cprofile:
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(args.number * 10):
            impl_chainrule.step(state)
        profiler.disable()
        print()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(args.cprofile)


if __name__ == "__main__":
    main()
