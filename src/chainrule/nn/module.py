"""Module: the base class of every layer and model, with PyTorch's registration rules.

Assigning a ``Parameter`` to an attribute (``self.weight = Parameter(...)``) registers it in the
ordered dict ``_parameters``; assigning a ``Module`` registers it in ``_modules``. Everything else is
walked from there, always in registration order (ordered dicts, never sets):

    named_parameters()   a module's own parameters first, then each child's, depth first, with dotted
                         names: Sequential(Linear, Sigmoid, Linear) gives 0.weight, 0.bias, 2.weight,
                         2.bias, exactly the names PyTorch gives, so state dicts line up.
    state_dict()         the same names mapped to copies of the arrays (and of the buffers).
    load_state_dict()    copies values back in place, into the arrays the optimizer already holds.
"""

from __future__ import annotations

import functools
import inspect
from collections import OrderedDict
from typing import NamedTuple

import numpy as np

from ..autograd.engine import bump_version
from ..backend import is_array, to_device
from ..device import get_default_device
from ..tensor import Tensor, _to_arguments
from .parameter import Parameter

__all__ = ["Module", "IncompatibleKeys", "RemovableHandle"]


class IncompatibleKeys(NamedTuple):
    """What ``load_state_dict(strict=False)`` skipped: keys the module has but the dict lacks, and
    keys the dict has but the module lacks."""

    missing_keys: list
    unexpected_keys: list


def _indent_after_first_line(text: str, spaces: int) -> str:
    lines = text.split("\n")
    return "\n".join(lines[:1] + [" " * spaces + line for line in lines[1:]])


