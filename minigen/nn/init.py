"""``minigen.nn.init``: fill a tensor in place with the standard initial distributions.

Names, arguments and defaults are PyTorch's. Every function works under ``no_grad`` (so it
may fill a Parameter that requires grad), writes into the tensor's own array and returns the
tensor. Random values come from minigen's seeded generator on the tensor's device (or the
``generator`` passed), so ``minigen.manual_seed`` repeats an initialisation.

Fans, as PyTorch computes them, for a weight of shape (out, in, *kernel):
    receptive = prod(kernel)       (1 for a Linear weight)
    fan_in    = in * receptive     fan_out = out * receptive
The scaled schemes keep the variance of activations (fan_in) or of gradients (fan_out) the
same from layer to layer:
    xavier (Glorot & Bengio, 2010):  std = gain sqrt(2 / (fan_in + fan_out))
    kaiming (He et al., 2015):       std = gain / sqrt(fan)
and a uniform U(-b, b) has std b / sqrt 3, so the uniform variants use b = sqrt(3) std.
"""
from __future__ import annotations

import math
import numbers
import warnings

from .. import backend as B
from ..autograd import Tensor, no_grad
from ..creation import rand, randn, tensor as _tensor

__all__ = [
    "calculate_gain", "uniform_", "normal_", "constant_", "zeros_", "ones_", "eye_",
    "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_", "trunc_normal_",
    "orthogonal_", "layer_default_",
]


def calculate_gain(nonlinearity, param=None):
    """The gain that keeps activations' variance through ``nonlinearity``:
    1 for linear/conv/sigmoid, 5/3 for tanh, sqrt(2) for relu, sqrt(2 / (1 + slope^2)) for
    leaky_relu (``param`` is the slope, 0.01 by default), 3/4 for selu."""
    linear_fns = ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
                  "conv_transpose2d", "conv_transpose3d"]
    if nonlinearity in linear_fns or nonlinearity == "sigmoid":
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, numbers.Number) and not isinstance(param, bool):
            slope = param
        else:
            raise ValueError(f"calculate_gain: negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def _calculate_fan_in_and_fan_out(tensor):
    if tensor.ndim < 2:
        raise ValueError(f"init: fan in and fan out can not be computed for a tensor with fewer "
                         f"than 2 dimensions (got shape {list(tensor.shape)})")
    receptive = 1
    for s in tensor.shape[2:]:
        receptive *= s
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _calculate_correct_fan(tensor, mode):
    mode = mode.lower()
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"init: mode {mode!r} not supported, please use one of fan_in, fan_out")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def _write(tensor, values):
    """tensor[...] = values, in place and off the graph."""
    with no_grad():
        tensor.array[...] = values.array.astype(tensor.dtype, copy=False)
    return tensor


def _check_float(tensor, op):
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(tensor).__name__}")
    if tensor.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating point tensor, got {tensor.dtype}")


def _zero_element(tensor):
    if tensor.numel() == 0:
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=3)
        return True
    return False


def uniform_(tensor, a=0.0, b=1.0, generator=None):
    """Fill with samples of U(a, b)."""
    _check_float(tensor, "uniform_")
    u = rand(tensor.shape, dtype=tensor.dtype, device=tensor.device, generator=generator)
    # x = a + (b - a) u,  u ~ U[0, 1)
    return _write(tensor, u * (b - a) + a)


def normal_(tensor, mean=0.0, std=1.0, generator=None):
    """Fill with samples of N(mean, std^2)."""
    _check_float(tensor, "normal_")
    n = randn(tensor.shape, dtype=tensor.dtype, device=tensor.device, generator=generator)
    # x = mean + std n,  n ~ N(0, 1)
    return _write(tensor, n * std + mean)


def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0, generator=None):
    """Fill with samples of N(mean, std^2) conditioned on a <= x <= b (a and b are absolute
    values, not multiples of std, as in PyTorch).

    Rejection sampling: draw normals, redraw the ones outside [a, b] until none are left. Each
    round keeps a fraction P = Phi((b - mean)/std) - Phi((a - mean)/std) of the redrawn ones,
    so an interval with P < 1e-4 (far in a tail) is refused rather than looped on.
    """
    _check_float(tensor, "trunc_normal_")
    if not a < b:
        raise ValueError(f"trunc_normal_: expected a < b, got a={a}, b={b}")
    # P(a <= x <= b) = Phi(beta) - Phi(alpha),  Phi(u) = (1 + erf(u / sqrt 2)) / 2
    alpha, beta = (a - mean) / std, (b - mean) / std
    mass = 0.5 * (math.erf(beta / math.sqrt(2)) - math.erf(alpha / math.sqrt(2)))
    if mass < 1e-4:
        raise ValueError(f"trunc_normal_: [a, b] = [{a}, {b}] holds only {mass:.3g} of the "
                         f"probability of N({mean}, {std}^2); too far in the tail to sample")
    if tensor.numel() == 0:
        return tensor
    xp = tensor.xp
    dev, dt = tensor.device, tensor.dtype
    x = (randn(tensor.shape, dtype=dt, device=dev, generator=generator) * std + mean).array
    bad = (x < a) | (x > b)
    while bool(bad.any()):
        fresh = (randn(tensor.shape, dtype=dt, device=dev, generator=generator) * std + mean).array
        x = xp.where(bad, fresh, x)
        bad = (x < a) | (x > b)
    with no_grad():
        tensor.array[...] = x
    return tensor


