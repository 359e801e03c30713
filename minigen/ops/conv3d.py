"""``conv3d`` and ``conv_transpose3d``: 3-d convolutions as ONE 2-d convolution each.

A 3-d convolution of x (N, C, D, H, W) with w (O, C/G, kd, kh, kw), stride s, padding p,
dilation d and G groups is

    y[n, o, e, a, b] = sum_{c, t, i, j} w[o, c, t, i, j] x_p[n, g(o) C/G + c, e s_d + t d_d, a s_h + i d_h, b s_w + j d_w]

For a fixed output depth e, the sum over (c, t) reads kd depth slices of x_p, each a 2-d image.
Stack those slices as extra channels: X_e[n, (c, t), h, w] = x_p[n, c, e s_d + t d_d, h, w]
(the depth windows of x_p: ``Tensor.unfold`` along depth, a strided view); then

    y[n, :, e] = conv2d(X_e, w reshaped to (O, C/G kd, kh, kw))

because w's (c, t) axes are adjacent, so the reshape orders the channels (g, c, t) exactly as
the stacked input's, groups included. All depths e go into the batch: conv3d is ONE conv2d of
(N OD, C kd, H, W), so it runs on the im2col / BLAS path of ``conv.py``, and its backward
(conv_transpose2d and the weight correlation) comes with it, differentiable to any order.

conv_transpose3d is conv3d's adjoint. Spreading each input depth slice over (h, w) is a
conv_transpose2d with w reshaped to (Cin, Cout/G kd, kh, kw) that yields, for every input depth
e, every kernel depth offset t at once as channels (c, t). Those are then added into output
depth e s_d + t d_d - p_d: a 1-d col2im along depth, which is itself a conv_transpose1d with
the identity kernel (kd, 1, kd) (channel t is written at offset t), so it too is one matrix
product. Output size: OD = (D - 1) s_d - 2 p_d + d_d (kd - 1) + output_padding_d + 1.
"""
from __future__ import annotations

import numpy

from .conv import conv1d, conv2d
from .conv_args import _check_common, _tuple
from .conv_transpose import conv_transpose1d, conv_transpose2d

__all__ = ["conv3d", "conv_transpose3d"]


