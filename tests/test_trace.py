"""trace: the backward pass recorded node by node, equal to what loss.backward() computes."""

import io

import numpy as np
import pytest

import chainrule as cr
from chainrule import ops
from chainrule.autograd import Function
from chainrule.apps.trace import backward_steps, explain, format_trace, formula


def _seed_problem(hidden=3):
    model = cr.nn.Sequential(cr.nn.Linear(2, hidden, dtype=np.float64), cr.nn.Sigmoid(),
                             cr.nn.Linear(hidden, 1, dtype=np.float64))
    x = cr.tensor(np.array([[0.5, -1.2], [1.5, 0.3]]))
    target = 5 * x[:, :1].detach() ** 2 + 3 * x[:, 1:].detach() ** 2
    with cr.autograd.keep_input_tensors():  # intermediate values shown in the trace
        loss = cr.nn.functional.mse_loss(model(x), target)
    names = {"x": x, "target": target, **dict(model.named_parameters())}
    return model, loss, names


def test_without_keep_input_tensors_the_trace_still_has_every_gradient():
    model = cr.nn.Sequential(cr.nn.Linear(2, 3, dtype=np.float64), cr.nn.Sigmoid(),
                             cr.nn.Linear(3, 1, dtype=np.float64))
    x = cr.tensor(np.array([[0.5, -1.2]]))
    loss = cr.nn.functional.mse_loss(model(x), cr.tensor(np.array([[2.0]])))
    trace = backward_steps(loss, names=dict(model.named_parameters()))
    assert [s.name for s in trace.steps] == ["MSELoss", "Linear", "Sigmoid", "Linear"]
    assert trace.steps[2].output is None  # the sigmoid's output was freed with the forward
    loss.backward()
    for name, p in model.named_parameters():
        np.testing.assert_allclose(trace.leaf_grads[name], p.grad.numpy(), rtol=1e-12)


def test_steps_follow_the_engine_order_with_formulas_and_shapes():
    model, loss, names = _seed_problem()
    trace = backward_steps(loss, names=names)
    assert [s.name for s in trace.steps] == ["MSELoss", "Linear", "Sigmoid", "Linear"]
    assert [s.index for s in trace.steps] == [1, 2, 3, 4]
    assert [s.output_shape for s in trace.steps] == [(), (2, 1), (2, 3), (2, 3)]
    sigmoid = trace.steps[2]
    assert sigmoid.backward.startswith("dL/dx = dL/dy * y * (1 - y)")
    assert sigmoid.forward == "y = 1 / (1 + exp(-x))"
    assert [i.label for i in trace.steps[1].inputs] == ["output of Sigmoid (step 3)", "2.weight", "2.bias"]
    assert [i.label for i in trace.steps[3].inputs] == ["x", "0.weight", "0.bias"]
    assert trace.steps[3].inputs[0].grad is None  # x is data


def test_each_step_applies_its_local_derivative_to_the_incoming_gradient():
    _, loss, names = _seed_problem()
    steps = backward_steps(loss, names=names).steps
    mse, out_layer, sigmoid, hidden = steps
    # dL/dprediction = 2 (prediction - target) / n
    prediction, target = out_layer.output, names["target"].numpy()
    np.testing.assert_allclose(mse.inputs[0].grad, 2 * (prediction - target) / 2, rtol=1e-12)
    # what leaves one node is what enters the next
    np.testing.assert_array_equal(out_layer.grad_output, mse.inputs[0].grad)
    np.testing.assert_array_equal(sigmoid.grad_output, out_layer.inputs[0].grad)
    np.testing.assert_array_equal(hidden.grad_output, sigmoid.inputs[0].grad)
    # sigmoid: element-wise y (1 - y), not a matrix product
    y = sigmoid.output
    np.testing.assert_allclose(sigmoid.inputs[0].grad, sigmoid.grad_output * y * (1 - y), rtol=1e-12)
    # linear: dL/dW = (dL/dY)ᵀ X, dL/db = batch sum
    np.testing.assert_allclose(hidden.inputs[1].grad, hidden.grad_output.T @ names["x"].numpy(),
                               rtol=1e-12)
    np.testing.assert_allclose(hidden.inputs[2].grad, hidden.grad_output.sum(axis=0), rtol=1e-12)


