"""Dtypes under PyTorch's names, the default dtype, and devices, against PyTorch. The refusals of
'cuda' here are those of a machine without CuPy and a GPU (skipped where one is present; the
'cuda' device itself is tested in test_device.py)."""

import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn

torch = pytest.importorskip("torch")

NO_DEVICE = r"device '{}' is not available[:;] chainrule runs on "
no_gpu = pytest.mark.skipif(cr.cuda.is_available(), reason="'cuda' exists here")


def numpy_dtype(torch_dtype):
    return torch.empty(0, dtype=torch_dtype).numpy().dtype


@pytest.fixture
def float64_default():
    cr.set_default_dtype(cr.float64)
    torch.set_default_dtype(torch.float64)
    yield
    cr.set_default_dtype(cr.float32)
    torch.set_default_dtype(torch.float32)


# ----- dtypes ---------------------------------------------------------------------------------
NAMES = ["float", "double", "half", "long", "int", "short", "bool", "float16", "float32", "float64",
         "int8", "int16", "int32", "int64", "uint8", "complex64", "complex128", "cfloat", "cdouble"]


@pytest.mark.parametrize("name", NAMES)
def test_dtype_names_mean_what_they_mean_in_pytorch(name):
    assert getattr(cr, name) == numpy_dtype(getattr(torch, name))
    assert isinstance(getattr(cr, name), np.dtype)


CONVERSIONS = ["float", "double", "half", "long", "int", "short", "bool"]


@pytest.mark.parametrize("method", CONVERSIONS)
@pytest.mark.parametrize("values", [[-1.7, 0.0, 2.5, 3.0], [0, 1, 7, -2], [True, False, True, True]])
def test_conversion_methods_give_pytorch_dtypes_and_values(method, values):
    ours = getattr(cr.tensor(values), method)()
    theirs = getattr(torch.tensor(values), method)()
    assert ours.dtype == numpy_dtype(theirs.dtype)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_a_conversion_to_the_same_dtype_returns_the_tensor_itself_as_pytorch():
    x = cr.ones(3)
    assert x.float() is x and x.to(cr.float32) is x and x.to("cpu") is x and x.cpu() is x
    assert x.to(x) is x and x.to(dtype=cr.float32, device="cpu") is x
    copied = x.to(cr.float32, copy=True)
    assert copied is not x and not np.shares_memory(copied.numpy(), x.numpy())


def test_floating_conversions_stay_in_the_graph_and_integer_ones_leave_it():
    x = cr.tensor([1.5, -2.0], requires_grad=True)
    y = x.double()
    (y * y).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, -4.0])
    assert x.grad.dtype == np.float32  # the gradient comes back in the input's dtype
    assert not x.long().requires_grad and x.long().is_leaf


def test_type_names_and_type_casts():
    assert cr.ones(2).type() == "chainrule.FloatTensor"  # PyTorch: 'torch.FloatTensor'
    assert cr.ones(2, dtype=cr.int64).type() == "chainrule.LongTensor"
    assert cr.ones(2).double().type() == "chainrule.DoubleTensor"
    assert cr.ones(2).type(cr.int64).dtype == np.int64
    assert cr.ones(2).type("torch.DoubleTensor").dtype == np.float64
    assert cr.ones(2).type("chainrule.IntTensor").dtype == np.int32
    for dtype in (torch.float32, torch.float64, torch.int64, torch.int32, torch.uint8, torch.bool):
        theirs = torch.ones(2, dtype=dtype).type()
        ours = cr.ones(2, dtype=numpy_dtype(dtype)).type()
        assert ours == theirs.replace("torch.", "chainrule.")


def test_to_refuses_what_is_neither_a_dtype_nor_a_device():
    with pytest.raises(TypeError, match="to: expected a dtype .* or a device .*Got 'banana' instead"):
        cr.ones(2).to("banana")
    with pytest.raises(TypeError, match="to: the dtype is given twice"):
        cr.ones(2).to(cr.float64, dtype=cr.float32)
    with pytest.raises(TypeError, match="to: non_blocking must be a bool"):
        cr.ones(2).to("cpu", non_blocking="yes")


def test_default_dtype_starts_as_float32():
    assert cr.get_default_dtype() == np.float32 == numpy_dtype(torch.get_default_dtype())


