"""Element-wise chains as one GPU kernel: one formula, read by NumPy and compiled by CuPy.

On a GPU each NumPy call on a device array launches one kernel, and each launch costs the host
about 10 µs, however few numbers it touches. GELU's backward written as NumPy calls is 13
launches; as one CUDA kernel it is one. An ``Elementwise`` is such a chain, written once as a
formula:

    tanh_backward = Elementwise("tanh_backward", inputs="g, y", outputs="dx",
                                body="dx = g * (1 - y * y)")
    dx = tanh_backward(grad_y, y)     # one kernel on a GPU; None on the CPU

The formula is a small language that reads the same in Python and in C: statements, one per line
or separated by ``;``, that assign (``=``, ``+=``, ``-=``, ``*=``, ``/=``) to an output or to a
name of its own an expression of the inputs, scalars, constants, earlier results and numbers,
with ``+ - * /``, comparisons (numbers: 1 where true, 0 where false), ``where(c, a, b)`` and the
functions exp, log, sqrt, tanh and erf. The inputs are float arrays of one dtype (T), broadcast
together, or integer and boolean arrays declared ``name:int`` (class indices, masks); scalars are
numbers given at each call, constants numbers fixed when the kernel is made. An output that the
formula reads before it assigns it is updated in place: the caller passes it (``out=``), as an
optimizer passes its state. ``SumOf`` sums one such expression over some axes. The formula is
checked when the kernel is made (``FormulaError`` names what it cannot take), and then:

- on a GPU it is translated to C and compiled into a ``cupy.ElementwiseKernel`` (``SumOf``: a
  ``cupy.ReductionKernel``) at its first call: one launch from then on. The C computes what NumPy
  computes: every operation parenthesised; numbers are doubles among themselves and T where they
  meet a T array (NumPy reads a Python number in the array's dtype), so a float32 kernel computes
  in float32; integer inputs are doubles (no division is an integer one); a comparison is 1 or 0;
  names of C, C++ and the kernel itself (and upper-case names, C's macros') are refused;
- on the CPU stand-in the same text runs through NumPy and counts as one launch, so every device
  test checks the formula against the CPU's op;
- on the CPU, calling it returns None: the op runs its own NumPy code, written for the CPU's speed
  (in place, few temporaries). A fused kernel is a GPU's faster path, never an op's only one. So
  is it for float16 (whose arithmetic in C is CuPy's own type), and for arrays of mixed dtypes.

If a kernel fails the first time it runs for a dtype (CuPy cannot compile it, say), chainrule
warns once and the op runs unfused for that dtype: more launches, the same numbers.
``use_fused_kernels(False)``, ``with fusing(False):`` or ``CHAINRULE_FUSED=0`` in the environment
turn them off, so that a benchmark can measure the difference. tests/test_kernels.py builds each
kernel's C text with the host's C++ compiler and checks that it computes what its NumPy reading
computes, in float32 and float64.
"""

from __future__ import annotations

import ast
import contextlib
import os
import sys
import warnings

import numpy as np

from . import backend

__all__ = ["Elementwise", "SumOf", "FormulaError", "use_fused_kernels", "fused_kernels_enabled",
           "fusing", "sum_of_products", "sum_of_products_kernel", "KERNELS"]

_enabled = os.environ.get("CHAINRULE_FUSED", "1") != "0"
KERNELS: list = []  # every Elementwise made, for the tests and the benchmarks


def use_fused_kernels(enabled: bool = True) -> None:
    """Run element-wise chains as one fused kernel each on a GPU (True, the default), or as the
    ops' NumPy calls (False), to measure what fusing gains. The numbers agree to rounding."""
    global _enabled
    _enabled = bool(enabled)


def fused_kernels_enabled() -> bool:
    return _enabled


@contextlib.contextmanager
def fusing(enabled: bool):
    """``with fusing(False):`` runs its block without fused kernels (or with them, True), and
    puts back the setting it found."""
    previous = _enabled
    use_fused_kernels(enabled)
    try:
        yield
    finally:
        use_fused_kernels(previous)


class FormulaError(ValueError):
    """A formula an Elementwise cannot take, with the reason and the text at fault."""


# the formula's functions: their NumPy reading (erf, which NumPy lacks, from chainrule's own)
def _erf(x):
    from .ops.activation import _erf_elementwise

    return np.asarray(_erf_elementwise(x), dtype=np.result_type(x, np.float32))


