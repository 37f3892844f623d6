"""RNN, LSTM, GRU and their cells against PyTorch: the same state_dict, 24 time steps, float64;
outputs, final states and the gradients of every parameter, the input and the initial states
(from a random upstream gradient on all three outputs) agree at rtol 1e-9."""

import numpy as np
import pytest

import chainrule
from chainrule import nn, ops
from chainrule.tensor import Tensor

torch = pytest.importorskip("torch")
torch.set_num_threads(1)  # small tensors: extra threads only spin on a shared machine

STEPS, BATCH, INPUT, HIDDEN = 24, 3, 4, 5
RTOL, ATOL = 1e-9, 1e-12


def _pair(kind, **kwargs):
    theirs = getattr(torch.nn, kind)(INPUT, HIDDEN, dtype=torch.float64, **kwargs)
    ours = getattr(nn, kind)(INPUT, HIDDEN, dtype=np.float64, **kwargs)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


def _close(a, b, what):
    b = b.detach().numpy() if hasattr(b, "detach") else b
    np.testing.assert_allclose(np.asarray(a), b, rtol=RTOL, atol=ATOL, err_msg=what)


def _compare(kind, input_shape, with_state, **kwargs):
    """Run both layers on the same input (and initial state); compare everything. With dropout,
    both run in eval mode, where dropout is the identity."""
    ours, theirs = _pair(kind, **kwargs)
    if kwargs.get("dropout"):
        ours.eval()
        theirs.eval()
    rng = np.random.default_rng(0)
    x = rng.standard_normal(input_shape)
    directions = 2 if kwargs.get("bidirectional") else 1
    layers = kwargs.get("num_layers", 1) * directions
    unbatched = len(input_shape) == 2
    batch = () if unbatched else (BATCH,)
    out_size = kwargs.get("proj_size") or HIDDEN
    states = [rng.standard_normal((layers, *batch, out_size))]
    if kind == "LSTM":
        states.append(rng.standard_normal((layers, *batch, HIDDEN)))
    x_ours, x_theirs = chainrule.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    s_ours = [chainrule.tensor(s, requires_grad=True) for s in states]
    s_theirs = [torch.tensor(s, requires_grad=True) for s in states]
    hx_ours = hx_theirs = None
    if with_state:
        hx_ours = tuple(s_ours) if kind == "LSTM" else s_ours[0]
        hx_theirs = tuple(s_theirs) if kind == "LSTM" else s_theirs[0]
    out_ours, final_ours = ours(x_ours, hx_ours)
    out_theirs, final_theirs = theirs(x_theirs, hx_theirs)
    if kind == "LSTM":
        results = [(out_ours, out_theirs), *zip(final_ours, final_theirs)]
    else:
        results = [(out_ours, out_theirs), (final_ours, final_theirs)]
    for k, (a, b) in enumerate(results):
        assert a.shape == tuple(b.shape), (k, a.shape, b.shape)
        _close(a.numpy(), b, f"output {k}")
    loss_ours, loss_theirs = 0, 0
    for a, b in results:  # a random upstream gradient on the output and on every final state
        g = rng.standard_normal(a.shape)
        loss_ours = loss_ours + (a * chainrule.tensor(g)).sum()
        loss_theirs = loss_theirs + (b * torch.tensor(g)).sum()
    loss_ours.backward()
    loss_theirs.backward()
    named = dict(theirs.named_parameters())
    assert [n for n, _ in ours.named_parameters()] == list(named)
    for name, param in ours.named_parameters():
        _close(param.grad.numpy(), named[name].grad, f"gradient of {name}")
    _close(x_ours.grad.numpy(), x_theirs.grad, "gradient of the input")
    if with_state:
        for k, (a, b) in enumerate(zip(s_ours, s_theirs)):
            _close(a.grad.numpy(), b.grad, f"gradient of initial state {k}")


