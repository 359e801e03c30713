"""Whole-sequence LSTM and GRU layers: one Function per layer and direction, with BPTT backward.

    output, h_n, c_n = lstm_sequence(x, h0, c0, W_ih, W_hh, b_ih, b_hh, reverse=False)
    output, h_n      = gru_sequence(x, h0, W_ih, W_hh, b_ih, b_hh, reverse=False)

x is (T, B, I); output is (T, B, H), the hidden state after every step (in time order; with
``reverse=True`` the steps run from t = T-1 down to 0, as the backward half of a bidirectional
layer does).

Why one Function for the whole sequence rather than T cell ops: the work of an RNN layer is a
few matrix products, and they are much faster done as a few big ones than as many small ones.

* Forward. The input part of every step's pre-activations does not depend on the recurrence,
  so it is ONE product over all T*B rows:  G_x = X W_ih^T + b_ih (+ b_hh),  (T*B, 4H).
  Each step then only adds h_{t-1} W_hh^T and applies the gate math on raw arrays, in place.
* Backward (backpropagation through time). Walking the steps in reverse, each step turns
  (dL/dh_t, dL/dc_t) into its pre-activation gradient dA_t with the cell's formulas (see
  ``LSTMCellFunction`` / ``GRUCellFunction`` in ops/rnn.py) and hands dL/dh_{t-1} = dA_t W_hh
  back. The parts of those formulas that do not depend on the incoming gradient (sigma', 1 -
  tanh^2, ...) are computed for all steps at once before the walk. Stacking dA over time, the
  weight gradients are then three big products instead of 3T small ones:
      dX = dA W_ih      dW_ih = dA^T X      dW_hh = dA^T H_prev      db = sum of dA over rows
  where H_prev stacks the state each step started from.

Second order. The fast backward above works on raw arrays. Under ``create_graph=True`` the same
BPTT is run instead with minigen ops (the forward rebuilt from the saved inputs, then the cell's
per-step backward formulas, ``_lstm_backward_step`` / ``_gru_backward_step``), so the gradient is
itself differentiable and gradgradcheck holds.
"""
from __future__ import annotations

from ..autograd import Function, Tensor, _wrap, is_grad_enabled
from .rnn import (TENSOR_MATH, _affine_grads, _gru_backward_step, _gru_pointwise,
                  _lstm_backward_step, _lstm_pointwise, _raw, _wrap_all, check_cell_args)
from .shape import stack


def _steps(T, reverse):
    return range(T - 1, -1, -1) if reverse else range(T)


def _previous(xp, seq, first, reverse):
    """The state each step started from, in time order: [first, s_0, ..., s_{T-2}]
    (reverse direction: [s_1, ..., s_{T-1}, first])."""
    if reverse:
        return xp.concatenate([seq[1:], first[None]], axis=0)
    return xp.concatenate([first[None], seq[:-1]], axis=0)


def _weight_grads(dA, x, h_prev, w_ih, w_hh, need_x, need_w_ih, need_w_hh, need_b):
    """dX, dW_ih, dW_hh, db from the stacked pre-activation gradients dA (T, B, G)."""
    T, B, G = dA.shape
    dA = dA.reshape(T * B, G)
    dx, dw_ih, db = _affine_grads(dA, x.reshape(T * B, x.shape[2]), w_ih, need_x, need_w_ih,
                                  need_b)
    _, dw_hh, _ = _affine_grads(dA, h_prev.reshape(T * B, h_prev.shape[2]), w_hh, False,
                                need_w_hh, False)
    return (None if dx is None else dx.reshape(T, B, x.shape[2])), dw_ih, dw_hh, db


