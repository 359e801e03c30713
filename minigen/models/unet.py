"""A small UNet (Ronneberger et al. 2015) as the diffusion models use it (Ho et al. 2020).

The network maps a noisy image x_t and its step t (and, for guidance, a label y) to a tensor
of the same shape: the predicted noise eps_theta(x_t, t, y).

    emb     = MLP(sinusoidal(t)) [+ Embedding(y)]                   one vector per image
    h_0     = conv_in(x_t)
    down    at each resolution r: ResBlock(h, emb) (and attention at the lowest), keep h
            as a skip, then a stride-2 conv halves the resolution
    middle  ResBlock, self-attention, ResBlock at the lowest resolution
    up      at each resolution, in reverse: upsample x2 (nearest + conv), concatenate the skip
            kept on the way down, ResBlock(h, emb)
    out     conv_out(SiLU(GroupNorm(h)))                             initialised to 0

The residual block carries the step in as a per-channel shift of its features:

    ResBlock(h, emb) = skip(h) + conv_2(SiLU(GN(conv_1(SiLU(GN(h))) + W emb)))

Self-attention lets every position of the lowest resolution see all the others:

    Attn(h) = h + proj(softmax(Q K^T / sqrt(C)) V),   Q, K, V = 1x1 convs of GN(h), over the H W positions

The sizes (``channels``: one entry per resolution) fit 8x8 digits with (32, 64): 8x8 -> 4x4
with attention at 4x4; and 28x28 MNIST with (32, 64, 64): 28 -> 14 -> 7.
"""
from __future__ import annotations

import minigen
from minigen import nn
from minigen.nn import functional as F

from .diffusion import sinusoidal_embedding

__all__ = ["UNet", "ResBlock", "AttnBlock"]


def _groups(c):
    # GroupNorm's groups: 8 when the channels allow it, else the largest divisor <= 8
    return max(g for g in range(1, 9) if c % g == 0)


class ResBlock(nn.Module):
    def __init__(self, c_in, c_out, emb_dim):
        super().__init__()
        self.norm1, self.conv1 = nn.GroupNorm(_groups(c_in), c_in), nn.Conv2d(c_in, c_out, 3, padding=1)
        self.emb = nn.Linear(emb_dim, c_out)
        self.norm2, self.conv2 = nn.GroupNorm(_groups(c_out), c_out), nn.Conv2d(c_out, c_out, 3, padding=1)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else None

    def forward(self, h, emb):
        # a = conv_1(SiLU(GN(h))) + W emb     (the step enters as a per-channel shift)
        a = self.conv1(F.silu(self.norm1(h))) + self.emb(emb)[:, :, None, None]
        a = self.conv2(F.silu(self.norm2(a)))
        return (h if self.skip is None else self.skip(h)) + a


class AttnBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.norm = nn.GroupNorm(_groups(c), c)
        self.qkv = nn.Conv2d(c, 3 * c, 1)
        self.proj = nn.Conv2d(c, c, 1)

    def forward(self, h):
        B, C, H, W = h.shape
        # Q, K, V: [B, HW, C] from 1x1 convs of GN(h)
        q, k, v = self.qkv(self.norm(h)).reshape(B, 3, C, H * W).transpose(2, 3).unbind(1)
        # softmax(Q K^T / sqrt(C)) V
        a = F.scaled_dot_product_attention(q, k, v)
        return h + self.proj(a.transpose(1, 2).reshape(B, C, H, W))


class UNet(nn.Module):
    """eps_theta(x_t, t, y) for images [B, in_ch, H, W]; ``channels`` per resolution (each
    halving H and W after the first); ``num_classes``: labels 0 .. num_classes - 1 plus the "no
    label" token num_classes (classifier-free guidance)."""

    def __init__(self, in_ch=1, channels=(32, 64), num_classes=None, emb_dim=None):
        super().__init__()
        self.in_ch, self.channels, self.num_classes = in_ch, tuple(channels), num_classes
        c0 = self.channels[0]
        self.emb_dim = emb_dim or 4 * c0
        self.t_mlp1, self.t_mlp2 = nn.Linear(c0, self.emb_dim), nn.Linear(self.emb_dim, self.emb_dim)
        self.label_emb = nn.Embedding(num_classes + 1, self.emb_dim) if num_classes is not None else None
        self.conv_in = nn.Conv2d(in_ch, c0, 3, padding=1)
        L = len(self.channels)
        self.down = nn.ModuleList()
        self.downsample = nn.ModuleList()
        c_prev = c0
        for i, c in enumerate(self.channels):
            self.down.append(ResBlock(c_prev, c, self.emb_dim))
            c_prev = c
            if i < L - 1:
                self.downsample.append(nn.Conv2d(c, c, 3, stride=2, padding=1))
        self.down_attn = AttnBlock(self.channels[-1])
        self.mid1, self.mid_attn = ResBlock(c_prev, c_prev, self.emb_dim), AttnBlock(c_prev)
        self.mid2 = ResBlock(c_prev, c_prev, self.emb_dim)
        self.up = nn.ModuleList()
        self.upsample = nn.ModuleList()
        for i in range(L - 1, -1, -1):
            c = self.channels[i]
            self.up.append(ResBlock(c_prev + c, c, self.emb_dim))
            c_prev = c
            if i > 0:
                self.upsample.append(nn.Conv2d(c, self.channels[i - 1], 3, padding=1))
                c_prev = self.channels[i - 1]
        self.norm_out = nn.GroupNorm(_groups(c_prev), c_prev)
        self.conv_out = nn.Conv2d(c_prev, in_ch, 3, padding=1)
        # the last layer starts at 0: the untrained net predicts eps = 0
        nn.init.zeros_(self.conv_out.weight)
        nn.init.zeros_(self.conv_out.bias)

    def config(self):
        return {"class": "UNet", "in_ch": self.in_ch, "channels": list(self.channels),
                "num_classes": self.num_classes, "emb_dim": self.emb_dim}

    def forward(self, x, t, y=None):
        # emb = W_2 SiLU(W_1 sinusoidal(t)) [+ E y]
        emb = self.t_mlp2(F.silu(self.t_mlp1(sinusoidal_embedding(t, self.channels[0]))))
        if self.label_emb is not None:
            if y is None:
                y = minigen.full((x.shape[0],), self.num_classes, dtype=minigen.int64, device=x.device)
            emb = emb + self.label_emb(y)
        elif y is not None:
            raise ValueError("UNet: this network was built without labels (num_classes=None); y must be None")
        h = self.conv_in(x)
        skips, sizes = [], []
        L = len(self.channels)
        for i in range(L):
            h = self.down[i](h, emb)
            if i == L - 1:
                h = self.down_attn(h)
            skips.append(h)
            if i < L - 1:
                sizes.append(tuple(h.shape[2:]))
                h = self.downsample[i](h)
        h = self.mid2(self.mid_attn(self.mid1(h, emb)), emb)
        for j in range(L):
            h = self.up[j](minigen.cat([h, skips.pop()], dim=1), emb)
            if j < L - 1:
                # upsample to the size kept on the way down (7 -> 14 -> 28 as well as 4 -> 8)
                h = self.upsample[j](F.interpolate(h, size=sizes.pop(), mode="nearest"))
        return self.conv_out(F.silu(self.norm_out(h)))
