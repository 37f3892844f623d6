"""chainrule.data against torch.utils.data: the same datasets, samplers and collation give the
same batches (values, dtypes, shapes and container types), the same lengths and the same errors."""

import collections

import numpy as np
import pytest

import chainrule as cr
from chainrule import data as crdata

torch = pytest.importorskip("torch")
tdata = torch.utils.data
pytestmark = pytest.mark.filterwarnings("ignore:.pin_memory. argument is set as true")


def assert_same(ours, theirs, where="batch"):
    """Recursively: Tensors with equal values, dtype and shape; the same container types."""
    if isinstance(theirs, torch.Tensor):
        assert isinstance(ours, cr.Tensor), f"{where}: {type(ours).__name__} is not a Tensor"
        assert ours.shape == tuple(theirs.shape), f"{where}: {ours.shape} != {tuple(theirs.shape)}"
        assert ours.dtype.name == str(theirs.dtype).removeprefix("torch."), \
            f"{where}: dtype {ours.dtype} != {theirs.dtype}"
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy(), err_msg=where)
        return
    assert type(ours) is type(theirs), f"{where}: {type(ours).__name__} != {type(theirs).__name__}"
    if isinstance(theirs, dict):
        assert list(ours) == list(theirs), where
        for key in theirs:
            assert_same(ours[key], theirs[key], f"{where}[{key!r}]")
    elif isinstance(theirs, (list, tuple)):
        assert len(ours) == len(theirs), where
        for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
            assert_same(a, b, f"{where}[{i}]")
    else:
        assert ours == theirs, where


def as_torch(value):
    """The same sample with chainrule Tensors swapped for torch Tensors."""
    if isinstance(value, cr.Tensor):
        return torch.from_numpy(value.numpy().copy())
    if isinstance(value, dict):
        return {k: as_torch(v) for k, v in value.items()}
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return type(value)(*(as_torch(v) for v in value))
    if isinstance(value, (list, tuple)):
        return type(value)(as_torch(v) for v in value)
    return value


Point = collections.namedtuple("Point", ["x", "y"])
RNG = np.random.default_rng(0)

COLLATE_CASES = {
    "floats": [0.5, 1.5, -2.0],
    "ints": [1, 2, 3],
    "bools": [True, False, True],
    "numpy float32 scalars": [np.float32(1.5), np.float32(2.5)],
    "numpy int32 scalars": [np.int32(1), np.int32(7)],
    "numpy float64 scalars": [np.float64(0.25), np.float64(1.0)],
    "numpy arrays float32": [RNG.normal(size=(2, 3)).astype(np.float32) for _ in range(4)],
    "numpy arrays int64": [np.arange(3) + i for i in range(2)],
    "0-d numpy arrays": [np.array(1.0), np.array(2.0)],
    "tensors": [cr.tensor(RNG.normal(size=3)) for _ in range(3)],
    "tuples": [(np.ones(2, np.float32) * i, i) for i in range(3)],
    "lists": [[float(i), i] for i in range(3)],
    "dicts": [{"image": np.full((2, 2), i, np.float32), "label": i} for i in range(3)],
    "namedtuples": [Point(float(i), i) for i in range(3)],
    "strings": ["a", "bb", "c"],
    "nested": [{"pair": (cr.tensor([float(i)]), [i, i + 1]), "name": str(i)} for i in range(2)],
}


@pytest.mark.parametrize("name", list(COLLATE_CASES))
def test_default_collate_equals_torch(name):
    batch = COLLATE_CASES[name]
    assert_same(crdata.default_collate(batch), tdata.default_collate(as_torch(batch)), name)


@pytest.mark.parametrize("name", list(COLLATE_CASES))
def test_default_convert_equals_torch(name):
    sample = COLLATE_CASES[name][0]
    assert_same(crdata.default_convert(sample), tdata.default_convert(as_torch(sample)), name)


def test_default_collate_keeps_the_graph_of_samples_that_require_grad():
    a = cr.tensor([1.0, 2.0], requires_grad=True)
    b = cr.tensor([3.0, 4.0], requires_grad=True)
    batch = crdata.default_collate([a, b])
    (batch * cr.tensor([[1.0, 2.0], [3.0, 4.0]])).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [1.0, 2.0])
    np.testing.assert_array_equal(b.grad.numpy(), [3.0, 4.0])


