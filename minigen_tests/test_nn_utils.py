"""Gradient clipping and parameter vectors (minigen/nn/utils.py): NumPy references written
here, PyTorch's results, and errors, on both devices."""
import math
import warnings

import numpy as np
import pytest

import minigen
import minigen.nn as nn
from minigen.nn.utils import (clip_grad_norm_, clip_grad_value_, parameters_to_vector,
                              vector_to_parameters)

SHAPES = [(3, 4), (5,), (2, 1, 2)]


def params_with_grads(device, scale=1.0, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    grads = [rng.standard_normal(s).astype(dtype) * scale for s in SHAPES]
    ps = []
    for s, g in zip(SHAPES, grads):
        p = nn.Parameter(minigen.tensor(rng.standard_normal(s).astype(dtype), device=device))
        p.grad = minigen.tensor(g, device=device)
        ps.append(p)
    return ps, grads


def np_total_norm(grads, p):
    flat = np.concatenate([g.ravel() for g in grads])
    if p == math.inf:
        return np.abs(flat).max()
    return (np.abs(flat) ** p).sum() ** (1 / p)


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf])
@pytest.mark.parametrize("max_norm", [0.5, 1e3])
def test_clip_grad_norm(device, norm_type, max_norm):
    ps, grads = params_with_grads(device, scale=2.0)
    total = clip_grad_norm_(ps, max_norm, norm_type=norm_type)
    ref = np_total_norm(grads, norm_type)
    assert isinstance(total, minigen.Tensor) and total.shape == () and total.device == device
    np.testing.assert_allclose(total.item(), ref, rtol=1e-12)
    # g <- g min(1, max_norm / (total + 1e-6))
    scale = min(1.0, max_norm / (ref + 1e-6))
    for p, g in zip(ps, grads):
        np.testing.assert_allclose(p.grad.cpu().numpy(), g * scale, rtol=1e-12)
    if max_norm < ref:
        after = np_total_norm([p.grad.cpu().numpy() for p in ps], norm_type)
        np.testing.assert_allclose(after, max_norm, rtol=1e-5)


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf])
def test_clip_grad_norm_matches_torch(norm_type):
    torch = pytest.importorskip("torch")
    ps, grads = params_with_grads("cpu", scale=3.0, seed=1)
    tps = []
    for g in grads:
        tp = torch.nn.Parameter(torch.zeros(g.shape, dtype=torch.float64))
        tp.grad = torch.tensor(g)
        tps.append(tp)
    total = clip_grad_norm_(ps, 1.5, norm_type)
    ttotal = torch.nn.utils.clip_grad_norm_(tps, 1.5, norm_type)
    np.testing.assert_allclose(total.item(), ttotal.item(), rtol=1e-14)
    for p, tp in zip(ps, tps):
        np.testing.assert_allclose(p.grad.cpu().numpy(), tp.grad.cpu().numpy(), rtol=1e-14)


def test_clip_grad_norm_float32_single_tensor_and_no_grads(device):
    ps, grads = params_with_grads(device, dtype=np.float32)
    total = clip_grad_norm_(ps[0], 0.1)
    assert total.dtype == minigen.float32
    np.testing.assert_allclose(total.item(), np.linalg.norm(grads[0].astype(np.float64)), rtol=1e-6)
    np.testing.assert_array_equal(ps[1].grad.cpu().numpy(), grads[1])  # only ps[0] was clipped
    bare = nn.Parameter(minigen.randn(3, device=device))
    assert clip_grad_norm_([bare], 1.0).item() == 0.0
    assert bare.grad is None


def test_clip_grad_norm_nonfinite(device):
    ps, grads = params_with_grads(device)
    bad = grads[1].copy()
    bad[0] = np.inf
    ps[1].grad = minigen.tensor(bad, device=device)
    with pytest.raises(RuntimeError, match="non-finite"):
        clip_grad_norm_(ps, 1.0, error_if_nonfinite=True)
    for p, g in zip(ps, [grads[0], bad, grads[2]]):  # nothing changed
        np.testing.assert_array_equal(p.grad.cpu().numpy(), g)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # inf * 0 in the bad gradient
        total = clip_grad_norm_(ps, 1.0)  # scales by max_norm / inf = 0, as PyTorch
    assert math.isinf(total.item())
    np.testing.assert_array_equal(ps[0].grad.cpu().numpy(), np.zeros(SHAPES[0]))


def test_clip_grad_value(device):
    ps, grads = params_with_grads(device, scale=2.0)
    assert clip_grad_value_(ps, 0.7) is None
    for p, g in zip(ps, grads):
        np.testing.assert_array_equal(p.grad.cpu().numpy(), np.clip(g, -0.7, 0.7))


