"""Recurrent cells and layers: ops/rnn.py, ops/rnn_sequence.py, ops/gru_sequence.py, nn/rnn.py.

* forwards against an independent NumPy float64 reference (cells, and a whole sequence);
* the hand-derived cell Functions against composite twins built from primitive ops
  (outputs, gradients and second derivatives);
* the whole-sequence Functions against an unrolled chain of cell Functions;
* gradcheck / gradgradcheck of the cells, the sequences and a small 2-layer LSTM and GRU;
* nn.RNN / LSTM / GRU and the cells against PyTorch with the same state dict (when installed);
* batch_first, unbatched input, dropout between layers, reprs, parameter names, errors.
"""
import numpy as np
import pytest

import minigen
from minigen import gradcheck, gradgradcheck, nn
from minigen.ops.rnn import (gru_cell, gru_sequence, lstm_cell, lstm_sequence, rnn_relu_cell,
                             rnn_tanh_cell)

F64 = minigen.float64


def _t(a, device, grad=False, dtype=None):
    return minigen.tensor(np.asarray(a), dtype=dtype, device=device, requires_grad=grad)


def _rand(rng, *shape):
    return rng.standard_normal(shape)


# ----------------------------------------------------------------------------- NumPy references
def _sig(a):
    return 1.0 / (1.0 + np.exp(-a))


def np_lstm_cell(x, h, c, w_ih, w_hh, b_ih, b_hh):
    a = x @ w_ih.T + b_ih + h @ w_hh.T + b_hh
    H = h.shape[1]
    i, f, g, o = _sig(a[:, :H]), _sig(a[:, H:2 * H]), np.tanh(a[:, 2 * H:3 * H]), _sig(a[:, 3 * H:])
    c2 = f * c + i * g
    return o * np.tanh(c2), c2


def np_gru_cell(x, h, w_ih, w_hh, b_ih, b_hh):
    gx, gh = x @ w_ih.T + b_ih, h @ w_hh.T + b_hh
    H = h.shape[1]
    r = _sig(gx[:, :H] + gh[:, :H])
    z = _sig(gx[:, H:2 * H] + gh[:, H:2 * H])
    n = np.tanh(gx[:, 2 * H:] + r * gh[:, 2 * H:])
    return (1 - z) * n + z * h


def _cell_params(rng, I, H, G):
    return [_rand(rng, G * H, I), _rand(rng, G * H, H), _rand(rng, G * H), _rand(rng, G * H)]


# ----------------------------------------------------------------------------- composite twins
def twin_lstm_cell(x, h, c, w_ih, w_hh, b_ih, b_hh):
    """The LSTM cell from primitive ops only: its gradients come from the ops' backwards."""
    a = x @ w_ih.T + b_ih + h @ w_hh.T + b_hh
    a_i, a_f, a_g, a_o = a.chunk(4, dim=1)
    i, f, g, o = a_i.sigmoid(), a_f.sigmoid(), a_g.tanh(), a_o.sigmoid()
    c2 = f * c + i * g
    return o * c2.tanh(), c2


def twin_gru_cell(x, h, w_ih, w_hh, b_ih, b_hh):
    gx, gh = x @ w_ih.T + b_ih, h @ w_hh.T + b_hh
    x_r, x_z, x_n = gx.chunk(3, dim=1)
    h_r, h_z, h_n = gh.chunk(3, dim=1)
    r, z = (x_r + h_r).sigmoid(), (x_z + h_z).sigmoid()
    n = (x_n + r * h_n).tanh()
    return (1 - z) * n + z * h


# ----------------------------------------------------------------------------- cells: forward
def test_lstm_cell_matches_numpy(device):
    rng = np.random.default_rng(1)
    x, h, c = _rand(rng, 4, 3), _rand(rng, 4, 5), _rand(rng, 4, 5)
    ps = _cell_params(rng, 3, 5, 4)
    want_h, want_c = np_lstm_cell(x, h, c, *ps)
    for dt, tol in ((F64, 1e-12), (minigen.float32, 1e-5)):
        got_h, got_c = lstm_cell(*[_t(a, device, dtype=dt) for a in [x, h, c] + ps])
        assert got_h.dtype == dt and got_h.device == device
        np.testing.assert_allclose(got_h.cpu().numpy(), want_h, rtol=tol, atol=tol)
        np.testing.assert_allclose(got_c.cpu().numpy(), want_c, rtol=tol, atol=tol)


