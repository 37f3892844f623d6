"""The backward of a recurrent layer costs O(T) in the sequence length T, not O(T^2).

The layer cuts its input into T steps. Cut with T slices x[t], each step's backward would send
back a gradient of x's full size (T of them: T^2 numbers); cut with one unbind, the steps'
gradients are stacked once. The tests count the numbers every op's backward hands back, which is
exact (no timing): for a cost a*T + b, cost(4T) - cost(2T) is exactly 2 * (cost(2T) - cost(T)).
"""

import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd.engine import topological_order


def _gradient_numbers_handed_back(out) -> int:
    """Run out.sum().backward() and count the elements of every gradient each op's backward
    returns (each op's class is swapped, on its own Node only, for a subclass that counts)."""
    counted = [0]
    root = out.sum()
    for node in topological_order(root.grad_fn):
        op = node.fn

        def backward(ctx, *grads, _op=op):
            result = _op.backward(ctx, *grads)
            for g in result if isinstance(result, tuple) else (result,):
                counted[0] += 0 if g is None else np.size(g)
            return result

        node.fn = type(op.__name__, (op,), {"backward": staticmethod(backward)})
    root.backward()
    return counted[0]


def _layer_cost(kind, length, **kwargs):
    cr.manual_seed(0)
    layer = getattr(cr.nn, kind)(4, 3, **kwargs)
    x = cr.randn(length, 2, 4, requires_grad=True) * 1.0  # not a leaf, as an Embedding's output
    out = layer(x)[0]
    return _gradient_numbers_handed_back(out)


@pytest.mark.parametrize("kind, kwargs", [
    ("LSTM", {}), ("GRU", {}), ("RNN", {}), ("LSTM", {"num_layers": 2, "bidirectional": True}),
])
def test_recurrent_backward_is_linear_in_the_sequence_length(kind, kwargs):
    c1, c2, c4 = (_layer_cost(kind, t, **kwargs) for t in (8, 16, 32))
    assert c4 - c2 == 2 * (c2 - c1), (c1, c2, c4)


def test_the_count_sees_quadratic_cost():
    # The same count on T slices x[t] (what the layer must not do) grows as T^2: the linear
    # test above would fail on it.
    def cost(length):
        x = cr.randn(length, 5, requires_grad=True) * 1.0
        return _gradient_numbers_handed_back(cr.stack([x[t] * 2.0 for t in range(length)]))

    c1, c2, c4 = cost(8), cost(16), cost(32)
    assert c4 - c2 > 3 * (c2 - c1), (c1, c2, c4)


@pytest.mark.parametrize("cut", [
    lambda x: x.unbind(1), lambda x: x.split(2, 1), lambda x: cr.chunk(x, 3, 1),
])
def test_the_pieces_are_outputs_of_one_op(cut):
    x = cr.randn(2, 6, requires_grad=True) * 1.0
    pieces = cut(x)
    ops = {p.grad_fn.inputs[0] for p in pieces}  # each piece's output Node leads to the op
    assert len(ops) == 1 and next(iter(ops)).fn in (cr.ops.Unbind, cr.ops.Split)
    # (their gradients against PyTorch: the split/chunk/unbind cases of op_cases.py)


@pytest.mark.parametrize("cut", [lambda y: y.unbind(0), lambda y: y.split(1, 0)])
def test_a_piece_changed_in_place_in_the_graph_is_refused(cut):
    # PyTorch refuses it too: the pieces are views that one op made together.
    y = cr.randn(2, 3, requires_grad=True) * 1.0
    a = cut(y)[0]
    with pytest.raises(RuntimeError, match=r"mul_: .* a view, made by .*split, chunk, unbind"):
        a.mul_(2)
    with cr.no_grad():  # outside the graph it is a plain in-place change of y's memory
        a.mul_(2)
    assert a.shape[-1] == 3 and y.detach().numpy()[0].tolist() == a.detach().numpy().reshape(3).tolist()
