"""The sequence-model tensor ops beyond the op-case table (tests/test_ops.py checks their
gradients): outputs that have no gradient (indices, dtypes) against PyTorch, derivatives at the
places the table's random inputs never reach (zeros in prod, ties in sort, -inf in logsumexp),
each op's backward_graph against its backward (on every case, compositions included; the table
checks second derivatives through the engine), and the error messages.
"""

import types

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import ops
from chainrule.autograd import keep_input_tensors, topological_order
from chainrule.gradcheck import check_gradients
from chainrule.op_cases import all_cases
from chainrule.tensor import Tensor

torch = pytest.importorskip("torch")

NEW_OPS = (
    ops.Gather, ops.Scatter, ops.ScatterAdd, ops.IndexSelect, ops.IndexAdd, ops.MaskedFill,
    ops.Tril, ops.Triu, ops.Repeat, ops.Flip, ops.Roll, ops.CumSum, ops.CumProd, ops.Prod, ops.LogSumExp,
    ops.Einsum,
)
CASES = [c for c in all_cases() if any(op in NEW_OPS for op in c.covers)]


def _t(array, **kw):
    return torch.tensor(np.asarray(array), **kw)


# ----- outputs without a gradient, against PyTorch ---------------------------------------------


@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("descending", [False, True])
def test_sort_and_argsort_indices_match_torch(dim, descending):
    x = np.random.default_rng(0).standard_normal((4, 5))  # distinct values: one right order
    ours = cr.sort(cr.tensor(x), dim, descending)
    theirs = torch.sort(_t(x), dim, descending)
    np.testing.assert_array_equal(ours.indices.numpy(), theirs.indices.numpy())
    np.testing.assert_array_equal(ours.values.numpy(), theirs.values.numpy())
    assert ours.indices.dtype == np.int64
    argsorted = cr.tensor(x).argsort(dim, descending)
    np.testing.assert_array_equal(argsorted.numpy(), torch.argsort(_t(x), dim, descending).numpy())


@pytest.mark.parametrize("descending", [False, True])
def test_stable_sort_keeps_ties_in_order_with_nan_largest_as_torch(descending):
    x = np.array([[1.0, np.nan, 2.0, 1.0, 2.0, -1.0, np.nan, 1.0]])
    ours = cr.tensor(x).sort(descending=descending, stable=True)
    theirs = _t(x).sort(descending=descending, stable=True)
    np.testing.assert_array_equal(ours.indices.numpy(), theirs.indices.numpy())
    np.testing.assert_array_equal(ours.values.numpy(), theirs.values.numpy())


def test_sorted_ties_route_each_gradient_to_its_own_position():
    x = cr.tensor([3.0, 1.0, 3.0, 1.0], requires_grad=True)
    values, indices = x.sort(stable=True)
    assert indices.tolist() == [1, 3, 0, 2]
    values.backward(cr.tensor([10.0, 20.0, 30.0, 40.0], dtype="float32"))
    assert x.grad.tolist() == [30.0, 10.0, 40.0, 20.0]


@pytest.mark.parametrize("k, dim, largest", [(2, 1, True), (3, 0, False), (5, -1, True), (0, 1, True)])
def test_topk_matches_torch(k, dim, largest):
    x = np.random.default_rng(1).standard_normal((4, 5))
    ours = cr.topk(cr.tensor(x), k, dim, largest)
    theirs = torch.topk(_t(x), k, dim, largest)
    np.testing.assert_array_equal(ours.indices.numpy(), theirs.indices.numpy())
    np.testing.assert_array_equal(ours.values.numpy(), theirs.values.numpy())
    assert ours.indices.dtype == np.int64


def test_zero_dim_sort_and_topk_as_torch():
    x = np.array(2.5)
    assert cr.tensor(x).sort().values.shape == torch.tensor(x).sort().values.shape == ()
    ours, theirs = cr.tensor(x).topk(1), torch.tensor(x).topk(1)
    assert ours.values.shape == tuple(theirs.values.shape) and ours.indices.item() == 0


def test_one_hot_matches_torch():
    labels = np.array([[0, 3], [2, 2]])
    for n in (-1, 6):
        ours = F.one_hot(cr.tensor(labels), n)
        theirs = torch.nn.functional.one_hot(_t(labels), n)
        assert ours.dtype == np.int64 and ours.shape == tuple(theirs.shape)
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
        assert not ours.requires_grad


