"""Optimizers (minigen/optim): trajectories against PyTorch's on the same problem, first steps
against NumPy written here, state dicts (round trip, through a file, from PyTorch), parameter
groups, errors, and EMA."""
import numpy as np
import pytest

import minigen
import minigen.nn as nn
from minigen import optim

# a small ill-conditioned quadratic f(theta) = 0.5 theta^T A theta - b^T theta per parameter,
# with a fixed "noise" sequence added to the gradient, so momentum and adaptivity matter
_rng = np.random.default_rng(0)
SHAPES = [(3,), (2, 2)]
INIT = [_rng.standard_normal(s) for s in SHAPES]
A = [np.diag(np.linspace(0.5, 5.0, int(np.prod(s)))) for s in SHAPES]
B = [_rng.standard_normal(int(np.prod(s))) for s in SHAPES]
NOISE = _rng.standard_normal((40, 7)) * 0.1


def grad_of(k, theta, step, sign=1.0):
    """The gradient of parameter k at step ``step`` (sign=-1: the gradient of -f)."""
    flat = theta.reshape(-1)
    n = flat.size
    off = 0 if k == 0 else 3
    return (sign * (A[k] @ flat - B[k]) + NOISE[step, off:off + n]).reshape(theta.shape)


CONFIGS = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.05)),
    ("SGD", dict(lr=0.05, momentum=0.5, weight_decay=0.1, maximize=True)),
    ("Adam", dict(lr=0.05)),
    ("Adam", dict(lr=0.05, amsgrad=True)),
    ("Adam", dict(lr=0.05, weight_decay=0.1)),
    ("Adam", dict(lr=0.02, betas=(0.8, 0.99), maximize=True)),
    ("Adam", dict(lr=0.05, amsgrad=True, weight_decay=0.1, eps=1e-3)),
    ("AdamW", dict(lr=0.05)),
    ("AdamW", dict(lr=0.05, weight_decay=0.1, amsgrad=True)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, centered=True)),
    ("RMSprop", dict(lr=0.01, momentum=0.9)),
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, alpha=0.9, maximize=True)),
]
IDS = [f"{n}-{'-'.join(f'{k}={v}' for k, v in kw.items())}" for n, kw in CONFIGS]


def make_params(device, dtype=np.float64):
    return [nn.Parameter(minigen.tensor(x.astype(dtype), device=device)) for x in INIT]


def groups(params, kw):
    """Two parameter groups, the second with its own learning rate."""
    return [{"params": [params[0]]}, {"params": [params[1]], "lr": kw.get("lr", 1e-3) * 0.5}]


def run_minigen(name, kw, device, steps, params=None, opt=None, start=0):
    params = params or make_params(device)
    opt = opt or getattr(optim, name)(groups(params, kw), **kw)
    sign = -1.0 if kw.get("maximize") else 1.0
    traj = []
    for t in range(start, start + steps):
        for k, p in enumerate(params):
            p.grad = minigen.tensor(grad_of(k, p.cpu().numpy(), t, sign), device=device)
        opt.step()
        traj.append([p.cpu().numpy().copy() for p in params])
    return traj, params, opt


@pytest.mark.parametrize("name,kw", CONFIGS, ids=IDS)
def test_trajectory_matches_torch(device, name, kw):
    torch = pytest.importorskip("torch")
    traj, _, opt = run_minigen(name, kw, device, 20)
    tparams = [torch.nn.Parameter(torch.tensor(x)) for x in INIT]
    topt = getattr(torch.optim, name)(groups(tparams, kw), **kw)
    sign = -1.0 if kw.get("maximize") else 1.0
    for t in range(20):
        for k, p in enumerate(tparams):
            p.grad = torch.tensor(grad_of(k, p.detach().cpu().numpy(), t, sign))
        topt.step()
        for k in range(2):
            np.testing.assert_allclose(traj[t][k], tparams[k].detach().cpu().numpy(), rtol=1e-6,
                                       atol=1e-9, err_msg=f"step {t + 1}, parameter {k}")
    # the same state keys as PyTorch, and the group hyperparameters PyTorch has
    for p, tp in zip(opt.param_groups[0]["params"] + opt.param_groups[1]["params"], tparams):
        assert set(opt.state[p]) == set(topt.state[tp])
    for g, tg in zip(opt.param_groups, topt.param_groups):
        for key, value in g.items():
            if key != "params":
                assert key in tg and tg[key] == value, key


