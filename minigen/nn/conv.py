"""Convolution layers: ``Conv1d``, ``Conv2d``, ``ConvTranspose1d``, ``ConvTranspose2d``.

Parameter names, shapes, initialisation and printed form are PyTorch's:

    Conv:           weight (out_channels, in_channels / groups, *kernel_size), bias (out_channels,)
    ConvTranspose:  weight (in_channels, out_channels / groups, *kernel_size), bias (out_channels,)

    weight ~ kaiming_uniform_(a=sqrt(5)) = U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    bias   ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)),   fan_in = weight.shape[1] * prod(kernel_size)

(for a transposed convolution weight.shape[1] is out_channels / groups, as PyTorch computes it).
The math lives in ``minigen/ops/conv.py``.
"""
from __future__ import annotations

from .. import creation
from ..ops import conv as C
from ..ops import shape as S
from ..ops.conv3d import conv3d, conv_transpose3d
from . import init
from .module import Module
from .parameter import Parameter

__all__ = ["Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d"]

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


class _ConvNd(Module):
    _nd = 2
    _transposed = False

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True, padding_mode="zeros", device=None, dtype=None,
                 output_padding=0):
        super().__init__()
        name = type(self).__name__
        nd = self._nd
        if not isinstance(groups, int) or groups <= 0:
            raise ValueError(f"{name}: groups must be a positive integer, got {groups!r}")
        if in_channels % groups:
            raise ValueError(f"{name}: in_channels ({in_channels}) must be divisible by groups ({groups})")
        if out_channels % groups:
            raise ValueError(f"{name}: out_channels ({out_channels}) must be divisible by groups ({groups})")
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"{name}: padding_mode must be one of {_PADDING_MODES}, got {padding_mode!r}")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = C._tuple(kernel_size, nd, "kernel_size", name)
        self.stride = C._tuple(stride, nd, "stride", name)
        if isinstance(padding, str):
            if padding not in ("valid", "same"):
                raise ValueError(f"{name}: invalid padding string {padding!r}, should be one of "
                                 "'valid' or 'same'")
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ValueError(f"{name}: padding='same' is not supported for strided convolutions")
            self.padding = padding
        else:
            self.padding = C._tuple(padding, nd, "padding", name)
        self.dilation = C._tuple(dilation, nd, "dilation", name)
        self.output_padding = C._tuple(output_padding, nd, "output_padding", name)
        self.groups = groups
        self.padding_mode = padding_mode
        if self._transposed:
            shape = (in_channels, out_channels // groups) + self.kernel_size
        else:
            shape = (out_channels, in_channels // groups) + self.kernel_size
        self.weight = Parameter(creation.empty(*shape, dtype=dtype, device=device))
        if bias:
            self.bias = Parameter(creation.empty(out_channels, dtype=dtype, device=device))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        init.layer_default_(self.weight, self.bias)

    def extra_repr(self):
        nd = self._nd
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding != (0,) * nd:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * nd:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * nd:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class _Conv(_ConvNd):
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True, padding_mode="zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups,
                         bias, padding_mode, device, dtype)

    def forward(self, input):
        f = {1: C.conv1d, 2: C.conv2d, 3: conv3d}[self._nd]
        if self.padding_mode == "zeros":
            return f(input, self.weight, self.bias, self.stride, self.padding, self.dilation,
                     self.groups)
        # pad with the mode first, then convolve without padding
        if isinstance(self.padding, str):  # 'same' (a 'valid' conv needs no padding at all)
            total = [d * (k - 1) for d, k in zip(self.dilation, self.kernel_size)] \
                if self.padding == "same" else [0] * self._nd
            pads = [(t // 2, t - t // 2) for t in total]
        else:
            pads = [(p, p) for p in self.padding]
        flat = [v for lo_hi in reversed(pads) for v in lo_hi]  # F.pad lists the last dim first
        return f(S.pad(input, flat, mode=self.padding_mode), self.weight, self.bias, self.stride,
                 0, self.dilation, self.groups)


class Conv1d(_Conv):
    """1-d convolution over (N, C_in, L): y = conv1d(x, weight, bias)."""
    _nd = 1


class Conv2d(_Conv):
    """2-d convolution over (N, C_in, H, W): y = conv2d(x, weight, bias)."""
    _nd = 2


class _ConvTranspose(_ConvNd):
    _transposed = True

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 output_padding=0, groups=1, bias=True, dilation=1, padding_mode="zeros",
                 device=None, dtype=None):
        if padding_mode != "zeros":
            raise ValueError(f'{type(self).__name__}: only "zeros" padding mode is supported')
        if isinstance(padding, str):
            raise ValueError(f"{type(self).__name__}: padding must be an int or a tuple, got {padding!r}")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups,
                         bias, padding_mode, device, dtype, output_padding)

    def _output_padding(self, input, output_size):
        """The output_padding that makes the output ``output_size`` (PyTorch's rule)."""
        if output_size is None:
            return self.output_padding
        nd = self._nd
        size = list(output_size)
        if len(size) == nd + 2 or (len(size) == nd + 1 and input.ndim == nd + 1):
            size = size[-nd:]
        if len(size) != nd:
            raise ValueError(f"{type(self).__name__}: output_size must have {nd} or {nd + 2} "
                             f"elements, got {len(size)}")
        in_size = input.shape[-nd:]
        lo = [(n - 1) * s - 2 * p + d * (k - 1) + 1 for n, s, p, d, k in
              zip(in_size, self.stride, self.padding, self.dilation, self.kernel_size)]
        hi = [m + s - 1 for m, s in zip(lo, self.stride)]
        if any(not a <= o <= b for o, a, b in zip(size, lo, hi)):
            raise ValueError(f"{type(self).__name__}: requested an output size of {list(size)}, but "
                             f"valid sizes range from {lo} to {hi} (for an input of {list(in_size)})")
        return tuple(o - a for o, a in zip(size, lo))

    def forward(self, input, output_size=None):
        f = {1: C.conv_transpose1d, 2: C.conv_transpose2d, 3: conv_transpose3d}[self._nd]
        return f(input, self.weight, self.bias, self.stride, self.padding,
                 self._output_padding(input, output_size), self.groups, self.dilation)


class ConvTranspose1d(_ConvTranspose):
    """1-d transposed convolution over (N, C_in, L) (the adjoint of Conv1d)."""
    _nd = 1


class ConvTranspose2d(_ConvTranspose):
    """2-d transposed convolution over (N, C_in, H, W) (the adjoint of Conv2d; upsamples with
    stride > 1, as in DCGAN's generator)."""
    _nd = 2


class Conv3d(_Conv):
    """3-d convolution over (N, C_in, D, H, W): y = conv3d(x, weight, bias) (``ops/conv3d.py``)."""
    _nd = 3


class ConvTranspose3d(_ConvTranspose):
    """3-d transposed convolution over (N, C_in, D, H, W) (the adjoint of Conv3d)."""
    _nd = 3
