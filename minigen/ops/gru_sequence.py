"""The whole-sequence GRU layer: one Function per layer and direction, with BPTT backward.

    output, h_n = gru_sequence(x, h0, W_ih, W_hh, b_ih, b_hh, reverse=False)

The same design as the LSTM's in ``ops/rnn_sequence.py`` (whose docstring derives the shared
parts: one product for the input side of every step, BPTT with dA stacked over time, the
weight gradients as a few big products, buffers from the scratch pool, and a minigen-ops
backward for create_graph). The GRU's own per-step math, forward and backward, is in
``ops/rnn.py`` (``_gru_pointwise``, ``_gru_backward_step``).
"""
from __future__ import annotations

from .rnn import TENSOR_MATH, _gru_backward_step, _gru_pointwise, _raw, _wrap_all
from .rnn_sequence import (_SequenceFunction, _check_sequence, _prev, _records, _steps,
                           _weight_grads)
from .scratch import SCRATCH, aligned_empty
from .join import stack
from ..autograd import is_grad_enabled
from ..backend import fused


class GRUSequenceFunction(_SequenceFunction):
    """A GRU layer over a whole sequence (one direction). See the module docstring and
    LSTMSequenceFunction for the raw-array details (one tanh for r and z, ``out=`` buffers)."""

    n_scratch = 3  # hn, rz, n

    def forward(self, x, h0, w_ih, w_hh, *b, reverse=False, record=True):
        xp = self.xp
        T, B, I = x.shape
        H = w_hh.shape[1]
        self.reverse = reverse
        scale = xp.full(3 * H, 0.5, dtype=x.dtype)  # 0.5 for r, z; 1 for n
        scale[2 * H:] = 1.0
        # G_x = X W_ih^T + b_ih for all T*B rows in one product
        gx = SCRATCH.take(xp, (T, B, 3 * H), x.dtype)
        xp.matmul(x.reshape(T * B, I), (w_ih * scale[:, None]).T, out=gx.reshape(T * B, 3 * H))
        if b:
            gx += b[0] * scale
        w_hh_t = aligned_empty(xp, (H, 3 * H), x.dtype)
        xp.multiply(w_hh.T, scale, out=w_hh_t)
        b_hh = b[1] * scale if b else None
        rz = SCRATCH.take(xp, (T, B, 2 * H), x.dtype)  # r_t, z_t of every step
        n = SCRATCH.take(xp, (T, B, H), x.dtype)       # n_t
        hn = SCRATCH.take(xp, (T, B, H), x.dtype)      # h_n part: h_{t-1} W_hn^T + b_hn
        out = aligned_empty(xp, (T, B, H), x.dtype)  # h_t
        gh = xp.empty((B, 3 * H), dtype=x.dtype)
        h = h0
        for t in _steps(T, reverse):
            # gh = h_{t-1} W_hh^T + b_hh
            xp.matmul(h, w_hh_t, out=gh)
            if b:
                gh += b_hh
            # r, z, n and h_t: one CUDA kernel on a GPU
            self.backend.fused(_gru_step, gx[t], gh, h, rz[t], hn[t], n[t], out[t])
            h = out[t]
        SCRATCH.give(xp, gx)
        self.save_for_backward(x, h0, w_ih, w_hh, *b, out, hn, rz, n)
        if not record:
            SCRATCH.give(xp, hn, rz, n)
        return out, h.copy()

    def backward(self, gout, gh_n):
        saved = self.saved_tensors
        x, h0, w_ih, w_hh = saved[:4]
        b = saved[4:-4]
        need = self.needs_input_grad
        need_b = (bool(b) and need[4], bool(b) and need[5])
        if is_grad_enabled():
            return _gru_bptt_graph(x, h0, w_ih, w_hh, b, gout, gh_n, self.reverse, need, need_b)
        xp = self.xp
        x, h0, w_ih, w_hh, out, hn, rz, n = _raw((x, h0, w_ih, w_hh) + saved[-4:])
        gout, dh = _raw((gout, gh_n))
        T, B, H = out.shape
        dGX = SCRATCH.take(xp, (T, B, 3 * H), out.dtype)  # dL/d(x part) of every step
        dGH = SCRATCH.take(xp, (T, B, 3 * H), out.dtype)  # dL/d(h part) of every step
        w_hh_a = aligned_empty(xp, w_hh.shape, w_hh.dtype)  # aligned, for the T products below
        w_hh_a[...] = w_hh
        dh = dh.copy()
        hw = xp.empty((B, H), dtype=out.dtype)
        for t in reversed(_steps(T, self.reverse)):
            p = _prev(t, T, self.reverse)
            h_prev = h0 if p is None else out[p]
            # dL/dh_t and the step's [da_r | da_z | da_n] and [da_r | da_z | da_n r]: one
            # CUDA kernel on a GPU
            self.backend.fused(_gru_step_backward, gout[t], rz[t], n[t], h_prev, hn[t], dh,
                               dGX[t], dGH[t])
            # dL/dh_{t-1} = dGH_t W_hh + dh_t z_t
            xp.matmul(dGH[t], w_hh_a, out=hw)
            dh *= rz[t, :, H:]
            dh += hw
        dx, dw_ih, _, db_ih = _weight_grads(dGX, x, out, h0, w_ih, self.reverse, need[0],
                                            need[2], False, need_b[0])
        _, _, dw_hh, db_hh = _weight_grads(dGH, x, out, h0, w_ih, self.reverse, False, False,
                                           need[3], need_b[1])
        SCRATCH.give(xp, dGX, dGH)
        grads = (dx, dh if need[1] else None, dw_ih, dw_hh)
        return _wrap_all(grads + ((db_ih, db_hh) if b else ()))