@pytest.mark.parametrize("values", [[True, False, True], [2, 3, 4]])
def test_cumsum_and_prod_of_integers_are_int64_as_torch(values):
    for dtype in (np.bool_, np.int32, np.int64):
        if isinstance(values[0], bool) != (dtype is np.bool_):
            continue
        x = np.array(values, dtype=dtype)
        assert cr.tensor(x).cumsum(0).dtype == np.int64 == np.dtype(str(_t(x).cumsum(0).dtype)[6:])
        assert cr.tensor(x).prod().item() == _t(x).prod().item()
        assert cr.tensor(x).prod().dtype == np.int64


def test_cumsum_and_prod_keep_float32():
    x = cr.tensor([1.5, 2.0])
    assert x.cumsum(0).dtype == np.float32 and x.prod().dtype == np.float32
    assert x.logsumexp(0).dtype == np.float32 and cr.tensor([1, 2]).logsumexp(0).dtype == np.float32


@pytest.mark.parametrize("repeats, dim", [(2, None), (2, 0), ([1, 0, 2], 1), ([3], 1), (0, 0)])
def test_repeat_interleave_matches_torch(repeats, dim):
    x = np.arange(6.0).reshape(2, 3)
    r_ours = repeats if isinstance(repeats, int) else cr.tensor(repeats)
    r_theirs = repeats if isinstance(repeats, int) else _t(repeats)
    ours = cr.tensor(x).repeat_interleave(r_ours, dim)
    theirs = _t(x).repeat_interleave(r_theirs, dim)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


@pytest.mark.parametrize("n, chunks", [(5, 3), (6, 4), (4, 4), (3, 5), (0, 2)])
def test_chunk_gives_torchs_pieces(n, chunks):
    x = np.arange(float(n))
    ours = cr.chunk(cr.tensor(x), chunks)
    theirs = torch.chunk(_t(x), chunks)
    assert [p.tolist() for p in ours] == [p.tolist() for p in theirs]


@pytest.mark.parametrize("size", [2, 3, 5, 7, [1, 4], [0, 5]])
def test_split_gives_torchs_pieces(size):
    x = np.arange(10.0).reshape(5, 2)
    ours = cr.split(cr.tensor(x), size)
    theirs = torch.split(_t(x), size)
    assert [p.tolist() for p in ours] == [p.tolist() for p in theirs]


def test_unbind_and_its_gradient():
    x = cr.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    rows = x.unbind(1)
    assert [r.tolist() for r in rows] == [[0.0, 3.0], [1.0, 4.0], [2.0, 5.0]]
    (rows[0] * 1.0 + rows[2] * 3.0).sum().backward()
    assert x.grad.tolist() == [[1.0, 0.0, 3.0], [1.0, 0.0, 3.0]]


def test_einsum_implicit_output_is_alphabetical_as_torch():
    a = np.random.default_rng(2).standard_normal((2, 3))
    b = np.random.default_rng(3).standard_normal((3, 2))
    for eq, xs in (("ba", (a,)), ("Ba,aB", (a, b)), ("ij,jk", (a, b)), ("ab,bc ->ca", (a, b))):
        ours = cr.einsum(eq, *[cr.tensor(x) for x in xs])
        theirs = torch.einsum(eq, *[_t(x) for x in xs])
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12)


def test_einsum_takes_a_list_and_promotes_dtypes():
    a = cr.tensor(np.ones((2, 3), dtype=np.float32))
    b = cr.tensor(np.ones(3))  # float64
    out = cr.einsum("ij,j->i", [a, b])
    assert out.dtype == np.float64 and out.tolist() == [3.0, 3.0]


def test_baddbmm_with_beta_zero_ignores_nan_in_input_as_torch():
    rng = np.random.default_rng(4)
    a, b = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 4, 5))
    x = np.full((2, 3, 5), np.nan)
    ours = cr.baddbmm(cr.tensor(x), cr.tensor(a), cr.tensor(b), beta=0)
    theirs = torch.baddbmm(_t(x), _t(a), _t(b), beta=0)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12)


def test_masked_fill_with_minus_inf_then_softmax_is_causal_attention():
    scores = cr.tensor(np.random.default_rng(5).standard_normal((4, 4)), requires_grad=True)
    causal = cr.tensor(np.tril(np.ones((4, 4), dtype=bool)))
    weights = scores.masked_fill(~causal, float("-inf")).softmax(-1)
    np.testing.assert_allclose(np.triu(weights.numpy(), 1), 0.0)
    weights.backward(np.random.default_rng(6).standard_normal((4, 4)))
    assert np.all(np.triu(scores.grad.numpy(), 1) == 0)  # masked scores get no gradient


