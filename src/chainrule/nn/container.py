"""Containers that register what they hold: ModuleList, ModuleDict, ParameterList, ParameterDict.

A plain Python list of layers is invisible to a Module (its parameters are not found, not saved,
not optimized); these hold the same things and register each one, with PyTorch's names:

    ModuleList([Linear(2, 3), Linear(3, 1)])     state_dict keys 0.weight, 0.bias, 1.weight, ...
    ModuleDict({"enc": Linear(2, 3)})            enc.weight, enc.bias
    ParameterList([Parameter(...), ...])         0, 1, ...
    ParameterDict({"scale": Parameter(...)})     scale

None of them has a ``forward``: they hold layers, the module that owns them says how to use them.
(Sequential, which has one, is in layers.py.)
"""

from __future__ import annotations

import collections.abc
import itertools
import operator
from collections import OrderedDict

import numpy as np

from ..tensor import Tensor
from .module import Module, _indent_after_first_line
from .parameter import Parameter

__all__ = ["ModuleList", "ModuleDict", "ParameterList", "ParameterDict"]


def _position(owner: str, index, length: int, inserting: bool = False) -> int:
    """``index`` (an int, possibly negative) as a position in [0, length), as list indexing."""
    try:
        index = operator.index(index)
    except TypeError:
        raise TypeError(
            f"{owner} indices must be ints or slices. Got {type(index).__name__} instead."
        ) from None
    high = length if inserting else length - 1
    if not -length <= index <= high:
        raise IndexError(f"{owner} index {index} is out of range for {length} items.")
    return index + length if index < 0 else index


def _check_iterable(owner: str, method: str, values) -> None:
    if not isinstance(values, collections.abc.Iterable):
        raise TypeError(
            f"{owner}.{method}: expected an iterable. Got {type(values).__name__} instead."
        )


def _pairs(owner: str, values, sort_plain_dicts: bool):
    """(key, value) pairs of a mapping or of an iterable of pairs, as PyTorch's update() reads
    them (ParameterDict sorts a plain dict's keys; everything else keeps its order)."""
    _check_iterable(owner, "update", values)
    if isinstance(values, (OrderedDict, ModuleDict, ParameterDict)):
        return list(values.items())
    if isinstance(values, collections.abc.Mapping):
        return sorted(values.items()) if sort_plain_dicts else list(values.items())
    pairs = []
    for position, pair in enumerate(values):
        if not isinstance(pair, collections.abc.Iterable) or isinstance(pair, (str, bytes)):
            raise TypeError(
                f"{owner}.update: element {position} must be a (key, value) pair. Got "
                f"{type(pair).__name__} instead."
            )
        pair = tuple(pair)
        if len(pair) != 2:
            raise ValueError(
                f"{owner}.update: element {position} must be a (key, value) pair. Got "
                f"{len(pair)} items instead."
            )
        pairs.append(pair)
    return pairs


def _as_parameter(value):
    """A Tensor that is not a Parameter becomes one sharing its memory (as ``Parameter(t)`` does
    in PyTorch); Parameters, None and other objects are kept as they are."""
    if isinstance(value, Tensor) and not isinstance(value, Parameter):
        param = Parameter(np.empty(0, dtype=value._data.dtype))
        param._data = value._data
        return param
    return value


# PyTorch's legacy type names, which ParameterDict's repr shows (ParameterList shows the dtype).
_TYPE_NAMES = {
    "float32": "FloatTensor", "float64": "DoubleTensor", "float16": "HalfTensor",
    "int64": "LongTensor", "int32": "IntTensor", "int16": "ShortTensor", "int8": "CharTensor",
    "uint8": "ByteTensor", "bool": "BoolTensor",
}