@pytest.mark.parametrize("make", [
    lambda lib: lib.tensor([1.5, 2.0]),
    lambda lib: lib.tensor(2.5),
    lambda lib: lib.tensor([1, 2]) * 0.5,
    lambda lib: lib.tensor([1, 2]) / 2,
    lambda lib: lib.tensor([1, 2]) + 1.5,
    lambda lib: lib.zeros(2),
    lambda lib: lib.ones(2, 3),
    lambda lib: lib.rand(2),
    lambda lib: lib.randn(2),
    lambda lib: lib.full((2,), 1.5),
    lambda lib: lib.arange(0.0, 3),
    lambda lib: lib.linspace(0, 1, 4),
    lambda lib: lib.eye(2),
    lambda lib: lib.nn.Linear(2, 3).weight,
    lambda lib: lib.nn.Linear(2, 3).bias,
    lambda lib: lib.tensor([1, 2]).exp(),
    lambda lib: lib.log10(lib.tensor([1, 2])),
], ids=["tensor", "0-d", "int*float", "int/int", "int+float", "zeros", "ones", "rand", "randn", "full",
        "arange", "linspace", "eye", "Linear.weight", "Linear.bias", "exp of ints", "log10 of ints"])
def test_set_default_dtype_reaches_what_it_reaches_in_pytorch(make, float64_default):
    ours, theirs = make(cr), make(torch)
    assert ours.dtype == numpy_dtype(theirs.dtype) == np.float64


def test_set_default_dtype_leaves_ints_and_explicit_dtypes_alone(float64_default):
    assert cr.tensor([1, 2]).dtype == np.int64
    assert cr.tensor([1.5], dtype=cr.float32).dtype == np.float32
    assert cr.tensor(1j).dtype == numpy_dtype(torch.tensor(1j).dtype) == np.complex128


@no_gpu
def test_set_default_dtype_refuses_a_non_floating_dtype():
    with pytest.raises(TypeError, match="set_default_dtype: only floating-point dtypes .* Got dtype"):
        cr.set_default_dtype(cr.int64)
    with pytest.raises(TypeError, match="set_default_dtype: only floating-point dtypes"):
        cr.set_default_dtype("banana")
    assert cr.get_default_dtype() == np.float32


# ----- devices --------------------------------------------------------------------------------
@pytest.mark.parametrize("spec", [("cpu",), ("cuda",), ("cuda:1",), ("cuda", 2), ("mps",), ("cpu", 0)])
def test_device_objects_match_pytorch(spec):
    ours, theirs = cr.device(*spec), torch.device(*spec)
    assert (ours.type, ours.index) == (theirs.type, theirs.index)
    assert repr(ours) == repr(theirs)
    assert str(ours) == str(theirs)
    assert (ours == cr.device("cpu")) == (theirs == torch.device("cpu"))
    assert (ours == str(ours)) == (theirs == str(theirs))  # a device is not equal to a string
    assert cr.device(ours) == ours and hash(cr.device(*spec)) == hash(ours)


@no_gpu
def test_unknown_device_strings_are_refused():
    with pytest.raises(RuntimeError, match="device: unknown device type 'cdua' in 'cdua:0'"):
        cr.device("cdua:0")
    with pytest.raises(RuntimeError, match="device: invalid device string 'cuda:x'"):
        cr.device("cuda:x")
    with pytest.raises(TypeError, match="device: expected a device type string"):
        cr.device(3.5)


@no_gpu
def test_every_tensor_is_on_the_cpu():
    x = cr.ones(2)
    assert x.device == cr.device("cpu") and x.device.type == "cpu" and not x.is_cuda
    assert repr(x.device) == repr(torch.ones(2).device)


FACTORIES = {
    "tensor": lambda **kw: cr.tensor([1.0, 2.0], **kw),
    "zeros": lambda **kw: cr.zeros(2, 3, **kw),
    "ones": lambda **kw: cr.ones(2, **kw),
    "empty": lambda **kw: cr.empty(2, **kw),
    "full": lambda **kw: cr.full((2,), 1.5, **kw),
    "eye": lambda **kw: cr.eye(3, **kw),
    "arange": lambda **kw: cr.arange(5, **kw),
    "linspace": lambda **kw: cr.linspace(0, 1, 5, **kw),
    "logspace": lambda **kw: cr.logspace(0, 1, 5, **kw),
    "rand": lambda **kw: cr.rand(2, **kw),
    "randn": lambda **kw: cr.randn(2, **kw),
    "randint": lambda **kw: cr.randint(0, 5, (3,), **kw),
    "randperm": lambda **kw: cr.randperm(4, **kw),
    "normal": lambda **kw: cr.normal(0.0, 1.0, (2,), **kw),
    "zeros_like": lambda **kw: cr.zeros_like(cr.ones(2), **kw),
    "ones_like": lambda **kw: cr.ones_like(cr.ones(2), **kw),
    "full_like": lambda **kw: cr.full_like(cr.ones(2), 3.0, **kw),
    "empty_like": lambda **kw: cr.empty_like(cr.ones(2), **kw),
    "rand_like": lambda **kw: cr.rand_like(cr.ones(2), **kw),
    "randn_like": lambda **kw: cr.randn_like(cr.ones(2), **kw),
    "randint_like": lambda **kw: cr.randint_like(cr.ones(2), 5, **kw),
    "as_tensor": lambda **kw: cr.as_tensor([1.0], **kw),
    "new_zeros": lambda **kw: cr.ones(2).new_zeros(3, **kw),
    "new_ones": lambda **kw: cr.ones(2).new_ones((3,), **kw),
    "new_full": lambda **kw: cr.ones(2).new_full((3,), 2.0, **kw),
    "new_empty": lambda **kw: cr.ones(2).new_empty(3, **kw),
    "new_tensor": lambda **kw: cr.ones(2).new_tensor([1, 2], **kw),
}