# ----- derivatives where the table's random inputs do not go ----------------------------------


@pytest.mark.parametrize("x, expected", [
    ([2.0, 0.0, 3.0, 4.0], [0.0, 24.0, 0.0, 0.0]),  # one zero: only it moves the product
    ([0.0, 5.0, 0.0, 4.0], [0.0, 0.0, 0.0, 0.0]),  # two zeros: nothing does
    ([2.0, 3.0, 4.0, 0.5], [6.0, 4.0, 3.0, 24.0]),
])
def test_prod_derivative_is_the_product_of_the_others_with_zeros_exact(x, expected):
    t = cr.tensor(x, dtype="float64", requires_grad=True)
    t.prod().backward()
    assert t.grad.tolist() == expected
    theirs = _t(x, requires_grad=True)
    theirs.prod().backward()
    assert theirs.grad.tolist() == expected


@pytest.mark.parametrize("x", [[2.0, 0.0, 3.0, 4.0], [0.0, 5.0, 0.0, 4.0], [2.0, 3.0, 0.5, 0.0]])
def test_cumprod_derivative_at_zeros_matches_torch(x):
    g = [1.0, -2.0, 0.5, 3.0]
    t = cr.tensor(x, dtype="float64", requires_grad=True)
    t.cumprod(0).backward(cr.tensor(g, dtype="float64"))
    theirs = _t(x, requires_grad=True)
    theirs.cumprod(0).backward(_t(g))
    np.testing.assert_allclose(t.grad.numpy(), theirs.grad.numpy(), rtol=1e-12, atol=0)


def test_logsumexp_is_stable_and_its_gradient_is_softmax():
    x = cr.tensor([[1000.0, 1000.0], [-1000.0, -1001.0], [-np.inf, -np.inf]], dtype="float64",
                  requires_grad=True)
    y = x.logsumexp(1)
    expected = torch.logsumexp(_t(x.numpy()), 1).numpy()
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-15)
    assert y.numpy()[0] == 1000.0 + np.log(2.0) and y.numpy()[2] == -np.inf
    y.backward(cr.tensor([1.0, 1.0, 1.0], dtype="float64"))
    np.testing.assert_allclose(x.grad.numpy()[:2], [[0.5, 0.5], [1 / (1 + np.exp(-1)), 1 / (1 + np.e)]])
    assert x.grad.numpy()[2].tolist() == [0.0, 0.0]  # a row of -inf: no element moves y


def test_scatter_and_scatter_add_with_src_larger_than_index_pass_gradcheck():
    # PyTorch accepts this forward but its backward fails on the shapes; the src elements that
    # the index does not reach get a zero gradient here.
    index = cr.tensor([[0, 2], [1, 0]])
    rng = np.random.default_rng(8)
    x = cr.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    src = cr.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    for fn in (cr.scatter, cr.scatter_add):
        result = check_gradients(lambda a, s, fn=fn: fn(a, 1, index, s), [x, src])
        assert result.ok, result.message()
        out = fn(x, 1, index, src)
        expected = getattr(torch, fn.__name__)(_t(x.numpy()), 1, _t(index.numpy()), _t(src.numpy()))
        np.testing.assert_allclose(out.numpy(), expected.numpy(), rtol=1e-12)


def test_einsum_gradient_is_an_einsum_for_matmul():
    rng = np.random.default_rng(9)
    a = cr.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    b = cr.tensor(rng.standard_normal((4, 2)), requires_grad=True)
    g = rng.standard_normal((3, 2))
    cr.einsum("ij,jk->ik", a, b).backward(g)
    np.testing.assert_allclose(a.grad.numpy(), g @ b.numpy().T, rtol=1e-12)  # dL/dA = dL/dC Bᵀ
    np.testing.assert_allclose(b.grad.numpy(), a.numpy().T @ g, rtol=1e-12)  # dL/dB = Aᵀ dL/dC


# ----- backward_graph: the same derivative in chainrule ops ------------------------------------