def test_parameters_to_vector_and_back(device):
    ps, _ = params_with_grads(device)
    values = [p.cpu().numpy().copy() for p in ps]
    vec = parameters_to_vector(ps)
    np.testing.assert_array_equal(vec.cpu().numpy(), np.concatenate([v.ravel() for v in values]))
    assert vec.device == device
    # differentiable, as PyTorch's: the gradient flows back to every parameter
    for p in ps:
        p.grad = None
    (vec * minigen.arange(vec.shape[0], device=device)).sum().backward()
    start = 0
    for p in ps:
        n = p.numel()
        np.testing.assert_array_equal(p.grad.cpu().numpy().ravel(), np.arange(start, start + n))
        start += n
    new = np.arange(vec.shape[0], dtype=np.float64) * 0.5
    datas = [p.array for p in ps]
    vector_to_parameters(minigen.tensor(new, device=device), ps)
    np.testing.assert_array_equal(parameters_to_vector(ps).cpu().numpy(), new)
    assert all(p.array is d for p, d in zip(ps, datas))  # in place


def test_parameters_to_vector_matches_torch():
    torch = pytest.importorskip("torch")
    ps, _ = params_with_grads("cpu")
    tps = [torch.tensor(p.cpu().numpy()) for p in ps]
    np.testing.assert_array_equal(parameters_to_vector(ps).cpu().numpy(),
                                  torch.nn.utils.parameters_to_vector(tps).cpu().numpy())


def test_vector_errors(device):
    ps, _ = params_with_grads(device)
    before = [p.cpu().numpy().copy() for p in ps]
    with pytest.raises(TypeError, match="expected vec to be a Tensor"):
        vector_to_parameters(np.zeros(21), ps)
    with pytest.raises(ValueError, match="vector has 20 elements, the parameters have 21"):
        vector_to_parameters(minigen.zeros(20, device=device), ps)
    with pytest.raises(ValueError, match="1-d"):
        vector_to_parameters(minigen.zeros(3, 7, device=device), ps)
    for p, b in zip(ps, before):
        np.testing.assert_array_equal(p.cpu().numpy(), b)
    if device == "cuda":
        with pytest.raises(RuntimeError, match="two devices"):
            parameters_to_vector([ps[0], nn.Parameter(minigen.zeros(2))])
        with pytest.raises(RuntimeError, match="vec is on cpu"):
            vector_to_parameters(minigen.zeros(21), ps)


# ----------------------------------------------------------------------------- hooks, parametrize, spectral norm
def test_forward_hooks_and_their_handles():
    import minigen
    from minigen import nn
    lin = nn.Linear(3, 2)
    seen = []
    h1 = lin.register_forward_pre_hook(lambda m, args: (args[0] * 0,))
    h2 = lin.register_forward_hook(lambda m, args, out: seen.append(out.shape) or out + 1)
    y = lin(minigen.ones(4, 3))
    # the pre-hook zeroed the input, the hook added one: y = b + 1
    np.testing.assert_allclose(y.cpu().numpy(), np.broadcast_to(lin.bias.detach().cpu().numpy() + 1, (4, 2)), rtol=1e-6)
    assert seen == [(4, 2)]
    h1.remove(), h2.remove()
    np.testing.assert_allclose(lin(minigen.ones(4, 3)).cpu().numpy(), (minigen.ones(4, 3) @ lin.weight.T + lin.bias).detach().cpu().numpy(), rtol=1e-6)
    with pytest.raises(TypeError, match="hook must be callable"):
        lin.register_forward_hook(3)
    seq = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.ReLU(), nn.Linear(2, 1)))
    assert seq.get_submodule("1.1") is seq[1][1] and seq.get_parameter("1.1.bias") is seq[1][1].bias
    with pytest.raises(AttributeError, match="has no attribute `5`"):
        seq.get_submodule("1.5")


def test_register_parametrization_and_its_removal():
    import minigen
    from minigen import nn
    from minigen.nn.utils import parametrize

    class Symmetric(nn.Module):
        def forward(self, X):
            return X.triu() + X.triu(1).mT

    lin = nn.Linear(3, 3)
    parametrize.register_parametrization(lin, "weight", Symmetric())
    W = lin.weight
    np.testing.assert_allclose(W.detach().cpu().numpy(), W.detach().cpu().numpy().T)
    assert parametrize.is_parametrized(lin, "weight") and "weight" not in dict(lin.named_parameters())
    assert "parametrizations.weight.original" in lin.state_dict()
    # gradients reach the original through the parametrization
    lin(minigen.ones(1, 3)).sum().backward()
    g = lin.parametrizations.weight.original.grad.cpu().numpy()
    assert np.all(np.tril(g, -1) == 0) and np.all(g[np.triu_indices(3)] != 0)
    parametrize.remove_parametrizations(lin, "weight")
    assert not parametrize.is_parametrized(lin) and isinstance(lin.weight, nn.Parameter)
    np.testing.assert_allclose(lin.weight.detach().cpu().numpy(), W.detach().cpu().numpy())
    with pytest.raises(ValueError, match="no parameter or buffer with name 'nope'"):
        parametrize.register_parametrization(lin, "nope", Symmetric())


