"""PixelCNN (van den Oord, Kalchbrenner & Kavukcuoglu 2016, "Pixel Recurrent Neural Networks")
and Gated PixelCNN (van den Oord et al. 2016, "Conditional Image Generation with PixelCNN
Decoders").

The chain rule. Any distribution over an image of D pixels, read in raster order (row by row,
left to right), factorises exactly:

    p(x) = prod_{i=1}^{D} p(x_i | x_1, ..., x_{i-1})

A network that outputs, at every pixel i, a distribution over x_i computed from the pixels
before i only, gives an exact likelihood, trained in one pass over all pixels at once:

    -log p(x) = sum_i -log p(x_i | x_<i)          (nats per image; bits/dim = that / (D ln 2))

Here each conditional is a Bernoulli (one logit: binarised MNIST, x/255 > 0.5) or a 17-way
softmax (the 8x8 digits' grey levels 0..16).

Masked convolutions keep the order. A k x k kernel centred on pixel (r, c) is multiplied by a
mask that zeroes the taps at or after the centre in raster order:

    mask A (first layer):  rows above the centre, and the centre row left of the centre
    mask B (later layers): mask A plus the centre tap

The first layer must not see x_i itself (A); later layers may see position i, whose features
already exclude x_i (B). The mask multiplies the full kernel at every forward, so the weights
under it get zero gradient and PyTorch's default initialisation counts the masked taps in its
fan-in.

    h = MaskedConv_A(x)                                  7x7 (5x5 on the digits), C channels
    h = h + MaskedConv_B(relu(h))                        n residual 3x3 layers
    logits = 1x1(relu(1x1(relu(h))))                     C -> C -> out

The blind spot. Stacked masked 3x3 kernels grow the receptive field up and to the left, but
never reach the pixels above and to the right of the current one that lie beyond the first
layer's reach: a triangle of earlier pixels is invisible. The gated PixelCNN removes it with two
stacks:

    vertical stack v: sees the rows above ((k//2 + 1) x k kernels over a stack that, from the
                      first layer on, holds only rows above the current one)
    horizontal stack h: sees the current row to the left (1 x (k//2 + 1) kernels)
    v feeds h (through a 1x1 on v's pre-gate features); h is residual (through a 1x1)

and both use gated units in place of relu, with an optional class embedding y added to both
halves of each layer's pre-activation:

    out = tanh(W_f * x + V_f y) * sigmoid(W_g * x + V_g y)

``receptive_field`` counts, by the gradient of one output pixel's logit, which input pixels
it sees: the blind spot as a picture.

Sampling is sequential: D passes of the network, each filling in one pixel (``sample``);
``complete`` keeps given pixels (the top half of an image) and samples the rest.
"""
from __future__ import annotations

import math

import numpy

import minigen
from minigen import nn
from minigen.nn import functional as F

from .registry import DATASETS, Recipe, register

__all__ = ["causal_mask", "MaskedConv2d", "PixelCNN", "GatedPixelCNN", "receptive_field",
           "build_pixelcnn", "evaluate"]


