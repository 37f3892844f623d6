"""Datasets, samplers, mini-batches and splits, with the names and rules of torch.utils.data.

    X, y = ...                                   # NumPy arrays with the same first dimension
    (X_train, y_train), (X_val, y_val) = train_val_split(X, y, val_fraction=0.2)
    scaler = Standardizer().fit(X_train)
    train_set = TensorDataset(scaler.transform(X_train), y_train)
    loader = DataLoader(train_set, batch_size=32, shuffle=True)
    for xb, yb in loader:                        # chainrule Tensors, a fresh order every epoch
        ...

``chainrule.utils.data`` is this module under PyTorch's path, so ``from torch.utils.data import
DataLoader, Dataset`` ports by changing the prefix. How a DataLoader turns a dataset into batches:

    sampler         the order of the sample indices in one epoch: SequentialSampler (0, 1, 2, ...),
                    RandomSampler (shuffle=True), or any iterable of indices you pass
    batch_sampler   groups that order into lists of batch_size indices (BatchSampler)
    fetch           [dataset[i] for i in batch]
    collate_fn      turns that list of samples into one batch (default_collate stacks them)

All shuffling draws from ``chainrule.random.default_generator()`` (seeded by
``chainrule.manual_seed``) unless a generator is passed, so a seeded run sees the same batches
every time.
"""

from __future__ import annotations

import bisect
import collections.abc
import copy
import itertools
import math
import numbers

import numpy as np

from . import random as _random
from .tensor import Tensor

__all__ = [
    "Dataset", "IterableDataset", "TensorDataset", "Subset", "ConcatDataset", "ChainDataset",
    "Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler",
    "WeightedRandomSampler", "BatchSampler",
    "DataLoader", "default_collate", "default_convert", "get_worker_info",
    "random_split", "train_val_split", "Standardizer",
]


def _as_array(value, what: str) -> np.ndarray:
    """A chainrule Tensor's data, or the value itself as a NumPy array (no copy when possible)."""
    if isinstance(value, Tensor):
        return value._data
    array = np.asarray(value)
    if array.dtype == object:
        raise TypeError(f"{what} must be arrays of numbers. Got {type(value).__name__} instead.")
    if array.ndim == 0:
        raise ValueError(f"{what} must be arrays with at least one dimension. Got a scalar.")
    return array


def _check_same_length(arrays, what: str) -> int:
    """The common first dimension of ``arrays``; a ValueError naming every shape if they differ."""
    lengths = {a.shape[0] for a in arrays}
    if len(lengths) != 1:
        shapes = ", ".join(str(a.shape) for a in arrays)
        raise ValueError(
            f"{what}: all arrays must have the same first dimension (number of samples). "
            f"Got shapes {shapes} instead."
        )
    return lengths.pop()


def _numpy_generator(generator):
    """The NumPy Generator behind ``generator``: itself, or the one a chainrule Generator wraps
    (any object holding a ``numpy.random.Generator`` as an attribute); None if there is none."""
    if isinstance(generator, np.random.Generator):
        return generator
    try:
        attributes = vars(generator).values()
    except TypeError:  # no __dict__: look in __slots__
        attributes = [getattr(generator, name, None)
                      for cls in type(generator).__mro__ for name in getattr(cls, "__slots__", ())]
    for value in attributes:
        if isinstance(value, np.random.Generator):
            return value
    return None


def _check_generator(generator, what: str):
    if generator is not None and _numpy_generator(generator) is None:
        raise TypeError(
            f"The 'generator' parameter of {what} must be a numpy.random.Generator, a chainrule "
            f"Generator or None. Got {type(generator).__name__} instead."
        )


def _draw_from(generator) -> np.random.Generator:
    """The generator to draw from now: ``generator``'s, or the library's seeded default."""
    if generator is None:
        return _random.default_generator()
    return _numpy_generator(generator)


def _check_bool(owner: str, name: str, value) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"The '{name}' parameter of {owner} must be a bool. Got {value!r} instead.")
    return bool(value)