def _graph_ctx(node, connect):
    """What the create_graph engine hands backward_graph: ctx's attributes, and the saved arrays
    as Tensors, connected to the graph (``connect(array)`` gives the Tensor) or else constants."""
    def as_tensor(a):
        connected = connect(a)
        return Tensor._from_op(a, None) if connected is None else connected

    saved = tuple(as_tensor(a) if isinstance(a, np.ndarray) else a for a in node.saved_tensors)
    ctx = types.SimpleNamespace(**vars(node))
    ctx.needs_input_grad, ctx.saved_tensors = node.needs_input_grad, saved
    return ctx


def _inputs(case, arrays):
    return [cr.tensor(a, requires_grad=case.requires_grad(i)) for i, a in enumerate(arrays)]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_backward_graph_gives_what_backward_gives(case):
    with keep_input_tensors():
        out = case.fn(cr, *_inputs(case, case.make_inputs()))
    rng = np.random.default_rng(11)
    checked = 0
    for node in topological_order(out.grad_fn):
        if node.fn not in NEW_OPS:
            continue
        grad_out = rng.standard_normal(node.output_shape)
        expected = node.fn.backward(node, grad_out)
        got = node.fn.backward_graph(_graph_ctx(node, lambda a: None), Tensor(grad_out))
        assert len(got) == len(expected)
        for i, (e, g) in enumerate(zip(expected, got)):
            if e is None or not node.needs_input_grad[i]:
                continue
            assert isinstance(g, Tensor), f"{node.name}.backward_graph gave {type(g)} for input {i}"
            np.testing.assert_allclose(g.numpy(), np.broadcast_to(e, g.shape), rtol=1e-12,
                                       atol=1e-14, err_msg=f"{node.name} input {i}")
        checked += 1
    assert checked


# ----- error messages ---------------------------------------------------------------------------

X = cr.tensor(np.zeros((3, 4)))


