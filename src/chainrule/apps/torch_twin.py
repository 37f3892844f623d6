"""A PyTorch twin of a chainrule model, trained in lockstep, so the two can be compared step by step.

    twin = TorchTwin(model, loss_fn, optimizer, clip_value=1.0)   # same weights, same settings
    history = fit(model, loss_fn, optimizer, loader, callbacks=[twin.lockstep()])
    twin.step_loss            # PyTorch's loss at every step, beside history.step_loss
    max_relative_difference(history.step_loss, twin.step_loss)

What "twin" means here:
- ``build_torch_twin(model)`` builds a ``torch.nn.Sequential`` with the same layers (Linear and the
  activations of chainrule.nn, with their settings) and the same dtype, and copies every weight.
  PyTorch names the parameters as chainrule does ('0.weight', '0.bias', '2.weight', ...), so the
  copy goes name by name.
- ``torch_optimizer_like(optimizer, params)`` builds the torch.optim optimizer of the same class
  with the same hyper-parameters (SGD, Adam, AdamW, RMSprop, Adagrad).
- ``TorchTwin`` trains the twin on the batches it is given, treating gradients exactly as
  ``chainrule.train.fit`` does: clip by value, then clip by total norm, then (``normalize_grad``)
  rescale each gradient to unit L2 norm, then step.

Why lockstep needs nothing more than the batch: the twin owns its weights, so where in the chainrule
step it runs does not matter; what must match is the data, batch by batch, in the same order. The
``lockstep()`` callback takes the batch that ``fit`` has just used (``state.inputs``,
``state.targets``) in ``on_step_end`` and makes one twin step on it. The twin draws no random
numbers, so it leaves the shuffling of later epochs untouched. (Dropout is the exception: its masks
cannot be shared, so a model with Dropout(p > 0) is refused.)

PyTorch is imported inside the functions that use it; ``require_torch()`` explains how to install
it when it is missing. Speed: for small models call ``torch.set_num_threads(1)`` first; PyTorch's
thread pool only spins on tensors this small (a 2-10-1 step measured 0.6 ms with one thread and
18 ms of CPU with two, on a busy 2-core machine).
"""

from __future__ import annotations

import math
from collections import OrderedDict

import numpy as np

from .. import nn
from ..training.callbacks import Callback
from ..tensor import Tensor

__all__ = [
    "TORCH_REQUIREMENT", "require_torch", "build_torch_twin", "copy_weights_to_torch",
    "torch_optimizer_like", "torch_loss_like", "TorchTwin", "LockstepTwin",
    "max_relative_difference",
]

TORCH_REQUIREMENT = "torch==2.13.0"


def require_torch():
    """Import and return ``torch``, or raise ImportError saying how to install it."""
    try:
        import torch
    except ImportError:
        raise ImportError(
            f"This needs PyTorch, which is not installed; install it with "
            f"pip install \"chainrule[torch]\" (or pip install {TORCH_REQUIREMENT})."
        ) from None
    return torch


# --------------------------------------------------------------------------------------------
# Layers
# --------------------------------------------------------------------------------------------


def _torch_layer(torch, module):
    """The torch.nn layer equal to one chainrule layer, or a TypeError naming what cannot be twinned.

    Exact types only: a subclass (say a Linear that fuses a hand-written activation) may compute
    something else, so it is refused rather than guessed.
    """
    tnn = torch.nn
    kind = type(module)
    if kind is nn.Linear:
        return tnn.Linear(module.in_features, module.out_features, bias=module.bias is not None)
    simple = {nn.ReLU: tnn.ReLU, nn.Sigmoid: tnn.Sigmoid, nn.Tanh: tnn.Tanh, nn.SELU: tnn.SELU,
              nn.SiLU: tnn.SiLU, nn.Identity: tnn.Identity}
    if kind in simple:
        return simple[kind]()
    if kind is nn.LeakyReLU:
        return tnn.LeakyReLU(module.negative_slope)
    if kind is nn.Softmax:
        return tnn.Softmax(dim=module.dim)
    if kind is nn.LogSoftmax:
        return tnn.LogSoftmax(dim=module.dim)
    if kind is nn.GELU:
        return tnn.GELU(approximate=module.approximate)
    if kind is nn.ELU:
        return tnn.ELU(alpha=module.alpha)
    if kind is nn.Softplus:
        return tnn.Softplus(beta=module.beta, threshold=module.threshold)
    if kind is nn.Flatten:
        return tnn.Flatten(module.start_dim, module.end_dim)
    if kind is nn.Dropout:
        if module.p == 0:
            return tnn.Identity()
        raise TypeError(
            f"build_torch_twin: Dropout(p={module.p}) cannot be twinned in lockstep, since its "
            "random masks cannot be shared with PyTorch; use p=0 or remove it."
        )
    twin = _torch_image_layer(tnn, module)
    if twin is not None:
        return twin
    raise TypeError(
        f"build_torch_twin: the layer {kind.__name__} has no PyTorch twin; expected Linear, an "
        "activation of chainrule.nn, Identity, Flatten, Dropout(p=0), or a convolution, pooling or "
        "normalization layer."
    )


