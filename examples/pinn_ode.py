"""A physics-informed network: solve u'' = -u on [0, 2 pi], u(0) = 0, u'(0) = 1 (answer: sin t).

    python examples/pinn_ode.py           # 3000 Adam steps (about a minute)
    python examples/pinn_ode.py --quick   # 150 steps: a smoke run, far from converged

No solution values are given to the network, only the equation. A small MLP u(t) is trained so that
its own derivatives with respect to its input satisfy it:

    u'(t)  = grad(u, t, create_graph=True)        (a graph of its own ...)
    u''(t) = grad(u', t, create_graph=True)       (... differentiated again)
    loss   = mean over t of (u''(t) + u(t))^2  +  u(0)^2  +  (u'(0) - 1)^2

and loss.backward() then differentiates through both derivative passes to the weights: a third
derivative in all. The picture (--out DIR) shows the learned u against sin t and the error.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

import chainrule as cr
from chainrule import nn, optim
from chainrule.autograd import grad

SETTINGS = dict(hidden=32, points=64, steps=3000, quick_steps=150, lr=3e-3, seed=0)


def derivatives(model, t):
    """u, u' and u'' of the network at the points t (shape (n, 1)), each in the graph."""
    u = model(t)
    ones = cr.ones_like(u)
    (du,) = grad(u, t, grad_outputs=ones, create_graph=True)  # d u_i / d t_i (rows independent)
    (d2u,) = grad(du, t, grad_outputs=ones, create_graph=True)
    return u, du, d2u


def physics_loss(model, t, t0):
    """The residual of u'' + u = 0 on the points, plus the two initial conditions at t = 0."""
    u, _, d2u = derivatives(model, t)
    u0, du0, _ = derivatives(model, t0)
    residual = ((d2u + u) ** 2).mean()
    initial = (u0 ** 2).sum() + ((du0 - 1) ** 2).sum()
    return residual + initial, residual


def save_picture(t, u, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7, 5.5), dpi=90, sharex=True,
                                      gridspec_kw={"height_ratios": [2, 1]})
    top.plot(t, np.sin(t), color="#999999", lw=4, label="sin t (the solution)")
    top.plot(t, u, color="#1f77b4", lw=1.5, label="network u(t)")
    top.set_ylabel("u")
    top.set_title("u'' = -u, u(0) = 0, u'(0) = 1, learned from the equation alone")
    top.legend(fontsize=8)
    bottom.plot(t, u - np.sin(t), color="#d62728", lw=1.2)
    bottom.set_ylabel("u - sin t")
    bottom.set_xlabel("t")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help=f"{SETTINGS['quick_steps']} steps, a smoke run (also: CHAINRULE_QUICK=1)")
    parser.add_argument("--steps", type=int, default=SETTINGS["steps"], help="Adam steps")
    parser.add_argument("--lr", type=float, default=SETTINGS["lr"], help="Adam's learning rate")
    parser.add_argument("--out", default="examples/output", help="folder for the picture")
    args = parser.parse_args(argv)
    args.quick = args.quick or os.environ.get("CHAINRULE_QUICK") == "1"
    if args.quick:
        args.steps = SETTINGS["quick_steps"]
    return args


def main(argv=None):
    args = parse_args(argv)
    cr.manual_seed(SETTINGS["seed"])
    hidden = SETTINGS["hidden"]
    model = nn.Sequential(nn.Linear(1, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh(),
                          nn.Linear(hidden, 1)).double()
    optimizer = optim.Adam(model.parameters(), lr=args.lr)
    grid = np.linspace(0, 2 * np.pi, SETTINGS["points"]).reshape(-1, 1)
    t = cr.tensor(grid, dtype=cr.float64, requires_grad=True)  # collocation points
    t0 = cr.tensor([[0.0]], dtype=cr.float64, requires_grad=True)

    started = time.perf_counter()
    every = max(1, args.steps // 6)
    for step in range(1, args.steps + 1):
        loss, residual = physics_loss(model, t, t0)
        optimizer.zero_grad()
        loss.backward()  # through u'' and u' to the weights
        optimizer.step()
        if step == 1 or step % every == 0 or step == args.steps:
            print(f"step {step}: loss {loss.item():.4e}, residual {residual.item():.4e}")
    seconds = time.perf_counter() - started

    dense = np.linspace(0, 2 * np.pi, 400).reshape(-1, 1)
    with cr.no_grad():
        u = model(cr.tensor(dense, dtype=cr.float64)).numpy().ravel()
    error = np.abs(u - np.sin(dense.ravel())).max()
    print(f"trained {args.steps} steps in {seconds:.1f} s")
    print(f"max |u - sin| on [0, 2 pi]: {error:.4f}")
    os.makedirs(args.out, exist_ok=True)
    try:
        picture = os.path.join(args.out, "pinn_ode.png")
        save_picture(dense.ravel(), u, picture)
        print(f"saved {picture}")
    except ImportError:
        print("matplotlib is not installed: no picture.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
