"""Code written with PyTorch's names runs unchanged after ``import minigen as torch``.

Each program below is plain PyTorch source. It is executed once with minigen standing in for
``torch`` (its ``import torch`` lines resolve to minigen), and, where PyTorch is installed, once
with the real thing, which proves the source really is PyTorch code. Both runs must train: the
loss after a few steps must be below the loss before them.
"""
import sys
import textwrap

import numpy as np
import pytest

import minigen

DCGAN = """
import torch
import torch.nn as nn

def run(device):
    torch.manual_seed(0)
    G = nn.Sequential(
        nn.ConvTranspose2d(16, 32, 4, 1, 0, bias=False), nn.BatchNorm2d(32), nn.ReLU(True),
        nn.ConvTranspose2d(32, 16, 4, 2, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU(True),
        nn.ConvTranspose2d(16, 1, 4, 2, 1, bias=False), nn.Tanh(),
    ).to(device)
    D = nn.Sequential(
        nn.Conv2d(1, 16, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(16, 32, 4, 2, 1, bias=False), nn.BatchNorm2d(32), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(32, 1, 4, 1, 0, bias=False), nn.Flatten(),
    ).to(device)
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-3, betas=(0.5, 0.999))
    criterion = nn.BCEWithLogitsLoss()
    real = torch.rand(8, 1, 16, 16, device=device) * 2 - 1
    losses = []
    for step in range(4):
        z = torch.randn(8, 16, 1, 1, device=device)
        with torch.no_grad():
            fake = G(z)
        assert fake.shape == (8, 1, 16, 16)
        out = D(torch.cat([real, fake], 0))
        target = torch.cat([torch.ones(8, 1, device=device), torch.zeros(8, 1, device=device)])
        loss = criterion(out, target)
        opt_d.zero_grad()
        loss.backward()
        opt_d.step()
        losses.append(loss.item())
    return losses
"""

GPT = """
import math
import torch
import torch.nn as nn
from torch.nn import functional as F

class CausalSelfAttention(nn.Module):
    def __init__(self, n_embd, n_head, block_size):
        super().__init__()
        self.c_attn = nn.Linear(n_embd, 3 * n_embd)
        self.c_proj = nn.Linear(n_embd, n_embd)
        self.attn_dropout = nn.Dropout(0.0)
        self.n_head = n_head
        self.register_buffer("mask", torch.tril(torch.ones(block_size, block_size))
                             .view(1, 1, block_size, block_size))

    def forward(self, x):
        B, T, C = x.size()
        q, k, v = self.c_attn(x).split(C, dim=2)
        q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        att = torch.einsum("bhqd,bhkd->bhqk", q, k) * (1.0 / math.sqrt(k.size(-1)))
        att = att.masked_fill(self.mask[:, :, :T, :T] == 0, float("-inf"))
        att = F.softmax(att, dim=-1)
        att = self.attn_dropout(att)
        y = att @ v
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        return self.c_proj(y)

class Block(nn.Module):
    def __init__(self, n_embd, n_head, block_size):
        super().__init__()
        self.ln_1 = nn.LayerNorm(n_embd)
        self.attn = CausalSelfAttention(n_embd, n_head, block_size)
        self.ln_2 = nn.LayerNorm(n_embd)
        self.mlp = nn.Sequential(nn.Linear(n_embd, 4 * n_embd), nn.GELU(),
                                 nn.Linear(4 * n_embd, n_embd), nn.Dropout(0.1))

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))

class GPT(nn.Module):
    def __init__(self, vocab_size=11, n_embd=16, n_head=2, block_size=8, n_layer=2):
        super().__init__()
        self.block_size = block_size
        self.wte = nn.Embedding(vocab_size, n_embd)
        self.wpe = nn.Embedding(block_size, n_embd)
        self.blocks = nn.ModuleList([Block(n_embd, n_head, block_size) for _ in range(n_layer)])
        self.ln_f = nn.LayerNorm(n_embd)
        self.head = nn.Linear(n_embd, vocab_size, bias=False)

    def forward(self, idx, targets=None):
        B, T = idx.shape
        pos = torch.arange(0, T, dtype=torch.long, device=idx.device)
        x = self.wte(idx) + self.wpe(pos)
        for block in self.blocks:
            x = block(x)
        logits = self.head(self.ln_f(x))
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.reshape(-1))
        return logits, loss

    @torch.no_grad()
    def generate(self, idx, max_new_tokens):
        for _ in range(max_new_tokens):
            logits, _ = self(idx[:, -self.block_size:])
            probs = F.softmax(logits[:, -1, :], dim=-1)
            idx = torch.cat((idx, torch.multinomial(probs, num_samples=1)), dim=1)
        return idx

def run(device):
    torch.manual_seed(0)
    model = GPT().to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2, betas=(0.9, 0.95), weight_decay=0.1)
    data = torch.randint(0, 11, (4, 9), device=device)
    x, y = data[:, :-1], data[:, 1:]
    losses = []
    model.train()
    for step in range(6):
        _, loss = model(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
    model.eval()
    out = model.generate(torch.zeros((1, 1), dtype=torch.long, device=device), 5)
    assert tuple(out.shape) == (1, 6)
    return losses
"""

