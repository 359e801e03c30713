"""The registry of differentiable ops: what to call, what it should equal, where to test it.

Each ``OpSpec`` names an op, a function of minigen tensors (``fn``), an independent NumPy
float64 ``reference`` of the same inputs as arrays, and ``make_inputs(rng, device)``, which
returns the inputs as tensors on ``device`` (floating ones float64 and requiring grad; integer
and bool ones, such as indices and masks, as constants). Inputs are drawn away from the points
where the op is not differentiable (ties for max, 0 for abs and relu, the bounds of clamp), so
central finite differences are valid there.

The test suite (``minigen_tests/test_op_registry.py``) and ``python -m
minigen.testing.gradcheck_table`` run every registered spec through
``minigen.testing.check_op``: forward against the reference, gradcheck, gradgradcheck (when
``second_order``) and no mutation of the inputs.

Adding specs: call ``register(OpSpec(...))``. Specs for other layers live in modules of this
package whose names end in ``_specs`` (``nn_specs.py``, ...): ``all_specs()`` imports each of
them once, so their ``register`` calls run before the list is returned.
"""
from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

import minigen as mg

__all__ = ["OpSpec", "REGISTRY", "register", "all_specs", "get_spec"]


@dataclass
class OpSpec:
    """One op to check. ``binary`` marks elementwise ops of two broadcasting tensors; ``domain``
    says (in words, or as a ``strategies.DOMAINS`` key) where the inputs were drawn."""

    name: str
    fn: Callable
    reference: Callable
    make_inputs: Callable
    second_order: bool = True
    binary: bool = False
    domain: Optional[str] = None
    gradcheck_mode: str = "full"
    eps: float = 1e-6
    atol: float = 1e-5
    rtol: float = 1e-3
    tags: tuple = field(default_factory=tuple)

    def __repr__(self):
        return f"OpSpec({self.name!r})"


REGISTRY: dict = {}
_extensions_loaded = False


def register(spec):
    """Add ``spec`` to the registry; a second spec with the same name is an error."""
    if not isinstance(spec, OpSpec):
        raise TypeError(f"register: expected an OpSpec, got {type(spec).__name__}")
    if spec.name in REGISTRY:
        raise ValueError(f"register: an op spec named {spec.name!r} is already registered")
    REGISTRY[spec.name] = spec
    return spec


def _load_extensions():
    global _extensions_loaded
    if _extensions_loaded:
        return
    _extensions_loaded = True
    import minigen.testing as pkg
    for info in pkgutil.iter_modules(pkg.__path__):
        if info.name.endswith("_specs") and info.name != "op_specs":
            importlib.import_module(f"{pkg.__name__}.{info.name}")


def all_specs():
    """Every registered spec, in registration order (engine ops first)."""
    _load_extensions()
    return list(REGISTRY.values())


def get_spec(name):
    _load_extensions()
    return REGISTRY[name]


# ----------------------------------------------------------------------------- input helpers
def _ins(device, *arrays):
    """Tensors on ``device``: float arrays as float64 leaves requiring grad, others constant."""
    out = []
    for a in arrays:
        a = np.asarray(a)
        if a.dtype.kind == "f":
            out.append(mg.tensor(a.astype(np.float64), dtype=mg.float64, device=device,
                                 requires_grad=True))
        else:
            out.append(mg.tensor(a, dtype=a.dtype, device=device))
    return out


def _n(rng, *shape):
    return rng.standard_normal(shape)


def _pos(rng, *shape):
    return rng.uniform(0.5, 2.0, shape)


def _nonzero(rng, *shape):
    return rng.choice([-1.0, 1.0], shape) * rng.uniform(0.3, 2.0, shape)


def _distinct(rng, *shape):
    """Values at least 0.25 apart (no ties for max/min/sort)."""
    n = int(np.prod(shape))
    return ((rng.permutation(n) - n / 2) * 0.25 + rng.uniform(0, 0.05)).reshape(shape)


