"""Argument checks shared by the convolutions (``conv.py``, ``conv_transpose.py``) and pooling.

Each error names the op, the shapes and the offending value, as PyTorch's do.
"""
from __future__ import annotations

import numbers

__all__ = []


def _tuple(v, n, name, op):
    """An int or a sequence of n ints -> a tuple of n ints."""
    if isinstance(v, numbers.Integral) and not isinstance(v, bool):
        return (int(v),) * n
    try:
        t = tuple(int(e) for e in v)
    except TypeError:
        raise TypeError(f"{op}: {name} must be an int or a tuple of {n} ints, got {v!r}") from None
    if len(t) == 1 and n > 1:
        t = t * n
    if len(t) != n:
        raise ValueError(f"{op}: {name} must be an int or a tuple of {n} ints, got {v!r}")
    return t


def _check_common(op, nd, input, weight, bias, stride, dilation, groups, transposed):
    """Shapes, dtypes and hyper-parameters shared by conv and conv_transpose; returns
    (batched input, squeeze_after, stride, dilation)."""
    from ..autograd import Tensor
    if not isinstance(input, Tensor) or not isinstance(weight, Tensor):
        raise TypeError(f"{op}: input and weight must be Tensors")
    if input.ndim not in (nd + 1, nd + 2):
        raise RuntimeError(
            f"{op}: expected {nd + 1}-D (unbatched) or {nd + 2}-D (batched) input, but got input "
            f"of size {list(input.shape)}")
    what = "(in_channels, out_channels/groups, " if transposed else "(out_channels, in_channels/groups, "
    if weight.ndim != nd + 2:
        raise RuntimeError(
            f"{op}: expected a {nd + 2}-D weight {what}{('kW', 'kH, kW', 'kD, kH, kW')[nd - 1]}), but got "
            f"weight of size {list(weight.shape)}")
    if not isinstance(groups, numbers.Integral) or groups <= 0:
        raise RuntimeError(f"{op}: non-positive groups is not supported, got groups={groups}")
    stride = _tuple(stride, nd, "stride", op)
    dilation = _tuple(dilation, nd, "dilation", op)
    if any(s <= 0 for s in stride):
        raise RuntimeError(f"{op}: non-positive stride is not supported, got stride={stride}")
    if any(d <= 0 for d in dilation):
        raise RuntimeError(f"{op}: dilation should be greater than zero, got dilation={dilation}")
    if weight.shape[0] % groups:
        raise RuntimeError(
            f"{op}: given groups={groups}, expected weight to be divisible by {groups} at "
            f"dimension 0, but got weight of size {list(weight.shape)}")
    squeeze = input.ndim == nd + 1
    x = input.unsqueeze(0) if squeeze else input
    expected = weight.shape[0] if transposed else weight.shape[1] * groups
    if x.shape[1] != expected:
        raise RuntimeError(
            f"{op}: expected input{list(x.shape)} to have {expected} channels, but got "
            f"{x.shape[1]} (weight of size {list(weight.shape)}, groups={groups})")
    out_channels = weight.shape[1] * groups if transposed else weight.shape[0]
    if bias is not None:
        if not isinstance(bias, Tensor):
            raise TypeError(f"{op}: bias must be a Tensor or None, got {type(bias).__name__}")
        if tuple(bias.shape) != (out_channels,):
            raise RuntimeError(f"{op}: expected bias of size [{out_channels}], but got bias of "
                               f"size {list(bias.shape)}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and t.dtype != x.dtype:
            raise RuntimeError(f"{op}: input type ({x.dtype}) and {name} type ({t.dtype}) should "
                               f"be the same (input {list(x.shape)}, {name} {list(t.shape)})")
    if x.dtype.kind != "f":
        raise RuntimeError(f"{op}: expected a floating point input, got {x.dtype}")
    return x, squeeze, stride, dilation


def _as_2d(x, weight, stride, padding, dilation, out):
    """conv1d as conv2d on images one pixel high: (N, C, L) -> (N, C, 1, L), with the height's
    stride 1, padding 0, dilation 1 and output size 1."""
    return (x.unsqueeze(2), weight.unsqueeze(2), (1,) + stride, (0,) + padding, (1,) + dilation,
            (1,) + out)
