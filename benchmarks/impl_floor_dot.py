"""The floor with ``ndarray.dot`` instead of ``@`` for its matrix products: a second, faster floor.

For 2-D arrays both run the same BLAS product, but ``a.dot(b)`` costs about 1 us less per call
than ``a @ b`` on small matrices (the @ operator goes through NumPy's general matmul machinery
first). chainrule's Linear op uses ``.dot``, so against impl_floor (written with @, as most
NumPy code is) part of chainrule's bookkeeping is paid for by faster products. This floor uses
the same products as chainrule, so ``chainrule / floor-dot`` is the cost of the engine alone.
The targets are stated against impl_floor; this one is reported beside it.

Only the seed workload differs from impl_floor (its step makes five small products); the wide
one's products are large, where @ and .dot take the same time, so it is impl_floor's.

Interface (shared by every impl_*.py): setup(workload, batch, seed) -> state; step(state);
quality(state) -> dict.
"""

import impl_floor
from impl_floor import _sigmoid, outputs, quality, setup  # noqa: F401  (the shared interface)

NAME = "numpy floor (.dot)"


def _seed_grads(params, x, t):
    """impl_floor._seed_grads with .dot for every product (see there for the formulas)."""
    w1, b1, w2, b2 = params
    h = x.dot(w1.T)
    h += b1
    s = _sigmoid(h)
    y = s.dot(w2.T)
    y += b2
    grad_y = y - t
    grad_y *= 2.0 / y.size
    grad_s = grad_y.dot(w2)
    grad_s *= s
    grad_s *= 1.0 - s
    return [grad_s.T.dot(x), grad_s.sum(axis=0), grad_y.T.dot(s), grad_y.sum(axis=0)]


def step(state):
    """impl_floor.step, with this module's seed gradients."""
    impl_floor.step(state, seed_grads=_seed_grads)
