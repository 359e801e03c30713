"""PyTorch twins of minigen's language models, written independently with ``torch.nn``.

``torch_twin(config)`` builds, from a minigen model's ``config()``, the same architecture in
PyTorch with the same initialisation scheme (each library draws its own weights). The
benchmark harness times one training step of each beside minigen's (``minigen bench --only
model:gpt --vs-torch``), and the quality scripts (``benchmarks/quality/``) train both on the
same protocol. PyTorch is imported only when a twin is built.
"""
from __future__ import annotations

import math

__all__ = ["torch_twin", "torch_optimizer", "torch_point_denoiser", "torch_unet", "torch_realnvp",
           "torch_pixelcnn", "torch_wavenet"]


def torch_twin(config):
    """A ``torch.nn.Module`` twin of the minigen model whose ``config()`` is ``config``;
    its ``forward(x)`` returns the logits ``[B, T, V]``."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    c = dict(config)
    kind = c.pop("class")
    V = c["vocab_size"]

    class CharRNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(V, c["n_embd"])
            cls = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}[c["cell"]]
            self.rnn = cls(c["n_embd"], c["hidden_size"], num_layers=c["num_layers"], batch_first=True)
            self.head = nn.Linear(c["hidden_size"], V)

        def forward(self, x):
            return self.head(self.rnn(self.embed(x))[0])

    class Block(nn.Module):
        def __init__(self, d, H):
            super().__init__()
            self.H = H
            self.ln_1, self.ln_2 = nn.LayerNorm(d), nn.LayerNorm(d)
            self.c_attn = nn.Linear(d, 3 * d, bias=c["bias"])
            self.attn_proj = nn.Linear(d, d, bias=c["bias"])
            self.c_fc = nn.Linear(d, 4 * d, bias=c["bias"])
            self.c_proj = nn.Linear(4 * d, d, bias=c["bias"])

        def forward(self, h, past=None):
            B, T, d = h.shape
            q, k, v = self.c_attn(self.ln_1(h)).split(d, dim=2)
            q, k, v = (t.reshape(B, T, self.H, d // self.H).transpose(1, 2) for t in (q, k, v))
            if past is not None:                   # a KV cache: one new token at a time
                k, v = torch.cat([past[0], k], dim=2), torch.cat([past[1], v], dim=2)
            y = F.scaled_dot_product_attention(q, k, v, is_causal=past is None and T > 1)
            h = h + self.attn_proj(y.transpose(1, 2).reshape(B, T, d))
            return h + self.c_proj(F.gelu(self.c_fc(self.ln_2(h)), approximate=c["gelu"])), (k, v)

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            d, L = c["n_embd"], c["n_layer"]
            self.wte, self.wpe = nn.Embedding(V, d), nn.Embedding(c["block_size"], d)
            self.blocks = nn.ModuleList(Block(d, c["n_head"]) for _ in range(L))
            self.ln_f, self.head = nn.LayerNorm(d), nn.Linear(d, V, bias=c["head_bias"])
            for name, p in self.named_parameters():          # GPT-2's initialisation
                if c.get("init", "gpt2") != "gpt2":          # or the layers' own defaults
                    break
                if name.endswith("bias"):
                    nn.init.zeros_(p)
                elif p.ndim == 2:
                    resid = name.endswith("c_proj.weight") or name.endswith("attn_proj.weight")
                    nn.init.normal_(p, 0.0, 0.02 / math.sqrt(2 * L) if resid else 0.02)
            if c["tie_weights"]:
                self.head.weight = self.wte.weight

        def forward(self, x):
            return self.forward_cached(x)[0]

        def forward_cached(self, x, cache=None):
            """Logits and the new cache; with a cache, ``x`` is one new token per row."""
            P = 0 if cache is None else cache[0][0].shape[2]
            h = self.wte(x) + self.wpe(torch.arange(P, P + x.shape[1], device=x.device))
            new = []
            for i, b in enumerate(self.blocks):
                h, kv = b(h, None if cache is None else cache[i])
                new.append(kv)
            return self.head(self.ln_f(h)), new

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            n, d = c["context"], c["n_embd"]
            self.n = n
            self.C = nn.Embedding(V, d)
            self.W_h, self.W_y = nn.Linear(n * d, c["hidden"]), nn.Linear(c["hidden"], V)
            self.W_d = nn.Linear(n * d, V, bias=False) if c["direct"] else None

        def forward(self, x):
            B, T = x.shape
            pad = torch.full((B, self.n - 1), c["pad_id"], dtype=x.dtype, device=x.device)
            emb = self.C(torch.cat([pad, x], dim=1))
            e = torch.cat([emb[:, j:j + T] for j in range(self.n)], dim=2)
            out = self.W_y(torch.tanh(self.W_h(e)))
            return out if self.W_d is None else out + self.W_d(e)

    twins = {"CharRNN": CharRNN, "GPT": GPT, "MLPLanguageModel": MLP}
    if kind not in twins:
        raise ValueError(f"torch_twin: no PyTorch twin for a {kind}")
    return twins[kind]()


def torch_optimizer(mg_optimizer, params):
    """The PyTorch optimizer with the class and hyperparameters of a minigen one."""
    import torch

    g = mg_optimizer.param_groups[0]
    name = type(mg_optimizer).__name__
    if name in ("Adam", "AdamW"):
        return getattr(torch.optim, name)(params, lr=g["lr"], betas=tuple(g["betas"]), eps=g["eps"],
                                          weight_decay=g["weight_decay"])
    if name == "SGD":
        return torch.optim.SGD(params, lr=g["lr"], momentum=g.get("momentum", 0.0),
                               weight_decay=g.get("weight_decay", 0.0))
    raise ValueError(f"torch_optimizer: no PyTorch twin for minigen's {name}")


# ----------------------------------------------------------------------------- GANs
def torch_dcgan(nz=100, ngf=32, ndf=32, channels=1, d_batch_norm=True, g_in=None, d_in=None):
    """The DCGAN's generator and discriminator (``minigen/models/dcgan.py``) in PyTorch, with
    the paper's initialisation; ``g_in`` / ``d_in`` widen G's input and D's input channels
    (a conditional GAN's label embedding)."""
    from torch import nn

    g_in = g_in or nz
    d_in = d_in or channels
    G = nn.Sequential(
        nn.ConvTranspose2d(g_in, 4 * ngf, 4, 1, 0, bias=False), nn.BatchNorm2d(4 * ngf), nn.ReLU(),
        nn.ConvTranspose2d(4 * ngf, 2 * ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * ngf), nn.ReLU(),
        nn.ConvTranspose2d(2 * ngf, ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(),
        nn.ConvTranspose2d(ngf, channels, 4, 2, 1, bias=False), nn.Tanh())
    norm = (lambda c: nn.BatchNorm2d(c)) if d_batch_norm else (lambda c: nn.Identity())
    D = nn.Sequential(
        nn.Conv2d(d_in, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2),
        nn.Conv2d(ndf, 2 * ndf, 4, 2, 1, bias=False), norm(2 * ndf), nn.LeakyReLU(0.2),
        nn.Conv2d(2 * ndf, 4 * ndf, 4, 2, 1, bias=False), norm(4 * ndf), nn.LeakyReLU(0.2),
        nn.Conv2d(4 * ndf, 1, 4, 1, 0, bias=False))
    for net in (G, D):
        for m in net.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                nn.init.normal_(m.weight, 0.0, 0.02)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.normal_(m.weight, 1.0, 0.02)
                nn.init.zeros_(m.bias)
    return G, D


def torch_mlp_gan(nz=100, n_pix=784, dropout=0.0):
    """The MLP GAN's players (``minigen/models/mlp_gan.py``) in PyTorch (no spectral norm)."""
    from torch import nn
    G = nn.Sequential(nn.Linear(nz, 256), nn.ReLU(), nn.Linear(256, 512), nn.ReLU(),
                      nn.Linear(512, 1024), nn.ReLU(), nn.Linear(1024, n_pix), nn.Tanh())
    drop = (lambda: nn.Dropout(dropout)) if dropout else (lambda: nn.Identity())
    D = nn.Sequential(nn.Linear(n_pix, 1024), nn.LeakyReLU(0.2), drop(), nn.Linear(1024, 512), nn.LeakyReLU(0.2),
                      drop(), nn.Linear(512, 256), nn.LeakyReLU(0.2), drop(), nn.Linear(256, 1))
    return G, D


def torch_stylegan(z_dim=64, w_dim=64, channels=(64, 32, 16, 16), mapping_layers=4, ndf=32, mixing_prob=0.5,
                   w_avg_decay=0.995, minibatch_std=True, d_batch_norm=False, **unused):
    """StyleGAN's generator (``minigen/models/stylegan.py``) in PyTorch, and the DCGAN
    discriminator with the minibatch-deviation map; returns ``(G, D)``, G's ``forward(z)`` as
    in training (mixing included). The same initialisation as minigen's: the mapping
    He-initialised, the affine maps N(0, 1/sqrt(w_dim)) with bias 1, a linear output with a bias."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    class ModConv(nn.Module):
        def __init__(self, i, o, k, demod=True):
            super().__init__()
            self.weight = nn.Parameter(torch.randn(o, i, k, k) / math.sqrt(i * k * k))
            self.affine = nn.Linear(w_dim, i)
            nn.init.normal_(self.affine.weight, 0.0, 1.0 / math.sqrt(w_dim))
            nn.init.ones_(self.affine.bias)
            self.demod, self.pad = demod, k // 2

        def forward(self, x, w):
            s = self.affine(w)
            y = F.conv2d(x * s[:, :, None, None], self.weight, padding=self.pad)
            if self.demod:
                d = ((s * s) @ (self.weight ** 2).sum((2, 3)).t() + 1e-8).rsqrt()
                y = y * d[:, :, None, None]
            return y

    class Layer(nn.Module):
        def __init__(self, i, o):
            super().__init__()
            self.conv = ModConv(i, o, 3)
            self.noise_strength = nn.Parameter(torch.zeros(o))
            self.bias = nn.Parameter(torch.zeros(o))

        def forward(self, x, w):
            y = self.conv(x, w)
            y = y + self.noise_strength[None, :, None, None] * torch.randn(y.shape[0], 1, *y.shape[2:])
            return F.leaky_relu(y + self.bias[None, :, None, None], 0.2)

    class G(nn.Module):
        def __init__(self):
            super().__init__()
            layers = []
            for i in range(mapping_layers):
                lin = nn.Linear(z_dim if i == 0 else w_dim, w_dim)
                nn.init.kaiming_normal_(lin.weight, a=0.2, nonlinearity="leaky_relu")
                nn.init.zeros_(lin.bias)
                layers += [lin, nn.LeakyReLU(0.2)]
            self.mapping = nn.Sequential(*layers)
            self.const = nn.Parameter(torch.randn(1, channels[0], 4, 4))
            ins = (channels[0],) + tuple(channels[:-1])
            self.layers = nn.ModuleList(Layer(i, o) for i, o in zip(ins, channels))
            self.to_rgb = ModConv(channels[-1], 1, 1, demod=False)
            self.rgb_bias = nn.Parameter(torch.full((1,), -1.0))
            self.n = len(self.layers) + 1
            self.register_buffer("w_avg", torch.zeros(w_dim))

        def map(self, z):
            return self.mapping(z / ((z * z).mean(1, keepdim=True) + 1e-8).sqrt())

        def synthesis(self, ws):
            x = self.const.expand(ws.shape[0], -1, -1, -1)
            for l, layer in enumerate(self.layers):
                if l:
                    x = F.interpolate(x, scale_factor=2, mode="nearest")
                x = layer(x, ws[:, l])
            return self.to_rgb(x, ws[:, -1]) + self.rgb_bias

        def forward(self, z):
            w = self.map(z)
            if self.training:
                with torch.no_grad():
                    self.w_avg.mul_(w_avg_decay).add_((1 - w_avg_decay) * w.mean(0))
            ws = w[:, None].expand(-1, self.n, -1)
            if self.training and float(torch.rand(1)) < mixing_prob:
                c = int(torch.randint(1, self.n, (1,)))
                w2 = self.map(torch.randn_like(z))[:, None].expand(-1, self.n, -1)
                ws = torch.where(torch.arange(self.n)[None, :, None] < c, ws, w2)
            return self.synthesis(ws)

    class StdD(nn.Module):
        """The DCGAN discriminator with the batch's mean standard deviation as one more map."""

        def __init__(self, d):
            super().__init__()
            self.body = d[:-1]
            self.out = nn.Conv2d(4 * ndf + 1, 1, 4, 1, 0, bias=False)
            nn.init.normal_(self.out.weight, 0.0, 0.02)

        def forward(self, x):
            h = self.body(x)
            sigma = (h.var(0, unbiased=False) + 1e-8).sqrt().mean()
            return self.out(torch.cat([h, sigma.expand(h.shape[0], 1, *h.shape[2:])], 1))

    _, D = torch_dcgan(ndf=ndf, d_batch_norm=d_batch_norm)
    return G(), (StdD(D) if minibatch_std else D)


def torch_cyclegan(ngf=8, ndf=16, n_res=1, **unused):
    """CycleGAN's two translators and two PatchGAN discriminators (``minigen/models/cyclegan.py``)
    in PyTorch: ``(G, F, D_A, D_B)``."""
    from torch import nn

    def inorm(c):
        return nn.GroupNorm(c, c)

    class Res(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.body = nn.Sequential(nn.Conv2d(c, c, 3, padding=1), inorm(c), nn.ReLU(),
                                      nn.Conv2d(c, c, 3, padding=1), inorm(c))

        def forward(self, x):
            return x + self.body(x)

    def translator():
        return nn.Sequential(
            nn.Conv2d(1, ngf, 5, padding=2), inorm(ngf), nn.ReLU(),
            nn.Conv2d(ngf, 2 * ngf, 4, 2, 1), inorm(2 * ngf), nn.ReLU(),
            *[Res(2 * ngf) for _ in range(n_res)],
            nn.ConvTranspose2d(2 * ngf, ngf, 4, 2, 1), inorm(ngf), nn.ReLU(),
            nn.Conv2d(ngf, 1, 5, padding=2), nn.Tanh())

    def patch():
        return nn.Sequential(nn.Conv2d(1, ndf, 4, 2, 1), nn.LeakyReLU(0.2),
                             nn.Conv2d(ndf, 2 * ndf, 4, 2, 1), inorm(2 * ndf), nn.LeakyReLU(0.2),
                             nn.Conv2d(2 * ndf, 1, 3, 1, 1))
    return translator(), translator(), patch(), patch()


# ----------------------------------------------------------------------------- diffusion, score, flows
def _torch_sinusoidal(t, dim, max_period=10000.0):
    import torch
    half = dim // 2
    freqs = torch.exp(torch.arange(half, dtype=torch.float32, device=t.device) * (-math.log(max_period) / half))
    angle = t.float()[:, None] * freqs[None, :]
    return torch.cat([torch.sin(angle), torch.cos(angle)], dim=1)


def torch_point_denoiser(dim=2, width=128, depth=3, emb_dim=32, **unused):
    """``diffusion.PointDenoiser`` in PyTorch: [x, sinusoidal(t)] -> depth x width ReLU -> dim."""
    import torch
    from torch import nn

    class PointDenoiser(nn.Module):
        def __init__(self):
            super().__init__()
            sizes = [dim + emb_dim] + [width] * depth
            self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
            self.out = nn.Linear(width, dim)

        def forward(self, x, t, y=None):
            h = torch.cat([x, _torch_sinusoidal(t, emb_dim)], 1)
            for layer in self.hidden:
                h = torch.relu(layer(h))
            return self.out(h)

    return PointDenoiser()


def torch_unet(in_ch=1, channels=(32, 64), num_classes=None, emb_dim=None, **unused):
    """``unet.UNet`` in PyTorch, module for module (the same parameter names and shapes), so a
    test can copy minigen's weights into it and compare outputs."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    def groups(c):
        return max(g for g in range(1, 9) if c % g == 0)

    class ResBlock(nn.Module):
        def __init__(self, c_in, c_out, e):
            super().__init__()
            self.norm1, self.conv1 = nn.GroupNorm(groups(c_in), c_in), nn.Conv2d(c_in, c_out, 3, padding=1)
            self.emb = nn.Linear(e, c_out)
            self.norm2, self.conv2 = nn.GroupNorm(groups(c_out), c_out), nn.Conv2d(c_out, c_out, 3, padding=1)
            self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else None

        def forward(self, h, emb):
            a = self.conv1(F.silu(self.norm1(h))) + self.emb(emb)[:, :, None, None]
            a = self.conv2(F.silu(self.norm2(a)))
            return (h if self.skip is None else self.skip(h)) + a

    class AttnBlock(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.norm, self.qkv, self.proj = nn.GroupNorm(groups(c), c), nn.Conv2d(c, 3 * c, 1), nn.Conv2d(c, c, 1)

        def forward(self, h):
            B, C, H, W = h.shape
            q, k, v = self.qkv(self.norm(h)).reshape(B, 3, C, H * W).transpose(2, 3).unbind(1)
            a = F.scaled_dot_product_attention(q, k, v)
            return h + self.proj(a.transpose(1, 2).reshape(B, C, H, W))

    chans = tuple(channels)

    class UNet(nn.Module):
        def __init__(self):
            super().__init__()
            c0, L = chans[0], len(chans)
            self.emb_dim = e = emb_dim or 4 * c0
            self.t_mlp1, self.t_mlp2 = nn.Linear(c0, e), nn.Linear(e, e)
            self.label_emb = nn.Embedding(num_classes + 1, e) if num_classes is not None else None
            self.conv_in = nn.Conv2d(in_ch, c0, 3, padding=1)
            self.down, self.downsample = nn.ModuleList(), nn.ModuleList()
            c_prev = c0
            for i, c in enumerate(chans):
                self.down.append(ResBlock(c_prev, c, e))
                c_prev = c
                if i < L - 1:
                    self.downsample.append(nn.Conv2d(c, c, 3, stride=2, padding=1))
            self.down_attn = AttnBlock(chans[-1])
            self.mid1, self.mid_attn, self.mid2 = ResBlock(c_prev, c_prev, e), AttnBlock(c_prev), ResBlock(c_prev, c_prev, e)
            self.up, self.upsample = nn.ModuleList(), nn.ModuleList()
            for i in range(L - 1, -1, -1):
                c = chans[i]
                self.up.append(ResBlock(c_prev + c, c, e))
                c_prev = c
                if i > 0:
                    self.upsample.append(nn.Conv2d(c, chans[i - 1], 3, padding=1))
                    c_prev = chans[i - 1]
            self.norm_out = nn.GroupNorm(groups(c_prev), c_prev)
            self.conv_out = nn.Conv2d(c_prev, in_ch, 3, padding=1)
            nn.init.zeros_(self.conv_out.weight)
            nn.init.zeros_(self.conv_out.bias)

        def forward(self, x, t, y=None):
            emb = self.t_mlp2(F.silu(self.t_mlp1(_torch_sinusoidal(t, chans[0]))))
            if self.label_emb is not None:
                if y is None:
                    y = torch.full((x.shape[0],), num_classes, dtype=torch.long, device=x.device)
                emb = emb + self.label_emb(y)
            h = self.conv_in(x)
            skips, sizes, L = [], [], len(chans)
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
                h = self.up[j](torch.cat([h, skips.pop()], 1), emb)
                if j < L - 1:
                    h = self.upsample[j](F.interpolate(h, size=sizes.pop(), mode="nearest"))
            return self.conv_out(F.silu(self.norm_out(h)))

    return UNet()


def torch_realnvp(dim=2, n_couplings=8, hidden=(128, 128), image_shape=None, **unused):
    """``realnvp.RealNVP``'s flow in PyTorch: ``forward(x) -> (z, logdet)``, ``inverse(z)``,
    the same masks, MLPs and per-coupling scale."""
    import numpy
    import torch
    from torch import nn

    if image_shape is not None:
        C, H, W = image_shape
        r, c = numpy.meshgrid(numpy.arange(H), numpy.arange(W), indexing="ij")
        first = numpy.tile(((r + c) % 2).ravel(), C).astype(numpy.float32)
    else:
        first = (numpy.arange(dim) % 2 == 0).astype(numpy.float32)

    class Coupling(nn.Module):
        def __init__(self, mask):
            super().__init__()
            self.register_buffer("b", torch.tensor(mask))
            sizes = [dim] + list(hidden)
            self.layers = nn.ModuleList(nn.Linear(a, c) for a, c in zip(sizes[:-1], sizes[1:]))
            self.out = nn.Linear(sizes[-1], 2 * dim)
            self.scale = nn.Parameter(torch.ones(1))

        def s_t(self, xf):
            h = xf
            for layer in self.layers:
                h = torch.relu(layer(h))
            o = self.out(h)
            return (1 - self.b) * self.scale * torch.tanh(o[:, :dim]), (1 - self.b) * o[:, dim:]

        def forward(self, x):
            s, t = self.s_t(self.b * x)
            return self.b * x + (1 - self.b) * (x * torch.exp(s) + t), s.sum(1)

        def inverse(self, y):
            s, t = self.s_t(self.b * y)
            return self.b * y + (1 - self.b) * (y - t) * torch.exp(-s)

    class Flow(nn.Module):
        def __init__(self):
            super().__init__()
            self.couplings = nn.ModuleList(Coupling(first if k % 2 == 0 else 1 - first) for k in range(n_couplings))

        def forward(self, x):
            ld = torch.zeros(x.shape[0], device=x.device)
            for c in self.couplings:
                x, d = c(x)
                ld = ld + d
            return x, ld

        def inverse(self, z):
            for c in reversed(self.couplings):
                z = c.inverse(z)
            return z

        def log_prob(self, x):
            z, ld = self(x)
            return -0.5 * ((z * z).sum(1) + dim * math.log(2 * math.pi)) + ld

    return Flow()


# ----------------------------------------------------------------------------- autoregressive images
def torch_pixelcnn(config):
    """``pixelcnn.PixelCNN``, ``GatedPixelCNN`` or ``pixelrnn.PixelRNN`` (by ``config['class']``) in PyTorch, module for
    module; ``forward(x, y=None)`` returns the logits [B, out, H, W]."""
    import numpy
    import torch
    import torch.nn.functional as F
    from torch import nn

    c = dict(config)
    levels = c["levels"]
    out_ch = 1 if levels == 2 else levels

    def mask(k, kind):
        m = numpy.zeros((k, k), dtype=numpy.float32)
        m[:k // 2, :] = 1
        m[k // 2, :k // 2] = 1
        if kind == "B":
            m[k // 2, k // 2] = 1
        return torch.tensor(m)

    class MaskedConv2d(nn.Conv2d):
        def __init__(self, cin, cout, k, kind):
            super().__init__(cin, cout, k, padding=k // 2)
            self.register_buffer("mask", mask(k, kind), persistent=False)

        def forward(self, x):
            return F.conv2d(x, self.weight * self.mask, self.bias, padding=self.padding)

    if c["class"] == "PixelRNN":
        C = c["channels"]

        class RowMasked(nn.Conv2d):
            def __init__(self, cin, cout):
                super().__init__(cin, cout, (1, 3), padding=(0, 1))
                self.register_buffer("mask", torch.tensor([[1.0, 1.0, 0.0]]), persistent=False)

            def forward(self, x):
                return F.conv2d(x, self.weight * self.mask, self.bias, padding=self.padding)

        class RowLSTM(nn.Module):
            def __init__(self):
                super().__init__()
                self.input_to_state = RowMasked(C, 4 * C)
                self.state_to_state = nn.Conv1d(C, 4 * C, 3, padding=1)

            def forward(self, x):
                B, _, H, W = x.shape
                xs = self.input_to_state(x)
                h = x.new_zeros(B, C, W)
                cc = x.new_zeros(B, C, W)
                rows = []
                for i in range(H):
                    a = self.state_to_state(h) + xs[:, :, i, :]
                    o, f, g_in, g = (torch.sigmoid(a[:, :C]), torch.sigmoid(a[:, C:2 * C]),
                                     torch.sigmoid(a[:, 2 * C:3 * C]), torch.tanh(a[:, 3 * C:]))
                    cc = f * cc + g_in * g
                    h = o * torch.tanh(cc)
                    rows.append(h)
                return torch.stack(rows, 2)

        class PixelRNN(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv_in = MaskedConv2d(1, C, c["first_kernel"], "A")
                self.rnns = nn.ModuleList(RowLSTM() for _ in range(c["n_layers"]))
                self.outs = nn.ModuleList(nn.Conv2d(C, C, 1) for _ in range(c["n_layers"]))
                self.head1, self.head2 = nn.Conv2d(C, C, 1), nn.Conv2d(C, out_ch, 1)

            def forward(self, x, y=None):
                h = self.conv_in(x)
                for rnn, out in zip(self.rnns, self.outs):
                    h = h + out(rnn(h))
                return self.head2(F.relu(self.head1(F.relu(h))))

        return PixelRNN()

    if c["class"] == "PixelCNN":
        C = c["channels"]

        class PixelCNN(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv_in = MaskedConv2d(1, C, c["first_kernel"], "A")
                self.res = nn.ModuleList(MaskedConv2d(C, C, 3, "B") for _ in range(c["n_res"]))
                self.head1, self.head2 = nn.Conv2d(C, C, 1), nn.Conv2d(C, out_ch, 1)

            def forward(self, x, y=None):
                h = self.conv_in(x)
                for conv in self.res:
                    h = h + conv(F.relu(h))
                return self.head2(F.relu(self.head1(F.relu(h))))

        return PixelCNN()

    C, k0, nc = c["channels"], c["first_kernel"], c["num_classes"]

    class Gated(nn.Module):
        def __init__(self, k=3):
            super().__init__()
            self.k = k
            self.v_conv = nn.Conv2d(C, 2 * C, (k // 2 + 1, k))
            self.v_to_h = nn.Conv2d(2 * C, 2 * C, 1)
            self.h_conv = nn.Conv2d(C, 2 * C, (1, k // 2 + 1))
            self.h_res = nn.Conv2d(C, C, 1)
            self.cond = nn.Linear(nc, 2 * C, bias=False) if nc is not None else None

        def gate(self, a, cond):
            if cond is not None:
                a = a + cond[:, :, None, None]
            return torch.tanh(a[:, :C]) * torch.sigmoid(a[:, C:])

        def forward(self, v, h, cond):
            k = self.k
            v_pre = self.v_conv(F.pad(v, (k // 2, k // 2, k // 2, 0)))
            h_pre = self.h_conv(F.pad(h, (k // 2, 0, 0, 0))) + self.v_to_h(v_pre)
            return self.gate(v_pre, cond), h + self.h_res(self.gate(h_pre, cond))

    class GatedPixelCNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.v_in = nn.Conv2d(1, C, (k0 // 2, k0))
            self.h_in = nn.Conv2d(1, C, (1, k0 // 2))
            self.v_in_to_h = nn.Conv2d(C, C, 1)
            self.layers = nn.ModuleList(Gated() for _ in range(c["n_layers"]))
            self.head1, self.head2 = nn.Conv2d(C, C, 1), nn.Conv2d(C, out_ch, 1)

        def forward(self, x, y=None):
            H, W = x.shape[2:]
            cond = F.one_hot(y, nc).to(x.dtype) if nc is not None else None
            v = self.v_in(F.pad(x, (k0 // 2, k0 // 2, k0 // 2, 0)))[:, :, :H, :]
            h = self.h_in(F.pad(x, (k0 // 2, 0, 0, 0)))[:, :, :, :W] + self.v_in_to_h(v)
            for layer in self.layers:
                v, h = layer(v, h, None if cond is None else layer.cond(cond))
            return self.head2(F.relu(self.head1(F.relu(h))))

    return GatedPixelCNN()


# ----------------------------------------------------------------------------- audio
def torch_wavenet(dilations=(1, 2, 4, 8, 16, 32, 64, 128) * 2, residual=32, dilation_channels=32, skip=64,
                  quantization=256, num_classes=10, **unused):
    """``wavenet.WaveNet`` in PyTorch, module for module: ``forward(codes [B, L], digits [B])``
    returns the logits [B, Q, L - R + 1]."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    class Layer(nn.Module):
        def __init__(self, d):
            super().__init__()
            self.d = d
            self.dilated = nn.Conv1d(residual, 2 * dilation_channels, 2, dilation=d)
            self.cond = nn.Linear(num_classes, 2 * dilation_channels, bias=False) if num_classes else None
            self.res = nn.Conv1d(dilation_channels, residual, 1)
            self.skip = nn.Conv1d(dilation_channels, skip, 1)

    class WaveNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.input_conv = nn.Conv1d(quantization, residual, 2)
            self.layers = nn.ModuleList(Layer(d) for d in dilations)
            self.head1, self.head2 = nn.Conv1d(skip, skip, 1), nn.Conv1d(skip, quantization, 1)
            self.receptive_field = 2 + sum(dilations)

        def forward(self, codes, digits=None):
            L = codes.shape[1]
            h = F.one_hot(digits, num_classes).float() if num_classes else None
            z = self.input_conv(F.one_hot(codes, quantization).float().transpose(1, 2))
            L_out = L - self.receptive_field + 1
            s = 0
            C = dilation_channels
            for layer in self.layers:
                a = layer.dilated(z)
                if h is not None:
                    a = a + layer.cond(h)[:, :, None]
                u = torch.tanh(a[:, :C]) * torch.sigmoid(a[:, C:])
                z = z[:, :, layer.d:] + layer.res(u)
                s = s + layer.skip(u[:, :, -L_out:])
            return self.head2(F.relu(self.head1(F.relu(s))))

    return WaveNet()


# ----------------------------------------------------------------------------- image classifiers
def torch_vit(config):
    """The PyTorch twin of ``minigen.models.vit``'s ``ViT`` or ``SmallCNN`` from its ``config()``:
    the same parameter names (so a state dict copies across), the same initialisation scheme
    (class token 0; positions, Linear weights and ``in_proj_weight`` N(0, 0.02^2); biases 0 /
    the CNN: PyTorch's defaults); ``forward(images)`` returns the logits [B, classes]."""
    import torch
    from torch import nn

    c = dict(config)
    kind = c.pop("class")
    C, H, W = c["image_shape"]

    class ViT(nn.Module):
        def __init__(self):
            super().__init__()
            p, d = c["patch_size"], c["d_model"]
            self.p, self.d = p, d
            n = (H // p) * (W // p)
            self.patch_embed = nn.Linear(C * p * p, d)
            self.cls_token = nn.Parameter(torch.zeros(1, 1, d))
            self.pos_embed = nn.Parameter(torch.zeros(1, n + 1, d))
            layer = nn.TransformerEncoderLayer(d, c["nhead"], c["dim_feedforward"], dropout=0.0,
                                               activation="gelu", batch_first=True, norm_first=True)
            self.encoder = nn.TransformerEncoder(layer, c["depth"], enable_nested_tensor=False)
            self.norm = nn.LayerNorm(d)
            self.head = nn.Linear(d, c["num_classes"])
            for name, q in self.named_parameters():
                if name == "cls_token" or name.endswith("bias"):
                    nn.init.zeros_(q)
                elif q.ndim == 1:
                    nn.init.ones_(q)
                else:
                    nn.init.normal_(q, 0.0, 0.02)

        def encode(self, x):
            B, p = x.shape[0], self.p
            # row-major p x p patches, each flattened channel, row, column
            patches = x.reshape(B, C, H // p, p, W // p, p).permute(0, 2, 4, 1, 3, 5).reshape(B, -1, C * p * p)
            z = torch.cat([self.cls_token.expand(B, 1, self.d), self.patch_embed(patches)], dim=1) + self.pos_embed
            return self.norm(self.encoder(z)[:, 0])

        def forward(self, x):
            return self.head(self.encode(x))

    class SmallCNN(nn.Module):
        def __init__(self):
            super().__init__()
            c1, c2 = c["channels"]
            self.features = nn.Sequential(
                nn.Conv2d(C, c1, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                nn.Conv2d(c1, c2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                nn.Flatten(), nn.Linear(c2 * (H // 4) * (W // 4), c["hidden"]), nn.ReLU())
            self.head = nn.Linear(c["hidden"], c["num_classes"])

        def forward(self, x):
            return self.head(self.features(x))

    twins = {"ViT": ViT, "SmallCNN": SmallCNN}
    if kind not in twins:
        raise ValueError(f"torch_vit: no PyTorch twin for a {kind}")
    return twins[kind]()


def torch_number_translator(src_vocab=22, tgt_vocab=13, d_model=64, nhead=4, num_encoder_layers=2,
                            num_decoder_layers=2, dim_feedforward=256, dropout=0.0, norm_first=True,
                            max_len=64, **unused):
    """The twin of ``minigen.models.transformer.NumberTranslator``: PyTorch's own
    ``nn.Transformer`` with the same parameter names, so state dicts copy across."""
    import math
    import torch
    from torch import nn

    class PositionalEncoding(nn.Module):
        def __init__(self):
            super().__init__()
            t = torch.arange(max_len, dtype=torch.float64)[:, None]
            inv_freq = torch.exp(-math.log(10000.0) * torch.arange(0, d_model, 2, dtype=torch.float64) / d_model)
            pe = torch.zeros(max_len, d_model, dtype=torch.float64)
            pe[:, 0::2], pe[:, 1::2] = torch.sin(t * inv_freq), torch.cos(t * inv_freq)
            self.register_buffer("pe", pe.float(), persistent=False)
            self.dropout = nn.Dropout(dropout)

        def forward(self, x):
            return self.dropout(x + self.pe[:x.shape[1]].to(x.dtype))

    class NumberTranslator(nn.Module):
        def __init__(self):
            super().__init__()
            self.d_model = d_model
            self.src_embed = nn.Embedding(src_vocab, d_model)
            self.tgt_embed = nn.Embedding(tgt_vocab, d_model)
            self.pos = PositionalEncoding()
            self.transformer = nn.Transformer(d_model, nhead, num_encoder_layers, num_decoder_layers,
                                              dim_feedforward, dropout, batch_first=True,
                                              norm_first=norm_first)
            self.out = nn.Linear(d_model, tgt_vocab)
            for name, p in self.named_parameters():
                if p.ndim > 1:
                    nn.init.xavier_uniform_(p)
                elif name.endswith("bias"):
                    nn.init.zeros_(p)

        def forward(self, src, tgt_in):
            pad = src == 0
            e = self.pos(self.src_embed(src) * math.sqrt(self.d_model))
            m = self.transformer.encoder(e, src_key_padding_mask=pad)
            U = tgt_in.shape[1]
            h = self.pos(self.tgt_embed(tgt_in) * math.sqrt(self.d_model))
            causal = nn.Transformer.generate_square_subsequent_mask(U, dtype=h.dtype)
            z = self.transformer.decoder(h, m, tgt_mask=causal, tgt_is_causal=True,
                                         memory_key_padding_mask=pad)
            return self.out(z)

        def loss(self, src, tgt):
            logits = self(src, tgt[:, :-1])
            return nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                               tgt[:, 1:].reshape(-1), ignore_index=0)

    return NumberTranslator()


# ----------------------------------------------------------------------------- RoPE, LoRA, MoE GPT
def torch_gpt_mechanisms(config):
    """The PyTorch twin of a minigen ``GPT`` with its variants (``config()``'s ``pos='rope'``
    and ``moe``), written independently with ``torch.nn``: rotary queries and keys (pairs
    (2i, 2i+1) turned by t * base^(-2i/d_h)), top-k experts with gates renormalised over the
    chosen k (k >= 2) and the Switch load-balancing loss. ``forward(x)`` returns the logits;
    ``aux_loss()`` the sum over blocks of the last forward's N sum_i f_i P_i;
    ``expert_counts()`` an array [n_layer, n_experts] of the last forward's assignments.
    Layer names follow minigen's (``blocks.0.attn.c_attn``), so LoRA targets read the same."""
    import numpy
    import torch
    import torch.nn.functional as F
    from torch import nn

    c = dict(config)
    V, d, L, H = c["vocab_size"], c["n_embd"], c["n_layer"], c["n_head"]
    rope, moe, bias = c.get("pos", "learned") == "rope", c.get("moe"), c["bias"]
    base = c.get("rope_base", 10000.0)

    def rotate(x, offset):
        T, dh = x.shape[-2], x.shape[-1]
        theta = base ** (-torch.arange(0, dh, 2, dtype=torch.float64) / dh)
        ang = torch.arange(offset, offset + T, dtype=torch.float64)[:, None] * theta[None, :]
        cos, sin = ang.cos().to(x.dtype), ang.sin().to(x.dtype)
        a, b = x[..., 0::2], x[..., 1::2]
        return torch.stack([a * cos - b * sin, a * sin + b * cos], dim=-1).flatten(-2)

    class Attention(nn.Module):
        def __init__(self):
            super().__init__()
            self.c_attn = nn.Linear(d, 3 * d, bias=bias)
            self.c_proj = nn.Linear(d, d, bias=bias)

        def forward(self, a):
            B, T, _ = a.shape
            q, k, v = (t.reshape(B, T, H, d // H).transpose(1, 2) for t in self.c_attn(a).split(d, dim=2))
            if rope:
                q, k = rotate(q, 0), rotate(k, 0)
            y = F.scaled_dot_product_attention(q, k, v, is_causal=T > 1)
            return self.c_proj(y.transpose(1, 2).reshape(B, T, d))

    class Expert(nn.Module):
        def __init__(self, hidden):
            super().__init__()
            self.c_fc, self.c_proj = nn.Linear(d, hidden, bias=bias), nn.Linear(hidden, d, bias=bias)

        def forward(self, x):
            return self.c_proj(F.gelu(self.c_fc(x), approximate=c["gelu"]))

    class MoE(nn.Module):
        def __init__(self):
            super().__init__()
            self.E, self.k = moe["n_experts"], moe["top_k"]
            self.renorm = moe.get("renormalize", self.k > 1)
            self.router = nn.Linear(d, self.E, bias=False)
            self.experts = nn.ModuleList(Expert(moe["d_hidden"]) for _ in range(self.E))
            self.aux, self.counts = None, numpy.zeros(self.E, numpy.int64)

        def forward(self, x):
            xf = x.reshape(-1, d)
            n = xf.shape[0]
            p = F.softmax(self.router(xf), dim=-1)
            g, idx = p.topk(self.k, dim=-1)
            if self.renorm:
                g = g / g.sum(-1, keepdim=True)
            out = torch.zeros_like(xf)
            for e, expert in enumerate(self.experts):
                tok, slot = (idx == e).nonzero(as_tuple=True)
                if len(tok):
                    out = out.index_add(0, tok, g[tok, slot, None] * expert(xf[tok]))
            counts = torch.bincount(idx.reshape(-1), minlength=self.E)
            self.counts = counts.cpu().numpy()
            f = counts.to(p.dtype) / (self.k * n)
            self.aux = self.E * (f * p.mean(0)).sum()
            return out.reshape(x.shape)

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln_1, self.ln_2 = nn.LayerNorm(d), nn.LayerNorm(d)
            self.attn = Attention()
            if moe is None:
                self.mlp = Expert(4 * d)
            else:
                self.moe = MoE()

        def forward(self, h):
            h = h + self.attn(self.ln_1(h))
            return h + (self.mlp if moe is None else self.moe)(self.ln_2(h))

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.wte = nn.Embedding(V, d)
            if not rope:
                self.wpe = nn.Embedding(c["block_size"], d)
            self.blocks = nn.ModuleList(Block() for _ in range(L))
            self.ln_f, self.head = nn.LayerNorm(d), nn.Linear(d, V, bias=c["head_bias"])
            if c.get("init", "gpt2") == "gpt2":
                for name, p in self.named_parameters():
                    if name.endswith("bias"):
                        nn.init.zeros_(p)
                    elif p.ndim == 2:
                        nn.init.normal_(p, 0.0, 0.02 / math.sqrt(2 * L) if name.endswith("c_proj.weight") else 0.02)
            if c["tie_weights"]:
                self.head.weight = self.wte.weight

        def forward(self, x):
            h = self.wte(x)
            if not rope:
                h = h + self.wpe(torch.arange(x.shape[1], device=x.device))
            for b in self.blocks:
                h = b(h)
            return self.head(self.ln_f(h))

        def aux_loss(self):
            return sum(b.moe.aux for b in self.blocks)

        def expert_counts(self):
            return numpy.stack([b.moe.counts for b in self.blocks])

    return GPT()


def torch_add_lora(model, r=4, alpha=None, targets=None):
    """LoRA on a PyTorch model, written independently of ``minigen.nn.lora``: every
    ``nn.Linear`` whose name ends with one of ``targets`` (None: all) becomes
    y = x W^T + b + (alpha / r) x A^T B^T with A ~ N(0, 1/in), B = 0; all else is frozen."""
    import torch
    from torch import nn

    alpha = r if alpha is None else alpha

    class LoRA(nn.Module):
        def __init__(self, base):
            super().__init__()
            self.base, self.s = base, alpha / r
            self.A = nn.Parameter(torch.randn(r, base.in_features) / math.sqrt(base.in_features))
            self.B = nn.Parameter(torch.zeros(base.out_features, r))

        def forward(self, x):
            return self.base(x) + self.s * (x @ self.A.t()) @ self.B.t()

    for p in model.parameters():
        p.requires_grad_(False)
    chosen = [(n, m) for n, m in model.named_modules() if type(m) is nn.Linear
              and (targets is None or any(n == t or n.endswith("." + t) for t in targets))]
    for name, lin in chosen:
        parent = model.get_submodule(name.rpartition(".")[0]) if "." in name else model
        setattr(parent, name.rpartition(".")[2], LoRA(lin))
    return model


# ----------------------------------------------------------------------------- BERT
def torch_bert(config):
    """``bert.BERT`` (``minigen/models/bert.py``) in PyTorch, from its ``config()``: the same
    parameter names (``wte``, ``wpe``, ``encoder`` = ``torch.nn.TransformerEncoder`` of
    ``torch.nn.TransformerEncoderLayer``, ``head``), so a state dict copies across by name;
    ``forward(idx)`` returns the logits ``[B, T, V]`` (idx holds [MASK] as id V)."""
    import torch
    from torch import nn

    c = dict(config)
    d, V = c["n_embd"], c["vocab_size"]

    class BERT(nn.Module):
        def __init__(self):
            super().__init__()
            self.wte, self.wpe = nn.Embedding(V + 1, d), nn.Embedding(c["block_size"], d)
            self.ln_emb = None if c["norm_first"] else nn.LayerNorm(d)
            self.drop = nn.Dropout(c["dropout"])
            layer = nn.TransformerEncoderLayer(d, c["n_head"], c["dim_feedforward"], c["dropout"],
                                               activation="gelu", batch_first=True,
                                               norm_first=c["norm_first"])
            self.encoder = nn.TransformerEncoder(layer, c["n_layer"],
                                                 norm=nn.LayerNorm(d) if c["norm_first"] else None,
                                                 enable_nested_tensor=False)
            self.head = nn.Linear(d, V)

        def forward(self, idx):
            h = self.wte(idx) + self.wpe(torch.arange(idx.shape[1], device=idx.device))
            if self.ln_emb is not None:
                h = self.ln_emb(h)
            return self.head(self.encoder(self.drop(h)))

    return BERT()


def torch_mask_tokens(x, vocab_size, generator=None):
    """``bert.mask_tokens`` in PyTorch, draws from PyTorch's generator: of the positions chosen
    with probability 15%, 80% become [MASK] (id V), 10% a random character, 10% stay. Returns
    ``(inputs, targets)``, targets -1 off the chosen positions."""
    import torch

    V = vocab_size
    u = torch.rand(x.shape, generator=generator, device=x.device)
    r = torch.rand(x.shape, generator=generator, device=x.device)
    z = torch.randint(0, V, x.shape, generator=generator, device=x.device)
    chosen = u < 0.15
    to_mask = chosen & (r < 0.8)
    to_random = chosen & (r >= 0.8) & (r < 0.9)
    inputs = torch.where(to_mask, V, torch.where(to_random, z, x))
    return inputs, torch.where(chosen, x, -1)


__all__ += ["torch_bert", "torch_mask_tokens"]


# ----------------------------------------------------------------------------- CLIP (issue 17)
def torch_clip(config):
    """The PyTorch twin of ``minigen.models.clip.CLIP`` from its ``config()``: the same parameter
    names (a state dict copies across), PyTorch's default initialisation (as minigen's layers),
    t = log s starting at log(1/0.07). ``forward(images, ids, lengths)`` returns S [B, B] =
    s u_i . v_j with s = exp(min(t, log 100)); ``loss(...)`` the symmetric InfoNCE;
    ``encode_image`` / ``encode_ids`` the unit vectors."""
    import math

    import torch
    import torch.nn.functional as F
    from torch import nn

    c = dict(config)
    C, H, W = c["image_shape"]
    E = c["embed_dim"]

    class ImageTower(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(
                nn.Conv2d(C, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                nn.Flatten(), nn.Linear(32 * (H // 4) * (W // 4), c["image_hidden"]), nn.ReLU())
            self.proj = nn.Linear(c["image_hidden"], E)

        def forward(self, x):
            return self.proj(self.features(x))

    class ViTTower(nn.Module):
        def __init__(self):
            super().__init__()
            vc = dict(c["vit_options"], image_shape=[C, H, W], num_classes=10)
            vc.setdefault("patch_size", 7)
            self.vit = torch_vit(dict({"class": "ViT", "d_model": 64, "depth": 4, "nhead": 4,
                                       "dim_feedforward": 128}, **vc))
            del self.vit.head
            self.proj = nn.Linear(self.vit.d, E)

        def forward(self, x):
            return self.proj(self.vit.encode(x))

    class TextTower(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(38, c["char_dim"], padding_idx=0)
            self.gru = nn.GRU(c["char_dim"], c["text_hidden"], batch_first=True)
            self.proj = nn.Linear(c["text_hidden"], E)

        def forward(self, ids, lengths):
            h, _ = self.gru(self.embed(ids))
            return self.proj(h[torch.arange(ids.shape[0]), lengths - 1])

    class CLIP(nn.Module):
        def __init__(self):
            super().__init__()
            self.visual = ImageTower() if c["image_tower"] == "cnn" else ViTTower()
            self.text = TextTower()
            self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))

        def scale(self):
            return self.logit_scale.clamp(max=math.log(100.0)).exp()

        def encode_image(self, x):
            return F.normalize(self.visual(x), dim=-1, eps=1e-12)

        def encode_ids(self, ids, lengths):
            return F.normalize(self.text(ids, lengths), dim=-1, eps=1e-12)

        def forward(self, x, ids, lengths):
            return self.scale() * self.encode_image(x) @ self.encode_ids(ids, lengths).T

        def loss(self, x, ids, lengths):
            S = self(x, ids, lengths)
            target = torch.arange(S.shape[0])
            return (F.cross_entropy(S, target) + F.cross_entropy(S.T, target)) / 2

    return CLIP()


__all__ += ["torch_clip"]


# ----------------------------------------------------------------------------- VQ-VAE (issue 17)
def torch_vqvae(config):
    """The PyTorch twin of ``minigen.models.vqvae.VQVAE`` from its ``config()``: the same
    parameter names (encoder.*, codebook.weight, decoder.*), PyTorch's default initialisation
    and the codebook U(-1/K, 1/K); ``forward(x) -> (x_hat, z_e, z_q, codes)`` with the
    straight-through lookup and, in training mode, the same dead-code restarts (drawn from
    PyTorch's generator); ``losses(x)`` and ``loss(x)`` as minigen's."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    c = dict(config)
    C, H, W = c["image_shape"]
    h1, h2 = c["hidden"]
    K, D, beta = c["num_codes"], c["code_dim"], c["beta"]

    class VQVAE(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = nn.Sequential(
                nn.Conv2d(C, h1, 4, stride=2, padding=1), nn.ReLU(),
                nn.Conv2d(h1, h2, 4, stride=2, padding=1), nn.ReLU(),
                nn.Conv2d(h2, D, 1))
            self.codebook = nn.Embedding(K, D)
            nn.init.uniform_(self.codebook.weight, -1.0 / K, 1.0 / K)
            self.decoder = nn.Sequential(
                nn.Conv2d(D, h2, 3, padding=1), nn.ReLU(),
                nn.ConvTranspose2d(h2, h1, 4, stride=2, padding=1), nn.ReLU(),
                nn.ConvTranspose2d(h1, C, 4, stride=2, padding=1))

        def run(self, x):
            z_e = self.encoder(x)
            B, _, h, w = z_e.shape
            flat = z_e.permute(0, 2, 3, 1).reshape(-1, D)
            e = self.codebook.weight
            with torch.no_grad():
                codes = ((e * e).sum(1) - 2.0 * flat @ e.T).argmin(1)
            z_q = e[codes].reshape(B, h, w, D).permute(0, 3, 1, 2)
            z_st = z_e + (z_q - z_e).detach()
            if self.training and c.get("restarts", True):
                with torch.no_grad():
                    used = torch.zeros(K)
                    used[codes] = 1.0
                    dead = (used == 0).nonzero().reshape(-1)
                    if len(dead):
                        pick = torch.randint(0, flat.shape[0], (len(dead),))
                        self.codebook.weight[dead] = flat[pick]
            return self.decoder(z_st), z_e, z_q, codes.reshape(B, h, w)

        def forward(self, x):
            logits, z_e, z_q, codes = self.run(x)
            return torch.sigmoid(logits), z_e, z_q, codes

        def losses(self, x):
            logits, z_e, z_q, _ = self.run(x)
            return {"recon": F.binary_cross_entropy_with_logits(logits, x),
                    "codebook": ((z_e.detach() - z_q) ** 2).mean(),
                    "commitment": ((z_e - z_q.detach()) ** 2).mean()}

        def loss(self, x):
            t = self.losses(x)
            return t["recon"] + t["codebook"] + beta * t["commitment"]

    return VQVAE()


__all__ += ["torch_vqvae"]


# ----------------------------------------------------------------------------- DALL-E prior (issue 17)
def torch_dalle_prior(config, text_len, sep, offset, vocab_size, text_weight=0.0, eos=2):
    """The PyTorch twin of the training step of ``minigen.models.dalle.DALLE``: the frozen
    VQ-VAE's encoder and codebook (``torch_vqvae``, no gradient), the GPT prior
    (``torch_twin`` of the prior's ``config()``); ``loss(images, text)`` lays out
    [text, SEP, offset + codes] and returns the cross-entropy over the image targets (plus
    ``text_weight`` on the caption's words), as ``DALLE.sequence_loss``."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    class Prior(nn.Module):
        def __init__(self):
            super().__init__()
            self.vqvae = torch_vqvae(config["vqvae"]).eval()
            for p in self.vqvae.parameters():
                p.requires_grad_(False)
            self.prior = torch_twin(config["prior"])

        def loss(self, images, text):
            with torch.no_grad():
                codes = self.vqvae.run(images)[3].reshape(images.shape[0], -1)
            B = images.shape[0]
            sep_col = torch.full((B, 1), sep, dtype=torch.long, device=images.device)
            seq = torch.cat([text, sep_col, codes + offset], dim=1)
            logits = self.prior(seq[:, :-1])
            target = seq[:, 1:]
            ce = F.cross_entropy(logits.reshape(-1, vocab_size), target.reshape(-1), reduction="none")
            T = seq.shape[1]
            m = (torch.arange(1, T, device=seq.device) > text_len).float().reshape(1, -1) + \
                text_weight * ((target > eos) & (target < sep)).float()
            m = m.expand(B, -1).reshape(-1)
            return (ce * m).sum() / m.sum()

    return Prior()


__all__ += ["torch_dalle_prior"]