@pytest.mark.parametrize("call, error, match", [
    (lambda: X.gather(1, cr.tensor([[0, 4]])), IndexError,
     r"gather: index 4 is out of range for dim 1 of size 4 \(input shape \(3, 4\)\); every index "
     r"must be in \[0, 3\]"),
    (lambda: X.gather(0, cr.tensor([[-1]])), IndexError, r"gather: index -1 is out of range"),
    (lambda: X.gather(1, cr.tensor([[0.0, 1.0]])), TypeError,
     r"gather: index must be a tensor of integers \(int64\); got dtype float32. Convert it with "
     r"index.to\(chainrule.int64\)"),
    (lambda: X.gather(2, cr.tensor([[0]])), ValueError,
     r"gather: dim 2 is out of range for a tensor with 2 dims"),
    (lambda: X.gather(1, cr.tensor([0, 1])), ValueError,
     r"gather: index must have as many dims as the input; got index shape \(2,\) for input shape "
     r"\(3, 4\)"),
    (lambda: X.gather(1, cr.tensor([[0]] * 4)), ValueError,
     r"gather: index shape \(4, 1\) is larger than input shape \(3, 4\) in dim 0"),
    (lambda: X.scatter(1, cr.tensor([[0, 1]]), cr.tensor([[1.0]])), ValueError,
     r"scatter: src of shape \(1, 1\) must have index's dims and be at least as large as index"),
    (lambda: X.scatter(1, cr.tensor([[0, 9]]), 1.0), IndexError, r"scatter: index 9 is out of range"),
    (lambda: X.scatter(1, cr.tensor([[0]]), 1.0, reduce="multiply"), ValueError,
     r"scatter: reduce='multiply' is not supported by chainrule; use scatter_add"),
    (lambda: X.scatter_add(1, cr.tensor([[0.5]]), cr.tensor([[1.0]])), TypeError,
     r"scatter_add: index must be a tensor of integers"),
    (lambda: X.index_select(0, cr.tensor([3])), IndexError,
     r"index_select: index 3 is out of range for dim 0 of size 3"),
    (lambda: X.index_select(0, cr.tensor([[0]])), ValueError, r"index_select: index must be 1-D"),
    (lambda: X.index_select(-3, cr.tensor([0])), ValueError, r"index_select: dim -3 is out of range"),
    (lambda: X.index_add(0, cr.tensor([0, 1]), cr.tensor(np.zeros((2, 3)))), ValueError,
     r"index_add: source of shape \(2, 3\) does not fit input \(3, 4\) with 2 indices along dim 0: "
     r"expected source shape \(2, 4\)"),
    (lambda: X.masked_fill(cr.tensor([1, 0, 1, 0]), 0.0), TypeError,
     r"masked_fill: mask must be a boolean tensor; got dtype int64"),
    (lambda: X.masked_fill(cr.tensor([True, False]), 0.0), ValueError,
     r"masked_fill: mask of shape \(2,\) cannot be broadcast to the input's shape \(3, 4\)"),
    (lambda: X.masked_fill(X > 0, cr.tensor([1.0])), ValueError,
     r"masked_fill: value must be a number or a 0-d tensor; got a tensor of shape \(1,\)"),
    (lambda: cr.tril(cr.tensor([1.0, 2.0])), ValueError,
     r"tril: expected a tensor with at least 2 dims \(a matrix or a batch of them\); got shape \(2,\)"),
    (lambda: X.triu(0.5), TypeError, r"triu: diagonal must be an int"),
    (lambda: X.repeat(2), ValueError,
     r"repeat: needs at least one size per dim of the input \(shape \(3, 4\), 2 dims\); got sizes "
     r"\(2,\)"),
    (lambda: X.flip(2), ValueError, r"flip: dim 2 is out of range"),
    (lambda: X.roll((1, 2), 0), ValueError,
     r"roll: shifts \(1, 2\) and dims \(0,\) must have the same length"),
    (lambda: X.repeat_interleave(cr.tensor([1, 2]), dim=1), ValueError,
     r"repeat_interleave: repeats must be an int or hold one count per element along dim 1 \(4\); "
     r"got repeats of shape \(2,\)"),
    (lambda: X.split([1, 1], 0), ValueError,
     r"split: section sizes \[1, 1\] add up to 2, but dim 0 of the input \(shape \(3, 4\)\) has size 3"),
    (lambda: X.chunk(0), ValueError, r"chunk: chunks must be at least 1"),
    (lambda: X.unbind(2), ValueError, r"unbind: dim 2 is out of range"),
    (lambda: X.cumsum(2), ValueError, r"cumsum: dim 2 is out of range"),
    (lambda: X.cumprod(-3), ValueError, r"cumprod: dim -3 is out of range"),
    (lambda: X.prod((0, 1)), TypeError, r"prod: dim must be a single int"),
    (lambda: X.logsumexp(5), ValueError, r"logsumexp: dim 5 is out of range"),
    (lambda: X.sort(3), ValueError, r"sort: dim 3 is out of range"),
    (lambda: X.topk(5, 1), ValueError,
     r"topk: k = 5 is out of range for dim 1 of size 4 \(input shape \(3, 4\)\); k must be in \[0, 4\]"),
    (lambda: X.argsort(descending="yes"), TypeError, r"argsort: descending must be a bool"),
    (lambda: cr.einsum("ij,jk->ik", X, X), ValueError,
     r"einsum: letter 'j' has size 4 in operand 0 \(shape \(3, 4\)\) but 3 in operand 1 \(shape "
     r"\(3, 4\)\)"),
    (lambda: cr.einsum("ijk->i", X), ValueError,
     r"einsum: operand 0 has shape \(3, 4\) \(2 dims\), but its subscripts 'ijk' name 3 dims"),
    (lambda: cr.einsum("ij,jk->ik", X), ValueError,
     r"einsum: the equation 'ij,jk->ik' names 2 operands, but 1 were given"),
    (lambda: cr.einsum("...ij,...jk->...ik", cr.zeros(2, 3, 4), cr.zeros(1, 4, 5)), ValueError,
     r"einsum: a dim under '...' has size 2 in operand 0 \(shape \(2, 3, 4\)\) but 1 in operand "
     r"1 \(shape \(1, 4, 5\)\); .* \(chainrule does not broadcast them: expand the operand first\)"),
    (lambda: cr.einsum("..i.j->i", X), ValueError, r"einsum: '.' may appear only as one '...' per operand"),
    (lambda: cr.einsum("ij->ik", X), ValueError, r"einsum: output letter 'k' of 'ij->ik' is in no operand"),
    (lambda: cr.bmm(X, X), ValueError,
     r"bmm: expected two 3-D tensors \(b, n, m\) and \(b, m, p\); got shapes \(3, 4\) and \(3, 4\)"),
    (lambda: cr.bmm(cr.zeros(2, 3, 4), cr.zeros(2, 5, 4)), ValueError,
     r"bmm: cannot multiply shapes \(2, 3, 4\) and \(2, 5, 4\): inner dimensions 4 != 5"),
    (lambda: cr.bmm(cr.zeros(2, 3, 4), cr.zeros(3, 4, 4)), ValueError, r"bmm: batch sizes differ"),
    (lambda: cr.baddbmm(cr.zeros(4, 5), cr.zeros(2, 3, 4), cr.zeros(2, 4, 5)), ValueError,
     r"baddbmm: input of shape \(4, 5\) cannot be broadcast to the product's shape \(2, 3, 5\)"),
    (lambda: F.one_hot(cr.tensor([0, 3]), 3), ValueError,
     r"one_hot: class index 3 is out of range for num_classes = 3; every index must be in \[0, 2\]"),
    (lambda: F.one_hot(cr.tensor([0.0, 1.0])), TypeError,
     r"one_hot: class indices must be integers \(int64\); got dtype float32"),
])
def test_bad_input_is_one_sentence_naming_the_op(call, error, match):
    with pytest.raises(error, match=match):
        call()


