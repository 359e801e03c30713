"""``conv_transpose1d`` and ``conv_transpose2d``: argument checks and output sizes.

The math (the forward as one matrix product plus col2im, and the backward as conv2d and a weight
correlation) is in ``ConvTranspose2dFunction`` in ``conv.py``.

Output size of a transposed convolution (the input size that a conv2d with the same stride,
padding and dilation would map to the given size, plus ``output_padding`` extra rows at the
end, which picks one of the ``stride`` input sizes that all give the same conv2d output size):

    OH = (H - 1) s_h - 2 p_h + d_h (kh - 1) + output_padding_h + 1
"""
from __future__ import annotations

from .conv import ConvTranspose2dFunction
from .conv_args import _as_2d, _check_common, _tuple

__all__ = ["conv_transpose1d", "conv_transpose2d"]


def _conv_transpose(op, nd, input, weight, bias, stride, padding, output_padding, groups,
                    dilation):
    x, squeeze, stride, dilation = _check_common(op, nd, input, weight, bias, stride, dilation,
                                                 groups, transposed=True)
    if isinstance(padding, str):
        raise ValueError(f"{op}: padding must be an int or a tuple of ints, got {padding!r} "
                         "(string padding is not supported for transposed convolutions)")
    padding = _tuple(padding, nd, "padding", op)
    output_padding = _tuple(output_padding, nd, "output_padding", op)
    if any(p < 0 for p in padding):
        raise RuntimeError(f"{op}: negative padding is not supported, got padding={padding}")
    if any(op_ < 0 for op_ in output_padding):
        raise RuntimeError(f"{op}: negative output_padding is not supported, got "
                           f"output_padding={output_padding}")
    if any(o >= s and o >= d for o, s, d in zip(output_padding, stride, dilation)):
        raise RuntimeError(
            f"{op}: output_padding {output_padding} must be smaller than either stride {stride} "
            f"or dilation {dilation}")
    kernel = tuple(weight.shape[2:])
    in_size = tuple(x.shape[2:])
    # OH = (H - 1) s - 2 p + d (k - 1) + output_padding + 1
    out = tuple((n - 1) * s - 2 * p + d * (k - 1) + o + 1
                for n, s, p, d, k, o in zip(in_size, stride, padding, dilation, kernel, output_padding))
    if any(o <= 0 for o in out):
        raise RuntimeError(
            f"{op}: given input of size {list(x.shape)} and kernel size {kernel}, the output size "
            f"{out} is too small (stride {stride}, padding {padding}, dilation {dilation})")
    if nd == 1:
        x, weight, stride, padding, dilation, out = _as_2d(x, weight, stride, padding, dilation, out)
    args = (x, weight) if bias is None else (x, weight, bias)
    y = ConvTranspose2dFunction.apply(*args, stride=stride, padding=padding, dilation=dilation,
                                      groups=groups, out_hw=out)
    if nd == 1:
        y = y.squeeze(2)
    return y.squeeze(0) if squeeze else y


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """2-d transposed convolution (the adjoint of conv2d; "deconvolution") of input (N, Cin, H, W)
    or (Cin, H, W) with weight (Cin, Cout/groups, kH, kW)."""
    return _conv_transpose("conv_transpose2d", 2, input, weight, bias, stride, padding,
                           output_padding, groups, dilation)


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """1-d transposed convolution of input (N, Cin, L) or (Cin, L) with weight (Cin, Cout/groups, k)."""
    return _conv_transpose("conv_transpose1d", 1, input, weight, bias, stride, padding,
                           output_padding, groups, dilation)