@fused(inputs=[("gx", ("x_r", "x_z", "x_n"), -1), ("gh", ("h_r", "h_z", "h_nn"), -1), "h"],
       inouts=[("rz", ("r", "z"), -1), "hn", "n_t", "h_t"], outputs=[], body="""
    // r, z = sigma(x + h) (rows scaled by 1/2: sigma = (1 + tanh) / 2)
    r = tanh(x_r + h_r) * (T)0.5 + (T)0.5;
    z = tanh(x_z + h_z) * (T)0.5 + (T)0.5;
    // n = tanh(x_n + r h_n),  h_t = n + z (h_{t-1} - n)
    hn = h_nn;
    n_t = tanh(r * h_nn + x_n);
    h_t = (h - n_t) * z + n_t;""")
def _gru_step(xp, gx, gh, h, rz, hn, n_t, h_t):
    """One step of the raw GRU loop, in place: from the input part gx and hidden part gh (B, 3H)
    of the pre-activations (r, z rows scaled by 1/2) and h_{t-1}, writes [r | z] (B, 2H), the
    kept h_n part, n and h_t (B, H)."""
    H = h.shape[-1]
    # [r | z] = sigma(x_rz + h_rz)
    xp.add(gx[:, :2 * H], gh[:, :2 * H], out=rz)
    xp.tanh(rz, out=rz)
    rz *= 0.5
    rz += 0.5
    r, z = rz[:, :H], rz[:, H:]
    # n = tanh(x_n + r h_n)
    hn[...] = gh[:, 2 * H:]
    xp.multiply(r, hn, out=n_t)
    n_t += gx[:, 2 * H:]
    xp.tanh(n_t, out=n_t)
    # h_t = n + z (h_{t-1} - n)
    xp.subtract(h, n_t, out=h_t)
    h_t *= z
    h_t += n_t


@fused(inputs=["gout", ("rz", ("r", "z"), -1), "nc", "h_prev", "hn"],
       inouts=["dh", ("dgx", ("da_r", "da_z", "da_n"), -1), ("dgh", ("dh_r", "dh_z", "dh_n"), -1)],
       outputs=[], body="""
    dh += gout;
    T omz = (T)1 - z;
    da_n = ((T)1 - nc * nc) * omz * dh;
    da_z = (h_prev - nc) * z * omz * dh;
    da_r = ((T)1 - r) * r * hn * da_n;
    dh_r = da_r;  dh_z = da_z;  dh_n = da_n * r;""")
