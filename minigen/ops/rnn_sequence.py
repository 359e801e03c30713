"""Whole-sequence recurrent layers: one Function per layer and direction, with BPTT backward.

    output, h_n, c_n = lstm_sequence(x, h0, c0, W_ih, W_hh, b_ih, b_hh, reverse=False)
    output, h_n      = gru_sequence(x, h0, W_ih, W_hh, b_ih, b_hh, reverse=False)

This file has the LSTM and the parts both layers share; the GRU is in ``ops/gru_sequence.py``.

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
  back. Each step writes its dA_t into one (T, B, G) buffer; with dA stacked over time the
  weight gradients are then three big products instead of 3T small ones:
      dX = dA W_ih      dW_ih = dA^T X      dW_hh = dA^T H_prev      db = sum of dA over rows
  where H_prev stacks the state each step started from.
* Memory. Every per-step result is written with ``out=`` into a slice of a buffer made once,
  the big buffers are reused between calls and W_hh is cache-line aligned (``ops/scratch.py``):
  on a small CPU, fresh megabytes and misaligned operands cost as much as the arithmetic.
* Layout (LSTM only; see LSTMSequenceFunction): the raw LSTM loop keeps everything transposed,
  gates and states as (features, B), because at small batches the per-step products are
  faster that way round. The formulas above are the same with every matrix transposed.

Second order. The fast backward above works on raw arrays. Under ``create_graph=True`` the same
BPTT is run instead with minigen ops (the forward rebuilt from the saved inputs, then the cell's
per-step backward formulas, ``_lstm_backward_step`` / ``_gru_backward_step``), so the gradient is
itself differentiable and gradgradcheck holds.
"""
from __future__ import annotations

from ..autograd import Function, Tensor, _wrap, is_grad_enabled
from ..backend import fused
from .rnn import (TENSOR_MATH, _affine_grads, _lstm_backward_step, _lstm_pointwise, _raw,
                  _wrap_all, check_cell_args)
from .scratch import SCRATCH, aligned_empty
from .join import stack


def _steps(T, reverse):
    return range(T - 1, -1, -1) if reverse else range(T)


def _prev(t, T, reverse):
    """Index of the step before step t in processing order (None for the first step)."""
    p = t + 1 if reverse else t - 1
    return p if 0 <= p < T else None


class _SequenceFunction(Function):
    """Gives the pooled buffers it saved (the constants among its saved arrays) back to
    ``SCRATCH`` when the graph releases them after backward."""

    n_scratch = 0  # how many saved arrays, counted from the end, come from the pool

    def release(self):
        saved = self.saved
        if saved:
            SCRATCH.give(self.xp, *saved[len(saved) - self.n_scratch:])
        self.saved = None


def _weight_grads(dA, x, hs, h0, w_ih, reverse, need_x, need_w_ih, need_w_hh, need_b):
    """dX, dW_ih, dW_hh, db from the stacked pre-activation gradients dA (T, B, G).

    hs (T, B, H) is the hidden state after every step. Step t started from the state of the
    step before it, or from h0 for the first step, so dW_hh = sum_t dA_t^T h_prev(t) is one
    product over the T-1 steps that follow another plus one small product for the first
    (arrays or tensors alike; no (T, B, H) copy of the shifted states is made). ``h0=None``
    (only with T > 1) stands for a zero h0, whose product is zero and is skipped.
    """
    T, B, G = dA.shape
    dA_rows = dA.reshape(T * B, G)
    dx, dw_ih, db = _affine_grads(dA_rows, x.reshape(T * B, x.shape[2]), w_ih, need_x,
                                  need_w_ih, need_b)
    dw_hh = None
    if need_w_hh:
        first = T - 1 if reverse else 0
        dw_hh = None if h0 is None else dA[first].T @ h0
        if T > 1:
            dA_rest, h_rest = (dA[:-1], hs[1:]) if reverse else (dA[1:], hs[:-1])
            rest = dA_rest.reshape((T - 1) * B, G).T @ h_rest.reshape((T - 1) * B, -1)
            dw_hh = rest if dw_hh is None else dw_hh + rest
    return (None if dx is None else dx.reshape(T, B, x.shape[2])), dw_ih, dw_hh, db


