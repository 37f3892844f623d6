"""Tests for chainrule.numpy(): TensorDataset, DataLoader, random_split, train_val_split, Standardizer."""

import math
import re

import numpy as np
import pytest

import chainrule as cr
from chainrule.data import (
    DataLoader, Standardizer, Subset, TensorDataset, random_split, train_val_split,
)


def make_arrays(n=10, k=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, k))
    y = np.arange(n)  # y[i] == i identifies the sample, so batches can be checked against X
    return X, y


class ListDataset:
    """A plain dataset with __len__ and __getitem__, to exercise the generic (slow) path."""

    def __init__(self, X, y):
        self.X, self.y = X, y

    def __len__(self):
        return len(self.X)

    def __getitem__(self, i):
        return self.X[i], self.y[i]


# ----- TensorDataset ------------------------------------------------------------------------
def test_tensor_dataset_len_and_getitem():
    X, y = make_arrays()
    ds = TensorDataset(X, y)
    assert len(ds) == 10
    xi, yi = ds[3]
    assert isinstance(xi, cr.Tensor) and isinstance(yi, cr.Tensor)  # Tensors, as in PyTorch
    np.testing.assert_array_equal(xi.numpy(), X[3])
    assert yi.shape == () and yi.item() == 3
    assert np.shares_memory(xi.numpy(), X)  # a view, as PyTorch's t[i]
    xs, ys = ds[np.array([4, 1, 7])]
    np.testing.assert_array_equal(xs.numpy(), X[[4, 1, 7]])
    np.testing.assert_array_equal(ys.numpy(), [4, 1, 7])
    assert all(isinstance(a, cr.Tensor) for a in ds[np.array([0, 1])])


def test_tensor_dataset_accepts_chainrule_tensors_without_copy():
    X, y = make_arrays()
    tX = cr.tensor(X, dtype="float64")
    ds = TensorDataset(tX, y)
    assert ds.tensors[0] is tX  # kept as it is, as PyTorch's .tensors
    assert isinstance(ds.tensors[1], cr.Tensor) and ds.tensors[1].numpy() is y


def test_tensor_dataset_shape_mismatch_names_the_shapes():
    with pytest.raises(ValueError, match=r"same first dimension.*\(10, 3\), \(9,\)"):
        TensorDataset(np.zeros((10, 3)), np.zeros(9))


def test_tensor_dataset_errors():
    with pytest.raises(ValueError, match="needs at least one array"):
        TensorDataset()
    with pytest.raises(ValueError, match="at least one dimension"):
        TensorDataset(np.float64(3.0))


# ----- DataLoader ---------------------------------------------------------------------------
@pytest.mark.parametrize("n, batch_size, drop_last, expected", [
    (10, 3, False, 4), (10, 3, True, 3), (9, 3, False, 3), (9, 3, True, 3),
    (2, 5, False, 1), (2, 5, True, 0), (10, 1, False, 10), (10, 10, True, 1),
])
def test_loader_len_is_number_of_batches(n, batch_size, drop_last, expected):
    X, y = make_arrays(n)
    loader = DataLoader(TensorDataset(X, y), batch_size=batch_size, drop_last=drop_last)
    assert len(loader) == expected
    batches = list(loader)
    assert len(batches) == expected
    sizes = [b[0].shape[0] for b in batches]
    if drop_last:
        assert all(s == batch_size for s in sizes)
    else:
        assert sum(sizes) == n
        assert all(s == batch_size for s in sizes[:-1])
        if n % batch_size:
            assert sizes[-1] == n % batch_size


def test_loader_yields_tuples_of_tensors_in_order_without_shuffle():
    X, y = make_arrays(7)
    loader = DataLoader(TensorDataset(X, y), batch_size=3)
    batches = list(loader)
    for b, (xb, yb) in enumerate(batches):
        assert isinstance(xb, cr.Tensor) and isinstance(yb, cr.Tensor)
        assert not xb.requires_grad
        np.testing.assert_array_equal(xb.numpy(), X[3 * b:3 * b + 3])
        np.testing.assert_array_equal(yb.numpy(), y[3 * b:3 * b + 3])
    assert batches[0][0].dtype == X.dtype and batches[0][1].dtype == y.dtype


