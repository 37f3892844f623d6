"""Factories and random sampling, against PyTorch: values, dtypes and shapes where PyTorch defines
them; for random ones shapes, dtypes, ranges, reproducibility and (loosely) statistics, since the
streams are NumPy's, not PyTorch's."""

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")


def numpy_dtype(torch_dtype):
    return torch.empty(0, dtype=torch_dtype).numpy().dtype


def same(ours, theirs, rtol=1e-6):
    assert ours.shape == tuple(theirs.shape)
    assert ours.dtype == numpy_dtype(theirs.dtype)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=rtol, atol=1e-7)


# ----- deterministic factories ------------------------------------------------------------------
DETERMINISTIC = {
    "zeros ints": lambda lib: lib.zeros(2, 3),
    "zeros tuple": lambda lib: lib.zeros((2, 3), dtype=lib.int64),
    "ones": lambda lib: lib.ones(4, dtype=lib.float64),
    "empty shape": lambda lib: lib.zeros_like(lib.empty(3, 2, dtype=lib.float64)),
    "full float": lambda lib: lib.full((2, 2), 1.5),
    "full int": lambda lib: lib.full((2,), 7),
    "full bool": lambda lib: lib.full((2,), True),
    "full dtype": lambda lib: lib.full((3,), 2, dtype=lib.float64),
    "eye n": lambda lib: lib.eye(3),
    "eye n m": lambda lib: lib.eye(2, 4),
    "eye int": lambda lib: lib.eye(3, dtype=lib.int64),
    "arange n": lambda lib: lib.arange(5),
    "arange start end": lambda lib: lib.arange(2, 9, 3),
    "arange float": lambda lib: lib.arange(0, 1, 0.1),
    "arange negative step": lambda lib: lib.arange(5, -1, -1.5),
    "arange float dtype": lambda lib: lib.arange(4, dtype=lib.float32),
    "arange empty": lambda lib: lib.arange(3, 3),
    "linspace": lambda lib: lib.linspace(-1, 3.3, 7),
    "linspace one": lambda lib: lib.linspace(2, 5, 1),
    "linspace zero": lambda lib: lib.linspace(2, 5, 0),
    "linspace int dtype": lambda lib: lib.linspace(0, 1, 5, dtype=lib.int64),
    "linspace float64": lambda lib: lib.linspace(0, 1, 11, dtype=lib.float64),
    "logspace": lambda lib: lib.logspace(-2, 2, 5),
    "logspace base 2": lambda lib: lib.logspace(0, 4, 5, base=2),
    "zeros_like": lambda lib: lib.zeros_like(lib.ones(2, 3, dtype=lib.int32)),
    "ones_like dtype": lambda lib: lib.ones_like(lib.ones(2), dtype=lib.float64),
    "full_like": lambda lib: lib.full_like(lib.ones(2, 2), 3.5),
    "full_like int truncates": lambda lib: lib.full_like(lib.ones(2, dtype=lib.int64), 2.7),
    "empty_like shape": lambda lib: lib.zeros_like(lib.empty_like(lib.ones(3, dtype=lib.int32))),
    "tensor device": lambda lib: lib.tensor([1.0, 2.0], device="cpu"),
    "new_zeros": lambda lib: lib.ones(2, dtype=lib.int32).new_zeros(3, 2),
    "new_ones": lambda lib: lib.ones(2, dtype=lib.float64).new_ones((2,)),
    "new_full": lambda lib: lib.ones(2).new_full((2, 2), 7),
    "new_full dtype": lambda lib: lib.ones(2).new_full((2,), 7, dtype=lib.int64),
    "new_tensor": lambda lib: lib.ones(2).new_tensor([1, 2, 3]),
    "new_tensor int": lambda lib: lib.ones(2, dtype=lib.int64).new_tensor([1.7, -2.2]),
    "new_empty shape": lambda lib: lib.zeros_like(lib.ones(1).new_empty(2, 3)),
    "as_tensor list": lambda lib: lib.as_tensor([1.5, 2.5]),
    "as_tensor dtype": lambda lib: lib.as_tensor([1, 2], dtype=lib.float64),
}


@pytest.mark.parametrize("name", list(DETERMINISTIC))
def test_factory_matches_pytorch(name):
    make = DETERMINISTIC[name]
    same(make(cr), make(torch))


@pytest.mark.parametrize("name", ["zeros", "ones", "empty", "rand", "randn"])
def test_factories_make_leaves_that_require_grad_when_asked(name):
    x = getattr(cr, name)(2, 3, requires_grad=True)
    assert x.requires_grad and x.is_leaf
    (x * 2).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.full((2, 3), 2.0))
    for make in (lambda: cr.linspace(0, 1, 3, requires_grad=True), lambda: cr.eye(2, requires_grad=True),
                 lambda: cr.full((2,), 1.0, requires_grad=True)):
        assert make().requires_grad


