"""Lazy modules: layers whose input size is inferred from their first input.

``LazyLinear(out_features)`` is a ``Linear`` whose ``in_features`` is unknown when it is built:
its weight (and bias) are ``UninitializedParameter``s, registered and listed by
``parameters()`` but without data. Its first call runs a forward pre-hook that reads the size
from the input (``in_features = x.shape[-1]``; ``in_channels = x.shape[1]`` for convolutions,
``num_features = x.shape[1]`` for norms), ``materialize``s the parameters to their shapes,
initialises them as the ordinary layer does (``reset_parameters``), removes the hook and turns
the module into the ordinary class (``cls_to_become``: a LazyConv2d becomes a Conv2d), all on
the same objects, so references held elsewhere (an optimizer's parameter list) stay valid.
``load_state_dict`` also materializes them, to the shapes it loads.
"""
from __future__ import annotations

from .. import backend as B
from ..autograd import no_grad
from .conv import Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d
from .linear import Linear
from .normalization import (BatchNorm1d, BatchNorm2d, BatchNorm3d, InstanceNorm1d,
                            InstanceNorm2d, InstanceNorm3d)
from .parameter import UninitializedBuffer, UninitializedParameter, _Uninitialized

__all__ = ["LazyModuleMixin", "LazyLinear", "LazyConv1d", "LazyConv2d", "LazyConv3d",
           "LazyConvTranspose1d", "LazyConvTranspose2d", "LazyConvTranspose3d",
           "LazyBatchNorm1d", "LazyBatchNorm2d", "LazyBatchNorm3d", "LazyInstanceNorm1d",
           "LazyInstanceNorm2d", "LazyInstanceNorm3d"]


def _is_lazy(t):
    return isinstance(t, _Uninitialized)


class LazyModuleMixin:
    """The machinery every Lazy module shares (PyTorch's ``torch.nn.modules.lazy``): a forward
    pre-hook that calls ``initialize_parameters(*args)`` on the first input and then becomes
    ``cls_to_become``."""

    cls_to_become = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._initialize_hook = self.register_forward_pre_hook(self._infer_parameters,
                                                               with_kwargs=True)

    def has_uninitialized_params(self):
        """Whether any parameter or buffer of this module is still uninitialized."""
        return any(_is_lazy(t) for t in list(self._parameters.values())
                   + list(self._buffers.values()))

    def reset_parameters(self):
        # nothing to initialise while the shapes are unknown (or zero-size during __init__)
        if self.has_uninitialized_params():
            return
        if any(p is not None and p.array.size == 0 for p in self._parameters.values()):
            return
        super().reset_parameters()

    def _infer_parameters(self, module, args, kwargs=None):
        with no_grad():
            self.initialize_parameters(*args, **(kwargs or {}))
        if self.has_uninitialized_params():
            raise RuntimeError(f"module {type(self).__name__} has not been fully initialized")
        self._initialize_hook.remove()
        del self.__dict__["_initialize_hook"]
        if self.cls_to_become is not None:
            self.__class__ = self.cls_to_become

    def initialize_parameters(self, *args, **kwargs):
        raise NotImplementedError(f"initialize_parameters is not implemented for "
                                  f"{type(self).__name__}")


def _factory(device, dtype):
    return dict(device=device, dtype=B.as_dtype(dtype) or B.get_default_dtype())


# ----------------------------------------------------------------------------- Linear
class LazyLinear(LazyModuleMixin, Linear):
    """``Linear`` with ``in_features`` inferred from the first input's last dimension."""

    cls_to_become = Linear

    def __init__(self, out_features, bias=True, device=None, dtype=None):
        fk = _factory(device, dtype)
        super().__init__(0, 0, False, device, dtype)
        self.out_features = out_features
        self.weight = UninitializedParameter(**fk)
        if bias:
            self.bias = UninitializedParameter(**fk)

    def initialize_parameters(self, input, *args, **kwargs):
        if self.has_uninitialized_params():
            self.in_features = input.shape[-1]
            self.weight.materialize((self.out_features, self.in_features))
            if self.bias is not None:
                self.bias.materialize((self.out_features,))
            self.reset_parameters()
        else:
            self.in_features = self.weight.shape[1]


