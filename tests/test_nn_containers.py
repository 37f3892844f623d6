"""nn containers (ModuleList, ModuleDict, ParameterList, ParameterDict, Sequential) and the Module
surface (apply, named_modules, buffers, get_submodule, repr, ...) against PyTorch: the same
structures built in both give the same names, state_dict keys, visiting orders and repr."""

from collections import OrderedDict

import numpy as np
import pytest

import chainrule
from chainrule import nn

torch = pytest.importorskip("torch")


def lin(lib, i, o, bias=True):
    return lib.nn.Linear(i, o, bias=bias)


def param(lib, *shape):
    return lib.nn.Parameter(lib.zeros(*shape))


def same_repr(ours, theirs):
    # ParameterList/Dict name the dtype as its library does: chainrule.float32 / torch.float32.
    assert repr(ours) == repr(theirs).replace("torch.", "chainrule.")


def keys(model):
    return list(model.state_dict().keys())


# ----- structures built alike in both libraries ------------------------------------------------
def build_tower(lib):
    """A model that uses every container, nested."""

    class Tower(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = lib.nn.ModuleList([lin(lib, 4, 4) for _ in range(3)])
            self.blocks.append(lib.nn.ReLU())
            self.heads = lib.nn.ModuleDict({"cls": lin(lib, 4, 3), "reg": lin(lib, 4, 1, False)})
            self.gains = lib.nn.ParameterList([param(lib, 4), param(lib, 2, 4)])
            self.extra = lib.nn.ParameterDict({"scale": param(lib, 1), "bias": param(lib, 3)})
            self.stem = lib.nn.Sequential(OrderedDict(
                [("proj", lin(lib, 2, 4)), ("act", lib.nn.Tanh())]))
            self.register_buffer("steps", lib.zeros(1))
            self.register_buffer("cache", lib.zeros(2), persistent=False)

        def forward(self, x):
            x = self.stem(x)
            for block in self.blocks:
                x = block(x)
            return self.heads["cls"](x) * self.extra["scale"]

    return Tower()


def build_list_of_lists(lib):
    return lib.nn.ModuleList([
        lib.nn.ModuleList([lin(lib, 2, 2), lib.nn.Sigmoid()]),
        lib.nn.ModuleDict(OrderedDict([("b", lin(lib, 2, 3)), ("a", lib.nn.Identity())])),
        lib.nn.Sequential(lin(lib, 3, 3), lin(lib, 3, 3)),
    ])


def build_parameter_containers(lib):
    outer = lib.nn.Module()
    outer.plist = lib.nn.ParameterList([param(lib, 3), lib.zeros(2, 2)])  # a Tensor becomes one
    outer.pdict = lib.nn.ParameterDict({"zeta": param(lib, 1), "alpha": lib.zeros(2)})
    outer.pdict_ordered = lib.nn.ParameterDict(OrderedDict(
        [("zeta", param(lib, 1)), ("alpha", param(lib, 2))]))
    outer.pdict_pairs = lib.nn.ParameterDict([("y", param(lib, 1)), ("x", param(lib, 1))])
    return outer


def build_module_dict_plain(lib):
    # a plain dict keeps its order in ModuleDict (ParameterDict sorts it, as above)
    return lib.nn.ModuleDict({"zeta": lin(lib, 1, 1), "alpha": lib.nn.ReLU()})


def build_repeated(lib):
    return lib.nn.ModuleList(
        [lin(lib, 3, 3) for _ in range(4)]
        + [lib.nn.ReLU(), lib.nn.ReLU(), lin(lib, 3, 1), lib.nn.Sequential(lib.nn.ReLU())]
    )


BUILDERS = [build_tower, build_list_of_lists, build_parameter_containers,
            build_module_dict_plain, build_repeated]


@pytest.mark.parametrize("build", BUILDERS, ids=lambda b: b.__name__)
def test_state_dict_keys_equal_torch(build):
    assert keys(build(chainrule)) == keys(build(torch))


@pytest.mark.parametrize("build", BUILDERS, ids=lambda b: b.__name__)
def test_named_parameters_buffers_and_modules_equal_torch(build):
    ours, theirs = build(chainrule), build(torch)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()]
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    assert [n for n, _ in ours.named_children()] == [n for n, _ in theirs.named_children()]
    assert [type(m).__name__ for m in ours.modules()] == [type(m).__name__ for m in theirs.modules()]
    assert [n for n, _ in ours.named_parameters(prefix="model", recurse=False)] == \
        [n for n, _ in theirs.named_parameters(prefix="model", recurse=False)]