def test_loader_shuffle_covers_every_sample_once_and_keeps_pairs():
    X, y = make_arrays(23)
    cr.manual_seed(1)
    loader = DataLoader(TensorDataset(X, y), batch_size=5, shuffle=True)
    seen = []
    for xb, yb in loader:
        np.testing.assert_array_equal(xb.numpy(), X[yb.numpy()])  # rows stay paired with labels
        seen.extend(yb.numpy().tolist())
    assert sorted(seen) == list(range(23))
    assert seen != list(range(23))


def test_loader_shuffle_is_reproducible_under_manual_seed_and_differs_per_epoch():
    X, y = make_arrays(20)
    loader = DataLoader(TensorDataset(X, y), batch_size=4, shuffle=True)

    def epoch_order():
        return np.concatenate([yb.numpy() for _, yb in loader])

    cr.manual_seed(123)
    first, second = epoch_order(), epoch_order()
    cr.manual_seed(123)
    again_first, again_second = epoch_order(), epoch_order()
    np.testing.assert_array_equal(first, again_first)
    np.testing.assert_array_equal(second, again_second)
    assert not np.array_equal(first, second)  # a fresh permutation each epoch


def test_loader_shuffle_uses_the_default_generator():
    X, y = make_arrays(15)
    cr.manual_seed(7)
    expected = cr.random.default_generator().permutation(15)
    cr.manual_seed(7)
    order = np.concatenate([yb.numpy() for _, yb in DataLoader(TensorDataset(X, y), 4, True)])
    np.testing.assert_array_equal(order, expected)


def test_loader_with_its_own_generator_ignores_manual_seed():
    X, y = make_arrays(12)
    orders = []
    for seed in (0, 99):
        cr.manual_seed(seed)
        loader = DataLoader(TensorDataset(X, y), batch_size=5, shuffle=True,
                            generator=np.random.default_rng(5))
        orders.append(np.concatenate([yb.numpy() for _, yb in loader]))
    np.testing.assert_array_equal(orders[0], orders[1])
    np.testing.assert_array_equal(orders[0], np.random.default_rng(5).permutation(12))


def test_loader_generic_dataset_matches_fast_path():
    X, y = make_arrays(11)
    fast = DataLoader(TensorDataset(X, y), batch_size=4, shuffle=True,
                      generator=np.random.default_rng(3))
    slow = DataLoader(ListDataset(X, y), batch_size=4, shuffle=True,
                      generator=np.random.default_rng(3))
    for (fx, fy), (sx, sy) in zip(fast, slow, strict=True):
        np.testing.assert_array_equal(fx.numpy(), sx.numpy())
        np.testing.assert_array_equal(fy.numpy(), sy.numpy())


def test_loader_generic_dataset_of_single_arrays_yields_tensors():
    class Squares:
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return np.array([i, i * i], dtype=np.float64)

    batches = list(DataLoader(Squares(), batch_size=2))
    assert all(isinstance(b, cr.Tensor) for b in batches)
    np.testing.assert_array_equal(batches[1].numpy(), [[2, 4], [3, 9]])


def test_loader_on_subset_uses_the_subset_rows():
    X, y = make_arrays(10)
    subset = Subset(TensorDataset(X, y), [9, 2, 5])
    (xb, yb), = list(DataLoader(subset, batch_size=3))
    np.testing.assert_array_equal(yb.numpy(), [9, 2, 5])
    np.testing.assert_array_equal(xb.numpy(), X[[9, 2, 5]])


@pytest.mark.parametrize("bad", [0, -1, 2.0, True, "4"])
def test_loader_rejects_bad_batch_size(bad):
    with pytest.raises(ValueError, match=(
            r"The 'batch_size' parameter of DataLoader must be an int >= 1 or None\. "
            rf"Got {re.escape(repr(bad))} instead\.")):
        DataLoader(TensorDataset(np.zeros((3, 1))), batch_size=bad)


def test_loader_batch_size_error_sentence_exactly():
    with pytest.raises(ValueError) as info:
        DataLoader(TensorDataset(np.zeros((3, 1))), batch_size=0)
    assert str(info.value) == (
        "The 'batch_size' parameter of DataLoader must be an int >= 1 or None. Got 0 instead."
    )


