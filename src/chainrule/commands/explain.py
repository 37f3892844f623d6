"""``chainrule explain``: the seed network's backward pass on one sample, step by step.

Builds the seed network (Linear(2, H) -> Sigmoid -> Linear(H, 1), MSE loss; H = 10 by default) in
float64, draws one sample (a, b) ~ N(0, 1) with target z = 5 a^2 + 3 b^2, and prints what
``loss.backward()`` does at every node: the op, its local derivative (from the op's docstring),
its forward value, the gradient flowing in and the gradients flowing out. It ends with the
parameter gradients and checks them against ``loss.backward()``.

    chainrule explain
    chainrule explain --hidden 3 --sample 5 --graph seed.png
"""

from __future__ import annotations

import os

import numpy as np

from . import CommandError


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "explain",
        help="print the seed network's backward pass step by step (the chain rule at work)",
        description="Print the backward pass of the seed network (2-H-1, sigmoid, MSE) on one "
        "sample, node by node: each op's local derivative, the incoming and outgoing gradients.",
    )
    parser.add_argument("--hidden", type=int, default=10, help="hidden units H (default 10)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the weights and of the data (default 0)")
    parser.add_argument("--sample", type=int, default=0,
                        help="which sample of the seeded data to use, from 0 (default 0)")
    parser.add_argument("--precision", type=int, default=4,
                        help="digits after the decimal point in printed values (default 4)")
    parser.add_argument("--graph", metavar="PATH", default=None,
                        help="also save the graph: PATH.dot as Graphviz text, PATH.png / .svg / .pdf "
                        "rendered (needs pip install graphviz and apt-get install graphviz)")
    parser.set_defaults(run=run)


def _check(args) -> None:
    if not 1 <= args.hidden <= 64:
        raise CommandError(f"--hidden must be an int in [1, 64] (the trace prints every unit). "
                           f"Got {args.hidden} instead.")
    if args.seed < 0:
        raise CommandError(f"--seed must be an int >= 0. Got {args.seed} instead.")
    if not 0 <= args.sample < 100_000:
        raise CommandError(f"--sample must be an int in [0, 100000). Got {args.sample} instead.")
    if not 0 <= args.precision <= 16:
        raise CommandError(f"--precision must be an int in [0, 16]. Got {args.precision} instead.")
    if args.graph is not None and _graph_format(args.graph) is None:
        raise CommandError(f"--graph must end in .dot, .png, .svg or .pdf. Got {args.graph!r} instead.")
    folder = os.path.dirname(os.path.abspath(args.graph)) if args.graph is not None else None
    if folder is not None and not os.path.isdir(folder):  # before printing the whole trace
        raise CommandError(f"--graph {args.graph}: the folder {folder} does not exist.")
    if args.graph is not None and _graph_format(args.graph) != "dot":
        from ..apps.viz import check_renderer

        try:
            check_renderer()  # also before the trace: a missing Graphviz is said at once
        except ImportError as err:
            raise CommandError(f"--graph {args.graph}: {err} Or save the DOT text with "
                               f"--graph {os.path.splitext(args.graph)[0]}.dot.") from None


def _graph_format(path: str):
    suffix = os.path.splitext(path)[1].lower().lstrip(".")
    return suffix if suffix in ("dot", "png", "svg", "pdf") else None


def _save_graph(loss, names, path: str) -> None:
    from ..files import atomic_write
    from ..apps.viz import graph, render

    dot = graph(loss, params=names)
    if _graph_format(path) == "dot":
        with atomic_write(path, "w", what="--graph") as f:
            f.write(dot)
    else:
        render(dot, path, format=_graph_format(path))
    print(f"graph saved to {path}")


def run(args) -> int:
    import chainrule as cr
    from ..apps.trace import explain

    _check(args)
    cr.manual_seed(args.seed)
    model = cr.nn.Sequential(cr.nn.Linear(2, args.hidden, dtype=np.float64), cr.nn.Sigmoid(),
                             cr.nn.Linear(args.hidden, 1, dtype=np.float64))
    a, b = np.random.default_rng(args.seed).standard_normal((args.sample + 1, 2))[args.sample]
    z = 5 * a**2 + 3 * b**2
    x = cr.tensor(np.array([[a, b]]))
    target = cr.tensor(np.array([[z]]))
    with cr.autograd.keep_input_tensors():  # so the trace can show every intermediate value
        prediction = model(x)
        loss = cr.nn.functional.mse_loss(prediction, target)
    p = args.precision
    print(f"The seed network 2-{args.hidden}-1: Linear(2, {args.hidden}) -> Sigmoid -> "
          f"Linear({args.hidden}, 1), MSE loss, float64, seed {args.seed}, sample {args.sample}:")
    print(f"  x = [a, b] = [{a:.{p}f}, {b:.{p}f}]   target z = 5 a^2 + 3 b^2 = {z:.{p}f}")
    print(f"  prediction = {prediction.item():.{p}f}   loss = (prediction - z)^2 = {loss.item():.{p}f}")
    print("\nBackward, node by node, in the order loss.backward() visits them (dL/d(output) comes "
          "in,\nthe op's local derivative turns it into dL/d(input) for each input):\n")
    names = {"x": x, "target": target, **dict(model.named_parameters())}
    if args.graph is not None:
        _save_graph(loss, names, args.graph)  # before explain: the graph is traced, not freed
    trace = explain(loss, names, precision=p)
    return 0 if trace.difference == 0.0 else 1
