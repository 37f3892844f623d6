"""Fused element-wise kernels (chainrule.kernels): the formula language, its C reading compiled
with the host's C++ compiler and compared with its NumPy reading, the calls on each device, and the
fallback to the op's own code where a GPU cannot run a kernel.

Whether each op computes the same with its kernel as on the CPU is tested by the device op cases
(tests/test_device_ops.py), which run every op on the stand-in, where kernels run.
"""

import shutil
import subprocess
import sys
import types
import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule import backend, kernels, standin
from chainrule.kernels import Elementwise, FormulaError, SumOf
from chainrule.ops.activation import GELU

# the library's kernels (made when chainrule is imported), not the ones these tests make
LIBRARY = [k for k in kernels.KERNELS if k.module.startswith("chainrule.")]


def test_the_library_has_its_kernels_and_each_name_is_its_own():
    names = [k.name for k in LIBRARY]
    assert len(names) == len(set(names)), names
    assert {"relu_backward", "gelu_tanh", "gelu_tanh_backward",
            "standardize_backward", "adam_update", "sgd_step", "sum_of_products", "inv_std",
            "inv_std_then", "normalize_affine"} <= set(names)


@pytest.mark.parametrize("body, says", [
    ("y = x ** 2", "an expression takes"),
    ("y = x // 2", "an expression takes"),
    ("y = foo(x)", "functions are"),
    ("y = where(x, 1)", "functions are"),
    ("y = exp(x=x)", "functions are"),
    ("x = 1\ny = x", "'x' cannot be assigned"),
    ("y = q", "'q' is used before"),
    ("y[0] = x", "each statement assigns"),
    ("y, z = x, x", "each statement assigns"),
    ("y = 1 if x else 2", "an expression takes"),
    ("y = a < x < b", "a comparison takes one"),
    ("i = x\ny = i", "'i' cannot be assigned"),
    ("t = x", "the outputs y are never assigned"),
    ("y = x +", "not valid"),
    ("y = x * 1e400", "finite"),
    ("y = x * 10 ** 400", "an expression takes"),
    ("y = x * 1" + "0" * 400, "finite"),
])
def test_a_formula_outside_the_language_is_refused_with_the_reason(body, says):
    with pytest.raises(FormulaError, match=says) as err:
        Elementwise("bad", "x", "y", body)
    assert "kernel bad" in str(err.value)


@pytest.mark.parametrize("name", ["double", "union", "register", "typename", "INFINITY", "NAN",
                                  "M_PI", "i", "_k", "math_errhandling", "errno", "threadIdx"])
def test_names_that_c_or_the_kernel_take_are_refused(name):
    with pytest.raises(FormulaError, match=f"'{name}' cannot name"):
        Elementwise("bad", f"x, {name}", "y", f"y = x + {name}")
    with pytest.raises(FormulaError, match=f"'{name}' cannot be assigned|'{name}' cannot name"):
        Elementwise("bad", "x", "y", f"{name} = x\ny = {name}")


def test_a_name_that_changes_its_type_is_refused():
    with pytest.raises(FormulaError, match="'w' holds a double"):
        Elementwise("bad", "x", "y", "w = 2\nw += x\ny = w")


def test_a_name_given_twice_and_a_constant_that_is_no_number_are_refused():
    with pytest.raises(FormulaError, match="a name is used twice among x, x, y"):
        Elementwise("bad", "x, x", "y", "y = x")
    with pytest.raises(FormulaError, match="not a finite number"):
        Elementwise("bad", "x", "y", "y = x * K", constants={"K": float("nan")})


def test_the_c_reading_parenthesises_everything_and_computes_as_numpy_does():
    """Numbers are doubles until they meet a T array, then T (NumPy reads a Python number in the
    array's dtype); integer inputs are doubles (no integer division); a comparison is a number;
    a negative number is parenthesised (- -0.5 is not C's --)."""
    k = Elementwise("sample_c", "x, g, t:int", "y",
                    "u = 1 / (x + 2)\nu *= -K\nw = K * 2 - 1\ny = where(g > 0, u, w) - exp(u) + t / 2",
                    constants={"K": -0.5})
    assert k.c_body == ("T u = (((T) 1.0) / (x + ((T) 2.0)));\n"
                        "u *= ((T) (-(-0.5)));\n"
                        "double w = (((-0.5) * 2.0) - 1.0);\n"
                        "y = ((T) (((((g > ((T) 0.0)) ? ((T) 1.0) : ((T) 0.0)) ? u : ((T) w)) "
                        "- exp(u)) + (((double) t) / 2.0)));")
    assert k.locals == ("u", "w") and k.updates == ()


