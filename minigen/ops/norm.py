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

The backward is derived once, in ``_Normalize``'s docstring, and shared. BatchNorm, with its
running statistics and its own first-order path, is in ``batch_norm.py``.
"""
from __future__ import annotations

import numbers

from ..autograd import Function, Tensor, _wrap, is_grad_enabled
from ..backend import fused
from .reduction import mean, sum
from .unary import rsqrt

__all__ = ["layer_norm", "group_norm"]  # batch_norm: ops/batch_norm.py


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
                  has_weight, has_bias):
        """Keep the layer's geometry (the keyword arguments of ``forward``) for backward."""
        self.stat_shape, self.stat_axes, self.eps = stat_shape, stat_axes, eps
        self.param_shape, self.param_axes, self.feature_shape = param_shape, param_axes, feature_shape
        self.has_weight, self.has_bias = has_weight, has_bias

    def forward(self, x, *params, stat_shape, stat_axes, param_shape, param_axes, feature_shape,
                eps, has_weight, has_bias):
        self._geometry(stat_shape, stat_axes, param_shape, param_axes, feature_shape, eps,
                       has_weight, has_bias)
        xv = x.reshape(stat_shape)
        mu = xv.mean(axis=stat_axes, keepdims=True)
        xc = xv - mu
        # var = mean((x - mu)^2), the biased variance
        var = (xc * xc).mean(axis=stat_axes, keepdims=True)
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
        rstd = self.backend.fused(_rstd, self.backend.sum(xc * xc, (1,)), F, eps)
        self.stats = (mu, rstd)
        w = params[0] if has_weight else None
        b = params[-1] if has_bias else None
        # y = gamma * x_hat + beta,  x_hat = (x - mu) rstd
        if w is not None and b is not None:  # one CUDA kernel on a GPU
            y = self.backend.fused(_layer_norm_affine, xc, rstd[:, None], w.reshape(-1),
                                   b.reshape(-1))
        else:
            y = _layer_norm_affine(xp, xc, rstd[:, None], None if w is None else w.reshape(-1),
                                   None if b is None else b.reshape(-1))
        self.save_for_backward(x, w)
        return y.reshape(x.shape)

    def backward(self, gy):
        if is_grad_enabled():  # create_graph: the general backward, in minigen ops
            return super().backward(gy)
        x, w = (t.array if t is not None else None for t in self.saved_tensors)
        xp = self.xp
        mu, rstd = self.stats
        R, F = mu.shape[0], x.size // max(mu.shape[0], 1)
        x2, g2 = x.reshape(R, F), xp.ascontiguousarray(gy.array).reshape(R, F)
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
            b, c = self.backend.fused(_layer_norm_row_factors, s1, s2, mu, rstd, F)
            # dL/dx = rstd g - b x + c
            if w is not None:  # one CUDA kernel on a GPU
                gx = self.backend.fused(_layer_norm_dx, g2, w.reshape(-1), rstd[:, None], x2,
                                        b[:, None], c[:, None])
            else:
                gx = _layer_norm_dx(xp, g2, None, rstd[:, None], x2, b[:, None], c[:, None])
            gx = _wrap(gx.reshape(x.shape))
        grads = [gx]
        if self.has_weight:
            grads.append(dw)
        if self.has_bias:
            grads.append(db)
        return tuple(grads)


@fused(inputs=["ss"], outputs=["rstd"], scalars=["F", "eps"], body="""
    rstd = (T)1 / sqrt(ss / F + eps);""")
def _rstd(xp, ss, F, eps):
    """rstd = 1 / sqrt(var + eps) from ss, a sum of F squares (x - mu)^2: var = ss / F, the
    biased variance (BatchNorm passes var itself, F = 1). Works in ss."""
    if F != 1:
        ss /= F
    ss += eps
    rstd = xp.sqrt(ss, out=ss)
    return xp.divide(1.0, rstd, out=rstd)


@fused(inputs=["s1", "s2", "mu", "rstd"], outputs=["b", "c"], scalars=["F"], body="""
    b = (s2 - mu * s1) * (rstd * rstd * rstd / F);
    c = mu * b - rstd * s1 / F;""")
def _layer_norm_row_factors(xp, s1, s2, mu, rstd, F):
    """LayerNorm's per-row factors of dL/dx (``LayerNorm``'s docstring), from s1 = g 1 and
    s2 = (g * x) 1:  b = rstd^2 mean(g x_hat) = rstd^3 (s2 - mu s1) / F,  c = mu b - rstd s1 / F."""
    b = s2 - mu * s1
    b *= rstd * rstd * rstd / F
    c = mu * b - rstd * s1 / F
    return b, c


@fused(inputs=["xc", "rstd", "w", "b"], outputs=["y"], body="""
    // y = gamma x_hat + beta,  x_hat = (x - mu) rstd
    y = xc * rstd * w + b;""")
def _layer_norm_affine(xp, xc, rstd, w, b):
    """LayerNorm's last step, y = gamma * x_hat + beta with x_hat = xc * rstd, xc = x - mu
    (rows of xc; rstd one per row; gamma, beta one per column, or None). Works in xc."""
    xc *= rstd
    if w is not None:
        xc *= w
    if b is not None:
        xc += b
    return xc


@fused(inputs=["g", "w", "rstd", "x", "b", "c"], outputs=["gx"], body="""
    // dL/dx = rstd gamma dL/dy - b x + c
    gx = g * w * rstd - x * b + c;""")
def _layer_norm_dx(xp, g, w, rstd, x, b, c):
    """LayerNorm's dL/dx = a g gamma - b x + c per row (``LayerNorm``'s docstring), with
    a = rstd; g = dL/dy; gamma None for a layer without weight."""
    gx = g * w if w is not None else g.copy()
    gx *= rstd
    gx -= x * b
    gx += c
    return gx


