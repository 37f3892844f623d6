"""Attention and the Transformer layers, with PyTorch's names, arguments and state_dict keys.

    scaled_dot_product_attention   softmax(Q Kᵀ / sqrt(E) + mask) V, one fused op
                                   (``ops.ScaledDotProductAttention``, backward by hand)
    MultiheadAttention             project to heads, attend per head, concatenate, project back
    TransformerEncoderLayer        self-attention + feed-forward, each with a residual and LayerNorm
    TransformerEncoder             a stack of copies of an encoder layer
    TransformerDecoderLayer        self-attention, cross-attention to memory, feed-forward

Masks follow PyTorch, whose two conventions differ: in ``scaled_dot_product_attention`` a boolean
mask is True where a query MAY look at a key; in ``MultiheadAttention`` and the Transformer
layers a boolean ``attn_mask`` / ``key_padding_mask`` is True where it may NOT. A float mask is
added to the scores in both (0 to allow, -inf to forbid).
"""

from __future__ import annotations

import copy
import math

import numpy as np

from ..backend import is_array, to_device_of
from .. import ops
from ..checks import argument_error, check_bool, check_in_range, check_real
from ..random import default_generator
from ..tensor import Tensor, _resolve_dtype
from . import functional as F
from . import init
from .container import ModuleList
from .layers import Dropout, Linear
from .module import Module
from .normalization import LayerNorm
from .parameter import Parameter

__all__ = [
    "scaled_dot_product_attention", "MultiheadAttention", "TransformerEncoderLayer",
    "TransformerEncoder", "TransformerDecoderLayer",
]


def _tensor(owner: str, what: str, x) -> Tensor:
    if isinstance(x, Tensor):
        return x
    if is_array(x):
        return Tensor(x)
    raise TypeError(f"{owner}: {what} must be a Tensor. Got {type(x).__name__} instead.")


def _additive_mask(owner: str, what: str, mask, target: tuple, dtype, true_means: str):
    """A mask as something to add to scores of shape ``target``: a boolean one becomes 0 / -inf
    (True meaning 'may look' when true_means == 'attend', 'may not' when 'ignore'); a float one
    is kept (a Tensor stays a Tensor, so a gradient can reach it). It must broadcast to
    ``target`` without enlarging it."""
    if isinstance(mask, Tensor):
        array = mask._data
    elif is_array(mask):
        array = mask
    else:
        raise TypeError(f"{owner}: {what} must be a Tensor of bools or floats. Got "
                        f"{type(mask).__name__} instead.")
    try:
        fits = np.broadcast_shapes(array.shape, target) == target
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(f"{owner}: {what} of shape {array.shape} does not broadcast to the "
                         f"attention scores' shape {target}.")
    if array.dtype == bool:
        allowed = array if true_means == "attend" else ~array
        return np.where(allowed, 0.0, -np.inf).astype(dtype)
    if array.dtype.kind != "f":
        raise TypeError(f"{owner}: {what} must be bool or floating-point. Got dtype {array.dtype} "
                        "instead.")
    if isinstance(mask, Tensor) and mask.requires_grad:
        return mask if mask.dtype == dtype else mask.to(dtype)
    return array.astype(dtype, copy=False)


def _causal_mask(length: int, source: int, dtype, like) -> np.ndarray:
    """0 on and below the diagonal, -inf above: query i sees keys 0..i (a constant, no gradient),
    on the device of array ``like``. Made once per size, dtype and device and kept (read-only on
    the CPU), so a GPU gets it without a copy from the host at every step."""
    key = (length, source, np.dtype(dtype).str, type(like))
    mask = _causal_masks.get(key)
    if mask is None:
        mask = np.where(np.tril(np.ones((length, source), dtype=bool)), 0.0, -np.inf).astype(dtype)
        mask.flags.writeable = False
        mask = to_device_of(mask, like)
        if len(_causal_masks) >= 16:
            _causal_masks.pop(next(iter(_causal_masks)))
        _causal_masks[key] = mask
    return mask


