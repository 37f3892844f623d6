"""Module backward hooks (``register_full_backward_hook``, ``register_full_backward_pre_hook``).

How they see the gradients, as in PyTorch: a module with such hooks passes its tensor inputs, and
then its outputs, through an identity op. The identity op on the outputs receives dL/d(outputs)
during backward (the pre-hooks see it and may replace it); the one on the inputs receives
dL/d(inputs), and the full hooks see both and may replace dL/d(inputs). Nothing else changes: the
values are the same arrays, and the gradients are exactly what would have flowed anyway.
"""

from __future__ import annotations

from ..autograd import Function
from ..tensor import Tensor


def _as_tensors(grads):
    return tuple(g if g is None or isinstance(g, Tensor) else Tensor._from_op(g, None) for g in grads)


def _like(grads, template):
    """The hooks' replacements in the form the engine passed in (arrays, or Tensors under
    create_graph)."""
    return tuple(None if g is None else (g if isinstance(t, Tensor) else g._data)
                 for g, t in zip(grads, template))


class _Call:
    """One forward call of a module with backward hooks: what its identity ops share."""

    def __init__(self, module, n_inputs):
        self.module = module
        self.n_inputs = n_inputs
        self.grad_output = None
        self.input_slots = []  # positions of the forward's tensor arguments that require grad

    def run_pre_hooks(self, grads):
        for hook in list(self.module._backward_pre_hooks.values()):
            result = hook(self.module, _as_tensors(grads))
            if result is not None:
                result = result if isinstance(result, tuple) else (result,)
                _check_count("register_full_backward_pre_hook", result, grads, "grad_output")
                grads = _like(result, grads)
        self.grad_output = _as_tensors(grads)
        return grads

    def run_hooks(self, grad_input):
        for hook in list(self.module._backward_hooks.values()):
            result = hook(self.module, grad_input, self.grad_output)
            if result is not None:
                result = result if isinstance(result, tuple) else (result,)
                _check_count("register_full_backward_hook", result, grad_input, "grad_input")
                grad_input = tuple(result)
        return grad_input


def _check_count(what, result, expected, name):
    if len(result) != len(expected):
        raise RuntimeError(f"{what}: a hook returned {len(result)} gradients for {len(expected)} "
                           f"{name} entries: return one per entry (None where none), or None.")


class BackwardHookOutputs(Function):
    """Identity on a module's outputs, so its backward sees dL/d(outputs).

    forward:  y_k = x_k
    backward: dL/dx_k = dL/dy_k   (after the module's backward pre-hooks, which may replace it)
    """

    engine_internal = True  # a hook's plumbing, tested with the module hooks

    @staticmethod
    def forward(ctx, call, *arrays):
        ctx.call = call
        return arrays[0] if len(arrays) == 1 else tuple(arrays)

    @staticmethod
    def backward(ctx, *grads):
        call = ctx.call
        grads = call.run_pre_hooks(grads)
        if not call.input_slots and call.module._backward_hooks:  # no input needs a gradient:
            call.run_hooks((None,) * call.n_inputs)  # the hooks run now, with grad_input all None
        return (None, *grads)

    backward_graph = backward


class BackwardHookInputs(Function):
    """Identity on a module's tensor inputs, so its backward sees dL/d(inputs).

    forward:  y_k = x_k
    backward: dL/dx_k = dL/dy_k   (after the module's full backward hooks, which may replace it)
    """

    engine_internal = True

    @staticmethod
    def forward(ctx, call, *arrays):
        ctx.call = call
        return arrays[0] if len(arrays) == 1 else tuple(arrays)

    @staticmethod
    def backward(ctx, *grads):
        call = ctx.call
        grad_input = [None] * call.n_inputs
        for slot, g in zip(call.input_slots, _as_tensors(grads)):
            grad_input[slot] = g
        grad_input = call.run_hooks(tuple(grad_input))
        replaced = [grad_input[slot] for slot in call.input_slots]
        return (None, *_like(replaced, grads))

    backward_graph = backward


def wrap_inputs(module, args):
    """The forward's arguments with its tensors that require grad passed through the identity
    op, and the call's shared record."""
    call = _Call(module, len(args))
    call.input_slots = [i for i, a in enumerate(args) if isinstance(a, Tensor) and a.requires_grad]
    if not call.input_slots:
        return args, call
    wrapped = BackwardHookInputs.apply(call, *(args[i] for i in call.input_slots))
    wrapped = wrapped if isinstance(wrapped, tuple) else (wrapped,)
    args = list(args)
    for slot, tensor in zip(call.input_slots, wrapped):
        args[slot] = tensor
    return tuple(args), call


def wrap_outputs(call, output):
    """The forward's output (a Tensor or a tuple of them) through the identity op."""
    outputs = output if isinstance(output, tuple) else (output,)
    slots = [i for i, o in enumerate(outputs) if isinstance(o, Tensor) and o.requires_grad]
    if not slots:
        return output
    wrapped = BackwardHookOutputs.apply(call, *(outputs[i] for i in slots))
    wrapped = wrapped if isinstance(wrapped, tuple) else (wrapped,)
    outputs = list(outputs)
    for slot, tensor in zip(slots, wrapped):
        outputs[slot] = tensor
    return tuple(outputs) if isinstance(output, tuple) else outputs[0]