_FUNCTIONS = {"exp": np.exp, "log": np.log, "sqrt": np.sqrt, "tanh": np.tanh, "erf": _erf,
              "where": np.where}
_ARITY = {"where": 3}
_OPERATORS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}
_COMPARISONS = {ast.Gt: ">", ast.GtE: ">=", ast.Lt: "<", ast.LtE: "<=", ast.Eq: "==",
                ast.NotEq: "!="}
_INTEGER_TYPES = ("I", "J", "L")  # C type names of integer inputs (CuPy: each a placeholder)
# names a formula may not use: the kernel's own (i, n and what starts with _), C++'s words, and
# (for anything but a constant, which C reads as its number) upper-case names, C's macros' own
_RESERVED = {"i", "n", *"""alignas alignof and and_eq asm auto bitand bitor bool break case catch
    char char8_t char16_t char32_t class compl concept const consteval constexpr constinit
    const_cast continue co_await co_return co_yield decltype default delete do double
    dynamic_cast else enum explicit export extern false float for friend goto if inline int long
    mutable namespace new noexcept not not_eq nullptr operator or or_eq private protected public
    register reinterpret_cast requires return short signed sizeof static static_assert
    static_cast struct switch template this thread_local throw true try typedef typeid typename
    union unsigned using virtual void volatile wchar_t while xor xor_eq
    errno math_errhandling assert linux unix isnan isinf isfinite isnormal signbit fpclassify
    offsetof threadIdx blockIdx blockDim gridDim warpSize""".split()}


_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _names(text: str) -> tuple:
    return tuple(name.strip() for name in text.split(",") if name.strip())