def _away(rng, shape, points, gap=0.1, lo=-1.5, hi=1.5):
    """Uniform values in [lo, hi] at least ``gap`` from every point in ``points``."""
    x = rng.uniform(lo, hi, shape)
    for _ in range(100):
        near = np.zeros(shape, bool)
        for p in points:
            near |= np.abs(x - p) < gap
        if not near.any():
            return x
        x = np.where(near, rng.uniform(lo, hi, shape), x)
    raise RuntimeError("op_specs: could not draw values away from the given points")


def _apart(rng, shape_a, shape_b, gap=0.1):
    """Two arrays whose broadcast elements differ by at least ``gap`` (no ties in maximum)."""
    for _ in range(100):
        a, b = _n(rng, *shape_a), _n(rng, *shape_b)
        if np.abs(a - b).min() >= gap:
            return a, b
    raise RuntimeError("op_specs: could not draw two arrays apart")


def _spec(name, fn, reference, make_inputs, **kw):
    return register(OpSpec(name, fn, reference, make_inputs, **kw))


def _unary(name, fn, reference, draw=_n, shape=(2, 3), **kw):
    return _spec(name, fn, reference, lambda rng, d: _ins(d, draw(rng, *shape)), **kw)


# ============================================================================= elementwise
_spec("add", lambda a, b: a + b, np.add, lambda r, d: _ins(d, _n(r, 2, 3), _n(r, 3)), binary=True)
_spec("add_alpha", lambda a, b: mg.add(a, b, alpha=2.5), lambda a, b: a + 2.5 * b,
      lambda r, d: _ins(d, _n(r, 2, 3), _n(r, 2, 1)))
_unary("add_scalar", lambda x: x + 1.5, lambda x: x + 1.5)
_spec("sub", lambda a, b: a - b, np.subtract, lambda r, d: _ins(d, _n(r, 3), _n(r, 2, 3)),
      binary=True)
_unary("rsub_scalar", lambda x: 2.0 - x, lambda x: 2.0 - x)
_spec("mul", lambda a, b: a * b, np.multiply, lambda r, d: _ins(d, _n(r, 2, 1, 3), _n(r, 2, 1)),
      binary=True)
_unary("mul_scalar", lambda x: x * -3.0, lambda x: x * -3.0)
_unary("square_self", lambda x: x * x, lambda x: x * x)  # the same tensor twice: Square
_spec("div", lambda a, b: a / b, np.divide, lambda r, d: _ins(d, _n(r, 2, 3), _nonzero(r, 3)),
      binary=True, domain="nonzero denominator")
_unary("div_scalar", lambda x: x / 4.0, lambda x: x / 4.0)
_unary("rdiv_scalar", lambda x: 2.0 / x, lambda x: 2.0 / x, draw=_nonzero, domain="nonzero")
_spec("pow", lambda a, b: a ** b, np.power,
      lambda r, d: _ins(d, _pos(r, 2, 3), 0.8 * _n(r, 2, 1)), binary=True,
      domain="positive base")
_unary("pow_scalar_exponent", lambda x: x ** 2.5, lambda x: x ** 2.5, draw=_pos,
       domain="positive")
_unary("pow_int_exponent", lambda x: x ** 3, lambda x: x ** 3)
_unary("pow_negative_exponent", lambda x: x ** -1.5, lambda x: x ** -1.5, draw=_pos,
       domain="positive")
