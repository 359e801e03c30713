"""More of PyTorch's layers: padding, pixel shuffle, channel dropout, instance norm, the
remaining pointwise activations, distance modules, two losses, and the parameter containers.

Each is a thin Module around a function in ``minigen/ops/`` (``F.pad``, ``F.pixel_shuffle``,
``F.dropout2d``, ``F.instance_norm``, ...), with PyTorch's constructor arguments, defaults,
parameter names and ``extra_repr``, so a PyTorch state dict loads by key.
"""
from __future__ import annotations

import numbers
from collections import OrderedDict

from ..ops import extras as X
from ..ops import loss as L
from ..ops.shape import pad as _pad
from .module import Module
from .parameter import Parameter
from .loss import _Loss

__all__ = [
    "ZeroPad1d", "ZeroPad2d", "ZeroPad3d", "ConstantPad1d", "ConstantPad2d", "ConstantPad3d",
    "ReflectionPad1d", "ReflectionPad2d", "ReflectionPad3d", "ReplicationPad1d",
    "ReplicationPad2d", "ReplicationPad3d", "CircularPad1d", "CircularPad2d", "CircularPad3d",
    "PixelShuffle", "PixelUnshuffle", "Dropout1d", "Dropout2d", "Dropout3d",
    "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d", "RMSNorm",
    "SELU", "CELU", "LogSigmoid", "GLU", "Mish", "Hardswish", "Hardsigmoid", "Softsign",
    "Tanhshrink", "Threshold", "Softmin", "Softmax2d", "PReLU",
    "CosineSimilarity", "PairwiseDistance", "SmoothL1Loss", "HuberLoss", "MarginRankingLoss",
    "ParameterList", "ParameterDict", "Unfold", "AdaptiveMaxPool1d", "AdaptiveMaxPool2d",
    "Bilinear", "TripletMarginLoss", "CosineEmbeddingLoss", "HingeEmbeddingLoss",
    "SoftMarginLoss", "MultiLabelSoftMarginLoss", "PoissonNLLLoss",
]


# ----------------------------------------------------------------------------- padding
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


# ----------------------------------------------------------------------------- rearrangement
class PixelShuffle(Module):
    """(N, C r^2, H, W) -> (N, C, H r, W r) (``F.pixel_shuffle``)."""

    def __init__(self, upscale_factor):
        super().__init__()
        self.upscale_factor = int(upscale_factor)

    def forward(self, input):
        return X.pixel_shuffle(input, self.upscale_factor)

    def extra_repr(self):
        return f"upscale_factor={self.upscale_factor}"


class PixelUnshuffle(Module):
    """(N, C, H r, W r) -> (N, C r^2, H, W) (``F.pixel_unshuffle``)."""

    def __init__(self, downscale_factor):
        super().__init__()
        self.downscale_factor = int(downscale_factor)

    def forward(self, input):
        return X.pixel_unshuffle(input, self.downscale_factor)

    def extra_repr(self):
        return f"downscale_factor={self.downscale_factor}"


