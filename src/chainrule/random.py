"""The random generators that all randomness in chainrule draws from.

``chainrule.manual_seed(seed)`` makes initialisation, dropout, shuffling and ``randn`` reproducible.
``get_rng_state()``/``set_rng_state()`` save and restore it (plain JSON-able dicts), so a resumed run
draws the same numbers it would have drawn had it never stopped.

``chainrule.Generator`` is a generator of one's own, for the ``generator=`` argument of the random
factories (``rand``, ``randn``, ``randint``, ``randperm``, ``normal``, ``multinomial``,
``bernoulli``, ...), as in PyTorch. Each wraps a NumPy ``np.random.Generator`` (PCG64): the same
seed gives the same numbers in chainrule every time, but not the numbers PyTorch draws with that
seed (its streams are Mersenne Twister and Philox, drawn in its own order).

Threads: as PyTorch's default generator, the global generator is one per process, shared by every
thread. Two threads that each call ``manual_seed`` and then build or train a model draw from that
one stream, interleaved as the scheduler decides, and each reseeds the other's: neither run is
reproducible. chainrule does not give each thread a generator of its own (PyTorch does not
either). Train seeded models one at a time per process, or in processes of their own
(``multiprocessing``); a ``Generator`` passed as ``generator=`` (random factories, DataLoader)
keeps those draws apart, but initialisers and dropout always draw from the global generator.
"""

from __future__ import annotations

import numpy as np

from .device import check_device

__all__ = [
    "Generator", "manual_seed", "seed", "initial_seed", "default_generator", "numpy_generator",
    "get_rng_state", "set_rng_state", "check_rng_state",
]

BIT_GENERATORS = ("PCG64", "PCG64DXSM", "Philox", "SFC64", "MT19937")
DEFAULT_SEED = 67280421310721  # what a new Generator starts from, as torch.Generator()


def _check_seed(op, seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"{op}: the seed must be a non-negative int. Got {seed!r} instead.")
    return int(seed)


def _fresh_seed() -> int:
    return int(np.random.SeedSequence().generate_state(1, dtype=np.uint64)[0])


# What each bit generator's state holds, as NumPy writes it (``bit_generator.state``): the
# integers and their ranges, and the arrays with their shapes and element ranges. NumPy trusts
# what it is given (an MT19937 position past the key reads outside it, a crash), so a state from a
# file is checked field by field against this table before NumPy sees it.
_U32, _U64, _U128 = 2**32, 2**64, 2**128
_PCG = {"state": ("int", _U128), "inc": ("int", _U128)}
_STATE_FIELDS = {  # name: (fields of state["state"], other top-level fields)
    "PCG64": (_PCG, {}),
    "PCG64DXSM": (_PCG, {}),
    "Philox": ({"counter": ("array", (4,), _U64), "key": ("array", (2,), _U64)},
               {"buffer": ("array", (4,), _U64), "buffer_pos": ("int", 5)}),
    "SFC64": ({"state": ("array", (4,), _U64)}, {}),
    "MT19937": ({"key": ("array", (624,), _U32), "pos": ("int", 625)}, {}),
}
_UINT = {"has_uint32": ("int", 2), "uinteger": ("int", _U32)}  # all but MT19937 carry these


def _check_field(op, name, where, value, spec) -> None:
    kind, *limits = spec
    if kind == "int":
        (end,) = limits
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) \
                or not 0 <= int(value) < end:
            raise ValueError(f"{op}: the {name} state's {where} must be an int in "
                             f"[0, {_power(end)}); got {_shown(value)}.")
        return
    shape, end = limits
    if not isinstance(value, np.ndarray) or value.dtype.kind not in "iu" or value.shape != shape:
        raise ValueError(f"{op}: the {name} state's {where} must be an integer array of shape "
                         f"{shape}; got {_shown(value)}.")
    if value.size and (int(value.min()) < 0 or int(value.max()) >= end):
        raise ValueError(f"{op}: the {name} state's {where} must hold integers in "
                         f"[0, {_power(end)}).")


def _power(n: int) -> str:
    """2**32 for 4294967296; small numbers as they are."""
    return f"2**{n.bit_length() - 1}" if n > 1024 and n & (n - 1) == 0 else str(n)


def _shown(value) -> str:
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    text = " ".join(repr(value).split())  # one line, even for a list holding an array
    return text if len(text) <= 60 else text[:57] + "..."