def test_outputs_read_before_they_are_assigned_are_updates_that_the_caller_passes():
    k = Elementwise("sample_updates", "g", "p, m", "m = m * 0.9 + g\np -= lr * m", "lr")
    assert k.updates == ("m", "p")
    with pytest.raises(TypeError, match="updates m, p in place: pass them as out="):
        _on_standin(lambda: k(cr.ones(3, device="cuda")._data, 0.1))


def _on_standin(fn):
    backend.use_standin_cuda(True)
    try:
        return fn()
    finally:
        backend.use_standin_cuda(False)


def test_on_the_cpu_a_kernel_runs_nothing_and_says_so_with_none():
    k = Elementwise("sample_cpu", "x", "y", "y = x * 2")
    assert k(np.ones(3)) is None


def test_on_the_standin_a_kernel_is_one_launch_and_computes_its_formula():
    k = Elementwise("sample_standin", "x, g", "y, t", "t = tanh(x)\ny = g * t + 1", "")

    def run():
        x = cr.randn(4, 3, device="cuda")._data
        g = cr.randn(3, device="cuda")._data  # broadcast
        standin.counts.reset()
        standin.counts.counting = True
        try:
            y, t = k(x, g)
        finally:
            standin.counts.counting = False
        assert standin.counts.calls == 1
        assert backend.is_device_array(y) and y.shape == (4, 3) and y.dtype == np.float32
        xh, gh = x.get(), g.get()
        np.testing.assert_allclose(t.get(), np.tanh(xh), rtol=1e-6)
        np.testing.assert_allclose(y.get(), gh * np.tanh(xh) + 1, rtol=1e-6)
        # arrays of two dtypes, or one on the host: the op's own code runs instead
        assert k(x, g.astype(np.float64)) is None
        with kernels.fusing(False):
            assert k(x, g) is None

    _on_standin(run)


def test_updates_write_into_the_arrays_given_and_inputs_stay_as_they_were():
    k = Elementwise("sample_in_place", "g", "p, m", "m = m * 0.5 + g\np -= lr * m", "lr")

    def run():
        g = cr.tensor([1.0, 2.0], device="cuda")._data
        p = cr.tensor([10.0, 10.0], device="cuda")._data
        m = cr.tensor([2.0, 4.0], device="cuda")._data
        result = k(g, 0.5, out=(p, m))
        assert result[0] is p and result[1] is m
        np.testing.assert_array_equal(m.get(), [2.0, 4.0])
        np.testing.assert_array_equal(p.get(), [9.0, 8.0])
        np.testing.assert_array_equal(g.get(), [1.0, 2.0])

    _on_standin(run)
    # an augmented assignment to a name of the formula's own never writes into an input
    k = Elementwise("sample_alias", "x", "y", "t = x\nt += 1\ny = t + x")
    x = np.array([1.0, 2.0])
    np.testing.assert_array_equal(k.evaluate([x])[0], [3.0, 5.0])
    np.testing.assert_array_equal(x, [1.0, 2.0])


def test_a_sum_takes_one_expression_and_leaves_a_and_b_to_the_reduction():
    for inputs, scalars, constants in (("a, y", "", None), ("x", "b", None), ("x", "", {"s": 1})):
        with pytest.raises(FormulaError, match="a, b and s are the reduction's own names"):
            SumOf("bad", inputs, "x", scalars=scalars, constants=constants)
    with pytest.raises(FormulaError, match="one expression of its inputs, not statements"):
        SumOf("bad", "x", "x\nt = x")
    with pytest.raises(FormulaError, match="and not s"):
        SumOf("bad", "x", "x * s")
    k = SumOf("sample_sum_c", "x, y", "x * (y - 1)")
    assert k.c_map == "(x * (y - ((T) 1.0)))" and k.c_body == f"s = {k.c_map};"
    with pytest.raises(FormulaError, match="then reads the sum as s"):
        SumOf("bad", "x", "x", then="a * 2")
    with pytest.raises(FormulaError, match="'x' is used before it is given"):
        SumOf("bad", "x", "x", then="s * x")  # (then sees the sum, not the arrays)
    with pytest.raises(FormulaError, match="then is not valid"):
        SumOf("bad", "x", "x", then="s +")
    k = SumOf("sample_then_c", "x", "x * x", then="sqrt(s) / n2", scalars="n2")
    assert k.then.c_body == "s = (sqrt(a) / ((T) n2));" and k.c_post_map == k.then.c_body[:-1]
    np.testing.assert_allclose(k.evaluate_sum([np.array([[3.0, 4.0], [0.0, 1.0]])], [2.0], 1),
                               [2.5, 0.5])


