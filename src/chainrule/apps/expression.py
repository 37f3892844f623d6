"""Safe arithmetic expressions such as "5*a**2 + 3*b**2" or "sin(x) + y**2", evaluated with NumPy.

    f = compile_expression("5*a**2 + 3*b**2")
    f.variables                      # ('a', 'b')
    f(a=np.array([1.0, 2.0]), b=np.array([0.0, 1.0]))   # array([ 5., 23.])

How it stays safe: the text is parsed with Python's ``ast`` module into a syntax tree, and every
node of the tree is checked against a short whitelist before anything runs:

    numbers            3, 2.5, 1e-3
    variables          any name that is not a function or constant below (and not _private)
    operators          + - * / ** and unary - +, with parentheses
    function calls     abs cos exp log relu sigmoid sin sqrt tan tanh, with one argument each
    constants          pi, e

Anything else (attribute access, subscripts, lambdas, comprehensions, strings, keyword arguments,
comparisons, other functions) is a ValueError naming the offending piece. Nothing is ever passed
to eval, exec or compile: evaluation walks the checked tree and calls NumPy ufuncs, so the only
code that can run is the code in this file.
"""

from __future__ import annotations

import ast
import math
import numbers

import numpy as np

__all__ = ["compile_expression", "Expression", "FUNCTIONS", "CONSTANTS"]

MAX_LENGTH = 1000  # characters
MAX_DEPTH = 200    # nesting levels of the syntax tree (a + b + c nests one level per +)


def _sigmoid(x):
    """1 / (1 + exp(-x)), computed as 0.5 * tanh(x / 2) + 0.5, which cannot overflow."""
    return 0.5 * np.tanh(0.5 * x) + 0.5


def _relu(x):
    """max(x, 0), element-wise."""
    return np.maximum(x, 0.0)


FUNCTIONS = {
    "abs": np.abs,
    "cos": np.cos,
    "exp": np.exp,
    "log": np.log,
    "relu": _relu,
    "sigmoid": _sigmoid,
    "sin": np.sin,
    "sqrt": np.sqrt,
    "tan": np.tan,
    "tanh": np.tanh,
}

CONSTANTS = {"pi": math.pi, "e": math.e}

_BINARY_OPS = {
    ast.Add: ("+", np.add),
    ast.Sub: ("-", np.subtract),
    ast.Mult: ("*", np.multiply),
    ast.Div: ("/", np.divide),
    ast.Pow: ("**", np.power),
}

_UNARY_OPS = {
    ast.USub: ("-", np.negative),
    ast.UAdd: ("+", np.positive),
}

_ALLOWED = (
    "use numbers, variables, + - * / **, and the functions "
    + ", ".join(sorted(FUNCTIONS))
    + " (constants: pi, e)"
)


def _short(text: str, limit: int = 60) -> str:
    """``text`` cut to ``limit`` characters for an error message."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _reject(piece: str, reason: str = "") -> ValueError:
    reason = f" ({reason})" if reason else ""
    return ValueError(f"expression: {_short(piece)!r} is not allowed{reason}; {_ALLOWED}.")


class Expression:
    """A checked expression; call it with one array (or number) per variable.

    ``variables`` is the sorted tuple of free variable names. ``expr(a=..., b=...)`` evaluates
    element-wise with NumPy broadcasting; numbers in the text are Python floats, so float32
    inputs give float32 results. NumPy's own warnings (log of a negative number, overflow) are
    not silenced: check the result with ``chainrule.apps.csvdata.check_finite`` where it matters.
    """

    def __init__(self, text: str, tree: ast.Expression, variables: tuple):
        self.text = text
        self._tree = tree
        self.variables = variables

    def __call__(self, **arrays):
        missing = [v for v in self.variables if v not in arrays]
        if missing:
            raise ValueError(
                f"expression {_short(self.text)!r}: no value for the variable(s) "
                f"{', '.join(missing)}; it needs {', '.join(self.variables)}."
            )
        unknown = sorted(set(arrays) - set(self.variables))
        if unknown:
            raise ValueError(
                f"expression {_short(self.text)!r}: got values for {', '.join(unknown)}, which "
                f"it does not use; its variables are {', '.join(self.variables)}."
            )
        values = {name: _as_numbers(name, value) for name, value in arrays.items()}
        return _evaluate(self._tree.body, values)

    def __repr__(self) -> str:
        return f"Expression({self.text!r}, variables={self.variables})"


def _as_numbers(name: str, value):
    """A variable's value as an array of real numbers (a chainrule Tensor gives its data)."""
    data = getattr(value, "data", None)
    if isinstance(data, np.ndarray):  # a chainrule Tensor
        value = data
    if isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)):
        return float(value) if not isinstance(value, np.floating) else value
    array = np.asarray(value)
    if array.dtype.kind not in "iuf":
        raise TypeError(
            f"expression: the value of {name!r} must be numbers. Got dtype {array.dtype} instead."
        )
    return array


def _binary(ufunc, left, right):
    """ufunc(left, right); two Python floats give a Python float again (NumPy would make it a
    float64 scalar, which would then turn float32 arrays into float64)."""
    result = ufunc(left, right)
    if type(left) is float and type(right) is float:
        return float(result)
    return result