def _check_positive_int(owner: str, name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(
            f"The '{name}' parameter of {owner} must be an int >= 1. Got {value!r} instead."
        )
    return int(value)


# ----- datasets -----------------------------------------------------------------------------
class Dataset:
    """Base class of map-style datasets: subclass it and write ``__getitem__(index)`` and
    ``__len__()``. ``a + b`` is ``ConcatDataset([a, b])``.

    A DataLoader also takes any object with ``__getitem__`` and ``__len__``, subclass or not.
    """

    def __getitem__(self, index):
        raise NotImplementedError(
            f"{type(self).__name__} has no __getitem__(): subclasses of Dataset must define "
            "__getitem__(self, index)."
        )

    def __add__(self, other) -> ConcatDataset:
        return ConcatDataset([self, other])


class IterableDataset(Dataset):
    """Base class of datasets read as a stream: subclass it and write ``__iter__()``.

    A DataLoader batches what the iterator yields, in its order (no sampler, no shuffle).
    ``a + b`` is ``ChainDataset([a, b])``.
    """

    def __iter__(self):
        raise NotImplementedError(
            f"{type(self).__name__} has no __iter__(): subclasses of IterableDataset must define "
            "__iter__(self)."
        )

    def __add__(self, other) -> ChainDataset:
        return ChainDataset([self, other])


class TensorDataset(Dataset):
    """A dataset of Tensors (or arrays) that share their first dimension.

    ``dataset[i]`` is the tuple ``(t[i] for t in tensors)`` of Tensors sharing memory with the
    data, as in PyTorch; ``i`` may be an int, a slice or an array of indices. ``.tensors`` holds
    the Tensors (a Tensor passed in is kept as it is, an array is wrapped without a copy).
    DataLoader fetches a whole batch of a TensorDataset with one fancy index per tensor. Samples
    and batches never carry a graph: they are constants, as data is.
    """

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset needs at least one array.")
        arrays = tuple(_as_array(t, "TensorDataset: the inputs") for t in tensors)
        _check_same_length(arrays, "TensorDataset")
        self.tensors = tuple(
            t if isinstance(t, Tensor) else Tensor._from_op(a, None)
            for t, a in zip(tensors, arrays, strict=True)
        )

    def __len__(self) -> int:
        return self.tensors[0]._data.shape[0]

    def __getitem__(self, index):
        if isinstance(index, Tensor):
            index = index._data
        # a[i, ...] is a (0-d) view even for an int i on a 1-D array, where a[i] is a copy.
        return tuple(Tensor._from_op(t._data[index, ...], None) for t in self.tensors)

    def __repr__(self) -> str:
        shapes = ", ".join(str(t._data.shape) for t in self.tensors)
        return f"TensorDataset({shapes})"


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order (what random_split returns).

    ``.indices`` is kept as given (random_split gives a list of ints, as PyTorch's does).
    """

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = indices

    def _index_array(self) -> np.ndarray:
        """``indices`` as an int64 array, converted once per indices object."""
        cached = self.__dict__.get("_cached_indices")
        if cached is None or cached[0] is not self.indices:
            cached = (self.indices, np.asarray(self.indices, dtype=np.int64))
            self.__dict__["_cached_indices"] = cached
        return cached[1]

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index):
        if isinstance(index, (numbers.Integral, np.integer)):
            return self.dataset[int(self.indices[index])]
        if isinstance(index, Tensor):
            index = index._data
        return self.dataset[self._index_array()[index]]

    def __repr__(self) -> str:
        return f"Subset({self.dataset!r}, {len(self)} samples)"


class ConcatDataset(Dataset):
    """Several map-style datasets one after the other: sample i of the whole is sample
    ``i - cumulative_sizes[k-1]`` of ``datasets[k]``, the first k with ``i < cumulative_sizes[k]``.
    """

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: 'datasets' must hold at least one dataset. Got none.")
        for position, dataset in enumerate(self.datasets):
            if isinstance(dataset, IterableDataset):
                raise TypeError(
                    f"ConcatDataset: dataset {position} is an IterableDataset, which has no "
                    "indices to concatenate; use ChainDataset for iterable datasets."
                )
            if not hasattr(dataset, "__len__") or not hasattr(dataset, "__getitem__"):
                raise TypeError(
                    f"ConcatDataset: dataset {position} must have __len__ and __getitem__. "
                    f"Got {type(dataset).__name__} instead."
                )
        self.cumulative_sizes = list(itertools.accumulate(len(d) for d in self.datasets))

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, index):
        if isinstance(index, bool) or not isinstance(index, (numbers.Integral, np.integer)):
            raise TypeError(
                f"ConcatDataset indices must be ints. Got {type(index).__name__} instead."
            )
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"ConcatDataset index {index} is out of range for {n} samples.")
        index = int(index) % n
        which = bisect.bisect_right(self.cumulative_sizes, index)
        start = self.cumulative_sizes[which - 1] if which > 0 else 0
        return self.datasets[which][index - start]

    def __repr__(self) -> str:
        return f"ConcatDataset({len(self.datasets)} datasets, {len(self)} samples)"


class ChainDataset(IterableDataset):
    """Several iterable datasets read one after the other."""

    def __init__(self, datasets):
        self.datasets = list(datasets)

    def __iter__(self):
        for position, dataset in enumerate(self.datasets):
            if not isinstance(dataset, IterableDataset):
                raise TypeError(
                    f"ChainDataset: dataset {position} must be an IterableDataset. Got "
                    f"{type(dataset).__name__} instead."
                )
            yield from dataset

    def __len__(self) -> int:
        return sum(len(d) for d in self.datasets)


# ----- samplers: the order of the indices -----------------------------------------------------
class Sampler:
    """Base class of samplers: ``__iter__`` yields the dataset indices of one epoch, in order."""

    def __init__(self, data_source=None):
        pass

    def __iter__(self):
        raise NotImplementedError(
            f"{type(self).__name__} has no __iter__(): subclasses of Sampler must define "
            "__iter__(self)."
        )


class SequentialSampler(Sampler):
    """0, 1, ..., len(data_source) - 1."""

    def __init__(self, data_source):
        self.data_source = data_source

    def _indices(self) -> np.ndarray:
        return np.arange(len(self.data_source))

    def __iter__(self):
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


class RandomSampler(Sampler):
    """A random order of the indices, drawn afresh each epoch from ``generator``.

    Without replacement: a permutation of all n indices (``num_samples`` > n gives several
    permutations one after the other, the last one cut short, as PyTorch). With
    ``replacement=True``: ``num_samples`` (default n) indices drawn uniformly and independently.
    """

    def __init__(self, data_source, replacement=False, num_samples=None, generator=None):
        self.data_source = data_source
        self.replacement = _check_bool("RandomSampler", "replacement", replacement)
        if num_samples is not None:
            _check_positive_int("RandomSampler", "num_samples", num_samples)
        self._num_samples = num_samples
        _check_generator(generator, "RandomSampler")
        self.generator = generator

    @property
    def num_samples(self) -> int:
        return len(self.data_source) if self._num_samples is None else int(self._num_samples)

    def _indices(self) -> np.ndarray:
        """The whole epoch's indices as one array, drawn now."""
        n, count = len(self.data_source), self.num_samples
        generator = _draw_from(self.generator)
        if self.replacement:
            return generator.integers(0, n, size=count)
        if count == n:
            return generator.permutation(n)
        pieces = [generator.permutation(n) for _ in range(count // n)]
        if count % n:
            pieces.append(generator.permutation(n)[:count % n])
        return np.concatenate(pieces) if pieces else np.arange(0)

    def __iter__(self):
        return iter(self._indices().tolist())

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given ``indices`` in a random order, drawn afresh each epoch (no replacement)."""

    def __init__(self, indices, generator=None):
        self.indices = indices
        _check_generator(generator, "SubsetRandomSampler")
        self.generator = generator

    def __iter__(self):
        order = _draw_from(self.generator).permutation(len(self.indices))
        return (self.indices[i] for i in order.tolist())

    def __len__(self) -> int:
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """``num_samples`` indices in [0, len(weights)), index i drawn with probability
    weights[i] / sum(weights); with replacement by default (the usual remedy for unbalanced
    classes: weight each sample by 1 / its class's frequency)."""

    def __init__(self, weights, num_samples, replacement=True, generator=None):
        array = weights._data if isinstance(weights, Tensor) else np.asarray(weights)
        if array.ndim != 1 or array.dtype.kind not in "biuf":
            raise ValueError(
                f"WeightedRandomSampler: weights must be a 1-D sequence of numbers. Got shape "
                f"{array.shape} of dtype {array.dtype} instead."
            )
        array = array.astype(np.float64)
        if not np.all(np.isfinite(array)) or np.any(array < 0) or array.sum() <= 0:
            raise ValueError(
                "WeightedRandomSampler: weights must be finite, >= 0, and not all 0."
            )
        self.weights = Tensor._from_op(array, None)
        self.num_samples = _check_positive_int("WeightedRandomSampler", "num_samples",
                                               num_samples)
        self.replacement = _check_bool("WeightedRandomSampler", "replacement", replacement)
        if not self.replacement and self.num_samples > np.count_nonzero(array):
            raise ValueError(
                f"WeightedRandomSampler: cannot draw {self.num_samples} samples without "
                f"replacement from {np.count_nonzero(array)} non-zero weights."
            )
        _check_generator(generator, "WeightedRandomSampler")
        self.generator = generator

    def __iter__(self):
        p = self.weights._data / self.weights._data.sum()
        draws = _draw_from(self.generator).choice(len(p), size=self.num_samples,
                                                  replace=self.replacement, p=p)
        return iter(draws.tolist())

    def __len__(self) -> int:
        return self.num_samples


class BatchSampler(Sampler):
    """Group the indices of ``sampler`` into lists of ``batch_size``; the last, smaller list is
    dropped when ``drop_last=True``."""

    def __init__(self, sampler, batch_size, drop_last):
        self.sampler = sampler
        self.batch_size = _check_positive_int("BatchSampler", "batch_size", batch_size)
        self.drop_last = _check_bool("BatchSampler", "drop_last", drop_last)

    def __iter__(self):
        indices = iter(self.sampler)
        while True:
            batch = list(itertools.islice(indices, self.batch_size))
            if not batch or (self.drop_last and len(batch) < self.batch_size):
                return
            yield batch

    def __len__(self) -> int:
        if self.drop_last:
            return len(self.sampler) // self.batch_size
        return math.ceil(len(self.sampler) / self.batch_size)


# ----- collate: a list of samples -> one batch ------------------------------------------------
def _is_namedtuple(value) -> bool:
    return isinstance(value, tuple) and hasattr(value, "_fields")


def _collate_error(found) -> TypeError:
    return TypeError(
        f"default_collate: batch must contain Tensors, NumPy arrays, numbers, dicts or lists; "
        f"found {found}. Pass a collate_fn that handles it."
    )


def _check_one_shape(arrays) -> None:
    shape = arrays[0].shape
    for position, array in enumerate(arrays):
        if array.shape != shape:
            raise ValueError(
                f"default_collate: cannot stack samples of different shapes, {shape} at "
                f"position 0 and {array.shape} at position {position}. Make the samples one "
                "shape (pad or crop them), or pass a collate_fn."
            )


def _stack_samples(tensors) -> Tensor:
    """Stack same-shaped Tensors along a new first dim; through the stack op (graph and dtype
    promotion) only when a sample requires grad or the dtypes differ."""
    arrays = [t._data for t in tensors]
    _check_one_shape(arrays)
    dtype = arrays[0].dtype
    if any(t.requires_grad or t._data.dtype != dtype for t in tensors):
        from .functions import stack
        return stack(tensors)
    return Tensor._from_op(np.stack(arrays), None)


def _stack_arrays(arrays) -> Tensor:
    """Stack same-shaped NumPy arrays along a new first dim (by PyTorch's promotion rules if
    their dtypes differ)."""
    _check_one_shape(arrays)
    dtype = arrays[0].dtype
    if any(a.dtype != dtype for a in arrays):
        return _stack_samples([Tensor._from_op(a, None) for a in arrays])
    return Tensor._from_op(np.stack(arrays), None)


def default_collate(batch):
    """Turn a list of samples into one batch, as ``torch.utils.data.default_collate``:

        Tensors, NumPy arrays    stacked along a new first dim   -> Tensor (N, *sample shape)
        NumPy scalars            -> Tensor (N,), their dtype
        floats / ints / bools    -> Tensor (N,) of float64 / int64 / bool
        str, bytes               -> left as a list
        dicts                    -> a dict with each key's values collated
        namedtuples              -> the same namedtuple with each field collated
        tuples / lists           -> a list with each position collated (tuples too, as PyTorch)
    """
    if len(batch) == 0:
        raise ValueError("default_collate: the batch is empty; it needs at least one sample.")
    elem = batch[0]
    if isinstance(elem, Tensor):
        return _stack_samples(batch)
    if isinstance(elem, np.ndarray):
        if elem.dtype.kind in "OSUV":
            raise _collate_error(f"arrays of dtype {elem.dtype}")
        return _stack_arrays([np.asarray(b) for b in batch])
    if isinstance(elem, (np.bool_, np.number)):
        return Tensor._from_op(np.array(batch), None)
    if isinstance(elem, float):
        return Tensor._from_op(np.array(batch, dtype=np.float64), None)
    if isinstance(elem, bool):
        return Tensor._from_op(np.array(batch), None)
    if isinstance(elem, int):
        return Tensor._from_op(np.array(batch, dtype=np.int64), None)
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, collections.abc.Mapping):
        collated = {key: default_collate([d[key] for d in batch]) for key in elem}
        if isinstance(elem, collections.abc.MutableMapping):
            clone = copy.copy(elem)
            clone.update(collated)
            return clone
        try:
            return type(elem)(collated)
        except TypeError:
            return collated
    if _is_namedtuple(elem):
        return type(elem)(*(default_collate(list(field)) for field in zip(*batch, strict=True)))
    if isinstance(elem, collections.abc.Sequence):
        size = len(elem)
        for position, sample in enumerate(batch):
            if len(sample) != size:
                raise ValueError(
                    f"default_collate: every sample must have the same number of fields; sample "
                    f"0 has {size} and sample {position} has {len(sample)}."
                )
        columns = [default_collate(list(column)) for column in zip(*batch, strict=True)]
        if isinstance(elem, tuple):
            return columns
        if isinstance(elem, collections.abc.MutableSequence):
            clone = copy.copy(elem)
            clone[:] = columns
            return clone
        try:
            return type(elem)(columns)
        except TypeError:
            return columns
    raise _collate_error(type(elem))


def default_convert(data):
    """What a DataLoader with ``batch_size=None`` does to each sample, as PyTorch: NumPy arrays
    and scalars become Tensors (arrays without a copy), dicts and sequences are converted item by
    item (tuples become lists), everything else is returned as it is."""
    if isinstance(data, Tensor):
        return data
    if isinstance(data, np.ndarray):
        return data if data.dtype.kind in "OSUV" else Tensor._from_op(data, None)
    if isinstance(data, (np.bool_, np.number)):
        return Tensor._from_op(np.asarray(data), None)
    if isinstance(data, (str, bytes)):
        return data
    if isinstance(data, collections.abc.Mapping):
        converted = {key: default_convert(data[key]) for key in data}
        if isinstance(data, collections.abc.MutableMapping):
            clone = copy.copy(data)
            clone.update(converted)
            return clone
        try:
            return type(data)(converted)
        except TypeError:
            return converted
    if _is_namedtuple(data):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence):
        items = [default_convert(d) for d in data]
        if isinstance(data, collections.abc.MutableSequence):
            clone = copy.copy(data)
            clone[:] = items
            return clone
        try:
            return type(data)(items)
        except TypeError:
            return items
    return data


def get_worker_info():
    """None: chainrule's DataLoader runs in the main process (also with num_workers > 0), which
    is what PyTorch returns there too."""
    return None


def _fancy_indexable(dataset):
    """(arrays, index map) when batches of ``dataset`` can be fetched by fancy indexing, else None.

    True for a TensorDataset and for Subsets (of Subsets ...) of one; the index map turns positions
    in ``dataset`` into rows of the arrays (None means the identity).
    """
    index_map = None
    while type(dataset) is Subset:
        indices = dataset._index_array()
        index_map = indices if index_map is None else indices[index_map]
        dataset = dataset.dataset
    if type(dataset) is TensorDataset:
        return tuple(t._data for t in dataset.tensors), index_map
    return None


# ----- DataLoader ---------------------------------------------------------------------------
class DataLoader:
    """Iterate over ``dataset`` in mini-batches of chainrule Tensors, as torch.utils.data does.

    An epoch (one ``iter(loader)``): the ``sampler`` gives the order of the indices
    (SequentialSampler by default, RandomSampler with ``shuffle=True``, drawing a fresh order
    from ``generator`` or the seeded default generator), the ``batch_sampler`` cuts it into
    batches of ``batch_size`` (dropping a last, smaller one if ``drop_last``), and each batch is
    ``collate_fn([dataset[i] for i in batch])`` (or ``collate_fn(dataset.__getitems__(batch))``
    when the dataset has that method), by default ``default_collate``: a dataset of
    ``(x, y)`` tuples gives ``[X, Y]`` batches with the samples stacked. ``batch_size=None``
    turns batching off (each sample comes through ``default_convert``). A dataset may be any
    object with ``__getitem__`` and ``__len__``, or an ``IterableDataset``, read in its own order.

    A batch of a TensorDataset (or a Subset of one) with the default collate_fn is fetched with
    one fancy index per tensor, without a Python loop over samples: the same result, faster.

    ``len(loader)`` is the number of batches: ceil(n / batch_size), or floor(n / batch_size) with
    ``drop_last=True``.

    Differences from PyTorch, each accepted so that programs run unchanged:
    ``num_workers > 0`` loads in the main process, one batch after another (there are no worker
    processes, so ``get_worker_info()`` is None, ``prefetch_factor``, ``persistent_workers``,
    ``timeout`` and ``in_order`` change nothing, and ``worker_init_fn`` is refused, there being no
    worker to initialise); ``pin_memory=True`` does nothing (there is only the CPU).
    ``multiprocessing_context`` and ``pin_memory_device`` are refused.
    """

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None,
                 num_workers=0, collate_fn=None, pin_memory=False, drop_last=False, timeout=0,
                 worker_init_fn=None, multiprocessing_context=None, generator=None, *,
                 prefetch_factor=None, persistent_workers=False, pin_memory_device="",
                 in_order=True):
        owner = "DataLoader"
        iterable = isinstance(dataset, IterableDataset)
        if not iterable and not hasattr(dataset, "__getitem__"):
            raise TypeError(
                f"DataLoader: the dataset must have __len__ and __getitem__ (or be an "
                f"IterableDataset). Got {type(dataset).__name__} instead."
            )
        if batch_size is not None:
            if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) \
                    or batch_size < 1:
                raise ValueError(
                    f"The 'batch_size' parameter of DataLoader must be an int >= 1 or None. "
                    f"Got {batch_size!r} instead."
                )
            batch_size = int(batch_size)
        if shuffle is not None:
            shuffle = _check_bool(owner, "shuffle", shuffle)
        drop_last = _check_bool(owner, "drop_last", drop_last)
        pin_memory = _check_bool(owner, "pin_memory", pin_memory)
        persistent_workers = _check_bool(owner, "persistent_workers", persistent_workers)
        in_order = _check_bool(owner, "in_order", in_order)
        if isinstance(num_workers, bool) or not isinstance(num_workers, numbers.Integral) \
                or num_workers < 0:
            raise ValueError(
                f"The 'num_workers' parameter of DataLoader must be an int >= 0. "
                f"Got {num_workers!r} instead."
            )
        if isinstance(timeout, bool) or not isinstance(timeout, numbers.Real) or timeout < 0:
            raise ValueError(
                f"The 'timeout' parameter of DataLoader must be a number >= 0. "
                f"Got {timeout!r} instead."
            )
        if collate_fn is not None and not callable(collate_fn):
            raise TypeError(
                f"The 'collate_fn' parameter of DataLoader must be callable or None. "
                f"Got {type(collate_fn).__name__} instead."
            )
        _check_generator(generator, owner)
        if multiprocessing_context is not None:
            raise ValueError(
                f"DataLoader: multiprocessing_context={multiprocessing_context!r} is not "
                "supported: chainrule loads data in the main process. Leave it None."
            )
        if pin_memory_device != "":
            raise ValueError(
                f"DataLoader: pin_memory_device={pin_memory_device!r} is not supported: "
                "chainrule has only the CPU. Leave it ''."
            )
        if num_workers == 0:
            if prefetch_factor is not None:
                raise ValueError(
                    "DataLoader: prefetch_factor is only for num_workers > 0 (as in PyTorch). "
                    f"Got prefetch_factor={prefetch_factor!r} with num_workers=0; leave it None."
                )
            if persistent_workers:
                raise ValueError(
                    "DataLoader: persistent_workers=True needs num_workers > 0 (as in PyTorch)."
                )
        else:
            if prefetch_factor is not None:
                _check_positive_int(owner, "prefetch_factor", prefetch_factor)
            if worker_init_fn is not None:
                raise ValueError(
                    "DataLoader: worker_init_fn is not supported: chainrule runs "
                    f"num_workers={num_workers} in the main process, so there is no worker to "
                    "initialise. Drop worker_init_fn."
                )
        if worker_init_fn is not None and not callable(worker_init_fn):
            raise TypeError(
                f"The 'worker_init_fn' parameter of DataLoader must be callable or None. "
                f"Got {type(worker_init_fn).__name__} instead."
            )
        for name, value in (("sampler", sampler), ("batch_sampler", batch_sampler)):
            if value is not None and not hasattr(value, "__iter__"):
                raise TypeError(
                    f"The '{name}' parameter of DataLoader must be an iterable of indices or "
                    f"None. Got {type(value).__name__} instead."
                )

        if iterable:
            for name, value in (("shuffle", shuffle), ("sampler", sampler),
                                ("batch_sampler", batch_sampler)):
                if value not in (None, False):
                    raise ValueError(
                        f"DataLoader: an IterableDataset is read in its own order, so {name} "
                        f"must be left unset. Got {name}={value!r}."
                    )
        if sampler is not None and shuffle:
            raise ValueError(
                "DataLoader: sampler and shuffle=True are mutually exclusive (the sampler sets "
                "the order); shuffle in the sampler instead."
            )
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError(
                    "DataLoader: batch_sampler is mutually exclusive with batch_size, shuffle, "
                    "sampler and drop_last (it sets all four); leave them at their defaults."
                )
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError(
                "DataLoader: batch_size=None turns batching off, so drop_last must be False."
            )
        if not iterable and sampler is None:
            if not hasattr(dataset, "__len__"):
                raise TypeError(
                    f"DataLoader: the dataset must have __len__ and __getitem__ (or pass a "
                    f"sampler). Got {type(dataset).__name__} without __len__."
                )
            sampler = RandomSampler(dataset, generator=generator) if shuffle \
                else SequentialSampler(dataset)
        if not iterable and batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        if collate_fn is None:
            collate_fn = default_collate if batch_size is not None or batch_sampler is not None \
                else default_convert

        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = bool(shuffle)
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.collate_fn = collate_fn
        self.num_workers = int(num_workers)
        self.pin_memory = pin_memory
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = None
        self.generator = generator
        self.prefetch_factor = prefetch_factor
        self.persistent_workers = persistent_workers
        self.pin_memory_device = pin_memory_device
        self.in_order = in_order

    def __len__(self) -> int:
        if isinstance(self.dataset, IterableDataset):
            n = len(self.dataset)
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)
        if self.batch_sampler is not None:
            return len(self.batch_sampler)
        return len(self.sampler)

    def __iter__(self):
        if isinstance(self.dataset, IterableDataset):
            return self._stream_batches()
        if self.batch_sampler is None:
            return (self.collate_fn(self.dataset[i]) for i in self.sampler)
        batcher = self.batch_sampler
        if type(batcher) is BatchSampler \
                and type(batcher.sampler) in (SequentialSampler, RandomSampler):
            # The built-in orders come as one array, drawn here when iter() is called, and are
            # cut into batches by slicing: no Python loop over indices.
            order, size = batcher.sampler._indices(), batcher.batch_size
            count = len(order) // size if batcher.drop_last else math.ceil(len(order) / size)
            index_batches = (order[b * size:(b + 1) * size] for b in range(count))
        else:
            index_batches = iter(batcher)
        return self._map_batches(index_batches)

    def _map_batches(self, index_batches):
        fast = _fancy_indexable(self.dataset) if self.collate_fn is default_collate else None
        if fast is not None:
            arrays, index_map = fast
            for indices in index_batches:
                rows = indices if index_map is None else index_map[indices]
                yield [Tensor._from_op(a[rows], None) for a in arrays]
        else:
            dataset, collate_fn = self.dataset, self.collate_fn
            # A dataset may fetch a whole batch itself with __getitems__(indices), as in PyTorch.
            fetch_batch = getattr(dataset, "__getitems__", None)
            for indices in index_batches:
                if isinstance(indices, np.ndarray):
                    indices = indices.tolist()
                samples = fetch_batch(indices) if fetch_batch is not None \
                    else [dataset[i] for i in indices]
                yield collate_fn(samples)

    def _stream_batches(self):
        samples = iter(self.dataset)
        if self.batch_size is None:
            for sample in samples:
                yield self.collate_fn(sample)
            return
        while True:
            batch = list(itertools.islice(samples, self.batch_size))
            if not batch or (self.drop_last and len(batch) < self.batch_size):
                return
            yield self.collate_fn(batch)

    def __repr__(self) -> str:
        return (
            f"DataLoader({self.dataset!r}, batch_size={self.batch_size}, shuffle={self.shuffle}, "
            f"drop_last={self.drop_last})"
        )


