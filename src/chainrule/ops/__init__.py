"""Every op of chainrule, one family per file; each op's backward sits next to its forward.

    arithmetic.py   Add Sub Mul Div Remainder Neg Pow, and unbroadcast()
    elementwise.py  Exp Log Sqrt Abs Sin Cos Clamp
    select.py       Where Maximum Minimum
    reduce.py       Sum Mean Max Min
    shape.py        Reshape Permute Expand GetItem Cat Stack Cast
    linalg.py       MatMul Linear
    activation.py   ReLU LeakyReLU Sigmoid Tanh Softmax LogSoftmax GELU ELU SELU Softplus SiLU
    embedding.py    Embedding (a lookup; its gradient is a scatter-add)
    attention.py    ScaledDotProductAttention (softmax(Q Kᵀ * scale + M) V, backward by hand)
    rnn.py          LSTMCell GRUCell (one time step each, gates fused, derivatives by hand)
    loss.py         MSELoss L1Loss HuberLoss CrossEntropyLoss NLLLoss BCELoss BCEWithLogitsLoss

    dims.py         normalize_dim(s): a user's dim as an axis, or an error naming the op
    promotion.py    result_dtype: the dtype an op on several operands computes in (PyTorch's rules)
"""

from .activation import ELU, GELU, SELU, LeakyReLU, LogSoftmax, ReLU, Sigmoid, SiLU, Softmax, Softplus, Tanh
from .arithmetic import Add, Div, Mul, Neg, Pow, Remainder, Sub, unbroadcast
from .attention import ScaledDotProductAttention
from .embedding import Embedding
from .elementwise import Abs, Clamp, Cos, Exp, Log, Sin, Sqrt
from .linalg import Linear, MatMul
from .loss import (
    BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss, L1Loss, MSELoss, NLLLoss,
)
from .promotion import result_dtype
from .rnn import GRUCell, LSTMCell
from .reduce import Max, Mean, Min, Sum
from .select import Maximum, Minimum, Where
from .shape import Cast, Cat, Expand, GetItem, Permute, Reshape, Stack

__all__ = [
    "Add", "Sub", "Mul", "Div", "Remainder", "Neg", "Pow", "unbroadcast",
    "Exp", "Log", "Sqrt", "Abs", "Sin", "Cos", "Clamp",
    "Where", "Maximum", "Minimum",
    "Sum", "Mean", "Max", "Min",
    "Reshape", "Permute", "Expand", "GetItem", "Cat", "Stack", "Cast",
    "MatMul", "Linear", "result_dtype",
    "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "Softmax", "LogSoftmax",
    "GELU", "ELU", "SELU", "Softplus", "SiLU",
    "Embedding", "LSTMCell", "GRUCell", "ScaledDotProductAttention",
    "MSELoss", "L1Loss", "HuberLoss", "CrossEntropyLoss", "NLLLoss", "BCELoss", "BCEWithLogitsLoss",
]