def test_gru_and_elman_cells_match_numpy(device):
    rng = np.random.default_rng(2)
    x, h = _rand(rng, 4, 3), _rand(rng, 4, 5)
    ps = _cell_params(rng, 3, 5, 3)
    got = gru_cell(*[_t(a, device, dtype=F64) for a in [x, h] + ps])
    np.testing.assert_allclose(got.cpu().numpy(), np_gru_cell(x, h, *ps), rtol=1e-12, atol=1e-12)
    ps = _cell_params(rng, 3, 5, 1)
    pre = x @ ps[0].T + ps[2] + h @ ps[1].T + ps[3]
    args = [_t(a, device, dtype=F64) for a in [x, h] + ps]
    np.testing.assert_allclose(rnn_tanh_cell(*args).cpu().numpy(), np.tanh(pre), atol=1e-12)
    np.testing.assert_allclose(rnn_relu_cell(*args).cpu().numpy(), np.maximum(pre, 0), atol=1e-12)
    # without biases
    np.testing.assert_allclose(rnn_tanh_cell(*args[:4]).cpu().numpy(),
                               np.tanh(x @ ps[0].T + h @ ps[1].T), atol=1e-12)


def test_sequences_match_numpy(device):
    rng = np.random.default_rng(3)
    T, B, I, H = 4, 2, 3, 5
    x, h0, c0 = _rand(rng, T, B, I), _rand(rng, B, H), _rand(rng, B, H)
    lp, gp = _cell_params(rng, I, H, 4), _cell_params(rng, I, H, 3)
    for reverse in (False, True):
        order = range(T - 1, -1, -1) if reverse else range(T)
        h, c, outs = h0, c0, [None] * T
        for t in order:
            h, c = np_lstm_cell(x[t], h, c, *lp)
            outs[t] = h
        out, hn, cn = lstm_sequence(*[_t(a, device, dtype=F64) for a in [x, h0, c0] + lp],
                                    reverse=reverse)
        np.testing.assert_allclose(out.cpu().numpy(), np.stack(outs), atol=1e-12)
        np.testing.assert_allclose(hn.cpu().numpy(), h, atol=1e-12)
        np.testing.assert_allclose(cn.cpu().numpy(), c, atol=1e-12)
        h, outs = h0, [None] * T
        for t in order:
            h = outs[t] = np_gru_cell(x[t], h, *gp)
        out, hn = gru_sequence(*[_t(a, device, dtype=F64) for a in [x, h0] + gp],
                               reverse=reverse)
        np.testing.assert_allclose(out.cpu().numpy(), np.stack(outs), atol=1e-12)
        np.testing.assert_allclose(hn.cpu().numpy(), h, atol=1e-12)


# ----------------------------------------------------------------------------- cells: gradients
@pytest.mark.parametrize("bias", [True, False])
def test_lstm_cell_gradcheck_and_gradgradcheck(device, bias):
    rng = np.random.default_rng(4)
    arrays = [_rand(rng, 2, 3), _rand(rng, 2, 2), _rand(rng, 2, 2)] + \
        _cell_params(rng, 3, 2, 4)[:4 if bias else 2]
    args = [_t(a, device, grad=True, dtype=F64) for a in arrays]
    assert gradcheck(lstm_cell, args)
    assert gradgradcheck(lstm_cell, args)


@pytest.mark.parametrize("bias", [True, False])
def test_gru_cell_gradcheck_and_gradgradcheck(device, bias):
    rng = np.random.default_rng(5)
    arrays = [_rand(rng, 2, 3), _rand(rng, 2, 2)] + _cell_params(rng, 3, 2, 3)[:4 if bias else 2]
    args = [_t(a, device, grad=True, dtype=F64) for a in arrays]
    assert gradcheck(gru_cell, args)
    assert gradgradcheck(gru_cell, args)


