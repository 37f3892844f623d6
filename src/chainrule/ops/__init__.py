"""Every op of chainrule, one family per file; each op's backward sits next to its forward.

    arithmetic.py   Add Sub Mul Div Remainder Neg Pow, and unbroadcast()
    elementwise.py  Exp Log Sqrt Abs Sin Cos Clamp Log10 Log2 Log1p Expm1
    select.py       Where Maximum Minimum
    reduce.py       Sum Mean Max Min
    shape.py        Reshape Permute Expand GetItem IndexPut Cat Stack Cast
    assign.py       SetItem (x[index] = value, recorded)
    linalg.py       MatMul Linear
    activation.py   ReLU LeakyReLU Sigmoid Tanh Softmax LogSoftmax GELU (NormalCDF) ELU SELU Softplus SiLU
    embedding.py    Embedding (a lookup; its gradient is a scatter-add)
    attention.py    ScaledDotProductAttention (softmax(Q Kᵀ * scale + M) V, backward by hand)
    rnn.py          LSTMCell GRUCell (one time step each, gates fused, derivatives by hand)
    loss.py         MSELoss L1Loss HuberLoss CrossEntropyLoss NLLLoss BCELoss BCEWithLogitsLoss
    conv.py         Conv ConvTranspose Unfold Fold (im2col + GEMM, and col2im)
    pool.py         MaxPool AvgPool AdaptiveMaxPool
    norm.py         BatchNorm LayerNorm GroupNorm
    resample.py     Pad Resample (interpolate, adaptive average pooling)
    device.py       ToDevice (a copy between host and GPU; the gradient is copied back)

    dims.py         normalize_dim(s): a user's dim as an axis, or an error naming the op
    promotion.py    result_dtype: the dtype an op on several operands computes in (PyTorch's rules)
"""

from .activation import ELU, GELU, SELU, LeakyReLU, LogSoftmax, ReLU, Sigmoid, SiLU, Softmax, Softplus, Tanh
from .activation import NormalCDF  # GELU's Phi, an op so that GELU is twice differentiable
from .assign import SetItem
from .arithmetic import Add, Div, Mul, Neg, Pow, Remainder, Sub, unbroadcast
from .attention import ScaledDotProductAttention
from .embedding import Embedding
from .elementwise import Abs, Clamp, Cos, Exp, Expm1, Log, Log1p, Log2, Log10, Sin, Sqrt
from .linalg import Linear, MatMul
from .loss import (
    BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss, L1Loss, MSELoss, NLLLoss,
)
from .promotion import result_dtype
from .rnn import GRUCell, LSTMCell
from .reduce import Max, Mean, Min, Sum
from .select import Maximum, Minimum, Where
from .shape import Cast, Cat, Expand, GetItem, IndexPut, Permute, Reshape, Stack
from .conv import Conv, ConvTranspose, Fold, Unfold
from .norm import BatchNorm, GroupNorm, LayerNorm
from .pool import AdaptiveMaxPool, AvgPool, MaxPool
from .resample import Pad, Resample
from .device import ToDevice

__all__ = [
    "Add", "Sub", "Mul", "Div", "Remainder", "Neg", "Pow", "unbroadcast",
    "Exp", "Log", "Sqrt", "Abs", "Sin", "Cos", "Clamp", "Log10", "Log2", "Log1p", "Expm1",
    "Where", "Maximum", "Minimum",
    "Sum", "Mean", "Max", "Min",
    "Reshape", "Permute", "Expand", "GetItem", "IndexPut", "Cat", "Stack", "Cast", "SetItem",
    "MatMul", "Linear", "result_dtype",
    "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "Softmax", "LogSoftmax",
    "GELU", "NormalCDF", "ELU", "SELU", "Softplus", "SiLU",
    "Embedding", "LSTMCell", "GRUCell", "ScaledDotProductAttention",
    "MSELoss", "L1Loss", "HuberLoss", "CrossEntropyLoss", "NLLLoss", "BCELoss", "BCEWithLogitsLoss",
    "Conv", "ConvTranspose", "Unfold", "Fold", "MaxPool", "AvgPool", "AdaptiveMaxPool",
    "BatchNorm", "LayerNorm", "GroupNorm", "Pad", "Resample", "ToDevice",
]

# sequence-model tensor ops (one family per file):
#   indexing.py   Gather Scatter ScatterAdd IndexSelect IndexAdd MaskedFill, and one_hot
#   rearrange.py  Tril Triu Repeat Flip Roll Split Unbind, and repeat_interleave chunk
#   scan.py       CumSum CumProd Prod LogSumExp
#   sort.py       sort argsort topk (gather through the sorted order: no op of their own)
#   einsum.py     Einsum, and bmm baddbmm (matmul)
from . import einsum, indexing, rearrange, scan, sort  # noqa: E402, F401  (ops.indexing.gather, ...)
from .einsum import Einsum  # noqa: E402
from .indexing import Gather, IndexAdd, IndexSelect, MaskedFill, Scatter, ScatterAdd  # noqa: E402
from .rearrange import Flip, Repeat, Roll, Tril, Triu  # noqa: E402
from .rearrange import Split, Unbind  # noqa: E402
from .scan import CumProd, CumSum, LogSumExp, Prod  # noqa: E402

__all__ += [
    "Gather", "Scatter", "ScatterAdd", "IndexSelect", "IndexAdd", "MaskedFill",
    "Tril", "Triu", "Repeat", "Flip", "Roll", "CumSum", "CumProd", "Prod", "LogSumExp", "Einsum",
]
__all__ += ["Split", "Unbind"]

# vector_norm.py   Norm2 (the Euclidean norm), and norm (Tensor.norm's entry: every p)
from . import vector_norm  # noqa: E402, F401
from .vector_norm import Norm2  # noqa: E402

__all__ += ["Norm2"]
