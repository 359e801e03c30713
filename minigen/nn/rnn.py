"""Recurrent layers with PyTorch's names, arguments, parameter names and shapes.

    RNN, LSTM, GRU              a whole sequence, any number of layers, one or two directions
    RNNCell, LSTMCell, GRUCell  one time step

Shapes (as in PyTorch): input (L, N, H_in), or (N, L, H_in) with ``batch_first=True``, or an
unbatched (L, H_in), or a ``PackedSequence`` (``nn.utils.rnn``; the output is then one too,
and h_n holds each sequence's state at its own length); states (num_layers * num_directions, N, H_out), or without N for an
unbatched input. Parameters are named ``weight_ih_l{k}``, ``weight_hh_l{k}``, ``bias_ih_l{k}``,
``bias_hh_l{k}`` (with ``_reverse`` for the backward direction), the gate rows stacked in
PyTorch's order (LSTM i, f, g, o; GRU r, z, n), so a PyTorch state dict loads as it is.
Every weight starts as U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)), PyTorch's default.

The math of each step is in ``minigen/ops/rnn.py``; ``LSTM`` and ``GRU`` run every layer and
direction as one whole-sequence Function (``ops/rnn_sequence.py``, ``ops/gru_sequence.py``):
one matrix product for the input part of all time steps, then only h W_hh^T per step, and a
hand-written BPTT backward.
``RNN`` (Elman) runs the same plan as a composite of ops.
"""
from __future__ import annotations

import math
import warnings

from .. import creation
from ..autograd import Tensor
from ..ops.unary import relu, tanh
from ..ops.rnn import TENSOR_MATH, _lstm_pointwise, gru_cell, gru_sequence, lstm_cell, \
    lstm_sequence, rnn_relu_cell, rnn_tanh_cell
from ..ops.join import cat, stack
from .module import Module
from .parameter import Parameter
from .utils.rnn import PackedSequence

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]


def _uniform_(p, k):
    """Fill p from U(-k, k) (PyTorch's default for every recurrent weight, k = 1/sqrt(H))."""
    u = creation.rand(*p.shape, dtype=p.dtype, device=p.device)
    p.array = ((u * 2.0 - 1.0) * k).array


def _new_param(shape, k, device, dtype):
    p = Parameter(creation.empty(*shape, dtype=dtype, device=device))
    _uniform_(p, k)
    return p


def _check_size(name, value):
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


def _dropout(x, p):
    """Inverted dropout between layers: keep each element with probability 1 - p, scale the
    kept ones by 1 / (1 - p) so the expected value is unchanged."""
    if p >= 1.0:
        return x * 0.0
    keep = creation.rand(*x.shape, dtype=x.dtype, device=x.device) >= p
    return x * keep.to(x.dtype) * (1.0 / (1.0 - p))


