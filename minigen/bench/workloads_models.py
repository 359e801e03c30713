"""Model-level workloads: one full training step (forward, loss, backward, optimizer step).

Two models are built here from ``lib.nn`` layers, once for both libraries (minigen copies
PyTorch's names, so the same class body makes a minigen model or a torch model):

* **GPT-style decoder** (``gpt_step``): token + position embeddings, 4 pre-norm blocks
  (LayerNorm, causal self-attention through ``F.scaled_dot_product_attention``, LayerNorm,
  GELU MLP 4x wide), a final LayerNorm and a linear head; d_model 128, 4 heads, T 64,
  batch 32, vocab 65 (Shakespeare's characters); cross-entropy; AdamW.
* **DCGAN** (``dcgan_step``) at 32x32, batch 64: G maps z[100] through ConvTranspose2d +
  BatchNorm2d + ReLU (256, 128, 64 channels at 4, 8, 16 px) to a tanh image [3, 32, 32];
  D mirrors it with Conv2d + BatchNorm2d + LeakyReLU(0.2) to one logit. One step is one D update
  (real and fake.detach()) and one G update, both Adam(lr 2e-4, betas (0.5, 0.999)), the
  non-saturating loss through ``binary_cross_entropy_with_logits``.

Registered models (the hook)
    ``registered_workloads()`` imports ``minigen.models.registry`` if it exists and makes one
    workload per registered model (``registry.names()`` + ``registry.get(name)``). An entry
    takes part by providing::

        bench_step(device, quick=False)        -> step      (minigen; required)
        bench_step_torch(device, quick=False)  -> step      (PyTorch twin; optional)

    where ``step()`` runs one training step at the model's default sizes (small ones when
    ``quick``; a hook without ``quick`` but with ``batch_size`` gets ``batch_size=16``). Either
    hook may return a dict ``{"step": fn, "flops": n}`` instead of ``fn``. A model's PyTorch
    twin can also live here, in ``TORCH_TWINS``: ``twin(mg_step, device) -> step`` reads the
    sizes, batch and learning rate off the minigen step (``step.model``, ``step.batch``,
    ``step.optimizer``) it is compared with; the VAE's twin does.
    A model without ``bench_step`` is listed as unavailable; one without a twin has no ratio.

FLOP counts for GFLOP/s count the matrix products (linear layers, attention's two products,
convolutions) only; a backward costs twice its forward (input and weight gradients).
"""
from __future__ import annotations

import inspect

import numpy

from .harness import Case, Unavailable, Workload

__all__ = ["model_workloads", "registered_workloads", "GPT_FULL", "GPT_QUICK", "DCGAN_FULL",
           "DCGAN_QUICK"]

GPT_FULL = dict(layers=4, d=128, heads=4, T=64, batch=32, vocab=65)
GPT_QUICK = dict(layers=2, d=32, heads=2, T=16, batch=4, vocab=65)
DCGAN_FULL = dict(batch=64, nz=100, ngf=64, ndf=64, channels=3)
DCGAN_QUICK = dict(batch=8, nz=16, ngf=8, ndf=8, channels=3)


