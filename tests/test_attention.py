"""Attention against PyTorch from the same state_dict, float64: scaled_dot_product_attention,
MultiheadAttention, the Transformer encoder and decoder layers; outputs, attention weights and
the gradients of every parameter and input agree at rtol 1e-9. Plus dropout's statistics, weight
tying and the one-sentence errors."""

import numpy as np
import pytest

import chainrule
from chainrule import nn, ops
from chainrule.nn import functional as F
from chainrule.tensor import Tensor

torch = pytest.importorskip("torch")
torch.set_num_threads(1)

RTOL, ATOL = 1e-9, 1e-12
E, HEADS = 8, 2


def _close(a, b, what):
    b = b.detach().numpy() if hasattr(b, "detach") else b
    np.testing.assert_allclose(np.asarray(a), b, rtol=RTOL, atol=ATOL, err_msg=what)


def _load(ours, theirs):
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    assert list(ours.state_dict()) == list(theirs.state_dict())


def _inputs(rng, *shapes):
    arrays = [rng.standard_normal(s) for s in shapes]
    return ([chainrule.tensor(a, requires_grad=True) for a in arrays],
            [torch.tensor(a, requires_grad=True) for a in arrays])


def _backward_and_compare(outs_ours, outs_theirs, ours, theirs, ins_ours, ins_theirs, rng):
    loss_ours, loss_theirs = 0, 0
    for k, (a, b) in enumerate(zip(outs_ours, outs_theirs)):
        assert a.shape == tuple(b.shape), (k, a.shape, b.shape)
        _close(a.numpy(), b, f"output {k}")
        g = rng.standard_normal(a.shape)
        loss_ours = loss_ours + (a * chainrule.tensor(g)).sum()
        loss_theirs = loss_theirs + (b * torch.tensor(g)).sum()
    loss_ours.backward()
    loss_theirs.backward()
    named = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        if named[name].grad is None:
            assert p.grad is None or not p.grad.numpy().any(), name
            continue
        _close(p.grad.numpy(), named[name].grad, f"gradient of {name}")
    for k, (a, b) in enumerate(zip(ins_ours, ins_theirs)):
        _close(a.grad.numpy(), b.grad, f"gradient of input {k}")


CAUSAL_4 = np.triu(np.ones((4, 4), dtype=bool), 1)  # MHA convention: True where NOT allowed
PADDING_3x4 = np.array([[False, False, False, True], [False, False, False, False],
                        [False, True, False, True]])

MHA_CONFIGS = [
    ("self, weights averaged", {}, {}, None),
    ("batch_first, no weights", {"batch_first": True}, {"need_weights": False}, None),
    ("per-head weights, masks", {}, {"average_attn_weights": False, "attn_mask": CAUSAL_4,
                                     "key_padding_mask": PADDING_3x4}, None),
    ("masks, no weights (fused op)", {}, {"need_weights": False, "attn_mask": CAUSAL_4,
                                          "key_padding_mask": PADDING_3x4, "is_causal": True}, None),
    ("float 3-D attn_mask", {"batch_first": True}, {"attn_mask": "float3d"}, None),
    ("kdim, vdim, no bias", {"kdim": 5, "vdim": 3, "bias": False}, {}, (6, 5, 3)),
    ("unbatched", {}, {"attn_mask": CAUSAL_4}, "unbatched"),
]


@pytest.mark.parametrize("label, init_kw, call_kw, special", MHA_CONFIGS,
                         ids=[c[0] for c in MHA_CONFIGS])