def test_elman_cells_gradcheck(device):
    rng = np.random.default_rng(6)
    arrays = [_rand(rng, 2, 3), _rand(rng, 2, 2)] + _cell_params(rng, 3, 2, 1)
    args = [_t(a, device, grad=True, dtype=F64) for a in arrays]
    assert gradcheck(rnn_tanh_cell, args)
    assert gradgradcheck(rnn_tanh_cell, args)
    assert gradcheck(rnn_relu_cell, args)


def _first_and_second(fn, args, seeds):
    """Outputs, first derivatives (against random output weights) and the gradient of the sum
    of first derivatives (a second derivative) of fn at args."""
    outs = fn(*args)
    outs = outs if isinstance(outs, tuple) else (outs,)
    loss = sum((o * _t(s, o.device, dtype=F64)).sum() for o, s in zip(outs, seeds))
    g1 = minigen.grad(loss, args, create_graph=True)
    g2 = minigen.grad(sum((g * g).sum() for g in g1), args)
    return [o.cpu().numpy() for o in outs], [g.cpu().numpy() for g in g1], [g.cpu().numpy() for g in g2]


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_cell_functions_agree_with_composite_twins(device, cell):
    rng = np.random.default_rng(7)
    B, I, H = 3, 4, 5
    if cell == "lstm":
        arrays = [_rand(rng, B, I), _rand(rng, B, H), _rand(rng, B, H)] + _cell_params(rng, I, H, 4)
        fn, twin, n_out = lstm_cell, twin_lstm_cell, 2
    else:
        arrays = [_rand(rng, B, I), _rand(rng, B, H)] + _cell_params(rng, I, H, 3)
        fn, twin, n_out = gru_cell, twin_gru_cell, 1
    seeds = [_rand(rng, B, H) for _ in range(n_out)]
    a = _first_and_second(fn, [_t(v, device, True, F64) for v in arrays], seeds)
    b = _first_and_second(twin, [_t(v, device, True, F64) for v in arrays], seeds)
    for got, want in zip(a, b):
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12)


def test_cell_twins_also_agree_in_float32(device):
    rng = np.random.default_rng(8)
    arrays = [_rand(rng, 3, 4), _rand(rng, 3, 5), _rand(rng, 3, 5)] + _cell_params(rng, 4, 5, 4)
    res = []
    for fn in (lstm_cell, twin_lstm_cell):
        args = [_t(v, device, True, minigen.float32) for v in arrays]
        h, c = fn(*args)
        ((h * 1.5).sum() + (c * c).sum()).backward()
        assert all(a.grad.dtype == minigen.float32 for a in args)
        res.append([h.cpu().numpy(), c.cpu().numpy()] + [a.grad.cpu().numpy() for a in args])
    for g, w in zip(*res):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5)


