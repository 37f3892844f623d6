"""One entry function per op: ``x.op(...)``, ``chainrule.op(x, ...)`` and ``F.op(x, ...)`` (and an
nn module and its function) share one argument check, so a mistake gets the same words whichever
spelling made it."""

import re
import warnings

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn


def _raised(call):
    """(exception type, message) of what ``call`` raises, the Python-made 'Tensor.' prefix of a
    method's signature errors dropped; None when it does not raise."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            call()
    except Exception as error:  # noqa: BLE001 - the point is to compare whatever is raised
        return type(error).__name__, re.sub(r"^Tensor\.", "", str(error))
    return None


def _shared_names():
    """The ops spelled both as a Tensor method and as a chainrule function."""
    return sorted(name for name in dir(cr) if not name.startswith("_") and hasattr(cr.Tensor, name)
                  and callable(getattr(cr, name)) and not isinstance(getattr(cr, name), type))


BAD_ARGUMENTS = [(1.5,), ("a",), (7,), (-7,), (None,), ((0, 7),), ((0, 1.5),), (1, 2.5), (0, "x")]


def _arity(said) -> bool:
    """Whether Python itself refused the call's shape (the signatures may differ, as PyTorch's do:
    ``x.flip(0, 1)`` against ``torch.flip(x, (0, 1))``)."""
    return said is not None and ("positional argument" in said[1] or "keyword argument" in said[1])


def _compare(name) -> int:
    """Call x.name and chainrule.name with each bad argument; assert they raise alike; return
    how many calls were compared."""
    x = cr.randn(2, 3)
    compared = 0
    for arguments in BAD_ARGUMENTS:
        method = _raised(lambda arguments=arguments: getattr(x, name)(*arguments))
        function = _raised(lambda arguments=arguments: getattr(cr, name)(x, *arguments))
        if _arity(method) or _arity(function):
            continue
        compared += 1
        assert method == function, (f"x.{name}{arguments!r} and chainrule.{name}(x, ...) differ:\n"
                                    f"  {method}\n  {function}")
    return compared


@pytest.mark.parametrize("name", _shared_names())
def test_a_method_and_its_function_say_the_same_words(name):
    _compare(name)


def test_the_sweep_covers_the_ops_it_should():
    names = _shared_names()
    assert {"flip", "softmax", "sum", "gather", "cumsum", "clamp", "topk"} <= set(names)
    assert len(names) > 50
    # most ops get at least one bad call compared, not only refused by Python for its shape (the
    # unary ones, exp or abs, take no argument to get wrong)
    compared = {name: _compare(name) for name in names}
    assert sum(n > 0 for n in compared.values()) > 0.6 * len(names), compared
    assert compared["flip"] > 0 and compared["softmax"] > 0 and compared["sum"] > 0


@pytest.mark.parametrize("bad, error, words", [
    (None, TypeError, "flip: dims must be an int or a tuple of ints. Got None instead."),
    (1.5, TypeError, "flip: dims must be an int or a tuple of ints. Got 1.5 instead."),
    ((0, 1.5), TypeError, "flip: dims must be an int or a tuple of ints. Got (0, 1.5) instead."),
    (5, ValueError, "flip: dim 5 is out of range for a tensor with 2 dims"),
])
def test_flip_words_a_bad_dims_alike(bad, error, words):
    """x.flip(*dims) passes one argument on as given (it used to pack it, and said 'Got (1.5,)'),
    and None is refused, as by PyTorch (chainrule.flip(x, None) used to flip every dim)."""
    x = cr.randn(2, 3)
    for call in (lambda: x.flip(bad), lambda: cr.flip(x, bad)):
        with pytest.raises(error, match=re.escape(words)):
            call()
    assert x.flip(0, 1).tolist() == cr.flip(x, (0, 1)).tolist() == x.flip([0, 1]).tolist()


@pytest.mark.parametrize("dim, error", [(1.5, TypeError), (7, ValueError)])
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_is_checked_once_for_its_three_spellings(name, dim, error):
    x = cr.randn(2, 3)
    said = {_raised(lambda: getattr(x, name)(dim)), _raised(lambda: getattr(cr, name)(x, dim)),
            _raised(lambda: getattr(F, name)(x, dim))}
    assert len(said) == 1 and said.pop()[0] == error.__name__


# ----- a module and its function: one check, each naming itself ---------------------------------

def _module_and_function_cases():
    x = cr.randn(2, 3)
    images = cr.randn(1, 2, 3, 3)
    return [
        ("GELU", lambda kw: nn.GELU(**kw), "gelu", lambda kw: F.gelu(x, **kw),
         [{"approximate": "fast"}, {"approximate": 1}]),
        ("HuberLoss", lambda kw: nn.HuberLoss(**kw), "huber_loss",
         lambda kw: F.huber_loss(x, x, **kw),
         [{"delta": 0}, {"delta": -1.0}, {"delta": "1"}, {"delta": True}, {"delta": float("nan")}]),
        ("Dropout", lambda kw: nn.Dropout(**kw), "dropout", lambda kw: F.dropout(x, **kw),
         [{"inplace": True}, {"inplace": 2}, {"p": 1.5}]),
        ("Dropout2d", lambda kw: nn.Dropout2d(**kw), "dropout2d",
         lambda kw: F.dropout2d(images, **kw), [{"inplace": True}, {"inplace": "yes"}, {"p": -0.1}]),
    ]


@pytest.mark.parametrize("case", _module_and_function_cases(), ids=lambda case: case[0])
def test_a_module_and_its_function_say_the_same_words(case):
    module_name, module, function_name, function, bad = case
    for kwargs in bad:
        by_module = _raised(lambda kwargs=kwargs: module(kwargs))
        by_function = _raised(lambda kwargs=kwargs: function(kwargs))
        assert by_module is not None, (module_name, kwargs)
        assert by_module == (by_function[0], by_function[1].replace(function_name, module_name)), \
            (kwargs, by_module, by_function)


def test_the_shared_words():
    with pytest.raises(ValueError, match=r"^Dropout: inplace=True is not supported: chainrule's "
                                         r"version returns a new tensor\. Use inplace=False"):
        nn.Dropout(0.1, inplace=True)
    with pytest.raises(TypeError, match=r"^The 'inplace' parameter of dropout must be a bool\. "
                                        r"Got 2 instead\.$"):
        F.dropout(cr.randn(2), inplace=2)
    with pytest.raises(ValueError, match=r"^The 'delta' parameter of HuberLoss must be positive\. "
                                         r"Got nan instead\.$"):
        nn.HuberLoss(delta=float("nan"))
    with pytest.raises(ValueError, match=r"^The 'approximate' parameter of GELU must be 'none' or "
                                         r"'tanh'\. Got 'fast' instead\.$"):
        nn.GELU(approximate="fast")
    # what passes the check works as before
    assert F.dropout(cr.ones(3), 0.5, training=False, inplace=False).tolist() == [1.0, 1.0, 1.0]
    assert nn.HuberLoss(delta=float("inf"))(cr.tensor([2.0]), cr.tensor([0.0])).item() == 2.0


def test_small_parity_gaps_closed():
    """x.maximum/x.minimum exist; x.flip() without dims and keepdim=3 are refused, as in PyTorch."""
    x = cr.tensor([[1.0, -2.0], [3.0, 0.5]])
    np.testing.assert_array_equal(x.maximum(cr.zeros(2, 2)).numpy(), [[1.0, 0.0], [3.0, 0.5]])
    np.testing.assert_array_equal(x.minimum(cr.zeros(2, 2)).numpy(), [[0.0, -2.0], [0.0, 0.0]])
    with pytest.raises(TypeError, match="flip: dims is required"):
        x.flip()
    for reduce in (x.sum, x.mean, x.std, x.prod, x.logsumexp):
        with pytest.raises(TypeError, match="keepdim must be a bool. Got 3"):
            reduce(0, keepdim=3)