# ----------------------------------------------------------------------------- layers
class RNNBase(Module):
    """What RNN, LSTM and GRU share: parameters, argument checks, the layer/direction loop."""

    _gates = 1  # rows of W_ih per hidden unit: 1 (Elman), 4 (LSTM), 3 (GRU)
    _n_states = 1  # 2 for the LSTM: (h, c)

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, device=None, dtype=None, proj_size=0):
        super().__init__()
        name = type(self).__name__
        _check_size("input_size", input_size)
        _check_size("hidden_size", hidden_size)
        _check_size("num_layers", num_layers)
        if not isinstance(proj_size, int) or isinstance(proj_size, bool) or proj_size < 0:
            raise ValueError("proj_size should be a positive integer or zero to disable "
                             "projections")
        if proj_size and self._n_states != 2:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        if proj_size >= hidden_size:
            raise ValueError("proj_size has to be smaller than hidden_size")
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) \
                or not 0 <= dropout <= 1:
            raise ValueError("dropout should be a number in range [0, 1] representing the "
                             f"probability of an element being zeroed, got {dropout!r}")
        if dropout > 0 and num_layers == 1:
            warnings.warn(f"{name}: dropout option adds dropout after all but last recurrent "
                          f"layer, so non-zero dropout expects num_layers greater than 1, but got "
                          f"dropout={dropout} and num_layers={num_layers}", UserWarning)
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first = bool(bias), bool(batch_first)
        self.dropout, self.bidirectional = float(dropout), bool(bidirectional)
        self.proj_size = proj_size
        D = 2 if bidirectional else 1
        G, H = self._gates, hidden_size
        P = proj_size or H  # the size of h (and of each direction's output)
        k = 1.0 / math.sqrt(hidden_size)
        self._flat_weights_names = []
        for layer in range(num_layers):
            in_size = input_size if layer == 0 else P * D
            for d in range(D):
                sfx = f"_l{layer}" + ("_reverse" if d else "")
                shapes = [("weight_ih", (G * H, in_size)), ("weight_hh", (G * H, P))]
                if bias:
                    shapes += [("bias_ih", (G * H,)), ("bias_hh", (G * H,))]
                if proj_size:
                    shapes += [("weight_hr", (P, H))]
                for pname, shape in shapes:
                    setattr(self, pname + sfx, _new_param(shape, k, device, dtype))
                    self._flat_weights_names.append(pname + sfx)

    def reset_parameters(self):
        k = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            _uniform_(p, k)

    def flatten_parameters(self):
        """A no-op, for PyTorch compatibility (cuDNN's packed weights do not exist here)."""

    @property
    def all_weights(self):
        n = (4 if self.bias else 2) + (1 if self.proj_size else 0)
        ws = [getattr(self, w) for w in self._flat_weights_names]
        return [ws[i:i + n] for i in range(0, len(ws), n)]

    def _weights(self, layer, d):
        sfx = f"_l{layer}" + ("_reverse" if d else "")
        w = (getattr(self, "weight_ih" + sfx), getattr(self, "weight_hh" + sfx))
        if self.bias:
            w += (getattr(self, "bias_ih" + sfx), getattr(self, "bias_hh" + sfx))
        if self.proj_size:
            w += (getattr(self, "weight_hr" + sfx),)
        return w

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s

    # -- forward -------------------------------------------------------------------------
    def _check_input(self, input):
        name = type(self).__name__
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}: expected input to be a Tensor, got {type(input).__name__}")
        if input.ndim not in (2, 3):
            raise RuntimeError(f"{name}: Expected input to be 2D or 3D, got {input.ndim}D instead")
        if input.shape[-1] != self.input_size:
            raise RuntimeError(f"{name}: input.size(-1) must be equal to input_size. Expected "
                               f"{self.input_size}, got {input.shape[-1]} "
                               f"(input{list(input.shape)})")
        w = self.weight_ih_l0
        if input.dtype != w.dtype:
            raise RuntimeError(f"{name}: input dtype ({input.dtype}) does not match weight dtype "
                               f"({w.dtype}). Convert input: input.to({w.dtype}), or convert "
                               f"model: model.to({input.dtype})")

    def _check_hidden(self, h, k, batched, B):
        name = type(self).__name__
        D = 2 if self.bidirectional else 1
        size = self.proj_size if (self.proj_size and k == 0) else self.hidden_size
        want = (self.num_layers * D, B, size) if batched else (self.num_layers * D, size)
        if not isinstance(h, Tensor):
            raise TypeError(f"{name}: expected hx to be a Tensor, got {type(h).__name__}")
        if h.ndim != len(want):
            raise RuntimeError(f"{name}: for {'batched 3' if batched else 'unbatched 2'}-D input, "
                               f"hx should also be {len(want)}-D but got {h.ndim}-D tensor")
        if tuple(h.shape) != want:
            raise RuntimeError(f"{name}: Expected hidden[{k}] size {want}, got {list(h.shape)}")
        if h.dtype != self.weight_ih_l0.dtype:
            raise RuntimeError(f"{name}: expected hidden[{k}] of dtype "
                               f"{self.weight_ih_l0.dtype}, got {h.dtype}")
        return h if batched else h.unsqueeze(1)

    def forward(self, input, hx=None):
        if isinstance(input, PackedSequence):
            return self._forward_packed(input, hx)
        self._check_input(input)
        batched = input.ndim == 3
        x = input if batched else input.unsqueeze(1)
        if batched and self.batch_first:
            x = x.transpose(0, 1)
        B = x.shape[1]
        D = 2 if self.bidirectional else 1
        if hx is None:
            states = [[z] * (self.num_layers * D) for z in self._zero_states(B, x)]
        else:
            if self._n_states > 1 and not (isinstance(hx, (tuple, list)) and len(hx) == 2):
                raise RuntimeError(f"{type(self).__name__}: expected hx to be a tuple (h_0, c_0), "
                                   f"got {type(hx).__name__}")
            hs = tuple(hx) if self._n_states > 1 else (hx,)
            states = [list(self._check_hidden(h, k, batched, B)) for k, h in enumerate(hs)]
        finals = [[] for _ in range(self._n_states)]
        for layer in range(self.num_layers):
            outs = []
            for d in range(D):
                idx = layer * D + d
                res = self._run(x, [s[idx] for s in states], self._weights(layer, d), bool(d))
                outs.append(res[0])
                for f, s in zip(finals, res[1:]):
                    f.append(s)
            x = outs[0] if D == 1 else cat(outs, dim=2)
            if self.training and self.dropout > 0 and layer < self.num_layers - 1:
                x = _dropout(x, self.dropout)
        finals = [stack(f) for f in finals]
        if batched and self.batch_first:
            x = x.transpose(0, 1)
        if not batched:
            x = x.squeeze(1)
            finals = [f.squeeze(1) for f in finals]
        return x, (finals[0] if self._n_states == 1 else tuple(finals))

    def _zero_states(self, B, like):
        """The default initial state(s) of one layer and direction: zeros (B, H) (h of an LSTM
        with projections: (B, proj_size))."""
        sizes = [self.hidden_size] * self._n_states
        if self.proj_size:
            sizes[0] = self.proj_size
        return [creation.zeros(B, n, dtype=like.dtype, device=like.device) for n in sizes]

    def _run(self, x, states, weights, reverse):
        """One layer, one direction: (output (T, B, H), final state(s))."""
        raise NotImplementedError

    def _run_steps(self, x, states, weights, reverse):
        """``_run`` as a loop of ``_step`` over the time steps (T, B, I)."""
        T = x.shape[0]
        outs, h = [None] * T, list(states)
        for t in (range(T - 1, -1, -1) if reverse else range(T)):
            h = self._step(x[t], h, weights)
            outs[t] = h[0]
        return (stack(outs), *h)

    def _step(self, x, states, weights):
        """One time step of one layer and direction: the new state(s), as a tuple."""
        raise NotImplementedError

    # -- packed sequences ----------------------------------------------------------------
    def _forward_packed(self, input, hx):
        """PyTorch's recurrence over a PackedSequence: returns (PackedSequence output, h_n),
        h_n holding each sequence's state at its own last step, in the original batch order.

        With the batch sorted by decreasing length, step t of a direction updates only the first
        b_t = batch_sizes[t] states (the sequences still running); the others keep theirs:

            forward  (t = 0 .. T-1): rows b_t.. are final once they stop (b_t only shrinks)
            backward (t = T-1 .. 0): rows join as b_t grows, each from its initial state, so
                                     every sequence starts at its own last step

        Each step is the layer's cell op (``rnn_*_cell``, ``lstm_cell``, ``gru_cell``), so the
        gradient is the cells' and the slices' and concatenations' between them.
        """
        name = type(self).__name__
        data, batch_sizes, sorted_indices, unsorted_indices = input
        if not isinstance(data, Tensor) or data.ndim != 2 or data.shape[-1] != self.input_size:
            raise RuntimeError(f"{name}: packed input data must be [sum of lengths, input_size="
                               f"{self.input_size}], got "
                               f"{list(data.shape) if isinstance(data, Tensor) else data!r}")
        self._check_input(data)
        bs = [int(b) for b in batch_sizes.tolist()]
        B, D = bs[0], (2 if self.bidirectional else 1)
        if hx is None:
            states = [[z] * (self.num_layers * D) for z in self._zero_states(B, data)]
        else:
            if self._n_states > 1 and not (isinstance(hx, (tuple, list)) and len(hx) == 2):
                raise RuntimeError(f"{name}: expected hx to be a tuple (h_0, c_0), "
                                   f"got {type(hx).__name__}")
            hs = tuple(hx) if self._n_states > 1 else (hx,)
            hs = [self._check_hidden(h, k, True, B) for k, h in enumerate(hs)]
            if sorted_indices is not None:  # hx is in the batch's order: sort it like the data
                hs = [h.index_select(1, sorted_indices) for h in hs]
            states = [list(h) for h in hs]
        offsets = [0]
        for b in bs:
            offsets.append(offsets[-1] + b)
        x = data
        finals = [[] for _ in range(self._n_states)]
        for layer in range(self.num_layers):
            outs = []
            for d in range(D):
                idx = layer * D + d
                out, last = self._run_packed(x, bs, offsets, [s[idx] for s in states],
                                             self._weights(layer, d), bool(d))
                outs.append(out)
                for f, s in zip(finals, last):
                    f.append(s)
            x = outs[0] if D == 1 else cat(outs, dim=1)
            if self.training and self.dropout > 0 and layer < self.num_layers - 1:
                x = _dropout(x, self.dropout)
        finals = [stack(f) for f in finals]
        if unsorted_indices is not None:
            finals = [f.index_select(1, unsorted_indices) for f in finals]
        out = PackedSequence(x, batch_sizes, sorted_indices, unsorted_indices)
        return out, (finals[0] if self._n_states == 1 else tuple(finals))

    def _run_packed(self, x, bs, offsets, states, weights, reverse):
        """One layer, one direction over packed rows x: (output rows, final states (B, H))."""
        T = len(bs)
        outs = [None] * T
        if not reverse:
            h, done = list(states), []
            for t in range(T):
                n = bs[t]
                if n < h[0].shape[0]:  # sequences that ended at t - 1: their states are final
                    done.append([s[n:] for s in h])
                    h = [s[:n] for s in h]
                h = self._step(x[offsets[t]:offsets[t + 1]], h, weights)
                outs[t] = h[0]
            done.append(h)
            last = [cat([p[k] for p in reversed(done)], 0) if len(done) > 1 else done[0][k]
                    for k in range(len(h))]
        else:
            cur = bs[-1]
            h = [s[:cur] if cur < s.shape[0] else s for s in states]
            for t in range(T - 1, -1, -1):
                n = bs[t]
                if n > cur:  # sequences whose last step is t join from their initial states
                    h = [cat([a, s0[cur:n]], 0) for a, s0 in zip(h, states)]
                    cur = n
                h = self._step(x[offsets[t]:offsets[t + 1]], h, weights)
                outs[t] = h[0]
            last = h
        return cat(outs, 0), last