def _eye_kernel(k, like):
    """The identity kernel (k, 1, k): channel t has a one at offset t (depth col2im / im2col)."""
    from ..creation import tensor
    return tensor(numpy.eye(k).reshape(k, 1, k), dtype=like.dtype, device=like.device)


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """3-d convolution (cross-correlation) of (N, C, D, H, W) or (C, D, H, W) with weight
    (O, C/groups, kD, kH, kW); ``padding`` is an int, a triple, 'valid' or 'same'."""
    op = "conv3d"
    x, squeeze, stride, dilation = _check_common(op, 3, input, weight, bias, stride, dilation,
                                                 groups, transposed=False)
    kernel = tuple(weight.shape[2:])
    if isinstance(padding, str):
        if padding not in ("valid", "same"):
            raise ValueError(f"{op}: invalid padding string {padding!r}, should be one of "
                             "'valid' or 'same'")
        if padding == "same" and any(s != 1 for s in stride):
            raise RuntimeError(f"{op}: padding='same' is not supported for strided "
                               f"convolutions (stride={stride})")
        # 'same': total d (k - 1) along depth, the odd one at the end (as PyTorch); (h, w) by conv2d
        t = dilation[0] * (kernel[0] - 1) if padding == "same" else 0
        depth_pad, hw_pad = (t // 2, t - t // 2), padding
    else:
        p = _tuple(padding, 3, "padding", op)
        if any(v < 0 for v in p):
            raise RuntimeError(f"{op}: negative padding is not supported, got padding={p}")
        depth_pad, hw_pad = (p[0], p[0]), p[1:]
    N, C, D = x.shape[:3]
    reach = dilation[0] * (kernel[0] - 1) + 1
    Dp = D + sum(depth_pad)
    if reach > Dp:
        raise RuntimeError(f"{op}: kernel size {kernel} (dilated depth {reach}) can't be greater "
                           f"than the padded input depth {Dp} (input {list(x.shape)})")
    if any(depth_pad):
        from .shape import pad
        x = pad(x, (0, 0, 0, 0) + depth_pad)
    # depth windows: (N, C, OD, H, W, reach) -> every d_d-th: (N, C, OD, H, W, kd)
    win = x.unfold(2, reach, stride[0])[..., ::dilation[0]]
    OD, H, W = win.shape[2:5]
    # X[(n, e), (c, t), h, w] = x_p[n, c, e s_d + t d_d, h, w]
    X = win.permute(0, 2, 1, 5, 3, 4).reshape(N * OD, C * kernel[0], H, W)
    w2 = weight.reshape(weight.shape[0], weight.shape[1] * kernel[0], *kernel[1:])
    y = conv2d(X, w2, bias, stride[1:], hw_pad, dilation[1:], groups)
    y = y.reshape(N, OD, *y.shape[1:]).permute(0, 2, 1, 3, 4)
    return y.squeeze(0) if squeeze else y


def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """3-d transposed convolution (conv3d's adjoint) of (N, Cin, D, H, W) or (Cin, D, H, W) with
    weight (Cin, Cout/groups, kD, kH, kW)."""
    op = "conv_transpose3d"
    x, squeeze, stride, dilation = _check_common(op, 3, input, weight, bias, stride, dilation,
                                                 groups, transposed=True)
    if isinstance(padding, str):
        raise ValueError(f"{op}: padding must be an int or a tuple of ints, got {padding!r} "
                         "(string padding is not supported for transposed convolutions)")
    padding = _tuple(padding, 3, "padding", op)
    output_padding = _tuple(output_padding, 3, "output_padding", op)
    if any(p < 0 for p in padding):
        raise RuntimeError(f"{op}: negative padding is not supported, got padding={padding}")
    if any(o >= s and o >= d for o, s, d in zip(output_padding, stride, dilation)):
        raise RuntimeError(f"{op}: output padding must be smaller than either stride or "
                           f"dilation, but got output_padding={output_padding}, stride={stride}, "
                           f"dilation={dilation}")
    N, Cin, D, H, W = x.shape
    Cin_w, Cog, kd, kh, kw = weight.shape
    # every input depth slice spread over (h, w); channels (c, t): (N D, Cout kd, OH, OW)
    X = x.permute(0, 2, 1, 3, 4).reshape(N * D, Cin, H, W)
    w2 = weight.reshape(Cin_w, Cog * kd, kh, kw)
    z = conv_transpose2d(X, w2, None, stride[1:], padding[1:], output_padding[1:], groups,
                         dilation[1:])
    OH, OW = z.shape[2:]
    Cout = Cog * groups
    # depth col2im: z[(n, e), (c, t), a, b] goes to output depth e s_d + t d_d - p_d
    cols = z.reshape(N, D, Cout, kd, OH, OW).permute(0, 2, 4, 5, 3, 1)
    cols = cols.reshape(N * Cout * OH * OW, kd, D)
    y = conv_transpose1d(cols, _eye_kernel(kd, x), None, stride[0], padding[0],
                         output_padding[0], 1, dilation[0])
    OD = y.shape[-1]
    y = y.reshape(N, Cout, OH, OW, OD).permute(0, 1, 4, 2, 3)
    if bias is not None:
        y = y + bias.reshape(1, Cout, 1, 1, 1)
    return y.squeeze(0) if squeeze else y


def conv_tbc(input, weight, bias, pad=0):
    """1-d convolution of a (time, batch, in_channels) sequence with weight (kernel width,
    in_channels, out_channels) and bias (out_channels,), ``pad`` steps of zeros at both ends
    (a negative pad crops): the conv1d of the (batch, channels, time) view, laid back out as
    (time, batch, out_channels) (fairseq's ConvTBC)."""
    if input.ndim != 3:
        raise RuntimeError("Input must have 3 dims: time, batch, in_channel")
    if weight.ndim != 3:
        raise RuntimeError("Weight tensor must have 3 dims: kernel_width, in_channels, "
                           "out_channels.")
    if bias.ndim != 1:
        raise RuntimeError("Bias must be 1-D")
    if input.shape[2] != weight.shape[1]:
        raise RuntimeError("Input dim 2 (input channels) is not == dim 1 in the weight tensor")
    if bias.shape[0] != weight.shape[2]:
        raise RuntimeError("Bias size must equal dim 2 in the weight tensor (output channels).")
    x = input if pad >= 0 else input[-pad:input.shape[0] + pad]
    y = conv1d(x.permute(1, 2, 0), weight.permute(2, 1, 0), bias, 1, max(pad, 0))
    return y.permute(2, 0, 1)


__all__ += ["conv_tbc"]