def _split_lengths(n: int, lengths) -> list:
    """Integer lengths from ``lengths`` (ints summing to n, or fractions summing to 1).

    Fractions follow PyTorch: each part gets floor(n * fraction), then the samples left over go
    one each to the parts in order, starting with the first.
    """
    lengths = list(lengths)
    if not lengths:
        raise ValueError("random_split: 'lengths' must name at least one part. Got [] instead.")
    for length in lengths:
        if isinstance(length, bool) or not isinstance(length, numbers.Real):
            raise TypeError(
                f"random_split: 'lengths' must be ints or fractions. Got {length!r} instead."
            )
        if length < 0:
            raise ValueError(
                f"random_split: every length must be >= 0. Got {length!r} in {lengths} instead."
            )
    all_ints = all(isinstance(length, numbers.Integral) for length in lengths)
    if not all_ints:
        if not math.isclose(sum(lengths), 1.0, rel_tol=0, abs_tol=1e-6) \
                or any(length > 1 for length in lengths):
            raise ValueError(
                f"random_split: fractions must add up to 1. Got {lengths} "
                f"(sum {sum(lengths):g}) instead."
            )
        counts = [int(math.floor(n * f)) for f in lengths]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        return counts
    counts = [int(length) for length in lengths]
    if sum(counts) != n:
        raise ValueError(
            f"random_split: the lengths {counts} add up to {sum(counts)}, "
            f"but the dataset has {n} samples."
        )
    return counts


