"""Recurrent cells: one time step of an Elman RNN, an LSTM and a GRU.

    rnn_tanh_cell(x, h, W_ih, W_hh, b_ih, b_hh)   h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)
    rnn_relu_cell(...)                            the same with relu
    lstm_cell(x, h, c, W_ih, W_hh, b_ih, b_hh)    (h', c'), gates in PyTorch's order i, f, g, o
    gru_cell(x, h, W_ih, W_hh, b_ih, b_hh)        h', gates in PyTorch's order r, z, n

The Elman cells are composites of primitive ops. ``lstm_cell`` and ``gru_cell`` are single
Functions whose backward is derived by hand in their docstrings. The whole-sequence layers that
``nn.LSTM`` / ``nn.GRU`` run (one Function per layer and direction, with its own BPTT backward)
live in ``ops/rnn_sequence.py`` (LSTM) and ``ops/gru_sequence.py`` and share the per-step math
written here.

One piece of math, two executors. The gate math below (``_lstm_pointwise``,
``_lstm_backward_step``, ``_gru_pointwise``, ``_gru_backward_step``) only uses ``+ - *``, ``.T``,
``@`` and the three functions of a small namespace ``m`` (sigmoid, tanh, cat/split along the last
dim). Given raw arrays and ``_ArrayMath`` it runs at NumPy/CuPy speed with no graph (on a GPU
as one fused CUDA kernel per step, whose body repeats the lines in CUDA C++); given
Tensors and ``TENSOR_MATH`` it runs as minigen ops and records a graph. A backward uses the
first when no graph is being recorded and the second under ``create_graph=True``, so the
gradient is differentiable again (second order is exact) while first-order training pays
nothing for it.
"""
from __future__ import annotations

from ..autograd import Function, Tensor, _wrap, is_grad_enabled
from ..backend import backend_of, fused
from .unary import relu, sigmoid, tanh
from .join import cat, chunk

__all__ = ["rnn_tanh_cell", "rnn_relu_cell", "lstm_cell", "gru_cell",
           "lstm_sequence", "gru_sequence"]


# ----------------------------------------------------------------------------- two executors
class _ArrayMath:
    """Gate math on raw arrays of one array module (NumPy or CuPy)."""

    __slots__ = ("xp",)

    def __init__(self, xp):
        self.xp = xp

    def sigmoid(self, a):
        # sigma(a) = (1 + tanh(a / 2)) / 2: the same function, one transcendental, no overflow
        return 0.5 * self.xp.tanh(0.5 * a) + 0.5

    def tanh(self, a):
        return self.xp.tanh(a)

    def cat(self, parts):
        return self.xp.concatenate(parts, axis=-1)

    def split(self, a, n):
        k = a.shape[-1] // n
        return [a[..., j * k:(j + 1) * k] for j in range(n)]

    @staticmethod
    def run(raw, math, *arrays):
        """``math(self, *arrays)``, through its ``@fused`` raw form ``raw``: one CUDA kernel
        for the whole gate math on a GPU, the same lines as NumPy operations here."""
        return backend_of(arrays[0]).fused(raw, *arrays)


class _TensorMath:
    """The same gate math as minigen ops (records a graph when grad mode is on)."""

    sigmoid = staticmethod(sigmoid)
    tanh = staticmethod(tanh)

    @staticmethod
    def cat(parts):
        return cat(parts, dim=-1)

    @staticmethod
    def split(a, n):
        return chunk(a, n, dim=-1)

    def run(self, raw, math, *tensors):
        return math(self, *tensors)


TENSOR_MATH = _TensorMath()


def _raw(ts):
    return [None if t is None else t.array for t in ts]


def _wrap_all(arrays):
    return tuple(None if a is None else _wrap(a) for a in arrays)


def _affine_grads(da, x, w, need_x, need_w, need_b):
    """Gradients of  a = x W^T + b  given dL/da (arrays or tensors alike):
    dL/dx = dL/da W,  dL/dW = dL/da^T x,  dL/db = sum over the batch of dL/da."""
    dx = da @ w if need_x else None
    dw = da.T @ x if need_w else None
    db = da.sum(0) if need_b else None
    return dx, dw, db


# ----------------------------------------------------------------------------- LSTM step math
def _lstm_gates(m, a_i, a_f, a_g, a_o, c):
    """i, f, g, o, c' = f c + i g, tanh(c'), h' = o tanh(c') from the gates' pre-activations."""
    i, f, g, o = m.sigmoid(a_i), m.sigmoid(a_f), m.tanh(a_g), m.sigmoid(a_o)
    # c' = f * c + i * g
    c_new = f * c + i * g
    tc = m.tanh(c_new)
    # h' = o * tanh(c')
    return i, f, g, o, c_new, tc, o * tc