class GroupNorm(_Normalize):
    """Group normalisation (Wu and He, 2018): statistics over each group of C/G channels (and
    all spatial positions) of each sample. Backward: see ``_Normalize``."""


def _apply(cls, x, weight, bias, **geometry):
    params = [p for p in (weight, bias) if p is not None]
    for p in params:
        if not isinstance(p, Tensor):
            raise TypeError(f"{cls.__name__.lower()}: weight and bias must be Tensors or None, "
                            f"got {type(p).__name__}")
    return cls.apply(x, *params, has_weight=weight is not None, has_bias=bias is not None,
                     **geometry)


def _check_channels_input(op, x, few_dims=RuntimeError):
    """x is a floating (N, C, *) input; ``few_dims`` is the error PyTorch raises for fewer
    than 2 dims (batch_norm: ValueError, group_norm: RuntimeError)."""
    if x.array.ndim < 2:
        raise few_dims(f"{op}: expected input with at least 2 dims (N, C, *), got input of "
                       f"shape {list(x.shape)}")
    if x.array.dtype.kind != "f":
        raise RuntimeError(f"{op}: expected a floating point input, got {x.dtype}")


def _check_param(op, name, p, shape, x):
    if p is None:
        return
    if tuple(p.shape) != tuple(shape):
        raise RuntimeError(f"{op}: expected {name} of shape {list(shape)} for input "
                           f"{list(x.shape)}, but got {name} of shape {list(p.shape)}")
    if type(p.array) is not type(x.array):
        raise RuntimeError(f"{op}: expected {name} on the same device as input "
                           f"({x.device}), but got {p.device}")


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Layer normalisation over the trailing ``normalized_shape`` dims of ``input``."""
    x = input
    if isinstance(normalized_shape, numbers.Integral):
        normalized_shape = (int(normalized_shape),)
    ns = tuple(int(n) for n in normalized_shape)
    k = len(ns)
    if x.array.dtype.kind != "f":
        raise RuntimeError(f"layer_norm: expected a floating point input, got {x.dtype}")
    if k == 0 or x.array.ndim < k or tuple(x.array.shape[-k:]) != ns:
        raise RuntimeError(f"layer_norm: given normalized_shape={list(ns)}, expected input with "
                           f"shape [*, {', '.join(str(n) for n in ns)}], but got input of size "
                           f"{list(x.shape)}")
    _check_param("layer_norm", "weight", weight, ns, x)
    _check_param("layer_norm", "bias", bias, ns, x)
    nd = x.array.ndim
    if x.array.size == 0:
        return x * 1
    return _apply(LayerNorm, x, weight, bias, stat_shape=x.array.shape,
                  stat_axes=tuple(range(nd - k, nd)), param_shape=ns,
                  param_axes=tuple(range(nd - k)), feature_shape=ns, eps=eps)


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """Group normalisation of ``input`` (N, C, *): C split into ``num_groups`` groups."""
    x = input
    _check_channels_input("group_norm", x)
    N, C = x.array.shape[:2]
    G = int(num_groups)
    if G <= 0 or C % G != 0:
        raise RuntimeError(f"group_norm: expected the number of channels in input ({C}) to be "
                           f"divisible by num_groups ({num_groups}), but got input of shape "
                           f"{list(x.shape)}")
    _check_param("group_norm", "weight", weight, (C,), x)
    _check_param("group_norm", "bias", bias, (C,), x)
    param_shape = (1, C) + (1,) * (x.array.ndim - 2)
    if x.array.size == 0:
        return x * 1
    return _apply(GroupNorm, x, weight, bias, stat_shape=(N, G, x.array.size // (N * G)),
                  stat_axes=(2,), param_shape=param_shape,
                  param_axes=(0,) + tuple(range(2, x.array.ndim)), feature_shape=(C,), eps=eps)



def local_response_norm(input, size, alpha=1e-4, beta=0.75, k=1.0):
    """Local response normalisation across channels (AlexNet's), PyTorch's formula: for an
    input (N, C, *) each value is divided by a power of the mean square of its neighbours
    along the channel dimension,

        b_c = a_c / (k + alpha * (1 / size) * sum_{c' = c - size//2}^{c + (size-1)//2} a_c'^2)^beta

    (channels outside [0, C) count as zeros, and the sum is always divided by ``size``, as
    PyTorch's zero-padded average pooling does). A composite of differentiable ops (squares,
    a zero-padded window sum of ``size`` shifted slices, pow, division)."""
    from .join import cat
    from ..creation import zeros
    if not isinstance(input, Tensor):
        raise TypeError(f"local_response_norm: expected a Tensor input, got "
                        f"{type(input).__name__}")
    if input.ndim < 3:
        raise ValueError(f"Expected 3D or higher dimensionality input (got {input.ndim} "
                         f"dimensions)")
    if input.numel() == 0:
        return input
    C = input.shape[1]
    before, after = size // 2, (size - 1) // 2
    sq = input * input
    rest = tuple(input.shape[2:])
    parts = []
    if before:
        parts.append(zeros(input.shape[0], before, *rest, dtype=input.dtype, device=input.device))
    parts.append(sq)
    if after:
        parts.append(zeros(input.shape[0], after, *rest, dtype=input.dtype, device=input.device))
    padded = cat(parts, 1) if len(parts) > 1 else sq
    # window sum over size consecutive channels
    acc = padded[:, 0:C]
    for i in range(1, size):
        acc = acc + padded[:, i:i + C]
    div = (acc * (alpha / size) + k) ** beta
    return input / div


__all__ += ["local_response_norm"]