def test_multihead_attention_matches_torch(label, init_kw, call_kw, special):
    theirs = torch.nn.MultiheadAttention(E, HEADS, dtype=torch.float64, **init_kw)
    ours = nn.MultiheadAttention(E, HEADS, dtype=np.float64, **init_kw)
    _load(ours, theirs)
    rng = np.random.default_rng(0)
    L, N = 4, 3
    if special == "unbatched":
        shapes = [(L, E)] * 3
    elif isinstance(special, tuple):  # key and value of another length and width
        S = special[0]
        shapes = [(L, N, E), (S, N, special[1]), (S, N, special[2])]
    else:
        shapes = [(N, L, E) if init_kw.get("batch_first") else (L, N, E)] * 3
    ins_ours, ins_theirs = _inputs(rng, *shapes)
    kw_ours, kw_theirs = dict(call_kw), dict(call_kw)
    if call_kw.get("attn_mask") is not None and isinstance(call_kw["attn_mask"], str):
        m = rng.standard_normal((N * HEADS, L, L))
        kw_ours["attn_mask"], kw_theirs["attn_mask"] = chainrule.tensor(m), torch.tensor(m)
    for key in ("attn_mask", "key_padding_mask"):
        if isinstance(kw_ours.get(key), np.ndarray):
            kw_ours[key], kw_theirs[key] = chainrule.tensor(call_kw[key]), torch.tensor(call_kw[key])
    out_ours, w_ours = ours(*ins_ours, **kw_ours)
    out_theirs, w_theirs = theirs(*ins_theirs, **kw_theirs)
    outs_ours, outs_theirs = [out_ours], [out_theirs]
    if call_kw.get("need_weights", True):
        outs_ours.append(w_ours)
        outs_theirs.append(w_theirs)
    else:
        assert w_ours is None and w_theirs is None
    _backward_and_compare(outs_ours, outs_theirs, ours, theirs, ins_ours, ins_theirs, rng)


def _layer_pair(cls, **kw):
    theirs = getattr(torch.nn, cls)(E, HEADS, dim_feedforward=12, dropout=0.0,
                                    dtype=torch.float64, **kw)
    activation = kw.pop("activation", "relu")
    if callable(activation):
        activation = F.silu  # the same function as the torch callable used below
    ours = getattr(nn, cls)(E, HEADS, dim_feedforward=12, dropout=0.0, dtype=np.float64,
                            activation=activation, **kw)
    _load(ours, theirs)
    for name, p in theirs.named_parameters():  # LayerNorm starts at (1, 0): make it count
        if name.startswith("norm"):
            p.data += torch.tensor(np.random.default_rng(len(name)).uniform(-0.5, 0.5, p.shape))
    _load(ours, theirs)
    return ours, theirs


ENCODER_CONFIGS = [{}, {"norm_first": True}, {"activation": "gelu", "batch_first": True},
                   {"activation": torch.nn.functional.silu, "bias": False},
                   {"norm_first": True, "layer_norm_eps": 1e-3}]


ENCODER_IDS = ["post-norm", "pre-norm", "gelu batch_first", "callable activation, no bias",
               "pre-norm eps 1e-3"]


@pytest.mark.parametrize("kw", ENCODER_CONFIGS, ids=ENCODER_IDS)
@pytest.mark.parametrize("masked", [False, True], ids=["no mask", "causal + padding"])
def test_transformer_encoder_layer_matches_torch(kw, masked):
    ours, theirs = _layer_pair("TransformerEncoderLayer", **dict(kw))
    rng = np.random.default_rng(1)
    shape = (3, 4, E) if kw.get("batch_first") else (4, 3, E)
    ins_ours, ins_theirs = _inputs(rng, shape)
    kw_ours, kw_theirs = {}, {}
    if masked:
        kw_ours = {"src_mask": chainrule.tensor(CAUSAL_4), "is_causal": True,
                   "src_key_padding_mask": chainrule.tensor(PADDING_3x4)}
        kw_theirs = {"src_mask": torch.tensor(CAUSAL_4), "is_causal": True,
                     "src_key_padding_mask": torch.tensor(PADDING_3x4)}
    out_ours = ours(ins_ours[0], **kw_ours)
    out_theirs = theirs(ins_theirs[0], **kw_theirs)
    _backward_and_compare([out_ours], [out_theirs], ours, theirs, ins_ours, ins_theirs, rng)


@pytest.mark.parametrize("kw", [{}, {"norm_first": True, "batch_first": True}],
                         ids=["post-norm", "pre-norm batch_first"])
def test_transformer_decoder_layer_matches_torch(kw):
    ours, theirs = _layer_pair("TransformerDecoderLayer", **dict(kw))
    rng = np.random.default_rng(2)
    tgt, memory = ((3, 4, E), (3, 6, E)) if kw.get("batch_first") else ((4, 3, E), (6, 3, E))
    ins_ours, ins_theirs = _inputs(rng, tgt, memory)
    memory_padding = np.zeros((3, 6), dtype=bool)
    memory_padding[0, 4:] = True
    out_ours = ours(*ins_ours, tgt_mask=chainrule.tensor(CAUSAL_4), tgt_is_causal=True,
                    memory_key_padding_mask=chainrule.tensor(memory_padding))
    out_theirs = theirs(*ins_theirs, tgt_mask=torch.tensor(CAUSAL_4), tgt_is_causal=True,
                        memory_key_padding_mask=torch.tensor(memory_padding))
    _backward_and_compare([out_ours], [out_theirs], ours, theirs, ins_ours, ins_theirs, rng)