def test_sgd_and_adam_first_steps_by_hand(device):
    """Independent of PyTorch: the update rules, written out in NumPy for two steps."""
    x0, g1, g2 = np.array([1.0, -2.0]), np.array([0.5, 0.25]), np.array([-1.0, 2.0])
    p = nn.Parameter(minigen.tensor(x0, device=device))
    opt = optim.SGD([p], lr=0.1, momentum=0.9, dampening=0.5, weight_decay=0.01)
    x, b = x0.copy(), None
    for g in (g1, g2):
        p.grad = minigen.tensor(g, device=device)
        opt.step()
        d = g + 0.01 * x
        b = d if b is None else 0.9 * b + 0.5 * d  # dampening acts from the second step on
        x = x - 0.1 * b
        np.testing.assert_allclose(p.cpu().numpy(), x, rtol=1e-14)
    p = nn.Parameter(minigen.tensor(x0, device=device))
    opt = optim.Adam([p], lr=0.1, betas=(0.9, 0.99), eps=1e-8)
    x, m, v = x0.copy(), 0.0, 0.0
    for t, g in enumerate((g1, g2), start=1):
        p.grad = minigen.tensor(g, device=device)
        opt.step()
        m, v = 0.9 * m + 0.1 * g, 0.99 * v + 0.01 * g * g
        x = x - 0.1 * (m / (1 - 0.9 ** t)) / (np.sqrt(v / (1 - 0.99 ** t)) + 1e-8)
        np.testing.assert_allclose(p.cpu().numpy(), x, rtol=1e-12)
    assert opt.state[p]["step"] == 2


def test_adamw_decouples_weight_decay(device):
    """With a zero gradient Adam's update is 0 (m = 0) but AdamW still shrinks the weights
    by the factor (1 - lr lambda) each step."""
    for cls, expected in ((optim.Adam, 1.0), (optim.AdamW, (1 - 0.1 * 0.5) ** 3)):
        p = nn.Parameter(minigen.tensor(np.array([2.0, -4.0]), device=device))
        opt = cls([p], lr=0.1, weight_decay=0.5) if cls is optim.AdamW else cls([p], lr=0.1)
        for _ in range(3):
            p.grad = minigen.zeros(2, dtype=minigen.float64, device=device)
            opt.step()
        np.testing.assert_allclose(p.cpu().numpy(), np.array([2.0, -4.0]) * expected, rtol=1e-14)