_unary("pow_scalar_base", lambda x: 2.0 ** x, lambda x: 2.0 ** x)
_unary("neg", lambda x: -x, np.negative)
_unary("exp", mg.exp, np.exp)
_unary("log", mg.log, np.log, draw=_pos, domain="positive")
_unary("sqrt", mg.sqrt, np.sqrt, draw=_pos, domain="positive")
_unary("rsqrt", mg.rsqrt, lambda x: 1.0 / np.sqrt(x), draw=_pos, domain="positive")
_unary("abs", mg.abs, np.abs, draw=_nonzero, domain="nonzero")
_unary("sin", mg.sin, np.sin)
_unary("cos", mg.cos, np.cos)
_unary("tanh", mg.tanh, np.tanh)
_unary("sigmoid", mg.sigmoid, lambda x: 1.0 / (1.0 + np.exp(-x)))
_unary("relu", mg.relu, lambda x: np.maximum(x, 0.0), draw=_nonzero, domain="nonzero")
_unary("square", mg.square, np.square)
_spec("maximum", mg.maximum, np.maximum, lambda r, d: _ins(d, *_apart(r, (2, 3), (3,))),
      binary=True, domain="no ties")
_spec("minimum", mg.minimum, np.minimum, lambda r, d: _ins(d, *_apart(r, (2, 1), (2, 3))),
      binary=True, domain="no ties")
_spec("clamp_scalar", lambda x: mg.clamp(x, -0.5, 0.5), lambda x: np.clip(x, -0.5, 0.5),
      lambda r, d: _ins(d, _away(r, (2, 3), (-0.5, 0.5))), domain="away from the bounds")
_spec("clamp_min", lambda x: x.clamp(min=0.2), lambda x: np.maximum(x, 0.2),
      lambda r, d: _ins(d, _away(r, (2, 3), (0.2,))), domain="away from the bound")
_spec("clamp_max", lambda x: mg.clamp_max(x, -0.1), lambda x: np.minimum(x, -0.1),
      lambda r, d: _ins(d, _away(r, (2, 3), (-0.1,))), domain="away from the bound")


def _clamp_tensor_inputs(r, d):
    lo = -0.5 + 0.1 * r.uniform(-1, 1, (3,))
    hi = 0.5 + 0.1 * r.uniform(-1, 1, (2, 3))
    x = r.uniform(-1.5, 1.5, (2, 3))
    while (np.abs(x - lo) < 0.1).any() or (np.abs(x - hi) < 0.1).any():
        x = r.uniform(-1.5, 1.5, (2, 3))
    return _ins(d, x, lo, hi)


_spec("clamp_tensor", lambda x, lo, hi: mg.clamp(x, min=lo, max=hi),
      lambda x, lo, hi: np.minimum(np.maximum(x, lo), hi), _clamp_tensor_inputs,
      domain="away from the bounds")
_spec("where", mg.where, np.where,
      lambda r, d: _ins(d, r.random((2, 3)) > 0.5, _n(r, 2, 3), _n(r, 3)), binary=True)
_spec("where_scalar_other", lambda c, x: mg.where(c, x, 0.5), lambda c, x: np.where(c, x, 0.5),
      lambda r, d: _ins(d, r.random((2, 3)) > 0.5, _n(r, 2, 3)))
_spec("masked_fill", lambda x, m: x.masked_fill(m, 0.7), lambda x, m: np.where(m, 0.7, x),
      lambda r, d: _ins(d, _n(r, 2, 3), np.array([True, False, True])))

# ============================================================================= softmax family


def _np_softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _np_logsumexp(x, axis, keepdims=False):
    m = x.max(axis=axis, keepdims=True)
    y = m + np.log(np.exp(x - m).sum(axis=axis, keepdims=True))
    return y if keepdims else np.squeeze(y, axis=axis)


_unary("softmax", lambda x: mg.softmax(x, dim=-1), lambda x: _np_softmax(x, -1), shape=(2, 4))
_unary("softmax_dim0", lambda x: x.softmax(0), lambda x: _np_softmax(x, 0), shape=(3, 2))
_unary("log_softmax", lambda x: mg.log_softmax(x, dim=1),
       lambda x: np.log(_np_softmax(x, 1)), shape=(2, 4))
_unary("logsumexp", lambda x: mg.logsumexp(x, dim=1), lambda x: _np_logsumexp(x, 1),
       shape=(2, 4))
_unary("logsumexp_dims_keepdim", lambda x: mg.logsumexp(x, dim=(0, 2), keepdim=True),
       lambda x: _np_logsumexp(x, (0, 2), keepdims=True), shape=(2, 2, 3))