# ----------------------------------------------------------------------------- channel dropout
class _DropoutNd(Module):
    fn = None

    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p
        self.inplace = inplace

    def forward(self, input):
        return type(self).fn(input, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"


class Dropout1d(_DropoutNd):
    """Zero whole channels of (N, C, L) input with probability p (``F.dropout1d``)."""
    fn = staticmethod(X.dropout1d)


class Dropout2d(_DropoutNd):
    """Zero whole channels of (N, C, H, W) input with probability p (``F.dropout2d``)."""
    fn = staticmethod(X.dropout2d)


class Dropout3d(_DropoutNd):
    """Zero whole channels of (N, C, D, H, W) input with probability p (``F.dropout3d``)."""
    fn = staticmethod(X.dropout3d)


# ----------------------------------------------------------------------------- instance norm
class _InstanceNorm(Module):
    """Normalise each (sample, channel) over its positions; ``affine`` adds a per-channel
    weight and bias; ``track_running_stats`` keeps running mean/var used in eval mode.
    PyTorch's defaults: affine=False, track_running_stats=False."""
    n = 2

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=False,
                 track_running_stats=False, device=None, dtype=None, *, bias=True):
        super().__init__()
        from ..creation import ones, zeros
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        if affine:
            self.weight = Parameter(ones(num_features, dtype=dtype, device=device))
            self.bias = Parameter(zeros(num_features, dtype=dtype, device=device)) if bias else None
        else:
            self.weight = None
            self.bias = None
        if track_running_stats:
            from ..creation import tensor
            self.register_buffer("running_mean", zeros(num_features, dtype=dtype, device=device))
            self.register_buffer("running_var", ones(num_features, dtype=dtype, device=device))
            self.register_buffer("num_batches_tracked", tensor(0, device=device))
        else:
            self.running_mean = None
            self.running_var = None

    def forward(self, input):
        if input.ndim not in (self.n + 1, self.n + 2):
            raise ValueError(f"{type(self).__name__}: expected {self.n + 1}-D or {self.n + 2}-D "
                             f"input, got shape {list(input.shape)}")
        unbatched = input.ndim == self.n + 1
        x = input.unsqueeze(0) if unbatched else input
        if x.shape[1] != self.num_features and self.affine:
            raise ValueError(f"{type(self).__name__}: expected {self.num_features} channels "
                             f"(dim 1), got input of shape {list(input.shape)}")
        use_input_stats = self.training or not self.track_running_stats
        y = X.instance_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                            use_input_stats, self.momentum if self.momentum is not None else 0.1,
                            self.eps)
        return y.squeeze(0) if unbatched else y

    def extra_repr(self):
        bias = "" if not self.affine or self.bias is not None else ", bias=False"
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}{bias}, track_running_stats={self.track_running_stats}")


class InstanceNorm1d(_InstanceNorm):
    n = 1


class InstanceNorm2d(_InstanceNorm):
    n = 2


class InstanceNorm3d(_InstanceNorm):
    n = 3


class RMSNorm(Module):
    """y = x / sqrt(mean(x^2) + eps) * weight over the trailing ``normalized_shape`` dims."""

    def __init__(self, normalized_shape, eps=None, elementwise_affine=True, device=None, dtype=None):
        super().__init__()
        from ..creation import ones
        if isinstance(normalized_shape, numbers.Integral):
            normalized_shape = (int(normalized_shape),)
        self.normalized_shape = tuple(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        self.weight = (Parameter(ones(self.normalized_shape, dtype=dtype, device=device))
                       if elementwise_affine else None)

    def forward(self, x):
        return X.rms_norm(x, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self):
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"


# ----------------------------------------------------------------------------- activations
def _act(name, fn, doc, **defaults):
    keys = list(defaults)

    def __init__(self, *args, **kwargs):
        Module.__init__(self)
        values = dict(defaults)
        if len(args) > len(keys):
            raise TypeError(f"{name}: takes at most {len(keys)} positional arguments ({keys})")
        values.update(zip(keys, args))
        for k in kwargs:
            if k not in values:
                raise TypeError(f"{name}: unexpected keyword argument {k!r}; it takes {keys}")
        values.update(kwargs)
        for k, v in values.items():
            setattr(self, k, v)

    def forward(self, input):
        return fn(input, *[getattr(self, k) for k in keys if k != "inplace"])

    def extra_repr(self):
        return ", ".join(f"{k}={getattr(self, k)}" for k in keys)
    return type(name, (Module,), {"__init__": __init__, "forward": forward,
                                  "extra_repr": extra_repr, "__doc__": doc})


SELU = _act("SELU", X.selu, "scale (max(0, x) + min(0, alpha (e^x - 1))) (``F.selu``)", inplace=False)
CELU = _act("CELU", lambda x, alpha: X.celu(x, alpha), "max(0, x) + min(0, alpha (e^(x/alpha) - 1))",
            alpha=1.0, inplace=False)
LogSigmoid = _act("LogSigmoid", X.logsigmoid, "log sigmoid(x) (``F.logsigmoid``)")
GLU = _act("GLU", X.glu, "a * sigmoid(b), the two halves of ``dim`` (``F.glu``)", dim=-1)
Mish = _act("Mish", X.mish, "x tanh(softplus(x)) (``F.mish``)", inplace=False)
Hardswish = _act("Hardswish", X.hardswish, "x relu6(x + 3) / 6 (``F.hardswish``)", inplace=False)
Hardsigmoid = _act("Hardsigmoid", X.hardsigmoid, "relu6(x + 3) / 6 (``F.hardsigmoid``)", inplace=False)
Softsign = _act("Softsign", X.softsign, "x / (1 + |x|) (``F.softsign``)")
Tanhshrink = _act("Tanhshrink", X.tanhshrink, "x - tanh(x) (``F.tanhshrink``)")
Threshold = _act("Threshold", X.threshold, "x if x > threshold else value (``F.threshold``)",
                 threshold=None, value=None, inplace=False)
Softmin = _act("Softmin", lambda x, dim: X.softmin(x, dim=dim), "softmax(-x) along ``dim``", dim=None)


class Softmax2d(Module):
    """Softmax over the channels (dim -3) of (N, C, H, W) or (C, H, W) input."""

    def forward(self, input):
        if input.ndim not in (3, 4):
            raise ValueError(f"Softmax2d: expected 3-D or 4-D input, got shape {list(input.shape)}")
        return input.softmax(-3)


class PReLU(Module):
    """max(0, x) + a min(0, x) with a learned slope ``weight`` (one, or one per channel)."""

    def __init__(self, num_parameters=1, init=0.25, device=None, dtype=None):
        super().__init__()
        from ..creation import full
        self.num_parameters = num_parameters
        self.init = init
        self.weight = Parameter(full((num_parameters,), init, dtype=dtype, device=device))

    def forward(self, input):
        return X.prelu(input, self.weight)

    def extra_repr(self):
        return f"num_parameters={self.num_parameters}"


# ----------------------------------------------------------------------------- distances
class CosineSimilarity(Module):
    def __init__(self, dim=1, eps=1e-8):
        super().__init__()
        self.dim, self.eps = dim, eps

    def forward(self, x1, x2):
        return X.cosine_similarity(x1, x2, self.dim, self.eps)


class PairwiseDistance(Module):
    def __init__(self, p=2.0, eps=1e-6, keepdim=False):
        super().__init__()
        self.norm, self.eps, self.keepdim = p, eps, keepdim

    def forward(self, x1, x2):
        return X.pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)