def test_from_numpy_and_as_tensor_share_memory():
    array = np.arange(6, dtype=np.float64).reshape(2, 3)
    t = cr.from_numpy(array)
    assert t.dtype == np.float64 and t.numpy() is array  # kept as it is, as PyTorch's from_numpy
    array[0, 0] = 100.0
    assert t[0, 0].item() == 100.0
    shared = cr.as_tensor(array)
    shared.numpy()[1, 1] = -1.0
    assert array[1, 1] == -1.0
    assert not np.shares_memory(cr.as_tensor(array, dtype=cr.float32).numpy(), array)
    x = cr.ones(2)
    assert cr.as_tensor(x) is x
    assert cr.as_tensor(x, dtype=cr.float64).dtype == np.float64
    with pytest.raises(TypeError, match="from_numpy: expected a NumPy array. Got list instead."):
        cr.from_numpy([1.0])
    with pytest.raises(TypeError, match="from_numpy: the array must hold numbers"):
        cr.from_numpy(np.array(["a"]))


def test_factory_argument_errors():
    with pytest.raises(ValueError, match="zeros: sizes must be non-negative ints. Got \\(2, -1\\)"):
        cr.zeros(2, -1)
    with pytest.raises(ValueError, match="arange: step must be nonzero"):
        cr.arange(0, 5, 0)
    with pytest.raises(ValueError, match="arange: end 0 cannot be reached from start 5 by step 1"):
        cr.arange(5, 0)
    with pytest.raises(ValueError, match="arange: end must be finite"):
        cr.arange(0, float("inf"))
    with pytest.raises(ValueError, match="linspace: steps must be at least 0. Got -1"):
        cr.linspace(0, 1, -1)
    with pytest.raises(TypeError, match="linspace: steps must be an int. Got 2.5"):
        cr.linspace(0, 1, 2.5)
    with pytest.raises(TypeError, match="eye: n must be an int"):
        cr.eye(2.0)
    with pytest.raises(TypeError, match="full: fill_value must be a number. Got str"):
        cr.full((2,), "x")
    with pytest.raises(TypeError, match="empty_like: input must be a Tensor"):
        cr.empty_like([1, 2])


# ----- random factories: shapes and dtypes as PyTorch's -----------------------------------------
RANDOM = {
    "rand": lambda lib, **g: lib.rand(2, 3, **g),
    "rand tuple float64": lambda lib, **g: lib.rand((4,), dtype=lib.float64, **g),
    "randn": lambda lib, **g: lib.randn(3, 1, 2, **g),
    "randint high": lambda lib, **g: lib.randint(10, (3, 4), **g),
    "randint low high": lambda lib, **g: lib.randint(-3, 3, (50,), **g),
    "randint keywords": lambda lib, **g: lib.randint(low=2, high=5, size=(6,), **g),
    "randint float dtype": lambda lib, **g: lib.randint(0, 4, (5,), dtype=lib.float32, **g),
    "randperm": lambda lib, **g: lib.randperm(7, **g),
    "randperm float": lambda lib, **g: lib.randperm(4, dtype=lib.float32, **g),
    "normal numbers": lambda lib, **g: lib.normal(2.0, 3.0, (4, 5), **g),
    "normal tensor mean": lambda lib, **g: lib.normal(lib.zeros(3, 2), 1.0, **g),
    "normal tensor std": lambda lib, **g: lib.normal(0.0, lib.ones(4, dtype=lib.float64), **g),
    "normal both broadcast": lambda lib, **g: lib.normal(lib.zeros(2, 1), lib.ones(3), **g),
    "bernoulli": lambda lib, **g: lib.bernoulli(lib.full((3, 4), 0.5), **g),
    "bernoulli float64": lambda lib, **g: lib.bernoulli(lib.linspace(0, 1, 9, dtype=lib.float64), **g),
    "bernoulli p": lambda lib, **g: lib.bernoulli(lib.zeros(4), 0.3, **g),
    "bernoulli method": lambda lib, **g: lib.full((6,), 0.2).bernoulli(**g),
    "multinomial 1-D": lambda lib, **g: lib.multinomial(lib.tensor([0.2, 0.3, 0.5]), 2, **g),
    "multinomial 2-D": lambda lib, **g: lib.multinomial(lib.tensor([[1.0, 2.0, 0.0], [0.0, 0.0, 4.0]]), 5,
                                                         replacement=True, **g),
    "multinomial method": lambda lib, **g: lib.ones(2, 6).multinomial(3, **g),
    "rand_like": lambda lib, **g: lib.rand_like(lib.ones(2, 2, dtype=lib.float64), **g),
    "randn_like": lambda lib, **g: lib.randn_like(lib.ones(3), **g),
    "randint_like": lambda lib, **g: lib.randint_like(lib.ones(3), 5, **g),
    "randint_like low high": lambda lib, **g: lib.randint_like(lib.ones(3, dtype=lib.int32), 2, 5, **g),
}


