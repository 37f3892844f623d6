"""The WGAN-GP gradient penalty, trained side by side with PyTorch from the same weights.

    python examples/gradient_penalty.py           # 5 critic steps
    python examples/gradient_penalty.py --quick   # 1 critic step, for the smoke test

A Wasserstein GAN's critic D must be 1-Lipschitz; WGAN-GP (Gulrajani et al., 2017) asks for it
softly, with a penalty on the norm of D's gradient with respect to its *input*, at points x_hat
between real and fake samples:

    x_hat   = e * x_real + (1 - e) * x_fake          e ~ U(0, 1), one per sample
    g       = grad(D(x_hat), x_hat, create_graph=True)      (dD/dx_hat, itself a graph)
    penalty = mean over samples of (||g||_2 - 1)^2
    loss    = mean D(x_fake) - mean D(x_real) + 10 * penalty

loss.backward() differentiates the penalty, and so the gradient g, with respect to D's weights:
a second derivative of D, through every op's backward_graph. The two critic steps below are written
line for line alike (only cr / torch differ), start from the same weights and see the same samples;
loss, penalty, every weight gradient and every updated weight must agree (float64).
"""

from __future__ import annotations

import argparse
import os

import numpy as np

import chainrule as cr

SETTINGS = dict(batch=64, hidden=32, lam=10.0, lr=1e-3, betas=(0.5, 0.9), steps=5, seed=0)


def make_batches(steps, batch):
    """Real samples on a ring of radius 2, fake ones from N(0, 1), and the mixing weights e."""
    rng = np.random.default_rng(SETTINGS["seed"])
    batches = []
    for _ in range(steps):
        angle = rng.uniform(0, 2 * np.pi, batch)
        ring = np.stack([2 * np.cos(angle), 2 * np.sin(angle)], axis=1)
        real = ring + 0.05 * rng.standard_normal((batch, 2))
        fake = rng.standard_normal((batch, 2))
        e = rng.uniform(0, 1, (batch, 1))
        batches.append((real, fake, e))
    return batches


def critic_chainrule():
    from chainrule import nn

    hidden = SETTINGS["hidden"]
    return nn.Sequential(nn.Linear(2, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh(),
                         nn.Linear(hidden, 1)).double()


def train_chainrule(critic, batches):
    from chainrule import optim
    from chainrule.autograd import grad

    optimizer = optim.Adam(critic.parameters(), lr=SETTINGS["lr"], betas=SETTINGS["betas"])
    records = []
    for real, fake, e in batches:
        real, fake, e = cr.tensor(real), cr.tensor(fake), cr.tensor(e)
        x_hat = (e * real + (1 - e) * fake).requires_grad_()
        d_hat = critic(x_hat)
        (g,) = grad(d_hat, x_hat, grad_outputs=cr.ones_like(d_hat), create_graph=True)
        penalty = (((g ** 2).sum(dim=1).sqrt() - 1) ** 2).mean()
        loss = critic(fake).mean() - critic(real).mean() + SETTINGS["lam"] * penalty
        optimizer.zero_grad()
        loss.backward()  # through g: the critic's second derivatives
        grads = {name: p.grad.numpy().copy() for name, p in critic.named_parameters()}
        optimizer.step()
        records.append((loss.item(), penalty.item(), grads))
    weights = {name: p.detach().numpy().copy() for name, p in critic.named_parameters()}
    return records, weights


def train_torch(initial_weights, batches):
    import torch
    from torch import nn, optim
    from torch.autograd import grad

    hidden = SETTINGS["hidden"]
    critic = nn.Sequential(nn.Linear(2, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh(),
                           nn.Linear(hidden, 1)).double()
    critic.load_state_dict({name: torch.from_numpy(value.copy())
                            for name, value in initial_weights.items()})
    optimizer = optim.Adam(critic.parameters(), lr=SETTINGS["lr"], betas=SETTINGS["betas"])
    records = []
    for real, fake, e in batches:
        real, fake, e = torch.tensor(real), torch.tensor(fake), torch.tensor(e)
        x_hat = (e * real + (1 - e) * fake).requires_grad_()
        d_hat = critic(x_hat)
        (g,) = grad(d_hat, x_hat, grad_outputs=torch.ones_like(d_hat), create_graph=True)
        penalty = (((g ** 2).sum(dim=1).sqrt() - 1) ** 2).mean()
        loss = critic(fake).mean() - critic(real).mean() + SETTINGS["lam"] * penalty
        optimizer.zero_grad()
        loss.backward()
        grads = {name: p.grad.numpy().copy() for name, p in critic.named_parameters()}
        optimizer.step()
        records.append((loss.item(), penalty.item(), grads))
    weights = {name: p.detach().numpy().copy() for name, p in critic.named_parameters()}
    return records, weights


def relative(ours, theirs) -> float:
    """max |ours - theirs| / max |theirs| (of a number or an array)."""
    ours, theirs = np.asarray(ours), np.asarray(theirs)
    return float(np.max(np.abs(ours - theirs)) / max(float(np.max(np.abs(theirs))), 1e-300))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=SETTINGS["steps"], help="critic steps")
    parser.add_argument("--quick", action="store_true",
                        help="1 step, for the smoke test (also: CHAINRULE_QUICK=1)")
    parser.add_argument("--out", default="examples/output",
                        help="accepted for uniformity with the other examples; nothing is drawn")
    args = parser.parse_args(argv)
    if args.quick or os.environ.get("CHAINRULE_QUICK") == "1":
        args.quick, args.steps = True, 1
    return args


def main(argv=None):
    args = parse_args(argv)
    cr.manual_seed(SETTINGS["seed"])
    batches = make_batches(args.steps, SETTINGS["batch"])
    critic = critic_chainrule()
    initial = {name: value.copy() for name, value in critic.state_dict().items()}
    ours, our_weights = train_chainrule(critic, batches)
    print(f"WGAN-GP critic 2-{SETTINGS['hidden']}-{SETTINGS['hidden']}-1 (tanh), float64, "
          f"Adam(lr={SETTINGS['lr']}, betas={SETTINGS['betas']}), lambda {SETTINGS['lam']:g}, "
          f"batches of {SETTINGS['batch']}, the same initial weights in both")
    try:
        theirs, their_weights = train_torch(initial, batches)
    except ImportError:
        print("PyTorch is not installed: only chainrule's numbers are shown "
              "(pip install torch==2.13.0 for the comparison).")
        for step, (loss, penalty, _) in enumerate(ours, start=1):
            print(f"step {step}: loss {loss:.10f}, penalty {penalty:.10f}")
        return 0

    print(f"{'step':>4}  {'chainrule loss':>16}  {'PyTorch loss':>16}  {'penalty':>12}  "
          f"{'gradients rel. diff':>19}")
    worst = 0.0
    for step, ((loss, penalty, grads), (tloss, tpenalty, tgrads)) in enumerate(zip(ours, theirs),
                                                                              start=1):
        grad_diff = max(relative(grads[name], tgrads[name]) for name in tgrads)
        worst = max(worst, relative(loss, tloss), relative(penalty, tpenalty), grad_diff)
        print(f"{step:>4}  {loss:>16.10f}  {tloss:>16.10f}  {penalty:>12.8f}  {grad_diff:>19.2e}")
    weight_diff = max(relative(our_weights[name], their_weights[name]) for name in their_weights)
    worst = max(worst, weight_diff)
    print(f"updated weights, largest relative difference: {weight_diff:.2e}")
    print(f"largest relative difference over {len(ours)} steps (loss, penalty, gradients, "
          f"weights): {worst:.2e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
