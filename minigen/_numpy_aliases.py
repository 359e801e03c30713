"""NumPy's keyword names where PyTorch accepts them: ``x.sum(axis=1, keepdims=True)``.

PyTorch's functions and Tensor methods (those bound from C++, not ``torch.nn.functional``'s
Python ones) read NumPy's spelling of a few keywords as theirs:

    axis -> dim        keepdims -> keepdim        x, a, x1 -> input        x2 -> other

so code such as ``counts.sum(1, keepdims=True)`` (makemore part 4) or ``torch.cat(ts, axis=0)``
runs. ``install`` wraps each function of the ``minigen`` namespace and each Tensor method whose
signature has the PyTorch name but not the NumPy one; the wrapper renames the keyword and calls
the original (a call without those keywords goes straight through). Giving both spellings is a
TypeError, as in PyTorch.
"""
from __future__ import annotations

import functools
import inspect
import types

ALIASES = (("axis", "dim"), ("keepdims", "keepdim"), ("x", "input"), ("a", "input"),
           ("x1", "input"), ("x2", "other"))


def _mapping(fn):
    """{numpy name: pytorch name} that fn's signature calls for, or None."""
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return None
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return None  # takes any keyword: leave its keywords alone
    m = {a: t for a, t in ALIASES if t in params and a not in params}
    return m or None


def _wrapped(fn, m):
    @functools.wraps(fn)
    def call(*args, **kwargs):
        if kwargs:
            for alias in [k for k in kwargs if k in m]:
                name = m[alias]
                if name in kwargs:
                    raise TypeError(f"{fn.__name__}() got a value for '{name}' and for its "
                                    f"NumPy-style alias '{alias}'; give one")
                kwargs[name] = kwargs.pop(alias)
        return fn(*args, **kwargs)

    call._numpy_aliases = m
    return call


def _wrappable(obj):
    return isinstance(obj, types.FunctionType) and not hasattr(obj, "_numpy_aliases") and \
        (getattr(obj, "__module__", "") or "").startswith("minigen")


def install(namespace, tensor_class):
    """Wrap the functions of ``namespace`` (a module's dict) and the methods of
    ``tensor_class`` that take ``dim`` / ``keepdim`` / ``input`` / ``other``."""
    for name, obj in list(namespace.items()):
        if not name.startswith("_") and _wrappable(obj):
            m = _mapping(obj)
            if m:
                namespace[name] = _wrapped(obj, m)
    for cls in tensor_class.__mro__:
        if not (cls.__module__ or "").startswith("minigen"):
            continue
        for name, obj in list(vars(cls).items()):
            if name.startswith("__") or not _wrappable(obj):
                continue
            if name in vars(tensor_class) and vars(tensor_class)[name] is not obj:
                continue  # overridden lower down
            m = _mapping(obj)
            if m:
                setattr(tensor_class, name, _wrapped(obj, m))