# ============================================================================= reductions
_unary("sum", mg.sum, np.sum)
_unary("sum_dim_keepdim", lambda x: x.sum(dim=1, keepdim=True),
       lambda x: x.sum(axis=1, keepdims=True), shape=(2, 3, 2))
_unary("sum_dims", lambda x: x.sum(dim=(0, 2)), lambda x: x.sum(axis=(0, 2)), shape=(2, 3, 2))
_unary("mean", mg.mean, np.mean)
_unary("mean_dim", lambda x: x.mean(-1), lambda x: x.mean(axis=-1), shape=(3, 4))
_unary("var", mg.var, lambda x: np.var(x, ddof=1))
_unary("var_dim_biased", lambda x: x.var(dim=1, unbiased=False),
       lambda x: np.var(x, axis=1), shape=(2, 4))
_unary("var_correction_keepdim", lambda x: mg.var(x, dim=0, correction=2, keepdim=True),
       lambda x: np.var(x, axis=0, ddof=2, keepdims=True), shape=(4, 3))
_unary("std", mg.std, lambda x: np.std(x, ddof=1))
_unary("std_dim_biased", lambda x: x.std(dim=0, unbiased=False),
       lambda x: np.std(x, axis=0), shape=(4, 2))
_unary("std_correction0", lambda x: mg.std(x, dim=(0, 1), correction=0),
       lambda x: np.std(x, axis=(0, 1)), shape=(2, 3, 2))
_unary("max", mg.max, np.max, draw=_distinct, domain="no ties")
_unary("max_dim", lambda x: mg.max(x, dim=1).values, lambda x: x.max(axis=1), draw=_distinct,
       shape=(3, 4), domain="no ties")
_unary("max_dim_keepdim_indices", lambda x: tuple(x.max(0, keepdim=True)),
       lambda x: (x.max(0, keepdims=True), x.argmax(0)[None]), draw=_distinct, shape=(3, 2),
       domain="no ties")
_unary("min", mg.min, np.min, draw=_distinct, domain="no ties")
_unary("min_dim", lambda x: x.min(dim=-1)[0], lambda x: x.min(axis=-1), draw=_distinct,
       shape=(2, 4), domain="no ties")
_unary("amax", lambda x: mg.amax(x, dim=(0, 2)), lambda x: x.max(axis=(0, 2)), draw=_distinct,
       shape=(2, 3, 2), domain="no ties")
_unary("amin", lambda x: x.amin(dim=1, keepdim=True), lambda x: x.min(axis=1, keepdims=True),
       draw=_distinct, shape=(3, 3), domain="no ties")
_unary("cumsum", lambda x: mg.cumsum(x, dim=1), lambda x: np.cumsum(x, axis=1), shape=(2, 4))
_unary("cumsum_dim0", lambda x: x.cumsum(0), lambda x: np.cumsum(x, axis=0), shape=(3, 2))


def _with_zeros(rng, *shape):
    x = rng.uniform(0.5, 1.5, shape) * rng.choice([-1.0, 1.0], shape)
    x.reshape(-1)[1] = 0.0  # the gradient of a product must be exact at a zero
    return x


_unary("cumprod", lambda x: mg.cumprod(x, dim=1), lambda x: np.cumprod(x, axis=1),
       draw=_with_zeros, shape=(2, 4), domain="includes a zero")
_unary("cumprod_dim0", lambda x: x.cumprod(0), lambda x: np.cumprod(x, axis=0), draw=_nonzero,
       shape=(3, 2))
_unary("prod", mg.prod, np.prod, draw=_nonzero, shape=(2, 3))
_unary("prod_dim_zero", lambda x: mg.prod(x, dim=0), lambda x: np.prod(x, axis=0),
       draw=_with_zeros, shape=(3, 3), domain="includes a zero")
