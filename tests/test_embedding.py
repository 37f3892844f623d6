"""nn.Embedding and F.embedding against PyTorch: lookup, scatter-add gradient, padding_idx,
max_norm, from_pretrained, and the one-sentence errors. (The op itself is in op_cases.py.)"""

import numpy as np
import pytest

import chainrule
from chainrule import nn
from chainrule.nn import functional as F

torch = pytest.importorskip("torch")

IDS = np.array([[0, 2, 2, 5], [5, 1, 2, 0], [3, 3, 3, 3]])


def _pair(**kwargs):
    """A torch Embedding and a chainrule one holding the same float64 weights."""
    theirs = torch.nn.Embedding(6, 4, dtype=torch.float64, **kwargs)
    ours = nn.Embedding(6, 4, dtype=np.float64, **kwargs)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


@pytest.mark.parametrize("padding_idx", [None, 2, -1])
def test_lookup_and_gradient_match_torch(padding_idx):
    ours, theirs = _pair(padding_idx=padding_idx)
    upstream = np.random.default_rng(0).standard_normal(IDS.shape + (4,))
    out = ours(chainrule.tensor(IDS))
    expected = theirs(torch.tensor(IDS))
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=1e-12)
    out.backward(upstream)
    expected.backward(torch.tensor(upstream))
    np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(), rtol=1e-12,
                               atol=1e-15)
    if padding_idx is not None:  # read several times, yet no gradient
        assert not ours.weight.grad.numpy()[padding_idx].any()


def test_padding_row_is_initialised_to_zero_and_names_match_torch():
    emb = nn.Embedding(10, 3, padding_idx=4)
    assert not emb.weight.numpy()[4].any()
    assert emb.weight.numpy()[[0, 1, 2, 3, 5]].std() > 0.3  # N(0, 1) elsewhere
    assert list(emb.state_dict()) == list(torch.nn.Embedding(10, 3).state_dict()) == ["weight"]
    assert repr(emb) == "Embedding(10, 3, padding_idx=4)"


def test_max_norm_renormalises_looked_up_rows_in_place_as_torch():
    ours, theirs = _pair(max_norm=1.0)
    ids = np.array([1, 4, 4])
    out = ours(chainrule.tensor(ids))
    expected = theirs(torch.tensor(ids))
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(ours.weight.numpy(), theirs.weight.detach().numpy(), rtol=1e-12)
    assert np.linalg.norm(ours.weight.numpy()[4]) <= 1.0 + 1e-9


def test_from_pretrained_freezes_by_default_and_copies():
    table = np.arange(12.0).reshape(4, 3)
    emb = nn.Embedding.from_pretrained(chainrule.tensor(table))
    assert not emb.weight.requires_grad
    table[0, 0] = 100.0
    assert emb.weight.numpy()[0, 0] == 0.0
    np.testing.assert_array_equal(emb(chainrule.tensor([3, 1])).numpy(), [[9, 10, 11], [3, 4, 5]])
    assert nn.Embedding.from_pretrained(table, freeze=False).weight.requires_grad


def test_one_hot_product_equals_lookup():
    # An embedding is a one-hot row times the table.
    weight = chainrule.tensor(np.random.default_rng(1).standard_normal((6, 4)), requires_grad=True)
    one_hot = chainrule.tensor((IDS.reshape(-1, 1) == np.arange(6)).astype(float))
    looked_up = F.embedding(chainrule.tensor(IDS), weight).reshape(-1, 4)
    np.testing.assert_allclose(looked_up.numpy(), (one_hot @ weight).numpy())


def test_bad_ids_and_arguments_are_one_sentence():
    emb = nn.Embedding(6, 4)
    with pytest.raises(IndexError, match=r"Embedding: token ids must lie in \[0, 5\].*Got 6"):
        emb(chainrule.tensor([1, 6]))
    with pytest.raises(IndexError, match=r"^embedding: token ids must lie in \[0, 5\]"):
        F.embedding(chainrule.tensor([1, 6]), emb.weight)
    with pytest.raises(IndexError, match="Got -1 instead"):
        emb(chainrule.tensor([-1, 2]))
    with pytest.raises(TypeError, match="token ids must be integers.*float32"):
        emb(chainrule.tensor([1.0, 2.0]))
    with pytest.raises(ValueError, match="sparse=True is not supported"):
        nn.Embedding(6, 4, sparse=True)
    with pytest.raises(ValueError, match="scale_grad_by_freq=True is not supported"):
        nn.Embedding(6, 4, scale_grad_by_freq=True)
    with pytest.raises(ValueError, match="'padding_idx' parameter of Embedding"):
        nn.Embedding(6, 4, padding_idx=6)