_causal_masks: dict = {}  # (length, source, dtype, array type) -> the mask, the 16 made last


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p: float = 0.0,
                                 is_causal: bool = False, scale=None,
                                 enable_gqa: bool = False) -> Tensor:
    """softmax(Q Kᵀ * scale + mask) V over the last two dims, as ``torch.nn.functional.
    scaled_dot_product_attention``.

    query (..., L, E), key (..., S, E), value (..., S, Ev) with the same batch dims; returns
    (..., L, Ev). ``attn_mask``: boolean, True where a query may attend to a key, or float, added
    to the scores; it broadcasts to (..., L, S). ``is_causal``: query i attends to keys 0..i only
    (no attn_mask then). ``scale`` defaults to 1 / sqrt(E). ``dropout_p``: dropout on the weights
    (always applied when > 0; pass 0 in evaluation). ``enable_gqa=True`` is not supported.
    One fused op, ``ops.ScaledDotProductAttention``; its docstring gives the backward.
    """
    op = "scaled_dot_product_attention"
    if enable_gqa:
        raise ValueError(f"{op}: enable_gqa=True (grouped-query attention) is not supported by "
                         "chainrule; repeat the key and value heads instead.")
    q, k, v = (_tensor(op, name, t) for name, t in (("query", query), ("key", key), ("value", value)))
    for name, t in (("query", q), ("key", k), ("value", v)):
        if t.ndim < 2 or t.dtype.kind != "f":
            raise ValueError(f"{op}: {name} must be a floating-point tensor of at least 2 dims "
                             f"(..., length, features). Got shape {t.shape}, dtype {t.dtype}.")
    if q.shape[:-2] != k.shape[:-2] or k.shape[:-2] != v.shape[:-2]:
        raise ValueError(f"{op}: query, key and value must have the same batch dims. Got shapes "
                         f"{q.shape}, {k.shape} and {v.shape}.")
    if q.shape[-1] != k.shape[-1] or k.shape[-2] != v.shape[-2]:
        raise ValueError(f"{op}: query (..., L, E), key (..., S, E) and value (..., S, Ev) must "
                         f"agree in E and S. Got shapes {q.shape}, {k.shape} and {v.shape}.")
    dropout_p = check_in_range(op, "dropout_p", dropout_p, 0, 1, high_closed=True)
    is_causal = check_bool(op, "is_causal", is_causal)
    scores_shape = q.shape[:-1] + (k.shape[-2],)
    if is_causal and attn_mask is not None:
        raise ValueError(f"{op}: pass either attn_mask or is_causal=True, not both.")
    mask = None
    if is_causal:
        mask = _causal_mask(q.shape[-2], k.shape[-2], q.dtype, q._data)
    elif attn_mask is not None:
        mask = _additive_mask(op, "attn_mask", attn_mask, scores_shape, q.dtype, "attend")
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else check_real(op, "scale", scale)
    keep = _dropout_keep(dropout_p, scores_shape, q.dtype)
    if not isinstance(mask, Tensor):  # constants (a causal or boolean mask, dropout's keep) go
        mask = to_device_of(mask, q._data)  # to the queries' device
    keep = to_device_of(keep, q._data)
    return ops.ScaledDotProductAttention.apply(q, k, v, mask, scale, keep)


def _dropout_keep(p: float, shape: tuple, dtype):
    """Inverted dropout's mask, m / (1 - p) with m ~ Bernoulli(1 - p) (seeded), or None for p = 0."""
    if p == 0.0:
        return None
    if p == 1.0:
        return np.zeros(shape, dtype=dtype)
    return ((default_generator().random(shape) >= p) / (1.0 - p)).astype(dtype)


# ----- multi-head attention ---------------------------------------------------------------------