@pytest.mark.parametrize("build", BUILDERS, ids=lambda b: b.__name__)
def test_repr_equals_torch(build):
    same_repr(build(chainrule), build(torch))


def test_state_dict_from_torch_loads_into_the_same_structure():
    ours, theirs = build_tower(chainrule), build_tower(torch)
    rng = np.random.default_rng(3)  # seeded: unseeded weights made the float32 tolerance flaky
    with torch.no_grad():
        for p in theirs.parameters():
            p.copy_(torch.from_numpy(rng.uniform(-1, 1, tuple(p.shape)).astype(np.float32)))
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    for (name, a), (_, b) in zip(ours.named_parameters(), theirs.named_parameters(), strict=True):
        np.testing.assert_array_equal(a.numpy(), b.detach().numpy(), err_msg=name)
    x = np.random.default_rng(0).normal(size=(5, 2)).astype(np.float32)
    np.testing.assert_allclose(ours(chainrule.tensor(x)).numpy(),
                               theirs(torch.from_numpy(x)).detach().numpy(), rtol=1e-5, atol=1e-6)


# ----- ModuleList ------------------------------------------------------------------------------
def test_module_list_operations_equal_torch():
    def run(lib):
        ml = lib.nn.ModuleList([lin(lib, 1, 1), lin(lib, 2, 2)])
        ml.append(lin(lib, 3, 3))
        ml.extend([lin(lib, 4, 4), lin(lib, 5, 5)])
        ml += [lin(lib, 6, 6)]
        ml.insert(1, lin(lib, 7, 7))
        ml.insert(len(ml), lin(lib, 8, 8))
        del ml[0]
        del ml[2:4]
        popped = ml.pop(1)
        ml[0] = lin(lib, 9, 9)
        combined = ml + lib.nn.ModuleList([lin(lib, 10, 10)])
        return ml, popped, combined, ml[1:3], ml[-1]

    for a, b in zip(run(chainrule), run(torch), strict=True):
        same_repr(a, b)
        assert keys(a) == keys(b)
    ml, _, _, sliced, _ = run(chainrule)
    assert isinstance(sliced, nn.ModuleList) and len(ml) == 4
    assert [m.in_features for m in ml] == [9, 5, 6, 8]
    assert "0" not in dir(ml) and "append" in dir(ml)


def test_module_list_holds_the_same_objects_and_an_optimizer_finds_their_parameters():
    a, b = nn.Linear(2, 2), nn.Linear(2, 1)
    ml = nn.ModuleList([a, b])
    assert ml[0] is a and ml[-1] is b and list(ml) == [a, b]
    assert list(ml.parameters()) == [a.weight, a.bias, b.weight, b.bias]
    sliced = ml[::-1]
    assert list(sliced) == [b, a] and keys(sliced) == ["0.weight", "0.bias", "1.weight", "1.bias"]


def test_module_list_errors():
    ml = nn.ModuleList([nn.ReLU()])
    with pytest.raises(IndexError, match="ModuleList index 3 is out of range for 1 items"):
        ml[3]
    with pytest.raises(TypeError, match="ModuleList indices must be ints or slices. Got str"):
        ml["0"]
    with pytest.raises(TypeError, match="add_module: '1' must be a Module or None. Got int"):
        ml.append(3)
    with pytest.raises(TypeError, match="ModuleList.extend: expected an iterable. Got Linear"):
        ml.extend(nn.Linear(1, 1))
    with pytest.raises(NotImplementedError, match="ModuleList has no forward"):
        ml(chainrule.zeros(1))


# ----- ModuleDict ------------------------------------------------------------------------------
def test_module_dict_operations_equal_torch():
    def run(lib):
        md = lib.nn.ModuleDict({"b": lin(lib, 1, 1)})
        md["a"] = lin(lib, 2, 2)
        md.update([("c", lin(lib, 3, 3)), ("b", lin(lib, 4, 4))])
        md.update(OrderedDict([("e", lin(lib, 5, 5))]))
        popped = md.pop("c")
        del md["e"]
        return md, popped, list(md.keys()), [v.in_features for v in md.values()], \
            [k for k, _ in md.items()], list(md), "a" in md, "z" in md, len(md)

    ours, theirs = run(chainrule), run(torch)
    same_repr(ours[0], theirs[0])
    same_repr(ours[1], theirs[1])
    assert keys(ours[0]) == keys(theirs[0])
    assert ours[2:] == theirs[2:]
    ours[0].clear()
    assert len(ours[0]) == 0 and keys(ours[0]) == []


