"""Hypothesis strategies for testing ops: shapes, shapes that broadcast, and safe arrays.

    from hypothesis import given
    from minigen.testing import strategies as mst

    @given(mst.broadcastable_shapes(), st.data())
    def test_my_op(shapes, data):
        a = data.draw(mst.arrays(shapes[0]))
        b = data.draw(mst.arrays(shapes[1], domain="nonzero"))

Shapes include 0-d (``()``) and size-0 dimensions, the two corners broadcasting code most
often gets wrong. Values are finite and bounded, and a ``domain`` keeps them away from the
points where an op is undefined or not differentiable (0 for division, negatives for log).
Needs ``hypothesis`` (``pip install minigen[test]``).
"""
from __future__ import annotations

import numpy
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

__all__ = ["shapes", "broadcastable_shapes", "arrays", "elements", "DOMAINS"]

# the value ranges behind each ``domain`` name
DOMAINS = {
    "real": "finite values in [-3, 3]",
    "positive": "values in [0.5, 3] (log, sqrt, rsqrt, pow with a tensor exponent)",
    "nonzero": "|x| in [0.5, 3], either sign (denominators, abs, relu: away from the kink at 0)",
    "unit": "values in [-0.9, 0.9] (atanh-like ops)",
    "probability": "values in [0.05, 0.95]",
}


def shapes(min_dims=0, max_dims=4, min_side=0, max_side=5):
    """Tuples of ``min_dims``..``max_dims`` sizes, each in ``min_side``..``max_side``."""
    return st.lists(st.integers(min_side, max_side), min_size=min_dims,
                    max_size=max_dims).map(tuple)


@st.composite
def _broadcastable(draw, n, min_dims, max_dims, min_side, max_side):
    base = draw(shapes(min_dims, max_dims, min_side, max_side))
    out = []
    for _ in range(n):
        # a suffix of the base shape (broadcasting aligns from the right) ...
        k = draw(st.integers(0, len(base)))
        suffix = base[len(base) - k:]
        # ... where any dimension may be 1 (stretched by broadcasting)
        ones = draw(st.lists(st.booleans(), min_size=k, max_size=k))
        out.append(tuple(1 if o else s for s, o in zip(suffix, ones)))
    return tuple(out)


def broadcastable_shapes(n=2, min_dims=0, max_dims=4, min_side=0, max_side=4):
    """Tuples of ``n`` shapes that broadcast together (0-d and size-0 dims included).

    Each shape is a right-aligned suffix of one base shape with some sizes replaced by 1, so
    every pair broadcasts; the base's own sizes may be 0.
    """
    return _broadcastable(n, min_dims, max_dims, min_side, max_side)


def elements(dtype=numpy.float64, domain=None):
    """The element strategy behind ``arrays``: finite values of ``dtype`` in ``domain``."""
    dtype = numpy.dtype(dtype)
    if dtype.kind == "b":
        return st.booleans()
    if dtype.kind in "iu":
        return st.integers(0 if dtype.kind == "u" else -5, 5)
    width = 8 * dtype.itemsize

    def f(lo, hi):
        return st.floats(lo, hi, allow_nan=False, allow_infinity=False, width=width)

    domain = domain or "real"
    if domain == "real":
        return f(-3.0, 3.0)
    if domain == "positive":
        return f(0.5, 3.0)
    if domain == "nonzero":
        return st.one_of(f(0.5, 3.0), f(-3.0, -0.5))
    if domain == "unit":
        return f(-0.9, 0.9)
    if domain == "probability":
        return f(0.05, 0.95)
    raise ValueError(f"arrays: unknown domain {domain!r}; expected one of {sorted(DOMAINS)}")


def arrays(shape, dtype=numpy.float64, elements=None, domain=None):
    """NumPy arrays of ``shape`` (a tuple or a strategy for one) with safe, finite values.

    ``elements`` overrides the value strategy; otherwise ``domain`` picks one (see ``DOMAINS``).
    """
    if elements is None:
        elements = globals()["elements"](dtype, domain)
    return hnp.arrays(numpy.dtype(dtype), shape, elements=elements)