SEQ = (STEPS, BATCH, INPUT)
SEQ_BATCH_FIRST = (BATCH, STEPS, INPUT)
CONFIGS = [
    ("LSTM", SEQ, False, {}),
    ("LSTM", SEQ, True, {"num_layers": 2}),
    ("LSTM", SEQ, True, {"bidirectional": True}),
    ("LSTM", SEQ_BATCH_FIRST, True, {"batch_first": True}),
    ("LSTM", SEQ, True, {"proj_size": 3}),
    ("LSTM", SEQ_BATCH_FIRST, True,
     {"num_layers": 2, "bidirectional": True, "proj_size": 2, "batch_first": True}),
    ("LSTM", SEQ, True, {"bias": False, "num_layers": 2}),
    ("LSTM", (STEPS, INPUT), True, {"num_layers": 2, "bidirectional": True}),  # unbatched
    ("LSTM", SEQ, True, {"num_layers": 3, "dropout": 0.5}),  # dropout: eval mode below
    ("GRU", SEQ, False, {}),
    ("GRU", SEQ_BATCH_FIRST, True, {"num_layers": 2, "bidirectional": True, "batch_first": True}),
    ("GRU", SEQ, True, {"bias": False}),
    ("GRU", (STEPS, INPUT), True, {"num_layers": 2}),
    ("RNN", SEQ, True, {}),
    ("RNN", SEQ, True, {"nonlinearity": "relu", "num_layers": 2}),
    ("RNN", SEQ_BATCH_FIRST, False, {"bidirectional": True, "batch_first": True, "bias": False}),
]


@pytest.mark.parametrize("kind, shape, with_state, kwargs", CONFIGS,
                         ids=[f"{c[0]} {c[3]}{' h0' if c[2] else ''} {c[1]}" for c in CONFIGS])
def test_layer_matches_torch(kind, shape, with_state, kwargs):
    _compare(kind, shape, with_state, **kwargs)


def test_dropout_acts_between_layers_in_training_only():
    ours, theirs = _pair("LSTM", num_layers=2, dropout=1.0)  # p = 1 zeroes layer 1's output
    x = np.random.default_rng(0).standard_normal(SEQ)
    out_ours, _ = ours(chainrule.tensor(x))
    out_theirs, _ = theirs(torch.tensor(x))
    _close(out_ours.numpy(), out_theirs, "training, dropout 1")  # both deterministic at p = 1
    ours.eval()
    theirs.eval()
    _close(ours(chainrule.tensor(x))[0].numpy(), theirs(torch.tensor(x))[0], "eval mode")
    assert not np.allclose(ours(chainrule.tensor(x))[0].numpy(), out_ours.numpy())
    # p = 0.5: the surviving inputs of layer 2 are scaled by 2; the last layer's output is not
    # dropped, so in training the output differs from eval but is never zeroed wholesale
    half, _ = _pair("LSTM", num_layers=2, dropout=0.5)
    chainrule.manual_seed(0)
    out_train = half(chainrule.tensor(x))[0].numpy()
    half.eval()
    assert not np.allclose(out_train, half(chainrule.tensor(x))[0].numpy())
    assert np.all(out_train != 0)


CELLS = [("RNNCell", {}), ("RNNCell", {"nonlinearity": "relu"}), ("RNNCell", {"bias": False}),
         ("LSTMCell", {}), ("LSTMCell", {"bias": False}), ("GRUCell", {}), ("GRUCell", {"bias": False})]


@pytest.mark.parametrize("kind, kwargs", CELLS, ids=[f"{k} {w}" for k, w in CELLS])
@pytest.mark.parametrize("unbatched", [False, True], ids=["batched", "unbatched"])
def test_cell_unrolled_over_24_steps_matches_torch(kind, kwargs, unbatched):
    theirs = getattr(torch.nn, kind)(INPUT, HIDDEN, dtype=torch.float64, **kwargs)
    ours = getattr(nn, kind)(INPUT, HIDDEN, dtype=np.float64, **kwargs)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    rng = np.random.default_rng(2)
    shape = (STEPS, INPUT) if unbatched else (STEPS, BATCH, INPUT)
    x = rng.standard_normal(shape)
    x_ours, x_theirs = chainrule.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    state_ours = state_theirs = None  # the first step starts from zeros (the default)
    outs_ours, outs_theirs = [], []
    for t in range(STEPS):
        state_ours = ours(x_ours[t], state_ours)
        state_theirs = theirs(x_theirs[t], state_theirs)
        h_ours = state_ours[0] if kind == "LSTMCell" else state_ours
        h_theirs = state_theirs[0] if kind == "LSTMCell" else state_theirs
        outs_ours.append(h_ours)
        outs_theirs.append(h_theirs)
    out_ours, out_theirs = chainrule.stack(outs_ours), torch.stack(outs_theirs)
    _close(out_ours.numpy(), out_theirs, "hidden states")
    g = rng.standard_normal(out_ours.shape)
    out_ours.backward(g)
    out_theirs.backward(torch.tensor(g))
    named = dict(theirs.named_parameters())
    for name, param in ours.named_parameters():
        _close(param.grad.numpy(), named[name].grad, f"gradient of {name}")
    _close(x_ours.grad.numpy(), x_theirs.grad, "gradient of the input")


