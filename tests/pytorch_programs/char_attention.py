"""A character-level model with causal self-attention written by hand (as in the "GPT from
scratch" lectures): nn.Embedding for tokens and positions, one attention head with a tril mask,
masked_fill and softmax, a feed-forward block with residuals and LayerNorm, AdamW."""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

text = "to be or not to be, that is the question. " * 6
chars = sorted(set(text))
vocab_size = len(chars)
encode = {c: i for i, c in enumerate(chars)}
data = torch.tensor([encode[c] for c in text], dtype=torch.long)
block_size, n_embd = 8, 16
offsets = list(range(0, 8 * 20, 20))
xb = torch.stack([data[i:i + block_size] for i in offsets])
yb = torch.stack([data[i + 1:i + block_size + 1] for i in offsets])


class Head(nn.Module):
    def __init__(self, head_size):
        super().__init__()
        self.key = nn.Linear(n_embd, head_size, bias=False)
        self.query = nn.Linear(n_embd, head_size, bias=False)
        self.value = nn.Linear(n_embd, head_size, bias=False)
        self.register_buffer("tril", torch.tril(torch.ones(block_size, block_size)))

    def forward(self, x):
        B, T, C = x.shape
        k, q = self.key(x), self.query(x)
        wei = q @ k.transpose(-2, -1) * k.shape[-1] ** -0.5
        wei = wei.masked_fill(self.tril[:T, :T] == 0, float("-inf"))
        wei = F.softmax(wei, dim=-1)
        return wei @ self.value(x)


class TinyTransformer(nn.Module):
    def __init__(self):
        super().__init__()
        self.token_embedding = nn.Embedding(vocab_size, n_embd)
        self.position_embedding = nn.Embedding(block_size, n_embd)
        self.sa = Head(n_embd)
        self.ln1 = nn.LayerNorm(n_embd)
        self.ffwd = nn.Sequential(nn.Linear(n_embd, 4 * n_embd), nn.ReLU(), nn.Linear(4 * n_embd, n_embd))
        self.ln2 = nn.LayerNorm(n_embd)
        self.lm_head = nn.Linear(n_embd, vocab_size)

    def forward(self, idx, targets=None):
        B, T = idx.shape
        x = self.token_embedding(idx) + self.position_embedding(torch.arange(T))
        x = x + self.sa(self.ln1(x))
        x = x + self.ffwd(self.ln2(x))
        logits = self.lm_head(x)
        if targets is None:
            return logits, None
        B, T, C = logits.shape
        return logits, F.cross_entropy(logits.view(B * T, C), targets.view(B * T))


model = TinyTransformer()
rng = np.random.default_rng(1)
with torch.no_grad():
    for name, p in model.named_parameters():
        if "ln" not in name:
            p.copy_(torch.tensor(rng.normal(0, 0.1, size=tuple(p.shape)), dtype=torch.float32))
print("parameters", sum(p.numel() for p in model.parameters()))
logits, loss = model(xb, yb)
print("logits", tuple(logits.shape), f"initial loss {loss.item():.5f}")

optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
for step in range(30):
    logits, loss = model(xb, yb)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    if step % 10 == 9:
        print(f"step {step + 1}: loss {loss.item():.5f}")
with torch.no_grad():
    attention_rows = F.softmax(torch.zeros(4, 4).masked_fill(torch.tril(torch.ones(4, 4)) == 0,
                                                              float("-inf")), dim=-1)
print("uniform causal weights", [[round(v, 4) for v in row] for row in attention_rows.tolist()])