def _evaluate(node, values):
    """Evaluate a checked node: recursion depth is bounded by MAX_DEPTH."""
    if isinstance(node, ast.Constant):
        return node.value  # a float: _check converted every number
    if isinstance(node, ast.Name):
        if node.id in CONSTANTS:
            return CONSTANTS[node.id]
        return values[node.id]
    if isinstance(node, ast.BinOp):
        _, ufunc = _BINARY_OPS[type(node.op)]
        return _binary(ufunc, _evaluate(node.left, values), _evaluate(node.right, values))
    if isinstance(node, ast.UnaryOp):
        _, ufunc = _UNARY_OPS[type(node.op)]
        operand = _evaluate(node.operand, values)
        return float(ufunc(operand)) if type(operand) is float else ufunc(operand)
    if isinstance(node, ast.Call):
        argument = _evaluate(node.args[0], values)
        result = FUNCTIONS[node.func.id](argument)
        return float(result) if type(argument) is float else result
    raise AssertionError(f"unchecked node {type(node).__name__}")  # _check rejects everything else


def _piece(text: str, node) -> str:
    """The source text of ``node``, for an error message."""
    return ast.get_source_segment(text, node) or type(node).__name__


def _check(text: str, tree: ast.Expression) -> tuple:
    """Walk the tree (iteratively) and reject every node outside the whitelist.

    Returns the sorted tuple of variable names. Numbers are converted to Python floats in place,
    so evaluation never does integer arithmetic (9**9**9 as integers would take forever).
    """
    variables = set()
    stack = [(tree.body, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ValueError(
                f"expression: nested more than {MAX_DEPTH} levels deep; write it more simply."
            )
        if isinstance(node, ast.Constant):
            value = node.value
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise _reject(_piece(text, node), "only numbers are allowed as constants")
            try:
                node.value = float(value)
            except OverflowError:
                raise ValueError(
                    f"expression: the number {_short(_piece(text, node))!r} is too large."
                ) from None
        elif isinstance(node, ast.Name):
            name = node.id
            if name in FUNCTIONS:
                raise ValueError(
                    f"expression: {name!r} is a function; call it with one argument, "
                    f"as in {name}(x)."
                )
            if name.startswith("_"):
                raise _reject(name, "names may not start with an underscore")
            if name not in CONSTANTS:
                variables.add(name)
        elif isinstance(node, ast.BinOp):
            if type(node.op) not in _BINARY_OPS:
                raise _reject(_piece(text, node), "unsupported operator")
            stack += [(node.left, depth + 1), (node.right, depth + 1)]
        elif isinstance(node, ast.UnaryOp):
            if type(node.op) not in _UNARY_OPS:
                raise _reject(_piece(text, node), "unsupported operator")
            stack.append((node.operand, depth + 1))
        elif isinstance(node, ast.Call):
            func = node.func
            if not isinstance(func, ast.Name) or func.id not in FUNCTIONS:
                raise _reject(_piece(text, func), "unknown function")
            if node.keywords:
                raise _reject(_piece(text, node), "keyword arguments are not allowed")
            if len(node.args) != 1:
                raise ValueError(
                    f"expression: {func.id} takes exactly one argument; got {len(node.args)} "
                    f"in {_short(_piece(text, node))!r}."
                )
            stack.append((node.args[0], depth + 1))
        else:
            raise _reject(_piece(text, node))
    return tuple(sorted(variables))


def compile_expression(text: str) -> Expression:
    """Parse and check ``text``; return an Expression to call with one array per variable.

    Raises ValueError, in one sentence, for text that is too long (over 1000 characters), a
    syntax error (with its column), any construct outside the whitelist (naming it), or an
    expression that names no variables.
    """
    if not isinstance(text, str):
        raise TypeError(f"expression: expected a string. Got {type(text).__name__} instead.")
    if len(text) > MAX_LENGTH:
        raise ValueError(
            f"expression: the text is {len(text)} characters long; the limit is {MAX_LENGTH}."
        )
    if not text.strip():
        raise ValueError("expression: the text is empty; write something like '5*a**2 + 3*b'.")
    source = text.strip()
    if "\n" in source or "\r" in source:
        raise ValueError("expression: write the expression on a single line.")
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as err:
        column = err.offset or 0
        where = f"column {column}" if 0 < column <= len(source) else "the end"
        raise ValueError(
            f"expression: invalid syntax at {where} of {_short(source)!r} ({err.msg})."
        ) from None
    except ValueError as err:  # e.g. a null byte in the text, on some Python versions
        raise ValueError(f"expression: cannot parse {_short(source)!r} ({err}).") from None
    except (RecursionError, MemoryError):
        raise ValueError(
            f"expression: nested more than {MAX_DEPTH} levels deep; write it more simply."
        ) from None
    variables = _check(source, tree)
    if not variables:
        raise ValueError(
            f"expression: {_short(source)!r} names no variables; use at least one, "
            f"as in '5*a**2 + 3*b'."
        )
    return Expression(source, tree, variables)
