"""Embedding: a learned table of vectors, one row per token id."""

from __future__ import annotations

import numpy as np

from ..checks import check_in_range, check_real
from ..tensor import Tensor, _resolve_dtype
from . import functional as F
from . import init
from .module import Module
from .parameter import Parameter

__all__ = ["Embedding"]


class Embedding(Module):
    """A lookup table: ``Embedding(num_embeddings, embedding_dim)(ids)`` returns row ``ids[...]``
    of ``weight`` for every id, so integer ids of shape (*) give vectors of shape
    (*, embedding_dim). The same as multiplying a one-hot vector by the table, without building it.

    weight: (num_embeddings, embedding_dim), initialised N(0, 1) as PyTorch.
    padding_idx: the row of a padding token; it is initialised to zeros and gets no gradient, so it
    stays as it is during training.
    max_norm: rows that are looked up and whose norm_type-norm exceeds it are rescaled in place to
    that norm before the lookup (as PyTorch). scale_grad_by_freq and sparse are refused.
    The derivative (``ops.Embedding``): dL/dW[k] = the sum of dL/dy over the positions that read k.

    Shape:
        - Input: (*), integer ids in [0, num_embeddings), any number of dimensions
        - Output: (*, H), H = embedding_dim

    Example:
        >>> emb = nn.Embedding(10, 3)
        >>> emb(chainrule.tensor([[1, 2, 4], [4, 3, 9]])).shape
        (2, 3, 3)
        >>> nn.Embedding(10, 3, padding_idx=0)(chainrule.tensor([0]))  # the padding row: zeros
        tensor([[0., 0., 0.]], grad_fn=<EmbeddingBackward>)
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx=None, max_norm=None,
                 norm_type: float = 2.0, scale_grad_by_freq: bool = False, sparse: bool = False,
                 _weight=None, _freeze: bool = False, dtype=None):
        super().__init__()
        self.num_embeddings = check_in_range("Embedding", "num_embeddings", num_embeddings, 0,
                                             integer=True)
        self.embedding_dim = check_in_range("Embedding", "embedding_dim", embedding_dim, 0,
                                            integer=True)
        self.padding_idx = F._padding_idx("Embedding", padding_idx, self.num_embeddings)
        self.max_norm = None if max_norm is None else check_real("Embedding", "max_norm", max_norm)
        self.norm_type = check_real("Embedding", "norm_type", norm_type)
        if scale_grad_by_freq:
            raise ValueError("Embedding: scale_grad_by_freq=True is not supported by chainrule.")
        if sparse:
            raise ValueError("Embedding: sparse=True is not supported by chainrule (gradients are "
                             "dense).")
        self.scale_grad_by_freq = False
        self.sparse = False
        if _weight is None:
            dtype = _resolve_dtype(dtype) or np.dtype(np.float32)
            if dtype.kind != "f":
                raise TypeError(f"Embedding: dtype must be a floating-point dtype. Got {dtype} "
                                "instead.")
            self.weight = Parameter(np.empty((self.num_embeddings, self.embedding_dim), dtype=dtype),
                                    requires_grad=not _freeze)
            self.reset_parameters()
        else:
            array = _weight._data if isinstance(_weight, Tensor) else np.asarray(_weight)
            if array.shape != (self.num_embeddings, self.embedding_dim):
                raise ValueError(
                    f"Embedding: _weight must have shape ({self.num_embeddings}, "
                    f"{self.embedding_dim}). Got {array.shape} instead.")
            self.weight = Parameter(array.copy(), requires_grad=not _freeze)

    def reset_parameters(self) -> None:
        """W ~ N(0, 1), then the padding row set to zeros (PyTorch's default)."""
        init.normal_(self.weight)
        if self.padding_idx is not None:
            self.weight._data[self.padding_idx] = 0

    def forward(self, input):
        return F._embedding("Embedding", input, self.weight, self.padding_idx, self.max_norm,
                            self.norm_type, False, False)  # errors name the layer

    @classmethod
    def from_pretrained(cls, embeddings, freeze: bool = True, padding_idx=None, max_norm=None,
                        norm_type: float = 2.0, scale_grad_by_freq: bool = False,
                        sparse: bool = False) -> Embedding:
        """An Embedding whose weight is a copy of ``embeddings`` (2-D); with ``freeze=True`` (the
        default) the weight does not require grad. The padding row is kept as given."""
        array = embeddings._data if isinstance(embeddings, Tensor) else np.asarray(embeddings)
        if array.ndim != 2:
            raise ValueError(f"Embedding.from_pretrained: embeddings must be 2-D (num_embeddings, "
                             f"embedding_dim). Got shape {array.shape} instead.")
        return cls(array.shape[0], array.shape[1], padding_idx, max_norm, norm_type,
                   scale_grad_by_freq, sparse, _weight=array, _freeze=freeze)

    def extra_repr(self) -> str:
        text = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            text += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            text += f", max_norm={self.max_norm}"
        return text
