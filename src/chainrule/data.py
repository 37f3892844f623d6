"""Datasets, mini-batches and splits, with PyTorch's names: TensorDataset, DataLoader, random_split.

    X, y = ...                                   # NumPy arrays with the same first dimension
    (X_train, y_train), (X_val, y_val) = train_val_split(X, y, val_fraction=0.2)
    scaler = Standardizer().fit(X_train)
    train_set = TensorDataset(scaler.transform(X_train), y_train)
    loader = DataLoader(train_set, batch_size=32, shuffle=True)
    for xb, yb in loader:                        # chainrule Tensors, a fresh order every epoch
        ...

All shuffling draws from ``chainrule.random.default_generator()`` (seeded by
``chainrule.manual_seed``) unless a NumPy ``Generator`` is passed, so a seeded run sees the same
batches every time.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from . import random as _random
from .tensor import Tensor

__all__ = [
    "TensorDataset", "Subset", "DataLoader", "random_split", "train_val_split", "Standardizer",
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


def _check_generator(generator, what: str):
    if generator is not None and not isinstance(generator, np.random.Generator):
        raise TypeError(
            f"The 'generator' parameter of {what} must be a numpy.random.Generator or None. "
            f"Got {type(generator).__name__} instead."
        )


class TensorDataset:
    """A dataset of arrays (or chainrule Tensors) that share their first dimension.

    ``dataset[i]`` is the tuple ``(a[i] for a in arrays)``; ``i`` may be an int, a slice or an array
    of indices, which is what lets DataLoader fetch a whole batch with one fancy index per array.
    The arrays are kept as NumPy arrays in ``.tensors`` (PyTorch's attribute name), not copied.
    """

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset needs at least one array.")
        self.tensors = tuple(_as_array(t, "TensorDataset: the inputs") for t in tensors)
        _check_same_length(self.tensors, "TensorDataset")

    def __len__(self) -> int:
        return self.tensors[0].shape[0]

    def __getitem__(self, index):
        return tuple(a[index] for a in self.tensors)

    def __repr__(self) -> str:
        shapes = ", ".join(str(a.shape) for a in self.tensors)
        return f"TensorDataset({shapes})"


class Subset:
    """The samples of ``dataset`` at ``indices``, in that order (what random_split returns)."""

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = np.asarray(indices, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index):
        if isinstance(index, (numbers.Integral, np.integer)):
            return self.dataset[int(self.indices[index])]
        return self.dataset[self.indices[index]]

    def __repr__(self) -> str:
        return f"Subset({self.dataset!r}, {len(self)} samples)"


def _fancy_indexable(dataset):
    """(arrays, index map) when batches of ``dataset`` can be fetched by fancy indexing, else None.

    True for a TensorDataset and for Subsets (of Subsets ...) of one; the index map turns positions
    in ``dataset`` into rows of the arrays (None means the identity).
    """
    index_map = None
    while isinstance(dataset, Subset):
        index_map = dataset.indices if index_map is None else dataset.indices[index_map]
        dataset = dataset.dataset
    if isinstance(dataset, TensorDataset):
        return dataset.tensors, index_map
    return None


def _collate(samples):
    """Stack a list of samples into a batch: tuples field by field, single arrays as one."""
    first = samples[0]
    if isinstance(first, (tuple, list)):
        return tuple(_stack([s[k] for s in samples]) for k in range(len(first)))
    return _stack(samples)


def _stack(values) -> Tensor:
    arrays = [v._data if isinstance(v, Tensor) else np.asarray(v) for v in values]
    return Tensor._from_op(np.stack(arrays), None)


class DataLoader:
    """Iterate over ``dataset`` in mini-batches of chainrule Tensors.

    Each ``iter(loader)`` starts an epoch: with ``shuffle=True`` it draws a fresh permutation of
    the samples from ``generator`` (default: ``chainrule.random.default_generator()``), then
    yields consecutive slices of ``batch_size`` positions. The last, smaller batch is dropped when
    ``drop_last=True``.

    A batch of a TensorDataset (or a Subset of one) is fetched with one fancy index per array, so
    no Python loop runs over samples; each batch is a tuple with one Tensor per array, with the
    arrays' dtypes kept. Any other dataset (anything with ``__len__`` and ``__getitem__``) is read
    sample by sample and stacked: tuples of fields become tuples of Tensors, a single array
    becomes one Tensor.

    ``len(loader)`` is the number of batches: ceil(n / batch_size), or floor(n / batch_size) with
    ``drop_last=True``.
    """

    def __init__(self, dataset, batch_size=1, shuffle=False, drop_last=False, generator=None):
        if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) \
                or batch_size < 1:
            raise ValueError(
                f"The 'batch_size' parameter of DataLoader must be an int >= 1. "
                f"Got {batch_size!r} instead."
            )
        for name, value in (("shuffle", shuffle), ("drop_last", drop_last)):
            if not isinstance(value, (bool, np.bool_)):
                raise TypeError(
                    f"The '{name}' parameter of DataLoader must be a bool. Got {value!r} instead."
                )
        _check_generator(generator, "DataLoader")
        if not hasattr(dataset, "__len__") or not hasattr(dataset, "__getitem__"):
            raise TypeError(
                f"DataLoader: the dataset must have __len__ and __getitem__. "
                f"Got {type(dataset).__name__} instead."
            )
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.generator = generator

    def __len__(self) -> int:
        n = len(self.dataset)
        if self.drop_last:
            return n // self.batch_size
        return math.ceil(n / self.batch_size)

    def _order(self) -> np.ndarray:
        n = len(self.dataset)
        if not self.shuffle:
            return np.arange(n)
        generator = self.generator if self.generator is not None else _random.default_generator()
        return generator.permutation(n)

    def __iter__(self):
        # The permutation is drawn here, when iter() is called, not at the first next().
        return self._batches(self._order())

    def _batches(self, order):
        fast = _fancy_indexable(self.dataset)
        for b in range(len(self)):
            positions = order[b * self.batch_size:(b + 1) * self.batch_size]
            if fast is not None:
                arrays, index_map = fast
                rows = positions if index_map is None else index_map[positions]
                yield tuple(Tensor._from_op(a[rows], None) for a in arrays)
            else:
                yield _collate([self.dataset[int(i)] for i in positions])

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
    ``chainrule.random.default_generator()``) and cut into consecutive pieces.
    """
    _check_generator(generator, "random_split")
    n = len(dataset)
    counts = _split_lengths(n, lengths)
    generator = generator if generator is not None else _random.default_generator()
    order = generator.permutation(n)
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
        generator = generator if generator is not None else _random.default_generator()
        order = generator.permutation(n)
    else:
        order = np.arange(n)
    train_rows, val_rows = order[:n_train], order[n_train:]
    return tuple(a[train_rows] for a in arrays), tuple(a[val_rows] for a in arrays)


class Standardizer:
    """Scale each column to mean 0 and standard deviation 1, with statistics from training data.

    fit:               mean = mean(X, axis 0),  std = sqrt(mean((X - mean)^2, axis 0))
                       (the population std, ddof=0, as scikit-learn's StandardScaler); a column
                       with std 0 (constant; within 1e-12 of its mean's size, which rounding
                       leaves) gets std 1, so it is only centred, never divided by 0.
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
        self.mean = X64.mean(axis=0)
        std = X64.std(axis=0)
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