class RNN(RNNBase):
    """Elman RNN: h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh) (or relu).

    ``RNN(input_size, hidden_size, num_layers=1, nonlinearity='tanh', bias=True,
    batch_first=False, dropout=0.0, bidirectional=False)``; returns (output, h_n).
    """

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: unknown nonlinearity '{nonlinearity}'. Select from 'tanh' "
                             "or 'relu'.")
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, device, dtype)
        self.nonlinearity = nonlinearity

    def _run(self, x, states, weights, reverse):
        w_ih, w_hh = weights[:2]
        T, B, I = x.shape
        act = tanh if self.nonlinearity == "tanh" else relu
        # the input part of every step in one product: X W_ih^T + b_ih + b_hh
        gx = x.reshape(T * B, I) @ w_ih.T
        if self.bias:
            gx = gx + weights[2] + weights[3]
        gx = gx.reshape(T, B, -1)
        h, w_hh_t = states[0], w_hh.T
        outs = [None] * T
        for t in (range(T - 1, -1, -1) if reverse else range(T)):
            # h_t = act(G_x[t] + h_{t-1} W_hh^T)
            h = act(gx[t] + h @ w_hh_t)
            outs[t] = h
        return stack(outs), h

    def _step(self, x, states, weights):
        cell = rnn_tanh_cell if self.nonlinearity == "tanh" else rnn_relu_cell
        return (cell(x, states[0], *weights),)