def test_a_sum_on_the_standin_is_one_launch_and_on_the_cpu_none():
    k = SumOf("sample_sum", "x, y", "x * y")
    assert k(np.ones((2, 3)), np.ones((2, 3)), axis=1) is None

    def run():
        x = cr.randn(4, 5, 6, device="cuda", dtype=cr.float64)._data
        y = cr.randn(5, 6, device="cuda", dtype=cr.float64)._data  # broadcast
        standin.counts.reset()
        standin.counts.counting = True
        try:
            s = k(x, y, axis=(1, 2), keepdims=True)
        finally:
            standin.counts.counting = False
        assert standin.counts.calls == 1 and s.shape == (4, 1, 1)
        np.testing.assert_allclose(s.get(), (x.get() * y.get()).sum(axis=(1, 2), keepdims=True),
                                   rtol=1e-12)
        assert k(x, y.astype(np.float32), axis=0) is None  # two dtypes: NumPy's calls instead

    _on_standin(run)


# ----- the C reading, compiled with the host's compiler ---------------------------------------
_CXX = shutil.which("g++") or shutil.which("clang++")


def _samples(kernel, rng):
    """Inputs, numbers and starting outputs: one half positive (for sqrt and log), one half of
    both signs (for comparisons)."""
    n = 16

    def values():
        return np.concatenate([rng.uniform(0.05, 2.0, n), rng.standard_normal(n) * 1.5])

    # integer inputs (class indices, masks): small integers, so that comparisons meet equals
    arrays = [rng.integers(-1, 3, 2 * n) if name in kernel.integers else values()
              for name in kernel.inputs]
    numbers = list(rng.uniform(0.1, 0.99, len(kernel.scalars)))
    starts = [np.abs(values()) + 0.05 for _ in kernel.outputs]  # positive: running averages
    return arrays, numbers, starts


def _as_dtype(kernel, arrays, dtype):
    """The float inputs in ``dtype``; the integer ones as they are (int64)."""
    return [a if name in kernel.integers else a.astype(dtype)
            for name, a in zip(kernel.inputs, arrays)]


def _c_program(cases) -> str:
    parts = ["#include <cmath>", "#include <cstdio>",
             "using std::exp; using std::log; using std::sqrt; using std::tanh; using std::erf;"]
    for index, (kernel, arrays, numbers, starts) in enumerate(cases):
        n = len(arrays[0]) if arrays else len(starts[0])
        c_type = {a: "long long" if a in kernel.integers else "T" for a in kernel.inputs}
        params = ([f"const {c_type[a]}* _in_{a}" for a in kernel.inputs]
                  + [f"double _s_{s}" for s in kernel.scalars]
                  + [f"T* _out_{o}" for o in kernel.outputs])
        body = "\n".join(
            [f"const {c_type[a]} {a} = _in_{a}[_k];" for a in kernel.inputs]
            + [f"const double {s} = _s_{s};" for s in kernel.scalars]
            + [f"T &{o} = _out_{o}[_k];" for o in kernel.outputs]  # as CuPy: a reference
            + [kernel.c_body])
        data = "\n".join(f"static const double d_{j}[] = {{{', '.join(repr(float(v)) for v in a)}}};"
                         for j, a in enumerate([*arrays, *starts]))
        types = [c_type[a] for a in kernel.inputs] + ["T"] * len(starts)
        copies = "\n".join(f"{t} a_{j}[{n}]; for (int q = 0; q < {n}; ++q) a_{j}[q] = ({t}) d_{j}[q];"
                           for j, t in enumerate(types))
        call_args = ([f"a_{j}" for j in range(len(arrays))] + [repr(float(v)) for v in numbers]
                     + [f"a_{len(arrays) + j}" for j in range(len(starts))])
        prints = "\n".join(
            f'for (int q = 0; q < {n}; ++q) printf("{index} %s {o} %.17g\\n", label, '
            f"(double) a_{len(arrays) + j}[q]);" for j, o in enumerate(kernel.outputs))
        parts.append(f"""namespace k{index} {{
template <typename T> void run(int _count, {', '.join(params)}) {{
  for (int _k = 0; _k < _count; ++_k) {{
{body}
  }}
}}
template <typename T> void go(const char* label) {{
{data}
{copies}
run<T>({n}, {', '.join(call_args)});
{prints}
}}
}}""")
    parts.append("int main() {")
    parts += [f'k{i}::go<float>("float32"); k{i}::go<double>("float64");' for i in range(len(cases))]
    parts.append("return 0; }")
    return "\n".join(parts)