# ----------------------------------------------------------------------------- LSTM
class LSTMSequenceFunction(Function):
    """An LSTM layer over a whole sequence (one direction). See the module docstring."""

    def forward(self, x, h0, c0, w_ih, w_hh, *b, reverse=False):
        xp = self.xp
        T, B, I = x.shape
        H = w_hh.shape[1]
        self.reverse = reverse
        # sigma(a) = (1 + tanh(a/2)) / 2: halve the i, f, o pre-activations, then one tanh
        # serves all four gates and  act = tanh(.) * scale + shift  turns three into sigmoids
        scale = xp.full(4 * H, 0.5, dtype=x.dtype)  # 0.5 for i, f, o; 1 for g
        scale[2 * H:3 * H] = 1.0
        shift = xp.full(4 * H, 0.5, dtype=x.dtype)  # 0.5 for i, f, o; 0 for g
        shift[2 * H:3 * H] = 0.0
        # G_x = (X W_ih^T + b_ih + b_hh) for all T*B rows in one product
        act = x.reshape(T * B, I) @ w_ih.T
        if b:
            act += b[0] + b[1]
        act = act.reshape(T, B, 4 * H)
        act *= scale
        w_hh_t = w_hh.T * scale
        out = xp.empty((T, B, H), dtype=x.dtype)
        cs = xp.empty((T, B, H), dtype=x.dtype)
        tcs = xp.empty((T, B, H), dtype=x.dtype)
        h, c = h0, c0
        for t in _steps(T, reverse):
            a = act[t]
            # a_t = G_x[t] + h_{t-1} W_hh^T, then i, f, o = sigma(.), g = tanh(.)
            a += h @ w_hh_t
            xp.tanh(a, out=a)
            a *= scale
            a += shift
            i, f, g, o = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
            # c_t = f c_{t-1} + i g
            c_t = cs[t]
            xp.multiply(f, c, out=c_t)
            c_t += i * g
            # h_t = o tanh(c_t)
            xp.tanh(c_t, out=tcs[t])
            xp.multiply(o, tcs[t], out=out[t])
            h, c = out[t], c_t
        self.save_for_backward(x, h0, c0, w_ih, w_hh, *b, act, cs, tcs, out)
        return out, h.copy(), c.copy()

    def backward(self, gout, gh_n, gc_n):
        saved = self.saved_tensors
        x, h0, c0, w_ih, w_hh = saved[:5]
        b = saved[5:-4]
        need = self.needs_input_grad
        need_b = bool(b) and (need[5] or need[6])
        if is_grad_enabled():
            dx, dh0, dc0, dw_ih, dw_hh, db = _lstm_bptt_graph(
                x, h0, c0, w_ih, w_hh, b, gout, gh_n, gc_n, self.reverse, need, need_b)
            return (dx, dh0, dc0, dw_ih, dw_hh) + (db,) * len(b)
        xp = self.xp
        x, h0, c0, w_ih, w_hh, act, cs, tcs, out = _raw((x, h0, c0, w_ih, w_hh) + saved[-4:])
        gout, dh, dc = _raw((gout, gh_n, gc_n))
        T, B, H = out.shape
        i, f, g, o = act[..., :H], act[..., H:2 * H], act[..., 2 * H:3 * H], act[..., 3 * H:]
        h_prev = _previous(xp, out, h0, self.reverse)
        c_prev = _previous(xp, cs, c0, self.reverse)
        # local derivatives of every step at once (they do not depend on the incoming gradient):
        #   dc_t += dh_t * o (1 - tanh^2 c_t)               -> P
        #   da_o  = dh_t * tanh(c_t) o (1 - o)              -> Q
        #   [da_i | da_f | da_g] = dc_t * [g i (1 - i) | c_{t-1} f (1 - f) | i (1 - g^2)]  -> J
        P = o * (1.0 - tcs * tcs)
        Q = tcs * o * (1.0 - o)
        J = xp.empty((T, B, 3, H), dtype=out.dtype)
        J[:, :, 0] = g * i * (1.0 - i)
        J[:, :, 1] = c_prev * f * (1.0 - f)
        J[:, :, 2] = i * (1.0 - g * g)
        dA = xp.empty((T, B, 4 * H), dtype=out.dtype)
        dA4 = dA.reshape(T, B, 4, H)
        dh, dc = dh.copy(), dc.copy()
        for t in reversed(_steps(T, self.reverse)):
            # dL/dh_t = (from the output at t) + (from step t+1)
            dh += gout[t]
            dc += dh * P[t]
            xp.multiply(dc[:, None, :], J[t], out=dA4[t, :, :3])
            xp.multiply(dh, Q[t], out=dA4[t, :, 3])
            # dL/dc_{t-1} = dc_t f_t,   dL/dh_{t-1} = dA_t W_hh
            dc *= f[t]
            dh = dA[t] @ w_hh
        dx, dw_ih, dw_hh, db = _weight_grads(dA, x, h_prev, w_ih, w_hh, need[0], need[3],
                                             need[4], need_b)
        grads = (dx, dh if need[1] else None, dc if need[2] else None, dw_ih, dw_hh)
        return _wrap_all(grads + (db,) * len(b))


