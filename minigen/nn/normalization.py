"""Normalisation layers: BatchNorm1d/2d, LayerNorm, GroupNorm (the math is in ops/norm.py).

Buffers, state-dict keys, defaults and reprs follow PyTorch, so a PyTorch state dict loads by
key. BatchNorm keeps ``running_mean``, ``running_var`` and ``num_batches_tracked`` (int64):

    training, track_running_stats:  normalise with batch statistics and update the running ones
                                    with factor momentum (or 1 / num_batches_tracked when
                                    momentum=None: a cumulative moving average)
    eval:                           normalise with the running statistics
    track_running_stats=False:      no buffers; batch statistics in training and eval alike
"""
from __future__ import annotations

import numbers

from .. import backend as B
from ..autograd import no_grad
from ..creation import ones, zeros, tensor
from ..ops.batch_norm import batch_norm
from ..ops.norm import layer_norm, group_norm
from ..ops import extras as X

from .module import Module
from .parameter import Parameter

__all__ = ["BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "SyncBatchNorm", "LayerNorm", "GroupNorm"]


def _factory(device, dtype):
    return dict(device=device, dtype=B.as_dtype(dtype) or B.get_default_dtype())


def _affine_parameters(module, shape, affine, bias, fk):
    """gamma (``weight``, ones) and beta (``bias``, zeros) of ``shape``, as PyTorch initialises
    them; registered as None when the layer has no affine part or no bias."""
    module.register_parameter("weight", Parameter(ones(shape, **fk)) if affine else None)
    module.register_parameter("bias", Parameter(zeros(shape, **fk)) if affine and bias else None)


class _BatchNorm(Module):
    _expected_dims = ()

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, device=None, dtype=None, *, bias=True):
        super().__init__()
        fk = _factory(device, dtype)
        self.num_features = int(num_features)
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        self.use_bias = bias
        _affine_parameters(self, self.num_features, affine, bias, fk)
        if track_running_stats:
            self.register_buffer("running_mean", zeros(self.num_features, **fk))
            self.register_buffer("running_var", ones(self.num_features, **fk))
            self.register_buffer("num_batches_tracked",
                                 tensor(0, dtype=B.int64, device=device))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self):
        if self.track_running_stats:
            with no_grad():
                self.running_mean.zero_()
                self.running_var.fill_(1)
                self.num_batches_tracked.zero_()

    def reset_parameters(self):
        self.reset_running_stats()
        if self.affine:
            with no_grad():
                self.weight.fill_(1)
                if self.bias is not None:
                    self.bias.zero_()

    def forward(self, input):
        if input.ndim not in self._expected_dims:
            want = " or ".join(f"{d}D" for d in self._expected_dims)
            raise ValueError(f"{type(self).__name__}: expected {want} input (got {input.ndim}D "
                             f"input of shape {list(input.shape)})")
        # batch statistics in training, and always without running statistics
        use_batch_stats = self.training or not self.track_running_stats
        factor = 0.0 if self.momentum is None else self.momentum
        update = self.training and self.track_running_stats
        if update and self.momentum is None:
            # cumulative moving average: running = mean of every batch statistic so far (the
            # count is read from the device only here: a read is a host sync on a GPU)
            factor = 1.0 / (int(self.num_batches_tracked.item()) + 1)
        # (batch_norm validates before it touches the running buffers; the count moves after)
        out = batch_norm(input, self.running_mean, self.running_var, self.weight, self.bias,
                         use_batch_stats, factor, self.eps)
        if update:
            with no_grad():
                self.num_batches_tracked.add_(1)
        return out

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, bias={bool(self.affine and self.use_bias)}, "
                f"track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of (N, C) or (N, C, L) inputs over N (and L), per channel C."""

    _expected_dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of (N, C, H, W) inputs over N, H and W, per channel C."""

    _expected_dims = (4,)


class BatchNorm3d(_BatchNorm):
    """Batch normalisation of (N, C, D, H, W) inputs over N, D, H and W, per channel C."""

    _expected_dims = (5,)


class SyncBatchNorm(_BatchNorm):
    """PyTorch's batch normalisation with statistics shared across the processes of a
    ``process_group``. minigen runs one process, so the statistics are this process's batch
    statistics and it computes exactly what BatchNorm does, on inputs of any rank >= 2
    (N, C, *). ``convert_sync_batchnorm`` swaps every BatchNorm of a model for one."""

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, process_group=None, device=None, dtype=None, *,
                 bias=True):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype,
                         bias=bias)
        self.process_group = process_group

    class _AtLeast2D:
        def __contains__(self, ndim):
            return ndim >= 2

    _expected_dims = _AtLeast2D()

    def forward(self, input):
        if input.ndim < 2:
            raise ValueError(f"expected at least 2D input (got {input.ndim}D input)")
        return super().forward(input)

    @classmethod
    def convert_sync_batchnorm(cls, module, process_group=None):
        """``module`` with every BatchNorm layer in it (itself included) replaced by a
        SyncBatchNorm that holds the same parameters and buffers (the same tensor objects) and
        the same training flag; other layers are kept and returned as they are."""
        out = module
        if isinstance(module, _BatchNorm):
            out = cls(module.num_features, module.eps, module.momentum, module.affine,
                      module.track_running_stats, process_group, bias=module.use_bias)
            if module.affine:
                with no_grad():
                    out.weight = module.weight
                    out.bias = module.bias
            out.running_mean = module.running_mean
            out.running_var = module.running_var
            out.num_batches_tracked = module.num_batches_tracked
            out.training = module.training
            if hasattr(module, "qconfig"):
                out.qconfig = module.qconfig
        for name, child in module.named_children():
            out.add_module(name, cls.convert_sync_batchnorm(child, process_group))
        del module
        return out


class LayerNorm(Module):
    """Normalise each sample over its trailing ``normalized_shape`` dims, then scale and shift
    elementwise (``weight`` and ``bias`` of shape ``normalized_shape``)."""

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True,
                 device=None, dtype=None):
        super().__init__()
        fk = _factory(device, dtype)
        if isinstance(normalized_shape, numbers.Integral):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(int(n) for n in normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        self.use_bias = bias
        _affine_parameters(self, self.normalized_shape, elementwise_affine, bias, fk)

    def forward(self, input):
        return layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}, "
                f"bias={bool(self.elementwise_affine and self.use_bias)}")


class GroupNorm(Module):
    """Normalise each sample over groups of ``num_channels / num_groups`` channels (and all
    positions), then scale and shift per channel."""

    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True, device=None, dtype=None,
                 *, bias=True):
        super().__init__()
        if num_channels % num_groups != 0:
            raise ValueError(f"GroupNorm: num_channels ({num_channels}) must be divisible by "
                             f"num_groups ({num_groups})")
        fk = _factory(device, dtype)
        self.num_groups = int(num_groups)
        self.num_channels = int(num_channels)
        self.eps = eps
        self.affine = affine
        self.use_bias = bias
        _affine_parameters(self, self.num_channels, affine, bias, fk)

    def forward(self, input):
        return group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
                f"bias={bool(self.affine and self.use_bias)}")


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
        bias = bool(self.affine and self.bias is not None)  # printed always, as PyTorch's
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, bias={bias}, track_running_stats={self.track_running_stats}")


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


__all__ += ["InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d", "RMSNorm"]


class LocalResponseNorm(Module):
    """Local response normalisation across channels (``F.local_response_norm``):
    b_c = a_c / (k + alpha / size * sum of a^2 over the ``size`` channels around c)^beta."""

    def __init__(self, size, alpha=1e-4, beta=0.75, k=1.0):
        super().__init__()
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def forward(self, input):
        from ..ops.norm import local_response_norm
        return local_response_norm(input, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self):
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"


__all__ += ["LocalResponseNorm"]