class LSTM(RNNBase):
    """Long short-term memory (Hochreiter & Schmidhuber, 1997), PyTorch's formulation:

        i = sigma(W_ii x + b_ii + W_hi h + b_hi)    f = sigma(W_if x + b_if + W_hf h + b_hf)
        g = tanh(W_ig x + b_ig + W_hg h + b_hg)     o = sigma(W_io x + b_io + W_ho h + b_ho)
        c' = f c + i g                              h' = o tanh(c')

    Returns (output, (h_n, c_n)). With ``proj_size`` P > 0 (Sak et al., 2014, as PyTorch) the
    hidden state is projected, h' = (o tanh(c')) W_hr^T with ``weight_hr_l{k}`` (P, H): h, the
    output and h_n have P features, W_hh is (4H, P), c stays H wide; that case runs as a
    composite of ops, one step at a time.
    """

    _gates, _n_states = 4, 2

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, device, dtype, proj_size=proj_size)

    def _run(self, x, states, weights, reverse):
        if self.proj_size:
            return self._run_steps(x, states, weights, reverse)
        return lstm_sequence(x, states[0], states[1], *weights, reverse=reverse)

    def _step(self, x, states, weights):
        if not self.proj_size:
            return lstm_cell(x, states[0], states[1], *weights)
        w_ih, w_hh, w_hr = weights[0], weights[1], weights[-1]
        # a = x W_ih^T + b_ih + h W_hh^T + b_hh, then the gates; h' = (o tanh c') W_hr^T
        a = x @ w_ih.T + states[0] @ w_hh.T
        if self.bias:
            a = a + weights[2] + weights[3]
        _, _, _, _, c_new, _, h_full = _lstm_pointwise(TENSOR_MATH, a, states[1])
        return h_full @ w_hr.T, c_new


