"""Every op case on the 'cuda' device, compared with the CPU (issue #19).

The GPU where CuPy finds one; elsewhere the CPU stand-in (chainrule.standin), whose arrays compute
with NumPy but refuse implicit conversion to NumPy and host arrays mixed into device work, as
CuPy's do: an op that calls np.asarray on its input, or makes an index array on the host, fails
here as it would on a GPU. Float64 everywhere: on the stand-in the results are NumPy's own, so they
must equal the CPU's to rounding; on a GPU, to the tolerance of another BLAS.
"""

import contextlib

import numpy as np
import pytest

import chainrule
from chainrule import kernels
from chainrule.op_cases import CASES

IDS = [c.name for c in CASES]


def _run(case, arrays, device, second_order):
    """Forward, first and (optionally) second derivatives of the case on ``device``, on the host."""
    chainrule.set_default_device(device)  # constants a case makes (targets, masks) go there too
    try:
        inputs = [chainrule.tensor(a, requires_grad=case.requires_grad(i), device=device)
                  for i, a in enumerate(arrays)]
        out = case.fn(chainrule, *inputs)
        upstream = chainrule.tensor(np.random.default_rng(7).standard_normal(out.shape), device=device)
        wanting = [x for i, x in enumerate(inputs) if case.requires_grad(i)]
        grads = chainrule.autograd.grad(out, wanting, upstream, create_graph=second_order,
                                        allow_unused=True)
        results = {"out": out, **{f"grad{i}": g for i, g in enumerate(grads)}}
        if second_order:
            v = [chainrule.tensor(np.random.default_rng(11 + i).standard_normal(x.shape), device=device)
                 for i, x in enumerate(wanting)]
            total = sum((g * w).sum() for g, w in zip(grads, v) if g is not None and g.requires_grad)
            if isinstance(total, chainrule.Tensor):
                second = chainrule.autograd.grad(total, wanting, allow_unused=True)
                results.update({f"second{i}": g for i, g in enumerate(second)})
    finally:
        chainrule.set_default_device(None)
    for name, t in results.items():
        if t is not None:
            assert t.device == chainrule.device(device if device == "cpu" else "cuda:0"), name
    return {k: (None if t is None else t.cpu().numpy()) for k, t in results.items()}


@pytest.mark.parametrize("order", ["first", "second", "first-unfused"])
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_op_case_on_cuda_equals_cpu(case, order, cuda):
    """First order: the NumPy backward every loss.backward() takes; second: backward_graph;
    first-unfused: the ops' own code on the device, as where a GPU runs no fused kernel
    (chainrule.kernels: the kernels turned off, or one CuPy could not compile)."""
    arrays = case.make_inputs()
    second = order == "second" and case.second_order
    expected = _run(case, arrays, "cpu", second)
    with kernels.fusing(False) if order == "first-unfused" else contextlib.nullcontext():
        got = _run(case, arrays, "cuda", second)
    rtol = 1e-12 if cuda == "standin" else 1e-9
    for name, value in expected.items():
        if value is None:
            assert got[name] is None, name
            continue
        np.testing.assert_allclose(got[name], value, rtol=rtol, atol=1e-12, err_msg=name)