# ----------------------------------------------------------------------------- sequences
@pytest.mark.parametrize("kind", ["lstm", "gru"])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("T,zero_state", [(5, False), (19, False), (1, True), (6, True)])
def test_sequence_function_matches_chain_of_cells(device, kind, reverse, T, zero_state):
    """The whole-sequence Function (fused BPTT) against T cell Functions chained by autograd.
    T = 19 spans several of the raw LSTM backward's chunks of steps (``_CHUNK`` = 8), the last
    one partial, in both directions. A zero initial state (nn.LSTM's default) skips the first
    step's W_hh h0 product; its gradients must not change."""
    rng = np.random.default_rng(9)
    B, I, H = 3, 4, 6
    G = 4 if kind == "lstm" else 3
    states = [_rand(rng, B, H) * (0.0 if zero_state else 1.0)
              for _ in range(2 if kind == "lstm" else 1)]
    arrays = [_rand(rng, T, B, I)] + states + _cell_params(rng, I, H, G)
    n_st = len(states)
    seeds = [_rand(rng, T, B, H)] + [_rand(rng, B, H) for _ in states]

    def chain(x, *rest):
        st, ps = list(rest[:n_st]), rest[n_st:]
        outs = [None] * T
        for t in (range(T - 1, -1, -1) if reverse else range(T)):
            st = list(lstm_cell(x[t], *st, *ps)) if kind == "lstm" else [gru_cell(x[t], *st, *ps)]
            outs[t] = st[0]
        return (minigen.stack(outs),) + tuple(st)

    def fused(*args):
        return (lstm_sequence if kind == "lstm" else gru_sequence)(*args, reverse=reverse)

    for dt, tol in ((F64, 1e-10), (minigen.float32, 2e-5)):
        res = []
        for fn in (fused, chain):
            # a zero state needs no gradient, as nn.LSTM's default one (dL/dh0 is then skipped)
            args = [_t(v, device, not (zero_state and 1 <= k <= n_st), dt)
                    for k, v in enumerate(arrays)]
            outs = fn(*args)
            sum((o * _t(s, device, dtype=dt)).sum() for o, s in zip(outs, seeds)).backward()
            res.append([o.cpu().numpy() for o in outs]
                       + [a.grad.cpu().numpy() for a in args if a.requires_grad])
        for g, w in zip(*res):
            np.testing.assert_allclose(g, w, rtol=tol, atol=tol)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_sequence_gradcheck_and_gradgradcheck(device, kind):
    rng = np.random.default_rng(10)
    T, B, I, H = 3, 2, 3, 2
    G, n_st = (4, 2) if kind == "lstm" else (3, 1)
    arrays = [_rand(rng, T, B, I)] + [_rand(rng, B, H) for _ in range(n_st)] + \
        _cell_params(rng, I, H, G)
    fn = lstm_sequence if kind == "lstm" else gru_sequence
    for reverse in (False, True):
        args = [_t(a, device, grad=True, dtype=F64) for a in arrays]
        assert gradcheck(lambda *a: fn(*a, reverse=reverse), args)
        assert gradgradcheck(lambda *a: fn(*a, reverse=reverse), args, mode="directional",
                             n_directions=2)
    # without biases
    args = [_t(a, device, grad=True, dtype=F64) for a in arrays[:-2]]
    assert gradcheck(fn, args, mode="directional")


@pytest.mark.parametrize("cls", ["LSTM", "GRU"])
def test_two_layer_module_gradcheck_and_gradgradcheck(device, cls):
    """A 2-layer bidirectional module in float64: gradients with respect to the input, the
    initial state and every parameter (first and second order, along random directions)."""
    minigen.manual_seed(0)
    m = getattr(nn, cls)(3, 2, num_layers=2, bidirectional=True, device=device, dtype=F64)
    names = [n for n, _ in m.named_parameters()]
    rng = np.random.default_rng(11)
    x = _t(_rand(rng, 3, 2, 3), device, True, F64)
    h0 = _t(_rand(rng, 4, 2, 2), device, True, F64)
    extra = [_t(_rand(rng, 4, 2, 2), device, True, F64)] if cls == "LSTM" else []
    params = [_t(p.cpu().numpy(), device, True, F64) for p in m.parameters()]

    def fn(x, h0, *rest):
        st, ps = rest[:len(extra)], rest[len(extra):]
        for n, p in zip(names, ps):
            m._parameters[n] = p  # test-only: run the module on the checker's tensors
        out, hn = m(x, (h0, st[0]) if cls == "LSTM" else h0)
        return (out,) + (hn if cls == "LSTM" else (hn,))

    args = [x, h0] + extra + params
    assert gradcheck(fn, args, mode="directional", n_directions=2)
    assert gradgradcheck(fn, args, mode="directional", n_directions=1)