def _torch_image_layer(tnn, m):
    """The torch.nn twin of a layer of chainrule.nn.conv, .pooling, .normalization or .spatial
    (built from the same constructor arguments), or None."""
    kind = type(m)
    name = kind.__name__
    if kind in (nn.Conv1d, nn.Conv2d):
        return getattr(tnn, name)(m.in_channels, m.out_channels, m.kernel_size, m.stride, m.padding,
                                  m.dilation, m.groups, m.bias is not None, m.padding_mode)
    if kind in (nn.ConvTranspose1d, nn.ConvTranspose2d):
        return getattr(tnn, name)(m.in_channels, m.out_channels, m.kernel_size, m.stride, m.padding,
                                  m.output_padding, m.groups, m.bias is not None, m.dilation)
    if kind in (nn.MaxPool1d, nn.MaxPool2d):
        return getattr(tnn, name)(m.kernel_size, m.stride, m.padding, m.dilation, m.return_indices,
                                  m.ceil_mode)
    if kind is nn.AvgPool1d:
        return tnn.AvgPool1d(m.kernel_size, m.stride, m.padding, m.ceil_mode, m.count_include_pad)
    if kind is nn.AvgPool2d:
        return tnn.AvgPool2d(m.kernel_size, m.stride, m.padding, m.ceil_mode, m.count_include_pad,
                             m.divisor_override)
    if kind is nn.AdaptiveAvgPool2d:
        return tnn.AdaptiveAvgPool2d(m.output_size)
    if kind is nn.AdaptiveMaxPool2d:
        return tnn.AdaptiveMaxPool2d(m.output_size, m.return_indices)
    if kind in (nn.BatchNorm1d, nn.BatchNorm2d, nn.InstanceNorm2d):
        return getattr(tnn, name)(m.num_features, m.eps, m.momentum, m.affine,
                                  m.track_running_stats, bias=m.bias is not None)
    if kind is nn.LayerNorm:
        return tnn.LayerNorm(m.normalized_shape, m.eps, m.elementwise_affine, bias=m.bias is not None)
    if kind is nn.GroupNorm:
        return tnn.GroupNorm(m.num_groups, m.num_channels, m.eps, m.affine, bias=m.bias is not None)
    if kind is nn.Unflatten:
        return tnn.Unflatten(m.dim, m.unflattened_size)
    if kind is nn.Upsample:
        return tnn.Upsample(m.size, m.scale_factor, m.mode, m.align_corners)
    if kind is nn.Dropout2d and m.p == 0:
        return tnn.Identity()
    return None


def _torch_dtype(torch, array: np.ndarray):
    dtypes = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}
    if array.dtype not in dtypes:
        raise TypeError(f"build_torch_twin: parameters must be float32 or float64. Got {array.dtype}.")
    return dtypes[array.dtype]


def copy_weights_to_torch(model, twin) -> None:
    """Copy every parameter and buffer of the chainrule ``model`` into ``twin``, name by name (in
    place)."""
    torch = require_torch()
    ours = dict(model.named_parameters())
    theirs = dict(twin.named_parameters())
    if list(ours) != list(theirs):
        raise ValueError(
            f"copy_weights_to_torch: the models' parameters differ: chainrule has {list(ours)}, "
            f"PyTorch has {list(theirs)}."
        )
    with torch.no_grad():
        for name, param in ours.items():
            if tuple(param.shape) != tuple(theirs[name].shape):
                raise ValueError(
                    f"copy_weights_to_torch: '{name}' has shape {tuple(param.shape)} in chainrule "
                    f"but {tuple(theirs[name].shape)} in PyTorch."
                )
            theirs[name].copy_(torch.from_numpy(np.array(param._data)))
        their_buffers = dict(twin.named_buffers())  # running statistics of normalization layers
        for name, buf in model.named_buffers():
            if name in their_buffers and tuple(buf.shape) == tuple(their_buffers[name].shape):
                their_buffers[name].copy_(torch.from_numpy(np.array(buf._data)))