# ----------------------------------------------------------------------------- GPT
def make_gpt(lib, layers, d, heads, T, vocab):
    """The GPT-style decoder as a ``lib.nn.Module`` (minigen or torch)."""
    nn, F = lib.nn, lib.F

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
            self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
            self.fc, self.out = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)

        def forward(self, x):
            B, T_, C = x.shape
            q, k, v = self.qkv(self.ln1(x)).split(C, dim=2)
            # [B, T, C] -> [B, H, T, C/H]
            q, k, v = (t.reshape(B, T_, heads, C // heads).transpose(1, 2) for t in (q, k, v))
            # y = softmax(q k^T / sqrt(d_h) + causal mask) v
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            x = x + self.proj(y.transpose(1, 2).reshape(B, T_, C))
            return x + self.out(F.gelu(self.fc(self.ln2(x))))

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.tok, self.pos = nn.Embedding(vocab, d), nn.Embedding(T, d)
            self.blocks = []
            for i in range(layers):
                blk = Block()
                self.add_module(f"block{i}", blk)
                self.blocks.append(blk)
            self.ln_f, self.head = nn.LayerNorm(d), nn.Linear(d, vocab)

        def forward(self, idx, pos):
            x = self.tok(idx) + self.pos(pos)
            for blk in self.blocks:
                x = blk(x)
            return self.head(self.ln_f(x))

    return GPT()


def build_gpt(lib, layers, d, heads, T, batch, vocab):
    """One AdamW training step of the GPT-style decoder on random tokens."""
    if lib.name == "numpy":
        raise Unavailable("no bare version")
    lib.need("nn.Embedding", "nn.LayerNorm", "nn.Linear", "F.scaled_dot_product_attention",
             "F.gelu", "F.cross_entropy", "optim.AdamW")
    lib.seed(0)
    model = lib.to_device(make_gpt(lib, layers, d, heads, T, vocab))
    opt = lib.optim.AdamW(model.parameters(), lr=3e-4)
    idx, target = lib.randint(vocab, (batch, T)), lib.randint(vocab, (batch, T))
    pos = lib.m.arange(T, device=lib.device)
    F = lib.F

    def step():
        opt.zero_grad(set_to_none=True)
        logits = model(idx, pos)
        loss = F.cross_entropy(logits.reshape(batch * T, vocab), target.reshape(batch * T))
        loss.backward()
        opt.step()
    return Case(step)


def flops_gpt(layers, d, heads, T, batch, vocab):
    # per token and layer: qkv 2*d*3d + proj 2*d*d + MLP 2*2*d*4d = 24 d^2; attention 4*T*d
    per_token = layers * (24 * d * d + 4 * T * d) + 2 * d * vocab
    return 3.0 * batch * T * per_token


# ----------------------------------------------------------------------------- DCGAN
def _g_layers(nz, ngf, channels):
    # (cin, cout, k, stride, pad, in_size) of each ConvTranspose2d
    return [(nz, 4 * ngf, 4, 1, 0, 1), (4 * ngf, 2 * ngf, 4, 2, 1, 4),
            (2 * ngf, ngf, 4, 2, 1, 8), (ngf, channels, 4, 2, 1, 16)]


def _d_layers(ndf, channels):
    # (cin, cout, k, stride, pad, out_size) of each Conv2d
    return [(channels, ndf, 4, 2, 1, 16), (ndf, 2 * ndf, 4, 2, 1, 8),
            (2 * ndf, 4 * ndf, 4, 2, 1, 4), (4 * ndf, 1, 4, 1, 0, 1)]


def make_dcgan(lib, nz, ngf, ndf, channels):
    """(G, D) of the 32x32 DCGAN as ``lib.nn.Module``\\ s."""
    nn, F = lib.nn, lib.F

    class Generator(nn.Module):
        def __init__(self):
            super().__init__()
            spec = _g_layers(nz, ngf, channels)
            self.convs = []
            self.norms = []
            for i, (cin, cout, k, s, p, _) in enumerate(spec):
                conv = nn.ConvTranspose2d(cin, cout, k, stride=s, padding=p, bias=False)
                self.add_module(f"conv{i}", conv)
                self.convs.append(conv)
                if i < len(spec) - 1:
                    bn = nn.BatchNorm2d(cout)
                    self.add_module(f"bn{i}", bn)
                    self.norms.append(bn)

        def forward(self, z):
            h = z
            for conv, bn in zip(self.convs, self.norms):
                h = F.relu(bn(conv(h)))
            # x = tanh(conv_T(h)) in [-1, 1]
            return self.convs[-1](h).tanh()

    class Discriminator(nn.Module):
        def __init__(self):
            super().__init__()
            spec = _d_layers(ndf, channels)
            self.convs = []
            self.norms = [None]
            for i, (cin, cout, k, s, p, _) in enumerate(spec):
                conv = nn.Conv2d(cin, cout, k, stride=s, padding=p, bias=False)
                self.add_module(f"conv{i}", conv)
                self.convs.append(conv)
                if 0 < i < len(spec) - 1:
                    bn = nn.BatchNorm2d(cout)
                    self.add_module(f"bn{i}", bn)
                    self.norms.append(bn)

        def forward(self, x):
            h = x
            for conv, bn in zip(self.convs[:-1], self.norms):
                h = conv(h)
                h = F.leaky_relu(h if bn is None else bn(h), 0.2)
            return self.convs[-1](h).reshape(-1)

    return Generator(), Discriminator()


def build_dcgan(lib, batch, nz, ngf, ndf, channels):
    """One DCGAN step: a D update on real and G(z).detach(), then a G update."""
    if lib.name == "numpy":
        raise Unavailable("no bare version")
    lib.need("nn.Conv2d", "nn.ConvTranspose2d", "nn.BatchNorm2d", "F.leaky_relu",
             "F.binary_cross_entropy_with_logits", "optim.Adam")
    lib.seed(0)
    G, D = make_dcgan(lib, nz, ngf, ndf, channels)
    G, D = lib.to_device(G), lib.to_device(D)
    optG = lib.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    optD = lib.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    real = lib.randn(batch, channels, 32, 32).tanh()
    ones, zeros = lib.ones(batch), lib.ones(batch) * 0
    bce = lib.F.binary_cross_entropy_with_logits
    randn, dev = lib.m.randn, lib.device

    def step():
        z = randn(batch, nz, 1, 1, device=dev)
        fake = G(z)
        # D: maximise log D(x) + log(1 - D(G(z)))
        optD.zero_grad(set_to_none=True)
        loss_d = bce(D(real), ones) + bce(D(fake.detach()), zeros)
        loss_d.backward()
        optD.step()
        # G: maximise log D(G(z))  (the non-saturating loss)
        optG.zero_grad(set_to_none=True)
        loss_g = bce(D(fake), ones)
        loss_g.backward()
        optG.step()
    return Case(step)


def flops_dcgan(batch, nz, ngf, ndf, channels):
    g = sum(2.0 * batch * cin * cout * k * k * s_in * s_in
            for cin, cout, k, _, _, s_in in _g_layers(nz, ngf, channels))
    d = sum(2.0 * batch * cin * cout * k * k * s_out * s_out
            for cin, cout, k, _, _, s_out in _d_layers(ndf, channels))
    # G: 1 forward + 1 backward (2x); D: 3 forwards (real, fake.detach(), fake) + 3 backwards
    return 3 * g + 9 * d


# ----------------------------------------------------------------------------- registry
QUICK_BATCH = 16  # batch size a registered model is timed at under --quick


def _registry():
    try:
        from ..models import registry
    except ImportError:
        return None
    return registry


def _registry_entries():
    registry = _registry()
    if registry is None:
        return []
    lister = getattr(registry, "names", None) or getattr(registry, "list_models", None)
    getter = getattr(registry, "get", None)
    if callable(lister) and callable(getter):
        return [(n, getter(n)) for n in lister()]
    for attr in ("REGISTRY", "MODELS"):
        table = getattr(registry, attr, None)
        if isinstance(table, dict):
            return list(table.items())
    return []


def _call_hook(fn, device, quick):
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        params = {}
    kwargs = {}
    if "quick" in params:
        kwargs["quick"] = quick
    elif quick and "batch_size" in params:
        kwargs["batch_size"] = QUICK_BATCH
    got = fn(device, **kwargs)
    if isinstance(got, dict):
        return Case(got["step"], flops=got.get("flops"))
    if isinstance(got, Case):
        return got
    return Case(got, flops=_linear_flops(got))


def _linear_flops(step):
    """FLOPs of one step of a model built only from Linear layers (none where unknown).

    The registry's ``step`` carries ``step.model`` and ``step.batch``; a Linear layer on
    [B, in] costs 2 B in out forward, and fwd+bwd 3x that. Convolutions, recurrences and
    attention need their activation shapes, so a model that has any gets no count here (its
    entry can return ``{"step": fn, "flops": n}`` instead)."""
    model, batch = getattr(step, "model", None), getattr(step, "batch", None)
    if model is None or batch is None or not hasattr(model, "modules"):
        return None
    if isinstance(batch, (tuple, list)):
        # a language model's (x, y): every token is a row of each Linear layer
        batch = batch[0].reshape(-1)
    total = 0.0
    for m in model.modules():
        kind = type(m).__name__
        if any(k in kind for k in ("Conv", "RNN", "LSTM", "GRU", "Attention", "Bilinear")):
            return None
        if kind == "Linear":
            total += 3 * 2.0 * batch.shape[0] * m.in_features * m.out_features
    return total or None


# -- PyTorch twins of registered models (the same architecture, loss, optimizer and batch) --
def _vae_torch_step(mg_step, device):
    """PyTorch twin of ``minigen.models.vae``'s MLP VAE: the sizes, the batch (the same images)
    and Adam's learning rate are read off the minigen step ``mg_step`` it is compared with."""
    import torch
    import torch.nn.functional as F

    model = mg_step.model
    if type(model).__name__ != "VAE":
        raise Unavailable(f"no PyTorch twin for VAE variant {type(model).__name__}")
    x_dim, h_dim, z_dim = model.x_dim, model.h_dim, model.z_dim
    lr = mg_step.optimizer.param_groups[0]["lr"]
    torch.manual_seed(0)
    lin = torch.nn.Linear
    net = torch.nn.ModuleDict({"fc1": lin(x_dim, h_dim), "fc_mu": lin(h_dim, z_dim),
                               "fc_logvar": lin(h_dim, z_dim), "fc3": lin(z_dim, h_dim),
                               "fc4": lin(h_dim, x_dim)}).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    x = torch.from_numpy(mg_step.batch.cpu().numpy()).to(device)

    def step():
        opt.zero_grad(set_to_none=True)
        n = x.shape[0]
        # (mu, logvar) = g_phi(x);  z = mu + exp(logvar / 2) eps
        h = F.relu(net["fc1"](x.reshape(n, x_dim)))
        mu, logvar = net["fc_mu"](h), net["fc_logvar"](h)
        z = mu + (0.5 * logvar).exp() * torch.randn_like(mu)
        logits = net["fc4"](F.relu(net["fc3"](z)))
        # -ELBO = sum_i BCE(logits_i, x_i) + KL(q(z|x) || N(0, I)), averaged over the batch
        rec = F.binary_cross_entropy_with_logits(logits, x.reshape(n, -1),
                                                 reduction="none").sum(dim=1)
        kl = -0.5 * (1 + logvar - mu ** 2 - logvar.exp()).sum(dim=1)
        loss = (rec + kl).mean()
        loss.backward()
        opt.step()
        return loss
    return step


def _lm_torch_step(mg_step, device):
    """PyTorch twin of a registered language model (``torch_twins.py``): the architecture
    from the minigen model's ``config()``, the same batch (x, y) and the same optimizer."""
    import torch
    import torch.nn.functional as F

    from .torch_twins import torch_optimizer, torch_twin

    torch.manual_seed(0)
    net = torch_twin(mg_step.model.config()).to(device)
    opt = torch_optimizer(mg_step.optimizer, net.parameters())
    x, y = (torch.from_numpy(t.cpu().numpy()).to(device) for t in mg_step.batch)

    def step():
        opt.zero_grad(set_to_none=True)
        logits = net(x)
        # L = -(1/|T|) sum_t log softmax(logits_t)[y_t]
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), ignore_index=-1)
        loss.backward()
        opt.step()
        return loss
    return step