def test_backward_does_not_mutate_inputs(device):
    rng = np.random.default_rng(12)
    T, B, I, H = 4, 2, 3, 5
    arrays = [_rand(rng, T, B, I), _rand(rng, B, H), _rand(rng, B, H)] + _cell_params(rng, I, H, 4)
    args = [_t(a, device, True) for a in arrays]
    before = [a.cpu().numpy().copy() for a in args]
    out, hn, cn = lstm_sequence(*args)
    (out.sum() + hn.sum() + cn.sum()).backward()
    out, hn = gru_sequence(args[0], args[1], *[_t(a, device, True) for a in
                                               _cell_params(rng, I, H, 3)])
    (out.sum() + hn.sum()).backward()
    for a, b in zip(args, before):
        np.testing.assert_array_equal(a.cpu().numpy(), b)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_reused_scratch_buffers_do_not_leak_between_calls(device, kind):
    """The sequence Functions reuse their big buffers between calls (ops.rnn_sequence.SCRATCH):
    results and gradients must not depend on what ran before, and a graph kept alive with
    retain_graph=True must keep its own buffers."""
    rng = np.random.default_rng(16)
    T, B, I, H = 4, 3, 2, 5
    G, n_st = (4, 2) if kind == "lstm" else (3, 1)
    fn = lstm_sequence if kind == "lstm" else gru_sequence
    inputs = [[_rand(rng, T, B, I)] + [_rand(rng, B, H) for _ in range(n_st)] +
              _cell_params(rng, I, H, G) for _ in range(2)]

    def run(arrays, retain=False):
        args = [_t(a, device, True) for a in arrays]
        outs = fn(*args)
        loss = sum((o * (k + 1.0)).sum() for k, o in enumerate(outs))
        loss.backward(retain_graph=retain)
        return outs, args, loss

    first, args_a, _ = run(inputs[0])
    want = [o.cpu().numpy() for o in first] + [a.grad.cpu().numpy() for a in args_a]
    kept, args_k, loss_k = run(inputs[1], retain=True)  # keeps its buffers alive
    again, args_b, _ = run(inputs[0])                    # runs while `kept` holds its graph
    got = [o.cpu().numpy() for o in again] + [a.grad.cpu().numpy() for a in args_b]
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)
    np.testing.assert_array_equal(first[0].cpu().numpy(), want[0])  # outputs are never reused
    g1 = [a.grad.cpu().numpy().copy() for a in args_k]
    loss_k.backward()                                        # the retained graph still works
    for a, g in zip(args_k, g1):
        np.testing.assert_allclose(a.grad.cpu().numpy(), 2 * g, rtol=1e-6, atol=1e-6)


# ----------------------------------------------------------------------------- against PyTorch
def _copy_state(torch_module, ours):
    ours.load_state_dict({k: v.detach().cpu().numpy() for k, v in torch_module.state_dict().items()})


def _close(ours, theirs, tol):
    np.testing.assert_allclose(ours.cpu().numpy(), theirs.detach().cpu().numpy(), rtol=tol, atol=tol)


@pytest.mark.parametrize("cls,kw", [
    ("LSTM", dict(num_layers=2, bidirectional=True)),
    ("LSTM", dict(num_layers=2, batch_first=True, bias=False)),
    ("GRU", dict(num_layers=2, bidirectional=True, batch_first=True)),
    ("GRU", dict()),
    ("RNN", dict(num_layers=2, bidirectional=True)),
    ("RNN", dict(nonlinearity="relu", batch_first=True)),
])
def test_layers_match_torch(device, cls, kw):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    tm = getattr(torch.nn, cls)(4, 5, **kw)
    ours = getattr(nn, cls)(4, 5, device=device, **kw)
    _copy_state(tm, ours)
    D = 2 if kw.get("bidirectional") else 1
    L = kw.get("num_layers", 1)
    rng = np.random.default_rng(13)
    x_np = _rand(rng, 3, 6, 4).astype(np.float32)  # (T, B) or (B, T) with batch_first
    B = 3 if kw.get("batch_first") else 6
    h_np = [_rand(rng, L * D, B, 5).astype(np.float32) for _ in range(2 if cls == "LSTM" else 1)]
    xt = torch.tensor(x_np, requires_grad=True)
    ht = [torch.tensor(h, requires_grad=True) for h in h_np]
    x = _t(x_np, device, True)
    hs = [_t(h, device, True) for h in h_np]
    out_t, st_t = tm(xt, tuple(ht) if cls == "LSTM" else ht[0])
    out, st = ours(x, tuple(hs) if cls == "LSTM" else hs[0])
    st_t = st_t if cls == "LSTM" else (st_t,)
    st = st if cls == "LSTM" else (st,)
    _close(out, out_t, 1e-5)
    for a, b in zip(st, st_t):
        assert a.shape == tuple(b.shape)
        _close(a, b, 1e-5)
    # a loss that weights every output differently
    w_out = rng.standard_normal(out.shape).astype(np.float32)
    w_st = [rng.standard_normal(s.shape).astype(np.float32) for s in st]
    (out_t * torch.tensor(w_out)).sum().add(sum((s * torch.tensor(w)).sum()
                                                for s, w in zip(st_t, w_st))).backward()
    loss = (out * _t(w_out, device)).sum()
    for s, w in zip(st, w_st):
        loss = loss + (s * _t(w, device)).sum()
    loss.backward()
    ours_p = dict(ours.named_parameters())
    for name, p in tm.named_parameters():
        _close(ours_p[name].grad, p.grad, 2e-5)
    _close(x.grad, xt.grad, 2e-5)
    for a, b in zip(hs, ht):
        _close(a.grad, b.grad, 2e-5)


