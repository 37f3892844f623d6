"""A character-level LSTM language model (as in the char-RNN lecture notebooks): nn.Embedding,
nn.LSTM(batch_first=True), nn.Linear, cross-entropy over next characters, gradient clipping, Adam,
then greedy generation."""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

text = "hello world. the quick brown fox jumps over the lazy dog. hello again. " * 3
chars = sorted(set(text))
stoi = {c: i for i, c in enumerate(chars)}
itos = {i: c for c, i in stoi.items()}
data = torch.tensor([stoi[c] for c in text], dtype=torch.long)
print("vocabulary", len(chars), "characters", len(data))

seq_len, batch_size = 16, 8
starts = np.arange(0, len(data) - seq_len - 1, (len(data) - seq_len - 1) // batch_size)[:batch_size]
x = torch.stack([data[s:s + seq_len] for s in starts])
y = torch.stack([data[s + 1:s + seq_len + 1] for s in starts])
print("batch", tuple(x.shape), x.dtype)


class CharLSTM(nn.Module):
    def __init__(self, vocab, embed=16, hidden=32):
        super().__init__()
        self.embed = nn.Embedding(vocab, embed)
        self.lstm = nn.LSTM(embed, hidden, batch_first=True)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, idx, state=None):
        out, state = self.lstm(self.embed(idx), state)
        return self.head(out), state


model = CharLSTM(len(chars))
rng = np.random.default_rng(0)
with torch.no_grad():
    for p in model.parameters():
        p.copy_(torch.tensor(rng.uniform(-0.2, 0.2, size=tuple(p.shape)), dtype=torch.float32))
print("parameter names", [name for name, _ in model.named_parameters()])

optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
for step in range(40):
    logits, _ = model(x)
    loss = F.cross_entropy(logits.reshape(-1, len(chars)), y.reshape(-1))
    optimizer.zero_grad()
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    if step % 10 == 9:
        print(f"step {step + 1}: loss {loss.item():.4f}")

model.eval()
with torch.no_grad():
    idx = torch.tensor([[stoi["h"]]])
    state = None
    out = "h"
    for _ in range(20):
        logits, state = model(idx, state)
        idx = logits[:, -1].argmax(dim=-1, keepdim=True)
        out += itos[idx.item()]
print("hidden state shapes", tuple(state[0].shape), tuple(state[1].shape))
print("greedy sample:", repr(out))