CHAR_RNN = """
import torch
import torch.nn as nn
import torch.optim as optim

class CharRNN(nn.Module):
    def __init__(self, vocab, hidden):
        super().__init__()
        self.embed = nn.Embedding(vocab, 8)
        self.rnn = nn.RNN(8, hidden, num_layers=2, batch_first=True)
        self.out = nn.Linear(hidden, vocab)

    def forward(self, x, h=None):
        o, h = self.rnn(self.embed(x), h)
        return self.out(o), h

def run(device):
    torch.manual_seed(0)
    model = CharRNN(7, 12).to(device)
    opt = optim.Adam(model.parameters(), lr=0.01, betas=(0.9, 0.999))
    x = torch.randint(0, 7, (3, 10), device=device)
    y = torch.roll(x, -1, 1)
    losses = []
    for step in range(6):
        logits, h = model(x)
        assert tuple(h.shape) == (2, 3, 12)
        loss = nn.functional.cross_entropy(logits.reshape(-1, 7), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss))
    return losses
"""


def _exec_with(torch_module, source):
    """Run ``source`` with ``import torch`` (and its submodules) resolving to ``torch_module``."""
    saved = {k: v for k, v in sys.modules.items() if k == "torch" or k.startswith("torch.")}
    try:
        if torch_module is minigen:
            for k in list(saved):
                del sys.modules[k]
            sys.modules["torch"] = minigen
            sys.modules["torch.nn"] = minigen.nn
            sys.modules["torch.nn.functional"] = minigen.nn.functional
            sys.modules["torch.optim"] = minigen.optim
        ns = {"__name__": "compat_program"}
        exec(compile(textwrap.dedent(source), "<pytorch program>", "exec"), ns)
        return ns["run"]
    finally:
        for k in [k for k in sys.modules if k == "torch" or k.startswith("torch.")]:
            del sys.modules[k]
        sys.modules.update(saved)


@pytest.mark.parametrize("program", [DCGAN, GPT, CHAR_RNN], ids=["dcgan", "gpt", "char_rnn"])
def test_pytorch_program_runs_on_minigen(program, device):
    run = _exec_with(minigen, program)
    losses = run(device)
    assert all(np.isfinite(losses))
    assert losses[-1] < losses[0], losses


@pytest.mark.parametrize("program", [DCGAN, GPT, CHAR_RNN], ids=["dcgan", "gpt", "char_rnn"])
def test_the_same_program_is_real_pytorch(program):
    torch = pytest.importorskip("torch")
    run = _exec_with(torch, program)
    losses = run("cpu")
    assert losses[-1] < losses[0], losses