def test_state_dict_keys_and_init_as_torch():
    for kwargs in ({"num_layers": 2, "bidirectional": True, "proj_size": 3}, {"bias": False}):
        ours = nn.LSTM(INPUT, HIDDEN, **kwargs)
        theirs = torch.nn.LSTM(INPUT, HIDDEN, **kwargs)
        assert list(ours.state_dict()) == list(theirs.state_dict())
        for (name, a), b in zip(ours.state_dict().items(), theirs.state_dict().values()):
            assert a.shape == tuple(b.shape), name
            assert a.dtype == np.float32
            assert np.abs(a).max() <= 1 / np.sqrt(HIDDEN)
    assert list(nn.GRUCell(3, 2).state_dict()) == list(torch.nn.GRUCell(3, 2).state_dict())
    assert repr(nn.LSTM(4, 5, num_layers=2, batch_first=True)) == \
        "LSTM(4, 5, num_layers=2, batch_first=True)"


def test_bad_input_and_states_are_one_sentence():
    lstm = nn.LSTM(INPUT, HIDDEN, num_layers=2, batch_first=True)
    with pytest.raises(ValueError, match=r"LSTM: the last dim of the input must be input_size=4. "
                                         r"Got shape \(3, 24, 7\)"):
        lstm(chainrule.randn(3, 24, 7))
    with pytest.raises(ValueError, match=r"A 2-D input is read as one unbatched sequence \(L, "
                                         r"H_in\); a batch must be 3-D \(N, L, H_in\)"):
        lstm(chainrule.randn(3, 24))
    with pytest.raises(ValueError, match=r"expected a 3-D input \(N, L, H_in\).*Got shape "
                                         r"\(2, 3, 24, 4\)"):
        lstm(chainrule.randn(2, 3, 24, 4))
    with pytest.raises(ValueError, match=r"LSTM: h0 must have shape \(2, 3, 5\) \(num_layers \* "
                                         r"num_directions, batch, hidden_size\). Got \(1, 3, 5\)"):
        lstm(chainrule.randn(3, 24, 4), (chainrule.randn(1, 3, 5), chainrule.randn(2, 3, 5)))
    with pytest.raises(TypeError, match="LSTM: the initial state must be a tuple"):
        lstm(chainrule.randn(3, 24, 4), chainrule.randn(2, 3, 5))
    with pytest.raises(ValueError, match=r"GRU: h0 must have shape \(1, 5\).*unbatched"):
        nn.GRU(INPUT, HIDDEN)(chainrule.randn(24, 4), chainrule.randn(1, 3, 5))
    with pytest.raises(TypeError, match="must be floating-point.*Embedding"):
        nn.RNN(INPUT, HIDDEN)(chainrule.tensor(np.zeros((2, 3, 4), dtype=np.int64)))
    with pytest.raises(ValueError, match="GRU: proj_size is only supported by LSTM"):
        nn.GRU(INPUT, HIDDEN, proj_size=2)
    with pytest.raises(ValueError, match="'proj_size' parameter of LSTM"):
        nn.LSTM(INPUT, HIDDEN, proj_size=5)
    with pytest.raises(ValueError, match="'nonlinearity' parameter of RNN"):
        nn.RNN(INPUT, HIDDEN, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match=r"LSTMCell: expected an input of shape \(N, 4\)"):
        nn.LSTMCell(INPUT, HIDDEN)(chainrule.randn(3, 5))
    with pytest.raises(ValueError, match=r"GRUCell: hx must have shape \(3, 5\)"):
        nn.GRUCell(INPUT, HIDDEN)(chainrule.randn(3, 4), chainrule.randn(2, 5))