def _describe(value, type_name: bool = False) -> str:
    """One line per held value in ParameterList/ParameterDict reprs, in PyTorch's layout:
    ``Parameter containing: [chainrule.float32 of size 3x4]`` (ParameterDict: ``FloatTensor``)."""
    if isinstance(value, Tensor):
        kind = "Parameter" if isinstance(value, Parameter) else "Tensor"
        size = "x".join(str(n) for n in value._data.shape)
        dtype = value._data.dtype.name
        if type_name:
            dtype = _TYPE_NAMES.get(dtype, dtype)
        return f"{kind} containing: [chainrule.{dtype} of size {size}]"
    return f"Object of type: {type(value).__name__}"


class ModuleList(Module):
    """A list of Modules, each registered under its position ('0', '1', ...).

    Indexing, slicing (a new ModuleList), ``len``, iteration, ``append``, ``extend``, ``insert``,
    ``pop``, ``del``, ``+`` and ``+=`` work as on a list; after a deletion or an insertion the
    names are renumbered, so they are always '0' to 'len - 1'.

    Example:
        >>> layers = nn.ModuleList([nn.Linear(4, 4) for _ in range(3)])
        >>> x = chainrule.ones(2, 4)
        >>> for layer in layers:
        ...     x = layer(x).relu()
        >>> x.shape, len(layers), [name for name, _ in layers.named_parameters()][:3]
        ((2, 4), 3, ['0.weight', '0.bias', '1.weight'])
    """

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def _renumber(self, modules) -> None:
        self._modules.clear()
        for i, module in enumerate(modules):
            self._modules[str(i)] = module

    def __getitem__(self, index):
        if isinstance(index, slice):
            return type(self)(list(self._modules.values())[index])
        return self._modules[str(_position("ModuleList", index, len(self)))]

    def __setitem__(self, index, module) -> None:
        self.add_module(str(_position("ModuleList", index, len(self))), module)

    def __delitem__(self, index) -> None:
        modules = list(self._modules.values())
        if isinstance(index, slice):
            del modules[index]
        else:
            del modules[_position("ModuleList", index, len(self))]
        self._renumber(modules)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __iadd__(self, modules) -> ModuleList:
        return self.extend(modules)

    def __add__(self, other) -> ModuleList:
        combined = ModuleList()
        for i, module in enumerate(itertools.chain(self, other)):
            combined.add_module(str(i), module)
        return combined

    def __dir__(self):
        return [name for name in super().__dir__() if not name.isdigit()]

    def append(self, module: Module) -> ModuleList:
        """Add ``module`` at the end; returns self."""
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules) -> ModuleList:
        """Append every module of the iterable ``modules``; returns self."""
        _check_iterable("ModuleList", "extend", modules)
        offset = len(self)
        for i, module in enumerate(modules):
            self.add_module(str(offset + i), module)
        return self

    def insert(self, index: int, module: Module) -> None:
        """Insert ``module`` before position ``index`` (as list.insert)."""
        position = _position("ModuleList", index, len(self), inserting=True)
        self.add_module(str(len(self)), module)  # checks the module and registers it
        modules = list(self._modules.values())
        modules.insert(position, modules.pop())
        self._renumber(modules)

    def pop(self, index=-1) -> Module:
        """Remove and return the module at ``index`` (the last by default)."""
        module = self[index]
        del self[index]
        return module

    def __repr__(self) -> str:
        # PyTorch's layout, which folds runs of identical modules: (0-2): 3 x Linear(...)
        reprs = [repr(module) for module in self]
        if not reprs:
            return f"{type(self).__name__}()"
        runs = []  # [first index, last index, repr]
        for i, text in enumerate(reprs):
            if runs and runs[-1][2] == text:
                runs[-1][1] = i
            else:
                runs.append([i, i, text])
        lines = []
        for first, last, text in runs:
            line = f"({first}): {text}" if first == last \
                else f"({first}-{last}): {last - first + 1} x {text}"
            lines.append(_indent_after_first_line(line, 2))
        return f"{type(self).__name__}(\n  " + "\n  ".join(lines) + "\n)"


