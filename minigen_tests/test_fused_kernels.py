"""The CUDA twins of ``@fused`` functions (``minigen.backend.fused``), checked without a GPU.

Each twin's CUDA C++ body is compiled for the host (``minigen.testing.kernels``) and run on
the same inputs as the NumPy function it stands in for; the two must agree to a few units in
the last place. The same body, wrapped as a ``__global__`` kernel, must compile with nvcc.
The simulated CUDA device runs the twins too (its ``kernels``), so every test on 'cuda' in the
suite goes through them; the last tests here check that dispatch and a training step.
"""
import os

import numpy as np
import pytest

import minigen
from minigen import backend as B
from minigen.testing import kernels as K

needs_cxx = pytest.mark.skipif(K.host_compiler() is None, reason="no C++ compiler on this machine")
needs_sim_kernels = pytest.mark.skipif(
    K.host_compiler() is None or os.environ.get("MINIGEN_SIM_KERNELS", "1") == "0",
    reason="the simulated device runs no fused kernels here (no C++ compiler, or "
           "MINIGEN_SIM_KERNELS=0)")
needs_nvcc = pytest.mark.skipif(K.nvcc() is None, reason="no nvcc (CUDA toolkit) on this machine")

DTYPES = [np.float32, np.float64]


def _x(rng, dt, n=4000):
    """Normal values spread to +-12, and the edges: zeros of both signs, tiny, large."""
    x = rng.standard_normal(n) * 4
    x[:12] = [0.0, -0.0, 1e-30, -1e-30, 9.0, -9.0, 12.0, -12.0, 30.0, -30.0, 1e4, -1e4]
    return x.astype(dt)


def _sig(rng, shape):
    return 1 / (1 + np.exp(-rng.standard_normal(shape) * 2))