def test_module_dict_errors():
    md = nn.ModuleDict()
    with pytest.raises(KeyError, match="missing"):
        md["missing"]
    with pytest.raises(ValueError, match=r"ModuleDict.update: element 0 must be a \(key, value\) "
                                         "pair. Got 3 items"):
        md.update([("a", nn.ReLU(), 1)])
    with pytest.raises(TypeError, match="ModuleDict.update: expected an iterable. Got int"):
        md.update(3)
    with pytest.raises(ValueError, match="contain no '.'"):
        md["a.b"] = nn.ReLU()


# ----- ParameterList and ParameterDict ---------------------------------------------------------
def test_parameter_list_operations_equal_torch():
    def run(lib):
        pl = lib.nn.ParameterList([param(lib, 1)])
        pl.append(param(lib, 2, 3))
        pl.extend([lib.zeros(4), param(lib, 5)])
        pl += [param(lib, 6)]
        pl[0] = lib.ones(7)
        return pl, pl[1:3], len(pl), [tuple(p.shape) for p in pl], pl[-1].requires_grad

    ours, theirs = run(chainrule), run(torch)
    same_repr(ours[0], theirs[0])
    same_repr(ours[1], theirs[1])
    assert keys(ours[0]) == keys(theirs[0])
    assert ours[2:] == theirs[2:]
    assert all(isinstance(p, nn.Parameter) for p in ours[0])


def test_parameter_list_makes_a_tensor_a_parameter_sharing_its_memory():
    t = chainrule.zeros(3)
    pl = nn.ParameterList([t])
    assert isinstance(pl[0], nn.Parameter) and pl[0].requires_grad
    assert pl[0].numpy() is t.numpy()
    assert list(nn.Module.parameters(pl)) == [pl[0]]


def test_parameter_list_holds_other_objects_unregistered_as_torch():
    def run(lib):
        pl = lib.nn.ParameterList([param(lib, 2), "note", 3])
        return pl, keys(pl), len(pl), pl[1], pl[2]

    ours, theirs = run(chainrule), run(torch)
    same_repr(ours[0], theirs[0])
    assert ours[1:] == theirs[1:]


def test_parameter_dict_operations_equal_torch():
    def run(lib):
        pd = lib.nn.ParameterDict({"w": param(lib, 2), "a": param(lib, 1)})
        pd["m"] = lib.zeros(3)
        pd.update([("k", param(lib, 4)), ("a", param(lib, 5))])
        popped = pd.pop("w")
        got = pd.setdefault("s", param(lib, 6))
        merged = pd | lib.nn.ParameterDict(OrderedDict([("z", param(lib, 7))]))
        last = pd.popitem()
        return (pd, merged, pd.copy(), list(pd.keys()), list(pd), [k for k, _ in pd.items()],
                [tuple(v.shape) for v in pd.values()], tuple(popped.shape), tuple(got.shape),
                last[0], "m" in pd, pd.get("nope", 5), list(reversed(pd)), len(pd))

    ours, theirs = run(chainrule), run(torch)
    for a, b in zip(ours[:3], theirs[:3], strict=True):
        same_repr(a, b)
        assert keys(a) == keys(b)
    assert ours[3:] == theirs[3:]
    ours[0].clear()
    assert len(ours[0]) == 0 and keys(ours[0]) == []


def test_parameter_dict_errors():
    pd = nn.ParameterDict()
    with pytest.raises(TypeError, match=r"ParameterDict keys must be strings. Got int \(1\)"):
        pd[1] = nn.Parameter(chainrule.zeros(1))
    with pytest.raises(ValueError, match="the key 'keys' would hide ParameterDict.keys"):
        pd["keys"] = nn.Parameter(chainrule.zeros(1))
    with pytest.raises(KeyError):
        pd["missing"]
    with pytest.raises(KeyError, match="ParameterDict is empty"):
        pd.popitem()


# ----- Sequential ------------------------------------------------------------------------------
def test_sequential_list_operations_equal_torch():
    def run(lib):
        seq = lib.nn.Sequential(lin(lib, 1, 1), lin(lib, 2, 2))
        seq.insert(1, lin(lib, 3, 3))
        seq.insert(-1, lin(lib, 4, 4))
        seq.append(lin(lib, 5, 5))
        popped = seq.pop(0)
        added = seq + lib.nn.Sequential(lib.nn.ReLU())
        seq += lib.nn.Sequential(lib.nn.Tanh())
        doubled = lib.nn.Sequential(lib.nn.ReLU(), lin(lib, 1, 1)) * 2
        del seq[1]
        return seq, popped, added, doubled, seq[1:]

    for a, b in zip(run(chainrule), run(torch), strict=True):
        same_repr(a, b)
        assert keys(a) == keys(b)