def test_loader_rejects_bad_flags_generator_and_dataset():
    ds = TensorDataset(np.zeros((3, 1)))
    with pytest.raises(TypeError, match="'shuffle' parameter of DataLoader must be a bool"):
        DataLoader(ds, shuffle="yes")
    with pytest.raises(TypeError, match="'drop_last' parameter of DataLoader must be a bool"):
        DataLoader(ds, drop_last=1)
    with pytest.raises(TypeError, match="'generator' parameter of DataLoader must be a numpy"):
        DataLoader(ds, generator=42)
    with pytest.raises(TypeError, match="must have __len__ and __getitem__"):
        DataLoader(42)


# ----- random_split -------------------------------------------------------------------------
def test_random_split_int_lengths_partition_the_dataset():
    X, y = make_arrays(10)
    cr.manual_seed(0)
    parts = random_split(TensorDataset(X, y), [6, 4])
    assert [len(p) for p in parts] == [6, 4]
    all_indices = np.concatenate([p.indices for p in parts])
    assert sorted(all_indices.tolist()) == list(range(10))
    xi, yi = parts[1][0]
    np.testing.assert_array_equal(xi, X[yi])


@pytest.mark.parametrize("n, fractions, expected", [
    (10, [0.7, 0.3], [7, 3]),
    (10, [0.5, 0.5], [5, 5]),
    (11, [0.5, 0.5], [6, 5]),                 # the left-over sample goes to the first part
    (7, [1 / 3, 1 / 3, 1 / 3], [3, 2, 2]),
    (5, [0.1, 0.1, 0.8], [1, 0, 4]),          # floor gives 0, 0, 4; one left over goes first
])
def test_random_split_fractions_follow_pytorch(n, fractions, expected):
    parts = random_split(TensorDataset(np.arange(n)), fractions,
                         generator=np.random.default_rng(0))
    assert [len(p) for p in parts] == expected


def test_random_split_fraction_sizes_equal_torch():
    torch = pytest.importorskip("torch")
    for n, fractions in [(10, [0.7, 0.3]), (11, [0.5, 0.5]), (7, [1 / 3] * 3), (23, [0.2, 0.8])]:
        torch_parts = torch.utils.data.random_split(range(n), fractions)
        ours = random_split(TensorDataset(np.arange(n)), fractions)
        assert [len(p) for p in ours] == [len(p) for p in torch_parts]


def test_random_split_is_reproducible_under_manual_seed():
    ds = TensorDataset(np.arange(30))
    cr.manual_seed(5)
    a = [list(p.indices) for p in random_split(ds, [0.5, 0.5])]
    cr.manual_seed(5)
    b = [list(p.indices) for p in random_split(ds, [0.5, 0.5])]
    assert a == b


def test_random_split_errors():
    ds = TensorDataset(np.arange(10))
    with pytest.raises(ValueError, match=r"lengths \[6, 3\] add up to 9, but the dataset has 10"):
        random_split(ds, [6, 3])
    with pytest.raises(ValueError, match="fractions must add up to 1"):
        random_split(ds, [0.5, 0.4])
    with pytest.raises(ValueError, match="every length must be >= 0"):
        random_split(ds, [12, -2])
    with pytest.raises(TypeError, match="'lengths' must be ints or fractions"):
        random_split(ds, ["5", "5"])
    with pytest.raises(ValueError, match="at least one part"):
        random_split(ds, [])


# ----- train_val_split ----------------------------------------------------------------------
def test_train_val_split_sizes_and_pairing():
    X, y = make_arrays(10)
    cr.manual_seed(0)
    (X_train, y_train), (X_val, y_val) = train_val_split(X, y, val_fraction=0.3)
    assert X_train.shape == (7, 3) and y_train.shape == (7,)
    assert X_val.shape == (3, 3) and y_val.shape == (3,)
    np.testing.assert_array_equal(X_train, X[y_train])
    np.testing.assert_array_equal(X_val, X[y_val])
    assert sorted(np.concatenate([y_train, y_val]).tolist()) == list(range(10))


@pytest.mark.parametrize("n, fraction, n_val", [(10, 0.25, 3), (100, 0.2, 20), (3, 0.5, 2),
                                                (7, 0.1, 1)])
def test_train_val_split_rounds_the_validation_size(n, fraction, n_val):
    (train,), (val,) = train_val_split(np.arange(n), val_fraction=fraction)
    assert len(val) == n_val and len(train) == n - n_val