@pytest.mark.parametrize("name", list(RANDOM))
def test_random_factory_shapes_and_dtypes_match_pytorch(name):
    draw = RANDOM[name]
    ours, theirs = draw(cr), draw(torch)
    assert ours.shape == tuple(theirs.shape)
    assert ours.dtype == numpy_dtype(theirs.dtype)
    ours_g = draw(cr, generator=cr.Generator().manual_seed(1))
    theirs_g = draw(torch, generator=torch.Generator().manual_seed(1))
    assert ours_g.shape == tuple(theirs_g.shape) and ours_g.dtype == numpy_dtype(theirs_g.dtype)


@pytest.mark.parametrize("name", list(RANDOM))
def test_random_factories_repeat_with_a_seed_and_with_a_generator(name):
    draw = RANDOM[name]
    cr.manual_seed(5)
    first = draw(cr).numpy().copy()
    cr.manual_seed(5)
    np.testing.assert_array_equal(draw(cr).numpy(), first)
    a = draw(cr, generator=cr.Generator().manual_seed(9)).numpy()
    cr.rand(10)  # the global stream moving does not move a Generator's
    b = draw(cr, generator=cr.Generator().manual_seed(9)).numpy()
    np.testing.assert_array_equal(a, b)


def test_a_generator_keeps_its_own_stream_apart_from_the_global_one():
    g = cr.Generator().manual_seed(3)
    cr.manual_seed(0)
    expected_global = cr.rand(4).numpy().copy()
    cr.manual_seed(0)
    cr.rand(100, generator=g)
    np.testing.assert_array_equal(cr.rand(4).numpy(), expected_global)


def test_manual_seed_draws_what_it_drew_before_generators_existed():
    # The global stream is NumPy's default_rng(seed), drawn as before: seeded runs keep their numbers.
    cr.manual_seed(3)
    np.testing.assert_array_equal(cr.randn(2, 3).numpy(),
                                  np.random.default_rng(3).standard_normal((2, 3)).astype(np.float32))
    cr.manual_seed(3)
    assert cr.random.default_generator().bit_generator.state == np.random.default_rng(3).bit_generator.state


def test_generator_api():
    g = cr.Generator()
    assert g.initial_seed() == torch.Generator().initial_seed() == 67280421310721
    assert g.manual_seed(7) is g and g.initial_seed() == 7
    state = g.get_state()
    first = cr.rand(5, generator=g).numpy().copy()
    assert g.set_state(state) is g
    np.testing.assert_array_equal(cr.rand(5, generator=g).numpy(), first)
    s = g.seed()
    assert isinstance(s, int) and s >= 0 and g.initial_seed() == s
    assert isinstance(cr.manual_seed(4), cr.Generator) and cr.initial_seed() == 4
    s = cr.random.seed()  # (torch.seed(); chainrule.seed is the seed experiment's module)
    assert cr.initial_seed() == s
    with pytest.raises(ValueError, match="Generator.manual_seed: the seed must be a non-negative int"):
        g.manual_seed(-1)
    with pytest.raises(ValueError, match="Generator.set_state: expected a dict"):
        g.set_state([1, 2])
    with pytest.raises(TypeError, match="rand: generator must be a chainrule.Generator. Got int instead."):
        cr.rand(2, generator=3)


def test_random_ranges():
    x = cr.randint(-3, 4, (2000,))
    assert x.min().item() == -3 and x.max().item() == 3
    assert sorted(cr.randperm(50).tolist()) == list(range(50))
    r = cr.rand(5000).numpy()
    assert r.min() >= 0 and r.max() < 1
    b = cr.bernoulli(cr.rand(1000)).numpy()
    assert set(np.unique(b)) <= {0.0, 1.0}
    assert set(cr.bernoulli(cr.zeros(50)).tolist()) == {0.0}
    assert set(cr.bernoulli(cr.ones(50)).tolist()) == {1.0}
    drawn = cr.multinomial(cr.tensor([[1.0, 1.0, 1.0, 0.0]] * 20), 3)
    for row in drawn.tolist():  # without replacement: three distinct categories, never the 0 one
        assert sorted(row) == [0, 1, 2]