def random_split(dataset, lengths, generator=None) -> list:
    """Split ``dataset`` into non-overlapping random Subsets of the given lengths.

    ``lengths`` are ints that add up to ``len(dataset)``, or fractions that add up to 1, as in
    ``torch.utils.data.random_split``. One permutation is drawn from ``generator`` (default:
    ``chainrule.random.default_generator()``) and cut into consecutive pieces; each Subset's
    ``indices`` is a list of ints, as in PyTorch.
    """
    _check_generator(generator, "random_split")
    n = len(dataset)
    counts = _split_lengths(n, lengths)
    order = _draw_from(generator).permutation(n).tolist()
    subsets, start = [], 0
    for count in counts:
        subsets.append(Subset(dataset, order[start:start + count]))
        start += count
    return subsets


def train_val_split(*arrays, val_fraction=0.3, shuffle=True, generator=None):
    """Split arrays that share their first dimension into a training and a validation part.

    Returns ``(train_arrays, val_arrays)``, two tuples with one NumPy array per input. The
    validation part has round(n * val_fraction) samples. With ``shuffle=True`` the rows are
    assigned by a permutation drawn from ``generator`` (default:
    ``chainrule.random.default_generator()``); with ``shuffle=False`` the last rows are the
    validation part, in order. Either part being empty is an error.
    """
    if not arrays:
        raise ValueError("train_val_split needs at least one array.")
    if isinstance(val_fraction, bool) or not isinstance(val_fraction, numbers.Real) \
            or not 0 < val_fraction < 1:
        raise ValueError(
            f"The 'val_fraction' parameter of train_val_split must be a float in the range "
            f"(0, 1). Got {val_fraction!r} instead."
        )
    if not isinstance(shuffle, (bool, np.bool_)):
        raise TypeError(
            f"The 'shuffle' parameter of train_val_split must be a bool. Got {shuffle!r} instead."
        )
    _check_generator(generator, "train_val_split")
    arrays = tuple(_as_array(a, "train_val_split: the inputs") for a in arrays)
    n = _check_same_length(arrays, "train_val_split")
    n_val = int(math.floor(n * val_fraction + 0.5))
    n_train = n - n_val
    if n_val == 0 or n_train == 0:
        empty = "validation" if n_val == 0 else "training"
        raise ValueError(
            f"train_val_split: val_fraction={val_fraction!r} of {n} samples leaves the {empty} "
            f"set empty; use more samples or a different val_fraction."
        )
    if shuffle:
        order = _draw_from(generator).permutation(n)
    else:
        order = np.arange(n)
    train_rows, val_rows = order[:n_train], order[n_train:]
    return tuple(a[train_rows] for a in arrays), tuple(a[val_rows] for a in arrays)