def test_train_val_split_without_shuffle_takes_the_last_rows():
    (train,), (val,) = train_val_split(np.arange(10), val_fraction=0.2, shuffle=False)
    np.testing.assert_array_equal(train, np.arange(8))
    np.testing.assert_array_equal(val, [8, 9])


def test_train_val_split_is_reproducible_under_manual_seed():
    X, y = make_arrays(50)
    cr.manual_seed(42)
    first = train_val_split(X, y)
    cr.manual_seed(42)
    second = train_val_split(X, y)
    for a, b in zip(first[0] + first[1], second[0] + second[1], strict=True):
        np.testing.assert_array_equal(a, b)
    third = train_val_split(X, y)
    assert not np.array_equal(first[1][1], third[1][1])


def test_train_val_split_accepts_tensors_and_a_generator():
    X, y = make_arrays(10)
    a = train_val_split(cr.tensor(X, dtype="float64"), y, generator=np.random.default_rng(1))
    b = train_val_split(X, y, generator=np.random.default_rng(1))
    np.testing.assert_array_equal(a[1][0], b[1][0])
    assert isinstance(a[0][0], np.ndarray)


@pytest.mark.parametrize("bad", [0, 1, 0.0, 1.0, -0.2, 1.5, True, "0.3", float("nan")])
def test_train_val_split_rejects_bad_fraction(bad):
    with pytest.raises(ValueError, match=r"'val_fraction' parameter of train_val_split must be "
                                         r"a float in the range \(0, 1\)\. Got"):
        train_val_split(np.arange(10), val_fraction=bad)


def test_train_val_split_errors_when_a_part_would_be_empty():
    with pytest.raises(ValueError, match="leaves the validation set empty"):
        train_val_split(np.arange(4), val_fraction=0.1)
    with pytest.raises(ValueError, match="leaves the training set empty"):
        train_val_split(np.arange(4), val_fraction=0.9)
    with pytest.raises(ValueError, match="of 1 samples leaves"):
        train_val_split(np.arange(1), val_fraction=0.5)


def test_train_val_split_other_errors():
    with pytest.raises(ValueError, match=r"same first dimension.*\(5,\), \(4,\)"):
        train_val_split(np.arange(5), np.arange(4))
    with pytest.raises(ValueError, match="needs at least one array"):
        train_val_split()
    with pytest.raises(TypeError, match="'shuffle' parameter of train_val_split must be a bool"):
        train_val_split(np.arange(5), shuffle=None)


# ----- Standardizer -------------------------------------------------------------------------
def test_standardizer_gives_mean_zero_std_one_and_round_trips():
    rng = np.random.default_rng(0)
    X = rng.normal(loc=[5.0, -3.0, 100.0], scale=[2.0, 0.1, 30.0], size=(200, 3))
    scaler = Standardizer().fit(X)
    np.testing.assert_allclose(scaler.mean, X.mean(axis=0))
    np.testing.assert_allclose(scaler.std, X.std(axis=0))
    Z = scaler.transform(X)
    np.testing.assert_allclose(Z.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(Z.std(axis=0), 1.0, rtol=1e-12)
    np.testing.assert_allclose(scaler.inverse_transform(Z), X, rtol=1e-12)


def test_standardizer_matches_scikit_learn():
    preprocessing = pytest.importorskip("sklearn.preprocessing")
    X = np.random.default_rng(1).normal(size=(50, 4)) * [1, 10, 0.1, 3]
    ours = Standardizer().fit_transform(X)
    theirs = preprocessing.StandardScaler().fit_transform(X)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)


def test_standardizer_constant_column_is_centred_not_divided_by_zero():
    X = np.array([[1.0, 7.0], [2.0, 7.0], [3.0, 7.0]])
    scaler = Standardizer().fit(X)
    assert scaler.std[1] == 1.0
    with np.errstate(all="raise"):
        Z = scaler.transform(X)
    np.testing.assert_array_equal(Z[:, 1], 0.0)
    assert np.all(np.isfinite(Z))
    np.testing.assert_array_equal(scaler.inverse_transform(Z)[:, 1], 7.0)


def test_standardizer_uses_training_statistics_on_new_data():
    train = np.array([[0.0], [2.0], [4.0]])
    scaler = Standardizer().fit(train)
    np.testing.assert_allclose(scaler.transform(np.array([[2.0], [10.0]])),
                               [[0.0], [8.0 / np.sqrt(8.0 / 3.0)]])