@pytest.mark.parametrize("cls", ["LSTM", "GRU", "RNN"])
def test_layers_default_state_and_unbatched_match_torch(device, cls):
    torch = pytest.importorskip("torch")
    torch.manual_seed(1)
    tm = getattr(torch.nn, cls)(3, 4, num_layers=2)
    ours = getattr(nn, cls)(3, 4, num_layers=2, device=device)
    _copy_state(tm, ours)
    x_np = np.random.default_rng(14).standard_normal((5, 3)).astype(np.float32)  # (L, H_in)
    out_t, st_t = tm(torch.tensor(x_np))
    out, st = ours(_t(x_np, device))
    assert out.shape == (5, 4)
    _close(out, out_t, 1e-5)
    for a, b in zip(st if cls == "LSTM" else (st,), st_t if cls == "LSTM" else (st_t,)):
        assert a.shape == (2, 4)
        _close(a, b, 1e-5)


@pytest.mark.parametrize("cls", ["LSTMCell", "GRUCell", "RNNCell"])
def test_cells_match_torch(device, cls):
    torch = pytest.importorskip("torch")
    torch.manual_seed(2)
    kw = {"nonlinearity": "relu"} if cls == "RNNCell" else {}
    tm = getattr(torch.nn, cls)(3, 4, **kw)
    ours = getattr(nn, cls)(3, 4, device=device, **kw)
    _copy_state(tm, ours)
    rng = np.random.default_rng(15)
    x_np = rng.standard_normal((2, 3)).astype(np.float32)
    n_states = 2 if cls == "LSTMCell" else 1
    h_np = [rng.standard_normal((2, 4)).astype(np.float32) for _ in range(n_states)]
    xt, ht = torch.tensor(x_np, requires_grad=True), [torch.tensor(h) for h in h_np]
    x, hs = _t(x_np, device, True), [_t(h, device) for h in h_np]
    rt = tm(xt, tuple(ht) if cls == "LSTMCell" else ht[0])
    r = ours(x, tuple(hs) if cls == "LSTMCell" else hs[0])
    rt, r = (rt, r) if cls == "LSTMCell" else ((rt,), (r,))
    for a, b in zip(r, rt):
        _close(a, b, 1e-5)
    sum((o * (k + 1)).sum() for k, o in enumerate(rt)).backward()
    sum((o * (k + 1)).sum() for k, o in enumerate(r)).backward()
    for name, p in tm.named_parameters():
        _close(dict(ours.named_parameters())[name].grad, p.grad, 2e-5)
    _close(x.grad, xt.grad, 2e-5)
    # unbatched input and the default (zero) state
    rt1 = tm(xt[0].detach())
    r1 = ours(_t(x_np[0], device))
    for a, b in zip(r1 if cls == "LSTMCell" else (r1,), rt1 if cls == "LSTMCell" else (rt1,)):
        assert a.shape == (4,)
        _close(a, b, 1e-5)


# ----------------------------------------------------------------------------- module behaviour
def test_parameter_names_shapes_and_init(device):
    m = nn.LSTM(3, 4, num_layers=2, bidirectional=True, device=device)
    names = [n for n, _ in m.named_parameters()]
    want = [f"{w}_l{k}{s}" for k in range(2) for s in ("", "_reverse")
            for w in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
    assert names == want
    assert m.weight_ih_l0.shape == (16, 3) and m.weight_ih_l1.shape == (16, 8)
    assert m.weight_hh_l1_reverse.shape == (16, 4) and m.bias_hh_l0.shape == (16,)
    assert all(p.device == device and p.dtype == minigen.float32 for p in m.parameters())
    # U(-1/sqrt(H), 1/sqrt(H)) = U(-0.5, 0.5): within the bounds and not all one value
    big = nn.GRU(8, 4, device=device).weight_hh_l0.cpu().numpy()
    assert np.abs(big).max() <= 0.5 and big.std() > 0.2
    assert [n for n, _ in nn.GRU(3, 4, bias=False).named_parameters()] == \
        ["weight_ih_l0", "weight_hh_l0"]
    assert [n for n, _ in nn.LSTMCell(3, 4).named_parameters()] == \
        ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]
    assert nn.GRUCell(3, 4, bias=False).bias_ih is None
    assert len(nn.LSTM(3, 4, num_layers=2).all_weights) == 2