# sigma(a) = (1 + tanh(a / 2)) / 2, as _ArrayMath.sigmoid
_SIGMOID = "((T)0.5 * tanh((T)0.5 * ({})) + (T)0.5)"


@fused(inputs=["a_i", "a_f", "a_g", "a_o", "c"],
       outputs=["ig", "fg", "gg", "og", "c_new", "tc", "h_new"], body=f"""
    ig = {_SIGMOID.format("a_i")};  fg = {_SIGMOID.format("a_f")};
    gg = tanh(a_g);  og = {_SIGMOID.format("a_o")};
    // c' = f c + i g,   h' = o tanh(c')
    c_new = fg * c + ig * gg;
    tc = tanh(c_new);
    h_new = og * tc;""")
def _lstm_gates_raw(xp, a_i, a_f, a_g, a_o, c):
    return _lstm_gates(_ArrayMath(xp), a_i, a_f, a_g, a_o, c)


def _lstm_pointwise(m, a, c):
    """From pre-activations a = [a_i | a_f | a_g | a_o] and the cell state c:
    i, f, g, o, c' = f c + i g, tanh(c'), h' = o tanh(c')."""
    return m.run(_lstm_gates_raw, _lstm_gates, *m.split(a, 4), c)


def _lstm_backward_gates(m, gh, gc, i, f, g, o, c, tc):
    """dL/da_i, dL/da_f, dL/da_g, dL/da_o and dL/dc of one step (derivation: LSTMCellFunction)."""
    # dL/dc' (total) = gc + gh * o * (1 - tanh^2 c')
    dc_new = gc + gh * o * (1.0 - tc * tc)
    # dL/da_i = dc' g sigma'(a_i),  sigma' = sigma (1 - sigma)
    da_i = dc_new * g * i * (1.0 - i)
    # dL/da_f = dc' c sigma'(a_f)
    da_f = dc_new * c * f * (1.0 - f)
    # dL/da_g = dc' i (1 - g^2)
    da_g = dc_new * i * (1.0 - g * g)
    # dL/da_o = gh tanh(c') sigma'(a_o)
    da_o = gh * tc * o * (1.0 - o)
    # dL/dc = dc' f
    return da_i, da_f, da_g, da_o, dc_new * f


@fused(inputs=["gh", "gc", "ig", "fg", "gg", "og", "c", "tc"],
       outputs=["da_i", "da_f", "da_g", "da_o", "dc"], body="""
    T dc_new = gc + gh * og * ((T)1 - tc * tc);
    da_i = dc_new * gg * ig * ((T)1 - ig);
    da_f = dc_new * c * fg * ((T)1 - fg);
    da_g = dc_new * ig * ((T)1 - gg * gg);
    da_o = gh * tc * og * ((T)1 - og);
    dc = dc_new * fg;""")
def _lstm_backward_raw(xp, gh, gc, i, f, g, o, c, tc):
    return _lstm_backward_gates(_ArrayMath(xp), gh, gc, i, f, g, o, c, tc)


def _lstm_backward_step(m, gh, gc, i, f, g, o, c, tc):
    """(dL/da, dL/dc) of one LSTM step from dL/dh', dL/dc' (derivation: LSTMCellFunction)."""
    *da, dc = m.run(_lstm_backward_raw, _lstm_backward_gates, gh, gc, i, f, g, o, c, tc)
    return m.cat(da), dc


def _preact(x, w_ih, h, w_hh, b):
    # a = x W_ih^T + b_ih + h W_hh^T + b_hh
    a = x @ w_ih.T + h @ w_hh.T
    if b:
        a = a + b[0] + b[1]
    return a


