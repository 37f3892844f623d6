"""scikit-learn's MLPRegressor / MLPClassifier, set up to do exactly plain minibatch SGD.

Settings that make it match the other implementations step for step:

    solver="sgd", learning_rate="constant", alpha=0 (no L2), shuffle=False,
    nesterovs_momentum=False, momentum as the workload's, batch_size as the benchmark's,
    early_stopping=False.

Two differences of convention, handled here:

- Its squared loss is halved, L = mean((y - t)^2) / 2, so its gradient is half of MSE's: the
  regressor gets learning_rate_init = 2 * lr to take the same steps.
- Its momentum is v = mu v - lr g, p += v, where PyTorch's is b = mu b + g, p -= lr b; with a
  constant lr both give the same steps (v = -lr b).

Its weights are (in, out), so the shared weights are copied in transposed. partial_fit needs one
call to build the model; the weights and momentum buffers are overwritten after it.

Timing: ``steps(state, n)`` trains n minibatches with partial_fit over the n batches' rows at once
(one epoch of partial_fit is one pass in order, one update per minibatch), so its per-call input
checks are paid once per call, as in normal use, not once per minibatch. ``step`` is one minibatch.

Interface (shared by every impl_*.py): setup(workload, batch, seed) -> state; step(state);
quality(state) -> dict; plus steps(state, n).
"""

import numpy as np
from sklearn.neural_network import MLPClassifier, MLPRegressor

from workloads import make_problem, quality_from_outputs

NAME = "scikit-learn"


def setup(workload, batch, seed=0, n_train=None):
    problem = make_problem(workload, batch, seed, n_train)
    w = problem.workload
    common = dict(
        hidden_layer_sizes=w.sizes[1:-1],
        activation="logistic" if w.activation == "sigmoid" else "relu",
        solver="sgd",
        alpha=0.0,
        batch_size=batch,
        learning_rate="constant",
        momentum=w.momentum,
        nesterovs_momentum=False,
        shuffle=False,
        early_stopping=False,
        random_state=seed,
    )
    if w.loss == "mse":
        model = MLPRegressor(learning_rate_init=2 * w.lr, **common)  # halved squared loss
        model.partial_fit(problem.x_train[:batch], problem.y_train[:batch, 0])
    else:
        model = MLPClassifier(learning_rate_init=w.lr, **common)
        model.partial_fit(
            problem.x_train[:batch], problem.y_train[:batch], classes=np.arange(w.sizes[-1])
        )
    for j, (weight, bias) in enumerate(problem.weights):
        model.coefs_[j][...] = weight.T
        model.intercepts_[j][...] = bias
    for velocity in model._optimizer.velocities:
        velocity[...] = 0.0
    targets = problem.y_train[:, 0] if w.loss == "mse" else problem.y_train
    return {"problem": problem, "model": model, "targets": targets, "i": 0}


def steps(state, n):
    """n minibatch updates, continuing from step state['i'] and wrapping at the end of the data."""
    problem, model = state["problem"], state["model"]
    while n > 0:
        first = state["i"] % problem.n_batches
        count = min(n, problem.n_batches - first)
        rows = slice(first * problem.batch, (first + count) * problem.batch)
        model.partial_fit(problem.x_train[rows], state["targets"][rows])
        state["i"] += count
        n -= count


def step(state):
    steps(state, 1)


def quality(state):
    problem, model = state["problem"], state["model"]
    if problem.workload.loss == "mse":
        return quality_from_outputs(problem, model.predict(problem.x_val))
    # log-probabilities are logits up to a constant per row, which quality_from_outputs removes
    proba = model.predict_proba(problem.x_val).astype(np.float64)
    return quality_from_outputs(problem, np.log(np.maximum(proba, 1e-300)))
