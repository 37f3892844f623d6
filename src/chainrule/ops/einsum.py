"""Einstein summation, and the batched matrix products bmm and baddbmm.

einsum names every dim of every operand with a letter; letters shared between operands are
multiplied together, and letters missing from the output are summed over:

    'bhqd,bhkd->bhqk'   scores[b,h,q,k] = sum_d Q[b,h,q,d] * K[b,h,k,d]      (attention's Q Kᵀ)
    'bhqk,bhkd->bhqd'   out[b,h,q,d]    = sum_k P[b,h,q,k] * V[b,h,k,d]      (weights times V)
    'bi,bj->bij'        outer products per sample;  'ij,j->i' a matrix times a vector

The derivative with respect to one operand is itself an einsum: the output's gradient times all
the other operands, with that operand's letters as the output. For 'ij,jk->ik' (A B = C) that is
dL/dA = einsum('ik,jk->ij', dL/dC, B) = dL/dC Bᵀ, the matmul rule.

'...' stands for the same trailing run of dims in each operand (written out as letters before
the op runs). Every dim a letter names must have one size: PyTorch's broadcasting of size-1 dims
is refused with a message (expand the operand first). Two operands are contracted as one batched
matrix product (``_contract``), three or more by NumPy's planned einsum.

bmm and baddbmm are compositions of matmul (and mul, add), so their gradients are matmul's.
"""

from __future__ import annotations

import string

import numpy as np

from ..autograd import Function
from ..backend import as_array, get_array_module


def _gradient_equation(inputs, output, k, sizes, dtype, xp=np):
    """The einsum that gives dL/d(operand k), and the constant operands it needs.

    dL/dX_k = einsum(output, other operands... -> X_k's letters)(dL/dY, others...), with two
    repairs for what an einsum output cannot say directly:
      * a letter repeated in X_k ('ii->i', a diagonal): the output may name each letter once, so
        the second occurrence gets a fresh letter f, tied to the first by an identity matrix
        operand eye[i, f]: the gradient lands on the diagonal only;
      * a letter that only X_k has (summed over X_k alone, as j in 'ij->i'): nothing else carries
        it, so a vector of ones with that letter is added: the gradient is copied along it.
    Returns (equation, constant arrays, to be passed after dL/dY and the other operands).
    """
    used = set("".join(inputs) + output)
    fresh = (c for c in string.ascii_letters if c not in used)
    carried = set(output).union(*(set(s) for j, s in enumerate(inputs) if j != k))
    extra_subscripts, extra_arrays, target, seen = [], [], [], set()
    for letter in inputs[k]:
        if letter in seen:
            tied = next(fresh)
            extra_subscripts.append(letter + tied)
            extra_arrays.append(xp.eye(sizes[letter], dtype=dtype))
            target.append(tied)
            continue
        seen.add(letter)
        target.append(letter)
        if letter not in carried:
            extra_subscripts.append(letter)
            extra_arrays.append(xp.ones(sizes[letter], dtype=dtype))
            carried.add(letter)
    others = [s for j, s in enumerate(inputs) if j != k]
    equation = ",".join([output, *others, *extra_subscripts]) + "->" + "".join(target)
    return equation, extra_arrays


def _contract(equation, *arrays):
    """np.einsum(equation, *arrays), with two operands as one batched matrix product (BLAS, about
    10x faster than NumPy's own einsum loop on attention's shapes): each operand's letters sorted
    into batch (in both and the output), free (in one and the output) and contracted (in both, not
    the output), summed first over letters only it has, then transposed and reshaped to
    (batch, free, contracted) @ (batch, contracted, free)."""
    inputs, output = equation.split("->")
    operands = inputs.split(",")
    if len(operands) != 2 or any(len(set(s)) != len(s) for s in operands):
        return np.einsum(equation, *arrays, optimize=_optimize(equation))
    (sa, sb), (a, b) = operands, arrays
    a, sa = _sum_own_letters(a, sa, sb + output)
    b, sb = _sum_own_letters(b, sb, sa + output)
    batch = [c for c in output if c in sa and c in sb]
    left = [c for c in output if c in sa and c not in sb]
    right = [c for c in output if c in sb and c not in sa]
    inner = [c for c in sa if c in sb and c not in output]
    size = dict(zip(sa, a.shape)) | dict(zip(sb, b.shape))
    count = lambda letters: int(np.prod([size[c] for c in letters]))  # noqa: E731
    a = np.transpose(a, [sa.index(c) for c in batch + left + inner])
    b = np.transpose(b, [sb.index(c) for c in batch + inner + right])
    y = np.matmul(a.reshape(count(batch), count(left), count(inner)),
                  b.reshape(count(batch), count(inner), count(right)))
    y = y.reshape([size[c] for c in batch + left + right])
    order = batch + left + right
    return np.transpose(y, [order.index(c) for c in output])