class LSTMCellFunction(Function):
    """One LSTM step as a single op:  (h', c') = lstm_cell(x, h, c, W_ih, W_hh, b_ih, b_hh).

    Forward (gates stacked in PyTorch's order i, f, g, o along the last dim of a):
        a = x W_ih^T + b_ih + h W_hh^T + b_hh            a = [a_i | a_f | a_g | a_o], (B, 4H)
        i = sigma(a_i)  f = sigma(a_f)  g = tanh(a_g)  o = sigma(a_o)
        c' = f c + i g
        h' = o tanh(c')

    Backward. Given gh = dL/dh' and gc = dL/dc' (c' feeds the loss directly and through h'):
        dc'  = gc + gh o (1 - tanh^2 c')              (h' = o tanh c',  d tanh = 1 - tanh^2)
        da_o = gh tanh(c') o (1 - o)                  (d sigma(a)/da = sigma (1 - sigma))
        da_i = dc' g i (1 - i)                        (c' = f c + i g)
        da_f = dc' c f (1 - f)
        da_g = dc' i (1 - g^2)
        dc   = dc' f
    and with da = [da_i | da_f | da_g | da_o], because a is affine in x, h and the weights:
        dx = da W_ih    dh = da W_hh    dW_ih = da^T x    dW_hh = da^T h
        db_ih = db_hh = sum over the batch of da.

    The backward runs the same lines on raw arrays (first order) or, under create_graph=True,
    on gates rebuilt from the saved inputs with minigen ops, so it is differentiable again.
    """

    def forward(self, x, h, c, w_ih, w_hh, *b):
        m = _ArrayMath(self.xp)
        i, f, g, o, c_new, tc, h_new = _lstm_pointwise(m, _preact(x, w_ih, h, w_hh, b), c)
        # gates and tanh(c') are intermediates: saved as constants for the first-order path
        self.save_for_backward(x, h, c, w_ih, w_hh, *b, i, f, g, o, tc)
        return h_new, c_new

    def backward(self, gh, gc):
        saved = self.saved_tensors
        nb = len(saved) - 10
        x, h, c, w_ih, w_hh = saved[:5]
        b = saved[5:5 + nb]
        if is_grad_enabled():  # create_graph: the gates as graph tensors of the inputs
            m = TENSOR_MATH
            i, f, g, o, _, tc, _ = _lstm_pointwise(m, _preact(x, w_ih, h, w_hh, b), c)
        else:                  # first order: the same math on raw arrays
            m = _ArrayMath(self.xp)
            x, h, c, w_ih, w_hh, gh, gc = _raw((x, h, c, w_ih, w_hh, gh, gc))
            i, f, g, o, tc = _raw(saved[5 + nb:])
        need = self.needs_input_grad
        da, dc = _lstm_backward_step(m, gh, gc, i, f, g, o, c, tc)
        dx, dw_ih, db = _affine_grads(da, x, w_ih, need[0], need[3], nb and (need[5] or need[6]))
        dh, dw_hh, _ = _affine_grads(da, h, w_hh, need[1], need[4], False)
        grads = [dx, dh, dc if need[2] else None, dw_ih, dw_hh] + [db] * nb
        return tuple(grads) if m is TENSOR_MATH else _wrap_all(grads)


# ----------------------------------------------------------------------------- GRU step math
def _gru_gates(m, x_r, x_z, x_n, h_r, h_z, h_n, h):
    """r, z, n and h' from the input and hidden parts of the pre-activations."""
    r = m.sigmoid(x_r + h_r)
    z = m.sigmoid(x_z + h_z)
    # n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
    n = m.tanh(x_n + r * h_n)
    # h' = (1 - z) n + z h  =  n + z (h - n)
    return r, z, n, n + z * (h - n)


@fused(inputs=["x_r", "x_z", "x_n", "h_r", "h_z", "h_n", "h"], outputs=["r", "z", "nc", "h_new"],
       body=f"""
    r = {_SIGMOID.format("x_r + h_r")};
    z = {_SIGMOID.format("x_z + h_z")};
    nc = tanh(x_n + r * h_n);   // n
    h_new = nc + z * (h - nc);""")
def _gru_gates_raw(xp, x_r, x_z, x_n, h_r, h_z, h_n, h):
    return _gru_gates(_ArrayMath(xp), x_r, x_z, x_n, h_r, h_z, h_n, h)


def _gru_pointwise(m, gx, gh, h):
    """From the input part gx = [x_r | x_z | x_n] and the hidden part gh = [h_r | h_z | h_n] of
    the pre-activations: r, z, n, h_n (kept: the backward needs it) and h'."""
    x_r, x_z, x_n = m.split(gx, 3)
    h_r, h_z, h_n = m.split(gh, 3)
    r, z, n, h_new = m.run(_gru_gates_raw, _gru_gates, x_r, x_z, x_n, h_r, h_z, h_n, h)
    return r, z, n, h_n, h_new