@no_gpu
@pytest.mark.parametrize("name", list(FACTORIES))
def test_every_factory_takes_the_cpu_and_refuses_other_devices(name):
    make = FACTORIES[name]
    for cpu in ("cpu", "cpu:0", cr.device("cpu"), None):
        assert make(device=cpu).device == cr.device("cpu")
    for missing in ("cuda", "cuda:0", "mps"):
        with pytest.raises(RuntimeError, match=NO_DEVICE.format(missing)):
            make(device=missing)
    with pytest.raises(RuntimeError, match=NO_DEVICE.format("cuda:0")):
        make(device=cr.device("cuda", 0))


@no_gpu
def test_to_and_cuda_refuse_other_devices_in_one_sentence():
    x = cr.ones(2)
    for missing in ("cuda", "cuda:0", "mps"):
        with pytest.raises(RuntimeError, match="to: " + NO_DEVICE.format(missing)):
            x.to(missing)
        with pytest.raises(RuntimeError, match=NO_DEVICE.format(missing)):
            x.to(device=missing, dtype=cr.float64)
    with pytest.raises(RuntimeError, match="cuda: " + NO_DEVICE.format("cuda")):
        x.cuda()
    with pytest.raises(RuntimeError, match=NO_DEVICE.format("cuda:0")):
        x.to(0)  # a bare index means an accelerator, as in PyTorch


@pytest.mark.parametrize("call", [
    lambda x: x.to("cpu"),
    lambda x: x.to("cpu", torch_or_cr(x).float64),
    lambda x: x.to(device="cpu", dtype=torch_or_cr(x).float64),
    lambda x: x.to(dtype=torch_or_cr(x).int64),
    lambda x: x.to(torch_or_cr(x).float64, non_blocking=True),
    lambda x: x.to("cpu", non_blocking=True),
    lambda x: x.to(torch_or_cr(x).ones(1, dtype=torch_or_cr(x).float64)),
    lambda x: x.to(torch_or_cr(x).device("cpu"), torch_or_cr(x).int32),
    lambda x: x.cpu(),
], ids=["device", "device dtype", "keywords", "dtype keyword", "non_blocking", "device non_blocking",
        "other", "device object", "cpu()"])
def test_to_forms_match_pytorch(call):
    values = [[1.5, -2.25], [3.0, 0.5]]
    ours, theirs = call(cr.tensor(values)), call(torch.tensor(values))
    assert ours.dtype == numpy_dtype(theirs.dtype)
    assert str(ours.device) == str(theirs.device)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def torch_or_cr(x):
    return torch if isinstance(x, torch.Tensor) else cr


@no_gpu
def test_module_to_takes_pytorch_forms():
    model = nn.Linear(2, 3)
    weight = model.weight
    assert model.to("cpu") is model and model.weight.dtype == np.float32
    assert model.to(cr.device("cpu")) is model
    model.to("cpu", cr.float64)
    assert model.weight is weight and model.weight.dtype == np.float64
    model.to(cr.ones(1, dtype=cr.float32))
    assert model.weight.dtype == np.float32
    model.to(device="cpu", dtype=cr.float64)
    assert model.bias.dtype == np.float64
    with pytest.raises(RuntimeError, match="Module.to: " + NO_DEVICE.format("cuda")):
        model.to("cuda")
    with pytest.raises(TypeError, match="Module.to: only floating-point dtypes"):
        model.to("cpu", cr.int64)


