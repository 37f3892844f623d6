"""LBFGS: a quasi-Newton method that builds its step from the last few gradient differences."""

from __future__ import annotations

import functools

import numpy as np

from ..backend import is_array, to_device, zeros_on
from ..tensor import Tensor
from .optimizer import Optimizer, at_least_1d, check_choice, check_in_range

__all__ = ["LBFGS"]


class LBFGS(Optimizer):
    """Limited-memory BFGS (Nocedal, 1980; Liu & Nocedal, 1989), as PyTorch computes it (which
    follows Mark Schmidt's minFunc).

    L-BFGS treats all parameters as one flat vector x with gradient g. It keeps the last
    ``history_size`` pairs s = x_new - x_old (steps) and y = g_new - g_old (gradient changes);
    together they stand in for the inverse Hessian without ever forming it. ``step(closure)``
    runs up to ``max_iter`` iterations, each one:

        direction d:
            first iteration ever:  d = -g
            later:  if y.s > 1e-10 (curvature is positive), store (s, y, rho = 1 / y.s),
                        dropping the oldest pair beyond history_size, and set H = y.s / y.y
                    d = -(approximate inverse Hessian) g, by the two-loop recursion:
                        q = -g
                        for each pair i, newest first:  a_i = rho_i * s_i.q;  q = q - a_i * y_i
                        r = H * q
                        for each pair i, oldest first:  b = rho_i * y_i.r;   r = r + (a_i - b) * s_i
                        d = r
        step length t:  lr * min(1, 1 / sum|g|) on the first iteration ever, lr afterwards
        stop if g.d > -tolerance_change (d is not a descent direction)
        line_search_fn None:            x = x + t * d, then re-evaluate loss and g (the closure)
        line_search_fn 'strong_wolfe':  search t along d (see below), then x = x + t * d
        stop if: max_iter iterations ran, or max_eval closure calls were made, or
                 max|g| <= tolerance_grad, or max|t * d| <= tolerance_change, or
                 |loss - previous loss| < tolerance_change

    and before all that it evaluates the closure once and returns at once if max|g| <=
    tolerance_grad. The pairs, d, t and the previous gradient persist across ``step`` calls, so
    the next call continues the same run. The closure must zero the gradients, compute the loss,
    call backward and return the loss; step returns the first loss it computed.

    The strong Wolfe line search (Nocedal & Wright, "Numerical Optimization", algorithms 3.5 and
    3.6, with c1 = 1e-4, c2 = 0.9) looks for a t with
        sufficient decrease:  f(x + t d) <= f(x) + c1 * t * g.d
        small slope:          |g(x + t d).d| <= c2 * |g.d|
    First it brackets such a t: starting from the trial t, if the decrease fails, or f rose since
    the previous trial, or the slope turned non-negative, the last two trials form the bracket;
    if both conditions hold it stops; otherwise it extrapolates to a new t by the minimum of a
    cubic through the last two trials (kept within [t + 0.01 (t - t_prev), 10 t]). Then it zooms:
    each new trial is the cubic minimum inside the bracket (moved to 10% inside the bracket's
    ends when it lands too close to one twice), and replaces one end of the bracket, until both
    conditions hold, the bracket is shorter than tolerance_change / max|d|, or the evaluations
    run out (at most max_eval - the evaluations so far). It returns the best trial.

    Unlike the other optimizers, L-BFGS has one parameter group only (no per-group options), and
    ``step`` needs a closure. It stores O(history_size * number of parameters) numbers, all under
    the first parameter's state, with PyTorch's names: ``d``, ``t``, ``old_dirs`` (the y's),
    ``old_stps`` (the s's), ``ro``, ``H_diag``, ``prev_flat_grad``, ``prev_loss``, ``n_iter``,
    ``func_evals`` (PyTorch also keeps ``al``, the two-loop recursion's scratch list; here it is a
    local variable).

    Args:
        params: Parameters (one group).
        lr: >= 0, the step length before the line search (default 1).
        max_iter: >= 1, iterations per ``step`` call (default 20).
        max_eval: >= 1, closure calls per ``step`` call (default max_iter * 5 // 4).
        tolerance_grad: >= 0, stop when max|g| is at most this (default 1e-7).
        tolerance_change: >= 0, stop when the loss or the step changes less (default 1e-9).
        history_size: >= 1, the number of (s, y) pairs kept (default 100).
        line_search_fn: None (a fixed step t) or 'strong_wolfe' (default None).
    """

    def __init__(self, params, lr=1, max_iter=20, max_eval=None, tolerance_grad=1e-7,
                 tolerance_change=1e-9, history_size=100, line_search_fn=None):
        max_iter = check_in_range("LBFGS", "max_iter", max_iter, 1, integer=True)
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        defaults = dict(lr=lr, max_iter=max_iter, max_eval=max_eval,
                        tolerance_grad=tolerance_grad, tolerance_change=tolerance_change,
                        history_size=history_size, line_search_fn=line_search_fn)
        super().__init__(params, defaults)
        self._params = self.param_groups[0]["params"]

    def _check_options(self, options):
        name = self._name
        options["lr"] = check_in_range(name, "lr", options["lr"])
        options["max_iter"] = check_in_range(name, "max_iter", options["max_iter"], 1, integer=True)
        options["max_eval"] = check_in_range(name, "max_eval", options["max_eval"], 1, integer=True)
        for option in ("tolerance_grad", "tolerance_change"):
            options[option] = check_in_range(name, option, options[option])
        options["history_size"] = check_in_range(name, "history_size", options["history_size"], 1,
                                                 integer=True)
        options["line_search_fn"] = check_choice(name, "line_search_fn",
                                                 options["line_search_fn"], (None, "strong_wolfe"))

    def add_param_group(self, param_group):
        if self.param_groups:
            raise ValueError(
                "LBFGS optimizes one parameter group only (no per-group options), so it cannot "
                "take a second one; pass one list of all the parameters."
            )
        super().add_param_group(param_group)

    # ----- the parameters as one flat vector ----------------------------------------------
    def _flat_grad(self) -> np.ndarray:
        """All gradients in one new vector (zeros for a parameter without a gradient)."""
        return np.concatenate([
            zeros_on(p, p._data.size) if p.grad is None else p.grad._data.ravel()
            for p in self._params
        ])

    def _move(self, t: float, d: np.ndarray) -> None:
        """x = x + t * d, in place on every parameter."""
        offset = 0
        for p in self._params:
            size = p._data.size
            at_least_1d(p._data)[...] += t * d[offset:offset + size].reshape(p._data.shape)
            offset += size

    def _loss_and_grad_at(self, closure, x, t, *, d):
        """f and g at x + t * d (the line search's trial); the parameters are put back to x."""
        self._move(t, d)
        loss = _as_float(self._evaluate(closure))
        grad = self._flat_grad()
        for p, saved in zip(self._params, x):
            at_least_1d(p._data)[...] = saved
        return loss, grad

    # ----- the step ------------------------------------------------------------------------
    def step(self, closure=None):
        """Up to ``max_iter`` L-BFGS iterations; returns the loss the closure computed first."""
        if closure is None or not callable(closure):
            raise TypeError(
                "LBFGS.step needs a closure: a function that zeroes the gradients, computes the "
                "loss, calls backward and returns the loss (L-BFGS evaluates it several times)."
            )
        group = self.param_groups[0]
        lr, max_iter, max_eval = group["lr"], group["max_iter"], group["max_eval"]
        tolerance_grad, tolerance_change = group["tolerance_grad"], group["tolerance_change"]
        history_size = group["history_size"]

        state = self.state[self._params[0]]  # all of L-BFGS's state, under the first parameter
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        first_loss = self._evaluate(closure)
        loss = _as_float(first_loss)
        evals = 1
        state["func_evals"] += 1
        grad = self._flat_grad()
        if np.abs(grad).max() <= tolerance_grad:  # already at a stationary point
            return first_loss

        d, t = state.get("d"), state.get("t")
        old_dirs, old_stps, ro = state.get("old_dirs"), state.get("old_stps"), state.get("ro")
        H_diag = state.get("H_diag")
        prev_grad, prev_loss = state.get("prev_flat_grad"), state.get("prev_loss")

        n_iter = 0
        converged = False
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1

            # The direction: -g at first, then the two-loop recursion over the stored pairs.
            if state["n_iter"] == 1:
                d = -grad
                old_dirs, old_stps, ro = [], [], []
                H_diag = 1.0
            else:
                y = grad - prev_grad
                s = d * t
                ys = float(y @ s)
                if ys > 1e-10:
                    if len(old_dirs) == history_size:
                        old_dirs.pop(0)
                        old_stps.pop(0)
                        ro.pop(0)
                    old_dirs.append(y)
                    old_stps.append(s)
                    ro.append(1.0 / ys)
                    H_diag = ys / float(y @ y)
                alphas = [0.0] * len(old_dirs)
                q = -grad
                for i in reversed(range(len(old_dirs))):
                    alphas[i] = float(old_stps[i] @ q) * ro[i]
                    q -= alphas[i] * old_dirs[i]
                d = q * H_diag
                for i in range(len(old_dirs)):
                    beta = float(old_dirs[i] @ d) * ro[i]
                    d += (alphas[i] - beta) * old_stps[i]

            prev_grad = grad.copy()
            prev_loss = loss

            # The step length, then the step.
            if state["n_iter"] == 1:
                total = float(np.abs(grad).sum())
                t = min(1.0, 1.0 / total) * lr
            else:
                t = lr
            slope = float(grad @ d)  # g.d, the directional derivative
            if slope > -tolerance_change:
                break

            evals_here = 0
            if group["line_search_fn"] == "strong_wolfe":
                x = [p._data.copy() for p in self._params]
                loss_and_grad = functools.partial(self._loss_and_grad_at, closure, x, d=d)
                loss, grad, t, evals_here = _strong_wolfe(
                    loss_and_grad, t, d, loss, grad, slope, tolerance_change=tolerance_change,
                    max_evals=max_eval - evals)
                self._move(t, d)
                converged = np.abs(grad).max() <= tolerance_grad
            else:
                self._move(t, d)
                if n_iter != max_iter:  # (the last iteration leaves the evaluation to the next step)
                    loss = _as_float(self._evaluate(closure))
                    grad = self._flat_grad()
                    converged = np.abs(grad).max() <= tolerance_grad
                    evals_here = 1
            evals += evals_here
            state["func_evals"] += evals_here

            if n_iter == max_iter or evals >= max_eval or converged:
                break
            if np.abs(d * t).max() <= tolerance_change:
                break
            if abs(loss - prev_loss) < tolerance_change:
                break

        state.update(d=d, t=t, old_dirs=old_dirs, old_stps=old_stps, ro=ro, H_diag=H_diag,
                     prev_flat_grad=prev_grad, prev_loss=prev_loss)
        return first_loss

    # ----- saving and loading: L-BFGS's state is flat vectors and lists of them -------------
    def _restore_value(self, value, param, name, index):
        if is_array(value):
            return to_device(value, param.device).astype(param.dtype)
        if isinstance(value, list):
            return [to_device(v, param.device).astype(param.dtype) if is_array(v) else v
                    for v in value]
        return value