def test_transformer_encoder_stack_with_final_norm_matches_torch():
    layer_theirs = torch.nn.TransformerEncoderLayer(E, HEADS, 12, 0.0, dtype=torch.float64)
    theirs = torch.nn.TransformerEncoder(layer_theirs, 2, torch.nn.LayerNorm(E, dtype=torch.float64),
                                         enable_nested_tensor=False)
    ours = nn.TransformerEncoder(nn.TransformerEncoderLayer(E, HEADS, 12, 0.0, dtype=np.float64), 2,
                                 nn.LayerNorm(E, dtype=np.float64))
    _load(ours, theirs)
    assert ours.layers[0].linear1.weight is not ours.layers[1].linear1.weight  # copies
    rng = np.random.default_rng(3)
    ins_ours, ins_theirs = _inputs(rng, (4, 3, E))
    _backward_and_compare([ours(ins_ours[0])], [theirs(ins_theirs[0])], ours, theirs, ins_ours,
                          ins_theirs, rng)


def test_sdpa_dropout_keeps_the_expected_output_and_drops_p_of_the_weights():
    chainrule.manual_seed(0)
    q, k = chainrule.randn(4, 64, 8).double(), chainrule.randn(4, 64, 8).double()
    v = chainrule.tensor(np.ones((4, 64, 1)))
    out = F.scaled_dot_product_attention(q, k, v, dropout_p=0.3).numpy()
    # each output is the sum of one row of dropped weights: its mean is 1 (rows sum to 1) and
    # the weights it drops are a fraction 0.3 of the whole
    assert abs(out.mean() - 1.0) < 0.05
    node = F.scaled_dot_product_attention(q.requires_grad_(), k, v, dropout_p=0.3).grad_fn
    assert abs((node.keep == 0).mean() - 0.3) < 0.02
    np.testing.assert_allclose(np.unique(node.keep), [0.0, 1 / 0.7])
    no_dropout = F.scaled_dot_product_attention(q, k, v).numpy()
    np.testing.assert_allclose(no_dropout, 1.0)


def test_multihead_attention_dropout_acts_in_training_only():
    mha = nn.MultiheadAttention(E, HEADS, dropout=0.5, dtype=np.float64)
    x = chainrule.randn(5, 2, E).double()
    chainrule.manual_seed(1)
    a = mha(x, x, x)[0].numpy()
    b = mha(x, x, x)[0].numpy()
    assert not np.allclose(a, b)
    mha.eval()
    np.testing.assert_array_equal(mha(x, x, x)[0].numpy(), mha(x, x, x)[0].numpy())