class ModuleDict(Module):
    """An ordered dict of Modules, each registered under its key (keys are strings).

    ``md[key]``, ``md[key] = module``, ``del md[key]``, ``len``, iteration over the keys, ``in``,
    ``keys()``, ``items()``, ``values()``, ``update()``, ``pop()`` and ``clear()`` work as on a
    dict; insertion order is kept (also from a plain dict, as PyTorch).

    Example:
        >>> blocks = nn.ModuleDict({"encoder": nn.Linear(4, 8), "act": nn.ReLU()})
        >>> list(blocks.keys()), [name for name, _ in blocks.named_parameters()]
        (['encoder', 'act'], ['encoder.weight', 'encoder.bias'])
        >>> blocks["act"](blocks["encoder"](chainrule.ones(2, 4))).shape
        (2, 8)
    """

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key: str) -> Module:
        if key not in self._modules:
            raise KeyError(key)
        return self._modules[key]

    def __setitem__(self, key: str, module: Module) -> None:
        self.add_module(key, module)

    def __delitem__(self, key: str) -> None:
        del self._modules[key]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def __contains__(self, key) -> bool:
        return key in self._modules

    def clear(self) -> None:
        """Remove every module."""
        self._modules.clear()

    def pop(self, key: str) -> Module:
        """Remove the module under ``key`` and return it."""
        module = self[key]
        del self[key]
        return module

    def keys(self):
        return self._modules.keys()

    def items(self):
        return self._modules.items()

    def values(self):
        return self._modules.values()

    def update(self, modules) -> None:
        """Add or replace modules from a mapping or an iterable of (key, module) pairs."""
        for key, module in _pairs("ModuleDict", modules, sort_plain_dicts=False):
            self[key] = module


class ParameterList(Module):
    """A list of Parameters, each registered under its position ('0', '1', ...).

    A Tensor that is not a Parameter is made one (sharing its memory), as PyTorch does; other
    objects are held but not registered. Indexing, slicing (a new ParameterList), ``len``,
    iteration, ``append``, ``extend`` and ``+=`` work as on a list.

    Example:
        >>> scales = nn.ParameterList([chainrule.ones(3) for _ in range(2)])
        >>> scales
        ParameterList(
            (0): Parameter containing: [chainrule.float32 of size 3]
            (1): Parameter containing: [chainrule.float32 of size 3]
        )
        >>> [name for name, _ in scales.named_parameters()]
        ['0', '1']
    """

    def __init__(self, values=None):
        super().__init__()
        object.__setattr__(self, "_size", 0)
        if values is not None:
            self.extend(values)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return type(self)([self[i] for i in range(len(self))[index]])
        return getattr(self, str(_position("ParameterList", index, len(self))))

    def __setitem__(self, index, value) -> None:
        name = str(_position("ParameterList", index, len(self)))
        setattr(self, name, _as_parameter(value))

    def __len__(self) -> int:
        return self._size

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __iadd__(self, values) -> ParameterList:
        return self.extend(values)

    def __dir__(self):
        return [name for name in super().__dir__() if not name.isdigit()]

    def append(self, value) -> ParameterList:
        """Add ``value`` at the end; returns self."""
        object.__setattr__(self, "_size", self._size + 1)
        self[self._size - 1] = value
        return self

    def extend(self, values) -> ParameterList:
        """Append every value of the iterable ``values``; returns self."""
        if not isinstance(values, collections.abc.Iterable) or isinstance(values, Tensor):
            raise TypeError(
                f"ParameterList.extend: expected an iterable of Parameters. Got "
                f"{type(values).__name__} instead."
            )
        for value in values:
            self.append(value)
        return self

    def extra_repr(self) -> str:
        return "\n".join(f"  ({i}): {_describe(value)}" for i, value in enumerate(self))