@no_gpu
def test_probes_say_there_is_no_gpu_as_pytorch_on_a_machine_without_one():
    assert cr.cuda.is_available() is False and cr.cuda.device_count() == 0
    assert cr.backends.mps.is_available() is False
    assert cr.accelerator.is_available() is False
    assert cr.accelerator.current_accelerator() is None and cr.accelerator.device_count() == 0
    device = cr.device("cuda" if cr.cuda.is_available() else "cpu")  # the tutorials' idiom
    assert cr.zeros(2, device=device).device == device
    cr.cuda.manual_seed_all(0)  # nothing to seed, as in PyTorch without a GPU
    cr.backends.cudnn.benchmark = True  # kept and ignored
    with pytest.raises(RuntimeError, match=NO_DEVICE.format("cuda")):
        cr.cuda.current_device()


@no_gpu
def test_set_default_device_takes_only_the_cpu():
    cr.set_default_device("cpu")
    assert cr.get_default_device() == cr.device("cpu")
    with pytest.raises(RuntimeError, match="set_default_device: " + NO_DEVICE.format("cuda")):
        cr.set_default_device("cuda")
    cr.set_default_device(None)
    assert cr.zeros(1).device == cr.device("cpu")


@no_gpu
def test_device_as_a_context_manager():
    with cr.device("cpu") as d:
        assert d == cr.device("cpu") and cr.zeros(1).device == d
    with pytest.raises(RuntimeError, match="device: " + NO_DEVICE.format("cuda")):
        with cr.device("cuda"):
            pass
    assert cr.get_default_device() == cr.device("cpu")
    cr.cuda.empty_cache()  # nothing to free, as in PyTorch without a GPU
    assert cr.cuda.is_initialized() is False
    with pytest.raises(RuntimeError, match="type: " + NO_DEVICE.format("cuda")):
        cr.ones(2).type("torch.cuda.FloatTensor")


@no_gpu
def test_generator_on_another_device_is_refused():
    assert cr.Generator("cpu").device == cr.device("cpu")
    with pytest.raises(RuntimeError, match="Generator: " + NO_DEVICE.format("cuda")):
        cr.Generator(device="cuda")


def test_variable_is_pytorchs_deprecated_alias():
    from chainrule.autograd_compat import Variable
    from torch.autograd import Variable as TorchVariable

    for lib, V in ((cr, Variable), (torch, TorchVariable)):
        a = lib.ones(2)
        v = V(a, requires_grad=True)
        assert v is not a and v.requires_grad and not a.requires_grad and v.grad_fn is None
        assert isinstance(a, V)
        y = lib.ones(2, requires_grad=True) * 2
        assert V(y).grad_fn is None and not V(y).requires_grad  # a new leaf, history cut
    v = Variable(cr.zeros(2), requires_grad=True)
    (v * 3).sum().backward()
    np.testing.assert_array_equal(v.grad.numpy(), [3.0, 3.0])
    base = cr.zeros(2)
    Variable(base).numpy()[0] = 5  # shares memory, as PyTorch's
    assert base[0].item() == 5
    with pytest.raises(TypeError, match="Variable: data has to be a Tensor. Got list instead."):
        Variable([1.0, 2.0])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        Variable(cr.ones(1), volatile=True)
    assert "volatile was removed" in str(caught[0].message)


def test_autograd_gradcheck_is_chainrule_gradcheck():
    assert cr.autograd.gradcheck is cr.gradcheck
    x = cr.tensor([0.5, 1.5], dtype=cr.float64, requires_grad=True)
    assert cr.autograd.gradcheck(lambda t: t.log1p().sum(), (x,))


def test_autograd_variable_is_reachable_under_pytorchs_name():
    from chainrule.autograd_compat import Variable

    assert cr.autograd.Variable is Variable


@no_gpu
def test_module_cpu_is_itself_and_cuda_is_refused_with_the_device_sentence():
    model = cr.nn.Sequential(cr.nn.Linear(2, 3), cr.nn.Softmax(dim=1))
    assert model.cpu() is model
    with pytest.raises(RuntimeError, match="'cuda' is not available"):
        model.cuda()


def test_softmax_modules_without_dim_take_pytorchs_implicit_dim():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).standard_normal((4, 3))
    for ours, theirs in ((cr.nn.Softmax(), torch.nn.Softmax()), (cr.nn.LogSoftmax(), torch.nn.LogSoftmax())):
        with pytest.warns(UserWarning):
            a = ours(cr.tensor(x)).numpy()
        with pytest.warns(UserWarning):
            b = theirs(torch.tensor(x)).numpy()
        np.testing.assert_allclose(a, b, rtol=1e-12)
        assert repr(ours) == repr(theirs)