def _samples(name, rng, dt):
    """A list of argument tuples for the NumPy function behind the twin ``name``."""
    def a(*shape, scale=1.0):
        return (rng.standard_normal(shape) * scale).astype(dt)

    def s(*shape):
        return _sig(rng, shape).astype(dt)

    def t(*shape):
        return np.tanh(rng.standard_normal(shape) * 2).astype(dt)

    R, F = 37, 24
    if name in ("normal_cdf", "gelu_and_slope", "gelu_tanh_and_slope", "erf_raw", "erfc_raw"):
        return [(_x(rng, dt),)]
    if name == "rstd":  # ss (a row's sum of squares), F, eps
        return [(np.abs(a(R)) * F, F, 1e-5), (np.zeros(R, dt), F, 1e-5)]
    if name == "layer_norm_row_factors":  # s1, s2, mu, rstd, F
        return [(a(R), a(R), a(R), np.abs(a(R)) + 0.1, F)]
    if name == "layer_norm_affine":
        return [(a(R, F, scale=2), np.abs(a(R, 1)) + 0.1, a(F), a(F))]
    if name == "layer_norm_dx":
        return [(a(R, F), a(F), np.abs(a(R, 1)) + 0.1, a(R, F), a(R, 1), a(R, 1))]
    if name == "lstm_gates_raw":
        return [tuple(a(8, 16, scale=3) for _ in range(5))]
    if name == "lstm_backward_raw":
        return [(a(8, 16), a(8, 16), s(8, 16), s(8, 16), t(8, 16), s(8, 16), a(8, 16), t(8, 16))]
    if name == "gru_gates_raw":
        return [tuple(a(8, 16, scale=3) for _ in range(7))]
    if name == "gru_backward_raw":
        return [(a(8, 16), a(8, 16), s(8, 16), s(8, 16), t(8, 16), a(8, 16))]
    H, Bt = 16, 8
    if name == "lstm_step":  # hw, c; a (pre-activations, become the gates), c_t, tc, h_t
        return [(a(4 * H, Bt), a(Bt, H).T, a(4 * H, Bt, scale=2), np.zeros((H, Bt), dt),
                 np.zeros((H, Bt), dt), np.zeros((H, Bt), dt))]
    if name == "lstm_step_backward":  # gout (a transposed view), U, f; dh, dc, d
        return [(a(Bt, H).T, a(H, Bt), s(H, Bt), a(H, Bt), a(H, Bt), a(4 * H, Bt))]
    if name == "gru_step":  # gx, gh (B, 3H), h; [r | z], hn, n, h_t written
        return [(a(Bt, 3 * H, scale=2), a(Bt, 3 * H, scale=2), a(Bt, H), np.zeros((Bt, 2 * H), dt),
                 np.zeros((Bt, H), dt), np.zeros((Bt, H), dt), np.zeros((Bt, H), dt))]
    if name == "gru_step_backward":  # gout, [r | z], n, h_prev, hn; dh, dgx, dgh
        return [(a(Bt, H), s(Bt, 2 * H), t(Bt, H), a(Bt, H), a(Bt, H), a(Bt, H),
                 np.zeros((Bt, 3 * H), dt), np.zeros((Bt, 3 * H), dt))]
    if name == "running_update":  # mu, var; running_mean, running_var; keep, momentum, unbias
        return [(a(12), np.abs(a(12)), a(12), np.abs(a(12)), 0.9, 0.1, 50 / 49)]
    if name == "exp_shifted":  # m (the rows' max), p (scores, become exp), masked
        p = a(R, F, scale=3)
        p[0] = -np.inf                          # a row that keeps no key
        p[1, ::2] = -np.inf                     # a row that keeps some
        m = p.max(axis=1, keepdims=True)
        return [(m, p.copy(), 1.0), (m[2:], p[2:].copy(), 0.0)]
    if name == "divide_rows":  # z (the rows' sums), p, masked
        p = np.abs(a(R, F))
        p[0] = 0
        z = p.sum(axis=1, keepdims=True)
        return [(z, p.copy(), 1.0), (z[1:], p[1:].copy(), 0.0)]
    if name == "col2im_gather":  # cols (raw); out (inout); nb, Ho, Wo, G, Cg, H, W, kh, kw, ...
        cases = []
        # (H, W, kh, kw, sh, sw, dh, dw, ph, pw): padded and dilated; DCGAN's 4x4 stride 2
        for H, W, kh, kw, sh, sw, dh, dw, ph, pw in [(3, 4, 3, 2, 2, 1, 1, 2, 1, 0),
                                                     (3, 3, 4, 4, 2, 2, 1, 1, 0, 0)]:
            nb, G, Cg = 2, 2, 3
            Ho = (H - 1) * sh + (kh - 1) * dh + 1 - 2 * ph
            Wo = (W - 1) * sw + (kw - 1) * dw + 1 - 2 * pw
            cases.append((a(G, nb * H * W, kh * kw * Cg), a(nb, Ho, Wo, G, Cg), nb, Ho, Wo, G, Cg,
                          H, W, kh, kw, sh, sw, dh, dw, ph, pw))
        return cases
    C = 6
    if name == "scale_shift_channels":  # scale, shift per channel; xc: (M, C) or (N, C, L)
        return [(a(C), a(C), a(40, C)), (a(C, 1), a(C, 1), a(3, C, 20))]
    if name == "bn_factors":  # a, rstd, dgamma, sg (per channel), M
        return [(a(C), np.abs(a(C)) + 0.1, a(C), a(C), 40)]
    if name == "bn_input_grad":  # dL/dy, x - mu, a, b, c
        return [(a(40, C), a(40, C), a(C), a(C), a(C)),
                (a(3, C, 20), a(3, C, 20), a(C, 1), a(C, 1), a(C, 1))]
    if name == "sgd_update":  # g; theta, b; sign, lambda, mu, c = 1 - dampening, nesterov, lr
        return [(a(300), a(300), a(300), sign, lam, 0.9, c, nesterov, 0.01)
                for sign, lam, c, nesterov in [(1.0, 0.0, 1.0, 0.0), (1.0, 1e-4, 0.9, 0.0),
                                               (-1.0, 0.0, 1.0, 1.0), (1.0, 0.1, 1.0, 1.0)]]
    if name == "adam_update":
        out = []
        # (sign, l2, decay): Adam; AdamW's decoupled decay; Adam's L2 penalty; maximize
        for sign, l2, decay in [(1.0, 0.0, 1.0), (1.0, 0.0, 1 - 1e-3 * 1e-2), (1.0, 0.1, 1.0),
                                (-1.0, 0.0, 1.0)]:
            for step in (1, 7):
                g, theta, m = a(300), a(300), a(300, scale=0.1)
                v = np.abs(a(300, scale=0.01))
                v[:3] = 0  # a coordinate that has never had a gradient: eps keeps it finite
                g[:2] = 0
                b1, b2, lr, eps = 0.9, 0.999, 1e-3, 1e-8
                out.append((g, theta, m, v, sign, l2, decay, b1, 1 - b1, b2, 1 - b2,
                            np.sqrt(1 - b2 ** step), eps, lr / (1 - b1 ** step)))
        return out
    return None