def build_torch_twin(model):
    """A ``torch.nn.Sequential`` with the layers, dtype and current weights of the chainrule
    Sequential ``model`` (Linear layers and activations)."""
    torch = require_torch()
    if not isinstance(model, nn.Sequential):
        raise TypeError(
            f"build_torch_twin: expected a chainrule nn.Sequential. Got {type(model).__name__} "
            "instead."
        )
    params = list(model.parameters())
    dtype = _torch_dtype(torch, params[0]._data) if params else torch.float32
    layers = [(name, _torch_layer(torch, module)) for name, module in model.named_children()]
    twin = torch.nn.Sequential(OrderedDict(layers)).to(dtype)
    copy_weights_to_torch(model, twin)
    return twin


# --------------------------------------------------------------------------------------------
# Optimizer and loss
# --------------------------------------------------------------------------------------------

# chainrule optimizer class name -> (torch.optim class name, options passed on)
_OPTIMIZERS = {
    "SGD": ("SGD", ("lr", "momentum", "dampening", "weight_decay", "nesterov", "maximize")),
    "Adam": ("Adam", ("lr", "betas", "eps", "weight_decay", "amsgrad", "maximize",
                      "decoupled_weight_decay")),
    "AdamW": ("AdamW", ("lr", "betas", "eps", "weight_decay", "amsgrad", "maximize")),
    "RMSprop": ("RMSprop", ("lr", "alpha", "eps", "weight_decay", "momentum", "centered",
                            "maximize")),
    "Adagrad": ("Adagrad", ("lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps",
                            "maximize")),
}


def torch_optimizer_like(optimizer, params):
    """A torch.optim optimizer of the same class and hyper-parameters as the chainrule one, over
    ``params`` (a list of torch parameters in the chainrule model's order; one group only)."""
    torch = require_torch()
    name = type(optimizer).__name__
    if name not in _OPTIMIZERS:
        raise TypeError(
            f"torch_optimizer_like: {name} has no PyTorch twin; expected one of "
            f"{', '.join(_OPTIMIZERS)}."
        )
    if len(optimizer.param_groups) != 1:
        raise ValueError(
            f"torch_optimizer_like: only one parameter group is supported. Got "
            f"{len(optimizer.param_groups)}."
        )
    torch_name, keys = _OPTIMIZERS[name]
    group = optimizer.param_groups[0]
    options = {key: group[key] for key in keys if key in group}
    if "betas" in options:
        options["betas"] = tuple(options["betas"])
    if name == "AdamW":
        options.pop("decoupled_weight_decay", None)
    return getattr(torch.optim, torch_name)(params, **options)


def torch_loss_like(loss_fn):
    """The torch.nn loss of the same class and settings as a chainrule loss module."""
    torch = require_torch()
    name = type(loss_fn).__name__
    known = ("MSELoss", "L1Loss", "HuberLoss", "CrossEntropyLoss", "NLLLoss", "BCELoss",
             "BCEWithLogitsLoss")
    if name not in known or not isinstance(loss_fn, nn.Module):
        raise TypeError(
            f"torch_loss_like: expected a loss of chainrule.nn ({', '.join(known)}). Got {name} "
            "instead."
        )
    options = {"reduction": loss_fn.reduction}
    if name == "HuberLoss":
        options["delta"] = loss_fn.delta
    return getattr(torch.nn, name)(**options)


# --------------------------------------------------------------------------------------------
# Training the twin
# --------------------------------------------------------------------------------------------


def _as_torch(torch, value):
    array = value._data if isinstance(value, Tensor) else np.asarray(value)
    return torch.from_numpy(np.ascontiguousarray(array))


