"""chainrule as a user writes the two sequence models: the tiny GPT (examples/tiny_gpt.py's modules:
nn.Embedding, nn.LayerNorm, nn.Linear, F.scaled_dot_product_attention with is_causal, nn.GELU
('tanh'), a tied head; F.cross_entropy, nn.utils.clip_grad_norm_, optim.AdamW with two parameter
groups) and a character LSTM (nn.Embedding, nn.LSTM(batch_first=True), nn.Linear, F.cross_entropy,
optim.Adam). impl_torch_seq.py runs the very same code with ``torch`` in place of ``chainrule``.

Interface (shared by every impl_*.py): setup(workload, batch, seed) -> state; step(state);
quality(state) -> dict. step leaves the loss it computed, as a float, in state["loss"] (run_seq.py
compares the first one across implementations).
"""

import chainrule as cr
from workloads_seq import cross_entropy_of_logits, make_problem

NAME = "chainrule"


def build_gpt(lib, vocab, w):
    """tiny_gpt.py's GPT in chainrule or torch (the same code, ``lib`` the module)."""
    nn, F = lib.nn, lib.nn.functional

    class CausalSelfAttention(nn.Module):
        def __init__(self):
            super().__init__()
            self.c_attn = nn.Linear(w.n_embd, 3 * w.n_embd)
            self.c_proj = nn.Linear(w.n_embd, w.n_embd)

        def forward(self, x):
            B, T, C = x.shape
            qkv = self.c_attn(x)
            q, k, v = (t.reshape(B, T, w.n_head, C // w.n_head).transpose(1, 2)
                       for t in qkv.split(C, dim=2))
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            return self.c_proj(y.transpose(1, 2).reshape(B, T, C))

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            c = w.n_embd
            self.ln_1, self.attn, self.ln_2 = nn.LayerNorm(c), CausalSelfAttention(), nn.LayerNorm(c)
            self.mlp = nn.Sequential(nn.Linear(c, 4 * c), nn.GELU(approximate="tanh"),
                                     nn.Linear(4 * c, c))

        def forward(self, x):
            x = x + self.attn(self.ln_1(x))
            return x + self.mlp(self.ln_2(x))

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.wte = nn.Embedding(vocab, w.n_embd)
            self.wpe = nn.Embedding(w.context, w.n_embd)
            self.h = nn.Sequential(*(Block() for _ in range(w.n_layer)))
            self.ln_f = nn.LayerNorm(w.n_embd)
            self.lm_head = nn.Linear(w.n_embd, vocab, bias=False)
            self.lm_head.weight = self.wte.weight  # weight tying

        def forward(self, idx):
            x = self.wte(idx) + self.wpe(lib.arange(idx.shape[1], device=idx.device))
            return self.lm_head(self.ln_f(self.h(x)))

    return GPT()


def build_lstm(lib, vocab, w):
    """Embedding -> two-layer LSTM (batch first) -> Linear, in chainrule or torch."""
    nn = lib.nn

    class CharLSTM(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(vocab, w.n_embd)
            self.lstm = nn.LSTM(w.n_embd, w.hidden, num_layers=w.n_layer, batch_first=True)
            self.head = nn.Linear(w.hidden, vocab)

        def forward(self, idx):
            return self.head(self.lstm(self.embed(idx))[0])

    return CharLSTM()


def build(lib, workload, problem):
    """The model with the problem's initial weights loaded, and its optimizer."""
    w = problem.workload
    if workload == "gpt":
        model = build_gpt(lib, problem.vocab, w)
        weights = {**problem.weights, "lm_head.weight": problem.weights["wte.weight"]}
    else:
        model = build_lstm(lib, problem.vocab, w)
        weights = problem.weights
    model.load_state_dict({k: lib.tensor(v) for k, v in weights.items()})
    if w.weight_decay:
        params = list(model.parameters())
        groups = [{"params": [p for p in params if p.ndim == 2], "weight_decay": w.weight_decay},
                  {"params": [p for p in params if p.ndim != 2], "weight_decay": 0.0}]
        optimizer = lib.optim.AdamW(groups, lr=w.lr, betas=w.betas)
    else:
        optimizer = lib.optim.Adam(model.parameters(), lr=w.lr, betas=w.betas)
    return model, optimizer


def setup(workload, batch, seed=0, n_train=None, tiny=False):
    problem = make_problem(workload, batch, seed, n_train, tiny)
    cr.manual_seed(seed)
    model, optimizer = build(cr, workload, problem)
    return {"problem": problem, "model": model, "optimizer": optimizer,
            "params": list(model.parameters()),
            "batches": [(cr.tensor(x), cr.tensor(y)) for x, y in problem.batches], "i": 0}


def step(state):
    ids, targets = state["batches"][state["i"] % len(state["batches"])]
    state["i"] += 1
    optimizer, clip = state["optimizer"], state["problem"].workload.grad_clip
    optimizer.zero_grad()
    logits = state["model"](ids)
    loss = cr.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
    loss.backward()
    if clip:
        cr.nn.utils.clip_grad_norm_(state["params"], clip)
    optimizer.step()
    state["loss"] = loss.item()


def quality(state):
    problem, model = state["problem"], state["model"]
    model.eval()
    with cr.no_grad():
        logits = model(cr.tensor(problem.val[0])).numpy()
    model.train()
    return {"val_loss": cross_entropy_of_logits(logits, problem.val[1])}
