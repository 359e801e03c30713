"""Activation modules: thin wrappers over the functional forms in ``minigen/ops/activation.py``
(and ``tanh``, ``sigmoid``, ``softmax``, ``log_softmax`` among the primitive ops), with
PyTorch's arguments and printed form.

``inplace=True`` is accepted where PyTorch accepts it, and printed as PyTorch prints it, but
changes nothing: minigen never overwrites an op's input (backward may need it), so the module
always returns a new tensor.
"""
from __future__ import annotations

from ..ops import activation as F
from ..ops import unary as E
from ..ops import softmax_family as S
from ..ops import extras as X
from ..ops import extras_nn as XN

from .module import Module
from .parameter import Parameter

__all__ = [
    "ReLU", "LeakyReLU", "RReLU", "GELU", "SiLU", "Tanh", "Sigmoid", "Softplus", "ELU", "Hardtanh",
    "ReLU6", "Softmax", "LogSoftmax",
]


def _inplace_repr(inplace):
    return "inplace=True" if inplace else ""


class ReLU(Module):
    """max(x, 0)."""

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        return E.relu(input)

    def extra_repr(self):
        return _inplace_repr(self.inplace)


class RReLU(Module):
    """Randomized leaky ReLU: slope a ~ U(lower, upper) per element in training, the mean
    slope (lower + upper) / 2 in evaluation (``F.rrelu``)."""

    def __init__(self, lower=1.0 / 8, upper=1.0 / 3, inplace=False):
        super().__init__()
        self.lower, self.upper, self.inplace = lower, upper, inplace

    def forward(self, input):
        return F.rrelu(input, self.lower, self.upper, self.training)

    def extra_repr(self):
        return f"lower={self.lower}, upper={self.upper}" + (", inplace=True" if self.inplace else "")


class LeakyReLU(Module):
    """x if x > 0 else negative_slope * x."""

    def __init__(self, negative_slope=0.01, inplace=False):
        super().__init__()
        self.negative_slope = negative_slope
        self.inplace = inplace

    def forward(self, input):
        return F.leaky_relu(input, self.negative_slope)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace else "")


class GELU(Module):
    """x Phi(x), Phi the standard normal CDF; ``approximate='tanh'`` uses the tanh formula."""

    def __init__(self, approximate="none"):
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate argument must be either 'none' or 'tanh', "
                             f"got {approximate!r}")
        self.approximate = approximate

    def forward(self, input):
        return F.gelu(input, approximate=self.approximate)

    def extra_repr(self):
        return f"approximate={self.approximate!r}"


class SiLU(Module):
    """x sigmoid(x)."""

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        return F.silu(input)

    def extra_repr(self):
        return _inplace_repr(self.inplace)


class Tanh(Module):
    def forward(self, input):
        return E.tanh(input)


class Sigmoid(Module):
    def forward(self, input):
        return E.sigmoid(input)


class Softplus(Module):
    """(1/beta) log(1 + exp(beta x)), linear where beta x > threshold."""

    def __init__(self, beta=1.0, threshold=20.0):
        super().__init__()
        self.beta = beta
        self.threshold = threshold

    def forward(self, input):
        return F.softplus(input, self.beta, self.threshold)

    def extra_repr(self):
        return f"beta={self.beta}, threshold={self.threshold}"


class ELU(Module):
    """x if x > 0 else alpha (exp(x) - 1)."""

    def __init__(self, alpha=1.0, inplace=False):
        super().__init__()
        self.alpha = alpha
        self.inplace = inplace

    def forward(self, input):
        return F.elu(input, self.alpha)

    def extra_repr(self):
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")


class Hardtanh(Module):
    """clamp(x, min_val, max_val); the gradient is 1 strictly inside, 0 outside."""

    def __init__(self, min_val=-1.0, max_val=1.0, inplace=False):
        super().__init__()
        if min_val > max_val:
            raise ValueError(f"Hardtanh: min_val ({min_val}) cannot be greater than max_val "
                             f"({max_val})")
        self.min_val = min_val
        self.max_val = max_val
        self.inplace = inplace

    def forward(self, input):
        return F.hardtanh(input, self.min_val, self.max_val)

    def extra_repr(self):
        return (f"min_val={self.min_val}, max_val={self.max_val}"
                + (", inplace=True" if self.inplace else ""))


class ReLU6(Hardtanh):
    """min(max(x, 0), 6)."""

    def __init__(self, inplace=False):
        super().__init__(0.0, 6.0, inplace)

    def extra_repr(self):
        return _inplace_repr(self.inplace)


class Softmax(Module):
    """exp(x_i) / sum_j exp(x_j) along ``dim``. ``dim=None`` picks PyTorch's legacy implicit
    dim (0 for 0-, 1- and 3-d inputs, else 1); pass ``dim`` explicitly."""

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return S.softmax(input, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """x_i - log sum_j exp(x_j) along ``dim`` (``dim=None`` as in ``Softmax``)."""

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return S.log_softmax(input, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


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


__all__ += [
    "SELU", "CELU", "LogSigmoid", "GLU", "Mish", "Hardswish", "Hardsigmoid", "Softsign",
    "Tanhshrink", "Threshold", "Softmin", "Softmax2d", "PReLU",
]


class _Shrink(Module):
    def __init__(self, lambd=0.5):
        super().__init__()
        self.lambd = lambd

    def extra_repr(self):
        return f"{self.lambd}"


class Hardshrink(_Shrink):
    """x where |x| > lambd, else 0 (``F.hardshrink``)."""

    def forward(self, input):
        return XN.hardshrink(input, self.lambd)


class Softshrink(_Shrink):
    """x - lambd above lambd, x + lambd below -lambd, else 0 (``F.softshrink``)."""

    def forward(self, input):
        return XN.softshrink(input, self.lambd)


__all__ += ["Hardshrink", "Softshrink"]
