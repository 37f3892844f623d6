"""Embedding lookup: one row of a weight table per token id.

The gradient of a lookup is a scatter-add: every time row k was read, the gradient that came
back for that read is added into row k of dL/dW (np.add.at sums repeated ids correctly, where
``grad[ids] += g`` would keep only the last of them).
"""

import numpy as np

from ..autograd import Function
from ..backend import arange_on, check_later, outside_range, zeros_on


class Embedding(Function):
    """Look up rows of a weight table by integer ids (PyTorch's ``F.embedding``).

    forward:  y[..., :] = W[ids[...], :]            ids: (...) integers, W: (num, dim), y: (..., dim)
    backward: dL/dW[k] = sum of dL/dy[p] over every position p with ids[p] == k  (scatter-add);
              rows never read, and the row padding_idx, get zero
              (the ids are integers: they get no gradient)
    """

    backward_returns_new_arrays = True  # (see Function)

    @staticmethod
    def forward(ctx, weight, ids, padding_idx=None):
        ctx.save_for_backward(ids)
        ctx.weight_shape = weight.shape
        ctx.padding_idx = padding_idx
        return weight[ids]

    @staticmethod
    def backward(ctx, grad_y):
        (ids,) = ctx.saved_tensors
        grad_w = zeros_on(grad_y, ctx.weight_shape)
        np.add.at(grad_w, ids.reshape(-1), grad_y.reshape(-1, ctx.weight_shape[1]))
        if ctx.padding_idx is not None:
            grad_w[ctx.padding_idx] = 0
        return grad_w, None, None

    @staticmethod
    def backward_graph(ctx, grad_y):
        """The same scatter-add as a product with a one-hot matrix, in chainrule ops:
        dL/dW = onehot(ids)ᵀ @ dL/dy (rows of the flattened positions), padding row zeroed."""
        from ..tensor import Tensor

        (ids,) = ctx.saved_tensors
        ids = ids._data if isinstance(ids, Tensor) else ids
        num, dim = ctx.weight_shape
        one_hot = (ids.reshape(-1, 1) == arange_on(ids, num)).astype(grad_y.dtype)
        if ctx.padding_idx is not None:
            one_hot[:, ctx.padding_idx] = 0
        return Tensor(one_hot.T) @ grad_y.reshape(-1, dim), None, None


def check_ids(layer: str, ids: np.ndarray, num_embeddings: int) -> np.ndarray:
    """Token ids must be integers in [0, num_embeddings): one sentence naming the layer, the
    range and the first bad value, raised before NumPy would index with them."""
    if ids.dtype.kind not in "iu":
        raise TypeError(
            f"{layer}: token ids must be integers (int64, as torch.long). Got dtype {ids.dtype} "
            "instead; convert with ids.long() or ids.astype(int)."
        )
    if ids.size:  # on a GPU the answer comes at the next synchronisation (check_later)
        def fail():
            low, high = int(ids.min()), int(ids.max())
            shown = (f"Got {low if low < 0 else high} instead" if low < 0 or high >= num_embeddings
                     else "Some did not (the ids have been changed in place since)")
            raise IndexError(
                f"{layer}: token ids must lie in [0, {num_embeddings - 1}] (num_embeddings="
                f"{num_embeddings}). {shown}."
            )

        check_later(outside_range(ids, num_embeddings, wait=False), fail)
    return ids