def _label(spec):
    return spec if isinstance(spec, str) else spec[0]


def _as_tuple(r):
    return r if isinstance(r, tuple) else (r,)


def _agree(got, want, dt, what):
    """|got - want| <= 32 eps (1 + |want|): a few roundings of O(1) numbers, not a looser bar
    (a wrong constant in the 6th digit, a sign, a swapped gate are all far outside it)."""
    eps = np.finfo(dt).eps
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    assert got.shape == want.shape, what
    same_nan = np.isnan(got) == np.isnan(want)
    assert same_nan.all(), f"{what}: NaN in one and not the other"
    ok = np.isnan(want) | (np.abs(got - want) <= 32 * eps * (1 + np.abs(want)))
    bad = np.flatnonzero(~ok)
    assert bad.size == 0, (f"{what}: {bad.size} elements differ, first at {bad[0]}: "
                           f"{got.ravel()[bad[0]]!r} against {want.ravel()[bad[0]]!r}")


TWINS = sorted(t.name for t in B.FUSED_KERNELS)


def _twin(name):
    return next(t for t in B.FUSED_KERNELS if t.name == name)


def test_every_twin_is_checked_here():
    rng = np.random.default_rng(0)
    assert len(TWINS) >= 12
    missing = [n for n in TWINS if _samples(n, rng, np.float32) is None]
    assert not missing, f"add sample inputs for the new twins {missing}"