def test_weight_tying_sums_the_gradients_of_both_uses():
    # One Parameter in two modules (an embedding and the output head of a language model): it is
    # listed once, and its gradient is the sum from the lookup and from the head, as in PyTorch.
    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(7, E, dtype=np.float64)
            self.head = nn.Linear(E, 7, bias=False, dtype=np.float64)
            self.head.weight = self.emb.weight

        def forward(self, ids):
            return self.head(self.emb(ids).tanh())

    class TorchTied(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = torch.nn.Embedding(7, E, dtype=torch.float64)
            self.head = torch.nn.Linear(E, 7, bias=False, dtype=torch.float64)
            self.head.weight = self.emb.weight

        def forward(self, ids):
            return self.head(self.emb(ids).tanh())

    ours, theirs = Tied(), TorchTied()
    assert len(list(ours.parameters())) == len(list(theirs.parameters())) == 1
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    ids = np.array([[1, 2, 6], [0, 2, 2]])
    target = np.array([[2, 6, 0], [1, 1, 3]])
    loss_ours = F.cross_entropy(ours(chainrule.tensor(ids)).reshape(-1, 7), target.reshape(-1))
    loss_theirs = torch.nn.functional.cross_entropy(theirs(torch.tensor(ids)).reshape(-1, 7),
                                                    torch.tensor(target.reshape(-1)))
    _close(loss_ours.numpy(), loss_theirs, "loss")
    loss_ours.backward()
    loss_theirs.backward()
    _close(ours.emb.weight.grad.numpy(), theirs.emb.weight.grad, "tied gradient")
    # and it is indeed a sum of two parts: the head alone gives something else
    head_only = Tied()
    head_only.load_state_dict(ours.state_dict())
    head_only.emb.weight.requires_grad_(True)
    hidden = head_only.emb(chainrule.tensor(ids)).tanh().detach()
    F.cross_entropy(head_only.head(hidden).reshape(-1, 7), target.reshape(-1)).backward()
    assert not np.allclose(head_only.head.weight.grad.numpy(), ours.emb.weight.grad.numpy())


def test_bad_arguments_and_masks_are_one_sentence():
    with pytest.raises(ValueError, match=r"embed_dim \(10\) must be divisible by num_heads \(3\)"):
        nn.MultiheadAttention(10, 3)
    with pytest.raises(ValueError, match="add_bias_kv=True is not supported"):
        nn.MultiheadAttention(E, HEADS, add_bias_kv=True)
    mha = nn.MultiheadAttention(E, HEADS)
    x = chainrule.randn(4, 3, E)
    with pytest.raises(ValueError, match=r"attn_mask must have shape \(4, 4\) \(L, S\) or \(6, 4, 4\)"
                                         r".*Got \(3, 4\)"):
        mha(x, x, x, attn_mask=chainrule.tensor(np.zeros((3, 4), dtype=bool)))
    with pytest.raises(TypeError, match="attn_mask must be bool or floating-point. Got dtype int64"):
        mha(x, x, x, attn_mask=chainrule.tensor(np.zeros((4, 4), dtype=np.int64)))
    with pytest.raises(ValueError, match=r"key_padding_mask must have shape \(3, 4\).*Got \(4, 3\)"):
        mha(x, x, x, key_padding_mask=chainrule.tensor(np.zeros((4, 3), dtype=bool)))
    with pytest.raises(ValueError, match="is_causal=True is a hint that attn_mask"):
        mha(x, x, x, is_causal=True)
    with pytest.raises(ValueError, match=r"the last dim of query must be 8.*\(4, 3, 5\)"):
        mha(chainrule.randn(4, 3, 5), x, x)
    q = chainrule.randn(2, 3, 4)
    with pytest.raises(ValueError, match=r"attn_mask of shape \(2, 2\) does not broadcast to the "
                                         r"attention scores' shape \(2, 3, 3\)"):
        F.scaled_dot_product_attention(q, q, q, attn_mask=chainrule.tensor(np.ones((2, 2), bool)))
    with pytest.raises(ValueError, match="enable_gqa=True .* is not supported"):
        F.scaled_dot_product_attention(q, q, q, enable_gqa=True)
    with pytest.raises(ValueError, match="either attn_mask or is_causal=True, not both"):
        F.scaled_dot_product_attention(q, q, q, chainrule.tensor(np.ones((3, 3), bool)), is_causal=True)
    with pytest.raises(ValueError, match="'activation' parameter of TransformerEncoderLayer"):
        nn.TransformerEncoderLayer(E, HEADS, activation="swish")


def test_backward_graph_of_attention_agrees_with_backward():
    rng = np.random.default_rng(6)
    q, k, v = (chainrule.tensor(rng.standard_normal(s), requires_grad=True)
               for s in ((2, 3, 4), (2, 5, 4), (2, 5, 2)))
    for mask in (None, chainrule.tensor(rng.standard_normal((3, 5)), requires_grad=True)):
        keep = (rng.random((2, 3, 5)) > 0.3) / 0.7
        out = ops.ScaledDotProductAttention.apply(q, k, v, mask, 0.4, keep)
        node = out.grad_fn
        grad = rng.standard_normal(out.shape)
        expected = ops.ScaledDotProductAttention.backward(node, grad)
        node.saved_tensors = tuple(None if s is None else Tensor(s) for s in node.saved_tensors)
        got = ops.ScaledDotProductAttention.backward_graph(node, Tensor(grad))
        for a, b in zip(got, expected):
            assert (a is None) == (b is None)
            if a is not None:
                np.testing.assert_allclose(a.numpy(), b, rtol=1e-12, atol=1e-14)


def test_the_attention_example_in_the_docs_prints_what_it_says():
    import re
    import subprocess
    import sys
    from pathlib import Path

    page = Path(__file__).resolve().parents[1] / "docs" / "sequence_models.md"
    code = re.findall(r"```python\n(.*?)```", page.read_text(), re.S)[0]
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["True True True", "0.0"]