def _graph_backward_matches(op, *arrays, grad_shape):
    """backward_graph (the formulas in chainrule ops, used for higher derivatives) gives the same
    first derivatives as backward. Until the engine calls it, call it by hand: the saved arrays
    as Tensors, as the engine will pass them."""
    inputs = [chainrule.tensor(a, requires_grad=True) if isinstance(a, np.ndarray) and
              a.dtype.kind == "f" else a for a in arrays]
    out = op.apply(*inputs)
    rng = np.random.default_rng(5)
    if isinstance(out, tuple):  # several outputs (grad_shape: one shape each); the op's Node
        node = out[0].grad_fn.inputs[0]  # is behind each output's own small Node
        grads = [rng.standard_normal(shape) for shape in grad_shape]
    else:
        node, grads = out.grad_fn, [rng.standard_normal(grad_shape)]
    expected = op.backward(node, *grads)
    node.saved_tensors = tuple(None if s is None else Tensor(s) for s in node.saved_tensors)
    got = op.backward_graph(node, *(Tensor(g) for g in grads))
    assert len(got) == len(expected)
    for k, (a, b) in enumerate(zip(got, expected)):
        assert (a is None) == (b is None), k
        if a is not None:
            np.testing.assert_allclose(a.numpy(), b, rtol=1e-12, atol=1e-14, err_msg=str(k))


def test_backward_graph_of_the_cells_and_the_embedding_agrees_with_backward():
    rng = np.random.default_rng(4)
    x, h, c = rng.standard_normal((3, 4)), rng.standard_normal((3, 5)), rng.standard_normal((3, 5))
    w_ih, w_hh, b = rng.standard_normal((20, 4)), rng.standard_normal((20, 5)), rng.standard_normal(20)
    _graph_backward_matches(ops.LSTMCell, x, h, c, w_ih, w_hh, b, b * 0.5,
                            grad_shape=((3, 5), (3, 5)))
    _graph_backward_matches(ops.LSTMCell, x, h, c, w_ih, w_hh, grad_shape=((3, 5), (3, 5)))
    _graph_backward_matches(ops.LSTMCell, x @ w_ih.T, h, c, None, w_hh, None, b,  # gates given
                            grad_shape=((3, 5), (3, 5)))
    _graph_backward_matches(ops.GRUCell, x, h, w_ih[:15], w_hh[:15], b[:15], b[5:], grad_shape=(3, 5))
    _graph_backward_matches(ops.Embedding, rng.standard_normal((5, 3)), np.array([[1, 4, 1], [0, 4, 2]]),
                            1, grad_shape=(2, 3, 3))


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("padding_side", ["right", "left"])
def test_pad_sequence_matches_torch(batch_first, padding_side):
    rng = np.random.default_rng(3)
    arrays = [rng.standard_normal((n, 2)) for n in (3, 5, 1)]
    ours = [chainrule.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out = nn.utils.rnn.pad_sequence(ours, batch_first=batch_first, padding_value=-1.5,
                                    padding_side=padding_side)
    expected = torch.nn.utils.rnn.pad_sequence(theirs, batch_first=batch_first, padding_value=-1.5,
                                               padding_side=padding_side)
    _close(out.numpy(), expected, "padded batch")
    g = rng.standard_normal(out.shape)
    out.backward(g)
    expected.backward(torch.tensor(g))
    for a, b in zip(ours, theirs):
        _close(a.grad.numpy(), b.grad, "gradient of a sequence")


def test_pad_sequence_refuses_different_trailing_shapes():
    with pytest.raises(ValueError, match=r"sequence 1 has shape \(2, 3\). Only the first dim"):
        nn.utils.rnn.pad_sequence([chainrule.ones(3, 2), chainrule.ones(2, 3)])


def test_cells_given_precomputed_input_gates_check_their_shape():
    # nn.LSTM hands each cell x_t W_ihᵀ + b_ih (W_ih None); a wrong width is named, not a NumPy error
    h, c, w_hh = chainrule.randn(3, 5), chainrule.randn(3, 5), chainrule.randn(20, 5)
    with pytest.raises(ValueError, match=r"lstm_cell: without W_ih the input must be the input "
                                         r"gates .* of shape \(batch, 20\)\. Got \(3, 4\)"):
        ops.LSTMCell.apply(chainrule.randn(3, 4), h, c, None, w_hh)
    with pytest.raises(TypeError, match="gru_cell: W_ih must be a Tensor"):
        ops.GRUCell.apply(chainrule.randn(3, 15), h, None, chainrule.randn(15, 5))