@needs_cxx
@pytest.mark.parametrize("dt", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("name", TWINS)
def test_twin_agrees_with_its_numpy_function(name, dt):
    twin = _twin(name)
    fn = twin.reference
    rng = np.random.default_rng(1)
    n_in, n_io = len(twin.in_args), len(twin.inout_args)
    for args in _samples(name, rng, dt):
        arrays, inouts, scalars = args[:n_in], args[n_in:n_in + n_io], args[n_in + n_io:]
        io_host = [a.copy() for a in inouts]
        io_ref = [a.copy() for a in inouts]
        got = K.run_on_host(fn, *arrays, *io_host, *scalars)
        want = fn(np, *[a.copy() for a in arrays], *io_ref, *scalars)
        if twin.outputs:
            got, want = _as_tuple(got), _as_tuple(want)
            assert len(got) == len(want) == len(twin.outputs)
            for o, g, w in zip(twin.outputs, got, want):
                assert g.dtype == dt
                _agree(g, w, dt, f"{name} output {o}")
        else:
            assert got is None and want is None
        for o, g, w in zip(map(_label, twin.inout_args), io_host, io_ref):
            _agree(g, w, dt, f"{name} inout {o}")


@needs_cxx
def test_a_wrong_body_is_caught():
    """The check has teeth: GELU's twin with its slope's x phi(x) term dropped fails it."""
    from minigen.ops.gelu import _gelu_and_slope
    twin = _gelu_and_slope.cuda
    broken = B.CudaTwin("gelu_broken", twin.inputs, twin.outputs,
                        twin.body.replace("s = cdf + x * phi;", "s = cdf;"))
    x = _x(np.random.default_rng(2), np.float32)
    _, s = broken(K.HOST, x)
    with pytest.raises(AssertionError, match="differ"):
        _agree(s, _gelu_and_slope(np, x)[1], np.float32, "slope")


@needs_nvcc
@pytest.mark.parametrize("dt", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("name", TWINS)
def test_twin_compiles_as_device_code(name, dt):
    ptx = K.compile_for_device(_twin(name), dt)
    assert f".entry {name}" in ptx


@needs_nvcc
def test_device_compile_reports_nvcc_errors():
    bad = B.CudaTwin("bad_twin", ["x"], ["y"], "y = no_such_function(x);")
    with pytest.raises(RuntimeError, match="no_such_function"):
        K.compile_for_device(bad, np.float32)


def test_host_kernel_checks_its_arguments():
    k = K.HostElementwiseKernel("T x", "T y", "y = x;", "copy")
    with pytest.raises(TypeError, match="expected 2 arguments"):
        k(np.ones(3))
    k2 = K.HostElementwiseKernel("T x", "T y, T z", "y = x; z = x;", "copy2")
    with pytest.raises(ValueError, match="output z must be a float32 array of shape"):
        k2(np.ones(3, np.float32), np.ones(3, np.float32), np.ones((3, 1), np.float32))
    with pytest.raises(ValueError, match="take parameters 'T x', 'raw T x' or 'int64 n'"):
        K.HostElementwiseKernel("float32 x", "T y", "y = x;")


@needs_cxx
def test_host_kernel_writes_through_a_strided_output():
    k = K.HostElementwiseKernel("T x", "T y", "y = 2 * x;", "twice")
    x = np.arange(6, dtype=np.float64).reshape(2, 3)
    out = np.zeros((3, 2)).T  # not C-contiguous
    k(x, out)
    np.testing.assert_array_equal(out, 2 * x)


class _Spy:
    def __init__(self, fn):
        self.calls = 0
        self.fn = fn
        self.cuda = fn.cuda

    def __call__(self, xp, *args):
        self.calls += 1
        return self.fn(xp, *args)


@needs_cxx
def test_dispatch_twin_for_float32_and_64_numpy_function_otherwise():
    from minigen.ops.gelu import _gelu_and_slope
    b = B.Backend()
    b.kernels = K.HOST
    spy = _Spy(_gelu_and_slope)
    x32 = np.linspace(-3, 3, 11, dtype=np.float32)
    b.fused(spy, x32)
    b.fused(spy, x32.astype(np.float64))
    assert spy.calls == 0  # both ran the twin
    y16, _ = b.fused(spy, x32.astype(np.float16))
    assert spy.calls == 1 and y16.dtype == np.float16  # float16: the NumPy function
    B.set_fused(False)
    try:
        b.fused(spy, x32)
        assert spy.calls == 2  # switched off: the NumPy function
    finally:
        B.set_fused(True)
    # a backend without kernels (the CPU) never runs a twin
    B.CPU.fused(spy, x32)
    assert spy.calls == 3


@needs_sim_kernels
def test_simulated_device_runs_the_twins():
    from minigen.testing import simulated_cuda
    with simulated_cuda.simulated_cuda() as b:
        assert b.kernels is not None
        from minigen.ops.gelu import _gelu_and_slope
        spy = _Spy(_gelu_and_slope)
        x = minigen.randn(50, device="cuda").array
        y, s = b.fused(spy, x)
        assert spy.calls == 0 and type(y) is type(x)
        # a host array mixed in is refused, as CuPy refuses it
        from minigen.optim.adam import _adam_update
        with pytest.raises(TypeError):
            b.fused(_adam_update, np.ones(50, np.float32), x, x, x, *([1.0] * 10))


@needs_sim_kernels
@pytest.mark.parametrize("opt", ["Adam", "AdamW"])
def test_training_steps_through_the_twins_match_the_cpu(opt, monkeypatch):
    """Three steps of a GELU / LayerNorm / LSTM model with Adam(W) on the simulated device
    (every fused part through its twin) and on the CPU (the NumPy functions): the same
    losses and weights to float64 rounding."""
    from minigen import nn
    from minigen.testing import simulated_cuda

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(6, 8, batch_first=True)
            self.gru = nn.GRU(8, 8, batch_first=True)
            self.lstm_cell = nn.LSTMCell(8, 8)
            self.gru_cell = nn.GRUCell(8, 8)
            self.ln = nn.LayerNorm(8)
            self.fc = nn.Linear(8, 3)

        def forward(self, x):
            h, _ = self.lstm(x)
            h, _ = self.gru(h)
            hc = cc = gc = None
            steps = []
            for t in range(h.shape[1]):  # the cells, one step at a time
                hc, cc = self.lstm_cell(h[:, t], None if hc is None else (hc, cc))
                gc = self.gru_cell(hc, gc)
                steps.append(gc)
            h = minigen.stack(steps, dim=1)
            return self.fc(nn.functional.gelu(self.ln(h)))

    def run(device):
        minigen.manual_seed(0)
        net = Net().double().to(device)
        o = getattr(minigen.optim, opt)(net.parameters(), lr=1e-2, weight_decay=0.1)
        rng = np.random.default_rng(0)
        x = minigen.tensor(rng.standard_normal((4, 5, 6)), device=device)
        y = minigen.tensor(rng.standard_normal((4, 5, 3)), device=device)
        losses = []
        for _ in range(3):
            o.zero_grad()
            loss = ((net(x) - y) ** 2).mean()
            loss.backward()
            o.step()
            losses.append(float(loss))
        return losses, [p.detach().cpu().numpy() for p in net.parameters()]

    ran = set()
    call = B.CudaTwin.__call__

    def counted(self, xp, *args):
        ran.add(self.name)
        return call(self, xp, *args)

    monkeypatch.setattr(B.CudaTwin, "__call__", counted)
    cpu_losses, cpu_w = run("cpu")
    assert not ran
    with simulated_cuda.simulated_cuda():
        sim_losses, sim_w = run("cuda")
    assert ran == {t.name for t in B.FUSED_KERNELS} - {"normal_cdf", "gelu_tanh_and_slope",
                                                       "erf_raw", "erfc_raw", "running_update",
                                                       "exp_shifted", "divide_rows",
                                                       "col2im_gather", "scale_shift_channels",
                                                       "bn_factors", "bn_input_grad",
                                                       "sgd_update"}
    np.testing.assert_allclose(sim_losses, cpu_losses, rtol=1e-13)
    for a, b in zip(sim_w, cpu_w):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-13)


def _real_gpu():
    try:
        import cupy
        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


@pytest.mark.skipif(not _real_gpu(), reason="no CUDA GPU (CuPy) on this machine")
@pytest.mark.parametrize("dt", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("name", TWINS)
def test_twin_on_the_gpu_agrees_with_its_numpy_function(name, dt):
    """On a real GPU: the twin as CuPy compiles and runs it, against the NumPy function."""
    import cupy
    twin = _twin(name)
    fn = twin.reference
    n_in, n_io = len(twin.in_args), len(twin.inout_args)
    for args in _samples(name, np.random.default_rng(3), dt):
        arrays, inouts, scalars = args[:n_in], args[n_in:n_in + n_io], args[n_in + n_io:]
        io_gpu = [cupy.asarray(a) for a in inouts]
        io_ref = [a.copy() for a in inouts]
        got = twin(cupy, *[cupy.asarray(a) for a in arrays], *io_gpu, *scalars)
        want = fn(np, *[a.copy() for a in arrays], *io_ref, *scalars)
        if twin.outputs:
            for o, g, w in zip(twin.outputs, _as_tuple(got), _as_tuple(want)):
                _agree(cupy.asnumpy(g), w, dt, f"{name} output {o} on the GPU")
        for o, g, w in zip(map(_label, twin.inout_args), io_gpu, io_ref):
            _agree(cupy.asnumpy(g), w, dt, f"{name} inout {o} on the GPU")


# ----------------------------------------------------------------------------- host syncs
def test_count_syncs_names_each_read_and_its_line():
    from minigen.testing import simulated_cuda
    with simulated_cuda.simulated_cuda():
        x = minigen.arange(5, device="cuda")
        with simulated_cuda.count_syncs() as log:
            float(x.sum())          # Tensor.__float__ reads with .item()
            x.max().item()
            x.cpu()
            bool(x.array.any())     # a raw device array read on the host
        kinds = sorted(k for k, _ in log)
        assert kinds == ["bool", "item", "item", "to_numpy"] and sum(log.values()) == 4
        assert all("test_fused_kernels.py" in where or "minigen/" in where for _, where in log)
        with simulated_cuda.count_syncs() as log:
            y = (x * 2 + 1).exp()  # device work only
        assert y.shape == (5,) and not log


def test_a_range_check_reads_the_device_once():
    from minigen.testing import simulated_cuda
    with simulated_cuda.simulated_cuda():
        idx = minigen.tensor([3, 0, 7, 2], device="cuda")
        with simulated_cuda.count_syncs() as log:
            lo_hi = B.value_range(idx.array)
        assert lo_hi == (0, 7) and sum(log.values()) == 1
        emb = minigen.nn.Embedding(8, 3).to("cuda")
        with simulated_cuda.count_syncs() as log:
            emb(idx)
        assert sum(log.values()) == 1
        with pytest.raises(IndexError, match="index 8 is out of range"):
            emb(minigen.tensor([8], device="cuda"))
    assert B.value_range(np.array([5, -2, 4])) == (-2, 5)


def test_training_figures_are_one_read():
    from minigen.testing import simulated_cuda
    from minigen.train import read_figures
    with simulated_cuda.simulated_cuda():
        a = minigen.tensor(1.5, device="cuda")
        b = minigen.tensor([2.25], device="cuda", dtype=minigen.float64)
        with simulated_cuda.count_syncs() as log:
            f = read_figures(a=a, b=b, c=3, d=a * 2)
        assert f == {"a": 1.5, "b": 2.25, "c": 3.0, "d": 3.0}
        assert all(type(v) is float for v in f.values()) and sum(log.values()) == 1


@pytest.mark.parametrize("name, most", [("gpt_step", 3), ("dcgan_step", 0), ("model:lstm", 2),
                                        ("model:dcgan", 1), ("model:vae", 0)])
def test_host_syncs_per_training_step(name, most):
    """A step's reads of device values (each a GPU stall) stay at what
    benchmarks/launches_and_syncs.py measured: the GPT step's are its two embedding range
    checks and its target check; a DCGAN step's batch norms and gradient norms read nothing."""
    log, _, _ = _count_step(name, need_kernels=False)
    assert sum(log.values()) <= most, log


def _count_step(name, need_kernels=True):
    """count_step for the bench workload ``name`` (quick sizes) on the simulated device."""
    from minigen.bench.harness import Lib
    from minigen.bench.workloads_models import model_workloads
    from minigen.testing import simulated_cuda
    w = next(w for w in model_workloads(quick=True) if w.name.startswith(name))
    with simulated_cuda.simulated_cuda() as b:
        if need_kernels and b.kernels is None:
            pytest.skip("no C++ compiler: the simulated device runs no fused kernels")
        return simulated_cuda.count_step(w.make(Lib("minigen", "cuda")).step)


@pytest.mark.parametrize("name, most, fewer", [("gpt_step", 310, 2.5), ("model:lstm", 490, 2.8),
                                               ("model:vae", 95, 2.0), ("dcgan_step", 600, 2.2)])
def test_fused_kernels_cut_the_launches_of_a_step(name, most, fewer):
    """The launches a GPU would make for one step (counted on the simulated device), with the
    fused kernels and without: at most ``most`` with, and ``fewer`` times fewer than without."""
    _, n_on, n_off = _count_step(name)
    assert n_on <= most and n_off >= fewer * n_on, (n_on, n_off)


@pytest.mark.parametrize("bad", ["i", "_ind", "_raw_x", "2x"])
def test_a_twin_refuses_names_cupy_reserves(bad):
    with pytest.raises(ValueError, match=f"parameter name '{bad}'"):
        B.CudaTwin("bad", ["x", bad], ["y"], "y = x;")
