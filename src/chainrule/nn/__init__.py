"""chainrule.nn: modules, layers, activations, losses, initialisers and gradient clipping.

    module.py       Module: registration of parameters and submodules, state_dict, train/eval
    parameter.py    Parameter
    layers.py       Linear Sequential Identity Flatten Dropout
    embedding.py    Embedding
    rnn.py          RNN LSTM GRU RNNCell LSTMCell GRUCell
    attention.py    MultiheadAttention TransformerEncoderLayer TransformerEncoder
                    TransformerDecoderLayer
    container.py    ModuleList ModuleDict ParameterList ParameterDict
    activation.py   ReLU LeakyReLU Sigmoid Tanh Softmax LogSoftmax GELU ELU SELU Softplus SiLU
    loss.py         MSELoss L1Loss HuberLoss CrossEntropyLoss NLLLoss BCELoss BCEWithLogitsLoss
    conv.py         Conv1d Conv2d ConvTranspose1d ConvTranspose2d
    pooling.py      MaxPool1d MaxPool2d AvgPool1d AvgPool2d AdaptiveAvgPool2d AdaptiveMaxPool2d
    normalization.py  BatchNorm1d BatchNorm2d LayerNorm GroupNorm InstanceNorm2d
    spatial.py      Unflatten Upsample Dropout2d
    functional.py   the same as functions (linear, dropout, relu, ..., mse_loss, cross_entropy, ...)
    init.py         in-place initialisers (xavier_uniform_, kaiming_uniform_, orthogonal_, ...)
    utils.py        clip_grad_norm_, clip_grad_value_, parameters_to_vector, vector_to_parameters
"""

from . import functional, init, utils
from .container import ModuleDict, ModuleList, ParameterDict, ParameterList
from .activation import ELU, GELU, SELU, LeakyReLU, LogSoftmax, ReLU, Sigmoid, SiLU, Softmax, Softplus, Tanh
from .attention import (
    MultiheadAttention, TransformerDecoderLayer, TransformerEncoder, TransformerEncoderLayer,
)
from .embedding import Embedding
from .layers import Dropout, Flatten, Identity, Linear, Sequential
from .loss import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss, L1Loss, MSELoss, NLLLoss
from .module import IncompatibleKeys, Module
from .parameter import Parameter
from .rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell
from .conv import Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d
from .normalization import BatchNorm1d, BatchNorm2d, GroupNorm, InstanceNorm2d, LayerNorm
from .pooling import AdaptiveAvgPool2d, AdaptiveMaxPool2d, AvgPool1d, AvgPool2d, MaxPool1d, MaxPool2d
from .spatial import Dropout2d, Unflatten, Upsample

__all__ = [
    "Module", "Parameter", "IncompatibleKeys",
    "Linear", "Sequential", "Identity", "Flatten", "Dropout",
    "ModuleList", "ModuleDict", "ParameterList", "ParameterDict",
    "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "Softmax", "LogSoftmax",
    "GELU", "ELU", "SELU", "Softplus", "SiLU",
    "MSELoss", "L1Loss", "HuberLoss", "CrossEntropyLoss", "NLLLoss", "BCELoss", "BCEWithLogitsLoss",
    "MultiheadAttention", "TransformerEncoderLayer", "TransformerEncoder", "TransformerDecoderLayer",
    "Embedding", "RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell",
    "functional", "init", "utils",
    "Conv1d", "Conv2d", "ConvTranspose1d", "ConvTranspose2d",
    "MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d", "AdaptiveAvgPool2d", "AdaptiveMaxPool2d",
    "BatchNorm1d", "BatchNorm2d", "LayerNorm", "GroupNorm", "InstanceNorm2d",
    "Unflatten", "Upsample", "Dropout2d",
]
