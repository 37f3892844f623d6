"""The one random generator that all randomness in chainrule draws from.

``chainrule.manual_seed(seed)`` makes initialisation, dropout, shuffling and ``randn`` reproducible.
``get_rng_state()``/``set_rng_state()`` save and restore it (plain JSON-able dicts), so a resumed run
draws the same numbers it would have drawn had it never stopped.
"""

from __future__ import annotations

import numpy as np

__all__ = ["manual_seed", "default_generator", "get_rng_state", "set_rng_state", "seed"]

_generator = np.random.default_rng()
BIT_GENERATORS = ("PCG64", "PCG64DXSM", "Philox", "SFC64", "MT19937")


def manual_seed(seed: int) -> np.random.Generator:
    """Reseed the library's generator; returns it."""
    global _generator
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"manual_seed: the seed must be a non-negative int. Got {seed!r} instead.")
    _generator = np.random.default_rng(int(seed))
    return _generator


def seed() -> int:
    """Seed the generator from fresh OS entropy; returns the seed used."""
    s = int(np.random.SeedSequence().generate_state(1)[0])
    manual_seed(s)
    return s


def default_generator() -> np.random.Generator:
    """The generator that initialisers, dropout, DataLoader shuffling and randn use."""
    return _generator


def get_rng_state() -> dict:
    """The generator's full state as a JSON-able dict."""
    return _generator.bit_generator.state


def set_rng_state(state: dict) -> None:
    """Restore a state returned by ``get_rng_state``."""
    global _generator
    if not isinstance(state, dict) or "bit_generator" not in state:
        raise ValueError("set_rng_state: expected a dict returned by get_rng_state().")
    name = state["bit_generator"]
    if name not in BIT_GENERATORS:  # a name from a file is looked up, never called blindly
        raise ValueError(
            f"set_rng_state: unknown bit generator {name!r}; expected one of "
            f"{', '.join(BIT_GENERATORS)}."
        )
    bg = getattr(np.random, name)()
    try:
        bg.state = state
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"set_rng_state: the {name} state is malformed ({err}).") from None
    _generator = np.random.Generator(bg)
