"""detect_anomaly: the first NaN or Inf, in forward or backward, names its op and the user's line."""

import inspect
import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd import detect_anomaly, is_anomaly_enabled


def _line_of(marker: str) -> int:
    """The line number in this file of the one line that ends with the comment ``# marker``."""
    lines = inspect.getsource(inspect.getmodule(_line_of)).splitlines()
    (number,) = [i + 1 for i, line in enumerate(lines) if line.rstrip().endswith(f"# {marker}")]
    return number


@pytest.fixture(autouse=True)
def _quiet_numpy():
    # NumPy also warns about log(-1) and friends; the RuntimeError is what is tested here.
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def test_log_of_a_negative_number_names_log_and_the_line():
    x = cr.tensor([1.0, -1.0], requires_grad=True)
    expected = rf"Log produced nan in forward \(created at test_anomaly.py:{_line_of('log-line')}\)"
    with pytest.raises(RuntimeError, match=expected):
        with detect_anomaly():
            x.log()  # log-line


def test_zero_over_zero_names_div():
    x = cr.tensor([0.0, 1.0], requires_grad=True)
    expected = rf"Div produced nan in forward \(created at test_anomaly.py:{_line_of('div-line')}\)"
    with pytest.raises(RuntimeError, match=expected):
        with detect_anomaly():
            x / x  # div-line


def test_overflow_names_exp():
    x = cr.tensor([1000.0], requires_grad=True)
    expected = rf"Exp produced inf in forward \(created at test_anomaly.py:{_line_of('exp-line')}\)"
    with pytest.raises(RuntimeError, match=expected):
        with detect_anomaly():
            x.exp()  # exp-line


def test_inf_gradient_in_backward_names_the_op_and_where_it_was_created():
    # sqrt is fine at 0 in forward (0) but its derivative 1 / (2 sqrt(x)) is inf there.
    x = cr.tensor([0.0, 4.0], requires_grad=True)
    expected = rf"Sqrt produced inf in backward \(created at test_anomaly.py:{_line_of('sqrt-line')}\)"
    with pytest.raises(RuntimeError, match=expected):
        with detect_anomaly():
            loss = x.sqrt().sum()  # sqrt-line
            loss.backward()


def test_the_line_is_the_users_even_through_a_module():
    model = cr.nn.Sequential(cr.nn.Linear(2, 1))
    weight = next(model.parameters())
    weight.numpy()[...] = np.inf  # inf * 1 + inf * (-1) = nan inside Linear
    x = cr.tensor([[1.0, -1.0]])
    expected = rf"Linear produced nan in forward \(created at test_anomaly.py:{_line_of('module-line')}\)"
    with pytest.raises(RuntimeError, match=expected):
        with detect_anomaly():
            model(x)  # module-line


def test_no_false_alarm_on_a_normal_training_step():
    model = cr.nn.Sequential(cr.nn.Linear(2, 10), cr.nn.Sigmoid(), cr.nn.Linear(10, 1))
    optimizer = cr.optim.SGD(model.parameters(), lr=0.01)
    x = cr.randn(32, 2)
    y = 5 * x[:, :1] ** 2 + 3 * x[:, 1:] ** 2
    with detect_anomaly():
        for _ in range(3):
            loss = cr.nn.functional.mse_loss(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    assert np.isfinite(loss.item())


def test_off_by_default_and_restored_after_the_block():
    assert not is_anomaly_enabled()
    x = cr.tensor([-1.0], requires_grad=True)
    y = x.log()  # no error: detection is off
    assert np.isnan(y.item())
    with detect_anomaly():
        assert is_anomaly_enabled()
    assert not is_anomaly_enabled()
    with pytest.raises(RuntimeError):
        with detect_anomaly():
            x.log()
    assert not is_anomaly_enabled()  # restored after an error too


def test_works_as_a_decorator():
    @detect_anomaly()
    def compute(t):
        return t.log()

    with pytest.raises(RuntimeError, match="Log produced nan in forward"):
        compute(cr.tensor([-1.0], requires_grad=True))