class Elementwise:
    """One element-wise formula (see the module's docstring): ``inputs`` and ``outputs`` are
    arrays of one float dtype, broadcast together, but for inputs declared ``name:int`` (integer
    or boolean arrays); ``scalars`` are numbers given at each call (float64 in C); ``constants``
    are numbers fixed when the kernel is made."""

    def __init__(self, name: str, inputs: str, outputs: str, body: str, scalars: str = "",
                 constants: dict | None = None):
        self.name = name
        self.outputs, self.scalars = _names(outputs), _names(scalars)
        # "t:int" declares an integer or boolean array (class indices, a mask): any such dtype
        declared = _names(inputs)
        self.inputs = tuple(n.split(":")[0].strip() for n in declared)
        self.integers = tuple(n.split(":")[0].strip() for n in declared if n.endswith(":int"))
        if len(self.integers) > len(_INTEGER_TYPES) or len(self.integers) == len(self.inputs):
            raise FormulaError(f"kernel {name}: at most {len(_INTEGER_TYPES)} integer inputs, and "
                               "at least one float input (its dtype is the outputs').")
        self.constants = {k: float(v) for k, v in (constants or {}).items()}  # (Python floats)
        self.body = body
        try:
            tree = ast.parse(body.strip())
        except SyntaxError as err:
            raise FormulaError(f"kernel {name}: the formula is not valid: {err.msg} "
                               f"in {err.text!r}") from None
        self.locals, self.updates = _check(name, tree, self)
        self.c_body, python = _translate(tree, self)
        self._python = compile(ast.fix_missing_locations(python), f"<kernel {name}>", "exec")
        self.module = sys._getframe(1).f_globals.get("__name__", "")  # where it was made
        self._cupy_kernel = None
        self._ran: set = set()     # dtypes it has run for on the GPU
        self._failed: set = set()  # dtypes CuPy could not run it for (then the op runs unfused)
        KERNELS.append(self)

    def __repr__(self):
        return f"Elementwise({self.name!r}: {', '.join(self.inputs + self.scalars)} -> " \
               f"{', '.join(self.outputs)})"

    # -- a call ----------------------------------------------------------------------------------
    def __call__(self, *args, out=None):
        """The outputs (one array, or a tuple of them) computed by one kernel, or None where no
        kernel runs (host arrays, fusion turned off, a kernel CuPy could not run): then the
        caller computes the same with its NumPy code. ``args`` are the inputs, then the scalars;
        ``out`` the output arrays to write (all of them, required for outputs the formula
        updates)."""
        given = self._device_arguments(args)
        if given is None:
            return None
        arrays, numbers = given
        if out is not None:
            out = out if isinstance(out, tuple) else (out,)
            if len(out) != len(self.outputs):
                raise TypeError(f"kernel {self.name}: out= takes all {len(self.outputs)} outputs "
                                f"({', '.join(self.outputs)}), got {len(out)}.")
        elif self.updates:
            raise TypeError(f"kernel {self.name}: updates {', '.join(self.updates)} in place: "
                            "pass them as out=.")
        if not self._fits(arrays, out or ()):  # (else the op's own NumPy code)
            return None
        if backend.cuda_backend().name == "standin":
            results = self._run_on_standin(arrays, numbers, out)
        else:
            results = self._run_on_gpu(arrays, numbers, out)
            if results is None:
                return None
        return results[0] if len(results) == 1 else results

    def _device_arguments(self, args):
        """(arrays, numbers) of a call with the inputs and then the scalars, or None where no
        kernel runs (host arrays, fusion turned off); a wrong count of values raises."""
        first = args[0]
        if type(first) is np.ndarray or not _enabled or not backend.is_device_array(first):
            return None
        n_in = len(self.inputs)
        if len(args) != n_in + len(self.scalars):
            raise TypeError(f"kernel {self.name}: takes {n_in} arrays ({', '.join(self.inputs)}) "
                            f"and {len(self.scalars)} numbers ({', '.join(self.scalars)}), got "
                            f"{len(args)} values.")
        return args[:n_in], [float(s) for s in args[n_in:]]

    def _fits(self, arrays, out):
        """Whether the kernel takes these: device arrays, the float ones (and outputs) of one
        dtype, the integer ones of an integer dtype."""
        dtype = None
        for name, a in zip(self.inputs + self.outputs[:len(out)], (*arrays, *out)):
            if not backend.is_device_array(a):
                return False
            if name in self.integers:
                if a.dtype.kind not in "iub":
                    return False
            elif dtype is None:
                dtype = a.dtype
                if dtype not in _FLOATS:  # (float16's arithmetic in C is CuPy's own type)
                    return False
            elif a.dtype != dtype:
                return False
        return True

    def _dtype(self, arrays):
        """T: the dtype of the float inputs."""
        return next(a.dtype for n, a in zip(self.inputs, arrays) if n not in self.integers)

    def _params(self):
        kinds = dict(zip(self.integers, _INTEGER_TYPES))
        return [f"{kinds.get(n, 'T')} {n}" for n in self.inputs]

    def _run_on_gpu(self, arrays, numbers, out):
        return self._launch(self._dtype(arrays), (*arrays, *numbers, *(out or ())), {}, 4)

    def _make_cupy_kernel(self):
        import cupy

        params = self._params() + [f"float64 {n}" for n in self.scalars]
        return cupy.ElementwiseKernel(", ".join(params), ", ".join(f"T {n}" for n in self.outputs),
                                      self.c_body, f"chainrule_{self.name}")

    def _launch(self, dtype, args, kwargs, stacklevel):
        """The CuPy kernel's results (a tuple), or None where it cannot run for this dtype: the
        first failure for a dtype (made, compiled or run) warns, naming the op's line
        (``stacklevel``), and later calls for that dtype do not try again."""
        if dtype in self._failed:
            return None
        if dtype in self._ran:
            results = self._cupy_kernel(*args, **kwargs)
        else:
            try:
                if self._cupy_kernel is None:
                    self._cupy_kernel = self._make_cupy_kernel()
                results = self._cupy_kernel(*args, **kwargs)
            except Exception as err:  # noqa: BLE001 - whatever CuPy raises, the op can do without
                self._failed.add(dtype)
                warnings.warn(f"chainrule: the fused kernel {self.name} did not run on this GPU "
                              f"for {dtype} ({type(err).__name__}: {err}); its op runs as "
                              "separate operations instead (the same numbers, more launches).",
                              RuntimeWarning, stacklevel=stacklevel)
                return None
            self._ran.add(dtype)
        return results if isinstance(results, tuple) else (results,)

    def _run_on_standin(self, arrays, numbers, out):
        """The formula read by NumPy on the arrays inside the stand-in's, as one launch."""
        from . import standin

        standin._launched()
        results = self.evaluate([a._a for a in arrays], numbers,
                                None if out is None else [o._a for o in out])
        return out if out is not None else tuple(standin.StandInArray(r) for r in results)

    def evaluate(self, arrays, numbers=(), out=None):
        """The formula read by NumPy: the outputs (a list) for NumPy ``arrays`` and ``numbers``,
        written into ``out`` when given. The stand-in device runs kernels this way, and the tests
        compare it with the formula's C reading."""
        floats = [a for n, a in zip(self.inputs, arrays) if n not in self.integers]
        dtypes = {a.dtype for a in [*floats, *(out or [])]}
        if len(dtypes) != 1:
            raise TypeError(f"kernel {self.name}: its arrays must share one dtype (as CuPy's "
                            f"type T), got {', '.join(sorted(str(d) for d in dtypes))}.")
        (dtype,) = dtypes
        shape = np.broadcast_shapes(*(a.shape for a in [*arrays, *(out or [])]))
        arrays = [a.astype(np.float64) if n in self.integers else a  # (C reads them as doubles)
                  for n, a in zip(self.inputs, arrays)]
        names = {**_FUNCTIONS, **_NUMBER_HELPERS, **self.constants, **dict(zip(self.inputs, arrays)),
                 **dict(zip(self.scalars, (float(n) for n in numbers))),
                 "_t": lambda v: np.asarray(v, dtype=dtype),       # a value stored as T
                 "_number": lambda c: np.asarray(c, dtype=dtype)}  # a comparison: 1 or 0
        if out is not None:
            names.update(zip(self.outputs, out))
        with np.errstate(all="ignore"):  # a GPU kernel never warns
            exec(self._python, {"__builtins__": {}}, names)
        targets = list(out) if out is not None else [np.empty(shape, dtype) for _ in self.outputs]
        for name, target in zip(self.outputs, targets):
            if names[name] is not target:
                target[...] = names[name]
        return targets