def constant_(tensor, val):
    """Fill with the value ``val``."""
    with no_grad():
        tensor.array.fill(val)
    return tensor


def zeros_(tensor):
    return constant_(tensor, 0.0)


def ones_(tensor):
    return constant_(tensor, 1.0)


def eye_(tensor):
    """Fill a 2-D tensor with the identity matrix (ones on the diagonal, zeros elsewhere)."""
    if tensor.ndim != 2:
        raise ValueError(f"eye_: only tensors with 2 dimensions are supported, got shape "
                         f"{list(tensor.shape)}")
    xp = tensor.xp
    with no_grad():
        tensor.array[...] = xp.eye(tensor.shape[0], tensor.shape[1], dtype=tensor.dtype)
    return tensor


def xavier_uniform_(tensor, gain=1.0, generator=None):
    """U(-b, b) with b = gain sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio, 2010)."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    # std = gain sqrt(2 / (fan_in + fan_out)),  b = sqrt(3) std
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound, generator=generator)


def xavier_normal_(tensor, gain=1.0, generator=None):
    """N(0, std^2) with std = gain sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return normal_(tensor, 0.0, std, generator=generator)


def kaiming_uniform_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """U(-b, b) with b = gain sqrt(3 / fan) (He et al., 2015); ``a`` is the negative slope of
    the leaky_relu that follows (``nn.Linear`` uses a = sqrt(5), so b = 1/sqrt(fan_in))."""
    if _zero_element(tensor):
        return tensor
    fan = _calculate_correct_fan(tensor, mode)
    # std = gain / sqrt(fan),  b = sqrt(3) std
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound, generator=generator)


def kaiming_normal_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """N(0, std^2) with std = gain / sqrt(fan)."""
    if _zero_element(tensor):
        return tensor
    fan = _calculate_correct_fan(tensor, mode)
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    return normal_(tensor, 0.0, std, generator=generator)


def layer_default_(weight, bias=None):
    """PyTorch's default initialisation of Linear and Conv layers (their ``reset_parameters``):
    weight ~ kaiming_uniform_(a=sqrt 5) and bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)).

    gain(leaky_relu, sqrt 5) = sqrt(1/3), so the weight's bound sqrt(3) gain / sqrt(fan_in) is
    1/sqrt(fan_in) too: both are uniform on +-1/sqrt(fan_in).
    """
    kaiming_uniform_(weight, a=math.sqrt(5))
    if bias is not None:
        fan_in, _ = _calculate_fan_in_and_fan_out(weight)
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
        uniform_(bias, -bound, bound)


def orthogonal_(tensor, gain=1, generator=None):
    """A (semi-)orthogonal matrix (Saxe et al., 2013) times ``gain``; dimensions after the
    first are flattened. Q of the QR decomposition of a Gaussian matrix, with the signs of R's
    diagonal folded in so that Q is uniformly (Haar) distributed. The Gaussian matrix comes
    from the tensor's device generator; the QR itself runs on the host, once, at init."""
    import numpy
    if tensor.ndim < 2:
        raise ValueError(f"orthogonal_: only tensors with 2 or more dimensions are supported, "
                         f"got shape {list(tensor.shape)}")
    if tensor.numel() == 0:
        return tensor
    rows = tensor.shape[0]
    cols = tensor.numel() // rows
    g = randn((rows, cols), dtype=B.float64, device=tensor.device, generator=generator).cpu().numpy()
    if rows < cols:
        g = g.T
    q, r = numpy.linalg.qr(g)
    # Q D with D = sign(diag(R)): makes the decomposition unique, hence Q Haar-distributed
    q = q * numpy.sign(numpy.diag(r))
    if rows < cols:
        q = q.T
    return _write(tensor, _tensor((gain * q).reshape(tensor.shape), dtype=tensor.dtype,
                                  device=tensor.device))


def _deprecated(new):
    """PyTorch's old spellings without the trailing underscore (``nn.init.xavier_uniform``):
    they still work there, with a FutureWarning naming the new one; so here."""
    old = new.__name__[:-1]

    def fn(*args, **kwargs):
        warnings.warn(f"`nn.init.{old}` is now deprecated in favor of `nn.init.{new.__name__}`.",
                      FutureWarning, stacklevel=2)
        return new(*args, **kwargs)
    fn.__name__ = fn.__qualname__ = old
    fn.__doc__ = f"Deprecated spelling of ``{new.__name__}`` (warns, then calls it)."
    return fn


uniform = _deprecated(uniform_)
normal = _deprecated(normal_)
constant = _deprecated(constant_)
eye = _deprecated(eye_)
xavier_uniform = _deprecated(xavier_uniform_)
xavier_normal = _deprecated(xavier_normal_)
kaiming_uniform = _deprecated(kaiming_uniform_)
kaiming_normal = _deprecated(kaiming_normal_)
orthogonal = _deprecated(orthogonal_)