@pytest.mark.skipif(_CXX is None, reason="no C++ compiler here")
def test_every_kernel_computes_in_c_what_its_numpy_reading_computes(tmp_path):
    """Each library kernel's C text (what CuPy compiles, with CuPy's reading of its parameters:
    inputs as values, outputs as references) compiled by the host's C++ compiler and run on the
    same numbers as its NumPy reading, in float32 and float64. A wrong translation (precedence,
    an integer division, a missing declaration) gives other numbers or does not compile."""
    rng = np.random.default_rng(0)
    extra = Elementwise("sample_everything", "x, g", "y, z",
                        "t = where(x > 0, x, -x) / 2 + 1\nt -= 1 / 4\ny = sqrt(t) * log(t) - erf(g)"
                        "\nz = (g >= 0.5) * exp(-t) + (x != g) + (x < 0)")
    _check_c_against_numpy([(k, *_samples(k, rng)) for k in [*LIBRARY, extra]], tmp_path)


def _check_c_against_numpy(cases, tmp_path):
    """Build and run ``cases`` ((kernel, arrays, numbers, starting outputs) each) in C, and
    compare every output with the NumPy reading, in float32 and float64 (a float32 kernel
    computes in float32 in both: only the libraries' exp, tanh... differ, by an ulp or two)."""
    source = tmp_path / "kernels.cpp"
    source.write_text(_c_program(cases))
    binary = tmp_path / "kernels"
    built = subprocess.run([_CXX, "-O1", "-std=c++17", str(source), "-o", str(binary)],
                           capture_output=True, text=True)
    assert built.returncode == 0, built.stderr[-3000:]
    lines = subprocess.run([str(binary)], capture_output=True, text=True, check=True).stdout.split()
    got: dict = {}
    for i in range(0, len(lines), 4):
        index, label, output, value = lines[i:i + 4]
        got.setdefault((int(index), label, output), []).append(float(value))
    for index, (kernel, arrays, numbers, starts) in enumerate(cases):
        for label, dtype, rtol in (("float32", np.float32, 1e-5), ("float64", np.float64, 1e-12)):
            out = [s.astype(dtype) for s in starts] if kernel.updates else None
            with np.errstate(all="ignore"):
                expected = kernel.evaluate(_as_dtype(kernel, arrays, dtype), numbers, out)
            for name, value in zip(kernel.outputs, expected):
                np.testing.assert_allclose(got[index, label, name], value, rtol=rtol,
                                           atol=rtol * 0.1, equal_nan=True,
                                           err_msg=f"kernel {kernel.name}, {name}, {label}")