# ----------------------------------------------------------------------------- LSTM
def _lstm_gate_layout(xp, H, dtype):
    """The raw loop keeps the four gates in the order [o | i | f | g] rather than PyTorch's
    [i | f | g | o]: a roll of the rows by H (``xp.roll(w, H, axis=0)``; rolling by -H undoes
    it). Then the three sigmoid gates [o | i | f] are one contiguous block, and so are the
    three gates whose gradient carries dL/dc_t, [i | f | g]. ``scale`` is 1/2 on the sigmoid
    rows and 1 on g: sigma(a) = (1 + tanh(a/2)) / 2, so with W_ih, W_hh and the bias scaled
    by it ONE tanh per step serves all four gates."""
    scale = xp.full(4 * H, 0.5, dtype=dtype)
    scale[3 * H:] = 1.0
    return scale


_CHUNK = 8  # steps whose local factors the raw LSTM backward computes in one go


def _lstm_local_factors(xp, a, d, cs, tc, h, U, c0, t0, t1, reverse):
    """For steps t0 <= t < t1 (gate-major arrays, gates [o | i | f | g]), the factors of the
    pre-activation gradient that depend only on the forward's values:

        d = [tanh(c_t) sigma'(a_o) | g sigma'(a_i) | c_{t-1} sigma'(a_f) | i tanh'(a_g)]
        U = o (1 - tanh^2 c_t) = o - h_t tanh(c_t)          (dL/dc_t's share of dL/dh_t)

    with sigma' = sigma (1 - sigma) and tanh' = 1 - g^2 read off the saved activations. The
    backward loop then multiplies them by dL/dh_t and dL/dc_t, the only per-step inputs."""
    H = cs.shape[1]
    o, i, g = a[:, :H], a[:, H:2 * H], a[:, 3 * H:]
    xp.subtract(1.0, a[:, :3 * H], out=d[:, :3 * H])
    d[:, :3 * H] *= a[:, :3 * H]
    xp.multiply(g, g, out=d[:, 3 * H:])
    xp.subtract(1.0, d[:, 3 * H:], out=d[:, 3 * H:])
    d[:, :H] *= tc
    d[:, H:2 * H] *= g
    d[:, 3 * H:] *= i
    # c_{t-1} is the state of the step before: cs[t - 1] (cs[t + 1] running in reverse), and c0
    # for the sequence's first step, which the chunk holds if that index falls outside cs
    T = cs.shape[0]
    lo, hi = (t0 + 1, t1 + 1) if reverse else (t0 - 1, t1 - 1)
    df = d[:, 2 * H:3 * H]
    df[max(lo, 0) - lo:min(hi, T) - lo] *= cs[max(lo, 0):min(hi, T)]
    if lo < 0 or hi > T:
        df[-1 if reverse else 0] *= c0
    xp.multiply(h, tc, out=U)
    xp.subtract(o, U, out=U)


