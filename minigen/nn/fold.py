"""``Unfold``: sliding blocks of an image as columns (im2col; ``F.unfold``); ``Fold``, its
adjoint (col2im; ``F.fold``)."""
from __future__ import annotations

from ..ops import extras_more as XM
from ..ops import pool_more as PM
from .module import Module

__all__ = ["Unfold"]


class Unfold(Module):
    """Every kernel_size patch as a column: (N, C, H, W) -> (N, C kh kw, L) (``F.unfold``)."""

    def __init__(self, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__()
        self.kernel_size, self.dilation, self.padding, self.stride = (
            kernel_size, dilation, padding, stride)

    def forward(self, input):
        return XM.unfold(input, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, dilation={self.dilation}, "
                f"padding={self.padding}, stride={self.stride}")


class Fold(Module):
    """Sum sliding blocks back into an image: (N, C kh kw, L) -> (N, C, *output_size)
    (col2im, the adjoint of Unfold; ``F.fold``)."""

    def __init__(self, output_size, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__()
        self.output_size, self.kernel_size, self.dilation, self.padding, self.stride = (
            output_size, kernel_size, dilation, padding, stride)

    def forward(self, input):
        return PM.fold(input, self.output_size, self.kernel_size, self.dilation, self.padding,
                       self.stride)

    def extra_repr(self):
        return (f"output_size={self.output_size}, kernel_size={self.kernel_size}, "
                f"dilation={self.dilation}, padding={self.padding}, stride={self.stride}")


__all__ += ["Fold"]