@pytest.mark.skipif(_CXX is None, reason="no C++ compiler here")
def test_formulas_where_c_and_numpy_could_part_compute_the_same(tmp_path):
    """What a fresh-eyes review found the two readings computing differently, or C not compiling:
    minus before a negative constant (C's --), comparisons added, negated and divided (C's bool is
    an integer: 1 + 1 = 2 and an integer division; NumPy's: True + True = True, and -True
    refused), a boolean input in arithmetic, an integer past 2**64, and a float32 GELU gradient
    at |x| = 1e19 (computed in double in C, it was 1 where NumPy gave nan)."""
    x = np.array([2.0, 1.0, 0.5, 0.0, -1.0, 3e18, -1e19])
    k = np.array([1, 0, 1, 1, 0, 1, 0]).astype(bool)
    gelu = GELU.fused_tanh_backward
    with np.errstate(over="ignore"):
        t = np.tanh(np.float32(0.7978845608028654) * (x + np.float32(0.044715) * x * x * x))
    cases = [
        (Elementwise("sample_negative_constant", "x", "y", "u = 1 * x\nu *= -K\ny = -K * u + x * -2",
                     constants={"K": -0.5}), [x], [], [np.zeros(7)]),
        (Elementwise("sample_comparisons", "x", "y, z",
                     "y = (x > 0) + (x > 1) - (x < 0) - -(x >= 2)\nz = (x > 0) / (x > 1)"),
         [x], [], [np.zeros(7)] * 2),
        (Elementwise("sample_boolean_input", "x, k:int", "y", "y = -k + k * x + k / k"),
         [x, k], [], [np.zeros(7)]),
        (Elementwise("sample_big_integer", "x", "y", "y = x * 100000000000000000000"),
         [x], [], [np.zeros(7)]),
        (gelu, [np.ones(7), x, t], [], [np.zeros(7)]),
    ]
    _check_c_against_numpy(cases, tmp_path)
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(cases[1][0].evaluate([x])[0], [3.0, 1.0, 1.0, 0.0, -1.0, 3.0, -1.0])
        dx = gelu.evaluate([np.ones(2, np.float32), np.float32([1e19, -1e19]),
                            np.float32([1.0, -1.0])])[0]
    np.testing.assert_array_equal(dx, [1.0, 0.0])  # as PyTorch's
    # a second review: numbers stay numbers (weak: T where they meet T) through where and the
    # functions, and divide by 0 as IEEE doubles; small integer inputs are doubles (uint8 1 - 2
    # is -1, exp(12) is not float16's inf); a constant given as a NumPy float is a number too;
    # whole numbers are doubles (2**53 + 1 is 2**53)
    big = np.array([1e8, -1e8, 3e8, 1.0, 2.0, 0.5, 3.0])
    t = np.array([1, 0, 12, 2, 1, 0, 3], dtype=np.uint8)
    cases = [
        (Elementwise("sample_uint8", "x, t:int", "y, z", "y = x * (t - 2)\nz = x + exp(t)"),
         [x, t], [], [np.zeros(7)] * 2),
        (Elementwise("sample_numbers_weak", "x", "y, z",
                     "y = (x + where(x > 0, 1, 1)) - x\nz = (x + exp(0)) - x + x * erf(0.5)"),
         [big], [], [np.zeros(7)] * 2),
        (Elementwise("sample_numpy_constant", "x", "y", "y = (x + K) - x",
                     constants={"K": np.float64(1.0)}), [big], [], [np.zeros(7)]),
        (Elementwise("sample_whole_numbers", "x", "y",
                     "y = x * (9007199254740993 - 9007199254740992)"), [big], [], [np.zeros(7)]),
        (Elementwise("sample_number_by_zero", "x", "y", "y = x * (a / b) + where(x > 0, 1, 2)",
                     "a, b"), [x], [1.0, 0.0], [np.zeros(7)]),
    ]
    _check_c_against_numpy(cases, tmp_path)
    np.testing.assert_array_equal(cases[3][0].evaluate([big])[0], np.zeros(7))


# ----- on a GPU: CuPy's ElementwiseKernel, and the fallback -------------------------------------
class _FakeCuPy:
    """A stand-in for CuPy's ElementwiseKernel that records how it was made and called, runs the
    formula's NumPy reading, or fails as a kernel that does not compile."""

    def __init__(self, fail=False):
        self.made, self.calls, self.fail = [], [], fail
        self.module = types.SimpleNamespace(ElementwiseKernel=self._make,
                                            ReductionKernel=self._make_reduction)

    def _make(self, in_params, out_params, operation, name):
        self.made.append((in_params, out_params, operation, name))
        fake = self

        def call(*args):
            fake.calls.append(args)
            if fake.fail:
                raise RuntimeError("nvrtc: error: identifier 'erf' is undefined")
            return fake.kernel_under_test._run_on_standin(
                args[:len(fake.kernel_under_test.inputs)],
                args[len(fake.kernel_under_test.inputs):][:len(fake.kernel_under_test.scalars)],
                args[len(fake.kernel_under_test.inputs) + len(fake.kernel_under_test.scalars):]
                or None)

        return call


    def _make_reduction(self, in_params, out_params, map_expr, reduce_expr, post_map_expr,
                        identity, name):
        self.made.append((in_params, out_params, map_expr, reduce_expr, post_map_expr, identity,
                          name))
        fake = self

        def call(*args, axis=None, keepdims=False):
            fake.calls.append((args, axis, keepdims))
            if fake.fail:
                raise RuntimeError("nvrtc: error")
            k = fake.kernel_under_test
            arrays, numbers = args[:len(k.inputs)], args[len(k.inputs):]
            return standin.StandInArray(k.evaluate_sum([a._a for a in arrays], numbers, axis,
                                                       keepdims))

        return call