def _gan_torch_step(mg_step, device):
    """PyTorch twin of a registered GAN (DCGAN, MLP GAN, WGAN-GP, StyleGAN): the players of
    ``torch_twins.py`` sized from the minigen model's ``config()``, the same real batch, Adam
    with the same settings, the same game (a D step and a G step; WGAN-GP: one critic step with
    its gradient penalty, and a G step every n_critic-th call)."""
    import torch
    import torch.nn.functional as F

    from . import torch_twins as T

    c = mg_step.model.config()
    kind = c["class"]
    torch.manual_seed(0)
    if kind == "DCGAN":
        G, D = T.torch_dcgan(c["nz"], c["ngf"], c["ndf"], c["channels"])
    elif kind == "WGANGP":
        G, D = T.torch_dcgan(c["nz"], c["ngf"], c["ndf"], d_batch_norm=c["critic_batch_norm"])
    elif kind == "MLPGAN":
        if c["spectral_norm"]:
            raise Unavailable("no PyTorch twin for the spectrally normalised MLP GAN")
        G, D = T.torch_mlp_gan(c["nz"], int(numpy.prod(c["data_shape"])), c["dropout"])
    elif kind == "StyleGAN":
        G, D = T.torch_stylegan(**c)
    else:
        raise Unavailable(f"no PyTorch twin for {kind}")
    G, D = G.to(device), D.to(device)
    optG = T.torch_optimizer(mg_step.optimizer["G"], G.parameters())
    optD = T.torch_optimizer(mg_step.optimizer["D"], D.parameters())
    x = torch.from_numpy(mg_step.batch.cpu().numpy()).to(device) * 2 - 1
    h, w = x.shape[-2:]
    # the players' space: [-1, 1], padded with -1 to 32x32 (flat for the MLP GAN)
    x = x.reshape(x.shape[0], -1) if kind == "MLPGAN" else \
        F.pad(x, ((32 - w) // 2, 32 - w - (32 - w) // 2, (32 - h) // 2, 32 - h - (32 - h) // 2), value=-1.0)
    nz = c.get("nz") or c["z_dim"]
    n = x.shape[0]

    def gen(z):
        return G(z.reshape(n, nz, 1, 1)) if kind in ("DCGAN", "WGANGP") else G(z)

    def disc(img):
        return D(img).reshape(-1)

    def bce(logits, t):
        return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, t))

    calls = [0]

    def step():
        z = torch.randn(n, nz, device=device)
        if kind == "WGANGP":
            fake = gen(z).detach()
            optD.zero_grad(set_to_none=True)
            eps = torch.rand(n, 1, 1, 1, device=device)
            x_hat = (eps * x + (1 - eps) * fake).requires_grad_(True)
            g, = torch.autograd.grad(disc(x_hat).sum(), x_hat, create_graph=True)
            gp = ((g.flatten(1).norm(dim=1) - 1) ** 2).mean()
            loss = disc(fake).mean() - disc(x).mean() + c["lam"] * gp
            loss.backward()
            optD.step()
            calls[0] += 1
            if calls[0] % c["n_critic"] == 0:
                optG.zero_grad(set_to_none=True)
                (-disc(gen(torch.randn(n, nz, device=device))).mean()).backward()
                optG.step()
            return loss
        fake = gen(z)
        optD.zero_grad(set_to_none=True)
        loss_d = bce(disc(x), 1.0) + bce(disc(fake.detach()), 0.0)
        if c.get("r1_gamma"):
            # the R1 penalty on real images, as minigen's GAN.train_step adds it (GAN.r1_penalty)
            xr = x.detach().requires_grad_(True)
            g, = torch.autograd.grad(disc(xr).sum(), xr, create_graph=True)
            loss_d = loss_d + 0.5 * c["r1_gamma"] * (g * g).flatten(1).sum(dim=1).mean()
        loss_d.backward()
        optD.step()
        optG.zero_grad(set_to_none=True)
        loss_g = bce(disc(fake), 1.0)
        loss_g.backward()
        optG.step()
        return loss_d
    return step