def test_mlp_trajectory_with_autograd_matches_torch(device):
    """A tiny MLP trained by minigen's autograd + Adam against torch's autograd + Adam."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    W1, b1, W2 = rng.standard_normal((3, 8)) * 0.5, np.zeros(8), rng.standard_normal((8, 1)) * 0.5
    X, Y = rng.standard_normal((16, 3)), rng.standard_normal((16, 1))
    ps = [nn.Parameter(minigen.tensor(a, device=device)) for a in (W1, b1, W2)]
    tps = [torch.nn.Parameter(torch.tensor(a)) for a in (W1, b1, W2)]
    opt, topt = optim.Adam(ps, lr=0.01), torch.optim.Adam(tps, lr=0.01)
    x, y = minigen.tensor(X, device=device), minigen.tensor(Y, device=device)
    for _ in range(20):
        opt.zero_grad()
        loss = (((x @ ps[0] + ps[1]).tanh() @ ps[2] - y) ** 2).mean()
        loss.backward()
        opt.step()
        topt.zero_grad()
        tloss = (((torch.tensor(X) @ tps[0] + tps[1]).tanh() @ tps[2] - torch.tensor(Y)) ** 2).mean()
        tloss.backward()
        topt.step()
        np.testing.assert_allclose(loss.item(), tloss.item(), rtol=1e-10)
    for p, tp in zip(ps, tps):
        np.testing.assert_allclose(p.cpu().numpy(), tp.detach().cpu().numpy(), rtol=1e-8, atol=1e-12)


def test_float32_params_stay_float32_in_place(device):
    p = nn.Parameter(minigen.randn(4, device=device))
    data = p.array
    opt = optim.Adam([p], lr=0.1, weight_decay=0.1)
    p.grad = minigen.ones(4, device=device)
    opt.step()
    assert p.array is data and p.dtype == minigen.float32
    assert opt.state[p]["exp_avg"].dtype == minigen.float32
    assert opt.state[p]["exp_avg"].device == device


# ----------------------------------------------------------------------------- state dicts
@pytest.mark.parametrize("name,kw", [CONFIGS[3], CONFIGS[9], CONFIGS[11], CONFIGS[15]],
                         ids=[IDS[3], IDS[9], IDS[11], IDS[15]])
def test_state_dict_round_trip(device, name, kw, tmp_path):
    """Save after 5 steps; continuing and resuming (in memory, and through a file) from the
    saved state give bit-identical trajectories."""
    _, params, opt = run_minigen(name, kw, device, 5)
    saved_values = [p.cpu().numpy().copy() for p in params]
    sd = opt.state_dict()
    minigen.save(sd, tmp_path / "opt.npz")
    cont, _, _ = run_minigen(name, kw, device, 5, params=params, opt=opt, start=5)
    for source in ("memory", "file"):
        fresh = [nn.Parameter(minigen.tensor(v, device=device)) for v in saved_values]
        opt2 = getattr(optim, name)(groups(fresh, kw), **kw)
        opt2.load_state_dict(sd if source == "memory" else minigen.load(tmp_path / "opt.npz"))
        resumed, _, _ = run_minigen(name, kw, device, 5, params=fresh, opt=opt2, start=5)
        for a, b in zip(cont, resumed):
            for x, y in zip(a, b):
                np.testing.assert_array_equal(x, y)


def test_state_dict_format(device):
    params = make_params(device)
    opt = optim.Adam(groups(params, {"lr": 0.1}), lr=0.1, amsgrad=True)
    for p in params:
        p.grad = minigen.ones_like(p)
    opt.step()
    sd = opt.state_dict()
    assert list(sd) == ["state", "param_groups"]
    assert sorted(sd["state"]) == [0, 1]
    assert sd["state"][0]["step"] == 1
    assert set(sd["state"][1]) == {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"}
    assert [g["params"] for g in sd["param_groups"]] == [[0], [1]]
    assert sd["param_groups"][1]["lr"] == 0.05 and sd["param_groups"][0]["betas"] == (0.9, 0.999)
    # a snapshot: further steps do not change it
    before = sd["state"][0]["exp_avg"].cpu().numpy().copy()
    opt.step()
    np.testing.assert_array_equal(sd["state"][0]["exp_avg"].cpu().numpy(), before)


def test_load_torch_state_dict_and_continue():
    """A PyTorch Adam's state dict loads into minigen's Adam and both continue identically."""
    torch = pytest.importorskip("torch")
    kw = dict(lr=0.05, amsgrad=True, weight_decay=0.1)
    tparams = [torch.nn.Parameter(torch.tensor(x)) for x in INIT]
    topt = torch.optim.Adam(groups(tparams, kw), **kw)
    for t in range(5):
        for k, p in enumerate(tparams):
            p.grad = torch.tensor(grad_of(k, p.detach().cpu().numpy(), t))
        topt.step()
    params = [nn.Parameter(minigen.tensor(p.detach().cpu().numpy().copy())) for p in tparams]
    opt = optim.Adam(groups(params, kw), **kw)
    opt.load_state_dict(topt.state_dict())
    assert opt.state[params[0]]["step"] == 5
    traj, _, _ = run_minigen("Adam", kw, "cpu", 5, params=params, opt=opt, start=5)
    for t in range(5, 10):
        for k, p in enumerate(tparams):
            p.grad = torch.tensor(grad_of(k, p.detach().cpu().numpy(), t))
        topt.step()
    for k in range(2):
        np.testing.assert_allclose(traj[-1][k], tparams[k].detach().cpu().numpy(), rtol=1e-10)


def test_load_state_dict_validates_before_changing_anything(device):
    params = make_params(device)
    opt = optim.SGD(groups(params, {"lr": 0.1}), lr=0.1, momentum=0.9)
    for p in params:
        p.grad = minigen.ones_like(p)
    opt.step()
    good = opt.state_dict()
    other = optim.SGD(groups(make_params(device), {"lr": 0.1}), lr=0.3, momentum=0.5)
    snapshot = other.state_dict()

    def unchanged():
        now = other.state_dict()
        assert now["param_groups"] == snapshot["param_groups"] and now["state"] == {}

    bad_groups = {"state": good["state"], "param_groups": good["param_groups"][:1]}
    with pytest.raises(ValueError, match="1 parameter groups, this optimizer has 2"):
        other.load_state_dict(bad_groups)
    unchanged()
    bad_size = {"state": {}, "param_groups": [dict(good["param_groups"][0], params=[0, 1]),
                                              good["param_groups"][1]]}
    with pytest.raises(ValueError, match="group 0 of size 2"):
        other.load_state_dict(bad_size)
    unchanged()
    bad_shape = {"state": {0: good["state"][0], 1: {"momentum_buffer": minigen.zeros(5)}},
                 "param_groups": good["param_groups"]}
    with pytest.raises(ValueError, match=r"has shape \[5\], but the parameter has shape \[2, 2\]"):
        other.load_state_dict(bad_shape)
    unchanged()
    bad_index = {"state": {7: good["state"][0]}, "param_groups": good["param_groups"]}
    with pytest.raises(ValueError, match="index 7"):
        other.load_state_dict(bad_index)
    unchanged()
    with pytest.raises(ValueError, match="'state' and 'param_groups'"):
        other.load_state_dict({"state": {}})
    other.load_state_dict(good)
    assert other.param_groups[0]["lr"] == 0.1 and other.param_groups[0]["momentum"] == 0.9


# ----------------------------------------------------------------------------- groups and API
def test_param_groups_defaults_and_add_param_group():
    a, b, c = (nn.Parameter(minigen.randn(2)) for _ in range(3))
    opt = optim.SGD([a], lr=0.1, momentum=0.9)
    assert opt.param_groups[0] == {"params": [a], "lr": 0.1, "momentum": 0.9, "dampening": 0,
                                   "weight_decay": 0, "nesterov": False, "maximize": False,
                                   "foreach": None, "differentiable": False, "fused": None}
    opt.add_param_group({"params": b, "lr": 0.01})
    assert opt.param_groups[1]["lr"] == 0.01 and opt.param_groups[1]["momentum"] == 0.9
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [a, c]})
    assert len(opt.param_groups) == 2
    with pytest.raises(TypeError, match="ordered collections"):
        opt.add_param_group({"params": {c}})
    with pytest.raises(ValueError, match="non-leaf"):
        optim.SGD([a * 2])
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.Adam([])
    with pytest.raises(TypeError, match="iterable"):
        optim.Adam(a)
    with pytest.raises(TypeError, match="only optimize Tensors"):
        optim.Adam([np.zeros(2)])


def test_zero_grad_closure_and_missing_grads(device):
    a, b = nn.Parameter(minigen.randn(3, device=device)), nn.Parameter(minigen.randn(2, device=device))
    opt = optim.SGD([a, b], lr=0.5)
    b_before = b.cpu().numpy().copy()

    def closure():
        opt.zero_grad()
        loss = (a * a).sum()
        loss.backward()
        return loss

    a_before = a.cpu().numpy().copy()
    loss = opt.step(closure)
    np.testing.assert_allclose(loss.item(), (a_before ** 2).sum(), rtol=1e-6)
    np.testing.assert_allclose(a.cpu().numpy(), a_before - 0.5 * 2 * a_before, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(b.cpu().numpy(), b_before)  # no grad: untouched, no state
    assert b not in opt.state
    g = a.grad
    opt.zero_grad(set_to_none=False)
    assert a.grad is g and not a.grad.cpu().numpy().any()
    opt.zero_grad()
    assert a.grad is None


@pytest.mark.parametrize("make,match", [
    (lambda p: optim.SGD(p, lr=-1), "Invalid learning rate"),
    (lambda p: optim.SGD(p, momentum=-0.1), "Invalid momentum"),
    (lambda p: optim.SGD(p, nesterov=True), "Nesterov momentum requires"),
    (lambda p: optim.SGD(p, momentum=0.9, dampening=0.1, nesterov=True), "Nesterov"),
    (lambda p: optim.Adam(p, betas=(1.0, 0.9)), "beta parameter at index 0"),
    (lambda p: optim.Adam(p, betas=(0.9, -0.1)), "beta parameter at index 1"),
    (lambda p: optim.Adam(p, eps=-1.0), "Invalid epsilon"),
    (lambda p: optim.AdamW(p, weight_decay=-1.0), "Invalid weight_decay"),
    (lambda p: optim.RMSprop(p, alpha=-0.5), "Invalid alpha"),
])
def test_hyperparameter_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make([nn.Parameter(minigen.randn(2))])


def test_defaults_match_pytorch():
    p = [nn.Parameter(minigen.randn(2))]
    assert optim.SGD(p).defaults["lr"] == 1e-3
    a = optim.Adam(p).defaults
    assert (a["lr"], a["betas"], a["eps"], a["weight_decay"], a["amsgrad"]) == \
        (1e-3, (0.9, 0.999), 1e-8, 0, False)
    assert optim.AdamW(p).defaults["weight_decay"] == 1e-2
    r = optim.RMSprop(p).defaults
    assert (r["lr"], r["alpha"], r["eps"], r["momentum"], r["centered"]) == (1e-2, 0.99, 1e-8, 0, False)


# ----------------------------------------------------------------------------- EMA
class Tiny(nn.Module):
    def __init__(self, device):
        super().__init__()
        self.w = nn.Parameter(minigen.tensor(np.array([1.0, 2.0]), device=device))
        self.b = nn.Parameter(minigen.tensor(np.array([0.5]), device=device))


def test_ema_update_matches_reference(device):
    m = Tiny(device)
    ema = optim.EMA(m, decay=0.9)
    rng = np.random.default_rng(2)
    sw, sb = m.w.cpu().numpy().copy(), m.b.cpu().numpy().copy()
    for _ in range(5):
        with minigen.no_grad():
            m.w.array[...] = minigen.tensor(rng.standard_normal(2), device=device).array
            m.b.array[...] = minigen.tensor(rng.standard_normal(1), device=device).array
        ema.update()
        # shadow <- decay shadow + (1 - decay) theta
        sw, sb = 0.9 * sw + 0.1 * m.w.cpu().numpy(), 0.9 * sb + 0.1 * m.b.cpu().numpy()
    np.testing.assert_allclose(ema.shadow_params[0].cpu().numpy(), sw, rtol=1e-14)
    np.testing.assert_allclose(ema.shadow_params[1].cpu().numpy(), sb, rtol=1e-14)
    live = m.w.cpu().numpy().copy()
    with ema.average_parameters():
        np.testing.assert_allclose(m.w.cpu().numpy(), sw, rtol=1e-14)
    np.testing.assert_array_equal(m.w.cpu().numpy(), live)
    with pytest.raises(KeyError):
        with ema.average_parameters():
            raise KeyError("boom")
    np.testing.assert_array_equal(m.w.cpu().numpy(), live)  # restored even after an exception
    ema.copy_to(m)
    np.testing.assert_allclose(m.w.cpu().numpy(), sw, rtol=1e-14)


def test_ema_num_updates_state_dict_and_errors(device):
    p = nn.Parameter(minigen.tensor(np.zeros(3), device=device))
    ema = optim.EMA([p], decay=0.999, use_num_updates=True)
    ref = 0.0
    for n in range(1, 4):
        with minigen.no_grad():
            p.array[...] = float(n)
        ema.update()
        d = min(0.999, (1 + n) / (10 + n))
        ref = d * ref + (1 - d) * n
    np.testing.assert_allclose(ema.shadow_params[0].cpu().numpy(), np.full(3, ref), rtol=1e-14)
    sd = ema.state_dict()
    other = optim.EMA([nn.Parameter(minigen.tensor(np.ones(3), device=device))], decay=0.5)
    other.load_state_dict(sd)
    assert other.decay == 0.999 and other.num_updates == 3
    np.testing.assert_array_equal(other.shadow_params[0].cpu().numpy(), np.full(3, ref))
    with pytest.raises(ValueError, match="1 averages for 2 parameters"):
        optim.EMA([p, p]).load_state_dict(sd)
    with pytest.raises(ValueError, match="shape"):
        ema.copy_to([nn.Parameter(minigen.zeros(4, device=device))])
    with pytest.raises(RuntimeError, match="restore"):
        ema.restore()
    with pytest.raises(ValueError, match="decay"):
        optim.EMA([p], decay=1.5)


def test_ema_device_mismatch_and_to():
    p = nn.Parameter(minigen.tensor(np.ones(2)))
    ema = optim.EMA([p])
    with minigen.no_grad():
        p.array = p.to("cuda").array  # as Module.to('cuda') does
    with pytest.raises(RuntimeError, match=r"ema.to\('cuda'\)"):
        ema.update()
    ema.to("cuda")
    ema.update()
    assert ema.shadow_params[0].device == "cuda"