# ----------------------------------------------------------------------------- convolutions
class _LazyConvMixin(LazyModuleMixin):
    def _lazy_params(self, bias, device, dtype):
        fk = _factory(device, dtype)
        self.in_channels = 0
        self.weight = UninitializedParameter(**fk)
        if bias:
            self.bias = UninitializedParameter(**fk)

    def initialize_parameters(self, input, *args, **kwargs):
        if self.has_uninitialized_params():
            batched = input.ndim == self._nd + 2
            self.in_channels = input.shape[1] if batched else input.shape[0]
            if self.in_channels % self.groups:
                raise ValueError("in_channels must be divisible by groups")
            if self._transposed:
                shape = (self.in_channels, self.out_channels // self.groups)
            else:
                shape = (self.out_channels, self.in_channels // self.groups)
            self.weight.materialize(shape + tuple(self.kernel_size))
            if self.bias is not None:
                self.bias.materialize((self.out_channels,))
            self.reset_parameters()
        else:
            w = self.weight.shape
            self.in_channels = w[0] if self._transposed else w[1] * self.groups


def _lazy_conv(name, base, transposed):
    if transposed:
        def __init__(self, out_channels, kernel_size, stride=1, padding=0, output_padding=0,
                     groups=1, bias=True, dilation=1, padding_mode="zeros", device=None,
                     dtype=None):
            base.__init__(self, 0, out_channels, kernel_size, stride, padding, output_padding,
                          groups, False, dilation, padding_mode, device, dtype)
            self._lazy_params(bias, device, dtype)
            self._initialize_hook = self.register_forward_pre_hook(self._infer_parameters,
                                                                   with_kwargs=True)
    else:
        def __init__(self, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                     bias=True, padding_mode="zeros", device=None, dtype=None):
            base.__init__(self, 0, out_channels, kernel_size, stride, padding, dilation, groups,
                          False, padding_mode, device, dtype)
            self._lazy_params(bias, device, dtype)
            self._initialize_hook = self.register_forward_pre_hook(self._infer_parameters,
                                                                   with_kwargs=True)
    doc = (f"``{base.__name__}`` with ``in_channels`` inferred from the first input "
           f"(its dim 1, or dim 0 when unbatched).")
    return type(name, (_LazyConvMixin, base), {"__init__": __init__, "cls_to_become": base,
                                                "__doc__": doc, "__module__": __name__})


LazyConv1d = _lazy_conv("LazyConv1d", Conv1d, False)
LazyConv2d = _lazy_conv("LazyConv2d", Conv2d, False)
LazyConv3d = _lazy_conv("LazyConv3d", Conv3d, False)
LazyConvTranspose1d = _lazy_conv("LazyConvTranspose1d", ConvTranspose1d, True)
LazyConvTranspose2d = _lazy_conv("LazyConvTranspose2d", ConvTranspose2d, True)
LazyConvTranspose3d = _lazy_conv("LazyConvTranspose3d", ConvTranspose3d, True)


# ----------------------------------------------------------------------------- norms
class _LazyNormMixin(LazyModuleMixin):
    def _lazy_state(self, affine, bias, track_running_stats, device, dtype):
        fk = _factory(device, dtype)
        self.num_features = 0
        if affine:
            self.weight = UninitializedParameter(**fk)
            if bias:
                self.bias = UninitializedParameter(**fk)
        if track_running_stats:
            self.register_buffer("running_mean", UninitializedBuffer(**fk))
            self.register_buffer("running_var", UninitializedBuffer(**fk))

    def reset_parameters(self):
        if self.has_uninitialized_params() or self.num_features == 0:
            return
        with no_grad():
            if self.weight is not None:
                self.weight.fill_(1)
            if self.bias is not None:
                self.bias.zero_()
            if self.track_running_stats:
                self.running_mean.zero_()
                self.running_var.fill_(1)
                self.num_batches_tracked.zero_()

    def initialize_parameters(self, input, *args, **kwargs):
        if self.has_uninitialized_params():
            self.num_features = input.shape[1]
            for t in (self.weight, self.bias, self.running_mean, self.running_var):
                if _is_lazy(t):
                    t.materialize((self.num_features,))
            self.reset_parameters()


def _lazy_norm(name, base, instance):
    def __init__(self, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True,
                 device=None, dtype=None, *, bias=True):
        base.__init__(self, 0, eps, momentum, affine, track_running_stats, device, dtype,
                      bias=bias)
        self._lazy_state(affine, bias, track_running_stats, device, dtype)
        self._initialize_hook = self.register_forward_pre_hook(self._infer_parameters,
                                                               with_kwargs=True)
    doc = f"``{base.__name__}`` with ``num_features`` inferred from the first input's dim 1."
    return type(name, (_LazyNormMixin, base), {"__init__": __init__, "cls_to_become": base,
                                                "__doc__": doc, "__module__": __name__})


LazyBatchNorm1d = _lazy_norm("LazyBatchNorm1d", BatchNorm1d, False)
LazyBatchNorm2d = _lazy_norm("LazyBatchNorm2d", BatchNorm2d, False)
LazyBatchNorm3d = _lazy_norm("LazyBatchNorm3d", BatchNorm3d, False)
LazyInstanceNorm1d = _lazy_norm("LazyInstanceNorm1d", InstanceNorm1d, True)
LazyInstanceNorm2d = _lazy_norm("LazyInstanceNorm2d", InstanceNorm2d, True)
LazyInstanceNorm3d = _lazy_norm("LazyInstanceNorm3d", InstanceNorm3d, True)