def _as_if_on_a_gpu(monkeypatch, fake, kernel):
    fake.kernel_under_test = kernel
    monkeypatch.setitem(sys.modules, "cupy", fake.module)
    # chainrule.kernels sees the stand-in's arrays as CuPy's, and takes CuPy's path
    monkeypatch.setattr(kernels, "backend", types.SimpleNamespace(
        is_device_array=backend.is_device_array,
        cuda_backend=lambda: types.SimpleNamespace(name="cupy")))


def test_on_a_gpu_a_kernel_is_made_once_with_cupys_parameters_and_called_in_order(cuda, monkeypatch):
    if cuda != "standin":
        pytest.skip("CuPy itself is here: the real kernels run in the device tests")
    k = Elementwise("sample_gpu", "g", "p, m", "m = m * b + g\np -= lr * m", "lr, b")
    fake = _FakeCuPy()
    _as_if_on_a_gpu(monkeypatch, fake, k)
    g, p, m = (cr.ones(3, device="cuda")._data for _ in range(3))
    for _ in range(2):
        assert k(g, 0.5, 0.25, out=(p, m)) == (p, m)
    assert fake.made == [("T g, float64 lr, float64 b", "T p, T m", k.c_body, "chainrule_sample_gpu")]
    assert [len(args) for args in fake.calls] == [5, 5]
    assert fake.calls[0][0] is g and fake.calls[0][1:3] == (0.5, 0.25) and fake.calls[0][3] is p
    # m: 1 -> 1 * 0.25 + 1 = 1.25 -> 1.25 * 0.25 + 1 = 1.3125;  p: 1 - 0.5 * 1.25 - 0.5 * 1.3125
    np.testing.assert_allclose(m.get(), [1.3125] * 3)
    np.testing.assert_allclose(p.get(), [1 - 0.625 - 0.65625] * 3)


def test_on_a_gpu_a_sum_is_a_reduction_kernel_with_its_map_and_plus(cuda, monkeypatch):
    if cuda != "standin":
        pytest.skip("CuPy itself is here: the real kernels run in the device tests")
    k = SumOf("sample_gpu_sum", "x, y", "x * y")
    fake = _FakeCuPy()
    _as_if_on_a_gpu(monkeypatch, fake, k)
    x = cr.ones(2, 3, device="cuda")._data
    s = k(x, x, axis=(1,), keepdims=True)
    assert fake.made == [("T x, T y", "T s", "(x * y)", "a + b", "s = a", "0",
                          "chainrule_sample_gpu_sum")]
    assert fake.calls[0][1:] == ((1,), True)
    np.testing.assert_array_equal(s.get(), [[3.0], [3.0]])
    fake.fail = True
    k._ran.clear()
    with pytest.warns(RuntimeWarning, match="sample_gpu_sum did not run"):
        assert k(x, x, axis=0) is None


def test_on_a_gpu_a_sums_then_is_the_reduction_kernels_post_map_with_the_numbers(cuda, monkeypatch):
    if cuda != "standin":
        pytest.skip("CuPy itself is here: the real kernels run in the device tests")
    k = SumOf("sample_gpu_then", "x, mu", "(x - mu) * (x - mu)", then="1 / sqrt(s / m + eps)",
              scalars="m, eps")
    fake = _FakeCuPy()
    _as_if_on_a_gpu(monkeypatch, fake, k)
    x = cr.tensor([[1.0, 3.0], [2.0, 2.0]], device="cuda")._data
    mu = cr.tensor([[2.0], [2.0]], device="cuda")._data
    r = k(x, mu, 2, 0.5, axis=1, keepdims=True)
    # CuPy names the reduced value a in the post-map: s = 1 / sqrt(a / m + eps), in T
    assert fake.made == [("T x, T mu, float64 m, float64 eps", "T s", k.c_map, "a + b",
                          "s = (((T) 1.0) / sqrt(((a / ((T) m)) + ((T) eps))))", "0",
                          "chainrule_sample_gpu_then")]
    assert fake.calls[0][0][2:] == (2.0, 0.5)
    np.testing.assert_allclose(r.get(), [[1 / np.sqrt(1.0 + 0.5)], [1 / np.sqrt(0.5)]], rtol=1e-6)