class MultiheadAttention(Module):
    """Multi-head attention (Vaswani et al., 2017), PyTorch's parameters and forward.

    For H heads of size d = embed_dim / H:
        q = query W_qᵀ + b_q,  k = key W_kᵀ + b_k,  v = value W_vᵀ + b_v      (rows of in_proj)
        split q, k, v into H heads of d features; per head
            head_h = softmax(q_h k_hᵀ / sqrt(d) + mask) v_h
        output = concat(head_1 .. head_H) W_oᵀ + b_o                            (out_proj)

    Parameters (PyTorch's names): in_proj_weight (3E, E) holding W_q, W_k, W_v stacked, or
    q_proj_weight (E, E), k_proj_weight (E, kdim), v_proj_weight (E, vdim) when kdim or vdim
    differ from embed_dim; in_proj_bias (3E,); out_proj.weight (E, E), out_proj.bias (E,).
    Init as PyTorch: xavier_uniform_ projections, zero in_proj_bias and out_proj.bias.
    add_bias_kv and add_zero_attn are not supported (refused when True).

    forward(query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
    average_attn_weights=True, is_causal=False) -> (output, weights or None)
        query (L, N, E), key (S, N, kdim), value (S, N, vdim) (N first with batch_first; no N
        for one unbatched sequence). key_padding_mask (N, S): True (or -inf) at padding keys.
        attn_mask (L, S) or (N * H, L, S): True (or -inf) where a query may NOT attend.
        is_causal: a hint that attn_mask is the causal mask (which must then be given).
        Returns output (L, N, E) and, with need_weights, the attention weights (N, L, S)
        averaged over heads, or (N, H, L, S) with average_attn_weights=False.

    Shape:
        - Input: query (L, N, E), key (S, N, kdim), value (S, N, vdim); (N, L, E) and so on with
          batch_first; (L, E), (S, kdim), (S, vdim) unbatched. L: target length, S: source
          length, E = embed_dim
        - Output: (L, N, E) ((N, L, E) with batch_first; (L, E) unbatched), and the weights
          (N, L, S), or (N, num_heads, L, S) with average_attn_weights=False ((L, S) unbatched)

    Example:
        >>> mha = nn.MultiheadAttention(16, 4, batch_first=True)
        >>> x = chainrule.randn(2, 5, 16)
        >>> output, weights = mha(x, x, x)  # self-attention
        >>> output.shape, weights.shape
        ((2, 5, 16), (2, 5, 5))
        >>> bool(((weights.sum(dim=-1) - 1).abs() < 1e-5).all())  # each query's weights sum to 1
        True
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 add_bias_kv: bool = False, add_zero_attn: bool = False, kdim=None, vdim=None,
                 batch_first: bool = False, dtype=None):
        super().__init__()
        name = "MultiheadAttention"
        self.embed_dim = check_in_range(name, "embed_dim", embed_dim, 1, integer=True)
        self.num_heads = check_in_range(name, "num_heads", num_heads, 1, integer=True)
        if embed_dim % num_heads:
            raise ValueError(f"{name}: embed_dim ({embed_dim}) must be divisible by num_heads "
                             f"({num_heads}), so that every head gets embed_dim / num_heads "
                             "features.")
        self.head_dim = embed_dim // num_heads
        self.dropout = check_in_range(name, "dropout", dropout, 0, 1, high_closed=True)
        self.batch_first = check_bool(name, "batch_first", batch_first)
        if add_bias_kv:
            raise ValueError(f"{name}: add_bias_kv=True is not supported by chainrule.")
        if add_zero_attn:
            raise ValueError(f"{name}: add_zero_attn=True is not supported by chainrule.")
        self.kdim = embed_dim if kdim is None else check_in_range(name, "kdim", kdim, 1, integer=True)
        self.vdim = embed_dim if vdim is None else check_in_range(name, "vdim", vdim, 1, integer=True)
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        dtype = _resolve_dtype(dtype) or np.dtype(np.float32)
        E = embed_dim
        if self._qkv_same_embed_dim:
            self.in_proj_weight = Parameter(np.empty((3 * E, E), dtype=dtype))
            for unused in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self.register_parameter(unused, None)
        else:
            self.register_parameter("in_proj_weight", None)
            self.q_proj_weight = Parameter(np.empty((E, E), dtype=dtype))
            self.k_proj_weight = Parameter(np.empty((E, self.kdim), dtype=dtype))
            self.v_proj_weight = Parameter(np.empty((E, self.vdim), dtype=dtype))
        if bias:
            self.in_proj_bias = Parameter(np.empty(3 * E, dtype=dtype))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(E, E, bias=bias, dtype=dtype)
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            for w in (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight):
                init.xavier_uniform_(w)
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)

    def _projections(self):
        """(W_q, W_k, W_v) and (b_q, b_k, b_v): slices of in_proj_weight / in_proj_bias (their
        gradients flow back into the one Parameter) or the three separate weights."""
        E = self.embed_dim
        if self._qkv_same_embed_dim:
            w = self.in_proj_weight
            weights = (w[:E], w[E:2 * E], w[2 * E:])
        else:
            weights = (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight)
        b = self.in_proj_bias
        biases = (None, None, None) if b is None else (b[:E], b[E:2 * E], b[2 * E:])
        return weights, biases

    def _check_inputs(self, query, key, value):
        name = "MultiheadAttention"
        q, k, v = (_tensor(name, n, t) for n, t in (("query", query), ("key", key), ("value", value)))
        if q.ndim not in (2, 3) or k.ndim != q.ndim or v.ndim != q.ndim:
            layout = "(N, L, E)" if self.batch_first else "(L, N, E)"
            raise ValueError(f"{name}: query, key and value must all be 3-D {layout} "
                             f"(batch_first={self.batch_first}) or all 2-D (L, E) for one "
                             f"unbatched sequence. Got shapes {q.shape}, {k.shape}, {v.shape}.")
        for what, t, size in (("query", q, self.embed_dim), ("key", k, self.kdim),
                              ("value", v, self.vdim)):
            if t.shape[-1] != size:
                raise ValueError(f"{name}: the last dim of {what} must be {size} (embed_dim, kdim "
                                 f"and vdim). Got shape {t.shape} instead.")
        if k.shape[:-1] != v.shape[:-1]:
            raise ValueError(f"{name}: key and value must have the same length and batch. Got "
                             f"shapes {k.shape} and {v.shape}.")
        return q, k, v

    def forward(self, query, key, value, key_padding_mask=None, need_weights: bool = True,
                attn_mask=None, average_attn_weights: bool = True, is_causal: bool = False):
        name = "MultiheadAttention"
        q, k, v = self._check_inputs(query, key, value)
        unbatched = q.ndim == 2
        if unbatched:
            q, k, v = q.unsqueeze(0), k.unsqueeze(0), v.unsqueeze(0)
        elif not self.batch_first:  # work in (N, L, E)
            q, k, v = q.transpose(0, 1), k.transpose(0, 1), v.transpose(0, 1)
        N, L, S, H, d = q.shape[0], q.shape[1], k.shape[1], self.num_heads, self.head_dim
        if q.shape[0] != k.shape[0]:
            raise ValueError(f"{name}: query and key must have the same batch size. Got "
                             f"{q.shape[0]} and {k.shape[0]}.")
        if is_causal and attn_mask is None:
            raise ValueError(f"{name}: is_causal=True is a hint that attn_mask is the causal mask; "
                             "pass the mask too (as PyTorch requires).")
        mask = self._merged_mask(attn_mask, key_padding_mask, N, L, S, q.dtype, unbatched)
        (w_q, w_k, w_v), (b_q, b_k, b_v) = self._projections()
        heads = []
        for x, w, b, length in ((q, w_q, b_q, L), (k, w_k, b_k, S), (v, w_v, b_v, S)):
            projected = ops.Linear.apply(x, w, b)  # (N, length, E)
            heads.append(projected.reshape(N, length, H, d).transpose(1, 2))  # (N, H, length, d)
        p = self.dropout if self.training else 0.0
        if need_weights:
            # The weights are wanted too: the same formulas, composed of ops (PyTorch also takes a
            # separate path here), so the weights are a Tensor of the graph.
            qh, kh, vh = heads
            scores = (qh @ kh.transpose(-1, -2)) * (1.0 / math.sqrt(d))
            if mask is not None:
                scores = scores + mask
            weights = scores.softmax(-1)
            if p > 0:
                weights = weights * _dropout_keep(p, weights.shape, weights.dtype)
            attended = weights @ vh
        else:
            attended = scaled_dot_product_attention(*heads, attn_mask=mask, dropout_p=p)
            weights = None
        output = self.out_proj(attended.transpose(1, 2).reshape(N, L, self.embed_dim))
        if unbatched:
            output = output.squeeze(0)
        elif not self.batch_first:
            output = output.transpose(0, 1)
        if weights is not None:
            if average_attn_weights:
                weights = weights.mean(dim=1)
            if unbatched:
                weights = weights.squeeze(0)
        return output, weights

    def _merged_mask(self, attn_mask, key_padding_mask, N, L, S, dtype, unbatched):
        """attn_mask and key_padding_mask as one additive mask broadcast to (N, H, L, S), or None.
        (Masks here are constants: a float mask that requires grad is refused.)"""
        name = "MultiheadAttention"
        mask = None
        H = self.num_heads
        if attn_mask is not None:
            a = attn_mask._data if isinstance(attn_mask, Tensor) else attn_mask
            shape = np.shape(a)
            if len(shape) == 2 and shape != (L, S) or len(shape) == 3 and shape != (N * H, L, S) \
                    or len(shape) not in (2, 3):
                raise ValueError(f"{name}: attn_mask must have shape ({L}, {S}) (L, S) or "
                                 f"({N * H}, {L}, {S}) (N * num_heads, L, S). Got {shape} instead.")
            mask = self._constant_mask("attn_mask", attn_mask, shape, dtype)
            if len(shape) == 3:
                mask = mask.reshape(N, H, L, S)
        if key_padding_mask is not None:
            a = key_padding_mask._data if isinstance(key_padding_mask, Tensor) else key_padding_mask
            expected = (S,) if unbatched else (N, S)
            if np.shape(a) != expected:
                raise ValueError(f"{name}: key_padding_mask must have shape {expected} "
                                 f"({'S' if unbatched else 'N, S'}): True at padding keys. Got "
                                 f"{np.shape(a)} instead.")
            padding = self._constant_mask("key_padding_mask", key_padding_mask, expected, dtype)
            padding = padding.reshape(N, 1, 1, S)
            mask = padding if mask is None else mask + padding
        return mask

    @staticmethod
    def _constant_mask(what, mask, shape, dtype) -> np.ndarray:
        if isinstance(mask, Tensor) and mask.requires_grad:
            raise ValueError(f"MultiheadAttention: {what} requires grad, but chainrule treats "
                             f"the masks of MultiheadAttention as constants; pass {what}.detach().")
        return _additive_mask("MultiheadAttention", what, mask, shape, dtype, "ignore")

    def extra_repr(self) -> str:
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}"


# ----- Transformer layers -----------------------------------------------------------------------


def _activation(owner: str, activation):
    """'relu' and 'gelu' by name (as PyTorch), or any callable (a function or a Module)."""
    if activation == "relu":
        return F.relu
    if activation == "gelu":
        return F.gelu
    if callable(activation):
        return activation
    raise argument_error(owner, "activation", "'relu', 'gelu' or a callable", activation)


class _FeedForwardBlocks(Module):
    """What the encoder and decoder layers share: the feed-forward block and its checks."""

    def _setup(self, owner, dim_feedforward, layer_norm_eps, batch_first, norm_first):
        check_in_range(owner, "dim_feedforward", dim_feedforward, 1, integer=True)
        check_real(owner, "layer_norm_eps", layer_norm_eps)
        self.norm_first = check_bool(owner, "norm_first", norm_first)
        self.batch_first = check_bool(owner, "batch_first", batch_first)

    def _set_activation(self, owner, activation):
        """Registered last, as in PyTorch: a Module as a submodule, a function as an attribute."""
        act = _activation(owner, activation)
        if isinstance(act, Module):
            self.activation = act
        else:
            object.__setattr__(self, "activation", act)

    def _feed_forward(self, x, last_dropout):
        """last_dropout(linear2(dropout(activation(linear1(x)))))"""
        return last_dropout(self.linear2(self.dropout(self.activation(self.linear1(x)))))


class TransformerEncoderLayer(_FeedForwardBlocks):
    """Self-attention and a feed-forward network, each with a residual connection and LayerNorm
    (PyTorch's layer, parameter names and defaults):

        norm_first=False (post-norm, the default):  x = norm1(x + sa(x));  x = norm2(x + ff(x))
        norm_first=True  (pre-norm):                x = x + sa(norm1(x));  x = x + ff(norm2(x))
        sa(x) = dropout1(self_attn(x, x, x))        ff(x) = dropout2(linear2(dropout(act(linear1(x)))))

    Arguments: d_model, nhead, dim_feedforward=2048, dropout=0.1, activation='relu' ('gelu' or a
    callable), layer_norm_eps=1e-5, batch_first=False, norm_first=False, bias=True.
    forward(src, src_mask=None, src_key_padding_mask=None, is_causal=False): masks as
    MultiheadAttention's (True where a query may NOT attend).

    Shape:
        - Input: src (S, N, E), E = d_model; (N, S, E) with batch_first; (S, E) unbatched
        - Output: the input's shape

    Example:
        >>> layer = nn.TransformerEncoderLayer(d_model=16, nhead=4, dim_feedforward=32,
        ...                                    batch_first=True)
        >>> layer(chainrule.randn(2, 5, 16)).shape
        (2, 5, 16)
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048,
                 dropout: float = 0.1, activation="relu", layer_norm_eps: float = 1e-5,
                 batch_first: bool = False, norm_first: bool = False, bias: bool = True,
                 dtype=None):
        super().__init__()
        self._setup("TransformerEncoderLayer", dim_feedforward, layer_norm_eps, batch_first, norm_first)
        kw = dict(dropout=dropout, bias=bias, batch_first=batch_first, dtype=dtype)
        self.self_attn = MultiheadAttention(d_model, nhead, **kw)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, dtype=dtype)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, dtype=dtype)
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self._set_activation("TransformerEncoderLayer", activation)

    def _ff_block(self, x):
        return self._feed_forward(x, self.dropout2)

    def _sa_block(self, x, mask, padding, is_causal):
        x = self.self_attn(x, x, x, attn_mask=mask, key_padding_mask=padding, need_weights=False,
                           is_causal=is_causal)[0]
        return self.dropout1(x)

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal: bool = False):
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            x = x + self._ff_block(self.norm2(x))
        else:
            x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
            x = self.norm2(x + self._ff_block(x))
        return x