def _sum_own_letters(x, letters, elsewhere):
    """x summed over the letters nothing else names (they are summed out anyway)."""
    own = [i for i, c in enumerate(letters) if c not in elsewhere]
    if not own:
        return x, letters
    return x.sum(axis=tuple(own)), "".join(c for c in letters if c in elsewhere)


def _optimize(equation):
    """Whether NumPy should plan the contraction (BLAS through tensordot, pairwise order): worth
    it for three or more operands, and for two without a batch letter (one in every operand and
    the output), which NumPy's planner cannot hand to BLAS anyway."""
    inputs, output = equation.split("->")
    operands = inputs.split(",")
    if len(operands) < 2:
        return False
    if len(operands) > 2:
        return True
    return not (set(operands[0]) & set(operands[1]) & set(output))


class Einsum(Function):
    """Einstein summation over operands named by letters (see the module docstring).

    forward:  Y[out letters] = sum over the letters not in out of  X_1[letters_1] * X_2[...] * ...
    backward: dL/dX_k = einsum('out, letters of the others -> letters_k', dL/dY, the others...)
              (the gradient of each operand is itself an einsum; a repeated letter is tied by an
              identity matrix, a letter only X_k has is spread by a vector of ones)
    """

    @staticmethod
    def forward(ctx, equation, *operands):
        inputs, output = equation.split("->")
        ctx.subscripts, ctx.output = inputs.split(","), output
        ctx.sizes = {c: n for s, x in zip(ctx.subscripts, operands) for c, n in zip(s, np.shape(x))}
        ctx.save_for_backward(*operands)
        return as_array(_contract(equation, *operands))

    @staticmethod
    def backward(ctx, grad_y):
        operands = ctx.saved_tensors
        grads = [None]
        for k in range(len(operands)):
            if not ctx.needs_input_grad[k + 1]:
                grads.append(None)
                continue
            equation, extra = _gradient_equation(ctx.subscripts, ctx.output, k, ctx.sizes, grad_y.dtype,
                                                 get_array_module(grad_y))
            others = [x for j, x in enumerate(operands) if j != k]
            grad = _contract(equation, grad_y, *others, *extra)
            grads.append(as_array(grad).astype(grad_y.dtype, copy=False))
        return tuple(grads)

    @staticmethod
    def backward_graph(ctx, grad_y):
        operands = ctx.saved_tensors
        grads = [None]
        for k in range(len(operands)):
            if not ctx.needs_input_grad[k + 1]:
                grads.append(None)
                continue
            equation, extra = _gradient_equation(ctx.subscripts, ctx.output, k, ctx.sizes, grad_y.dtype,
                                                 get_array_module(grad_y))
            others = [x for j, x in enumerate(operands) if j != k]
            grads.append(Einsum.apply(equation, grad_y, *others, *extra))
        return tuple(grads)


# --------------------------------------------------------------------------------------------
# Entry functions
# --------------------------------------------------------------------------------------------


def _expand_ellipsis(equation, shapes):
    """'...' written out as letters: the dims it covers in each operand, right-aligned across
    operands as NumPy and PyTorch align them ('...ij,...jk->...ik' on (2, 3, 4) and (2, 4, 5) is
    'Aij,Ajk->Aik'). Returns (inputs, output or None when implicit, the letters '...' became)."""
    inputs, arrow, output = equation.partition("->")
    subscripts = inputs.split(",")
    if "." not in equation:
        return subscripts, output if arrow else None, ""
    for part in [*subscripts, output]:
        if part.count(".") not in (0, 3) or (part.count(".") == 3 and "..." not in part):
            raise ValueError(f"einsum: '.' may appear only as one '...' per operand; got {equation!r}.")
    if len(subscripts) != len(shapes):
        raise ValueError(
            f"einsum: the equation {equation!r} names {len(subscripts)} operands, but "
            f"{len(shapes)} were given."
        )
    spans = [len(shape) - (len(s) - 3) if "..." in s else 0 for s, shape in zip(subscripts, shapes)]
    if min(spans) < 0:
        k = spans.index(min(spans))
        raise ValueError(
            f"einsum: operand {k} has shape {shapes[k]} ({len(shapes[k])} dims), but its "
            f"subscripts {subscripts[k]!r} name more than that."
        )
    free = [c for c in string.ascii_uppercase + string.ascii_lowercase if c not in equation]
    letters = "".join(free[: max(spans)])
    subscripts = [
        s.replace("...", letters[len(letters) - m:] if m else "") for s, m in zip(subscripts, spans)
    ]
    if arrow:
        output = output.replace("...", letters)
    return subscripts, output if arrow else None, letters