def test_random_statistics_loosely():
    n = 20000
    assert abs(cr.rand(n).mean().item() - 0.5) < 0.02
    normal = cr.randn(n)
    assert abs(normal.mean().item()) < 0.03 and abs(normal.std().item() - 1) < 0.03
    shifted = cr.normal(2.0, 3.0, (n,))
    assert abs(shifted.mean().item() - 2) < 0.1 and abs(shifted.std().item() - 3) < 0.1
    per_element = cr.normal(cr.tensor([0.0, 100.0]).expand(n, 2), cr.tensor([1.0, 0.1]))
    means, stds = per_element.mean(0).tolist(), per_element.std(0).tolist()
    assert abs(means[0]) < 0.05 and abs(means[1] - 100) < 0.01 and abs(stds[1] - 0.1) < 0.01
    assert abs(cr.bernoulli(cr.full((n,), 0.3)).mean().item() - 0.3) < 0.02
    counts = np.bincount(cr.multinomial(cr.tensor([1.0, 2.0, 7.0]), n, replacement=True).numpy(), minlength=3)
    np.testing.assert_allclose(counts / n, [0.1, 0.2, 0.7], atol=0.02)
    counts = np.bincount(cr.randint(0, 4, (n,)).numpy(), minlength=4)
    np.testing.assert_allclose(counts / n, [0.25] * 4, atol=0.02)


def test_random_argument_errors():
    with pytest.raises(ValueError, match="randint: low must be less than high. Got low=5, high=5"):
        cr.randint(5, 5, (2,))
    with pytest.raises(TypeError, match="randint: expected randint\\(high, size\\) or"):
        cr.randint(5)
    with pytest.raises(ValueError, match="normal: std must be >= 0"):
        cr.normal(0.0, -1.0, (2,))
    with pytest.raises(TypeError, match="normal: with numbers for mean and std, give the size too"):
        cr.normal(0.0, 1.0)
    with pytest.raises(ValueError, match="bernoulli: probabilities must be in \\[0, 1\\]"):
        cr.bernoulli(cr.tensor([1.5]))
    with pytest.raises(ValueError, match="multinomial: cannot draw 3 samples without replacement"):
        cr.multinomial(cr.tensor([0.2, 0.8]), 3)
    with pytest.raises(ValueError, match="multinomial: the weights must be finite and non-negative"):
        cr.multinomial(cr.tensor([-0.2, 0.8]), 1)
    with pytest.raises(ValueError, match="multinomial: every row of weights must have a positive sum"):
        cr.multinomial(cr.tensor([0.0, 0.0]), 1)
    with pytest.raises(TypeError, match="rand: dtype must be a floating-point dtype. Got int64"):
        cr.rand(2, dtype=cr.int64)
    with pytest.raises(TypeError, match="randperm: n must be an int"):
        cr.randperm(2.0)


def test_in_place_random_fills():
    g = cr.Generator().manual_seed(2)
    w = cr.zeros(2000, dtype=cr.float64)
    assert w.uniform_(-0.1, 0.1, generator=g) is w and w.dtype == np.float64
    assert w.min().item() >= -0.1 and w.max().item() < 0.1 and abs(w.mean().item()) < 0.01
    first = w.numpy().copy()
    w.uniform_(-0.1, 0.1, generator=cr.Generator().manual_seed(2))
    np.testing.assert_array_equal(w.numpy(), first)
    w.normal_(3.0, 0.5)
    assert abs(w.mean().item() - 3) < 0.05 and abs(w.std().item() - 0.5) < 0.05
    version = w._version
    w.bernoulli_(0.25)
    assert w._version == version + 1  # the fill is stamped as an in-place change
    assert set(np.unique(w.numpy())) <= {0.0, 1.0} and abs(w.mean().item() - 0.25) < 0.04
    w.bernoulli_(cr.cat([cr.zeros(1000), cr.ones(1000)]))
    assert w[:1000].sum().item() == 0 and w[1000:].sum().item() == 1000
    p = cr.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="uniform_: this is a leaf tensor that requires grad"):
        p.uniform_()
    with cr.no_grad():
        p.normal_()  # initialising under no_grad, as PyTorch allows
    with pytest.raises(ValueError, match="normal_: std must be >= 0"):
        w.normal_(0.0, -1.0)
    t = torch.zeros(3)  # the same forms exist in PyTorch
    t.uniform_(-0.1, 0.1), t.normal_(0.0, 1.0), t.bernoulli_(0.5)


def test_dataloader_and_random_split_draw_from_a_chainrule_generator():
    from chainrule.utils.data import DataLoader, TensorDataset, random_split

    dataset = TensorDataset(cr.arange(10.0), cr.arange(10))

    def order(seed):
        loader = DataLoader(dataset, batch_size=4, shuffle=True, generator=cr.Generator().manual_seed(seed))
        return [i for _, labels in loader for i in labels.tolist()]

    assert order(0) == order(0) and sorted(order(0)) == list(range(10))
    assert order(0) != order(1)
    parts = random_split(dataset, [7, 3], generator=cr.Generator().manual_seed(1))
    again = random_split(dataset, [7, 3], generator=cr.Generator().manual_seed(1))
    assert [len(p) for p in parts] == [7, 3] and list(parts[0].indices) == list(again[0].indices)