def test_a_kernel_a_gpu_cannot_run_warns_once_and_the_op_runs_its_own_code(cuda, monkeypatch):
    if cuda != "standin":
        pytest.skip("CuPy itself is here: the real kernels run in the device tests")
    k = Elementwise("sample_failing", "x", "y", "y = x * 2")
    fake = _FakeCuPy(fail=True)
    _as_if_on_a_gpu(monkeypatch, fake, k)
    x = cr.ones(3, device="cuda")._data
    with pytest.warns(RuntimeWarning, match="sample_failing did not run on this GPU for float32"):
        assert k(x) is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert k(x) is None  # not tried again, no second warning
    assert len(fake.calls) == 1


def test_an_op_whose_kernel_fails_still_computes_its_result(cuda, monkeypatch):
    """GELU's two kernels failing on a 'GPU': the forward and backward still give the CPU's
    numbers, from the op's own code."""
    if cuda != "standin":
        pytest.skip("CuPy itself is here: the real kernels run in the device tests")
    fake = _FakeCuPy(fail=True)
    gelu = cr.ops.activation.GELU
    for kernel in (gelu.fused_tanh_forward, gelu.fused_tanh_backward):
        monkeypatch.setattr(kernel, "_failed", set())
        monkeypatch.setattr(kernel, "_ran", set())
        monkeypatch.setattr(kernel, "_cupy_kernel", None)
    _as_if_on_a_gpu(monkeypatch, fake, gelu.fused_tanh_forward)
    x = np.linspace(-3, 3, 7)
    results = {}
    for device in ("cpu", "cuda"):
        t = cr.tensor(x, requires_grad=True, device=device)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            y = cr.nn.functional.gelu(t, approximate="tanh")
            y.sum().backward()
        results[device] = (y.detach().cpu().numpy(), t.grad.cpu().numpy())
    assert len(fake.calls) == 2  # each kernel tried once
    for got, expected in zip(results["cuda"], results["cpu"]):
        np.testing.assert_allclose(got, expected, rtol=1e-12)


@pytest.mark.parametrize("kernel", LIBRARY, ids=[k.name for k in LIBRARY])
def test_every_kernel_runs_on_the_device_and_equals_its_numpy_reading(kernel, cuda):
    """Each library kernel on the 'cuda' device, float32 and float64, against its NumPy reading.
    On a GPU this is CuPy compiling and running its C text, where a kernel that fails would make
    its op fall back with a warning (here an error), which the op tests alone would not notice.
    On the stand-in it checks the device path only (arguments, shapes, dtypes), as the stand-in
    runs the NumPy reading itself: there the C text is checked by the C++ build above."""
    rng = np.random.default_rng(1)
    arrays, numbers, starts = _samples(kernel, rng)
    for dtype, rtol in ((np.float32, 1e-5), (np.float64, 1e-10)):
        host = _as_dtype(kernel, arrays, dtype)
        host_out = [s.astype(dtype) for s in starts] if kernel.updates else None
        expected = kernel.evaluate(host, numbers, None if host_out is None else
                                   [s.copy() for s in host_out])
        device = [cr.tensor(a, device="cuda")._data for a in host]
        out = None if host_out is None else tuple(cr.tensor(s, device="cuda")._data
                                                  for s in host_out)
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)  # a fallback fails the test
            if isinstance(kernel, SumOf):  # summed over the second axis of a (4, 8) view
                device = [d.reshape(4, 8) for d in device]
                got = kernel(*device, *numbers, axis=1, keepdims=True)
                expected = [kernel.evaluate_sum([h.reshape(4, 8) for h in host], numbers, 1, True)]
            else:
                got = kernel(*device, *numbers, out=out)
        got = got if isinstance(got, tuple) else (got,)
        assert len(got) == len(kernel.outputs)
        for name, g, e in zip(kernel.outputs, got, expected):
            np.testing.assert_allclose(backend.to_numpy(g), e, rtol=rtol, atol=rtol * 1e-2,
                                       equal_nan=True, err_msg=f"{kernel.name}: {name}, {dtype}")