_spec("prod_two_zeros_keepdim", lambda x: x.prod(1, keepdim=True),
      lambda x: np.prod(x, axis=1, keepdims=True),
      lambda r, d: _ins(d, np.array([[0.0, 1.5, 0.0, -2.0], [0.7, 0.0, 1.2, 0.9]])),
      domain="two zeros in a row")
_spec("sum_to", lambda x: mg.sum_to(x, (3, 1)), lambda x: x.sum(axis=(0, 2))[:, None],
      lambda r, d: _ins(d, _n(r, 2, 3, 2)))

# ============================================================================= linalg
_spec("matmul_1d_1d", mg.matmul, np.matmul, lambda r, d: _ins(d, _n(r, 3), _n(r, 3)))
_spec("matmul_1d_2d", mg.matmul, np.matmul, lambda r, d: _ins(d, _n(r, 3), _n(r, 3, 2)))
_spec("matmul_2d_1d", mg.matmul, np.matmul, lambda r, d: _ins(d, _n(r, 2, 3), _n(r, 3)))
_spec("matmul_2d", lambda a, b: a @ b, np.matmul, lambda r, d: _ins(d, _n(r, 2, 3), _n(r, 3, 4)))
_spec("matmul_batched_broadcast", mg.matmul, np.matmul,
      lambda r, d: _ins(d, _n(r, 2, 1, 2, 3), _n(r, 2, 3, 2)))
_spec("matmul_batched_1d", mg.matmul, np.matmul, lambda r, d: _ins(d, _n(r, 2, 2, 3), _n(r, 3)))
_spec("mm", mg.mm, np.matmul, lambda r, d: _ins(d, _n(r, 2, 2), _n(r, 2, 3)))
_spec("bmm", mg.bmm, np.matmul, lambda r, d: _ins(d, _n(r, 2, 2, 3), _n(r, 2, 3, 2)))
_spec("dot", mg.dot, np.dot, lambda r, d: _ins(d, _n(r, 4), _n(r, 4)))
_spec("outer", mg.outer, np.outer, lambda r, d: _ins(d, _n(r, 3), _n(r, 2)))


def _einsum_spec(name, eq, *shapes):
    _spec(f"einsum_{name}", lambda *xs: mg.einsum(eq, *xs), lambda *xs: np.einsum(eq, *xs),
          lambda r, d: _ins(d, *[_n(r, *s) for s in shapes]))


_einsum_spec("matmul", "ij,jk->ik", (2, 3), (3, 2))
_einsum_spec("implicit_output", "ij,jk", (2, 3), (3, 2))
_einsum_spec("transpose", "ij->ji", (2, 3))
_einsum_spec("diagonal", "ii->i", (3, 3))
_einsum_spec("trace", "ii->", (3, 3))
_einsum_spec("outer", "i,j->ij", (3,), (2,))
_einsum_spec("batched", "bij,bjk->bik", (2, 2, 3), (2, 3, 2))
_einsum_spec("ellipsis_broadcast", "...ij,...jk->...ik", (2, 2, 3), (3, 2))
_einsum_spec("ellipsis_sum", "...i->...", (2, 3))
_einsum_spec("three_operands", "ij,jk,kl->il", (2, 2), (2, 3), (3, 2))
_einsum_spec("batch_diagonal", "bii->bi", (2, 3, 3))
_unary("diagonal", lambda x: mg.diagonal(x), lambda x: np.diagonal(x).copy(), shape=(3, 3))
_unary("diagonal_offset", lambda x: x.diagonal(1), lambda x: np.diagonal(x, 1).copy(),
       shape=(3, 4))
_unary("diagonal_dims_negative_offset", lambda x: x.diagonal(-1, 1, 2),
       lambda x: np.diagonal(x, -1, 1, 2).copy(), shape=(2, 3, 3))

