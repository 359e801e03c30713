"""PixelRNN with Row LSTM layers (van den Oord, Kalchbrenner & Kavukcuoglu 2016, "Pixel
Recurrent Neural Networks").

The same chain rule as PixelCNN (``pixelcnn.py``: the likelihood, the masks, sampling and
completion are shared), with recurrent layers in place of the stack of masked convolutions.

The Row LSTM. An LSTM runs down the image one row at a time; its state is a whole row of
hidden vectors h_i [h, W]. Two convolutions make the gates of row i:

    input-to-state:  K^is * x_i   a 1 x 3 convolution along row i of the layer's input,
                                  masked (mask B: the left neighbour and the position itself),
                                  computed for every row at once
    state-to-state:  K^ss * h_{i-1}  a 1 x 3 convolution along the previous row's hidden states

    [o_i, f_i, in_i, g_i] = sigmoid / sigmoid / sigmoid / tanh of (K^ss * h_{i-1} + K^is * x_i)
    c_i = f_i * c_{i-1} + in_i * g_i
    h_i = o_i * tanh(c_i)

Position (i, j) of h_i sees (i-1, j-1 .. j+1) of the previous row, so the context grows by one
column each way per row: a triangle above the pixel (wider than PixelCNN's, still not the whole
past; the Diagonal BiLSTM reaches all of it at the price of skewing the image and running two
directions). The row-at-a-time recurrence is H sequential steps, each one batched 1-D
convolution over the whole row: that is why this file builds the Row LSTM.

    h = MaskedConv_A(x)                                 7x7 (5x5 on the digits), C channels
    h = h + 1x1(RowLSTM(h))                             n layers, hidden size C
    logits = 1x1(relu(1x1(relu(h))))
"""
from __future__ import annotations

import minigen
from minigen import nn
from minigen.nn import functional as F

from .pixelcnn import MaskedConv2d, _Autoregressive
from .registry import DATASETS, Recipe, register

__all__ = ["RowLSTM", "PixelRNN", "build_pixelrnn"]


class RowLSTM(nn.Module):
    """One Row LSTM layer over feature maps [B, C, H, W] -> hidden rows [B, hidden, H, W]."""

    def __init__(self, C, hidden):
        super().__init__()
        self.hidden = hidden
        self.input_to_state = MaskedConv2d(C, 4 * hidden, (1, 3), "B")
        self.state_to_state = nn.Conv1d(hidden, 4 * hidden, 3, padding=1)

    def forward(self, x):
        B, _, H, W = x.shape
        n = self.hidden
        # K^is * x for every row at once: [B, 4h, H, W]
        xs = self.input_to_state(x)
        h = minigen.zeros(B, n, W, device=x.device, dtype=x.dtype)
        c = minigen.zeros(B, n, W, device=x.device, dtype=x.dtype)
        rows = []
        for i in range(H):
            # gates = K^ss * h_{i-1} + K^is * x_i
            a = self.state_to_state(h) + xs[:, :, i, :]
            o, f, g_in = minigen.sigmoid(a[:, :n]), minigen.sigmoid(a[:, n:2 * n]), minigen.sigmoid(a[:, 2 * n:3 * n])
            g = minigen.tanh(a[:, 3 * n:])
            # c_i = f c_{i-1} + in g;  h_i = o tanh(c_i)
            c = f * c + g_in * g
            h = o * minigen.tanh(c)
            rows.append(h)
        return minigen.stack(rows, dim=2)


class PixelRNN(_Autoregressive):
    """A mask-A convolution, ``n_layers`` residual Row LSTM layers, the PixelCNN's 1x1 head."""

    def __init__(self, image_shape=(1, 28, 28), channels=32, first_kernel=7, n_layers=2, levels=2):
        super().__init__()
        self._setup_levels(levels)
        C, H, W = image_shape
        if C != 1:
            raise ValueError(f"PixelRNN: grey images only (one channel), got {C}")
        self.image_shape, self.channels, self.first_kernel, self.n_layers = tuple(image_shape), channels, first_kernel, n_layers
        self.num_classes = None
        self.conv_in = MaskedConv2d(1, channels, first_kernel, "A")
        self.rnns = nn.ModuleList(RowLSTM(channels, channels) for _ in range(n_layers))
        self.outs = nn.ModuleList(nn.Conv2d(channels, channels, 1) for _ in range(n_layers))
        self.head1 = nn.Conv2d(channels, channels, 1)
        self.head2 = nn.Conv2d(channels, self.out_channels, 1)

    def config(self):
        return {"class": "PixelRNN", "image_shape": list(self.image_shape), "channels": self.channels,
                "first_kernel": self.first_kernel, "n_layers": self.n_layers, "levels": self.levels}

    def forward(self, x, y=None):
        if y is not None:
            raise ValueError("PixelRNN: the model is unconditional; y must be None")
        h = self.conv_in(x)
        for rnn, out in zip(self.rnns, self.outs):
            # h = h + 1x1(RowLSTM(h))
            h = h + out(rnn(h))
        return self.head2(F.relu(self.head1(F.relu(h))))


def build_pixelrnn(data="digits", variant="rowlstm"):
    """PixelRNN (Row LSTM) on ``'digits'`` (17 levels, 64 channels, 5x5 first layer, 2 layers)
    or ``'mnist'`` (binarised, 32 channels, 7x7, 2 layers)."""
    if data not in ("mnist", "digits"):
        raise ValueError(f"pixelrnn: models MNIST (binarised) or the 8x8 digits; got {data!r}")
    if data == "mnist":
        return PixelRNN(DATASETS[data].shape, channels=32, first_kernel=7, n_layers=2, levels=2)
    return PixelRNN(DATASETS[data].shape, channels=64, first_kernel=5, n_layers=2, levels=17)


def _pictures(model, run_dir, data):
    from minigen import plots
    return plots.autoregressive_pictures(model, run_dir, data)


def _evaluate(model, data, k=None):
    from .pixelcnn import evaluate
    return evaluate(model, data)


register("pixelrnn", build_pixelrnn, Recipe(
    data="digits", epochs=30, batch_size=32, lr=1e-3, variants=("rowlstm",),
    per_data={"mnist": {"epochs": 4}},
    quick={"epochs": 1, "steps": 10, "batch_size": 8},
    pictures=_pictures, evaluate=_evaluate,
    description="PixelRNN with Row LSTM layers: the image row by row"))