def test_default_collate_errors():
    with pytest.raises(ValueError, match=r"different shapes, \(2,\) at position 0 and \(3,\) at "
                                         r"position 1\. Make the samples one shape"):
        crdata.default_collate([np.zeros(2), np.zeros(3)])
    with pytest.raises(ValueError, match="sample 0 has 2 and sample 1 has 3"):
        crdata.default_collate([(1, 2), (1, 2, 3)])
    with pytest.raises(TypeError, match="batch must contain Tensors, NumPy arrays, numbers, dicts "
                                        "or lists; found <class 'object'>"):
        crdata.default_collate([object(), object()])
    with pytest.raises(TypeError, match="found arrays of dtype <U1"):
        crdata.default_collate([np.array(["a"]), np.array(["b"])])
    with pytest.raises(ValueError, match="the batch is empty"):
        crdata.default_collate([])


# ----- datasets ---------------------------------------------------------------------------------
class Squares:
    """A plain map-style object (no base class): sample i is (x_i, i*i)."""

    def __init__(self, n=10):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if not 0 <= i < self.n:
            raise IndexError(i)
        return np.array([i, -i], dtype=np.float32), i * i


class CrStream(crdata.IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return iter([(np.float32(i), i) for i in range(self.n)])

    def __len__(self):
        return self.n


class TorchStream(tdata.IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return iter([(np.float32(i), i) for i in range(self.n)])

    def __len__(self):
        return self.n


def loaders(dataset_ours, dataset_theirs, **kwargs):
    return crdata.DataLoader(dataset_ours, **kwargs), tdata.DataLoader(dataset_theirs, **kwargs)


def assert_same_batches(ours, theirs):
    assert len(ours) == len(theirs)
    batches_ours, batches_theirs = list(ours), list(theirs)
    assert len(batches_ours) == len(batches_theirs) == len(ours)
    for k, (a, b) in enumerate(zip(batches_ours, batches_theirs, strict=True)):
        assert_same(a, b, f"batch {k}")


X = RNG.normal(size=(11, 3)).astype(np.float32)
Y = np.arange(11)
ORDER = [3, 0, 7, 10, 1, 5, 2, 9, 4, 8, 6]


@pytest.mark.parametrize("kwargs", [
    {}, {"batch_size": 4}, {"batch_size": 4, "drop_last": True}, {"batch_size": 11},
    {"batch_size": 20}, {"batch_size": 20, "drop_last": True}, {"batch_size": None},
    {"batch_size": 3, "sampler": ORDER}, {"batch_size": 3, "sampler": ORDER, "drop_last": True},
    {"batch_sampler": [[1, 2], [10, 0, 3], [5]]}, {"batch_size": None, "sampler": ORDER},
    {"batch_size": 4, "num_workers": 2, "pin_memory": True},
])
@pytest.mark.parametrize("dataset", ["TensorDataset", "Subset", "plain", "ConcatDataset"])
def test_loader_batches_equal_torch(dataset, kwargs):
    if dataset == "TensorDataset":  # the fast path (one fancy index per tensor)
        ours, theirs = crdata.TensorDataset(X, Y), tdata.TensorDataset(torch.from_numpy(X),
                                                                     torch.from_numpy(Y))
    elif dataset == "Subset":  # the fast path through an index map
        rows = [10, 4, 2, 9, 0, 1, 3, 5, 6, 8, 7]
        ours = crdata.Subset(crdata.TensorDataset(X, Y), rows)
        theirs = tdata.Subset(tdata.TensorDataset(torch.from_numpy(X), torch.from_numpy(Y)), rows)
    elif dataset == "plain":  # sample by sample, then default_collate
        ours = theirs = Squares(11)
    else:
        ours = crdata.ConcatDataset([Squares(4), Squares(7)])
        theirs = tdata.ConcatDataset([Squares(4), Squares(7)])
    assert_same_batches(*loaders(ours, theirs, **kwargs))


def test_loader_fast_path_gives_what_the_sample_by_sample_path_gives():
    fast = crdata.DataLoader(crdata.TensorDataset(X, Y), batch_size=4, sampler=ORDER)
    slow = crdata.DataLoader(crdata.TensorDataset(X, Y), batch_size=4, sampler=ORDER,
                             collate_fn=lambda batch: crdata.default_collate(batch))
    for a, b in zip(fast, slow, strict=True):
        assert_same(a, [torch.from_numpy(t.numpy()) for t in b])


def test_loader_with_a_collate_fn_equals_torch():
    def pad_collate(batch):
        return [len(batch), sorted(int(y) for _, y in batch)]

    assert_same_batches(*loaders(Squares(7), Squares(7), batch_size=3, collate_fn=pad_collate))


def test_loader_of_dicts_equals_torch():
    class Records:
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return {"x": np.full(2, i, np.float64), "label": i, "name": f"s{i}"}

    assert_same_batches(*loaders(Records(), Records(), batch_size=2))


@pytest.mark.parametrize("kwargs", [{"batch_size": 3}, {"batch_size": 3, "drop_last": True},
                                    {"batch_size": None}, {"batch_size": 4, "num_workers": 1}])
def test_loader_over_an_iterable_dataset_equals_torch(kwargs):
    ours, theirs = loaders(CrStream(10), TorchStream(10), **kwargs)
    if kwargs.get("num_workers"):  # torch's workers would run in processes: compare with 0
        theirs = tdata.DataLoader(TorchStream(10), batch_size=4)
    assert_same_batches(ours, theirs)


def test_chain_dataset_and_add():
    chained = CrStream(2) + CrStream(3)
    assert isinstance(chained, crdata.ChainDataset)
    assert [int(y) for _, y in chained] == [0, 1, 0, 1, 2]
    assert len(chained) == 5


def test_concat_dataset_equals_torch():
    parts_ours = [crdata.TensorDataset(X[:4], Y[:4]), crdata.TensorDataset(X[4:], Y[4:])]
    parts_theirs = [tdata.TensorDataset(torch.from_numpy(X[:4]), torch.from_numpy(Y[:4])),
                    tdata.TensorDataset(torch.from_numpy(X[4:]), torch.from_numpy(Y[4:]))]
    ours = parts_ours[0] + parts_ours[1]
    theirs = parts_theirs[0] + parts_theirs[1]
    assert isinstance(ours, crdata.ConcatDataset)
    assert ours.cumulative_sizes == theirs.cumulative_sizes == [4, 11]
    assert len(ours) == len(theirs)
    for i in [0, 3, 4, 10, -1, -11]:
        assert_same(ours[i], theirs[i], f"sample {i}")
    with pytest.raises(IndexError, match="ConcatDataset index 11 is out of range for 11"):
        ours[11]
    with pytest.raises(TypeError, match="ConcatDataset: dataset 1 is an IterableDataset"):
        crdata.ConcatDataset([Squares(2), CrStream(2)])
    with pytest.raises(ValueError, match="at least one dataset"):
        crdata.ConcatDataset([])


def test_tensor_dataset_samples_equal_torch():
    ours = crdata.TensorDataset(X, Y)
    theirs = tdata.TensorDataset(torch.from_numpy(X), torch.from_numpy(Y))
    for index in [0, 10, -1, slice(2, 5), np.array([4, 1])]:
        t_index = torch.from_numpy(index) if isinstance(index, np.ndarray) else index
        assert_same(list(ours[index]), list(theirs[t_index]), f"index {index!r}")
    assert isinstance(ours[0], tuple) and isinstance(theirs[0], tuple)


def test_dataset_base_class():
    class Doubles(crdata.Dataset):
        def __len__(self):
            return 3

        def __getitem__(self, i):
            return 2.0 * i

    assert_same(list(crdata.DataLoader(Doubles(), batch_size=2)),
                list(tdata.DataLoader(Doubles(), batch_size=2)))
    with pytest.raises(NotImplementedError, match="must define __getitem__"):
        crdata.Dataset()[0]


# ----- samplers -------------------------------------------------------------------------------
@pytest.mark.parametrize("sampler_args", [
    {}, {"num_samples": 25}, {"num_samples": 4}, {"replacement": True},
    {"replacement": True, "num_samples": 30},
])
def test_random_sampler_lengths_and_contents_follow_torch(sampler_args):
    data = list(range(10))
    ours = list(crdata.RandomSampler(data, generator=np.random.default_rng(0), **sampler_args))
    theirs = list(tdata.RandomSampler(data, **sampler_args))
    assert len(ours) == len(theirs)
    assert len(crdata.RandomSampler(data, **sampler_args)) == len(tdata.RandomSampler(data,
                                                                                    **sampler_args))
    assert all(isinstance(i, int) and 0 <= i < 10 for i in ours)
    if not sampler_args.get("replacement"):
        # permutations one after the other: each full block of 10 holds every index once
        for start in range(0, len(ours) - len(ours) % 10, 10):
            assert sorted(ours[start:start + 10]) == data
        assert len(set(ours[len(ours) - len(ours) % 10:])) == len(ours) % 10


def test_samplers_are_reproducible_and_fresh_each_epoch():
    cr.manual_seed(3)
    sampler = crdata.RandomSampler(range(50))
    first, second = list(sampler), list(sampler)
    cr.manual_seed(3)
    assert list(sampler) == first and list(sampler) == second and first != second
    subset = crdata.SubsetRandomSampler([5, 7, 11, 13], generator=np.random.default_rng(1))
    drawn = list(subset)
    assert sorted(drawn) == [5, 7, 11, 13] and len(subset) == 4


def test_weighted_random_sampler_draws_by_weight():
    sampler = crdata.WeightedRandomSampler([0.0, 1.0, 3.0], num_samples=4000,
                                           generator=np.random.default_rng(0))
    counts = np.bincount(list(sampler), minlength=3)
    assert counts[0] == 0 and len(sampler) == 4000
    assert abs(counts[2] / counts[1] - 3.0) < 0.3
    no_replacement = list(crdata.WeightedRandomSampler([1, 1, 1, 1], 4, replacement=False))
    assert sorted(no_replacement) == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="cannot draw 3 samples without replacement from 2"):
        crdata.WeightedRandomSampler([1, 0, 1], 3, replacement=False)
    with pytest.raises(ValueError, match="weights must be finite, >= 0"):
        crdata.WeightedRandomSampler([1, -1], 3)


@pytest.mark.parametrize("n, batch_size, drop_last", [(10, 3, False), (10, 3, True), (9, 3, True),
                                                      (2, 5, False), (2, 5, True)])
def test_batch_sampler_equals_torch(n, batch_size, drop_last):
    ours = crdata.BatchSampler(crdata.SequentialSampler(range(n)), batch_size, drop_last)
    theirs = tdata.BatchSampler(tdata.SequentialSampler(range(n)), batch_size, drop_last)
    assert list(ours) == list(theirs)
    assert len(ours) == len(theirs)


def test_shuffled_loader_with_the_same_generator_repeats_its_order():
    def order(loader):
        return [int(i) for _, yb in loader for i in yb.numpy()]

    a = crdata.DataLoader(crdata.TensorDataset(X, Y), batch_size=4, shuffle=True,
                          generator=np.random.default_rng(9))
    b = crdata.DataLoader(Squares(11), batch_size=4, shuffle=True,
                          generator=np.random.default_rng(9))
    order_a = order(a)
    order_b = [int(round(float(v) ** 0.5)) for _, yb in b for v in yb.numpy()]
    assert order_a == order_b and sorted(order_a) == list(range(11))


def test_generator_may_be_an_object_wrapping_a_numpy_generator():
    class Wrapper:  # the shape a chainrule Generator takes: a NumPy Generator inside
        def __init__(self, seed):
            self._rng = np.random.default_rng(seed)

    loader = crdata.DataLoader(crdata.TensorDataset(X, Y), batch_size=11, shuffle=True,
                               generator=Wrapper(4))
    (_, yb), = list(loader)
    np.testing.assert_array_equal(yb.numpy(), np.random.default_rng(4).permutation(11))
    parts = crdata.random_split(Squares(10), [0.5, 0.5], generator=Wrapper(4))
    assert parts[0].indices + parts[1].indices == np.random.default_rng(4).permutation(10).tolist()


def test_random_split_gives_lists_of_indices_as_torch():
    parts_ours = crdata.random_split(range(10), [0.3, 0.7], generator=np.random.default_rng(0))
    parts_theirs = tdata.random_split(range(10), [0.3, 0.7],
                                      generator=torch.Generator().manual_seed(0))
    for ours, theirs in zip(parts_ours, parts_theirs, strict=True):
        assert type(ours.indices) is type(theirs.indices) is list
        assert len(ours) == len(theirs)
    assert sorted(parts_ours[0].indices + parts_ours[1].indices) == list(range(10))


# ----- arguments: accepted as PyTorch, refused by name ------------------------------------------
def test_workers_and_pin_memory_run_in_process_with_the_same_batches():
    plain = list(crdata.DataLoader(Squares(9), batch_size=4))
    for kwargs in ({"num_workers": 3}, {"pin_memory": True},
                   {"num_workers": 2, "prefetch_factor": 4, "persistent_workers": True,
                    "timeout": 5.0, "in_order": False}):
        loader = crdata.DataLoader(Squares(9), batch_size=4, **kwargs)
        for a, b in zip(loader, plain, strict=True):
            assert_same(a, [torch.from_numpy(t.numpy()) for t in b])
    assert crdata.get_worker_info() is None


@pytest.mark.parametrize("kwargs", [
    {"sampler": ORDER, "shuffle": True},
    {"batch_sampler": [[0]], "batch_size": 2},
    {"batch_sampler": [[0]], "shuffle": True},
    {"batch_sampler": [[0]], "drop_last": True},
    {"batch_size": None, "drop_last": True},
    {"num_workers": -1},
    {"timeout": -1},
    {"prefetch_factor": 2},
    {"persistent_workers": True},
])
def test_argument_conflicts_are_refused_where_torch_refuses_them(kwargs):
    with pytest.raises(ValueError, match="DataLoader"):
        crdata.DataLoader(Squares(5), **kwargs)
    with pytest.raises(ValueError):
        tdata.DataLoader(Squares(5), **kwargs)


def test_unsupported_arguments_are_refused_by_name():
    with pytest.raises(ValueError, match="worker_init_fn is not supported: chainrule runs "
                                         "num_workers=2 in the main process"):
        crdata.DataLoader(Squares(5), num_workers=2, worker_init_fn=lambda worker_id: None)
    with pytest.raises(ValueError, match="multiprocessing_context='spawn' is not supported"):
        crdata.DataLoader(Squares(5), multiprocessing_context="spawn")
    with pytest.raises(ValueError, match="pin_memory_device='cuda' is not supported"):
        crdata.DataLoader(Squares(5), pin_memory=True, pin_memory_device="cuda")
    with pytest.raises(TypeError, match="got an unexpected keyword argument 'sampler_fn'"):
        crdata.DataLoader(Squares(5), sampler_fn=None)
    with pytest.raises(ValueError, match="an IterableDataset is read in its own order, so shuffle"):
        crdata.DataLoader(CrStream(3), shuffle=True)
    with pytest.raises(TypeError, match="'collate_fn' parameter of DataLoader must be callable"):
        crdata.DataLoader(Squares(5), collate_fn=3)
    with pytest.raises(TypeError, match="'sampler' parameter of DataLoader must be an iterable"):
        crdata.DataLoader(Squares(5), sampler=3)
    # worker_init_fn with num_workers=0 is accepted and never called, as in PyTorch
    crdata.DataLoader(Squares(5), worker_init_fn=lambda worker_id: 1 / 0)


def test_sampler_argument_checks():
    with pytest.raises(ValueError, match="'batch_size' parameter of BatchSampler must be an int"):
        crdata.BatchSampler(range(3), 0, False)
    with pytest.raises(TypeError, match="'drop_last' parameter of BatchSampler must be a bool"):
        crdata.BatchSampler(range(3), 2, "no")
    with pytest.raises(ValueError, match="'num_samples' parameter of RandomSampler"):
        crdata.RandomSampler(range(3), num_samples=0)
    with pytest.raises(TypeError, match="'generator' parameter of RandomSampler"):
        crdata.RandomSampler(range(3), generator=5)


# ----- torch.utils.data's path --------------------------------------------------------------------
def test_chainrule_utils_data_is_chainrule_data():
    import chainrule.utils.data as utils_data
    from chainrule.utils.data import (  # noqa: F401  (the import itself is the test)
        ConcatDataset, DataLoader, Dataset, Subset, TensorDataset, random_split,
    )

    assert utils_data.DataLoader is crdata.DataLoader and DataLoader is crdata.DataLoader
    assert cr.utils.data is utils_data
    for name in ("Dataset", "TensorDataset", "DataLoader", "Subset", "ConcatDataset",
                 "random_split", "default_collate", "RandomSampler", "BatchSampler"):
        assert hasattr(tdata, name) and getattr(utils_data, name) is getattr(crdata, name)


# ----- a PyTorch-style program, run twice with only its imports switched -------------------------
PROGRAM = '''
class Blobs(Dataset):
    def __init__(self, n):
        rng = np.random.default_rng(0)
        self.x = rng.normal(size=(n, 4)).astype(np.float32)
        self.y = (self.x[:, 0] + self.x[:, 1] > 0).astype(np.int64)

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i], self.y[i]


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(4, 8), nn.Linear(8, 2)])
        self.act = nn.ReLU()

    def forward(self, x):
        return self.layers[1](self.act(self.layers[0](x)))


model = Net()
model.load_state_dict({k: torch.tensor(v) for k, v in init.items()})
train_set, val_set = Subset(Blobs(48), range(40)), Subset(Blobs(48), range(40, 48))
loader = DataLoader(train_set, batch_size=8, sampler=list(range(39, -1, -1)), num_workers=2)
val_loader = DataLoader(val_set, batch_size=4)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
loss_fn = nn.CrossEntropyLoss()
losses = []
for epoch in range(3):
    model.train()
    for xb, yb in loader:
        optimizer.zero_grad()
        loss = loss_fn(model(xb), yb)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    model.eval()
    with torch.no_grad():
        correct = sum(int((model(xb).argmax(1) == yb).sum()) for xb, yb in val_loader)
    losses.append(correct)
'''

HEADERS = {
    "torch": "import torch\nfrom torch import nn\n"
             "from torch.utils.data import DataLoader, Dataset, Subset\n",
    "chainrule": "import chainrule as torch\nfrom chainrule import nn\n"
                 "from chainrule.utils.data import DataLoader, Dataset, Subset\n",
}


def test_a_pytorch_style_program_gives_the_same_losses_with_its_imports_switched():
    rng = np.random.default_rng(1)
    init = {"layers.0.weight": rng.uniform(-0.5, 0.5, (8, 4)).astype(np.float32),
            "layers.0.bias": rng.uniform(-0.5, 0.5, 8).astype(np.float32),
            "layers.1.weight": rng.uniform(-0.5, 0.5, (2, 8)).astype(np.float32),
            "layers.1.bias": rng.uniform(-0.5, 0.5, 2).astype(np.float32)}
    results = {}
    for lib, header in HEADERS.items():
        namespace = {"np": np, "init": init}
        exec(compile(header + PROGRAM, f"<program under {lib}>", "exec"), namespace)
        results[lib] = namespace["losses"]
    assert len(results["chainrule"]) == len(results["torch"]) == 3 * 6
    np.testing.assert_allclose(results["chainrule"], results["torch"], rtol=1e-5)


def test_a_dataset_with_getitems_fetches_whole_batches_as_torch():
    class Batched:
        def __init__(self):
            self.calls = []

        def __len__(self):
            return 7

        def __getitem__(self, i):
            raise AssertionError("__getitems__ should be used")

        def __getitems__(self, indices):
            self.calls.append(list(indices))
            return [(float(i), i) for i in indices]

    ours_set, theirs_set = Batched(), Batched()
    assert_same_batches(*loaders(ours_set, theirs_set, batch_size=3, sampler=[6, 0, 5, 1, 4, 2, 3]))
    assert ours_set.calls == theirs_set.calls == [[6, 0, 5], [1, 4, 2], [3]]
