"""Newton's method with chainrule.autograd.functional.hessian, beside gradient descent.

    python examples/newton.py           # gradient descent runs until it gets there (~23,000 steps)
    python examples/newton.py --quick   # gradient descent stops after 300 steps

The Rosenbrock function f(x, y) = (1 - x)^2 + 100 (y - x^2)^2 has its minimum at (1, 1) at the
bottom of a long, curved, flat valley: the gradient points mostly across the valley, so gradient
descent zig-zags and then crawls along it. Newton's method uses the curvature as well:

    p <- p - H(p)^-1 grad f(p)        H = the 2x2 Hessian, from autograd.functional.hessian

which is exact for a quadratic and, from the classic start (-1.2, 1), reaches (1, 1) in a handful of
steps. Both start at (-1.2, 1) and stop within 1e-4 of (1, 1). The picture (--out DIR) shows both
paths over the contours of f.
"""

from __future__ import annotations

import argparse
import os

import numpy as np

import chainrule as cr
from chainrule.autograd import grad
from chainrule.autograd.functional import hessian

START = (-1.2, 1.0)
MINIMUM = np.array([1.0, 1.0])
TOLERANCE = 1e-4  # stop within this distance of the minimum


def rosenbrock(p):
    """f(x, y) = (1 - x)^2 + 100 (y - x^2)^2 for p = (x, y)."""
    x, y = p[0], p[1]
    return (1 - x) ** 2 + 100 * (y - x ** 2) ** 2


def newton(max_steps=50):
    """Newton steps p <- p - H^-1 g until p is within TOLERANCE of the minimum. Returns the path."""
    p = cr.tensor(START, dtype=cr.float64)
    path = [p.numpy().copy()]
    while np.linalg.norm(path[-1] - MINIMUM) > TOLERANCE and len(path) <= max_steps:
        p.requires_grad_(True)
        (g,) = grad(rosenbrock(p), p)  # the gradient (2,)
        H = hessian(rosenbrock, p)  # the Hessian (2, 2): d2f / dp_i dp_j
        step = np.linalg.solve(H.numpy(), g.numpy())  # H^-1 g, a 2x2 linear solve
        p = cr.tensor(p.numpy() - step, dtype=cr.float64)
        path.append(p.numpy().copy())
    return np.array(path)


def gradient_descent(lr=1e-3, max_steps=30_000):
    """Plain steps p <- p - lr grad f(p) until p is within TOLERANCE of the minimum, or max_steps."""
    p = cr.tensor(START, dtype=cr.float64, requires_grad=True)
    path = [p.numpy().copy()]
    while np.linalg.norm(path[-1] - MINIMUM) > TOLERANCE and len(path) <= max_steps:
        (g,) = grad(rosenbrock(p), p)
        with cr.no_grad():
            p -= lr * g
        path.append(p.numpy().copy())
    return np.array(path)


def describe(name, path):
    distance = np.linalg.norm(path[-1] - MINIMUM)
    steps = len(path) - 1
    where = f"({path[-1][0]:.6f}, {path[-1][1]:.6f})"
    if distance <= TOLERANCE:
        return f"{name}: reached {where} in {steps} steps"
    return f"{name}: not there after {steps} steps: at {where}, distance {distance:.3g}"


def save_picture(newton_path, descent_path, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs, ys = np.meshgrid(np.linspace(-1.6, 1.6, 300), np.linspace(-3.5, 2.0, 300))
    values = (1 - xs) ** 2 + 100 * (ys - xs ** 2) ** 2
    fig, ax = plt.subplots(figsize=(7, 5), dpi=90)
    ax.contour(xs, ys, np.log10(values + 1e-3), levels=25, cmap="Greys", linewidths=0.6)
    ax.plot(*descent_path.T, "-", color="#ff7f0e", lw=1.2,
            label=f"gradient descent ({len(descent_path) - 1} steps)")
    ax.plot(*newton_path.T, "o-", color="#1f77b4", ms=5, lw=1.5,
            label=f"Newton with hessian() ({len(newton_path) - 1} steps)")
    ax.plot(*START, "ks", ms=6)
    ax.plot(*MINIMUM, "r*", ms=12, label="minimum (1, 1)")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_title("Rosenbrock: (1 - x)² + 100 (y - x²)²")
    ax.legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="gradient descent stops after 300 steps (also: CHAINRULE_QUICK=1)")
    parser.add_argument("--lr", type=float, default=1e-3, help="gradient descent's step size")
    parser.add_argument("--out", default="examples/output", help="folder for the picture")
    args = parser.parse_args(argv)
    args.quick = args.quick or os.environ.get("CHAINRULE_QUICK") == "1"
    return args


def main(argv=None):
    args = parse_args(argv)
    newton_path = newton()
    descent_path = gradient_descent(lr=args.lr, max_steps=300 if args.quick else 30_000)
    print(f"start {START}, minimum (1, 1), stop within {TOLERANCE:g} of it")
    print(describe("Newton (hessian)", newton_path))
    print(describe(f"gradient descent (lr {args.lr:g})", descent_path))
    print("Newton's path:")
    for k, (x, y) in enumerate(newton_path):
        print(f"  step {k}: ({x: .6f}, {y: .6f})  f = {rosenbrock(cr.tensor((x, y))).item():.3e}")
    os.makedirs(args.out, exist_ok=True)
    try:
        picture = os.path.join(args.out, "newton_paths.png")
        save_picture(newton_path, descent_path, picture)
        print(f"saved {picture}")
    except ImportError:
        print("matplotlib is not installed: no picture.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