class SumOf(Elementwise):
    """The sum over some axes of one element-wise expression of arrays, as one kernel on a GPU
    (where NumPy would make the products, then sum them: two launches), and optionally a formula
    of each sum (``then``, reading the sum as ``s``) in the same kernel:

        sum_of_products = SumOf("sum_of_products", "x, y", "x * y")
        s = sum_of_products(g, x_hat, axis=(1,), keepdims=True)    # (g * x_hat).sum(1, keepdims)
        inv_std = SumOf("inv_std", "x, mu", "(x - mu) * (x - mu)", then="1 / sqrt(s / m + eps)",
                        scalars="m, eps")
        r = inv_std(x, mu, m, eps, axis=1, keepdims=True)          # 1 / sqrt(var + eps)

    On a GPU a ``cupy.ReductionKernel`` whose map is the expression in C, whose reduction is +
    and whose post-map is ``then``; on the stand-in NumPy's sum of the expression read by NumPy,
    then ``then`` read by NumPy; on the CPU None, as for ``Elementwise``. ``a`` and ``b`` are the
    reduction's own names in CuPy: no input takes them. Scalars are numbers given at each call
    (after the arrays), which both the expression and ``then`` may read."""

    def __init__(self, name: str, inputs: str, expression: str, then: str | None = None,
                 scalars: str = "", constants: dict | None = None):
        names = {n.split(":")[0].strip() for n in _names(inputs) + _names(scalars)}
        if {"a", "b", "s"} & (names | set(constants or {})):
            raise FormulaError(f"kernel {name}: a, b and s are the reduction's own names; name "
                               "the inputs, scalars and constants otherwise.")
        super().__init__(name, inputs, "s", f"s = {expression}", scalars, constants)
        self.module = sys._getframe(1).f_globals.get("__name__", "")  # (not this module)
        if self.locals or "\n" in self.c_body or self.updates:
            raise FormulaError(f"kernel {name}: a sum takes one expression of its inputs, not "
                               "statements, and not s (the sum itself).")
        self.c_map = self.c_body[len("s = "):-1]  # the expression's C (without "s = " and ";")
        # then: s = f(s) after the sum, an Elementwise of its own (so that the tests check its C
        # as every kernel's), written in CuPy's name for the reduced value, a
        self.then = None if then is None else _then_kernel(name, then, scalars, constants,
                                                           self.module)
        self.c_post_map = "s = a" if then is None else self.then.c_body[:-1]

    def __call__(self, *args, axis=None, keepdims=False):
        """The sum of the expression over ``axis`` (an int, a tuple, None for all) of these
        arrays (then the scalars), or None where no kernel runs (then the caller sums with
        NumPy)."""
        given = self._device_arguments(args)
        if given is None or not self._fits(given[0], ()):
            return None
        arrays, numbers = given
        if backend.cuda_backend().name == "standin":
            from . import standin

            standin._launched()
            return standin.StandInArray(self.evaluate_sum([a._a for a in arrays], numbers, axis,
                                                          keepdims))
        results = self._launch(self._dtype(arrays), (*arrays, *numbers),
                               {"axis": axis, "keepdims": keepdims}, 3)
        return None if results is None else results[0]

    def evaluate_sum(self, arrays, numbers=(), axis=None, keepdims=False):
        """The kernel read by NumPy: the sum of the expression over ``axis``, then ``then``."""
        total = np.asarray(self.evaluate(arrays, numbers)[0].sum(axis=axis, keepdims=keepdims))
        return total if self.then is None else self.then.evaluate([total], numbers)[0]

    def _make_cupy_kernel(self):
        import cupy

        params = self._params() + [f"float64 {n}" for n in self.scalars]
        return cupy.ReductionKernel(", ".join(params), "T s", self.c_map, "a + b",
                                    self.c_post_map, "0", f"chainrule_{self.name}")


