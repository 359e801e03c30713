"""Normalisation layers as single Functions: ``batch_norm``, ``layer_norm``, ``group_norm``.

All three do the same thing over a different set of elements: subtract the mean, divide by the
standard deviation, then scale and shift per feature:

    mu = mean(x),  var = mean((x - mu)^2)       over a set of m elements (biased variance)
    rstd = 1 / sqrt(var + eps)
    x_hat = (x - mu) * rstd
    y = gamma * x_hat + beta

    batch_norm   the set is (N, *spatial) for each channel c       x: (N, C, *)
    layer_norm   the set is the trailing ``normalized_shape``      x: (*, *normalized_shape)
    group_norm   the set is (C / G channels, *spatial) per sample and group   x: (N, C, *)

The backward is derived once, in ``_Normalize``'s docstring, and shared.
"""
from __future__ import annotations

import numbers

from ..autograd import Function, Tensor, _wrap, is_grad_enabled
from .reduction import mean, sum
from .unary import rsqrt

__all__ = ["batch_norm", "layer_norm", "group_norm"]


class _Normalize(Function):
    """y = gamma * x_hat + beta with x_hat = (x - mu) * rstd over a set of m elements.

    Backward (per set; g = dL/dx_hat = dL/dy * gamma, means are over the set):

        dL/dbeta  = sum over the non-feature axes of dL/dy
        dL/dgamma = sum over the non-feature axes of dL/dy * x_hat
        dL/dx     = rstd * (g - mean(g) - x_hat * mean(g * x_hat))

    Derivation of dL/dx. With xc = x - mu and var = mean(xc^2):
        d mu / d x_j = 1/m,   d var / d x_j = 2 xc_j / m   (the mean(xc) = 0 term drops out),
        d rstd / d x_j = -1/2 (var + eps)^(-3/2) * 2 xc_j / m = -rstd^2 x_hat_j / m,
        d x_hat_i / d x_j = rstd (delta_ij - 1/m) + xc_i * d rstd / d x_j
                          = rstd (delta_ij - 1/m - x_hat_i x_hat_j / m).
    So dL/dx_j = sum_i g_i d x_hat_i / d x_j = rstd (g_j - mean(g) - x_hat_j mean(g x_hat)).

    The backward is written in minigen ops and recomputes mu, rstd and x_hat from the saved
    input x (a graph tensor): saved intermediates would be constants, and the second
    derivative (create_graph=True) would then miss their dependence on x.

    Subclasses set the geometry: ``stat_shape`` (x viewed so the set is ``stat_axes``),
    ``param_shape`` (gamma/beta viewed to broadcast against x) and ``param_axes`` (the axes of
    x that dL/dgamma and dL/dbeta sum over).
    """

    def _geometry(self, stat_shape, stat_axes, param_shape, param_axes, feature_shape, eps,
                  has_weight, has_bias, running=None):
        """Keep the layer's geometry (the keyword arguments of ``forward``) for backward."""
        self.stat_shape, self.stat_axes, self.eps = stat_shape, stat_axes, eps
        self.param_shape, self.param_axes, self.feature_shape = param_shape, param_axes, feature_shape
        self.has_weight, self.has_bias = has_weight, has_bias

    def forward(self, x, *params, stat_shape, stat_axes, param_shape, param_axes, feature_shape,
                eps, has_weight, has_bias, running=None):
        self._geometry(stat_shape, stat_axes, param_shape, param_axes, feature_shape, eps,
                       has_weight, has_bias)
        xv = x.reshape(stat_shape)
        mu = xv.mean(axis=stat_axes, keepdims=True)
        xc = xv - mu
        # var = mean((x - mu)^2), the biased variance
        var = (xc * xc).mean(axis=stat_axes, keepdims=True)
        if running is not None:
            _update_running(running, mu, var, xv.size // mu.size)
        # x_hat = (x - mu) / sqrt(var + eps)
        rstd = 1.0 / self.xp.sqrt(var + eps)
        xc *= rstd
        y = xc.reshape(x.shape)
        self.stats = (mu, rstd)  # small; a first-order backward rebuilds x_hat from them
        w = params[0] if has_weight else None
        b = params[-1] if has_bias else None
        # y = gamma * x_hat + beta
        if w is not None:
            y = y * w.reshape(param_shape)
        if b is not None:
            y = y + b.reshape(param_shape)
        self.save_for_backward(x, w)
        return y

    def backward(self, gy):
        x, w = self.saved_tensors
        axes = self.stat_axes
        xv = x.reshape(self.stat_shape)
        if is_grad_enabled():
            # create_graph: recompute x_hat and rstd from x in minigen ops, so they carry x's graph
            xc = xv - mean(xv, dim=axes, keepdim=True)
            rstd = rsqrt(mean(xc * xc, dim=axes, keepdim=True) + self.eps)
        else:
            # first order: the forward's mu and rstd (constants are fine here) save three passes
            mu, rstd = self.stats
            xc, rstd = xv - _wrap(mu), _wrap(rstd)
        x_hat = xc * rstd
        grads = []
        if self.needs_input_grad[0]:
            # g = dL/dx_hat = dL/dy * gamma
            g = (gy * w.reshape(self.param_shape) if w is not None else gy).reshape(self.stat_shape)
            # dL/dx = rstd * (g - mean(g) - x_hat * mean(g * x_hat))
            gx = rstd * (g - mean(g, dim=axes, keepdim=True)
                         - x_hat * mean(g * x_hat, dim=axes, keepdim=True))
            grads.append(gx.reshape(x.shape))
        else:
            grads.append(None)
        if self.has_weight:
            need = self.needs_input_grad[1]
            # dL/dgamma = sum(dL/dy * x_hat) over the non-feature axes
            grads.append(self._feature_sum(gy * x_hat.reshape(x.shape)) if need else None)
        if self.has_bias:
            need = self.needs_input_grad[-1]
            # dL/dbeta = sum(dL/dy) over the non-feature axes
            grads.append(self._feature_sum(gy) if need else None)
        return tuple(grads)

    def _feature_sum(self, t):
        """Sum ``t`` (shaped like x) over the axes gamma and beta are broadcast along."""
        if self.param_axes:
            t = sum(t, dim=self.param_axes)
        return t.reshape(self.feature_shape)


def _update_running(running, mu, var, m):
    """running <- (1 - momentum) * running + momentum * batch statistic, in place.

    As in PyTorch, the running variance takes the UNBIASED batch variance var * m / (m - 1),
    while the normalisation itself used the biased one.
    """
    running_mean, running_var, momentum = running
    mu = mu.reshape(-1)
    var_unbiased = var.reshape(-1) * (m / (m - 1))
    if running_mean is not None:
        running_mean[...] = (1 - momentum) * running_mean + momentum * mu.astype(running_mean.dtype)
    if running_var is not None:
        running_var[...] = (1 - momentum) * running_var + momentum * var_unbiased.astype(running_var.dtype)


class BatchNorm(_Normalize):
    """Batch normalisation (Ioffe and Szegedy, 2015) in training mode: statistics per channel
    over the batch and spatial axes. Backward: see ``_Normalize``.

    The forward and the first-order backward work on raw arrays in the layout of x's memory
    (``_Channels``): channels-last memory (what minigen's convolutions return, and any (N, C)
    input) as the matrix X of M = N * H * W rows (pixels) by C columns (channels), any other as
    the contiguous (N, C, L) array. The statistics are then sums of rows or columns (matrix-
    vector products with ones, BLAS), and every per-channel factor is one broadcast. y comes
    out in x's layout.
    With sg = sum_r dL/dy and sgx = sum_r dL/dy * x per channel (a = gamma rstd):
        dL/dbeta  = sg,    dL/dgamma = sum_r dL/dy x_hat = rstd (sgx - mu sg)
        dL/dx     = rstd (g - mean(g) - x_hat mean(g x_hat)),  g = dL/dy gamma
                  = a dL/dy - b x + c,   b = a rstd dL/dgamma / M,   c = b mu - a sg / M
    (the ``_Normalize`` formula with mean(g) = gamma sg / M, mean(g x_hat) = gamma dL/dgamma / M).
    Measured on a DCGAN's 64 x 64 x 16 x 16 activations (channels-last), 1 thread, against
    the general path's reductions over strided axes: forward 3.7 -> 1.0 ms, backward 9.9 ->
    2.6 ms (PyTorch 0.7 and 6.3 ms).
    """

    def forward(self, x, *params, eps, has_weight, has_bias, running=None, **geometry):
        self._geometry(eps=eps, has_weight=has_weight, has_bias=has_bias, **geometry)
        xp = self.xp
        ch = _Channels(self.backend, x)
        X, M = ch.view(x), ch.M
        w = params[0] if has_weight else None
        b = params[-1] if has_bias else None
        mu = ch.sum(X) / M
        xc = ch.apply(xp.subtract, X, mu)
        # var = mean((x - mu)^2), the biased variance;  rstd = 1 / sqrt(var + eps)
        var = ch.sum(xc * xc) / M
        if running is not None:
            _update_running(running, mu, var, M)
        rstd = 1.0 / xp.sqrt(var + eps)
        self.stats = (mu, rstd)
        # y = gamma * x_hat + beta = xc * (gamma rstd) + beta
        ch.apply(xp.multiply, xc, rstd * w.reshape(-1) if w is not None else rstd, out=xc)
        if b is not None:
            ch.apply(xp.add, xc, b.reshape(-1), out=xc)
        self.save_for_backward(x, w)
        return ch.back(xc)

    def backward(self, gy):
        x, w = self.saved_tensors
        if is_grad_enabled():  # create_graph: the general backward, in minigen ops
            return super().backward(gy)
        xp = self.xp
        ch = _Channels(self.backend, x.data)
        X, G, M = ch.view(x.data), ch.view(gy.data), ch.M
        mu, rstd = self.stats
        need = self.needs_input_grad
        sg = ch.sum(G)
        sgx = ch.sum(G * X)
        dgamma = rstd * (sgx - mu * sg)  # sum over the pixels of dL/dy x_hat
        grads = [None]
        if need[0]:
            a = rstd * w.data.reshape(-1) if w is not None else rstd
            bb = a * rstd * dgamma / M
            c = bb * mu - a * sg / M
            # dL/dx = a dL/dy - b x + c
            gx = ch.apply(xp.multiply, G, a)
            gx -= ch.apply(xp.multiply, X, bb)
            ch.apply(xp.add, gx, c, out=gx)
            grads[0] = _wrap(ch.back(gx))
        if self.has_weight:
            grads.append(_wrap(dgamma.reshape(self.feature_shape)) if need[1] else None)
        if self.has_bias:
            grads.append(_wrap(sg.reshape(self.feature_shape)) if need[-1] else None)
        return tuple(grads)


class LayerNorm(_Normalize):
    """Layer normalisation (Ba et al., 2016): statistics over the trailing normalized_shape of
    each sample. Backward: see ``_Normalize``.

    A first-order fast path on raw arrays. With x viewed as R rows of F features (one row per
    set), every sum over a row or down a column is a matrix-vector product (BLAS), and the
    backward is rearranged so that x_hat is never rebuilt. Per row i, with g = dL/dy * gamma:
        mean(g)_i         = s1_i / F,   s1 = g 1 = (dL/dy) gamma
        mean(g x_hat)_i   = rstd_i (s2_i - mu_i s1_i) / F,   s2 = (dL/dy * x) gamma
        dL/dx = rstd (g - mean(g) - x_hat mean(g x_hat))
              = a_i g_ij - b_i x_ij + c_i,   a = rstd,  b = rstd^2 mean(g x_hat),
                                             c = mu b - rstd mean(g)
        dL/dgamma = sum_i dL/dy_ij x_hat_ij = rstd^T (dL/dy * x) - (mu rstd)^T dL/dy
    (all from the formulas above, with x_hat = (x - mu) rstd). NumPy's per-row broadcasts
    are its slow loops (one short inner loop per row), so the fewer the better.
    """

    def forward(self, x, *params, eps, has_weight, has_bias, **geometry):
        self._geometry(eps=eps, has_weight=has_weight, has_bias=has_bias, **geometry)
        xp = self.xp
        F = 1
        for n in self.feature_shape:
            F *= n
        x2 = x.reshape(-1, F)
        mu = self.backend.sum(x2, (1,))
        mu /= F
        xc = x2 - mu[:, None]
        # var = mean((x - mu)^2), the biased variance;  rstd = 1 / sqrt(var + eps)
        var = self.backend.sum(xc * xc, (1,))
        var /= F
        var += eps
        rstd = xp.sqrt(var, out=var)
        xp.divide(1.0, rstd, out=rstd)
        xc *= rstd[:, None]  # x_hat
        self.stats = (mu, rstd)
        w = params[0] if has_weight else None
        b = params[-1] if has_bias else None
        # y = gamma * x_hat + beta
        if w is not None:
            xc *= w.reshape(-1)
        if b is not None:
            xc += b.reshape(-1)
        self.save_for_backward(x, w)
        return xc.reshape(x.shape)

    def backward(self, gy):
        if is_grad_enabled():  # create_graph: the general backward, in minigen ops
            return super().backward(gy)
        x, w = (t.data if t is not None else None for t in self.saved_tensors)
        xp = self.xp
        mu, rstd = self.stats
        R, F = mu.shape[0], x.size // max(mu.shape[0], 1)
        x2, g2 = x.reshape(R, F), xp.ascontiguousarray(gy.data).reshape(R, F)
        need = self.needs_input_grad
        need_w = self.has_weight and need[1]
        gyx = g2 * x2 if need[0] or need_w else None
        dw = db = gx = None
        if need_w:
            # dL/dgamma = rstd^T (dL/dy * x) - (mu rstd)^T dL/dy
            dw = _wrap((rstd @ gyx - (mu * rstd) @ g2).reshape(self.feature_shape))
        if self.has_bias and need[-1]:
            # dL/dbeta = dL/dy summed down the rows
            db = _wrap(self.backend.sum(g2, (0,)).reshape(self.feature_shape))
        if need[0]:
            # s1 = g 1 and s2 = (g * x) 1 per row, g = dL/dy gamma
            if w is not None:
                s1, s2 = g2 @ w.reshape(-1), gyx @ w.reshape(-1)
            else:
                s1, s2 = self.backend.sum(g2, (1,)), self.backend.sum(gyx, (1,))
            # b = rstd^2 mean(g x_hat) = rstd^3 (s2 - mu s1) / F;  c = mu b - rstd s1 / F
            b = s2 - mu * s1
            b *= rstd * rstd * rstd / F
            c = mu * b - rstd * s1 / F
            gx = g2 * w.reshape(-1) if w is not None else g2.copy()
            gx *= rstd[:, None]
            xp.multiply(x2, b[:, None], out=gyx)
            gx -= gyx
            gx += c[:, None]
            gx = _wrap(gx.reshape(x.shape))
        grads = [gx]
        if self.has_weight:
            grads.append(dw)
        if self.has_bias:
            grads.append(db)
        return tuple(grads)


class GroupNorm(_Normalize):
    """Group normalisation (Wu and He, 2018): statistics over each group of C/G channels (and
    all spatial positions) of each sample. Backward: see ``_Normalize``."""


def _to_last(a):
    """(N, C, *) as the (N, *, C) view."""
    return a.transpose((0,) + tuple(range(2, a.ndim)) + (1,))


class _Channels:
    """BatchNorm's view of an (N, C, *) input x, in the layout of x's memory.

    Channels-last memory (C-contiguous as (N, *, C)) is the (M, C) matrix of pixels by
    channels: per-channel sums are sums down the columns, per-channel factors broadcasts along
    the rows (``_columns``). Any other layout is the C-contiguous (N, C, L) array (a copy if x
    is neither): sums over L and then N, factors broadcast along rows of L pixels, unless L is
    under 64 (then x is copied channels-last). No strided reduction is left to NumPy."""

    def __init__(self, backend, x):
        self.backend, self.xp, self.shape = backend, backend.xp, x.shape
        self.C = x.shape[1]
        self.M = x.size // max(self.C, 1)
        # with few pixels per image the rows of (N, C, L) are too short to broadcast along:
        # copied channels-last instead (64 x 256 x 4 x 4: 0.9 against 1.7 ms forward+backward)
        self.last = _to_last(x).flags.c_contiguous or self.M < 64 * x.shape[0]

    def view(self, a):
        """A raw array shaped like x, in this layout (a view, or a copy in x's layout)."""
        if self.last:
            return self.xp.ascontiguousarray(_to_last(a)).reshape(-1, self.C)
        return self.xp.ascontiguousarray(a).reshape(self.shape[0], self.C, -1)

    def sum(self, X):
        """Per-channel sums (C,)."""
        if self.last:
            return self.backend.sum(X, (0,))
        return self.backend.sum(self.backend.sum(X, (2,)), (0,))

    def apply(self, op, X, v, out=None):
        """op(X, v) with v (C,) one value per channel."""
        if self.last:
            return _columns(op, X, v, out)
        return op(X, v.reshape(-1, 1), out=out)

    def back(self, X):
        """An array of this layout as the (N, C, *) view."""
        if not self.last:
            return X.reshape(self.shape)
        shape = self.shape
        return X.reshape((shape[0],) + tuple(shape[2:]) + (shape[1],)).transpose(
            (0, len(shape) - 1) + tuple(range(1, len(shape) - 1)))


def _columns(op, X, v, out=None):
    """op(X, v) for an (M, C) matrix X and a per-column vector v (C,). NumPy runs one short
    inner loop per row of a broadcast; with few columns the rows are viewed k at a time,
    (M / k, k C) against v repeated k times, 1.7x faster at C = 64 (M = 16384)."""
    M, C = X.shape
    k = max(1, 1024 // max(C, 1))
    while k > 1 and M % k:
        k //= 2
    if k > 1 and X.flags.c_contiguous and (out is None or out.flags.c_contiguous):
        X, v = X.reshape(M // k, k * C), v.reshape(1, C).repeat(k, axis=0).reshape(-1)
        out = None if out is None else out.reshape(M // k, k * C)
    return op(X, v, out=out).reshape(M, C)


def _apply(cls, x, weight, bias, **geometry):
    params = [p for p in (weight, bias) if p is not None]
    for p in params:
        if not isinstance(p, Tensor):
            raise TypeError(f"{cls.__name__.lower()}: weight and bias must be Tensors or None, "
                            f"got {type(p).__name__}")
    return cls.apply(x, *params, has_weight=weight is not None, has_bias=bias is not None,
                     **geometry)


def _check_param(op, name, p, shape, x):
    if p is None:
        return
    if tuple(p.shape) != tuple(shape):
        raise RuntimeError(f"{op}: expected {name} of shape {list(shape)} for input "
                           f"{list(x.shape)}, but got {name} of shape {list(p.shape)}")
    if type(p.data) is not type(x.data):
        raise RuntimeError(f"{op}: expected {name} on the same device as input "
                           f"({x.device}), but got {p.device}")


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """Batch normalisation over channel dim 1 of ``input`` (N, C, *).

    training=True: normalise with the batch's mean and biased variance, and (if given) update
    ``running_mean`` and ``running_var`` in place, off the graph:
        running_mean = (1 - momentum) * running_mean + momentum * mean
        running_var  = (1 - momentum) * running_var  + momentum * var * m / (m - 1)   (unbiased)
    where m = N * prod(spatial). training=False: normalise with the running statistics, which
    makes the op an affine map of x, y = (x - running_mean) * gamma / sqrt(running_var + eps)
    + beta, built from primitive ops (so it is differentiable, twice).

    ``momentum`` must be a number here, as in ``torch.nn.functional.batch_norm``; the modules
    implement momentum=None (a cumulative average) by passing 1 / num_batches_tracked.
    """
    x = input
    if x.data.ndim < 2:
        raise ValueError(f"batch_norm: expected input with at least 2 dims (N, C, *), got input "
                         f"of shape {list(x.shape)}")
    if x.data.dtype.kind != "f":
        raise RuntimeError(f"batch_norm: expected a floating point input, got {x.dtype}")
    C = x.data.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var)):
        if t is not None:
            if t.data.size != C:
                raise RuntimeError(f"batch_norm: {name} should contain {C} elements not "
                                   f"{t.data.size} (input of shape {list(x.shape)})")
            if type(t.data) is not type(x.data):
                raise RuntimeError(f"batch_norm: expected {name} on the same device as input "
                                   f"({x.device}), but got {t.device}")
    _check_param("batch_norm", "weight", weight, (C,), x)
    _check_param("batch_norm", "bias", bias, (C,), x)
    param_shape = (1, C) + (1,) * (x.data.ndim - 2)
    if not training:
        if running_mean is None or running_var is None:
            raise RuntimeError("batch_norm: running_mean and running_var must be defined in "
                               "evaluation mode (training=False)")
        # y = (x - running_mean) * gamma / sqrt(running_var + eps) + beta: affine in x
        scale = rsqrt(running_var.to(x.dtype) + eps)
        if weight is not None:
            scale = scale * weight
        y = (x - running_mean.to(x.dtype).reshape(param_shape)) * scale.reshape(param_shape)
        return y + bias.reshape(param_shape) if bias is not None else y
    m = x.data.size // C if C else 0
    if m <= 1:
        raise ValueError(f"Expected more than 1 value per channel when training, got input "
                         f"size {list(x.shape)}")
    running = None
    if running_mean is not None or running_var is not None:
        if momentum is None or not isinstance(momentum, numbers.Real):
            raise TypeError(f"batch_norm: momentum must be a float, got {momentum!r} (the "
                            "BatchNorm modules turn momentum=None into 1 / num_batches_tracked)")
        running = (None if running_mean is None else running_mean.data,
                   None if running_var is None else running_var.data, float(momentum))
    axes = (0,) + tuple(range(2, x.data.ndim))
    return _apply(BatchNorm, x, weight, bias, stat_shape=x.data.shape, stat_axes=axes,
                  param_shape=param_shape, param_axes=axes, feature_shape=(C,), eps=eps,
                  running=running)


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Layer normalisation over the trailing ``normalized_shape`` dims of ``input``."""
    x = input
    if isinstance(normalized_shape, numbers.Integral):
        normalized_shape = (int(normalized_shape),)
    ns = tuple(int(n) for n in normalized_shape)
    k = len(ns)
    if x.data.dtype.kind != "f":
        raise RuntimeError(f"layer_norm: expected a floating point input, got {x.dtype}")
    if k == 0 or x.data.ndim < k or tuple(x.data.shape[-k:]) != ns:
        raise RuntimeError(f"layer_norm: given normalized_shape={list(ns)}, expected input with "
                           f"shape [*, {', '.join(str(n) for n in ns)}], but got input of size "
                           f"{list(x.shape)}")
    _check_param("layer_norm", "weight", weight, ns, x)
    _check_param("layer_norm", "bias", bias, ns, x)
    nd = x.data.ndim
    if x.data.size == 0:
        return x * 1
    return _apply(LayerNorm, x, weight, bias, stat_shape=x.data.shape,
                  stat_axes=tuple(range(nd - k, nd)), param_shape=ns,
                  param_axes=tuple(range(nd - k)), feature_shape=ns, eps=eps)


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """Group normalisation of ``input`` (N, C, *): C split into ``num_groups`` groups."""
    x = input
    if x.data.ndim < 2:
        raise RuntimeError(f"group_norm: expected input with at least 2 dims (N, C, *), got "
                           f"input of shape {list(x.shape)}")
    if x.data.dtype.kind != "f":
        raise RuntimeError(f"group_norm: expected a floating point input, got {x.dtype}")
    N, C = x.data.shape[:2]
    G = int(num_groups)
    if G <= 0 or C % G != 0:
        raise RuntimeError(f"group_norm: expected the number of channels in input ({C}) to be "
                           f"divisible by num_groups ({num_groups}), but got input of shape "
                           f"{list(x.shape)}")
    _check_param("group_norm", "weight", weight, (C,), x)
    _check_param("group_norm", "bias", bias, (C,), x)
    param_shape = (1, C) + (1,) * (x.data.ndim - 2)
    if x.data.size == 0:
        return x * 1
    return _apply(GroupNorm, x, weight, bias, stat_shape=(N, G, x.data.size // (N * G)),
                  stat_axes=(2,), param_shape=param_shape,
                  param_axes=(0,) + tuple(range(2, x.data.ndim)), feature_shape=(C,), eps=eps)