# ============================================================================= shape
_unary("reshape", lambda x: x.reshape(3, -1), lambda x: x.reshape(3, -1), shape=(2, 3))
_unary("view", lambda x: x.view(6), lambda x: x.reshape(6), shape=(2, 3))
_unary("flatten", lambda x: mg.flatten(x, 1), lambda x: x.reshape(2, -1), shape=(2, 3, 2))
_unary("unflatten", lambda x: x.unflatten(1, (2, 3)), lambda x: x.reshape(2, 2, 3),
       shape=(2, 6))
_unary("squeeze_dim", lambda x: x.squeeze(1), lambda x: x.squeeze(1), shape=(2, 1, 3))
_unary("squeeze_all", mg.squeeze, np.squeeze, shape=(1, 3, 1))
_unary("unsqueeze", lambda x: x.unsqueeze(-1), lambda x: x[..., None], shape=(2, 3))
_unary("transpose", lambda x: x.transpose(0, 2), lambda x: x.swapaxes(0, 2), shape=(2, 3, 2))
_unary("permute", lambda x: x.permute(2, 0, 1), lambda x: x.transpose(2, 0, 1), shape=(2, 3, 2))
_unary("T", lambda x: x.T, lambda x: x.T, shape=(2, 3))
_unary("movedim", lambda x: mg.movedim(x, 0, -1), lambda x: np.moveaxis(x, 0, -1),
       shape=(2, 3, 2))
_unary("expand", lambda x: x.expand(2, -1, 4), lambda x: np.broadcast_to(x, (2, 3, 4)),
       shape=(3, 1))
_unary("broadcast_to", lambda x: mg.broadcast_to(x, (2, 3)),
       lambda x: np.broadcast_to(x, (2, 3)), shape=(3,))
_unary("repeat", lambda x: x.repeat(2, 1, 2), lambda x: np.tile(x, (2, 1, 2)), shape=(2, 3))
_unary("flip", lambda x: x.flip((0, 1)), lambda x: x[::-1, ::-1], shape=(2, 3))
_spec("cat", lambda a, b, c: mg.cat([a, b, c], dim=1),
      lambda a, b, c: np.concatenate([a, b, c], axis=1),
      lambda r, d: _ins(d, _n(r, 2, 1), _n(r, 2, 3), _n(r, 2, 2)))
_spec("stack", lambda a, b: mg.stack([a, b], dim=-1), lambda a, b: np.stack([a, b], axis=-1),
      lambda r, d: _ins(d, _n(r, 2, 3), _n(r, 2, 3)))
_unary("split_sizes", lambda x: x.split([1, 3], dim=1),
       lambda x: tuple(np.split(x, [1], axis=1)), shape=(2, 4))
_unary("split_int", lambda x: mg.split(x, 2, dim=0), lambda x: tuple(np.split(x, [2, 4])),
       shape=(5, 2))
_unary("chunk", lambda x: x.chunk(3, dim=1), lambda x: tuple(np.split(x, [2, 4], axis=1)),
       shape=(2, 5))
_unary("unbind", lambda x: mg.unbind(x, 1), lambda x: tuple(x[:, i] for i in range(3)),
       shape=(2, 3))
_spec("split_partially_used", lambda x: x.split(1, dim=0)[1] * 2.0, lambda x: x[1:2] * 2.0,
      lambda r, d: _ins(d, _n(r, 3, 2)))