class TorchTwin:
    """A PyTorch copy of a chainrule model, optimizer and loss, trained batch by batch.

    ``step(inputs, targets)`` does what one step of ``chainrule.train.fit`` does, in PyTorch:

        loss = loss_fn(twin(inputs), targets);  loss.backward()
        g <- clamp(g, -clip_value, clip_value)                 if clip_value
        g <- g * min(1, clip_norm / (||all g||_2 + 1e-6))       if clip_norm (clip_grad_norm_)
        g <- g / ||g||_2 for each parameter (if ||g|| > 0)      if normalize_grad
        optimizer.step();  optimizer.zero_grad()

    and records the loss (taken before the update, as fit records it) in ``step_loss``.
    ``evaluate(inputs, targets)`` is the loss without gradients; ``epoch_val_loss`` collects it
    once per epoch when the lockstep callback is given validation data.
    """

    def __init__(self, model, loss_fn, optimizer, clip_value=None, clip_norm=None,
                 normalize_grad=False):
        torch = require_torch()
        self.torch = torch
        self.model = build_torch_twin(model)
        self.loss_fn = torch_loss_like(loss_fn)
        self.optimizer = torch_optimizer_like(optimizer, list(self.model.parameters()))
        self.clip_value = clip_value
        self.clip_norm = clip_norm
        self.normalize_grad = bool(normalize_grad)
        self.step_loss: list = []
        self.epoch_val_loss: list = []

    def _treat_gradients(self) -> None:
        torch = self.torch
        params = [p for p in self.model.parameters() if p.grad is not None]
        if self.clip_value is not None:
            torch.nn.utils.clip_grad_value_(params, self.clip_value)
        if self.clip_norm is not None:
            torch.nn.utils.clip_grad_norm_(params, self.clip_norm)
        if self.normalize_grad:
            with torch.no_grad():
                for p in params:  # the norm in float64, as chainrule.train.normalize_grad_
                    norm = torch.sqrt(torch.sum(p.grad.double() ** 2))
                    if norm > 0:
                        p.grad /= norm.to(p.grad.dtype)

    def step(self, inputs, targets) -> float:
        """One training step on a batch (chainrule Tensors or arrays); returns its loss."""
        torch = self.torch
        self.model.train()
        loss = self.loss_fn(self.model(_as_torch(torch, inputs)), _as_torch(torch, targets))
        self.optimizer.zero_grad()
        loss.backward()
        self._treat_gradients()
        self.optimizer.step()
        value = float(loss.detach())
        self.step_loss.append(value)
        return value

    def evaluate(self, inputs, targets) -> float:
        """The loss of the twin on ``inputs``/``targets``, without gradients."""
        torch = self.torch
        self.model.eval()
        with torch.no_grad():
            loss = self.loss_fn(self.model(_as_torch(torch, inputs)), _as_torch(torch, targets))
        self.model.train()
        return float(loss)

    def lockstep(self, val_data=None) -> LockstepTwin:
        """A fit callback that makes one twin step on every batch fit trains on."""
        return LockstepTwin(self, val_data)


class LockstepTwin(Callback):
    """The fit callback of a TorchTwin: one twin step per chainrule step, on the same batch
    (``on_step_end``), and the twin's validation loss at each epoch's end when ``val_data`` =
    (inputs, targets) is given."""

    def __init__(self, twin: TorchTwin, val_data=None):
        self.twin = twin
        self.val_data = val_data

    def on_step_end(self, state) -> None:
        # Follow the chainrule optimizer's learning rate, so an lr scheduler acts on both.
        for group in self.twin.optimizer.param_groups:
            group["lr"] = state.optimizer.param_groups[0]["lr"]
        self.twin.step(state.inputs, state.targets)

    def on_epoch_end(self, state) -> None:
        if self.val_data is not None:
            self.twin.epoch_val_loss.append(self.twin.evaluate(*self.val_data))


def max_relative_difference(ours, theirs) -> float:
    """max_i |a_i - b_i| / max(|a_i|, |b_i|, tiny) over two equally long loss sequences
    (0 where both are 0); ValueError if their lengths differ."""
    a = np.asarray(list(ours), dtype=np.float64)
    b = np.asarray(list(theirs), dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(
            f"max_relative_difference: the sequences must be equally long. Got {a.size} and "
            f"{b.size} values."
        )
    if a.size == 0:
        return 0.0
    scale = np.maximum(np.maximum(np.abs(a), np.abs(b)), np.finfo(np.float64).tiny)
    diff = np.abs(a - b) / scale
    if not np.all(np.isfinite(diff)):
        return math.inf
    return float(diff.max())