def _lstm_bptt_graph(x, h0, c0, w_ih, w_hh, b, gout, gh_n, gc_n, reverse, need, need_b):
    """The same BPTT as LSTMSequenceFunction.backward, in minigen ops (for create_graph)."""
    m = TENSOR_MATH
    T, B, I = x.shape
    gx = x.reshape(T * B, I) @ w_ih.T
    if b:
        gx = gx + b[0] + b[1]
    gx = gx.reshape(T, B, -1)
    h, c, w_hh_t = h0, c0, w_hh.T
    rec = [None] * T
    for t in _steps(T, reverse):
        i, f, g, o, c_new, tc, h_new = _lstm_pointwise(m, gx[t] + h @ w_hh_t, c)
        rec[t] = (i, f, g, o, c, tc, h)
        h, c = h_new, c_new
    dh, dc = gh_n, gc_n
    das = [None] * T
    for t in reversed(_steps(T, reverse)):
        i, f, g, o, c_prev, tc, _ = rec[t]
        dh = dh + gout[t]
        das[t], dc = _lstm_backward_step(m, dh, dc, i, f, g, o, c_prev, tc)
        dh = das[t] @ w_hh
    h_prev = stack([r[6] for r in rec])
    dx, dw_ih, dw_hh, db = _weight_grads(stack(das), x, h_prev, w_ih, w_hh, need[0], need[3],
                                         need[4], need_b)
    return dx, dh if need[1] else None, dc if need[2] else None, dw_ih, dw_hh, db


# ----------------------------------------------------------------------------- GRU
class GRUSequenceFunction(Function):
    """A GRU layer over a whole sequence (one direction). See the module docstring."""

    def forward(self, x, h0, w_ih, w_hh, *b, reverse=False):
        xp = self.xp
        T, B, I = x.shape
        H = w_hh.shape[1]
        self.reverse = reverse
        # sigma(a) = (1 + tanh(a/2)) / 2: halve the r, z pre-activations (not n's)
        scale = xp.full(3 * H, 0.5, dtype=x.dtype)
        scale[2 * H:] = 1.0
        # G_x = X W_ih^T + b_ih for all T*B rows in one product
        gx = x.reshape(T * B, I) @ w_ih.T
        if b:
            gx += b[0]
        gx = gx.reshape(T, B, 3 * H)
        gx *= scale
        w_hh_t = w_hh.T * scale
        b_hh = b[1] * scale if b else None
        gh = xp.empty((T, B, 3 * H), dtype=x.dtype)  # h_{t-1} W_hh^T + b_hh of every step
        rz = xp.empty((T, B, 2 * H), dtype=x.dtype)
        n = xp.empty((T, B, H), dtype=x.dtype)
        out = xp.empty((T, B, H), dtype=x.dtype)
        h = h0
        for t in _steps(T, reverse):
            xp.matmul(h, w_hh_t, out=gh[t])
            if b:
                gh[t] += b_hh
            # [r | z] = sigma(x_rz + h_rz)
            s = rz[t]
            xp.add(gx[t, :, :2 * H], gh[t, :, :2 * H], out=s)
            xp.tanh(s, out=s)
            s *= 0.5
            s += 0.5
            r, z = s[:, :H], s[:, H:]
            # n = tanh(x_n + r h_n)
            n_t = n[t]
            xp.multiply(r, gh[t, :, 2 * H:], out=n_t)
            n_t += gx[t, :, 2 * H:]
            xp.tanh(n_t, out=n_t)
            # h_t = n + z (h_{t-1} - n)
            h_t = out[t]
            xp.subtract(h, n_t, out=h_t)
            h_t *= z
            h_t += n_t
            h = h_t
        self.save_for_backward(x, h0, w_ih, w_hh, *b, gh[..., 2 * H:], rz, n, out)
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
        x, h0, w_ih, w_hh, hn, rz, n, out = _raw((x, h0, w_ih, w_hh) + saved[-4:])
        gout, dh = _raw((gout, gh_n))
        T, B, H = out.shape
        r, z = rz[..., :H], rz[..., H:]
        h_prev = _previous(xp, out, h0, self.reverse)
        # local derivatives of every step at once:
        #   da_n = dh (1 - z)(1 - n^2)      da_z = dh (h_{t-1} - n) z (1 - z)
        #   da_r = da_n h_n r (1 - r)       dL/dh_n = da_n r      dh_{t-1} (direct) = dh z
        K_n = (1.0 - z) * (1.0 - n * n)
        K_z = (h_prev - n) * z * (1.0 - z)
        K_r = hn * r * (1.0 - r)
        dGX = xp.empty((T, B, 3 * H), dtype=out.dtype)
        dGH = xp.empty((T, B, 3 * H), dtype=out.dtype)
        dh = dh.copy()
        for t in reversed(_steps(T, self.reverse)):
            dh += gout[t]
            dgx, dgh = dGX[t], dGH[t]
            da_n = dgx[:, 2 * H:]
            xp.multiply(dh, K_n[t], out=da_n)
            xp.multiply(dh, K_z[t], out=dgx[:, H:2 * H])
            xp.multiply(da_n, K_r[t], out=dgx[:, :H])
            dgh[:, :2 * H] = dgx[:, :2 * H]
            xp.multiply(da_n, r[t], out=dgh[:, 2 * H:])
            # dL/dh_{t-1} = dGH_t W_hh + dh_t z_t
            dh_prev = dgh @ w_hh
            dh_prev += dh * z[t]
            dh = dh_prev
        dx, dw_ih, _, db_ih = _weight_grads(dGX, x, h_prev, w_ih, w_hh, need[0], need[2],
                                            False, need_b[0])
        _, _, dw_hh, db_hh = _weight_grads(dGH, x, h_prev, w_ih, w_hh, False, False,
                                           need[3], need_b[1])
        grads = (dx, dh if need[1] else None, dw_ih, dw_hh)
        return _wrap_all(grads + ((db_ih, db_hh) if b else ()))