def _diffusion_torch_step(mg_step, device):
    """PyTorch twin of a registered diffusion, score or flow model (``torch_twins.py``): the
    network from the minigen model's ``config()``, the same batch, the same loss and Adam."""
    import torch
    import torch.nn.functional as F

    from .torch_twins import torch_optimizer, torch_point_denoiser, torch_realnvp, torch_unet

    model = mg_step.model
    c = model.config()
    torch.manual_seed(0)
    batch = mg_step.batch if isinstance(mg_step.batch, tuple) else (mg_step.batch,)
    x = torch.from_numpy(batch[0].cpu().numpy()).to(device)
    y = torch.from_numpy(batch[1].cpu().numpy()).to(device) if len(batch) > 1 else None
    kind = c["class"]
    if kind == "RealNVP":
        if c["image_shape"] is not None:
            raise Unavailable("no PyTorch twin for RealNVP on images in the step benchmark")
        net = torch_realnvp(**c).to(device)
    else:
        nc = c["net"]
        net = (torch_unet(**nc) if nc["class"] == "UNet" else torch_point_denoiser(**nc)).to(device)
    opt = torch_optimizer(mg_step.optimizer, net.parameters())
    if kind == "DDPM":
        ab = numpy.cumprod(1.0 - numpy.asarray(model.beta))
        sab = torch.tensor(numpy.sqrt(ab), dtype=torch.float32, device=device)
        s1m = torch.tensor(numpy.sqrt(1 - ab), dtype=torch.float32, device=device)
    if kind == "ScoreModel":
        sig = torch.tensor(model.sigmas, dtype=torch.float32, device=device)

    def step():
        opt.zero_grad(set_to_none=True)
        B = x.shape[0]
        if kind == "DDPM":
            x0 = x * 2 - 1 if c["images"] else x
            t = torch.randint(0, c["T"], (B,), device=device)
            eps = torch.randn_like(x0)
            shape = (B,) + (1,) * (x0.ndim - 1)
            yb = None
            if y is not None:
                yb = torch.where(torch.rand(B, device=device) < c["p_uncond"], torch.full_like(y, 10), y)
            # L_simple = ||eps - eps_theta(sqrt(ab_t) x_0 + sqrt(1 - ab_t) eps, t)||^2
            loss = F.mse_loss(net(sab[t].reshape(shape) * x0 + s1m[t].reshape(shape) * eps, t, yb), eps)
        elif kind == "ScoreModel":
            i = torch.randint(0, len(model.sigmas), (B,), device=device)
            z = torch.randn_like(x)
            r = net(x + sig[i][:, None] * z, i) + z
            loss = 0.5 * (r * r).sum(1).mean()
        else:
            loss = -net.log_prob(x).mean()
        loss.backward()
        opt.step()
        return loss
    return step