class GRU(RNNBase):
    """Gated recurrent unit (Cho et al., 2014), PyTorch's formulation:

        r = sigma(W_ir x + b_ir + W_hr h + b_hr)    z = sigma(W_iz x + b_iz + W_hz h + b_hz)
        n = tanh(W_in x + b_in + r (W_hn h + b_hn))    h' = (1 - z) n + z h

    Returns (output, h_n).
    """

    _gates = 3

    def _run(self, x, states, weights, reverse):
        return gru_sequence(x, states[0], *weights, reverse=reverse)

    def _step(self, x, states, weights):
        return (gru_cell(x, states[0], *weights),)


# ----------------------------------------------------------------------------- cells
class RNNCellBase(Module):
    """What the cells share: weight_ih (G*H, I), weight_hh (G*H, H), bias_ih, bias_hh."""

    _gates = 1
    _n_states = 1

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__()
        _check_size("input_size", input_size)
        _check_size("hidden_size", hidden_size)
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bool(bias)
        G, H = self._gates, hidden_size
        k = 1.0 / math.sqrt(hidden_size)
        self.weight_ih = _new_param((G * H, input_size), k, device, dtype)
        self.weight_hh = _new_param((G * H, H), k, device, dtype)
        if bias:
            self.bias_ih = _new_param((G * H,), k, device, dtype)
            self.bias_hh = _new_param((G * H,), k, device, dtype)
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)

    def reset_parameters(self):
        k = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            _uniform_(p, k)

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            s += ", bias=False"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        return s

    def _prepare(self, input, hx):
        """(input as (N, I), states as (N, H) each, batched?) with PyTorch's checks."""
        name = type(self).__name__
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}: expected input to be a Tensor, got {type(input).__name__}")
        if input.ndim not in (1, 2):
            raise ValueError(f"{name}: Expected input to be 1D or 2D, got {input.ndim}D instead")
        if input.shape[-1] != self.input_size:
            raise RuntimeError(f"{name}: input has inconsistent input_size: got "
                               f"{input.shape[-1]} expected {self.input_size}")
        if input.dtype != self.weight_ih.dtype:
            raise RuntimeError(f"{name}: input dtype ({input.dtype}) does not match weight dtype "
                               f"({self.weight_ih.dtype})")
        batched = input.ndim == 2
        x = input if batched else input.unsqueeze(0)
        B = x.shape[0]
        if hx is None:
            zero = creation.zeros(B, self.hidden_size, dtype=x.dtype, device=x.device)
            return x, [zero] * self._n_states, batched
        if self._n_states > 1 and not (isinstance(hx, (tuple, list)) and len(hx) == 2):
            raise RuntimeError(f"{name}: expected hx to be a tuple (h_0, c_0), got "
                               f"{type(hx).__name__}")
        hs = tuple(hx) if self._n_states > 1 else (hx,)
        out = []
        for k, h in enumerate(hs):
            if not isinstance(h, Tensor):
                raise TypeError(f"{name}: expected hx to be a Tensor, got {type(h).__name__}")
            if h.ndim != input.ndim:
                raise ValueError(f"{name}: Expected hidden{'' if k == 0 else '[1]'} to be "
                                 f"{input.ndim}D to match the input, got {h.ndim}D instead")
            h = h if batched else h.unsqueeze(0)
            if h.shape[0] != B:
                raise RuntimeError(f"{name}: Input batch size {B} doesn't match hidden{k} "
                                   f"batch size {h.shape[0]}")
            if h.shape[1] != self.hidden_size:
                raise RuntimeError(f"{name}: hidden{k} has inconsistent hidden_size: got "
                                   f"{h.shape[1]}, expected {self.hidden_size}")
            out.append(h)
        return x, out, batched

    def _weights(self):
        return self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh


