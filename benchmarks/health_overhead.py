"""How much does HealthMonitor slow training? The seed workload, fit with and without it.

Workload: the seed network 2-10-1 (sigmoid hidden layer), MSE, SGD lr 0.01, 70,000 samples
(a, b ~ N(0, 1), target 5 a^2 + 3 b^2), batch 500: 140 steps per epoch. Each run is a fresh model
from the same seed trained for ``--epochs`` epochs. Runs alternate (without, with, without, ...)
so drift in machine load hits both alike; the overhead is the ratio of the two medians.

    .venv/bin/python benchmarks/health_overhead.py            # 7 pairs of 2-epoch runs
    .venv/bin/python benchmarks/health_overhead.py --pairs 11 --epochs 3

Target: under 10%.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import chainrule as cr
from chainrule.data import DataLoader, TensorDataset
from chainrule.training.health import HealthMonitor
from chainrule.training.loop import fit


def make_data(n: int = 70_000, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 2)).astype(np.float32)
    z = (5 * x[:, :1] ** 2 + 3 * x[:, 1:] ** 2).astype(np.float32)
    return cr.tensor(x), cr.tensor(z)


class TimedHealthMonitor(HealthMonitor):
    """HealthMonitor that also adds up the seconds spent inside its own hooks: a second measure of
    the overhead that machine load disturbs less than the difference of two run times."""

    seconds = 0.0

    def _timed(hook):
        def run(self, state):
            started = time.perf_counter()
            getattr(HealthMonitor, hook)(self, state)
            TimedHealthMonitor.seconds += time.perf_counter() - started
        return run

    on_train_begin = _timed("on_train_begin")
    on_after_backward = _timed("on_after_backward")
    on_step_end = _timed("on_step_end")
    on_epoch_end = _timed("on_epoch_end")


def one_run(data, epochs: int, monitored: bool, monitor_class=HealthMonitor) -> float:
    """Seconds for one fit of a fresh seed network (same seed every run)."""
    cr.manual_seed(0)
    model = cr.nn.Sequential(cr.nn.Linear(2, 10), cr.nn.Sigmoid(), cr.nn.Linear(10, 1))
    optimizer = cr.optim.SGD(model.parameters(), lr=0.01)
    loader = DataLoader(TensorDataset(*data), batch_size=500, shuffle=True)
    callbacks = [monitor_class()] if monitored else []
    started = time.perf_counter()
    fit(model, cr.nn.MSELoss(), optimizer, loader, epochs=epochs, callbacks=callbacks, log=None)
    return time.perf_counter() - started


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=int, default=7, help="alternating pairs of runs (default 7)")
    parser.add_argument("--epochs", type=int, default=2, help="epochs per run (default 2)")
    args = parser.parse_args(argv)
    data = make_data()
    one_run(data, 1, False)  # warm up: imports, caches
    one_run(data, 1, True)
    without, with_monitor = [], []
    for _ in range(args.pairs):
        without.append(one_run(data, args.epochs, False))
        with_monitor.append(one_run(data, args.epochs, True))
    base, watched = statistics.median(without), statistics.median(with_monitor)
    steps = args.epochs * 140
    print(f"seed workload, {args.epochs} epochs x 140 steps, median of {args.pairs} alternating runs")
    print(f"  without HealthMonitor: {base:.3f} s  ({base / steps * 1e6:.0f} us per step)")
    print(f"  with HealthMonitor:    {watched:.3f} s  ({watched / steps * 1e6:.0f} us per step)")
    print(f"  overhead: {100 * (watched / base - 1):+.1f}%  (target: under 10%)")
    TimedHealthMonitor.seconds = 0.0
    timed = [one_run(data, args.epochs, True, TimedHealthMonitor) for _ in range(args.pairs)]
    inside = TimedHealthMonitor.seconds / args.pairs
    print(f"  time inside the monitor's hooks: {inside * 1e3:.2f} ms per run, "
          f"{100 * inside / (statistics.median(timed) - inside):.1f}% of the rest of the run")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