class Module:
    """Base class of layers and models: subclass it, assign layers and Parameters in ``__init__``,
    and write ``forward``.

    Calling the module (``model(x)``) runs ``forward``. ``training`` is True after construction;
    ``eval()`` and ``train()`` switch it for the module and every submodule (Dropout reads it).

    Example:
        >>> class TwoLayer(nn.Module):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.hidden = nn.Linear(2, 10)
        ...         self.out = nn.Linear(10, 1)
        ...     def forward(self, x):
        ...         return self.out(self.hidden(x).sigmoid())
        >>> model = TwoLayer()
        >>> model(chainrule.ones(4, 2)).shape
        (4, 1)
        >>> [name for name, _ in model.named_parameters()]
        ['hidden.weight', 'hidden.bias', 'out.weight', 'out.bias']
    """

    def __init_subclass__(cls, **kwargs):
        """Every module's constructor takes ``device=`` as PyTorch's do (``nn.Linear(2, 3,
        device='cuda')``): the module is built on the CPU, from the same seeded draws, then moved
        there with ``to(device)``. Without it, a default device other than the CPU
        (``set_default_device('cuda')``, ``with chainrule.device('cuda'):``) is where the module
        goes, as in PyTorch. (A constructor with a ``device`` argument of its own is left as it
        is.)"""
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get("__init__")
        if init is None or getattr(init, "takes_device", False) \
                or "device" in inspect.signature(init).parameters:
            return

        @functools.wraps(init)
        def __init__(self, *args, device=None, **kwargs):
            init(self, *args, **kwargs)
            if device is None and get_default_device().type != "cpu":
                device = get_default_device()
            if device is not None:
                self.to(device)

        __init__.takes_device = True
        cls.__init__ = __init__

    def __init__(self):
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent_buffers", set())
        object.__setattr__(self, "_modules", OrderedDict())

    # ----- forward -----------------------------------------------------------------------
    def forward(self, *args, **kwargs):
        raise NotImplementedError(
            f"{type(self).__name__} has no forward(): subclasses of Module must define "
            "forward(self, ...)."
        )

    _forward_hooks = None  # an OrderedDict once a forward hook or pre-hook is registered

    def __call__(self, *args, **kwargs):
        if self._forward_hooks is None:  # the common case: one attribute check
            return self.forward(*args, **kwargs)
        return self._call_with_hooks(args, kwargs)

    def _call_with_hooks(self, args, kwargs):
        """PyTorch's order: pre-hooks (each may replace the input), forward, hooks (each may
        replace the output); a hook registered with always_call runs even if forward raised."""
        for hook, with_kwargs in list(self._forward_pre_hooks.values()):
            if with_kwargs:
                result = hook(self, args, kwargs)
                if result is not None:
                    if not (isinstance(result, tuple) and len(result) == 2):
                        raise RuntimeError(
                            "forward pre-hook registered with with_kwargs=True must return None "
                            f"or a tuple (args, kwargs). Got {type(result).__name__} instead."
                        )
                    args, kwargs = result
            else:
                result = hook(self, args)
                if result is not None:
                    args = result if isinstance(result, tuple) else (result,)
        backward_hooks = self.__dict__.get("_backward_hooks")
        if backward_hooks or self.__dict__.get("_backward_pre_hooks"):
            from .backward_hooks import wrap_inputs

            args, call = wrap_inputs(self, args)
        else:
            call = None
        try:
            output = self.forward(*args, **kwargs)
        except BaseException:
            for hook, with_kwargs, always_call in list(self._forward_hooks.values()):
                if always_call:
                    try:
                        hook(self, args, kwargs, None) if with_kwargs else hook(self, args, None)
                    except Exception:  # the forward's own error is the one to see
                        pass
            raise
        for hook, with_kwargs, _ in list(self._forward_hooks.values()):
            result = hook(self, args, kwargs, output) if with_kwargs else hook(self, args, output)
            if result is not None:
                output = result
        if call is not None:
            from .backward_hooks import wrap_outputs

            output = wrap_outputs(call, output)
        return output

    def _hook_dicts(self):
        if self.__dict__.get("_forward_hooks") is None:
            object.__setattr__(self, "_forward_hooks", OrderedDict())
            object.__setattr__(self, "_forward_pre_hooks", OrderedDict())
        return self._forward_hooks, self._forward_pre_hooks

    def register_forward_pre_hook(self, hook, *, prepend: bool = False, with_kwargs: bool = False):
        """Call ``hook(module, args)`` before every forward; if it returns something other than
        None, that is the new input (a single value is wrapped in a tuple). With
        ``with_kwargs=True`` it is called as ``hook(module, args, kwargs)`` and returns None or
        a new ``(args, kwargs)``. Pre-hooks run in registration order (``prepend=True`` puts
        this one first). Returns a RemovableHandle: ``handle.remove()`` unregisters it, and it
        also works as a context manager.

        >>> layer = chainrule.nn.Linear(2, 1)
        >>> with layer.register_forward_pre_hook(lambda module, args: (args[0] * 0,)):
        ...     bool((layer(chainrule.ones(1, 2)) == layer.bias).all())
        True
        """
        if not callable(hook):
            raise TypeError(f"register_forward_pre_hook: the hook must be callable. Got "
                            f"{type(hook).__name__} instead.")
        _, pre_hooks = self._hook_dicts()
        handle = RemovableHandle(pre_hooks)
        pre_hooks[handle.id] = (hook, bool(with_kwargs))
        if prepend:
            pre_hooks.move_to_end(handle.id, last=False)
        return handle

    def register_forward_hook(self, hook, *, prepend: bool = False, with_kwargs: bool = False,
                              always_call: bool = False):
        """Call ``hook(module, args, output)`` after every forward; if it returns something other
        than None, that replaces the output. With ``with_kwargs=True`` it is called as
        ``hook(module, args, kwargs, output)``; with ``always_call=True`` it runs even when
        forward raises (with output None). Hooks run in registration order (``prepend=True``
        puts this one first). Returns a RemovableHandle (``.remove()``, or use it in ``with``).
        Observation without changing the model, as PyTorch users expect:

        >>> seen = []
        >>> model = chainrule.nn.Sequential(chainrule.nn.Linear(2, 3), chainrule.nn.Sigmoid())
        >>> handle = model[1].register_forward_hook(lambda m, args, out: seen.append(out.shape))
        >>> _ = model(chainrule.ones(4, 2))
        >>> handle.remove()
        >>> _ = model(chainrule.ones(4, 2))
        >>> seen
        [(4, 3)]
        """
        if not callable(hook):
            raise TypeError(f"register_forward_hook: the hook must be callable. Got "
                            f"{type(hook).__name__} instead.")
        hooks, _ = self._hook_dicts()
        handle = RemovableHandle(hooks)
        hooks[handle.id] = (hook, bool(with_kwargs), bool(always_call))
        if prepend:
            hooks.move_to_end(handle.id, last=False)
        return handle

    def register_full_backward_hook(self, hook, prepend: bool = False):
        """Call ``hook(module, grad_input, grad_output)`` when the gradients of this module's
        inputs have been computed: ``grad_output`` holds dL/d(output) per output, ``grad_input``
        dL/d(input) per positional argument of forward (None where it is not a tensor that
        requires grad). A hook that returns a tuple replaces grad_input. Returns a
        RemovableHandle.

        >>> layer = chainrule.nn.Linear(2, 1)
        >>> seen = []
        >>> _ = layer.register_full_backward_hook(lambda m, gi, go: seen.append(go[0].shape))
        >>> layer(chainrule.ones(3, 2)).sum().backward()
        >>> seen
        [(3, 1)]
        """
        return self._register_backward_hook("_backward_hooks", "register_full_backward_hook", hook,
                                            prepend)

    def register_full_backward_pre_hook(self, hook, prepend: bool = False):
        """Call ``hook(module, grad_output)`` when dL/d(outputs) of this module has been computed,
        before its inputs' gradients; a hook that returns a tuple replaces grad_output."""
        return self._register_backward_hook("_backward_pre_hooks", "register_full_backward_pre_hook",
                                            hook, prepend)

    def _register_backward_hook(self, registry, what, hook, prepend):
        if not callable(hook):
            raise TypeError(f"{what}: the hook must be callable. Got {type(hook).__name__} instead.")
        self._hook_dicts()  # a module with hooks of any kind takes __call__'s slower path
        for name in ("_backward_hooks", "_backward_pre_hooks"):
            if self.__dict__.get(name) is None:
                object.__setattr__(self, name, OrderedDict())
        hooks = self.__dict__[registry]
        handle = RemovableHandle(hooks)
        hooks[handle.id] = hook
        if prepend:
            hooks.move_to_end(handle.id, last=False)
        return handle

    # ----- registration ------------------------------------------------------------------
    def _check_initialised(self, what: str, name: str) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                f"{type(self).__name__}: cannot assign the {what} {name!r} before "
                "Module.__init__() has run; call super().__init__() first in __init__."
            )

    def _forget(self, name: str, keep: str) -> None:
        """Remove ``name`` from the plain attributes and from every registry but ``keep``, before
        registering it in ``keep``: an entry that stays where it is keeps its position (so
        ``self.weight = Parameter(...)`` again leaves the state_dict order alone, as in PyTorch),
        one that changes registry moves to the end of its new one."""
        self.__dict__.pop(name, None)
        if keep != "_parameters":
            self._parameters.pop(name, None)
        if keep != "_modules":
            self._modules.pop(name, None)
        if keep != "_buffers":
            self._buffers.pop(name, None)
        self._non_persistent_buffers.discard(name)

    def _store_parameter(self, name: str, value) -> None:
        """Register a Parameter (or None) under ``name``. It is also kept as a plain attribute, so
        ``self.weight`` is found by ordinary lookup (``__getattr__`` runs only when that fails, and
        costs a microsecond or two per access: in a small network, several percent of a step)."""
        self._parameters[name] = value
        self.__dict__[name] = value

    def __setattr__(self, name, value):
        if isinstance(value, Parameter):
            self._check_initialised("parameter", name)
            self._forget(name, keep="_parameters")
            self._store_parameter(name, value)
        elif isinstance(value, Module):
            self._check_initialised("submodule", name)
            self._forget(name, keep="_modules")
            self._modules[name] = value
        elif "_parameters" in self.__dict__ and name in self._parameters:
            if value is not None:
                raise TypeError(
                    f"{type(self).__name__}: cannot assign a {type(value).__name__} to the "
                    f"parameter {name!r}; expected a Parameter or None."
                )
            self._store_parameter(name, None)
        elif "_modules" in self.__dict__ and name in self._modules:
            if value is not None:
                raise TypeError(
                    f"{type(self).__name__}: cannot assign a {type(value).__name__} to the "
                    f"submodule {name!r}; expected a Module or None."
                )
            self._modules[name] = None
        elif "_buffers" in self.__dict__ and name in self._buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(
                    f"{type(self).__name__}: cannot assign a {type(value).__name__} to the "
                    f"buffer {name!r}; expected a Tensor or None."
                )
            self._buffers[name] = value
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name):
        # Only called when normal lookup fails: look in the three registries.
        registries = self.__dict__
        for registry in ("_parameters", "_buffers", "_modules"):
            if registry in registries and name in registries[registry]:
                return registries[registry][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        for registry in (self._parameters, self._buffers, self._modules):
            if name in registry:
                del registry[name]
                self.__dict__.pop(name, None)
                self._non_persistent_buffers.discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self):
        return sorted(
            set(super().__dir__()) | set(self._parameters) | set(self._buffers) | set(self._modules)
        )

    def _check_name(self, what: str, name) -> None:
        if not isinstance(name, str):
            raise TypeError(f"{what}: the name must be a str. Got {type(name).__name__} instead.")
        if name == "" or "." in name:
            raise ValueError(f"{what}: the name must be non-empty and contain no '.'. Got {name!r}.")
        if name in self.__dict__ and name not in self._parameters and name not in self._buffers \
                and name not in self._modules:
            raise ValueError(f"{what}: the attribute {name!r} already exists.")

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Register a Parameter (or None, a placeholder such as a missing bias) under ``name``."""
        self._check_initialised("parameter", name)
        self._check_name("register_parameter", name)
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(
                f"register_parameter: {name!r} must be a Parameter or None. Got "
                f"{type(param).__name__} instead."
            )
        self._forget(name, keep="_parameters")
        self._store_parameter(name, param)

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Register a Tensor that is state but not learned (a running mean, a mask). Buffers are
        in ``state_dict()`` unless ``persistent=False``, and are cast by ``to()``."""
        self._check_initialised("buffer", name)
        self._check_name("register_buffer", name)
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(
                f"register_buffer: {name!r} must be a Tensor or None. Got "
                f"{type(tensor).__name__} instead."
            )
        self._forget(name, keep="_buffers")
        self._buffers[name] = tensor
        if not persistent:
            self._non_persistent_buffers.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        """Register a submodule under ``name`` (what ``self.name = module`` does)."""
        self._check_initialised("submodule", name)
        self._check_name("add_module", name)
        if module is not None and not isinstance(module, Module):
            raise TypeError(
                f"add_module: {name!r} must be a Module or None. Got {type(module).__name__} "
                "instead."
            )
        self._forget(name, keep="_modules")
        self._modules[name] = module

    register_module = add_module

    # ----- walking the tree --------------------------------------------------------------
    def named_modules(self, memo=None, prefix: str = "", remove_duplicate: bool = True):
        """(name, module) for this module ('') and every submodule, depth first, each once."""
        if memo is None:
            memo = set()
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, module in self._modules.items():
            if module is None:
                continue
            child_prefix = f"{prefix}.{name}" if prefix else name
            yield from module.named_modules(memo, child_prefix, remove_duplicate)

    def modules(self):
        """This module and every submodule, depth first."""
        for _, module in self.named_modules():
            yield module

    def named_children(self):
        """(name, module) for the direct submodules, in registration order."""
        seen = set()
        for name, module in self._modules.items():
            if module is not None and id(module) not in seen:
                seen.add(id(module))
                yield name, module

    def children(self):
        for _, module in self.named_children():
            yield module

    def _named_members(self, registry: str, prefix: str, recurse: bool, remove_duplicate: bool):
        modules = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse \
            else [(prefix, self)]
        seen = set()
        for module_prefix, module in modules:
            for name, value in getattr(module, registry).items():
                if value is None or (remove_duplicate and id(value) in seen):
                    continue
                seen.add(id(value))
                yield (f"{module_prefix}.{name}" if module_prefix else name), value

    def named_parameters(self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True):
        """(dotted name, Parameter) pairs: each module's own parameters, then its children's,
        depth first in registration order. A parameter shared by two layers appears once."""
        yield from self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True):
        """Every Parameter, in the order of ``named_parameters()``."""
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_buffers(self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True):
        yield from self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True):
        for _, buf in self.named_buffers(recurse=recurse):
            yield buf

    def get_submodule(self, target: str) -> Module:
        """The submodule at the dotted path ``target`` ('' is self): ``model.get_submodule(
        "encoder.0")`` is ``model.encoder[0]``."""
        if not isinstance(target, str):
            raise TypeError(f"get_submodule: target must be a str. Got {type(target).__name__}.")
        module = self
        if target == "":
            return module
        walked = []
        for name in target.split("."):
            child = module._modules.get(name) if isinstance(module, Module) else None
            if child is None:
                where = ".".join(walked) or "the model"
                raise AttributeError(
                    f"get_submodule: {type(module).__name__} ({where}) has no submodule "
                    f"{name!r}, so {target!r} names no module."
                )
            walked.append(name)
            module = child
        return module

    def _get_member(self, what: str, registry: str, target: str):
        if not isinstance(target, str):
            raise TypeError(f"get_{what}: target must be a str. Got {type(target).__name__}.")
        module_path, _, name = target.rpartition(".")
        module = self.get_submodule(module_path)
        members = getattr(module, registry)
        if name not in members or members[name] is None:
            raise AttributeError(
                f"get_{what}: {type(module).__name__} ({module_path or 'the model'}) has no "
                f"{what} {name!r}."
            )
        return members[name]

    def get_parameter(self, target: str) -> Parameter:
        """The Parameter at the dotted path ``target``, e.g. ``"0.weight"``."""
        return self._get_member("parameter", "_parameters", target)

    def get_buffer(self, target: str) -> Tensor:
        """The buffer at the dotted path ``target``, e.g. ``"norm.running_mean"``."""
        return self._get_member("buffer", "_buffers", target)

    def _get_name(self) -> str:
        return type(self).__name__

    def apply(self, fn) -> Module:
        """Call ``fn(module)`` on every submodule (children first) and then on self; returns self.
        Typical use: a custom initialisation, ``model.apply(init_weights)``."""
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    # ----- modes and gradients -----------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Set training mode (``mode=True``) or evaluation mode for this module and all below."""
        if not isinstance(mode, bool):
            raise TypeError(f"train: mode must be a bool. Got {type(mode).__name__} instead.")
        for module in self.modules():
            object.__setattr__(module, "training", mode)
        return self

    def eval(self) -> Module:
        """Evaluation mode: the same as ``train(False)``. Dropout becomes the identity."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Switch gradient recording on or off for every parameter (to freeze layers)."""
        for param in self.parameters():
            param.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear every parameter's ``.grad``: set it to None (the default, as in PyTorch), or fill
        it with zeros when ``set_to_none=False``."""
        for param in self.parameters():
            if param.grad is None:
                continue
            if set_to_none:
                param.grad = None
            else:
                param.grad._data[...] = 0

    # ----- dtype and device ------------------------------------------------------------------
    def to(self, *args, **kwargs) -> Module:
        """Move every parameter, gradient and buffer to ``device`` and/or cast the floating-point
        ones to ``dtype``; returns self. Parameters change in place (the Parameter objects stay the
        same, so an optimizer holding them keeps working); a buffer is replaced by a moved or cast
        copy, so a tensor the caller passed in (a loss's class weights, say) is left as it was, as
        in PyTorch.

        Takes PyTorch's forms ``to(dtype)``, ``to(device)``, ``to(device, dtype)``, ``to(tensor)``;
        'cuda' where chainrule has a GPU (``chainrule.cuda.is_available()``)."""
        device, resolved, _, _ = _to_arguments("Module.to", args, **kwargs)
        if resolved is not None and resolved.kind != "f":
            dtype = kwargs.get("dtype", args[-1] if args else None)
            raise TypeError(
                "Module.to: only floating-point dtypes are accepted (such as chainrule.float64 or "
                f"'float32'). Got {dtype!r} instead."
            )

        def moved(array):
            if device is not None:
                array = to_device(array, device)
            if resolved is not None and array.dtype.kind == "f":
                array = array.astype(resolved, copy=False)
            return array

        for param in self.parameters():
            param._data = moved(param._data)
            if param.grad is not None:
                param.grad._data = moved(param.grad._data)
        for module in self.modules():
            for name, buf in module._buffers.items():
                if buf is not None:
                    array = moved(buf._data)
                    if array is not buf._data:
                        module._buffers[name] = Tensor._from_op(array, None)
        return self

    def cpu(self) -> Module:
        """Move everything to the CPU (nothing changes when it is there already)."""
        return self.to("cpu")

    def cuda(self, device=None) -> Module:
        """Move everything to the GPU ('cuda'); refused, naming the device, where chainrule has
        none."""
        return self.to("cuda" if device is None else device)

    def float(self) -> Module:
        """Cast floating-point parameters and buffers to float32."""
        return self.to(np.float32)

    def double(self) -> Module:
        """Cast floating-point parameters and buffers to float64."""
        return self.to(np.float64)

    # ----- state dict ----------------------------------------------------------------------
    def _state_items(self):
        """(dotted name, Tensor) for what state_dict saves: per module, parameters then
        persistent buffers, depth first (PyTorch's order)."""
        # A module reached by two paths is saved under both, as PyTorch does (named_modules()
        # would list it once).
        for prefix, module in self.named_modules(remove_duplicate=False):
            dot = prefix + "." if prefix else ""
            for name, param in module._parameters.items():
                if param is not None:
                    yield dot + name, param
            for name, buf in module._buffers.items():
                if buf is not None and name not in module._non_persistent_buffers:
                    yield dot + name, buf

    def state_dict(self, *, destination=None, prefix: str = "", keep_vars: bool = False):
        """An ordered mapping from dotted name to a copy of each parameter's and buffer's array.

        As PyTorch: ``prefix`` goes before every name, ``destination`` (a dict) is filled and
        returned instead of a new OrderedDict, and ``keep_vars=True`` maps to the Parameters and
        buffers themselves. (PyTorch's default gives detached tensors sharing memory; chainrule
        gives copies of the arrays, which ``load_state_dict`` and ``chainrule.save`` take.)
        """
        if not isinstance(prefix, str):
            raise TypeError(f"state_dict: prefix must be a str. Got {type(prefix).__name__}.")
        if destination is None:
            destination = OrderedDict()
        elif not isinstance(destination, dict):
            raise TypeError(
                f"state_dict: destination must be a dict or None. Got "
                f"{type(destination).__name__} instead."
            )
        for name, t in self._state_items():
            destination[prefix + name] = t if keep_vars else t._data.copy()
        return destination

    def load_state_dict(self, state_dict, strict: bool = True) -> IncompatibleKeys:
        """Copy the values of ``state_dict`` (arrays or Tensors) into this module's parameters and
        buffers, in place and cast to each one's dtype.

        Checked before anything is copied: every value must have its parameter's shape; with
        ``strict=True`` (the default) the keys must also match exactly. Returns the missing and
        unexpected keys (empty lists when strict). PyTorch raises RuntimeError here; chainrule
        raises ValueError (TypeError for a value that is not numbers), like all its value checks.
        """
        if not hasattr(state_dict, "keys") or not hasattr(state_dict, "__getitem__"):
            raise TypeError(
                f"load_state_dict: expected a mapping from names to arrays. Got "
                f"{type(state_dict).__name__} instead."
            )
        own = OrderedDict(self._state_items())
        missing = [key for key in own if key not in state_dict]
        unexpected = [key for key in state_dict.keys() if key not in own]
        problems = []
        if strict and missing:
            problems.append("missing key(s) " + ", ".join(repr(k) for k in missing))
        if strict and unexpected:
            problems.append("unexpected key(s) " + ", ".join(repr(k) for k in unexpected))
        arrays = {}
        for key, target in own.items():
            if key not in state_dict:
                continue
            value = state_dict[key]
            array = value._data if isinstance(value, Tensor) else value
            array = array if is_array(array) else np.asarray(array)
            if array.dtype.kind not in "biuf":
                raise TypeError(
                    f"load_state_dict: the value for {key!r} must be numbers (an array or a "
                    f"Tensor). Got {type(value).__name__} of dtype {array.dtype} instead."
                )
            if array.shape != target._data.shape:
                problems.append(
                    f"the value for {key!r} has shape {array.shape}, but the parameter in the "
                    f"model has shape {target._data.shape}"
                )
            arrays[key] = array
        if problems:
            raise ValueError(
                f"load_state_dict for {type(self).__name__}: " + "; ".join(problems) + "."
            )
        for key, array in arrays.items():
            bump_version(own[key]._data)  # a graph that saved the old values must not use the new
            # copied onto the parameter's device (as PyTorch's copy_ across devices)
            own[key]._data[...] = to_device(array, own[key].device).astype(own[key]._data.dtype, copy=False)
        return IncompatibleKeys(missing, unexpected)

    # ----- printing ------------------------------------------------------------------------
    def extra_repr(self) -> str:
        """The arguments shown between the parentheses of ``repr`` (override in layers)."""
        return ""

    def __repr__(self):
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [
            f"({name}): " + _indent_after_first_line(repr(module), 2)
            for name, module in self._modules.items()
        ]
        lines = extra_lines + child_lines
        if not lines:
            return f"{type(self).__name__}()"
        if len(extra_lines) == 1 and not child_lines:
            return f"{type(self).__name__}({extra_lines[0]})"
        return f"{type(self).__name__}(\n  " + "\n  ".join(lines) + "\n)"


class RemovableHandle:
    """What ``register_forward_hook`` and ``register_forward_pre_hook`` return: ``remove()``
    unregisters the hook (a second call does nothing); ``with handle:`` removes it on exit."""

    _next_id = 0

    def __init__(self, hooks_dict):
        self.hooks_dict = hooks_dict
        self.id = RemovableHandle._next_id
        RemovableHandle._next_id += 1

    def remove(self) -> None:
        self.hooks_dict.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self.remove()