class RNNCell(RNNCellBase):
    """One Elman step: h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh) (or relu)."""

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None,
                 dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: unknown nonlinearity '{nonlinearity}'. Select from "
                             "'tanh' or 'relu'.")
        super().__init__(input_size, hidden_size, bias, device, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        x, (h,), batched = self._prepare(input, hx)
        cell = rnn_tanh_cell if self.nonlinearity == "tanh" else rnn_relu_cell
        h = cell(x, h, *self._weights())
        return h if batched else h.squeeze(0)


class LSTMCell(RNNCellBase):
    """One LSTM step: (h', c') = LSTMCell(input, (h, c)); see ``ops.rnn.LSTMCellFunction``."""

    _gates, _n_states = 4, 2

    def forward(self, input, hx=None):
        x, (h, c), batched = self._prepare(input, hx)
        h, c = lstm_cell(x, h, c, *self._weights())
        return (h, c) if batched else (h.squeeze(0), c.squeeze(0))


class GRUCell(RNNCellBase):
    """One GRU step: h' = GRUCell(input, h); see ``ops.rnn.GRUCellFunction``."""

    _gates = 3

    def forward(self, input, hx=None):
        x, (h,), batched = self._prepare(input, hx)
        h = gru_cell(x, h, *self._weights())
        return h if batched else h.squeeze(0)