def _gru_step_backward(xp, gout, rz, n, h_prev, hn, dh, dgx, dgh):
    """One step of the raw GRU backward: dh += dL/dh_t from the output; writes dgx = [da_r |
    da_z | da_n] and dgh = [da_r | da_z | da_n r] (B, 3H) (derivation: GRUCellFunction)."""
    H = dh.shape[-1]
    r, z = rz[:, :H], rz[:, H:]
    da_r, da_z, da_n = dgx[:, :H], dgx[:, H:2 * H], dgx[:, 2 * H:]
    dh += gout
    one_minus_z = 1.0 - z
    # da_n = dh (1 - z) (1 - n^2)
    xp.multiply(n, n, out=da_n)
    xp.subtract(1.0, da_n, out=da_n)
    da_n *= one_minus_z
    da_n *= dh
    # da_z = dh (h_{t-1} - n) z (1 - z)
    xp.subtract(h_prev, n, out=da_z)
    da_z *= z
    da_z *= one_minus_z
    da_z *= dh
    # da_r = da_n h_n r (1 - r)
    xp.subtract(1.0, r, out=da_r)
    da_r *= r
    da_r *= hn
    da_r *= da_n
    # the hidden part: [da_r | da_z | da_n r]
    dgh[:, :2 * H] = dgx[:, :2 * H]
    xp.multiply(da_n, r, out=dgh[:, 2 * H:])


def _gru_bptt_graph(x, h0, w_ih, w_hh, b, gout, gh_n, reverse, need, need_b):
    """The same BPTT as GRUSequenceFunction.backward, in minigen ops (for create_graph)."""
    m = TENSOR_MATH
    T, B, I = x.shape
    gx = x.reshape(T * B, I) @ w_ih.T
    if b:
        gx = gx + b[0]
    gx = gx.reshape(T, B, -1)
    h, w_hh_t = h0, w_hh.T
    rec, hs = [None] * T, [None] * T
    for t in _steps(T, reverse):
        gh = h @ w_hh_t
        if b:
            gh = gh + b[1]
        r, z, n, hn, h_new = _gru_pointwise(m, gx[t], gh, h)
        rec[t] = (h, r, z, n, hn)
        h = hs[t] = h_new
    dh = gh_n
    dgxs, dghs = [None] * T, [None] * T
    for t in reversed(_steps(T, reverse)):
        dh = dh + gout[t]
        dgxs[t], dghs[t], dh_direct = _gru_backward_step(m, dh, *rec[t])
        dh = dghs[t] @ w_hh + dh_direct
    hs = stack(hs)
    dx, dw_ih, _, db_ih = _weight_grads(stack(dgxs), x, hs, h0, w_ih, reverse, need[0],
                                        need[2], False, need_b[0])
    _, _, dw_hh, db_hh = _weight_grads(stack(dghs), x, hs, h0, w_ih, reverse, False, False,
                                       need[3], need_b[1])
    grads = (dx, dh if need[1] else None, dw_ih, dw_hh)
    return grads + ((db_ih, db_hh) if b else ())


def gru_sequence(input, hx, w_ih, w_hh, b_ih=None, b_hh=None, reverse=False):
    """Run one GRU layer (one direction) over input (T, B, I) from state hx (B, H).

    Returns (output (T, B, H), h_n (B, H)). ``reverse=True`` runs t = T-1 .. 0.
    """
    b = _check_sequence("gru_sequence", input, (hx,), w_ih, w_hh, b_ih, b_hh, 3)
    args = (input, hx, w_ih, w_hh, *b)
    return GRUSequenceFunction.apply(*args, reverse=bool(reverse), record=_records(args))