class Standardizer:
    """Scale each column to mean 0 and standard deviation 1, with statistics from training data.

    fit:               mean = mean(X, axis 0),  std = sqrt(mean((X - mean)^2, axis 0))
                       (the population std, ddof=0, as scikit-learn's StandardScaler); a column
                       with std 0 (constant; within 1e-12 of its mean's size, which rounding
                       leaves) gets std 1, so it is only centred, never divided by 0. A
                       column whose squares overflow (|x| >= 1e154) is computed as
                       s * stats(X / s), s its largest |x|, so it is scaled, never zeroed.
    transform:         Z = (X - mean) / std
    inverse_transform: X = Z * std + mean

    Fit on the training part only, then transform training, validation and new data with the same
    statistics. Floating inputs keep their dtype (other inputs become float64). A chainrule Tensor
    in gives a Tensor out, built from Tensor ops, so gradients flow through the scaling.
    ``state_dict()`` holds the two arrays, so the scaling can be saved with a model.
    """

    def __init__(self):
        self.mean = None
        self.std = None

    def fit(self, X) -> Standardizer:
        X = _as_array(X, "Standardizer.fit: X")
        if X.shape[0] == 0:
            raise ValueError(f"Standardizer.fit: X must have at least one row. Got {X.shape}.")
        if X.dtype.kind not in "biuf":
            raise TypeError(f"Standardizer.fit: X must hold real numbers. Got dtype {X.dtype}.")
        X64 = X.astype(np.float64, copy=False)
        if not np.all(np.isfinite(X64)):
            raise ValueError("Standardizer.fit: X contains NaN or Inf; clean the data first.")
        with np.errstate(over="ignore", invalid="ignore"):
            self.mean = X64.mean(axis=0)
            std = X64.std(axis=0)
        overflowed = ~(np.isfinite(self.mean) & np.isfinite(std))
        if overflowed.any():
            # |x| >= 1e154 squares past float64's largest number (a column of them would end up
            # all 0): such columns are computed as s * stats(X / s), s their largest |x|
            columns = X64[:, overflowed]
            scale = np.max(np.abs(columns), axis=0)
            self.mean[overflowed] = (columns / scale).mean(axis=0) * scale
            std[overflowed] = (columns / scale).std(axis=0) * scale
        # A constant column's std is 0 only in exact arithmetic: 0.3 repeated gives 5.6e-17. A std
        # within rounding of its mean counts as 0, so rounding noise is never blown up to +-1.
        constant = std <= 1e-12 * np.maximum(np.abs(self.mean), 1.0)
        self.std = np.where(constant, 1.0, std)
        return self

    def _check_fitted(self, method: str):
        if self.mean is None:
            raise RuntimeError(f"Standardizer.{method}: call fit() (or load_state_dict()) first.")

    def _prepare(self, X, method: str):
        """(array or Tensor, mean, std) with the statistics cast to the input's float dtype."""
        self._check_fitted(method)
        is_tensor = isinstance(X, Tensor)
        array = X._data if is_tensor else _as_array(X, f"Standardizer.{method}: X")
        if array.shape[1:] != self.mean.shape:
            raise ValueError(
                f"Standardizer.{method}: X has samples of shape {array.shape[1:]} but the "
                f"standardizer was fitted on samples of shape {self.mean.shape}."
            )
        dtype = array.dtype if array.dtype.kind == "f" else np.dtype(np.float64)
        mean, std = self.mean.astype(dtype), self.std.astype(dtype)
        if is_tensor:
            if X.dtype != dtype:  # only integer Tensors, which never require grad
                X = Tensor._from_op(array.astype(dtype), None)
            return X, Tensor._from_op(mean, None), Tensor._from_op(std, None)
        return array.astype(dtype, copy=False), mean, std

    def transform(self, X):
        X, mean, std = self._prepare(X, "transform")
        return (X - mean) / std

    def inverse_transform(self, Z):
        Z, mean, std = self._prepare(Z, "inverse_transform")
        return Z * std + mean

    def fit_transform(self, X):
        return self.fit(X).transform(X)

    def state_dict(self) -> dict:
        self._check_fitted("state_dict")
        return {"mean": self.mean.copy(), "std": self.std.copy()}

    def load_state_dict(self, state_dict: dict) -> None:
        if not isinstance(state_dict, dict) or set(state_dict) != {"mean", "std"}:
            keys = sorted(state_dict) if isinstance(state_dict, dict) else type(state_dict).__name__
            raise ValueError(
                f"Standardizer.load_state_dict: expected a dict with keys 'mean' and 'std'. "
                f"Got {keys} instead."
            )
        mean = np.array(state_dict["mean"], dtype=np.float64)
        std = np.array(state_dict["std"], dtype=np.float64)
        if mean.shape != std.shape:
            raise ValueError(
                f"Standardizer.load_state_dict: 'mean' has shape {mean.shape} but 'std' has "
                f"shape {std.shape}; they must match."
            )
        if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(std)) and np.all(std > 0)):
            raise ValueError(
                "Standardizer.load_state_dict: 'mean' must be finite and 'std' finite and > 0."
            )
        self.mean, self.std = mean, std

    def __repr__(self) -> str:
        if self.mean is None:
            return "Standardizer(not fitted)"
        return f"Standardizer(mean={self.mean}, std={self.std})"