def test_sequential_operation_errors():
    seq = nn.Sequential(nn.ReLU())
    with pytest.raises(IndexError, match="Sequential.insert: index 3 is out of range for 1"):
        seq.insert(3, nn.ReLU())
    with pytest.raises(TypeError, match="Sequential \\+ ModuleList: only a Sequential"):
        seq + nn.ModuleList()
    with pytest.raises(ValueError, match=r"Sequential \* 0: multiply by an int >= 1"):
        seq * 0


# ----- the Module surface ---------------------------------------------------------------------
def test_apply_visits_children_first_as_torch():
    def visit_order(lib):
        seen = []
        build_tower(lib).apply(lambda m: seen.append(type(m).__name__))
        return seen

    assert visit_order(chainrule) == visit_order(torch)


def test_apply_for_a_custom_initialisation():
    def init_weights(m):
        if isinstance(m, nn.Linear):
            nn.init.constant_(m.weight, 0.5)

    model = build_tower(chainrule)
    assert model.apply(init_weights) is model
    assert all(np.all(m.weight.numpy() == 0.5) for m in model.modules() if isinstance(m, nn.Linear))


def test_named_modules_with_duplicates_equals_torch():
    def names(lib, **kwargs):
        shared = lin(lib, 2, 2)
        model = lib.nn.Sequential(shared, lib.nn.ReLU(), shared)
        return [n for n, _ in model.named_modules(**kwargs)], \
            [n for n, _ in model.named_parameters(remove_duplicate=False)], keys(model)

    assert names(chainrule) == names(torch)
    assert names(chainrule, remove_duplicate=False) == names(torch, remove_duplicate=False)
    assert names(chainrule, prefix="net") == names(torch, prefix="net")


def test_buffers_persistent_or_not_equal_torch():
    ours, theirs = build_tower(chainrule), build_tower(torch)
    assert "steps" in keys(ours) and "cache" not in keys(ours)
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()] == \
        ["steps", "cache"]


def test_requires_grad_zero_grad_and_train_false():
    model = build_tower(chainrule)
    assert model.requires_grad_(False) is model
    assert not any(p.requires_grad for p in model.parameters())
    model.requires_grad_()
    out = model(chainrule.randn(3, 2))
    out.sum().backward()
    assert model.blocks[0].weight.grad is not None
    model.zero_grad(set_to_none=False)
    assert np.all(model.blocks[0].weight.grad.numpy() == 0)
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())
    assert model.train(False) is model
    assert not any(m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())


def test_get_submodule_parameter_and_buffer_equal_torch():
    ours, theirs = build_tower(chainrule), build_tower(torch)
    for target in ["", "blocks", "blocks.1", "heads.cls", "stem.proj", "stem.act"]:
        assert type(ours.get_submodule(target)).__name__ == \
            type(theirs.get_submodule(target)).__name__
    assert ours.get_submodule("blocks.1") is ours.blocks[1]
    assert ours.get_parameter("heads.cls.weight") is ours.heads["cls"].weight
    assert ours.get_parameter("gains.1") is ours.gains[1]
    assert ours.get_parameter("extra.scale") is ours.extra["scale"]
    assert ours.get_buffer("steps") is ours.steps
    for target in ["heads.cls.weight", "gains.1", "extra.scale"]:
        assert tuple(ours.get_parameter(target).shape) == tuple(theirs.get_parameter(target).shape)


def test_get_submodule_parameter_and_buffer_errors():
    model = build_tower(chainrule)
    with pytest.raises(AttributeError, match=r"get_submodule: ModuleList \(blocks\) has no "
                                             r"submodule '7', so 'blocks.7' names no module"):
        model.get_submodule("blocks.7")
    with pytest.raises(AttributeError, match=r"get_parameter: Linear \(heads.reg\) has no "
                                             r"parameter 'bias'"):
        model.get_parameter("heads.reg.bias")  # a None placeholder is no parameter
    with pytest.raises(AttributeError, match=r"get_buffer: Tower \(the model\) has no buffer "
                                             "'scale'"):
        model.get_buffer("scale")
    with pytest.raises(TypeError, match="get_submodule: target must be a str"):
        model.get_submodule(3)