def causal_mask(kernel_size, mask_type):
    """The k x k mask of a masked convolution (1 = tap used): 'A' without the centre, 'B' with."""
    if mask_type not in ("A", "B"):
        raise ValueError(f"mask_type must be 'A' (first layer: excludes the centre) or 'B' "
                         f"(later layers: includes it), got {mask_type!r}")
    kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else tuple(kernel_size)
    if kh % 2 == 0 or kw % 2 == 0:
        raise ValueError(f"a masked convolution needs a kernel with a centre (odd sizes), got {kh}x{kw}")
    m = numpy.zeros((kh, kw), dtype=numpy.float32)
    m[:kh // 2, :] = 1.0                       # rows above the centre
    m[kh // 2, :kw // 2] = 1.0                 # the centre row, left of the centre
    if mask_type == "B":
        m[kh // 2, kw // 2] = 1.0              # and the centre itself
    return m


class MaskedConv2d(nn.Conv2d):
    """A same-size 2-d convolution whose kernel is multiplied by ``causal_mask`` at every forward."""

    def __init__(self, in_channels, out_channels, kernel_size, mask_type):
        mask = causal_mask(kernel_size, mask_type)
        super().__init__(in_channels, out_channels, mask.shape, padding=(mask.shape[0] // 2, mask.shape[1] // 2))
        self.mask_type = mask_type
        self.register_buffer("mask", minigen.tensor(mask), persistent=False)

    def forward(self, x):
        # conv(x, W * M): the masked taps contribute nothing and get no gradient
        return F.conv2d(x, self.weight * self.mask, self.bias, padding=self.padding)


class _Autoregressive(nn.Module):
    """What PixelCNN and Gated PixelCNN share: the likelihood, the data's encoding, sampling."""

    def _setup_levels(self, levels):
        if levels not in (2, 17):
            raise ValueError(f"levels must be 2 (binarised pixels, Bernoulli) or 17 (the 8x8 digits' grey "
                             f"levels, softmax), got {levels}")
        self.levels = levels
        self.out_channels = 1 if levels == 2 else levels

    def targets(self, x):
        """Images in [0, 1] -> the discrete pixel values: x > 0.5 (levels 2) or round(16 x)."""
        if self.levels == 2:
            return (x > 0.5).to(minigen.float32)
        return (x * (self.levels - 1)).round()

    def inputs(self, v):
        """The network's input of pixel values v: v itself for binary, v / 16 for grey levels."""
        return v if self.levels == 2 else v * (1.0 / (self.levels - 1))

    def _check_labels(self, y, n):
        if self.num_classes is None:
            if y is not None:
                raise ValueError(f"{type(self).__name__}: built without classes; labels must be None")
            return None
        if y is None:
            raise ValueError(f"{type(self).__name__}: a class-conditional model needs labels")
        y = y if isinstance(y, minigen.Tensor) else minigen.tensor(list(y), dtype=minigen.int64)
        if y.shape != (n,):
            raise ValueError(f"{type(self).__name__}: labels must be one class per image, shape [{n}], got {list(y.shape)}")
        lo, hi = minigen.stack(y.aminmax()).tolist()  # one read of the device, not two
        if lo < 0 or hi >= self.num_classes:
            raise ValueError(f"{type(self).__name__}: labels must lie in 0 .. {self.num_classes - 1}, got {lo} .. {hi}")
        return y.to(self._device())

    def _device(self):
        return next(iter(self.parameters())).device

    def nll(self, x, y=None):
        """-log p(x) in nats per image [N]: the sum over pixels of the per-pixel cross-entropy."""
        v = self.targets(x)
        logits = self(self.inputs(v), y)
        if self.levels == 2:
            per_pixel = F.binary_cross_entropy_with_logits(logits, v, reduction="none")
        else:
            per_pixel = F.cross_entropy(logits, v.squeeze(1).to(minigen.int64), reduction="none")
        return per_pixel.reshape(x.shape[0], -1).sum(1)

    def loss(self, x, y=None):
        """The mean over the batch of each image's summed BCE / CE (nats per image)."""
        return self.nll(x, y).mean()

    @minigen.no_grad()
    def complete(self, x, known_rows, y=None, temperature=1.0):
        """Keep the first ``known_rows`` rows of images ``x`` [n, 1, H, W] in [0, 1]; sample the
        rest pixel by pixel from p(x_i | x_<i). Returns images in [0, 1]."""
        n, _, H, W = x.shape
        y = self._check_labels(y, n)
        v = self.targets(x.to(self._device()))
        for r in range(known_rows, H):
            for c in range(W):
                logits = self(self.inputs(v), y)[:, :, r, c]
                if self.levels == 2:
                    p = minigen.sigmoid(logits / temperature)
                    pix = (minigen.rand(n, 1, device=v.device) < p).to(minigen.float32)
                else:
                    probs = F.softmax(logits / temperature, dim=1)
                    pix = minigen.multinomial(probs, 1).to(minigen.float32)
                v[:, :, r, c] = pix
        return self.inputs(v) if self.levels == 2 else v * (1.0 / (self.levels - 1))

    def sample(self, n, labels=None, temperature=1.0):
        """``n`` images [n, 1, H, W] in [0, 1], drawn pixel by pixel (H W network passes)."""
        if not temperature > 0:
            raise ValueError(f"sample: temperature must be > 0, got {temperature}")
        x = minigen.zeros(n, *self.image_shape, device=self._device())
        return self.complete(x, 0, labels, temperature)


class PixelCNN(_Autoregressive):
    """Masked convolutions: a k x k mask-A layer, ``n_res`` residual 3x3 mask-B layers, a 1x1 head."""

    def __init__(self, image_shape=(1, 28, 28), channels=32, first_kernel=7, n_res=6, levels=2):
        super().__init__()
        self._setup_levels(levels)
        C, H, W = image_shape
        if C != 1:
            raise ValueError(f"PixelCNN: grey images only (one channel), got {C}")
        self.image_shape, self.channels, self.first_kernel, self.n_res = tuple(image_shape), channels, first_kernel, n_res
        self.num_classes = None
        self.conv_in = MaskedConv2d(1, channels, first_kernel, "A")
        self.res = nn.ModuleList(MaskedConv2d(channels, channels, 3, "B") for _ in range(n_res))
        self.head1 = nn.Conv2d(channels, channels, 1)
        self.head2 = nn.Conv2d(channels, self.out_channels, 1)

    def config(self):
        return {"class": "PixelCNN", "image_shape": list(self.image_shape), "channels": self.channels,
                "first_kernel": self.first_kernel, "n_res": self.n_res, "levels": self.levels}

    def forward(self, x, y=None):
        if y is not None:
            raise ValueError("PixelCNN: the plain PixelCNN is unconditional (use GatedPixelCNN for classes)")
        # h = MaskedConv_A(x)
        h = self.conv_in(x)
        for conv in self.res:
            # h = h + MaskedConv_B(relu(h))
            h = h + conv(F.relu(h))
        # logits = 1x1(relu(1x1(relu(h))))
        return self.head2(F.relu(self.head1(F.relu(h))))


class _GatedLayer(nn.Module):
    """One gated layer of both stacks (k = 3), with the class embedding added to both halves."""

    def __init__(self, C, num_classes=None, k=3):
        super().__init__()
        self.C, self.k = C, k
        # vertical: (k//2 + 1) x k over the rows above and the current row (padded to stay causal)
        self.v_conv = nn.Conv2d(C, 2 * C, (k // 2 + 1, k))
        self.v_to_h = nn.Conv2d(2 * C, 2 * C, 1)
        # horizontal: 1 x (k//2 + 1) over the current row up to the current pixel
        self.h_conv = nn.Conv2d(C, 2 * C, (1, k // 2 + 1))
        self.h_res = nn.Conv2d(C, C, 1)
        self.cond = nn.Linear(num_classes, 2 * C, bias=False) if num_classes is not None else None

    def _gate(self, a, cond):
        if cond is not None:
            a = a + cond[:, :, None, None]
        # tanh(first C) * sigmoid(last C)
        return minigen.tanh(a[:, :self.C]) * minigen.sigmoid(a[:, self.C:])

    def forward(self, v, h, cond):
        k = self.k
        # v_pre[r] sees rows r - k//2 .. r: pad k//2 rows on top, k//2 columns both sides
        v_pre = self.v_conv(F.pad(v, (k // 2, k // 2, k // 2, 0)))
        # h_pre[c] sees columns c - k//2 .. c of its row
        h_pre = self.h_conv(F.pad(h, (k // 2, 0, 0, 0)))
        # v feeds h: v_pre[r] already holds only rows above r (the first layer saw rows < r)
        h_pre = h_pre + self.v_to_h(v_pre)
        v_out = self._gate(v_pre, cond)
        # h_out = h + 1x1(gate(h_pre))
        h_out = h + self.h_res(self._gate(h_pre, cond))
        return v_out, h_out


class GatedPixelCNN(_Autoregressive):
    """Vertical and horizontal stacks with gated units; optional class conditioning."""

    def __init__(self, image_shape=(1, 28, 28), channels=16, first_kernel=7, n_layers=6, levels=2,
                 num_classes=None):
        super().__init__()
        self._setup_levels(levels)
        C = channels
        self.image_shape, self.channels, self.first_kernel = tuple(image_shape), C, first_kernel
        self.n_layers, self.num_classes = n_layers, num_classes
        k = first_kernel
        if k % 2 == 0:
            raise ValueError(f"GatedPixelCNN: first_kernel needs a centre (odd), got {k}")
        # first layer: v strictly above (k//2 rows, k wide), h strictly left (k//2 columns)
        self.v_in = nn.Conv2d(1, C, (k // 2, k))
        self.h_in = nn.Conv2d(1, C, (1, k // 2))
        self.v_in_to_h = nn.Conv2d(C, C, 1)
        self.layers = nn.ModuleList(_GatedLayer(C, num_classes) for _ in range(n_layers))
        self.head1 = nn.Conv2d(C, C, 1)
        self.head2 = nn.Conv2d(C, self.out_channels, 1)

    def config(self):
        return {"class": "GatedPixelCNN", "image_shape": list(self.image_shape), "channels": self.channels,
                "first_kernel": self.first_kernel, "n_layers": self.n_layers, "levels": self.levels,
                "num_classes": self.num_classes}

    def forward(self, x, y=None):
        k = self.first_kernel
        H, W = x.shape[2], x.shape[3]
        cond = None
        if self.num_classes is not None:
            if y is None:
                raise ValueError("GatedPixelCNN: this model is class-conditional; give labels y")
            cond = F.one_hot(y, self.num_classes).to(x.dtype)
        elif y is not None:
            raise ValueError("GatedPixelCNN: built without classes (num_classes=None); y must be None")
        # v[r] sees rows r - k//2 .. r - 1 (pad k//2 on top, drop the last row's output)
        v = self.v_in(F.pad(x, (k // 2, k // 2, k // 2, 0)))[:, :, :H, :]
        # h[c] sees columns c - k//2 .. c - 1 of its row, plus v's rows above
        h = self.h_in(F.pad(x, (k // 2, 0, 0, 0)))[:, :, :, :W] + self.v_in_to_h(v)
        conds = [None if cond is None else layer.cond(cond) for layer in self.layers]
        for layer, c in zip(self.layers, conds):
            v, h = layer(v, h, c)
        return self.head2(F.relu(self.head1(F.relu(h))))


def receptive_field(model, pixel, image_shape=None, draws=8):
    """The input pixels that output pixel ``pixel`` = (r, c) depends on: a bool [H, W] map of
    where d logit(r, c) / d x is nonzero for at least one of ``draws`` random inputs (float64,
    so that no tap cancels by chance; several inputs, so that a ReLU that happens to be off
    for one input does not hide a path)."""
    H, W = (image_shape or model.image_shape)[1:]
    r, c = pixel
    m = model.double()
    seen = numpy.zeros((H, W), dtype=bool)
    y = None if getattr(model, "num_classes", None) is None else minigen.tensor([0] * draws)
    x = minigen.randn(draws, 1, H, W, dtype=minigen.float64, requires_grad=True)
    m(x, y)[:, :, r, c].sum().backward()
    seen |= (numpy.abs(x.grad.cpu().numpy()[:, 0]) > 0).any(0)
    model.float()
    return seen


# ----------------------------------------------------------------------------- registry
def build_pixelcnn(data="mnist", variant="plain"):
    """PixelCNN on ``'mnist'`` (binarised, 32 channels, 7x7 then 6 residual layers) or
    ``'digits'`` (17 levels, 64 channels, 5x5 then 6); ``variant='gated'``: Gated PixelCNN
    (16 channels, 6 gated layers), class-conditional."""
    spec = DATASETS[data]
    if data not in ("mnist", "digits"):
        raise ValueError(f"pixelcnn: models MNIST (binarised) or the 8x8 digits; got {data!r} ({spec.kind})")
    levels = 2 if data == "mnist" else 17
    if variant == "gated":
        return GatedPixelCNN(spec.shape, channels=16, first_kernel=7 if data == "mnist" else 5, n_layers=6,
                             levels=levels, num_classes=10)
    return PixelCNN(spec.shape, channels=32 if data == "mnist" else 64,
                    first_kernel=7 if data == "mnist" else 5, n_res=6, levels=levels)


def evaluate(model, data, k=None):
    """Test NLL in nats per image and bits per dim."""
    from minigen import metrics
    ds = data.test_loader.dataset.tensors
    x = ds[0]
    y = ds[1] if model.num_classes is not None else None
    total = 0.0
    with minigen.no_grad():
        for s in range(0, len(x), 250):
            total += model.nll(x[s:s + 250], None if y is None else y[s:s + 250]).sum().item()
    nats = total / len(x)
    D = math.prod(model.image_shape)
    return {"test_nll_nats": nats, "test_bits_per_dim": metrics.bits_per_dim(nats, D)}


def _pictures(model, run_dir, data):
    from minigen import plots
    return plots.autoregressive_pictures(model, run_dir, data)


register("pixelcnn", build_pixelcnn, Recipe(
    data="mnist", epochs=8, batch_size=32, lr=1e-3, variants=("plain", "gated"),
    per_data={"digits": {"epochs": 30}},
    per_variant={"gated": {"epochs": 6, "data_options": {"labels": True}}},
    quick={"epochs": 1, "steps": 10, "batch_size": 8},
    pictures=_pictures, evaluate=evaluate,
    description="PixelCNN (masked convolutions) and Gated PixelCNN: exact likelihoods pixel by pixel"))