class LSTMSequenceFunction(_SequenceFunction):
    """An LSTM layer over a whole sequence (one direction). See the module docstring.

    Raw-array details (all for speed, none change the math):

    * Gate-major layout. The loop works on transposed states, h_t^T and c_t^T of shape
      (H, B), and pre-activations a_t^T of shape (4H, B): the per-step products W_hh h^T and
      W_hh^T dA^T then run up to a fifth faster than h W_hh^T and dA W_hh (OpenBLAS, B = 32),
      and each gate is a contiguous block of rows. ``output`` is turned back to (T, B, H) once,
      at the end of the forward.
    * Gate order [o | i | f | g] and one tanh for all gates: see ``_lstm_gate_layout``.
    * Every per-step result is written into a slice of a buffer allocated once (``out=``);
      the big buffers come from a pool kept between calls (``ops/scratch.py``).
    """

    n_scratch = 4  # act, cs, tcs, hs

    def forward(self, x, h0, c0, w_ih, w_hh, *b, reverse=False, record=True):
        xp = self.xp
        T, B, I = x.shape
        H = w_hh.shape[1]
        self.reverse = reverse
        scale = _lstm_gate_layout(xp, H, x.dtype)
        # G_x[t] = W_ih x_t^T (+ b_ih + b_hh) for every step in one batched product: (T, 4H, B)
        # (kept as `act`: each step turns its slice into the gate activations in place). The
        # bias rides in the product as one more column of W_ih against a row of ones under
        # x_t^T, instead of a pass of its own over act
        act = SCRATCH.take(xp, (T, 4 * H, B), x.dtype)
        w_x, x_t = xp.roll(w_ih, H, axis=0) * scale[:, None], x.transpose(0, 2, 1)
        if b:
            w_x = xp.concatenate([w_x, (xp.roll(b[0] + b[1], H) * scale)[:, None]], axis=1)
            x_t = xp.concatenate([x_t, xp.ones((T, 1, B), x.dtype)], axis=1)
        xp.matmul(w_x, x_t, out=act)
        w_hh_s = SCRATCH.take(xp, (4 * H, H), x.dtype)  # (cache-line aligned)
        # = roll(W_hh, H) * scale (``_lstm_gate_layout``), written block by block without
        # the rolled copy: [o | i | f] scaled by 1/2, then g (measured ~0.3 ms at 2 threads)
        xp.multiply(w_hh[3 * H:], scale[0], out=w_hh_s[:H])
        xp.multiply(w_hh[:2 * H], scale[0], out=w_hh_s[H:3 * H])
        w_hh_s[3 * H:] = w_hh[2 * H:3 * H]
        cs = SCRATCH.take(xp, (T, H, B), x.dtype)  # c_t^T of every step
        tcs = SCRATCH.take(xp, (T, H, B), x.dtype)  # tanh(c_t)^T
        hs = SCRATCH.take(xp, (T, H, B), x.dtype)  # h_t^T
        hw = xp.zeros((4 * H, B), dtype=x.dtype)
        # the state starts as h0 (a zero h0, nn.LSTM's default, adds nothing: no product)
        h, c = (xp.ascontiguousarray(h0.T) if _nonzero(self.backend, h0) else None), c0.T
        for t in _steps(T, reverse):
            # hw = W_hh h_{t-1} (zeros while h is)
            if h is not None:
                xp.matmul(w_hh_s, h, out=hw)
            # the gates, c_t, tanh(c_t), h_t: one CUDA kernel on a GPU
            self.backend.fused(_lstm_step, hw, c, act[t], cs[t], tcs[t], hs[t])
            h, c = hs[t], cs[t]
        out = aligned_empty(xp, (T, B, H), x.dtype)
        out[...] = hs.transpose(0, 2, 1)
        h_n, c_n = h.T.copy(), c.T.copy()  # (copies: the buffers go back to the pool)
        SCRATCH.give(xp, w_hh_s)
        self.save_for_backward(x, h0, c0, w_ih, w_hh, *b, out, act, cs, tcs, hs)
        if not record:  # no graph will keep them: the buffers go straight back to the pool
            SCRATCH.give(xp, act, cs, tcs, hs)
        return out, h_n, c_n

    def backward(self, gout, gh_n, gc_n):
        saved = self.saved_tensors
        x, h0, c0, w_ih, w_hh = saved[:5]
        b = saved[5:-5]
        need = self.needs_input_grad
        need_b = bool(b) and (need[5] or need[6])
        if is_grad_enabled():
            dx, dh0, dc0, dw_ih, dw_hh, db = _lstm_bptt_graph(
                x, h0, c0, w_ih, w_hh, b, gout, gh_n, gc_n, self.reverse, need, need_b)
            return (dx, dh0, dc0, dw_ih, dw_hh) + (db,) * len(b)
        xp = self.xp
        x, h0, c0, w_ih, w_hh, out, act, cs, tcs, hs = _raw((x, h0, c0, w_ih, w_hh) + saved[-5:])
        gout, dh, dc = _raw((gout, gh_n, gc_n))
        T, B, H = out.shape
        dA = SCRATCH.take(xp, (T, 4 * H, B), out.dtype)  # dL/da_t^T of every step
        w_hh_t = SCRATCH.take(xp, (H, 4 * H), w_hh.dtype)  # W_hh^T, rows rolled as in forward
        w_hh_t[:, :H], w_hh_t[:, H:] = w_hh[3 * H:].T, w_hh[:3 * H].T
        dh, dc = dh.T.copy(), dc.T.copy()  # (H, B), updated in place below
        U = SCRATCH.take(xp, (_CHUNK, H, B), out.dtype)
        order = list(reversed(_steps(T, self.reverse)))
        first = order[-1]
        for k in range(0, T, _CHUNK):
            # every factor of dA_t that does not depend on dL/dh_t or dL/dc_t, for a chunk of
            # steps at once (a few calls over several steps, instead of a dozen per step)
            t0, t1 = min(order[k:k + _CHUNK]), max(order[k:k + _CHUNK]) + 1
            _lstm_local_factors(xp, act[t0:t1], dA[t0:t1], cs, tcs[t0:t1], hs[t0:t1],
                                U[:t1 - t0], c0.T, t0, t1, self.reverse)
            for t in order[k:k + _CHUNK]:
                d = dA[t]
                # dh, dc and da_t of this step: one CUDA kernel on a GPU
                self.backend.fused(_lstm_step_backward, gout[t].T, U[t - t0],
                                   act[t, 2 * H:3 * H], dh, dc, d)
                # dL/dh_{t-1} = W_hh^T da_t (for the first step, dL/dh0: only if asked for)
                if t != first or need[1]:
                    xp.matmul(w_hh_t, d, out=dh)
        SCRATCH.give(xp, U)
        # the weight gradients are a few big products over all T*B rows (``_weight_grads``,
        # as for the GRU); they read dA batch-major, (T, B, 4H), which is a transposed view of a
        # gate-major (4H, T, B) copy (one transposing copy), with W_ih's rows rolled as in the
        # loop; rolling the results' rows by -H gives back PyTorch's gate order
        D = SCRATCH.take(xp, (4 * H, T, B), out.dtype)
        D[...] = dA.transpose(1, 0, 2)
        SCRATCH.give(xp, dA, w_hh_t)
        dx, dw_ih, dw_hh, _ = _weight_grads(D.transpose(1, 2, 0), x, out,
                                            None if T > 1 and not _nonzero(self.backend, h0) else h0,
                                            xp.roll(w_ih, H, axis=0) if need[0] else None,
                                            self.reverse, need[0], need[3], need[4], False)
        # db = sum of dA over all T*B columns of the gate-major copy (a GEMV, Backend.sum)
        db = self.backend.sum(D.reshape(4 * H, T * B), (1,)) if need_b else None
        dw_ih, dw_hh, db = (None if g is None else xp.roll(g, -H, axis=0)
                            for g in (dw_ih, dw_hh, db))
        SCRATCH.give(xp, D)
        grads = (dx, dh.T.copy() if need[1] else None, dc.T.copy() if need[2] else None,
                 dw_ih, dw_hh)
        return _wrap_all(grads + (db,) * len(b))


