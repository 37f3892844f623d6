"""``chainrule.nn.utils.rnn``: batching sequences of different lengths.

    pad_sequence   stack sequences of different lengths into one padded batch
"""

from __future__ import annotations

import numpy as np

from ..checks import check_bool, check_choice, check_real
from ..functions import cat, stack
from ..tensor import Tensor

__all__ = ["pad_sequence"]


def pad_sequence(sequences, batch_first: bool = False, padding_value: float = 0.0,
                 padding_side: str = "right") -> Tensor:
    """Stack tensors of shapes (L_i, *) into one batch, padding each to the longest length
    L = max L_i with ``padding_value``: (L, B, *), or (B, L, *) with ``batch_first=True``.
    ``padding_side`` 'right' (the default) puts the padding after each sequence, 'left' before.
    Built from cat and stack, so gradients flow back to each sequence (the padding gets none).

    >>> a, b = chainrule.ones(3, 2), chainrule.ones(1, 2)
    >>> pad_sequence([a, b], batch_first=True).shape
    (2, 3, 2)
    """
    op = "pad_sequence"
    batch_first = check_bool(op, "batch_first", batch_first)
    padding_value = check_real(op, "padding_value", padding_value)
    check_choice(op, "padding_side", padding_side, ("right", "left"))
    if isinstance(sequences, Tensor) or not isinstance(sequences, (list, tuple)) or not sequences:
        raise TypeError(f"{op}: expected a non-empty list of Tensors of shapes (L_i, *). Got "
                        f"{type(sequences).__name__} instead.")
    seqs = [s if isinstance(s, Tensor) else Tensor(s) for s in sequences]
    trailing = seqs[0].shape[1:]
    for k, s in enumerate(seqs):
        if s.ndim == 0 or s.shape[1:] != trailing:
            raise ValueError(
                f"{op}: every sequence must have shape (L_i, *{trailing}) like sequence 0; "
                f"sequence {k} has shape {s.shape}. Only the first dim (the length) may differ.")
    longest = max(s.shape[0] for s in seqs)
    padded = []
    for s in seqs:
        missing = longest - s.shape[0]
        if missing:
            pad = Tensor._from_op(np.full_like(s._data, padding_value, shape=(missing, *trailing)), None)
            s = cat([s, pad] if padding_side == "right" else [pad, s], 0)
        padded.append(s)
    return stack(padded, 0 if batch_first else 1)