# ----------------------------------------------------------------------------- losses
class SmoothL1Loss(_Loss):
    """Quadratic below ``beta``, linear above (``F.smooth_l1_loss``)."""

    def __init__(self, size_average=None, reduce=None, reduction="mean", beta=1.0):
        super().__init__(size_average, reduce, reduction)
        self.beta = beta

    def forward(self, input, target):
        return X.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class HuberLoss(_Loss):
    """0.5 d^2 below ``delta``, delta (|d| - delta / 2) above (``F.huber_loss``)."""

    def __init__(self, reduction="mean", delta=1.0):
        super().__init__(reduction=reduction)
        self.delta = delta

    def forward(self, input, target):
        return X.huber_loss(input, target, reduction=self.reduction, delta=self.delta)


class MarginRankingLoss(_Loss):
    """max(0, -y (x1 - x2) + margin) (``F.margin_ranking_loss``)."""

    def __init__(self, margin=0.0, size_average=None, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input1, input2, target):
        return X.margin_ranking_loss(input1, input2, target, self.margin, reduction=self.reduction)


# ----------------------------------------------------------------------------- containers
class ParameterList(Module):
    """A list of Parameters registered under '0', '1', ... (state dict keys as PyTorch's)."""

    def __init__(self, values=None):
        super().__init__()
        self._size = 0
        if values is not None:
            self.extend(values)

    def _as_param(self, value):
        from ..autograd import Tensor
        if isinstance(value, Tensor) and not isinstance(value, Parameter):
            value = Parameter(value)
        return value

    def __len__(self):
        return self._size

    def __iter__(self):
        return (self._parameters[str(i)] for i in range(self._size))

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return ParameterList(list(self)[idx])
        i = idx + self._size if idx < 0 else idx
        if not 0 <= i < self._size:
            raise IndexError(f"ParameterList: index {idx} is out of range for {self._size} parameters")
        return self._parameters[str(i)]

    def __setitem__(self, idx, value):
        i = idx + self._size if idx < 0 else idx
        self.register_parameter(str(i), self._as_param(value))

    def append(self, value):
        self.register_parameter(str(self._size), self._as_param(value))
        self._size += 1
        return self

    def extend(self, values):
        for v in values:
            self.append(v)
        return self

    def __iadd__(self, values):
        return self.extend(values)

    def extra_repr(self):
        return "\n".join(f"({i}): Parameter containing: [{p.dtype} of size {tuple(p.shape)}]"
                         for i, p in enumerate(self))