def _as_float(loss) -> float:
    """The closure's loss as a Python float (a 0-d or 1-element Tensor, or a number)."""
    if isinstance(loss, Tensor):
        return float(loss.item())
    return float(loss)


def _cubic_minimum(t1, f1, slope1, t2, f2, slope2, bounds=None):
    """The minimum of the cubic that takes value f and slope g at t1 and at t2, clamped to bounds
    (default: the interval between t1 and t2); the bounds' midpoint if the cubic has none.

        d1 = slope1 + slope2 - 3 (f1 - f2) / (t1 - t2)
        d2 = sqrt(d1^2 - slope1 * slope2)                     (no real minimum if negative)
        t  = t2 - (t2 - t1) (slope2 + d2 - d1) / (slope2 - slope1 + 2 d2)   for t1 <= t2
    (Nocedal & Wright, equation 3.59; the same with 1 and 2 swapped for t1 > t2.)
    """
    low, high = bounds if bounds is not None else (min(t1, t2), max(t1, t2))
    d1 = slope1 + slope2 - 3 * (f1 - f2) / (t1 - t2)
    d2_square = d1 * d1 - slope1 * slope2
    if d2_square < 0:
        return (low + high) / 2.0
    d2 = d2_square**0.5
    if t1 <= t2:
        t = t2 - (t2 - t1) * ((slope2 + d2 - d1) / (slope2 - slope1 + 2 * d2))
    else:
        t = t1 - (t1 - t2) * ((slope1 + d2 - d1) / (slope1 - slope2 + 2 * d2))
    return min(max(t, low), high)