def test_reprs():
    assert repr(nn.LSTM(64, 256, batch_first=True)) == "LSTM(64, 256, batch_first=True)"
    assert repr(nn.LSTMCell(10, 20)) == "LSTMCell(10, 20)"
    assert repr(nn.GRU(3, 4)) == "GRU(3, 4)"
    assert repr(nn.RNN(10, 20, num_layers=2, bias=False, dropout=0.5, bidirectional=True)) == \
        "RNN(10, 20, num_layers=2, bias=False, dropout=0.5, bidirectional=True)"
    assert repr(nn.RNNCell(10, 20, bias=False, nonlinearity="relu")) == \
        "RNNCell(10, 20, bias=False, nonlinearity=relu)"


def test_batch_first_and_unbatched_agree_with_batched(device):
    m = nn.GRU(3, 4, num_layers=2, bidirectional=True, device=device)
    mb = nn.GRU(3, 4, num_layers=2, bidirectional=True, batch_first=True, device=device)
    mb.load_state_dict(m.state_dict())
    x = minigen.randn(5, 2, 3, device=device)  # (T, B, I)
    out, hn = m(x)
    out_b, hn_b = mb(x.transpose(0, 1).contiguous())
    assert out.shape == (5, 2, 8) and out_b.shape == (2, 5, 8) and hn.shape == (4, 2, 4)
    np.testing.assert_allclose(out_b.cpu().numpy().transpose(1, 0, 2), out.cpu().numpy(), atol=1e-6)
    np.testing.assert_allclose(hn_b.cpu().numpy(), hn.cpu().numpy(), atol=1e-6)
    out1, hn1 = m(x[:, 1])
    np.testing.assert_allclose(out1.cpu().numpy(), out.cpu().numpy()[:, 1], atol=1e-6)
    np.testing.assert_allclose(hn1.cpu().numpy(), hn.cpu().numpy()[:, 1], atol=1e-6)


def test_dropout_between_layers(device):
    minigen.manual_seed(0)
    m = nn.LSTM(3, 6, num_layers=2, dropout=0.5, device=device)
    ref = nn.LSTM(3, 6, num_layers=2, device=device)
    ref.load_state_dict(m.state_dict())
    x = minigen.randn(4, 2, 3, device=device)
    m.eval()
    out_eval, (h_eval, _) = m(x)
    np.testing.assert_array_equal(out_eval.cpu().numpy(), ref(x)[0].cpu().numpy())  # eval: no dropout
    m.train()
    minigen.manual_seed(1)
    out_a, (h_a, _) = m(x)
    minigen.manual_seed(1)
    out_b, _ = m(x)
    np.testing.assert_array_equal(out_a.cpu().numpy(), out_b.cpu().numpy())  # seeded: repeatable
    assert not np.allclose(out_a.cpu().numpy(), out_eval.cpu().numpy())    # training: dropped
    # the first layer's final state is before any dropout
    np.testing.assert_allclose(h_a.cpu().numpy()[0], h_eval.cpu().numpy()[0], atol=1e-6)
    with pytest.warns(UserWarning, match="num_layers greater than 1"):
        nn.GRU(3, 4, dropout=0.2)


def test_module_to_device_and_double(device):
    m = nn.LSTM(3, 4).to(device).double()
    out, (h, c) = m(minigen.randn(2, 1, 3, device=device, dtype=F64))
    assert out.dtype == F64 and out.device == device and h.shape == (1, 1, 4)