def test_cross_entropy_turned_unfused_between_forward_and_backward_gives_the_same_gradient(cuda):
    """The fused forward keeps each row's max and sum of exponentials, not the log-probabilities;
    a backward without kernels computes them from those, with ignored targets among the rows."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 5))
    t = np.array([0, 4, -100, 2, 1, -100])
    results = {}
    for mode in ("cpu", "fused", "turned off"):
        device = "cpu" if mode == "cpu" else "cuda"
        logits = cr.tensor(x, requires_grad=True, device=device)
        loss = cr.nn.functional.cross_entropy(logits, cr.tensor(t, device=device))
        with kernels.fusing(mode != "turned off"):
            loss.backward()
        results[mode] = (loss.item(), logits.grad.cpu().numpy())
    rtol = 1e-12 if cuda == "standin" else 1e-9
    for mode in ("fused", "turned off"):
        np.testing.assert_allclose(results[mode][0], results["cpu"][0], rtol=rtol)
        np.testing.assert_allclose(results[mode][1], results["cpu"][1], rtol=rtol, atol=1e-15)


def _nvrtc():
    """CUDA's runtime compiler where CuPy brings it (no GPU needed to compile), else None."""
    try:
        from cupy_backends.cuda.libs import nvrtc

        nvrtc.getVersion()
        return nvrtc
    except Exception:  # noqa: BLE001 - no CuPy, or no NVRTC library: the test is skipped
        return None


def test_every_kernel_compiles_as_cuda_with_nvrtc():
    """Each library kernel's C text compiled as CUDA device code by NVRTC, the compiler CuPy
    uses, in float32 and float64, laid out as CuPy's ElementwiseKernel lays out its loop (inputs
    as const references, outputs as references, scalars as doubles, each integer input its own
    type). Runs wherever CuPy and NVRTC are installed, GPU or not; the C++ build above checks
    what the text computes, this that CUDA's compiler takes it (math overloads in device code)."""
    nvrtc = _nvrtc()
    if nvrtc is None:
        pytest.skip("no CuPy with NVRTC here")
    integer_types = {"I": "long long", "J": "int", "L": "bool"}  # (types a call may give)
    for kernel in LIBRARY:
        for t in ("float", "double"):
            kinds = dict(zip(kernel.integers, integer_types))
            params = ([f"const {kinds.get(n, 'T')}* _raw_{n}" for n in kernel.inputs]
                      + [f"double {n}" for n in kernel.scalars]
                      + [f"T* _raw_{n}" for n in kernel.outputs])
            loop = ([f"const {kinds.get(n, 'T')} &{n} = _raw_{n}[i];" for n in kernel.inputs]
                    + [f"T &{n} = _raw_{n}[i];" for n in kernel.outputs])
            body, post_map = kernel.c_body, []
            if isinstance(kernel, SumOf):  # its map, then its post-map as CuPy's macro takes it
                body = f"T _m = {kernel.c_map};\nPOST_MAP(_m);"
                post_map = [f"#define POST_MAP(a) ({kernel.c_post_map})"]
            source = "\n".join(
                [f"typedef {t} T;", *(f"typedef {c} {k};" for k, c in integer_types.items()),
                 *post_map,
                 f'extern "C" __global__ void k({", ".join(params + ["long long _n"])}) {{',
                 "for (long long i = blockIdx.x * (long long) blockDim.x + threadIdx.x; i < _n;"
                 " i += (long long) blockDim.x * gridDim.x) {", *loop, body, "}", "}"])
            program = nvrtc.createProgram(source, f"{kernel.name}.cu", [], [])
            try:
                nvrtc.compileProgram(program, ["--gpu-architecture=compute_80", "-std=c++17"])
            except Exception as err:  # noqa: BLE001 - the compiler's log says why
                log = nvrtc.getProgramLog(program)
                pytest.fail(f"kernel {kernel.name} ({t}) does not compile: {err}\n{log}\n{source}")
            finally:
                nvrtc.destroyProgram(program)


def test_gelu_tanh_gradient_at_huge_inputs_equals_pytorchs_on_both_devices(cuda):
    """x/2 (1 - t^2) is taken before u' (PyTorch's order): at |x| = 1e19, t = +-1 and the product
    is 0, where u' first made inf * 0 = nan (on the CPU, and in the kernel's formula)."""
    torch = pytest.importorskip("torch")
    for dtype in (np.float32, np.float64):
        x = np.array([1e19, -1e19, 3e18, 2.0, -1.5, 0.0], dtype)
        xt = torch.tensor(x, requires_grad=True)
        torch.nn.functional.gelu(xt, approximate="tanh").sum().backward()
        for device in ("cpu", "cuda"):
            a = cr.tensor(x, requires_grad=True, device=device)
            cr.nn.functional.gelu(a, approximate="tanh").sum().backward()
            np.testing.assert_allclose(a.grad.cpu().numpy(), xt.grad.numpy(), rtol=2e-7,
                                       err_msg=f"{device} {dtype}")