class _Renamed(ast.NodeTransformer):
    """A formula's names, renamed by a dict."""

    def __init__(self, names):
        self.names = names

    def visit_Name(self, node):
        return ast.copy_location(ast.Name(self.names.get(node.id, node.id), node.ctx), node)


def _then_kernel(name, then, scalars, constants, module):
    """SumOf's ``then``: ``s = then`` with the sum named a (CuPy's name for it in a post-map),
    as an Elementwise of its own; ``then`` reads s, the scalars and the constants only."""
    try:
        tree = ast.parse(then.strip(), mode="eval")
    except SyntaxError as err:
        raise FormulaError(f"kernel {name}: then is not valid: {err.msg} in {err.text!r}") from None
    read = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    if read & {"a", "b"}:
        raise FormulaError(f"kernel {name}: then reads the sum as s (a and b are the "
                           f"reduction's own names), in {then!r}.")
    renamed = ast.unparse(_Renamed({"s": "a"}).visit(tree))
    kernel = Elementwise(f"{name}_then", "a", "s", f"s = {renamed}", scalars, constants)
    kernel.module = module
    return kernel


# ----- the formula: checked, and translated to C ------------------------------------------------
def _fail(name, why, node=None):
    where = f" in {ast.unparse(node)!r}" if node is not None else ""
    raise FormulaError(f"kernel {name}: {why}{where}.")


def _check(name, tree, kernel):
    """The names the formula makes for itself (in order), and the outputs it reads before it
    assigns them (updated in place); raises FormulaError for anything outside the language."""
    given = set(kernel.inputs) | set(kernel.scalars) | set(kernel.constants)
    every = kernel.inputs + kernel.outputs + kernel.scalars + tuple(kernel.constants)
    for n in every:
        if not n.isidentifier() or _reserved(n) or (n.isupper() and n not in kernel.constants):
            _fail(name, f"{n!r} cannot name an array or number (a name C or the kernel uses, "
                        "or upper-case: those are constants' and C's macros')")
    if len(set(every)) != len(every):
        _fail(name, f"a name is used twice among {', '.join(every)}")
    for n, value in kernel.constants.items():
        if not _finite(value):
            _fail(name, f"constant {n} = {value} is not a finite number")
    defined, made, updates = set(given), [], []

    def expression(node):
        if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
            expression(node.left)
            expression(node.right)
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            expression(node.operand)
        elif isinstance(node, ast.Compare):
            if len(node.ops) != 1 or type(node.ops[0]) not in _COMPARISONS:
                _fail(name, "a comparison takes one of > >= < <= == != between two values", node)
            expression(node.left)
            expression(node.comparators[0])
        elif isinstance(node, ast.Call):
            f = getattr(node.func, "id", None)
            if f not in _FUNCTIONS or node.keywords or len(node.args) != _ARITY.get(f, 1):
                _fail(name, f"functions are {', '.join(_FUNCTIONS)}, called with their "
                            "arguments in order", node)
            for arg in node.args:
                expression(arg)
        elif isinstance(node, ast.Name):
            if node.id in kernel.outputs and node.id not in defined and node.id not in updates:
                updates.append(node.id)  # read before it is assigned: its value is given
            elif node.id not in defined and node.id not in kernel.outputs:
                _fail(name, f"{node.id!r} is used before it is given or assigned", node)
        elif isinstance(node, ast.Constant) and type(node.value) in (int, float):
            if not _finite(node.value):
                _fail(name, "numbers must be finite (and within a double's range)", node)
        else:
            _fail(name, "an expression takes names, numbers, + - * /, comparisons and the "
                        f"functions {', '.join(_FUNCTIONS)}", node)

    for statement in tree.body:
        augmented = isinstance(statement, ast.AugAssign) and type(statement.op) in _OPERATORS
        plain = isinstance(statement, ast.Assign) and len(statement.targets) == 1
        target = statement.target if augmented else statement.targets[0] if plain else None
        if not isinstance(target, ast.Name):
            _fail(name, "each statement assigns (=, +=, -=, *=, /=) one name", statement)
        if augmented:
            expression(target)  # (it reads the target too)
        expression(statement.value)
        if target.id in given or _reserved(target.id) or target.id.isupper():
            _fail(name, f"{target.id!r} cannot be assigned (an input, a number, a name C or the "
                        "kernel uses, or upper-case)", statement)
        if target.id not in kernel.outputs and target.id not in defined:
            made.append(target.id)
        defined.add(target.id)
    missing = [o for o in kernel.outputs if o not in defined]
    if missing:
        _fail(name, f"the outputs {', '.join(missing)} are never assigned")
    return tuple(made), tuple(updates)