def _pixelcnn_torch_step(mg_step, device):
    """PyTorch twin of a registered PixelCNN / Gated PixelCNN: the network from ``config()``, the
    same batch, the per-image summed cross-entropy averaged over the batch, the same Adam."""
    import torch
    import torch.nn.functional as F

    from .torch_twins import torch_optimizer, torch_pixelcnn

    model = mg_step.model
    torch.manual_seed(0)
    net = torch_pixelcnn(model.config()).to(device)
    opt = torch_optimizer(mg_step.optimizer, net.parameters())
    batch = mg_step.batch if isinstance(mg_step.batch, tuple) else (mg_step.batch,)
    v = torch.from_numpy(model.targets(batch[0]).cpu().numpy()).to(device)
    inp = torch.from_numpy(model.inputs(model.targets(batch[0])).cpu().numpy()).to(device)
    y = torch.from_numpy(batch[1].cpu().numpy()).to(device) if len(batch) > 1 and model.num_classes else None

    def step():
        opt.zero_grad(set_to_none=True)
        logits = net(inp, y)
        # -log p(x) = sum over pixels of BCE (binary) or CE (grey levels), mean over the batch
        if model.levels == 2:
            per = F.binary_cross_entropy_with_logits(logits, v, reduction="none")
        else:
            per = F.cross_entropy(logits, v[:, 0].long(), reduction="none")
        loss = per.reshape(v.shape[0], -1).sum(1).mean()
        loss.backward()
        opt.step()
        return loss
    return step