def _gru_bptt_graph(x, h0, w_ih, w_hh, b, gout, gh_n, reverse, need, need_b):
    """The same BPTT as GRUSequenceFunction.backward, in minigen ops (for create_graph)."""
    m = TENSOR_MATH
    T, B, I = x.shape
    gx = x.reshape(T * B, I) @ w_ih.T
    if b:
        gx = gx + b[0]
    gx = gx.reshape(T, B, -1)
    h, w_hh_t = h0, w_hh.T
    rec = [None] * T
    for t in _steps(T, reverse):
        gh = h @ w_hh_t
        if b:
            gh = gh + b[1]
        r, z, n, hn, h_new = _gru_pointwise(m, gx[t], gh, h)
        rec[t] = (r, z, n, hn, h)
        h = h_new
    dh = gh_n
    dgxs, dghs = [None] * T, [None] * T
    for t in reversed(_steps(T, reverse)):
        r, z, n, hn, h_prev = rec[t]
        dh = dh + gout[t]
        dgxs[t], dghs[t], dh_direct = _gru_backward_step(m, dh, h_prev, r, z, n, hn)
        dh = dghs[t] @ w_hh + dh_direct
    h_prev = stack([r[4] for r in rec])
    dx, dw_ih, _, db_ih = _weight_grads(stack(dgxs), x, h_prev, w_ih, w_hh, need[0], need[2],
                                        False, need_b[0])
    _, _, dw_hh, db_hh = _weight_grads(stack(dghs), x, h_prev, w_ih, w_hh, False, False,
                                       need[3], need_b[1])
    grads = (dx, dh if need[1] else None, dw_ih, dw_hh)
    return grads + ((db_ih, db_hh) if b else ())


# ----------------------------------------------------------------------------- public
def _check_sequence(op, input, hs, w_ih, w_hh, b_ih, b_hh, gates):
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: expected input to be a Tensor, got {type(input).__name__}")
    if input.ndim != 3 or input.shape[0] == 0:
        raise RuntimeError(f"{op}: expected input of shape [seq_len >= 1, batch, input_size], "
                           f"got input{list(input.shape)}")
    step = _wrap(input.data[0])  # shape/dtype/device of one step, for the shared checks
    return check_cell_args(op, step, hs, w_ih, w_hh, b_ih, b_hh, gates)


def lstm_sequence(input, hx, cx, w_ih, w_hh, b_ih=None, b_hh=None, reverse=False):
    """Run one LSTM layer (one direction) over input (T, B, I) from states hx, cx (B, H).

    Returns (output (T, B, H), h_n (B, H), c_n (B, H)). ``reverse=True`` runs t = T-1 .. 0.
    """
    b = _check_sequence("lstm_sequence", input, (hx, cx), w_ih, w_hh, b_ih, b_hh, 4)
    return LSTMSequenceFunction.apply(input, hx, cx, w_ih, w_hh, *b, reverse=bool(reverse))


def gru_sequence(input, hx, w_ih, w_hh, b_ih=None, b_hh=None, reverse=False):
    """Run one GRU layer (one direction) over input (T, B, I) from state hx (B, H).

    Returns (output (T, B, H), h_n (B, H)). ``reverse=True`` runs t = T-1 .. 0.
    """
    b = _check_sequence("gru_sequence", input, (hx,), w_ih, w_hh, b_ih, b_hh, 3)
    return GRUSequenceFunction.apply(input, hx, w_ih, w_hh, *b, reverse=bool(reverse))