def test_standardizer_keeps_float32_and_converts_ints():
    X32 = np.random.default_rng(2).normal(size=(10, 2)).astype(np.float32)
    scaler = Standardizer().fit(X32)
    assert scaler.transform(X32).dtype == np.float32
    assert scaler.inverse_transform(scaler.transform(X32)).dtype == np.float32
    ints = np.arange(6).reshape(3, 2)
    assert Standardizer().fit(ints).transform(ints).dtype == np.float64


def test_standardizer_on_tensors_keeps_the_graph():
    X = np.random.default_rng(3).normal(size=(6, 2))
    scaler = Standardizer().fit(X)
    t = cr.tensor(X, dtype="float64", requires_grad=True)
    z = scaler.transform(t)
    assert isinstance(z, cr.Tensor)
    np.testing.assert_allclose(z.numpy(), scaler.transform(X))
    z.sum().backward()
    # d(sum((x - mean) / std))/dx = 1 / std, the same for every row
    np.testing.assert_allclose(t.grad.numpy(), np.broadcast_to(1.0 / scaler.std, X.shape))


def test_standardizer_state_dict_round_trip():
    X = np.random.default_rng(4).normal(size=(20, 3))
    scaler = Standardizer().fit(X)
    state = scaler.state_dict()
    assert set(state) == {"mean", "std"}
    assert all(isinstance(v, np.ndarray) for v in state.values())
    restored = Standardizer()
    restored.load_state_dict(state)
    np.testing.assert_array_equal(restored.transform(X), scaler.transform(X))
    state["mean"][0] = 1e9  # the state dict is a copy, not a view of the scaler
    assert scaler.mean[0] != 1e9


def test_standardizer_errors():
    scaler = Standardizer()
    with pytest.raises(RuntimeError, match=r"Standardizer.transform: call fit\(\)"):
        scaler.transform(np.zeros((2, 2)))
    with pytest.raises(RuntimeError, match=r"Standardizer.state_dict: call fit\(\)"):
        scaler.state_dict()
    with pytest.raises(ValueError, match="at least one row"):
        scaler.fit(np.zeros((0, 2)))
    with pytest.raises(ValueError, match="contains NaN or Inf"):
        scaler.fit(np.array([[1.0], [np.nan]]))
    scaler.fit(np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"samples of shape \(3,\) but .* shape \(2,\)"):
        scaler.transform(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="expected a dict with keys 'mean' and 'std'"):
        scaler.load_state_dict({"mean": np.zeros(2)})
    with pytest.raises(ValueError, match=r"'mean' has shape \(2,\) but 'std' has shape \(3,\)"):
        scaler.load_state_dict({"mean": np.zeros(2), "std": np.ones(3)})
    with pytest.raises(ValueError, match="'std' finite and > 0"):
        scaler.load_state_dict({"mean": np.zeros(2), "std": np.array([1.0, 0.0])})


def test_loader_len_formula_property():
    for n in range(1, 30):
        for bs in range(1, 12):
            ds = TensorDataset(np.arange(n))
            assert len(DataLoader(ds, bs)) == math.ceil(n / bs)
            assert len(DataLoader(ds, bs, drop_last=True)) == n // bs


def test_loader_draws_the_permutation_when_iter_is_called():
    X, y = make_arrays(12)
    loader = DataLoader(TensorDataset(X, y), batch_size=12, shuffle=True)
    cr.manual_seed(3)
    expected = cr.random.default_generator().permutation(12)
    cr.manual_seed(3)
    batches = iter(loader)
    cr.random.default_generator().normal(size=5)  # other draws between iter() and next()
    (_, yb), = list(batches)
    np.testing.assert_array_equal(yb.numpy(), expected)


def test_a_constant_column_is_only_centred_even_when_rounding_gives_it_a_tiny_std():
    from chainrule.data import Standardizer

    X = np.full((10, 2), 0.3)
    X[:, 1] = np.arange(10)
    assert np.std(X[:, 0]) > 0  # 5.6e-17: rounding, not spread
    scaler = Standardizer().fit(X)
    assert scaler.std[0] == 1.0 and scaler.std[1] == np.std(np.arange(10))
    np.testing.assert_allclose(scaler.transform(X)[:, 0], 0.0, atol=1e-15)