def _wavenet_torch_step(mg_step, device):
    """PyTorch twin of the registered WaveNet: the network from ``config()``, the same windows
    and digits, the mean next-sample cross-entropy, the same Adam."""
    import torch
    import torch.nn.functional as F

    from .torch_twins import torch_optimizer, torch_wavenet

    model = mg_step.model
    torch.manual_seed(0)
    net = torch_wavenet(**model.config()).to(device)
    opt = torch_optimizer(mg_step.optimizer, net.parameters())
    codes, digits = (torch.from_numpy(t.cpu().numpy()).to(device) for t in mg_step.batch)
    R = model.receptive_field

    def step():
        opt.zero_grad(set_to_none=True)
        # the window x_j .. x_{j+R-1} predicts x_{j+R}
        loss = F.cross_entropy(net(codes[:, :-1], digits), codes[:, R:])
        loss.backward()
        opt.step()
        return loss
    return step


TORCH_TWINS = {"wavenet": _wavenet_torch_step, "pixelcnn": _pixelcnn_torch_step, "pixelrnn": _pixelcnn_torch_step, "ddpm": _diffusion_torch_step, "score": _diffusion_torch_step, "realnvp": _diffusion_torch_step,
               "vae": _vae_torch_step, "gpt": _lm_torch_step,
               "mlp_gan": _gan_torch_step, "dcgan": _gan_torch_step, "wgan_gp": _gan_torch_step,
               "stylegan": _gan_torch_step, "lstm": _lm_torch_step,
               "gru": _lm_torch_step, "rnn": _lm_torch_step, "mlp": _lm_torch_step}