class TransformerDecoderLayer(_FeedForwardBlocks):
    """Self-attention, cross-attention to the encoder's output (memory) and a feed-forward
    network, each with a residual connection and LayerNorm (PyTorch's layer and names):

        norm_first=False:  x = norm1(x + sa(x));  x = norm2(x + mha(x, memory));  x = norm3(x + ff(x))
        norm_first=True:   x = x + sa(norm1(x));  x = x + mha(norm2(x), memory);  x = x + ff(norm3(x))

    Arguments as TransformerEncoderLayer. forward(tgt, memory, tgt_mask=None, memory_mask=None,
    tgt_key_padding_mask=None, memory_key_padding_mask=None, tgt_is_causal=False,
    memory_is_causal=False).

    Shape:
        - Input: tgt (T, N, E) and memory (S, N, E), E = d_model; (N, T, E) and (N, S, E) with
          batch_first; (T, E) and (S, E) unbatched
        - Output: tgt's shape

    Example:
        >>> layer = nn.TransformerDecoderLayer(d_model=16, nhead=4, dim_feedforward=32,
        ...                                    batch_first=True)
        >>> memory = chainrule.randn(2, 5, 16)  # the encoder's output: 5 source positions
        >>> layer(chainrule.randn(2, 3, 16), memory).shape
        (2, 3, 16)
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048,
                 dropout: float = 0.1, activation="relu", layer_norm_eps: float = 1e-5,
                 batch_first: bool = False, norm_first: bool = False, bias: bool = True,
                 dtype=None):
        super().__init__()
        self._setup("TransformerDecoderLayer", dim_feedforward, layer_norm_eps, batch_first, norm_first)
        kw = dict(dropout=dropout, bias=bias, batch_first=batch_first, dtype=dtype)
        self.self_attn = MultiheadAttention(d_model, nhead, **kw)
        self.multihead_attn = MultiheadAttention(d_model, nhead, **kw)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, dtype=dtype)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, dtype=dtype)
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.norm3 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.dropout3 = Dropout(dropout)
        self._set_activation("TransformerDecoderLayer", activation)

    def _ff_block(self, x):
        return self._feed_forward(x, self.dropout3)

    def _sa_block(self, x, mask, padding, is_causal):
        x = self.self_attn(x, x, x, attn_mask=mask, key_padding_mask=padding, need_weights=False,
                           is_causal=is_causal)[0]
        return self.dropout1(x)

    def _mha_block(self, x, memory, mask, padding, is_causal):
        x = self.multihead_attn(x, memory, memory, attn_mask=mask, key_padding_mask=padding,
                                need_weights=False, is_causal=is_causal)[0]
        return self.dropout2(x)

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal: bool = False,
                memory_is_causal: bool = False):
        x = tgt
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), tgt_mask, tgt_key_padding_mask, tgt_is_causal)
            x = x + self._mha_block(self.norm2(x), memory, memory_mask, memory_key_padding_mask,
                                    memory_is_causal)
            x = x + self._ff_block(self.norm3(x))
        else:
            x = self.norm1(x + self._sa_block(x, tgt_mask, tgt_key_padding_mask, tgt_is_causal))
            x = self.norm2(x + self._mha_block(x, memory, memory_mask, memory_key_padding_mask,
                                               memory_is_causal))
            x = self.norm3(x + self._ff_block(x))
        return x


class TransformerEncoder(Module):
    """``num_layers`` independent copies of ``encoder_layer`` applied in turn, then ``norm`` if
    given. Parameter names as PyTorch: layers.0.self_attn.in_proj_weight, ..., norm.weight.
    forward(src, mask=None, src_key_padding_mask=None, is_causal=None). enable_nested_tensor and
    mask_check are accepted for PyTorch's signature; in PyTorch they only choose faster paths with
    the same results, and chainrule has one path.

    Shape:
        - Input: src, as encoder_layer takes it: (S, N, E), or (N, S, E) with batch_first
        - Output: the input's shape

    Example:
        >>> layer = nn.TransformerEncoderLayer(d_model=16, nhead=4, dim_feedforward=32,
        ...                                    batch_first=True)
        >>> encoder = nn.TransformerEncoder(layer, num_layers=2)
        >>> encoder(chainrule.randn(2, 5, 16)).shape
        (2, 5, 16)
        >>> [name for name, _ in encoder.named_parameters()][:2]
        ['layers.0.self_attn.in_proj_weight', 'layers.0.self_attn.in_proj_bias']
    """

    def __init__(self, encoder_layer: Module, num_layers: int, norm=None,
                 enable_nested_tensor: bool = True, mask_check: bool = True):
        super().__init__()
        if not isinstance(encoder_layer, Module):
            raise TypeError(f"TransformerEncoder: encoder_layer must be a Module. Got "
                            f"{type(encoder_layer).__name__} instead.")
        self.num_layers = check_in_range("TransformerEncoder", "num_layers", num_layers, 1,
                                         integer=True)
        self.layers = ModuleList([copy.deepcopy(encoder_layer) for _ in range(num_layers)])
        if norm is not None:
            self.norm = norm
        else:
            self.register_module("norm", None)

    def forward(self, src, mask=None, src_key_padding_mask=None, is_causal=None):
        x = src
        for layer in self.layers:
            x = layer(x, src_mask=mask, src_key_padding_mask=src_key_padding_mask,
                      is_causal=bool(is_causal))
        return x if self.norm is None else self.norm(x)