@pytest.mark.parametrize("style", ["parametrization", "hook"])
def test_spectral_norm_matches_torch(style):
    torch = pytest.importorskip("torch")
    import minigen
    from minigen import nn
    tsn = torch.nn.utils.parametrizations.spectral_norm if style == "parametrization" else torch.nn.utils.spectral_norm
    msn = nn.utils.parametrizations.spectral_norm if style == "parametrization" else nn.utils.spectral_norm
    for tmod, mmod, shape in ((torch.nn.Linear(5, 4), nn.Linear(5, 4), (3, 5)),
                              (torch.nn.ConvTranspose2d(3, 2, 3), nn.ConvTranspose2d(3, 2, 3), (2, 3, 4, 4)),
                              (torch.nn.Conv2d(2, 3, 3), nn.Conv2d(2, 3, 3), (2, 2, 5, 5))):
        tm, mm = tsn(tmod.double()), msn(mmod.double())
        assert sorted(tm.state_dict()) == sorted(mm.state_dict())
        mm.load_state_dict({k: minigen.tensor(v.cpu().numpy()) for k, v in tm.state_dict().items()})
        x = np.random.RandomState(0).randn(*shape)
        for mode in ("train", "train", "eval"):
            getattr(tm, mode)(), getattr(mm, mode)()
            to, mo = tm(torch.tensor(x)), mm(minigen.tensor(x))
            np.testing.assert_allclose(mo.cpu().numpy(), to.detach().cpu().numpy(), atol=1e-12)
        (to ** 2).sum().backward()
        (mo ** 2).sum().backward()
        tp = dict(tm.named_parameters())
        for name, p in mm.named_parameters():
            np.testing.assert_allclose(p.grad.cpu().numpy(), tp[name].grad.cpu().numpy(), atol=1e-11, err_msg=name)
        for name, b in mm.named_buffers():
            np.testing.assert_allclose(b.cpu().numpy(), dict(tm.named_buffers())[name].cpu().numpy(), atol=1e-12)


def test_spectral_norm_gives_unit_largest_singular_value(device):
    import minigen
    from minigen import nn
    lin = nn.utils.parametrizations.spectral_norm(nn.Linear(8, 6, device=device), n_power_iterations=30)
    lin.train()
    W = lin.weight.detach().cpu().numpy()
    assert abs(np.linalg.svd(W, compute_uv=False)[0] - 1.0) < 1e-4
    old = nn.utils.spectral_norm(nn.Linear(8, 6).to(device), n_power_iterations=50)
    old(minigen.ones(1, 8, device=device))
    assert abs(np.linalg.svd(old.weight.detach().cpu().numpy(), compute_uv=False)[0] - 1.0) < 1e-4
    with pytest.raises(RuntimeError, match="two spectral_norm hooks"):
        nn.utils.spectral_norm(old)
    with pytest.raises(ValueError, match="n_power_iterations to be positive"):
        nn.utils.spectral_norm(nn.Linear(2, 2), n_power_iterations=0)
    nn.utils.remove_spectral_norm(old)
    assert sorted(old.state_dict()) == ["bias", "weight"]


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("side", ["right", "left"])
def test_pad_sequence_matches_torch(batch_first, side, device):
    torch = pytest.importorskip("torch")
    import minigen
    from minigen import nn
    rs = np.random.RandomState(0)
    seqs = [rs.randn(3, 2), rs.randn(5, 2), rs.randn(1, 2)]
    want = torch.nn.utils.rnn.pad_sequence([torch.tensor(x) for x in seqs], batch_first=batch_first,
                                           padding_value=-1.0, padding_side=side).cpu().numpy()
    ts = [minigen.tensor(x, device=device, requires_grad=True) for x in seqs]
    got = nn.utils.rnn.pad_sequence(ts, batch_first=batch_first, padding_value=-1.0, padding_side=side)
    np.testing.assert_array_equal(got.cpu().numpy(), want)
    got.sum().backward()
    assert all(np.all(t.grad.cpu().numpy() == 1.0) for t in ts)
    with pytest.raises(RuntimeError, match="every sequence must be"):
        nn.utils.rnn.pad_sequence([minigen.zeros(2, 3), minigen.zeros(2, 4)])
    with pytest.raises(ValueError, match="empty list"):
        nn.utils.rnn.pad_sequence([])


def test_module_half_type_share_memory_get_buffer():
    import minigen
    from minigen import nn
    m = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    assert m.share_memory() is m
    assert m.get_buffer("1.running_mean") is m[1].running_mean
    with pytest.raises(AttributeError, match="no buffer `nope`"):
        m.get_buffer("1.nope")
    assert m.type(minigen.float64)[0].weight.dtype == minigen.float64
    with pytest.raises(TypeError, match="no float16"):
        m.half()