def _gru_backward_gates(m, gy, h, r, z, n, h_n):
    """dL/da_r, dL/da_z, dL/da_n, dL/dh_n and the direct part of dL/dh of one step."""
    # dL/da_n = gy (1 - z) (1 - n^2)
    da_n = gy * (1.0 - z) * (1.0 - n * n)
    # dL/da_z = gy (h - n) z (1 - z)
    da_z = gy * (h - n) * z * (1.0 - z)
    # dL/da_r = da_n h_n r (1 - r)
    da_r = da_n * h_n * r * (1.0 - r)
    # the hidden part of a_n is r * h_n, so dL/dh_n = da_n r;  h' = ... + z h, so dh = gy z
    return da_r, da_z, da_n, da_n * r, gy * z


@fused(inputs=["gy", "h", "r", "z", "nc", "h_n"], outputs=["da_r", "da_z", "da_n", "dh_n", "dh"],
       body="""
    da_n = gy * ((T)1 - z) * ((T)1 - nc * nc);
    da_z = gy * (h - nc) * z * ((T)1 - z);
    da_r = da_n * h_n * r * ((T)1 - r);
    dh_n = da_n * r;
    dh = gy * z;""")
def _gru_backward_raw(xp, gy, h, r, z, n, h_n):
    return _gru_backward_gates(_ArrayMath(xp), gy, h, r, z, n, h_n)


def _gru_backward_step(m, gy, h, r, z, n, h_n):
    """(dL/dgx, dL/dgh, the direct part of dL/dh) of one GRU step (derivation: GRUCellFunction)."""
    da_r, da_z, da_n, dh_n, dh = m.run(_gru_backward_raw, _gru_backward_gates, gy, h, r, z, n, h_n)
    return m.cat([da_r, da_z, da_n]), m.cat([da_r, da_z, dh_n]), dh


def _gru_parts(x, w_ih, h, w_hh, b):
    # gx = x W_ih^T + b_ih,  gh = h W_hh^T + b_hh
    gx, gh = x @ w_ih.T, h @ w_hh.T
    if b:
        gx, gh = gx + b[0], gh + b[1]
    return gx, gh


class GRUCellFunction(Function):
    """One GRU step as a single op:  h' = gru_cell(x, h, W_ih, W_hh, b_ih, b_hh).

    Forward (PyTorch's gate order r, z, n; the input and hidden parts stay apart because r
    multiplies only the hidden part of the candidate n):
        gx = x W_ih^T + b_ih = [x_r | x_z | x_n]      gh = h W_hh^T + b_hh = [h_r | h_z | h_n]
        r = sigma(x_r + h_r)    z = sigma(x_z + h_z)    n = tanh(x_n + r h_n)
        h' = (1 - z) n + z h

    Backward. Given gy = dL/dh':
        dn   = gy (1 - z)          dz = gy (h - n)          dh (direct) = gy z
        da_n = dn (1 - n^2)                                  (pre-activation of n)
        da_z = dz z (1 - z)
        dr   = da_n h_n  ->  da_r = dr r (1 - r)
        dh_n = da_n r
    so  dgx = [da_r | da_z | da_n]  and  dgh = [da_r | da_z | da_n r],  and then
        dx = dgx W_ih   dW_ih = dgx^T x   db_ih = sum_batch dgx
        dh = dgh W_hh + gy z   dW_hh = dgh^T h   db_hh = sum_batch dgh.

    As for the LSTM cell, the backward is raw arrays at first order and minigen ops (gates
    rebuilt from the saved inputs) under create_graph=True.
    """

    def forward(self, x, h, w_ih, w_hh, *b):
        m = _ArrayMath(self.xp)
        r, z, n, h_n, h_new = _gru_pointwise(m, *_gru_parts(x, w_ih, h, w_hh, b), h)
        self.save_for_backward(x, h, w_ih, w_hh, *b, r, z, n, h_n)
        return h_new

    def backward(self, gy):
        saved = self.saved_tensors
        nb = len(saved) - 8
        x, h, w_ih, w_hh = saved[:4]
        b = saved[4:4 + nb]
        if is_grad_enabled():
            m = TENSOR_MATH
            r, z, n, h_n, _ = _gru_pointwise(m, *_gru_parts(x, w_ih, h, w_hh, b), h)
        else:
            m = _ArrayMath(self.xp)
            x, h, w_ih, w_hh, gy = _raw((x, h, w_ih, w_hh, gy))
            r, z, n, h_n = _raw(saved[4 + nb:])
        need = self.needs_input_grad
        dgx, dgh, dh_direct = _gru_backward_step(m, gy, h, r, z, n, h_n)
        dx, dw_ih, db_ih = _affine_grads(dgx, x, w_ih, need[0], need[2], nb and need[4])
        dh, dw_hh, db_hh = _affine_grads(dgh, h, w_hh, need[1], need[3], nb and need[5])
        if dh is not None:
            dh = dh + dh_direct
        grads = [dx, dh, dw_ih, dw_hh] + ([db_ih, db_hh] if nb else [])
        return tuple(grads) if m is TENSOR_MATH else _wrap_all(grads)