def test_leaf_gradients_equal_loss_backward_and_nothing_is_touched():
    model, loss, names = _seed_problem()
    trace = backward_steps(loss, names=names)
    assert all(p.grad is None for p in model.parameters())  # tracing fills no .grad
    loss.backward()  # the graph was not freed by tracing
    assert list(trace.leaf_grads) == ["2.weight", "2.bias", "0.weight", "0.bias"]
    for name, p in model.named_parameters():
        np.testing.assert_array_equal(trace.leaf_grads[name], p.grad.numpy(), err_msg=name)


def test_gradients_from_several_paths_are_added():
    a = cr.tensor(np.array([0.3, -0.7, 1.1]), requires_grad=True)
    h = a.exp()  # used twice below
    loss = (h * h + h).sum()
    trace = backward_steps(loss, names={"a": a})
    (exp_step,) = [s for s in trace.steps if s.name == "Exp"]
    np.testing.assert_allclose(exp_step.grad_output, 2 * h.numpy() + 1, rtol=1e-12)
    np.testing.assert_allclose(trace.leaf_grads["a"], (2 * h.numpy() + 1) * h.numpy(), rtol=1e-12)
    # a leaf reached twice: a*a + a.exp()
    b = cr.tensor(np.array([0.2, 0.4]), requires_grad=True)
    trace = backward_steps((b * b + b.exp()).sum(), names={b: "b"})  # Tensor -> name also works
    np.testing.assert_allclose(trace.leaf_grads["b"], 2 * b.numpy() + np.exp(b.numpy()), rtol=1e-12)


def test_an_explicit_gradient_for_a_non_scalar_root():
    x = cr.tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = x * 3
    trace = backward_steps(y, grad=np.array([1.0, -1.0]), names={"x": x})
    np.testing.assert_array_equal(trace.leaf_grads["x"], [3.0, -3.0])


def test_formula_reads_the_docstring_lines():
    assert formula(ops.Softmax) == (
        "dL/dx_i = y_i * (dL/dy_i - sum_j dL/dy_j * y_j)\n"
        "(the Jacobian is diag(y) - y yᵀ; its product with dL/dy, without building it)"
    )
    assert formula(ops.Sigmoid, "forward") == "y = 1 / (1 + exp(-x))"

    class NoDoc(Function):
        pass

    assert formula(NoDoc) == ""


def test_format_and_explain_print_every_step_and_the_check():
    model, loss, names = _seed_problem()
    text = format_trace(backward_steps(loss, names=names), precision=3)
    for header in ("step 1: MSELoss", "step 2: Linear", "step 3: Sigmoid", "step 4: Linear"):
        assert header in text
    assert "backward: dL/dx = dL/dy * y * (1 - y)" in text
    assert "out: dL/d(input 1: target) (2, 1): no gradient needed" in text
    assert "(input 2: 'mean')" not in text  # settings are not listed as inputs
    out = io.StringIO()
    trace = explain(loss, names, file=out)
    assert trace.difference == 0.0
    assert "check: the traced gradients of 0.weight, 0.bias, 2.weight, 2.bias and loss.backward()'s " \
           ".grad equal." in out.getvalue()
    for _, p in model.named_parameters():
        assert p.grad is not None  # explain ran the real backward too


def test_created_at_is_recorded_under_detect_anomaly():
    x = cr.tensor(np.array([0.5]), requires_grad=True)
    with cr.autograd.detect_anomaly():
        loss = x.sigmoid().sum()
    steps = backward_steps(loss).steps
    assert all(s.created_at.startswith("test_trace.py:") for s in steps)
    assert "(created at test_trace.py:" in format_trace(backward_steps(loss))


def test_errors_are_named():
    x = cr.tensor(np.array([1.0, 2.0]), requires_grad=True)
    with pytest.raises(TypeError, match="backward_steps: expected a Tensor. Got ndarray instead."):
        backward_steps(x.numpy())
    with pytest.raises(ValueError, match="no graph to trace"):
        backward_steps(x)
    with pytest.raises(ValueError, match=r"shape \(2,\) needs an explicit gradient"):
        backward_steps(x * 2)
    with pytest.raises(ValueError, match=r"grad has shape \(3,\), but the tensor has shape \(2,\)"):
        backward_steps(x * 2, grad=np.ones(3))
    loss = (x * x).sum()
    loss.backward()
    with pytest.raises(RuntimeError, match="already freed by an earlier backward"):
        backward_steps(loss)