def registered_workloads(quick=False):
    """One workload per model in ``minigen.models.registry`` (see the module docstring)."""
    try:
        entries = _registry_entries()
    except Exception as e:  # a registry that fails to import its models must not stop a run
        entries = [("registry", e)]
    out = []
    for name, entry in entries:
        def build(lib, _entry=entry, _name=name):
            if isinstance(_entry, Exception):
                raise _entry
            if lib.name == "minigen":
                fn = getattr(_entry, "bench_step", None)
                if fn is None:
                    raise Unavailable(f"registered model '{_name}' provides no bench_step")
                return _call_hook(fn, lib.device, quick)
            fn = getattr(_entry, "bench_step_torch", None)
            if lib.name != "torch" or (fn is None and _name not in TORCH_TWINS):
                raise Unavailable(f"registered model '{_name}' has no {lib.name} twin")
            if fn is not None:
                return _call_hook(fn, lib.device, quick)
            # a twin here mirrors the minigen step (same sizes, batch, learning rate)
            mg = _call_hook(getattr(_entry, "bench_step"), "cpu", quick)
            case = Case(TORCH_TWINS[_name](mg.step, lib.device), flops=mg.flops)
            return case
        out.append(Workload(f"model:{name}", "model", build, {},
                            description=f"one training step of registered model '{name}' "
                                        "at its default size"))
    return out


def model_workloads(quick=False):
    """GPT-style and DCGAN steps (built here), then every registered model."""
    gpt = GPT_QUICK if quick else GPT_FULL
    dc = DCGAN_QUICK if quick else DCGAN_FULL
    W = [
        Workload("gpt_step[{layers}L d{d} h{heads} T{T} B{batch} V{vocab}]".format(**gpt),
                 "model", build_gpt, dict(gpt), flops=flops_gpt,
                 description="GPT-style decoder, one AdamW training step",
                 tiny_params=dict(gpt, d=2 * gpt["heads"], T=4, batch=1)),
        Workload("dcgan_step[32x32 B{batch} ngf{ngf} ndf{ndf}]".format(**dc), "model",
                 build_dcgan, dict(dc), flops=flops_dcgan,
                 description="DCGAN, one D update and one G update (Adam)",
                 tiny_params=dict(dc, batch=1, nz=2, ngf=1, ndf=1)),
    ]
    return W + registered_workloads(quick)


def _twin_step(opt, loss_fn):
    """One training step of a PyTorch twin: zero_grad, ``loss_fn()``, backward, the optimizer's
    step; the loss is returned without being read (no device sync)."""
    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn()
        loss.backward()
        opt.step()
        return loss
    return step


def _vit_torch_step(mg_step, device):
    """PyTorch twin of the registered ViT (or its small CNN): the network from ``config()``, the
    same images and labels, the mean cross-entropy, the same AdamW."""
    import torch
    import torch.nn.functional as F

    from .torch_twins import torch_optimizer, torch_vit

    torch.manual_seed(0)
    net = torch_vit(mg_step.model.config()).to(device)
    opt = torch_optimizer(mg_step.optimizer, net.parameters())
    x, y = (torch.from_numpy(t.cpu().numpy()).to(device) for t in mg_step.batch)

    return _twin_step(opt, lambda: F.cross_entropy(net(x), y))


TORCH_TWINS["vit"] = _vit_torch_step