def _strong_wolfe(loss_and_grad, t, d, f, g, slope, c1=1e-4, c2=0.9, tolerance_change=1e-9,
                  max_evals=25):
    """A step length t along d that satisfies the strong Wolfe conditions (see LBFGS's docstring).

    ``loss_and_grad(t)`` returns f and g at x + t d; f, g and slope = g.d are their values at x.
    Returns (f, g, t, number of evaluations) of the best trial.
    """
    d_max = float(np.abs(d).max())
    f_new, g_new = loss_and_grad(t)
    evals = 1
    slope_new = float(g_new @ d)

    def sufficient_decrease(t_, f_):
        return f_ <= f + c1 * t_ * slope

    # Bracketing: walk t out until an interval [t_prev, t] must contain an acceptable step.
    t_prev, f_prev, g_prev, slope_prev = 0.0, f, g, slope
    done = False
    tries = 0
    bracket = None
    while tries < max_evals:
        if not sufficient_decrease(t, f_new) or (tries > 1 and f_new >= f_prev):
            bracket = [[t_prev, f_prev, g_prev, slope_prev], [t, f_new, g_new, slope_new]]
            break
        if abs(slope_new) <= -c2 * slope:  # both conditions hold: t is acceptable
            bracket = [[t, f_new, g_new, slope_new]]
            done = True
            break
        if slope_new >= 0:  # the function turned upwards between t_prev and t
            bracket = [[t_prev, f_prev, g_prev, slope_prev], [t, f_new, g_new, slope_new]]
            break
        # Still going down steeply: extrapolate.
        t_next = _cubic_minimum(t_prev, f_prev, slope_prev, t, f_new, slope_new,
                                bounds=(t + 0.01 * (t - t_prev), t * 10))
        t_prev, f_prev, g_prev, slope_prev = t, f_new, g_new, slope_new
        t = t_next
        f_new, g_new = loss_and_grad(t)
        evals += 1
        slope_new = float(g_new @ d)
        tries += 1
    if tries == max_evals:  # out of evaluations while bracketing: the best of x and the last trial
        bracket = [[0.0, f, g, slope], [t, f_new, g_new, slope_new]]

    # Zoom: shrink the bracket [low, high] (low: the lower f) until a trial is acceptable.
    low, high = (0, 1) if bracket[0][1] <= bracket[-1][1] else (1, 0)
    stuck = False  # the last trial fell too close to the bracket's ends
    while not done and tries < max_evals:
        (t_a, f_a, _, slope_a), (t_b, f_b, _, slope_b) = bracket
        if abs(t_b - t_a) * d_max < tolerance_change:
            break
        t = _cubic_minimum(t_a, f_a, slope_a, t_b, f_b, slope_b)
        # Keep the trial at least 10% of the bracket away from its ends, where a cubic minimum
        # that lands there twice in a row makes little progress.
        top, bottom = max(t_a, t_b), min(t_a, t_b)
        margin = 0.1 * (top - bottom)
        if min(top - t, t - bottom) < margin:
            if stuck or t >= top or t <= bottom:
                t = top - margin if abs(t - top) < abs(t - bottom) else bottom + margin
                stuck = False
            else:
                stuck = True
        else:
            stuck = False

        f_new, g_new = loss_and_grad(t)
        evals += 1
        slope_new = float(g_new @ d)
        tries += 1

        if not sufficient_decrease(t, f_new) or f_new >= bracket[low][1]:
            bracket[high] = [t, f_new, g_new, slope_new]  # t replaces the high end
            low, high = (0, 1) if bracket[0][1] <= bracket[1][1] else (1, 0)
        else:
            if abs(slope_new) <= -c2 * slope:
                done = True
            elif slope_new * (bracket[high][0] - bracket[low][0]) >= 0:
                bracket[high] = bracket[low]  # the minimum lies between low and t
            bracket[low] = [t, f_new, g_new, slope_new]

    t, f_new, g_new, _ = bracket[low]
    return f_new, g_new, t, evals