def _np_pad(x, pad, mode="constant", value=0.0):
    """F.pad's (left, right) pairs from the last dim, as np.pad; negative widths crop."""
    width = [[0, 0] for _ in range(x.ndim)]
    for i in range(len(pad) // 2):
        width[x.ndim - 1 - i] = [pad[2 * i], pad[2 * i + 1]]
    crop = tuple(slice(max(-lo, 0), n - max(-hi, 0)) for (lo, hi), n in zip(width, x.shape))
    x = x[crop]
    width = [(max(lo, 0), max(hi, 0)) for lo, hi in width]
    np_mode = {"constant": "constant", "reflect": "reflect", "replicate": "edge",
               "circular": "wrap"}[mode]
    if mode == "constant":
        return np.pad(x, width, mode="constant", constant_values=value)
    return np.pad(x, width, mode=np_mode)


def _pad_spec(name, pad, mode, shape, value=None):
    kw = {} if value is None else {"value": value}
    _unary(f"pad_{name}", lambda x: mg.pad(x, pad, mode=mode, **kw),
           lambda x: _np_pad(x, pad, mode, value or 0.0), shape=shape)


_pad_spec("constant", (1, 2), "constant", (2, 3), value=0.5)
_pad_spec("constant_2d", (1, 0, 0, 2), "constant", (2, 3))
_pad_spec("constant_crop", (-1, 1), "constant", (2, 3))
_pad_spec("reflect", (2, 1), "reflect", (2, 4))
_pad_spec("replicate", (2, 2, 1, 0), "replicate", (1, 2, 3))
_pad_spec("circular", (1, 2), "circular", (2, 3))
_unary("tril", lambda x: mg.tril(x, -1), lambda x: np.tril(x, -1), shape=(3, 4))
_unary("triu", lambda x: x.triu(1), lambda x: np.triu(x, 1), shape=(2, 3, 3))

# ============================================================================= indexing
_unary("getitem_int", lambda x: x[1], lambda x: x[1], shape=(3, 2))
_unary("getitem_negative_int_slice", lambda x: x[-1, 1:], lambda x: x[-1, 1:], shape=(2, 3))
_unary("getitem_slices", lambda x: x[::2, 1:3], lambda x: x[::2, 1:3], shape=(3, 4))
_unary("getitem_none_ellipsis", lambda x: x[None, ..., 0], lambda x: x[None, ..., 0],
       shape=(2, 3, 2))
_spec("getitem_bool_mask", lambda x, m: x[m], lambda x, m: x[m],
      lambda r, d: _ins(d, _n(r, 2, 3), np.array([[True, False, True], [False, True, True]])))
_spec("getitem_bool_rows", lambda x, m: x[m], lambda x, m: x[m],
      lambda r, d: _ins(d, _n(r, 3, 2), np.array([True, False, True])))
_spec("getitem_int_array_repeats", lambda x, i: x[i], lambda x, i: x[i],
      lambda r, d: _ins(d, _n(r, 3, 2), np.array([0, 2, 0, -1, 0])))
_spec("getitem_two_int_arrays", lambda x, i, j: x[i, j], lambda x, i, j: x[i, j],
      lambda r, d: _ins(d, _n(r, 3, 3), np.array([0, 1, 0, 2]), np.array([2, 1, 2, 0])))
_spec("getitem_slice_and_array", lambda x, i: x[:, i], lambda x, i: x[:, i],
      lambda r, d: _ins(d, _n(r, 2, 3), np.array([[1, 1], [0, 2]])))
_spec("index_select", lambda x, i: mg.index_select(x, 1, i), lambda x, i: np.take(x, i, axis=1),
      lambda r, d: _ins(d, _n(r, 2, 3), np.array([2, 0, 2])))
_spec("gather", lambda x, i: mg.gather(x, 1, i), lambda x, i: np.take_along_axis(x, i, 1),
      lambda r, d: _ins(d, _n(r, 2, 3), np.array([[0, 0, 2, 1], [1, 2, 1, 1]])))
_spec("gather_window", lambda x, i: x.gather(0, i),
      lambda x, i: np.take_along_axis(x[:, :i.shape[1]], i, 0),
      lambda r, d: _ins(d, _n(r, 3, 3), np.array([[2, 0], [2, 2]])))

# ============================================================================= dtype, copies
# a float32 round trip quantizes to ~6e-8: eps=1e-3 keeps that far below the tolerance
_unary("to_float32_and_back", lambda x: x.to(mg.float32).to(mg.float64),
       lambda x: x.astype(np.float32).astype(np.float64), eps=1e-3)
_unary("clone", mg.clone, np.copy)

# the nn layers' functional ops (and the engine Functions above left without a spec)
from . import op_specs_nn  # noqa: E402,F401