def _transformer_torch_step(mg_step, device):
    """PyTorch twin of the registered number-words encoder-decoder (PyTorch's own
    ``nn.Transformer``): the sizes from ``config()``, the same (src, tgt) batch, the same Adam."""
    import torch

    from .torch_twins import torch_number_translator, torch_optimizer

    torch.manual_seed(0)
    net = torch_number_translator(**mg_step.model.config()).to(device)
    opt = torch_optimizer(mg_step.optimizer, net.parameters())
    src, tgt = (torch.from_numpy(t.cpu().numpy()).to(device) for t in mg_step.batch)

    return _twin_step(opt, lambda: net.loss(src, tgt))


TORCH_TWINS["transformer"] = _transformer_torch_step


def _bert_torch_step(mg_step, device):
    """PyTorch twin of the registered BERT (``torch_twins.torch_bert``, sized from the minigen
    model's ``config()``): the same windows, the masking drawn each step from PyTorch's
    generator by the same 15% / 80-10-10 rule, the loss on the chosen positions, the same AdamW."""
    import torch
    import torch.nn.functional as F

    from .torch_twins import torch_bert, torch_mask_tokens, torch_optimizer

    model = mg_step.model
    torch.manual_seed(0)
    net = torch_bert(model.config()).to(device)
    opt = torch_optimizer(mg_step.optimizer, net.parameters())
    x = torch.from_numpy(mg_step.batch[0].cpu().numpy()).to(device)
    V = model.vocab_size

    def loss():
        inputs, targets = torch_mask_tokens(x, V)
        # L = -(1/|M|) sum_{t in M} log p(x_t | x~)
        return F.cross_entropy(net(inputs).reshape(-1, V), targets.reshape(-1), ignore_index=-1)
    return _twin_step(opt, loss)


TORCH_TWINS["bert"] = _bert_torch_step


def _clip_torch_step(mg_step, device):
    """PyTorch twin of the registered CLIP: the network from ``config()``, the same images, and
    one caption per image drawn once by minigen's model (the minigen step draws afresh each
    step; the work is the same), the same Adam."""
    import torch

    from .torch_twins import torch_clip, torch_optimizer

    torch.manual_seed(0)
    net = torch_clip(mg_step.model.config()).to(device)
    opt = torch_optimizer(mg_step.optimizer, net.parameters())
    images, labels = mg_step.batch
    ids, lengths = mg_step.model.draw_captions(labels)
    x, ids, lengths = (torch.from_numpy(t.cpu().numpy()).to(device) for t in (images, ids, lengths))

    return _twin_step(opt, lambda: net.loss(x, ids, lengths))


TORCH_TWINS["clip"] = _clip_torch_step


def _vqvae_torch_step(mg_step, device):
    """PyTorch twin of the registered VQ-VAE (``torch_twins.torch_vqvae`` from ``config()``): the
    same images, the same loss (BCE per pixel + codebook + beta commitment) with dead-code
    restarts, the same Adam."""
    import torch

    from .torch_twins import torch_optimizer, torch_vqvae

    torch.manual_seed(0)
    net = torch_vqvae(mg_step.model.config()).to(device)
    opt = torch_optimizer(mg_step.optimizer, net.parameters())
    x = torch.from_numpy(mg_step.batch.cpu().numpy()).to(device)

    return _twin_step(opt, lambda: net.loss(x))


TORCH_TWINS["vqvae"] = _vqvae_torch_step


def _dalle_torch_step(mg_step, device):
    """PyTorch twin of the registered DALL-E prior's step: the frozen VQ-VAE encodes the same
    images each step, the GPT prior (``torch_twin``) reads [caption, SEP, codes] with captions
    drawn once by minigen's model, the loss on the image tokens, the same AdamW."""
    import torch

    from .torch_twins import torch_dalle_prior, torch_optimizer

    torch.manual_seed(0)
    m = mg_step.model
    net = torch_dalle_prior({"vqvae": m.vqvae.config(), "prior": m.prior.config()}, m.text_len, m.sep,
                            m.offset, m.vocab_size, m.text_weight).to(device)
    opt = torch_optimizer(mg_step.optimizer, [p for p in net.parameters() if p.requires_grad])
    images, labels = mg_step.batch
    text = m.draw_captions(labels)
    x, text = (torch.from_numpy(t.cpu().numpy()).to(device) for t in (images, text))

    return _twin_step(opt, lambda: net.loss(x, text))


TORCH_TWINS["dalle"] = _dalle_torch_step
