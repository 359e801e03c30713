"""Padding layers (``torch.nn.ZeroPad2d``, ``ReflectionPad2d``, ...): ``F.pad`` as Modules, with
PyTorch's constructor arguments and ``extra_repr``."""
from __future__ import annotations

import numbers

from ..ops.shape import pad as _pad
from .module import Module

__all__ = [
    "ZeroPad1d", "ZeroPad2d", "ZeroPad3d", "ConstantPad1d", "ConstantPad2d", "ConstantPad3d",
    "ReflectionPad1d", "ReflectionPad2d", "ReflectionPad3d", "ReplicationPad1d",
    "ReplicationPad2d", "ReplicationPad3d", "CircularPad1d", "CircularPad2d", "CircularPad3d",
]


class _PadNd(Module):
    n = 2
    mode = "constant"

    def __init__(self, padding, value=0.0):
        super().__init__()
        if isinstance(padding, numbers.Integral):
            padding = (int(padding),) * (2 * self.n)
        padding = tuple(int(p) for p in padding)
        if len(padding) != 2 * self.n:
            raise ValueError(f"{type(self).__name__}: padding must be an int or {2 * self.n} ints "
                             f"(left, right{', top, bottom' if self.n > 1 else ''}"
                             f"{', front, back' if self.n > 2 else ''}), got {padding}")
        self.padding = padding
        self.value = value

    def forward(self, input):
        if input.ndim not in (self.n + 1, self.n + 2):
            raise ValueError(f"{type(self).__name__}: expected {self.n + 1}-D or {self.n + 2}-D "
                             f"input, got shape {list(input.shape)}")
        if self.mode == "constant":
            return _pad(input, self.padding, "constant", self.value)
        return _pad(input, self.padding, self.mode)

    def extra_repr(self):
        return f"{self.padding}" + (f", value={self.value}" if self.mode == "constant" else "")


def _pad_class(name, n, mode, zero=False):
    if zero:
        def __init__(self, padding):
            _PadNd.__init__(self, padding, 0.0)
    else:
        def __init__(self, padding, value=0.0):
            _PadNd.__init__(self, padding, value)
    how = {"constant": "with zeros" if zero else "with a constant value",
           "reflect": "by reflection at the edge", "replicate": "by repeating the edge",
           "circular": "circularly (wrapping around)"}[mode]
    doc = f"Pad the last {n} dim(s) {how} (``F.pad(x, padding, {mode!r})``)."
    return type(name, (_PadNd,), {"n": n, "mode": mode, "__init__": __init__, "__doc__": doc})


ZeroPad1d = _pad_class("ZeroPad1d", 1, "constant", zero=True)
ZeroPad2d = _pad_class("ZeroPad2d", 2, "constant", zero=True)
ZeroPad3d = _pad_class("ZeroPad3d", 3, "constant", zero=True)
ConstantPad1d = _pad_class("ConstantPad1d", 1, "constant")
ConstantPad2d = _pad_class("ConstantPad2d", 2, "constant")
ConstantPad3d = _pad_class("ConstantPad3d", 3, "constant")
ReflectionPad1d = _pad_class("ReflectionPad1d", 1, "reflect")
ReflectionPad2d = _pad_class("ReflectionPad2d", 2, "reflect")
ReflectionPad3d = _pad_class("ReflectionPad3d", 3, "reflect")
ReplicationPad1d = _pad_class("ReplicationPad1d", 1, "replicate")
ReplicationPad2d = _pad_class("ReplicationPad2d", 2, "replicate")
ReplicationPad3d = _pad_class("ReplicationPad3d", 3, "replicate")
CircularPad1d = _pad_class("CircularPad1d", 1, "circular")
CircularPad2d = _pad_class("CircularPad2d", 2, "circular")
CircularPad3d = _pad_class("CircularPad3d", 3, "circular")