class ParameterDict(Module):
    """An ordered dict of Parameters, each registered under its key (keys are strings).

    A Tensor that is not a Parameter is made one (sharing its memory), as PyTorch does. Dict
    methods work as on a dict: ``pd[key]``, ``pd[key] = p``, ``del``, ``in``, ``len``, iteration
    over the keys, ``keys()``, ``items()``, ``values()``, ``get()``, ``pop()``, ``popitem()``,
    ``setdefault()``, ``update()``, ``clear()``, ``copy()``, ``fromkeys()`` and ``|``.
    ``update()`` (and the constructor) add a plain dict's items in sorted key order, as PyTorch
    does; an OrderedDict, a ParameterDict or a list of pairs keeps its order.

    Example:
        >>> affine = nn.ParameterDict({"scale": chainrule.ones(3), "shift": chainrule.zeros(3)})
        >>> [(name, type(p).__name__) for name, p in affine.named_parameters()]
        [('scale', 'Parameter'), ('shift', 'Parameter')]
        >>> (chainrule.tensor([1.0, 2.0, 3.0]) * affine["scale"] + affine["shift"]).shape
        (3,)
    """

    def __init__(self, parameters=None):
        super().__init__()
        object.__setattr__(self, "_keys", {})
        if parameters is not None:
            self.update(parameters)

    @staticmethod
    def _check_key(key) -> str:
        if not isinstance(key, str):
            raise TypeError(
                f"ParameterDict keys must be strings. Got {type(key).__name__} ({key!r}) instead."
            )
        if key == "" or "." in key:
            raise ValueError(f"ParameterDict keys must be non-empty and contain no '.'. Got {key!r}.")
        if hasattr(ParameterDict, key):
            raise ValueError(
                f"ParameterDict: the key {key!r} would hide ParameterDict.{key}; choose another key."
            )
        return key

    def __getitem__(self, key: str):
        if key not in self._keys:
            raise KeyError(key)
        return getattr(self, key)

    def __setitem__(self, key: str, value) -> None:
        setattr(self, self._check_key(key), _as_parameter(value))
        self._keys[key] = None

    def __delitem__(self, key: str) -> None:
        if key not in self._keys:
            raise KeyError(key)
        del self._keys[key]
        delattr(self, key)

    def __len__(self) -> int:
        return len(self._keys)

    def __iter__(self):
        return iter(self._keys)

    def __reversed__(self):
        return reversed(list(self._keys))

    def __contains__(self, key) -> bool:
        return key in self._keys

    def keys(self):
        return self._keys.keys()

    def items(self):
        return ((key, self[key]) for key in self._keys)

    def values(self):
        return (self[key] for key in self._keys)

    def get(self, key: str, default=None):
        return self[key] if key in self else default

    def setdefault(self, key: str, default=None):
        if key not in self:
            self[key] = default
        return self[key]

    def pop(self, key: str):
        value = self[key]
        del self[key]
        return value

    def popitem(self):
        """Remove and return the last inserted (key, value) pair."""
        if not self._keys:
            raise KeyError("popitem(): ParameterDict is empty")
        key = list(self._keys)[-1]
        return key, self.pop(key)

    def clear(self) -> None:
        for key in list(self._keys):
            del self[key]

    def copy(self) -> ParameterDict:
        """A new ParameterDict holding the same Parameters (not copies of them)."""
        return ParameterDict(OrderedDict((key, self[key]) for key in self._keys))

    def fromkeys(self, keys, default=None) -> ParameterDict:
        return ParameterDict((key, default) for key in keys)

    def update(self, parameters) -> None:
        """Add or replace entries from a mapping or an iterable of (key, value) pairs."""
        for key, value in _pairs("ParameterDict", parameters, sort_plain_dicts=True):
            self[key] = value

    def __or__(self, other) -> ParameterDict:
        merged = self.copy()
        merged.update(other)
        return merged

    def __ror__(self, other) -> ParameterDict:
        merged = ParameterDict(other)
        merged.update(self)
        return merged

    def __ior__(self, other) -> ParameterDict:
        self.update(other)
        return self

    def extra_repr(self) -> str:
        return "\n".join(f"  ({key}): {_describe(self[key], type_name=True)}" for key in self._keys)