class ParameterDict(Module):
    """A dict of Parameters registered under their keys."""

    def __init__(self, parameters=None):
        super().__init__()
        if parameters is not None:
            self.update(parameters)

    def __getitem__(self, key):
        return self._parameters[key]

    def __setitem__(self, key, value):
        from ..autograd import Tensor
        if isinstance(value, Tensor) and not isinstance(value, Parameter):
            value = Parameter(value)
        self.register_parameter(key, value)

    def __delitem__(self, key):
        del self._parameters[key]

    def __contains__(self, key):
        return key in self._parameters

    def __len__(self):
        return len(self._parameters)

    def __iter__(self):
        return iter(self._parameters)

    def keys(self):
        return self._parameters.keys()

    def values(self):
        return self._parameters.values()

    def items(self):
        return self._parameters.items()

    def get(self, key, default=None):
        return self._parameters.get(key, default)

    def update(self, parameters):
        items = parameters.items() if hasattr(parameters, "items") else parameters
        for k, v in items:
            self[k] = v


# ----------------------------------------------------------------------------- im2col, pooling, bilinear
from ..ops import extras_more as XM  # noqa: E402


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


class AdaptiveMaxPool1d(Module):
    def __init__(self, output_size, return_indices=False):
        super().__init__()
        self.output_size, self.return_indices = output_size, return_indices

    def forward(self, input):
        return XM.adaptive_max_pool1d(input, self.output_size, self.return_indices)

    def extra_repr(self):
        return f"output_size={self.output_size}"


class AdaptiveMaxPool2d(AdaptiveMaxPool1d):
    def forward(self, input):
        return XM.adaptive_max_pool2d(input, self.output_size, self.return_indices)


class Bilinear(Module):
    """y_k = x1^T A_k x2 + b_k; A and b start uniform on +-1/sqrt(in1_features), as PyTorch's."""

    def __init__(self, in1_features, in2_features, out_features, bias=True, device=None, dtype=None):
        super().__init__()
        import math
        from ..creation import empty
        self.in1_features, self.in2_features, self.out_features = in1_features, in2_features, out_features
        bound = 1.0 / math.sqrt(in1_features)
        self.weight = Parameter(empty(out_features, in1_features, in2_features, dtype=dtype,
                                      device=device).uniform_(-bound, bound))
        self.bias = (Parameter(empty(out_features, dtype=dtype, device=device).uniform_(-bound, bound))
                     if bias else None)

    def forward(self, input1, input2):
        return XM.bilinear(input1, input2, self.weight, self.bias)

    def extra_repr(self):
        return (f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
                f"out_features={self.out_features}, bias={self.bias is not None}")


# ----------------------------------------------------------------------------- more losses
class TripletMarginLoss(_Loss):
    def __init__(self, margin=1.0, p=2.0, eps=1e-6, swap=False, size_average=None, reduce=None,
                 reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        self.margin, self.p, self.eps, self.swap = margin, p, eps, swap

    def forward(self, anchor, positive, negative):
        return XM.triplet_margin_loss(anchor, positive, negative, self.margin, self.p, self.eps,
                                      self.swap, reduction=self.reduction)


class CosineEmbeddingLoss(_Loss):
    def __init__(self, margin=0.0, size_average=None, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input1, input2, target):
        return XM.cosine_embedding_loss(input1, input2, target, self.margin, reduction=self.reduction)


class HingeEmbeddingLoss(_Loss):
    def __init__(self, margin=1.0, size_average=None, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input, target):
        return XM.hinge_embedding_loss(input, target, self.margin, reduction=self.reduction)


class SoftMarginLoss(_Loss):
    def forward(self, input, target):
        return XM.soft_margin_loss(input, target, reduction=self.reduction)


class MultiLabelSoftMarginLoss(_Loss):
    def __init__(self, weight=None, size_average=None, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)

    def forward(self, input, target):
        return XM.multilabel_soft_margin_loss(input, target, self.weight, reduction=self.reduction)


class PoissonNLLLoss(_Loss):
    def __init__(self, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None,
                 reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        self.log_input, self.full, self.eps = log_input, full, eps

    def forward(self, log_input, target):
        return XM.poisson_nll_loss(log_input, target, self.log_input, self.full, eps=self.eps,
                                   reduction=self.reduction)


del OrderedDict, L