def _reserved(n) -> bool:
    return n.startswith("_") or n in _RESERVED or n in _FUNCTIONS


def _finite(value) -> bool:
    try:
        return bool(np.isfinite(float(value)))
    except OverflowError:  # an integer past a double's range
        return False


def _c_number(value) -> str:
    text = repr(float(value))  # the shortest text that reads back as this double, valid in C
    text = text if any(c in text for c in ".e") else text + ".0"
    return f"({text})" if text.startswith("-") else text  # (- -0.5 must not read as --0.5)


# What a C expression computes in, as NumPy computes it: "T" the kernel's float dtype (an array
# of it, or a number met with one: NumPy reads a Python number in the array's dtype), "S" a double
# number (numbers, scalars and constants among themselves), "D" a double array (an integer input,
# and what meets one: NumPy makes float64 of int64 with floats).
def _kind(a, b):
    return a if a == b else "T" if {a, b} == {"T", "S"} else "D"


def _translate(tree, kernel):
    """The formula in C, and in Python for NumPy (a new tree), computing the same: every
    operation in parentheses; numbers as doubles, turned to T where they meet T (as NumPy's weak
    Python numbers), so that a float32 kernel computes in float32 as NumPy does; integer inputs
    as doubles (no integer division); comparisons as numbers, 1 or 0, in both readings; a name of
    the formula's own declared where it is first assigned, of its value's kind (a later
    assignment of another kind is refused; outputs and T names store their value as T, in both
    readings). In Python, numbers stay Python floats (weak, as in C) through functions, ``where``
    and division by zero, which C computes as IEEE doubles (inf, nan) where Python would raise."""
    constants, kinds = kernel.constants, {o: "T" for o in kernel.outputs}

    def call(name, *args):
        return ast.Call(ast.Name(name, ast.Load()), list(args), [])

    def as_t(text, kind):
        return f"((T) {text})" if kind == "S" else text

    def pair(left, right):
        (lt, lk, lp), (rt, rk, rp) = c(left), c(right)
        kind = _kind(lk, rk)
        if kind == "T":
            lt, rt = as_t(lt, lk), as_t(rt, rk)
        return lt, rt, kind, lp, rp

    def c(node):
        """(C text, kind, Python node) of an expression."""
        if isinstance(node, ast.BinOp):
            lt, rt, kind, lp, rp = pair(node.left, node.right)
            op = type(node.op)
            python = (call("_s_divide", lp, rp) if kind == "S" and op is ast.Div
                      else ast.BinOp(lp, node.op, rp))
            return f"({lt} {_OPERATORS[op]} {rt})", kind, python
        if isinstance(node, ast.UnaryOp):
            text, kind, python = c(node.operand)
            sign = "-" if isinstance(node.op, ast.USub) else "+"
            return f"({sign}{text})", kind, ast.UnaryOp(node.op, python)
        if isinstance(node, ast.Compare):
            lt, rt, _, lp, rp = pair(node.left, node.comparators[0])
            op = _COMPARISONS[type(node.ops[0])]
            return (f"(({lt} {op} {rt}) ? ((T) 1.0) : ((T) 0.0))", "T",
                    call("_number", ast.Compare(lp, node.ops, [rp])))
        if isinstance(node, ast.Call) and node.func.id == "where":
            ct, ck, cp = c(node.args[0])
            at, bt, kind, ap, bp = pair(node.args[1], node.args[2])
            if kind == "S" and ck != "S":  # two numbers chosen per element: a double array
                return f"({ct} ? {at} : {bt})", "D", call("_d_where", cp, ap, bp)
            return f"({ct} ? {at} : {bt})", kind, call("_s_where" if kind == "S" else "where",
                                                        cp, ap, bp)
        if isinstance(node, ast.Call):
            text, kind, python = c(node.args[0])
            name = node.func.id
            kind = kind if kind in "TS" else "D"
            return f"{name}({text})", kind, call(f"_s_{name}" if kind == "S" else name, python)
        if isinstance(node, ast.Name):
            n, python = node.id, ast.Name(node.id, ast.Load())
            if n in constants:
                return _c_number(constants[n]), "S", python
            if n in kernel.scalars:
                return n, "S", python
            if n in kernel.integers:
                return f"((double) {n})", "D", python  # (evaluate reads them as float64)
            return n, kinds.get(n, "T"), python  # a float input, an output, or a name of its own
        return _c_number(node.value), "S", ast.Constant(float(node.value))

    lines, python = [], []
    for statement in tree.body:
        augmented = isinstance(statement, ast.AugAssign)
        target = statement.target.id if augmented else statement.targets[0].id
        text, value_kind, value = c(statement.value)
        kind = _kind(kinds[target], value_kind) if augmented else value_kind
        declared = kinds.get(target)
        if declared is None:  # a name of its own, first assigned here
            kinds[target] = declared = kind
            lines.append(f"{'T' if kind == 'T' else 'double'} {target} = {text};")
        elif declared != "T" and kind != declared:
            _fail(kernel.name, f"{target!r} holds a double (a number, or an array made with an "
                               "integer input); it cannot take a value of another type: name it "
                               "anew", statement)
        else:
            if declared == "T" and augmented:
                text = as_t(text, value_kind)
            elif declared == "T" and kind != "T":
                text = f"((T) {text})"
            op = _OPERATORS[type(statement.op)] + "=" if augmented else "="
            lines.append(f"{target} {op} {text};")
        if augmented:
            own = ast.Name(target, ast.Load())
            value = (call("_s_divide", own, value)
                     if kind == "S" and isinstance(statement.op, ast.Div)
                     else ast.BinOp(own, statement.op, value))
        if declared == "T":
            value = call("_t", value)
        python.append(ast.Assign([ast.Name(target, ast.Store())], value))
    return "\n".join(lines), ast.Module(python, [])


def _ieee(function):
    """``function`` of a Python number as C computes it in double: inf and nan, never an error."""
    def number(*args):
        with np.errstate(all="ignore"):
            return float(function(*(np.float64(a) for a in args)))
    return number


# the Python reading's helpers for numbers (kind S) and choices of numbers per element (kind D)
_NUMBER_HELPERS = {**{f"_s_{name}": _ieee(f) for name, f in _FUNCTIONS.items() if name != "where"},
                   "_s_divide": _ieee(np.divide),
                   "_s_where": lambda c, a, b: float(a) if c else float(b),
                   "_d_where": lambda c, a, b: np.where(c, np.float64(a), np.float64(b))}


# ----- kernels the ops share --------------------------------------------------------------------
sum_of_products_kernel = SumOf("sum_of_products", "x, y", "x * y")


def sum_of_products(x, y, axis=None, keepdims=False):
    """(x * y).sum(axis, keepdims=keepdims): one kernel on a GPU, NumPy's product and sum
    elsewhere (softmax's and attention's backward and the norms' affine gradient take it)."""
    fused = sum_of_products_kernel(x, y, axis=axis, keepdims=keepdims)
    return (x * y).sum(axis=axis, keepdims=keepdims) if fused is None else fused