def check_rng_state(op, state) -> dict:
    """``state`` if it is a bit generator state as NumPy writes it (``get_rng_state()``,
    ``Generator.get_state()``), every field of the right kind and in range; else ValueError naming
    the field. The state NumPy receives is a fresh dict of those fields only."""
    if not isinstance(state, dict) or "bit_generator" not in state:
        raise ValueError(f"{op}: expected a dict returned by get_rng_state() or Generator.get_state().")
    name = state["bit_generator"]
    if not isinstance(name, str) or name not in _STATE_FIELDS:
        # a name from a file is looked up, never called blindly
        raise ValueError(
            f"{op}: unknown bit generator {_shown(name)}; expected one of {', '.join(BIT_GENERATORS)}."
        )
    inner_fields, outer_fields = _STATE_FIELDS[name]
    outer_fields = {**outer_fields, **(_UINT if name != "MT19937" else {})}
    expected = {"bit_generator", "state", *outer_fields}
    if set(state) != expected or not isinstance(state["state"], dict) \
            or set(state["state"]) != set(inner_fields):
        raise ValueError(
            f"{op}: the {name} state is malformed: expected the fields "
            f"{', '.join(sorted(expected))} with state holding {', '.join(inner_fields)}."
        )
    checked = {"bit_generator": name, "state": {}}
    for field, spec in inner_fields.items():
        value = state["state"][field]
        _check_field(op, name, f"state[{field!r}]", value, spec)
        checked["state"][field] = value.copy() if isinstance(value, np.ndarray) else int(value)
    for field, spec in outer_fields.items():
        value = state[field]
        _check_field(op, name, repr(field), value, spec)
        checked[field] = value.copy() if isinstance(value, np.ndarray) else int(value)
    return checked


def _restored(op, state) -> np.random.Generator:
    """A NumPy generator in ``state`` (a dict from ``get_state``/``get_rng_state``), checked field
    by field first (``check_rng_state``)."""
    checked = check_rng_state(op, state)
    bit_generator = getattr(np.random, checked["bit_generator"])()
    try:
        bit_generator.state = checked
    except (KeyError, TypeError, ValueError, OverflowError) as err:
        raise ValueError(f"{op}: the {checked['bit_generator']} state is malformed ({err}).") from None
    return np.random.Generator(bit_generator)


class Generator:
    """A random generator of one's own, as ``torch.Generator``: pass it as ``generator=`` to keep
    a stream apart from the global one that ``chainrule.manual_seed`` seeds.

    >>> g = chainrule.Generator().manual_seed(0)
    >>> chainrule.rand(2, generator=g)      # the same two numbers after every manual_seed(0)

    A new Generator starts from the seed 67280421310721, as PyTorch's. ``get_state()`` returns the
    NumPy bit generator's state (a JSON-able dict), not PyTorch's ByteTensor.
    """

    def __init__(self, device="cpu"):
        self.device = check_device("Generator", device)
        self._initial_seed = DEFAULT_SEED
        self._numpy = np.random.default_rng(DEFAULT_SEED)

    def manual_seed(self, seed: int) -> Generator:
        """Reseed; returns self."""
        self._initial_seed = _check_seed("Generator.manual_seed", seed)
        self._numpy = np.random.default_rng(self._initial_seed)
        return self

    def seed(self) -> int:
        """Reseed from fresh OS entropy; returns the seed used."""
        self.manual_seed(_fresh_seed())
        return self._initial_seed

    def initial_seed(self) -> int:
        """The seed last set (by ``manual_seed``, ``seed`` or at creation)."""
        return self._initial_seed

    def get_state(self) -> dict:
        """The full state as a JSON-able dict; ``set_state`` restores it."""
        return self._numpy.bit_generator.state

    def set_state(self, state: dict) -> Generator:
        """Restore a state returned by ``get_state``; returns self."""
        self._numpy = _restored("Generator.set_state", state)
        return self

    def __repr__(self):
        return f"<chainrule.Generator on {self.device}, initial seed {self._initial_seed}>"


# The global generator. Its NumPy generator is replaced (never reseeded in place) by manual_seed,
# exactly as before Generator objects existed, so seeded runs keep drawing the same numbers.
_default = Generator()
_default._numpy = np.random.default_rng()
_default._initial_seed = None  # unknown until seeded: chosen by NumPy from OS entropy


def manual_seed(seed: int) -> Generator:
    """Reseed the library's global generator (initialisers, dropout, shuffling, random factories);
    returns it, as ``torch.manual_seed`` does. The generator is shared by all threads (see the
    module's docstring)."""
    _default._initial_seed = _check_seed("manual_seed", seed)
    _default._numpy = np.random.default_rng(_default._initial_seed)
    return _default


def seed() -> int:
    """Seed the global generator from fresh OS entropy; returns the seed used."""
    s = _fresh_seed()
    manual_seed(s)
    return s


def initial_seed() -> int:
    """The seed last given to ``manual_seed`` or ``seed``; a fresh one is drawn and set if
    neither has been called (NumPy had seeded the generator from OS entropy without a number)."""
    if _default._initial_seed is None:
        seed()
    return _default._initial_seed


def default_generator() -> np.random.Generator:
    """The NumPy generator that initialisers, dropout, DataLoader shuffling and randn use."""
    return _default._numpy


def numpy_generator(op: str, generator=None) -> np.random.Generator:
    """The NumPy generator behind a ``generator=`` argument: the global one for None, the one a
    ``chainrule.Generator`` wraps (a NumPy Generator is taken as it is)."""
    if generator is None:
        return _default._numpy
    if isinstance(generator, Generator):
        return generator._numpy
    if isinstance(generator, np.random.Generator):
        return generator
    raise TypeError(
        f"{op}: generator must be a chainrule.Generator. Got {type(generator).__name__} instead."
    )


def get_rng_state() -> dict:
    """The global generator's full state as a JSON-able dict."""
    return _default._numpy.bit_generator.state


def set_rng_state(state: dict) -> None:
    """Restore a state returned by ``get_rng_state``."""
    _default._numpy = _restored("set_rng_state", state)
