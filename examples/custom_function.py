"""Write your own layer as an autograd Function, check it with gradcheck, and see a wrong one caught.

    python examples/custom_function.py           # all four parts, then a short training run
    python examples/custom_function.py --quick   # the same with fewer samples and epochs

1. Swish (also called SiLU): y = x * sigmoid(x), forward and backward written by hand.
2. gradcheck compares that backward with finite differences: it passes.
3. The same layer with a typical slip in the backward (forgetting the product rule) is caught,
   and the message names the input, the element and both values.
4. The seed network's hidden layer with the seed author's derivative
   (chainrule.handwritten.SeedSigmoidLayer) is caught the same way, in one call.
Then a network using the hand-written Swish trains on the seed regression, to show that a
Function you write is as good as a built-in one (the built-in ops use this very API).
"""

from __future__ import annotations

import argparse
import os

import numpy as np

import chainrule as cr
from chainrule import nn, optim
from chainrule.autograd import Function
from chainrule.data import DataLoader, TensorDataset, train_val_split
from chainrule.gradcheck import GradcheckError
from chainrule.handwritten import SeedSigmoidLayer, SigmoidLayer
from chainrule.training.loop import fit


class Swish(Function):
    """Swish / SiLU, element-wise.

    forward:  y = x * s,  where s = sigmoid(x) = 1 / (1 + exp(-x))
    backward: dy/dx = s + x * s * (1 - s)           (product rule; sigmoid' = s (1 - s))
              dL/dx = dL/dy * (s + x * s * (1 - s))
    """

    @staticmethod
    def forward(ctx, x):
        s = 0.5 * np.tanh(0.5 * x) + 0.5  # sigmoid(x) without overflow in exp
        ctx.save_for_backward(x, s)
        return x * s

    @staticmethod
    def backward(ctx, grad_y):
        x, s = ctx.saved_tensors
        return grad_y * (s + x * s * (1 - s))


class WrongSwish(Function):
    """Swish with a slip in the backward: dy/dx taken as s * (1 - s), the derivative of the
    sigmoid alone, as if x were a constant (the product rule forgotten)."""

    @staticmethod
    def forward(ctx, x):
        s = 0.5 * np.tanh(0.5 * x) + 0.5
        ctx.save_for_backward(x, s)
        return x * s

    @staticmethod
    def backward(ctx, grad_y):
        x, s = ctx.saved_tensors
        return grad_y * s * (1 - s)  # WRONG: missing "s + x * ..." (the product rule)


class SwishModule(nn.Module):
    """The hand-written Function as a layer: a Module whose forward calls Swish.apply."""

    def forward(self, x):
        return Swish.apply(x)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--quick", action="store_true",
                        help="fewer samples and epochs, for a smoke test (also: CHAINRULE_QUICK=1)")
    parser.add_argument("--out", default="examples/output",
                        help="accepted for uniformity with the other examples; nothing is drawn")
    args = parser.parse_args(argv)
    args.quick = args.quick or os.environ.get("CHAINRULE_QUICK") == "1"
    return args


def main(argv=None):
    args = parse_args(argv)
    cr.manual_seed(0)

    # gradcheck works in float64: in float32 the finite differences are too noisy to judge.
    x = cr.randn(4, 3, dtype=cr.float64, requires_grad=True)

    print("1. Swish, forward and backward by hand:")
    y = Swish.apply(x)
    print(f"   Swish.apply(x) -> shape {y.shape}, y[0] = {np.round(y.numpy()[0], 4).tolist()}")

    print("2. gradcheck(Swish.apply, (x,)):")
    print(f"   {cr.gradcheck(Swish.apply, (x,))}  (every Jacobian entry matches finite differences)")

    print("3. gradcheck(WrongSwish.apply, (x,)):")
    try:
        cr.gradcheck(WrongSwish.apply, (x,))
        print("   passed (this should not happen)")
    except GradcheckError as error:
        print(f"   GradcheckError: {error}")

    print("4. the seed's hidden layer, right and wrong: gradcheck(Layer.apply, (inputs, W, b)):")
    inputs = cr.randn(5, 2, dtype=cr.float64)  # data: not checked
    weight = cr.randn(10, 2, dtype=cr.float64, requires_grad=True)
    bias = cr.randn(10, dtype=cr.float64, requires_grad=True)
    print(f"   SigmoidLayer:     {cr.gradcheck(SigmoidLayer.apply, (inputs, weight, bias))}")
    try:
        cr.gradcheck(SeedSigmoidLayer.apply, (inputs, weight, bias))
        print("   SeedSigmoidLayer: passed (this should not happen)")
    except GradcheckError as error:
        print("   SeedSigmoidLayer: GradcheckError: " + str(error).replace("\n", "\n   "))

    print("5. a 2-10-1 network with the hand-written Swish, on the seed regression:")
    samples, epochs = (5_000, 3) if args.quick else (100_000, 20)
    ab = cr.random.default_generator().standard_normal((samples, 2))
    z = 5 * ab[:, :1] ** 2 + 3 * ab[:, 1:] ** 2
    train, val = train_val_split(ab.astype(np.float32), z.astype(np.float32), val_fraction=0.3)
    model = nn.Sequential(nn.Linear(2, 10), SwishModule(), nn.Linear(10, 1))
    loader = DataLoader(TensorDataset(*train), batch_size=500, shuffle=True)
    every = max(1, epochs // 4)
    history = fit(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.01), loader,
                  val_data=val, epochs=epochs,
                  log=lambda line: print(f"   {line}")
                  if int(line.split(":")[0].split()[1]) % every == 0 else None)
    print(f"   final validation MSE with the hand-written Swish: {history.val_loss[-1]:.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