def _nonzero(backend, h0):
    """Whether h0 can hold a nonzero, for skipping its products while it is zero (nn.LSTM's
    default). On the CPU it is looked at; on a GPU looking would be a host sync, which costs
    more than the products it saves, so h0 is taken as it comes."""
    return bool(h0.any()) if backend.name == "cpu" else True


_GATES = ("o", "i", "f", "g")  # the raw loop's gate order (``_lstm_gate_layout``)


@fused(inputs=[("hw", tuple("hw_" + n for n in _GATES), 0), "c"],
       inouts=[("a", tuple("a_" + n for n in _GATES), 0), "c_t", "tc", "h_t"], outputs=[],
       body="""
    // a_t = G_x[t] + W_hh h_{t-1} (o, i, f rows scaled by 1/2): sigma = (1 + tanh) / 2
    a_o = tanh(a_o + hw_o) * (T)0.5 + (T)0.5;
    a_i = tanh(a_i + hw_i) * (T)0.5 + (T)0.5;
    a_f = tanh(a_f + hw_f) * (T)0.5 + (T)0.5;
    a_g = tanh(a_g + hw_g);
    // c_t = f c_{t-1} + i g,   h_t = o tanh(c_t)
    c_t = a_f * c + a_i * a_g;
    tc = tanh(c_t);
    h_t = a_o * tc;""")
def _lstm_step(xp, hw, c, a, c_t, tc, h_t):
    """One step of the raw LSTM loop, in place: the pre-activations a (4H, B), rows [o | i | f
    | g], become the gates; c_t, tanh(c_t) and h_t (H, B) are written. hw = W_hh h_{t-1}."""
    H = c.shape[0]
    # a_t = G_x[t] + W_hh h_{t-1};  o, i, f = sigma(.), g = tanh(.)
    a += hw
    xp.tanh(a, out=a)
    s = a[:3 * H]
    s *= 0.5
    s += 0.5
    o, i, f, g = a[:H], a[H:2 * H], a[2 * H:3 * H], a[3 * H:]
    # c_t = f c_{t-1} + i g
    xp.multiply(f, c, out=c_t)
    c_t += i * g
    # h_t = o tanh(c_t)
    xp.tanh(c_t, out=tc)
    xp.multiply(o, tc, out=h_t)