# ----------------------------------------------------------------------------- checks
def check_cell_args(op, x, hs, w_ih, w_hh, b_ih, b_hh, gates):
    """Shape, dtype and device checks shared by the cell functions; returns the bias tuple."""
    for name, t in (("input", x), ("weight_ih", w_ih), ("weight_hh", w_hh)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: expected {name} to be a Tensor, got {type(t).__name__}")
    if w_hh.ndim != 2 or w_ih.ndim != 2:
        raise RuntimeError(f"{op}: expected 2-D weights, got weight_ih{list(w_ih.shape)} and "
                           f"weight_hh{list(w_hh.shape)}")
    H = w_hh.shape[1]
    if w_hh.shape[0] != gates * H or w_ih.shape[0] != gates * H:
        raise RuntimeError(f"{op}: expected weight_ih and weight_hh to have {gates} * hidden_size "
                           f"= {gates * H} rows, got weight_ih{list(w_ih.shape)} and "
                           f"weight_hh{list(w_hh.shape)}")
    if x.ndim != 2 or x.shape[1] != w_ih.shape[1]:
        raise RuntimeError(f"{op}: expected input of shape [batch, {w_ih.shape[1]}], got "
                           f"input{list(x.shape)}")
    for k, h in enumerate(hs):
        if tuple(h.shape) != (x.shape[0], H):
            raise RuntimeError(f"{op}: expected hidden state {k} of shape [{x.shape[0]}, {H}] "
                               f"(batch of input{list(x.shape)}, hidden_size {H}), got "
                               f"{list(h.shape)}")
    if (b_ih is None) != (b_hh is None):
        raise ValueError(f"{op}: pass both b_ih and b_hh, or neither")
    b = () if b_ih is None else (b_ih, b_hh)
    for t in b:
        if tuple(t.shape) != (gates * H,):
            raise RuntimeError(f"{op}: expected biases of shape [{gates * H}], got {list(t.shape)}")
    for t in (*hs, w_ih, w_hh, *b):
        if t.dtype != x.dtype:
            raise RuntimeError(f"{op}: expected all tensors to have dtype {x.dtype} (the "
                               f"input's), got {t.dtype} for a tensor of shape {list(t.shape)}")
    return b


# ----------------------------------------------------------------------------- public cells
def lstm_cell(input, hx, cx, w_ih, w_hh, b_ih=None, b_hh=None):
    """One LSTM step for a batch: returns (h', c'), each (B, H). See ``LSTMCellFunction``."""
    b = check_cell_args("lstm_cell", input, (hx, cx), w_ih, w_hh, b_ih, b_hh, 4)
    return LSTMCellFunction.apply(input, hx, cx, w_ih, w_hh, *b)


def gru_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """One GRU step for a batch: returns h' (B, H). See ``GRUCellFunction``."""
    b = check_cell_args("gru_cell", input, (hx,), w_ih, w_hh, b_ih, b_hh, 3)
    return GRUCellFunction.apply(input, hx, w_ih, w_hh, *b)


def _elman(op, act, input, hx, w_ih, w_hh, b_ih, b_hh):
    b = check_cell_args(op, input, (hx,), w_ih, w_hh, b_ih, b_hh, 1)
    # h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh): a composite, its gradient from the ops
    return act(_preact(input, w_ih, hx, w_hh, b))


def rnn_tanh_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """One Elman step, h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh) (a composite of ops)."""
    return _elman("rnn_tanh_cell", tanh, input, hx, w_ih, w_hh, b_ih, b_hh)


def rnn_relu_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """One Elman step, h' = relu(x W_ih^T + b_ih + h W_hh^T + b_hh) (a composite of ops)."""
    return _elman("rnn_relu_cell", relu, input, hx, w_ih, w_hh, b_ih, b_hh)


from .rnn_sequence import lstm_sequence  # noqa: E402
from .gru_sequence import gru_sequence  # noqa: E402
