"""Random numbers on the simulated device: ``SimGenerator`` (the simulated
``cupy.random.Generator``) and ``simnp.random.default_rng``.
"""
from __future__ import annotations

import numpy

from .array import SimArray, _unwrap, _wrap
from .namespace import _require, simnp


# ----------------------------------------------------------------------------- random
def _device(r, dtype=None):
    if type(r) is numpy.ndarray:
        return SimArray(r)
    return SimArray(numpy.asarray(r, dtype=dtype))


class SimGenerator:
    """The simulated ``cupy.random.Generator``: NumPy's Generator, device arrays out."""

    __slots__ = ("_g",)

    def __init__(self, generator):
        self._g = generator

    @property
    def bit_generator(self):
        return self._g.bit_generator

    def random(self, size=None, dtype=numpy.float64, out=None):
        if out is not None:
            self._g.random(size, dtype=dtype, out=_require(out, "Generator.random(out=)"))
            return out
        return _device(self._g.random(size, dtype=dtype), dtype)

    def standard_normal(self, size=None, dtype=numpy.float64, out=None):
        if out is not None:
            self._g.standard_normal(size, dtype=dtype,
                                    out=_require(out, "Generator.standard_normal(out=)"))
            return out
        return _device(self._g.standard_normal(size, dtype=dtype), dtype)

    def integers(self, low, high=None, size=None, dtype=numpy.int64, endpoint=False):
        w = "Generator.integers"
        return _device(self._g.integers(_unwrap(low, w), _unwrap(high, w), size=size,
                                        dtype=dtype, endpoint=endpoint), dtype)

    def permutation(self, x, axis=0):
        return _device(self._g.permutation(_unwrap(x, "Generator.permutation"), axis=axis))

    def shuffle(self, x, axis=0):
        self._g.shuffle(_require(x, "Generator.shuffle"), axis=axis)

    def uniform(self, low=0.0, high=1.0, size=None, dtype=numpy.float64):
        w = "Generator.uniform"
        r = self._g.uniform(_unwrap(low, w), _unwrap(high, w), size)
        return _device(numpy.asarray(r).astype(dtype, copy=False))

    def normal(self, loc=0.0, scale=1.0, size=None, dtype=numpy.float64):
        w = "Generator.normal"
        r = self._g.normal(_unwrap(loc, w), _unwrap(scale, w), size)
        return _device(numpy.asarray(r).astype(dtype, copy=False))

    def choice(self, a, size=None, replace=True, p=None, axis=0, shuffle=True):
        w = "Generator.choice"
        return _wrap(numpy.asarray(self._g.choice(_unwrap(a, w), size=size, replace=replace,
                                                  p=_unwrap(p, w), axis=axis, shuffle=shuffle)))

    def __getattr__(self, name):
        if name.startswith("__") or name == "_g":
            raise AttributeError(name)
        f = getattr(self._g, name)
        if not callable(f):
            return f
        where = f"Generator.{name}"

        def call(*args, **kw):
            args = [_unwrap(a, where) for a in args]
            kw = {k: _unwrap(v, where) for k, v in kw.items()}
            r = f(*args, **kw)
            return None if r is None else _device(r) if not isinstance(r, (tuple, list)) else _wrap(r)

        call.__name__ = name
        return call

    def __repr__(self):
        return f"SimGenerator({self._g.bit_generator.__class__.__name__})"


def _default_rng(seed=None):
    if isinstance(seed, SimGenerator):
        return seed
    return SimGenerator(numpy.random.default_rng(seed))


simnp.random.default_rng = _default_rng
simnp.random.Generator = SimGenerator