@fused(inputs=["gout", "U", "f"],
       inouts=["dh", "dc", ("d", tuple("d_" + n for n in _GATES), 0)], outputs=[], body="""
    dh += gout;
    dc += dh * U;
    d_o *= dh;
    d_i *= dc;  d_f *= dc;  d_g *= dc;
    dc *= f;""")
def _lstm_step_backward(xp, gout, U, f, dh, dc, d):
    """One step of the raw LSTM backward, in place on dh, dc (H, B) and d (4H, B), which holds
    the step's local factors (``_lstm_local_factors``) and becomes dL/da_t."""
    H = dh.shape[0]
    # dL/dh_t = (from the output at t) + (from step t+1)
    dh += gout
    # dc_t += dh_t o (1 - tanh^2 c_t)
    dc += dh * U
    # da_o = dh_t [tanh(c_t) sigma'(a_o)]
    d[:H] *= dh
    # [da_i | da_f | da_g] = dc_t [g sigma'(a_i) | c_{t-1} sigma'(a_f) | i tanh'(a_g)]
    d_ifg = d[H:].reshape(3, H, -1)
    d_ifg *= dc
    # dL/dc_{t-1} = dc_t f
    dc *= f


def _lstm_bptt_graph(x, h0, c0, w_ih, w_hh, b, gout, gh_n, gc_n, reverse, need, need_b):
    """The same BPTT as LSTMSequenceFunction.backward, in minigen ops (for create_graph)."""
    m = TENSOR_MATH
    T, B, I = x.shape
    gx = x.reshape(T * B, I) @ w_ih.T
    if b:
        gx = gx + b[0] + b[1]
    gx = gx.reshape(T, B, -1)
    h, c, w_hh_t = h0, c0, w_hh.T
    rec, hs = [None] * T, [None] * T
    for t in _steps(T, reverse):
        i, f, g, o, c_new, tc, h_new = _lstm_pointwise(m, gx[t] + h @ w_hh_t, c)
        rec[t] = (i, f, g, o, c, tc)
        h = hs[t] = h_new
        c = c_new
    dh, dc = gh_n, gc_n
    das = [None] * T
    for t in reversed(_steps(T, reverse)):
        dh = dh + gout[t]
        das[t], dc = _lstm_backward_step(m, dh, dc, *rec[t])
        dh = das[t] @ w_hh
    dx, dw_ih, dw_hh, db = _weight_grads(stack(das), x, stack(hs), h0, w_ih, reverse, need[0],
                                         need[3], need[4], need_b)
    return dx, dh if need[1] else None, dc if need[2] else None, dw_ih, dw_hh, db


# ----------------------------------------------------------------------------- public
def _check_sequence(op, input, hs, w_ih, w_hh, b_ih, b_hh, gates):
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: expected input to be a Tensor, got {type(input).__name__}")
    if input.ndim != 3 or input.shape[0] == 0:
        raise RuntimeError(f"{op}: expected input of shape [seq_len >= 1, batch, input_size], "
                           f"got input{list(input.shape)}")
    step = _wrap(input.array[0])  # shape/dtype/device of one step, for the shared checks
    return check_cell_args(op, step, hs, w_ih, w_hh, b_ih, b_hh, gates)


def _records(tensors):
    """Whether Function.apply will record a graph node for these inputs."""
    return is_grad_enabled() and any(t.requires_grad for t in tensors)


def lstm_sequence(input, hx, cx, w_ih, w_hh, b_ih=None, b_hh=None, reverse=False):
    """Run one LSTM layer (one direction) over input (T, B, I) from states hx, cx (B, H).

    Returns (output (T, B, H), h_n (B, H), c_n (B, H)). ``reverse=True`` runs t = T-1 .. 0.
    """
    b = _check_sequence("lstm_sequence", input, (hx, cx), w_ih, w_hh, b_ih, b_hh, 4)
    args = (input, hx, cx, w_ih, w_hh, *b)
    return LSTMSequenceFunction.apply(*args, reverse=bool(reverse), record=_records(args))
