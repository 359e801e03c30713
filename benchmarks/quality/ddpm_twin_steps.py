"""Do minigen's DDPM and its PyTorch twin train and sample the same, given the same random draws?

Copies minigen's initial UNet into the twin, runs 50 training steps on both with the same
batches, timesteps, noise and dropped labels fed in (Adam 1e-3, the EMA), compares the weights
and the averages, then runs DDIM-50 from the same x_T on both. Used to check that the FD gap of
``diffusion_protocol.py``'s ``ddpm_digits`` is not an implementation difference.

    python benchmarks/quality/ddpm_twin_steps.py
"""
import numpy, torch, minigen, sys
import os; sys.path.insert(0, os.path.dirname(os.path.abspath(__file__))); import runner; runner.set_threads(1)
from minigen.models.diffusion import build_ddpm
from minigen.bench.torch_twins import torch_unet
from minigen.nn import functional as F
minigen.manual_seed(0)
m = build_ddpm("digits", "guided")
t_ = torch_unet(**m.net.config()); t_.load_state_dict({k: torch.tensor(v.numpy()) for k, v in m.net.state_dict().items()})
ema = torch_unet(**m.net.config()); ema.load_state_dict(t_.state_dict())
om = minigen.optim.Adam(m.parameters(), lr=1e-3); ot = torch.optim.Adam(t_.parameters(), lr=1e-3)
rng = numpy.random.default_rng(0)
from minigen.data import load_digits
x, y = load_digits("train"); X = x.numpy()*2-1; Y = y.numpy()
ab = numpy.cumprod(1 - numpy.linspace(1e-4, 0.02, 1000))
for n in range(50):
    idx = rng.integers(0, 1500, 64); x0 = X[idx]; yb = Y[idx].copy(); yb[rng.random(64) < 0.1] = 10
    tt = rng.integers(0, 1000, 64); eps = rng.standard_normal(x0.shape).astype(numpy.float32)
    xt = (numpy.sqrt(ab[tt])[:, None, None, None] * x0 + numpy.sqrt(1 - ab[tt])[:, None, None, None] * eps).astype(numpy.float32)
    om.zero_grad(); l = F.mse_loss(m.net(minigen.tensor(xt), minigen.tensor(tt), minigen.tensor(yb)), minigen.tensor(eps)); l.backward(); om.step(); m.after_step()
    ot.zero_grad(); lt = torch.nn.functional.mse_loss(t_(torch.tensor(xt), torch.tensor(tt), torch.tensor(yb)), torch.tensor(eps)); lt.backward(); ot.step()
    with torch.no_grad():
        d = min(0.999, (1 + n) / (10 + n))
        for pe, p in zip(ema.parameters(), t_.parameters()): pe.mul_(d).add_(p * (1 - d))
print('loss', l.item(), lt.item())
tp = dict(t_.named_parameters()); te = dict(ema.named_parameters())
w = max((numpy.abs(p.numpy() - tp[n].detach().numpy()).max() / (numpy.abs(tp[n].detach().numpy()).max()+1e-12), n) for n, p in m.net.named_parameters())
we = max((numpy.abs(p.numpy() - te[n].detach().numpy()).max() / (numpy.abs(te[n].detach().numpy()).max()+1e-12), n) for n, p in m.ema_net.named_parameters())
print('params rel diff', w, 'ema rel diff', we)
import math
m.eval()
xT = numpy.random.default_rng(5).standard_normal((8,1,8,8)).astype(numpy.float32)
a = m.sample(8, sampler="ddim", steps=50, x_T=minigen.tensor(xT)).numpy()
times = [int(v) for v in numpy.unique(numpy.linspace(0, 999, 50).round().astype(int))]
with torch.no_grad():
    xx = torch.tensor(xT); null = torch.full((8,), 10, dtype=torch.long)
    for i in range(len(times)-1, -1, -1):
        t, tp = times[i], times[i-1] if i > 0 else -1
        e = ema(xx, torch.full((8,), t, dtype=torch.long), null)
        x0 = ((xx - math.sqrt(1-ab[t])*e)/math.sqrt(ab[t])).clamp(-1,1)
        e = (xx - math.sqrt(ab[t])*x0)/math.sqrt(1-ab[t])
        abp = ab[tp] if tp >= 0 else 1.0
        xx = math.sqrt(abp)*x0 + math.sqrt(1-abp)*e
    b = ((xx+1)/2).clamp(0,1).numpy()
print('ddim max diff', numpy.abs(a-b).max())