# ----------------------------------------------------------------------------- errors
def test_layer_errors(device):
    m = nn.LSTM(10, 20, device=device)
    with pytest.raises(RuntimeError, match=r"LSTM: input.size\(-1\) must be equal to "
                                           r"input_size. Expected 10, got 7"):
        m(minigen.randn(5, 3, 7, device=device))
    with pytest.raises(RuntimeError, match="Expected input to be 2D or 3D, got 4D"):
        m(minigen.randn(5, 3, 10, 1, device=device))
    h = minigen.zeros(1, 4, 20, device=device)
    with pytest.raises(RuntimeError, match=r"Expected hidden\[0\] size \(1, 3, 20\), got "
                                           r"\[1, 4, 20\]"):
        m(minigen.randn(5, 3, 10, device=device), (h, h))
    with pytest.raises(RuntimeError, match="hx should also be 2-D but got 3-D"):
        nn.GRU(10, 20, device=device)(minigen.randn(5, 10, device=device),
                                      minigen.zeros(1, 3, 20, device=device))
    with pytest.raises(RuntimeError, match="input dtype"):
        m(minigen.randn(5, 3, 10, device=device, dtype=F64))
    with pytest.raises(RuntimeError, match="tuple"):
        m(minigen.randn(5, 3, 10, device=device), minigen.zeros(1, 3, 20, device=device))
    with pytest.raises(RuntimeError, match=r"expected hx to be a tuple \(h_0, c_0\), got Tensor"):
        nn.LSTM(10, 20, num_layers=2, device=device)(minigen.randn(5, 3, 10, device=device),
                                                     minigen.zeros(2, 3, 20, device=device))
    with pytest.raises(RuntimeError, match="tuple"):
        nn.LSTMCell(10, 20, device=device)(minigen.randn(3, 10, device=device),
                                           minigen.zeros(3, 20, device=device))
    with pytest.raises(ValueError, match="nonlinearity"):
        nn.RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="dropout"):
        nn.GRU(3, 4, num_layers=2, dropout=1.5)
    with pytest.raises(ValueError, match="hidden_size"):
        nn.LSTM(3, 0)
    with pytest.raises(ValueError, match="proj_size has to be smaller than hidden_size"):
        nn.LSTM(3, 4, proj_size=4)


def test_device_mismatch_names_both_devices():
    if "cuda" not in (minigen.backend.device("cuda").type,):
        pytest.skip("no cuda backend")
    m = nn.GRU(3, 4)
    with pytest.raises(RuntimeError, match="cpu and cuda|cuda and cpu"):
        m(minigen.randn(2, 1, 3, device="cuda"))


def test_cell_errors(device):
    c = nn.LSTMCell(10, 20, device=device)
    with pytest.raises(RuntimeError, match="input has inconsistent input_size: got 7 expected 10"):
        c(minigen.randn(3, 7, device=device))
    z = minigen.zeros(4, 20, device=device)
    with pytest.raises(RuntimeError, match="Input batch size 3 doesn't match hidden0 batch size 4"):
        c(minigen.randn(3, 10, device=device), (z, z))
    with pytest.raises(ValueError, match="1D or 2D"):
        nn.GRUCell(10, 20, device=device)(minigen.randn(2, 3, 10, device=device))
    x, h = minigen.randn(3, 4, device=device), minigen.randn(3, 5, device=device)
    w_ih, w_hh = minigen.randn(20, 4, device=device), minigen.randn(20, 5, device=device)
    with pytest.raises(RuntimeError, match=r"lstm_cell: expected hidden state 1 of shape "
                                           r"\[3, 5\].*got \[2, 5\]"):
        lstm_cell(x, h, minigen.randn(2, 5, device=device), w_ih, w_hh)
    with pytest.raises(RuntimeError, match=r"gru_cell: expected weight_ih and weight_hh to have "
                                           r"3 \* hidden_size = 15 rows"):
        gru_cell(x, h, w_ih, w_hh)
    with pytest.raises(ValueError, match="both b_ih and b_hh"):
        lstm_cell(x, h, h, w_ih, w_hh, minigen.randn(20, device=device))
    with pytest.raises(RuntimeError, match=r"lstm_sequence: expected input of shape \[seq_len"):
        lstm_sequence(x, h, h, w_ih, w_hh)