@pytest.mark.parametrize("shape, n", [((5,), 40), ((7, 3), 30), ((4, 2, 3), 9), ((3,), 0)])
def test_add_at_adds_what_np_add_at_adds(shape, n):
    rng = np.random.default_rng(13)
    index = rng.integers(0, shape[0], n)  # many repeats
    rows = rng.standard_normal((n, *shape[1:]))
    expected = np.zeros(shape)
    np.add.at(expected, index, rows)
    got = np.zeros(shape)
    ops.indexing.add_at(got, index, rows)
    np.testing.assert_allclose(got, expected, rtol=1e-13, atol=1e-15)
    moved = np.zeros(shape[1:] + shape[:1])  # into a strided view, as index_select's backward
    ops.indexing.add_at(np.moveaxis(moved, -1, 0), index, rows)
    np.testing.assert_allclose(np.moveaxis(moved, -1, 0), expected, rtol=1e-13, atol=1e-15)


# ----- float32, and PyTorch's keyword spellings ------------------------------------------------

IDX = np.array([[0, 2, 2], [1, 0, 3]])


@pytest.mark.parametrize("name, fn", [
    ("gather", lambda lib, x: x.gather(dim=1, index=lib.tensor(IDX))),
    ("index_select", lambda lib, x: x.index_select(dim=1, index=lib.tensor([3, 0, 3]))),
    ("masked_fill", lambda lib, x: x.masked_fill(mask=x > 0, value=-1e4)),
    ("scatter_add", lambda lib, x: x.scatter_add(dim=1, index=lib.tensor(IDX), src=x[:, :3] * 2)),
    ("tril", lambda lib, x: x.tril(diagonal=1)),
    ("repeat_interleave", lambda lib, x: x.repeat_interleave(repeats=2, dim=0)),
    ("roll", lambda lib, x: x.roll(shifts=1, dims=1)),
    ("cumsum", lambda lib, x: x.cumsum(dim=1)),
    ("cumprod", lambda lib, x: x.cumprod(dim=1)),
    ("prod", lambda lib, x: x.prod(dim=1, keepdim=True)),
    ("logsumexp", lambda lib, x: x.logsumexp(dim=-1, keepdim=True)),
    ("sort", lambda lib, x: x.sort(dim=1, descending=True).values),
    ("topk", lambda lib, x: x.topk(k=2, dim=1, largest=False).values),
    ("einsum", lambda lib, x: lib.einsum("ij,kj->ik", x, x)),
    ("bmm", lambda lib, x: lib.bmm(x[None], x.T[None])),
    ("baddbmm", lambda lib, x: lib.baddbmm(x[:, :2], x[None], x.T[None], beta=0.5, alpha=2.0)),
])
def test_float32_in_float32_out_with_gradients_close_to_torch(name, fn):
    x = np.random.default_rng(14).standard_normal((2, 4)).astype(np.float32)
    ours = cr.tensor(x, requires_grad=True)
    theirs = torch.tensor(x, requires_grad=True)
    out, expected = fn(cr, ours), fn(torch, theirs)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=1e-5, atol=1e-5)
    upstream = np.random.default_rng(15).standard_normal(out.shape).astype(np.float32)
    out.backward(upstream)
    expected.backward(torch.tensor(upstream))
    assert ours.grad.dtype == np.float32
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-5, atol=1e-5)