ACTIVATIONS_AND_LOSSES = [
    ("ReLU", ()), ("LeakyReLU", (0.2,)), ("Sigmoid", ()), ("Tanh", ()), ("Softmax", (1,)),
    ("LogSoftmax", (-1,)), ("GELU", ()), ("ELU", ()), ("SELU", ()), ("Softplus", ()),
    ("SiLU", ()), ("Identity", ()), ("Flatten", ()), ("MSELoss", ()), ("L1Loss", ()),
    ("HuberLoss", ()), ("CrossEntropyLoss", ()), ("NLLLoss", ()), ("BCELoss", ()),
    ("BCEWithLogitsLoss", ()), ("Dropout", ()), ("Dropout", (0.2,)),
]


@pytest.mark.parametrize("name, args", ACTIVATIONS_AND_LOSSES)
def test_layer_repr_equals_torch(name, args):
    assert repr(getattr(nn, name)(*args)) == repr(getattr(torch.nn, name)(*args))


def test_dropout_refuses_inplace_by_name():
    with pytest.raises(ValueError, match="Dropout: inplace=True is not supported"):
        nn.Dropout(0.1, inplace=True)
    assert nn.Dropout(0.1, inplace=False).inplace is False


def test_nested_custom_module_repr_equals_torch():
    def build(lib):
        class Encoder(lib.nn.Module):
            def __init__(self):
                super().__init__()
                self.layers = lib.nn.Sequential(lin(lib, 4, 8), lib.nn.GELU(), lin(lib, 8, 4))
                self.skip = lib.nn.Identity()

        class Model(lib.nn.Module):
            def __init__(self):
                super().__init__()
                self.encoder = Encoder()
                self.head = lin(lib, 4, 2, bias=False)
                self.loss = lib.nn.CrossEntropyLoss()

        return Model()

    same_repr(build(chainrule), build(torch))


def test_reassigning_a_registered_name_keeps_its_place_as_torch():
    def run(lib):
        model = lib.nn.Linear(2, 3)
        model.weight = lib.nn.Parameter(lib.zeros(3, 2))  # replaced: stays first
        model.register_buffer("mask", lib.zeros(1))
        model.register_buffer("count", lib.zeros(1))
        model.register_buffer("mask", lib.ones(1), persistent=False)  # now not saved
        model.register_buffer("count", lib.ones(1))
        seq = lib.nn.Sequential(lib.nn.ReLU(), lin(lib, 1, 1))
        seq[0] = lin(lib, 2, 2)
        return keys(model), [n for n, _ in model.named_buffers()], keys(seq)

    assert run(chainrule) == run(torch) == (
        ["weight", "bias", "count"], ["mask", "count"], ["0.weight", "0.bias", "1.weight", "1.bias"])


def test_state_dict_prefix_destination_and_keep_vars_as_torch():
    ours, theirs = build_tower(chainrule), build_tower(torch)
    assert list(ours.state_dict(prefix="m.")) == list(theirs.state_dict(prefix="m."))
    assert list(ours.state_dict(prefix="m."))[:2] == ["m.steps", "m.blocks.0.weight"]
    target = {"already": 1}
    assert ours.state_dict(destination=target) is target and list(target)[0] == "already"
    kept = ours.state_dict(keep_vars=True)
    assert kept["blocks.0.weight"] is ours.blocks[0].weight and kept["steps"] is ours.steps
    copied = ours.state_dict()
    assert isinstance(copied["blocks.0.weight"], np.ndarray)
    assert not np.shares_memory(copied["blocks.0.weight"], ours.blocks[0].weight.numpy())
    with pytest.raises(TypeError, match="destination must be a dict or None. Got list"):
        ours.state_dict(destination=[])


def test_deepcopy_of_a_model_with_containers_is_independent():
    import copy

    model = build_tower(chainrule)
    twin = copy.deepcopy(model)
    assert keys(twin) == keys(model) and repr(twin) == repr(model)
    assert twin.blocks[0].weight is not model.blocks[0].weight
    np.testing.assert_array_equal(twin.blocks[0].weight.numpy(), model.blocks[0].weight.numpy())
    with chainrule.no_grad():
        twin.blocks[0].weight.fill_(3.0)
    assert not np.any(model.blocks[0].weight.numpy() == 3.0)
    twin.extra["new"] = nn.Parameter(chainrule.zeros(1))
    assert "extra.new" not in keys(model) and "extra.new" in keys(twin)