def _parse(equation, shapes):
    """The equation written with letters only and an explicit output, checked against the
    operands' shapes."""
    if not isinstance(equation, str):
        raise TypeError(f"einsum: the equation must be a string. Got {type(equation).__name__} instead.")
    eq = equation.replace(" ", "")
    bad = set(eq) - set(string.ascii_letters) - set(",->.")
    if bad or eq.count("->") > 1 or eq.replace("->", "").count("-") or eq.replace("->", "").count(">"):
        raise ValueError(
            f"einsum: the equation {equation!r} must be letters, commas, '...' and one '->'; "
            f"found {''.join(sorted(bad)) or 'a misplaced arrow'}."
        )
    subscripts, output, ellipsis = _expand_ellipsis(eq, shapes)
    if output is not None and "," in output:
        raise ValueError(f"einsum: the output of {equation!r} (after '->') cannot have commas.")
    if len(subscripts) != len(shapes):
        raise ValueError(
            f"einsum: the equation {equation!r} names {len(subscripts)} operands, but "
            f"{len(shapes)} were given."
        )
    sizes, owner = {}, {}
    for k, (s, shape) in enumerate(zip(subscripts, shapes)):
        if len(s) != len(shape):
            raise ValueError(
                f"einsum: operand {k} has shape {shape} ({len(shape)} dims), but its subscripts "
                f"{s!r} name {len(s)} dims."
            )
        for c, n in zip(s, shape):
            if c in sizes and sizes[c] != n:
                what = "a dim under '...'" if c in ellipsis else f"letter {c!r}"
                raise ValueError(
                    f"einsum: {what} has size {sizes[c]} in operand {owner[c]} (shape "
                    f"{shapes[owner[c]]}) but {n} in operand {k} (shape {shape}); the dims a "
                    "letter names must have equal sizes (chainrule does not broadcast them: "
                    "expand the operand first)."
                )
            sizes.setdefault(c, n)
            owner.setdefault(c, k)
    if output is not None:
        for c in output:
            if c not in sizes:
                raise ValueError(f"einsum: output letter {c!r} of {equation!r} is in no operand.")
            if output.count(c) > 1:
                raise ValueError(f"einsum: output letter {c!r} of {equation!r} appears twice.")
    else:  # implicit output: '...' first, then the letters used once, in alphabetical order
        letters = "".join(s for s in subscripts)
        output = ellipsis + "".join(
            sorted(c for c in set(letters) if letters.count(c) == 1 and c not in ellipsis)
        )
    return ",".join(subscripts) + "->" + output


def einsum(equation, *operands):
    """Einstein summation: ``einsum('bij,bjk->bik', a, b)`` is a batched matrix product (see
    ``Einsum``). Operands may also be given as one list. Mixed dtypes are promoted."""
    from ..tensor import Tensor, _promoted

    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not operands:
        raise ValueError("einsum: give at least one operand after the equation.")
    operands = [x if isinstance(x, Tensor) else Tensor(x) for x in operands]
    equation = _parse(equation, [x.shape for x in operands])
    if len({x.dtype for x in operands}) > 1:
        operands = _promoted(operands)
    return Einsum.apply(equation, *operands)


def bmm(input, mat2):
    """Batched matrix product of (b, n, m) and (b, m, p): (b, n, p). No broadcasting: both must
    be 3-D with the same batch size, as in PyTorch. Its gradient is matmul's."""
    from ..functions import matmul
    from .indexing import _tensor

    a, b = _tensor("bmm", input), _tensor("bmm", mat2, "mat2")
    _check_bmm("bmm", a.shape, b.shape)
    return matmul(a, b)


def _check_bmm(op, a, b):
    if len(a) != 3 or len(b) != 3:
        raise ValueError(
            f"{op}: expected two 3-D tensors (b, n, m) and (b, m, p); got shapes {a} and {b}. "
            "Use matmul to broadcast batch dims."
        )
    if a[0] != b[0]:
        raise ValueError(f"{op}: batch sizes differ: shapes {a} and {b} ({a[0]} != {b[0]}).")
    if a[2] != b[1]:
        raise ValueError(
            f"{op}: cannot multiply shapes {a} and {b}: inner dimensions {a[2]} != {b[1]}."
        )


def baddbmm(input, batch1, batch2, *, beta=1, alpha=1):
    """beta * input + alpha * bmm(batch1, batch2), input broadcast to (b, n, p). With beta = 0
    input is ignored (its NaN and inf do not propagate), as in PyTorch. Composed of matmul, mul
    and add, so it needs no derivative of its own."""
    from ..checks import check_real
    from ..functions import matmul
    from .indexing import _tensor

    x = _tensor("baddbmm", input)
    a, b = _tensor("baddbmm", batch1, "batch1"), _tensor("baddbmm", batch2, "batch2")
    beta, alpha = check_real("baddbmm", "beta", beta), check_real("baddbmm", "alpha", alpha)
    _check_bmm("baddbmm", a.shape, b.shape)
    shape = (a.shape[0], a.shape[1], b.shape[2])
    try:
        fits = np.broadcast_shapes(x.shape, shape) == shape
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(
            f"baddbmm: input of shape {x.shape} cannot be broadcast to the product's shape "
            f"{shape} (batch1 {a.shape} @ batch2 {b.shape})."
        )
    product = matmul(a, b)
    if alpha != 1:
        product = product * alpha
    if beta == 0:
        return product
    return (x if beta == 1 else x * beta) + product
