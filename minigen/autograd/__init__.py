"""Grad mode and Function, the op contract (Tensor itself is in minigen/tensor.py, the
reverse-mode graph walk in minigen/graph.py).

A ``Tensor`` holds an array (``data``: a NumPy or CuPy array) and, if it was computed by a
differentiable op while gradients were being recorded, the ``Function`` node that made it
(``creator``). ``Function.apply`` runs an op's ``forward`` on raw arrays and, only when some
input requires grad, records the node. ``backward`` walks the recorded nodes from the output
back to the leaves, highest *generation* first, so each node runs once, after every consumer of
its outputs has handed it a gradient.

The op contract (see docs/architecture.md)::

    class Exp(Function):
        def forward(self, x):              # raw arrays in, raw arrays out
            y = self.xp.exp(x)
            self.save_for_backward(y)      # keep only what backward needs
            return y

        def backward(self, gy):            # Tensors in, Tensors out, written with minigen ops,
            (y,) = self.saved_tensors      # so the backward is itself differentiable:
            return gy * y                  # grad-of-grad (create_graph=True) just works

Saved arrays that are the op's own inputs or outputs come back from ``saved_tensors`` as graph
tensors (an output comes back as a tensor whose creator is this node), so a backward that uses
them is differentiated correctly a second time. Anything else saved comes back as a constant.
Nodes hold their inputs but never their outputs, so a graph has no reference cycles and its
arrays are freed as soon as the last tensor that reaches them goes away.
"""
from __future__ import annotations

from ..backend import _by_array_type
from ..tensor import Tensor, _wrap, _wrap_dim  # noqa: F401  (re-exported: ops import them from here)

# ----------------------------------------------------------------------------- grad mode
_state = {"grad": True, "anomaly": False}

# How many in-place writes have been recorded so far. Every node notes the count when it is
# recorded (``f.r``); a tensor written in place keeps its earlier states, each tagged with the
# count at its write, so a node always reads its inputs as they were when it was recorded
# (``as_recorded``). See Tensor._rebase in minigen/tensor.py.
_rebinds = 0


def as_recorded(t, f):
    """Input ``t`` of node ``f`` as it was when ``f`` was recorded: a tensor written in place
    since then (``t._hist``) hands back the state ``f`` read."""
    h = t._hist
    r = f.r
    while h is not None and h[0] > r:
        t = h[1]
        h = h[2]
    return t


class _GradMode:
    """Context manager (and decorator) that sets whether new ops record a graph."""

    __slots__ = ("enabled", "prev")

    def __init__(self, enabled):
        self.enabled = enabled

    def __enter__(self):
        self.prev = _state["grad"]
        _state["grad"] = self.enabled

    def __exit__(self, *exc):
        _state["grad"] = self.prev

    def __call__(self, fn):
        import functools

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with _GradMode(self.enabled):
                return fn(*args, **kwargs)
        return wrapper


def no_grad(func=None):
    """Ops inside ``with no_grad():`` record no graph (inference, optimizer steps). Also a
    decorator, with or without the parentheses (``@no_grad()`` / ``@no_grad``), as PyTorch's."""
    return _GradMode(False) if func is None else _GradMode(False)(func)


def enable_grad(func=None):
    """Turn recording back on inside a ``no_grad`` block (a decorator too, as ``no_grad``)."""
    return _GradMode(True) if func is None else _GradMode(True)(func)


def set_grad_enabled(mode):
    return _GradMode(bool(mode))


def is_grad_enabled():
    return _state["grad"]


class detect_anomaly:
    """Inside this context every op's forward and backward output is checked for NaN or inf;
    the first op that makes one raises a RuntimeError that names it."""

    def __enter__(self):
        self.prev = _state["anomaly"]
        _state["anomaly"] = True

    def __exit__(self, *exc):
        _state["anomaly"] = self.prev


def _check_finite(fn, arrays, phase):
    for a in arrays:
        if a is None:
            continue
        if getattr(a, "dtype", None) is not None and a.dtype.kind == "f":
            xp = _by_array_type[type(a)].xp
            if not bool(xp.isfinite(a).all()):
                raise RuntimeError(
                    f"detect_anomaly: function '{type(fn).__name__}' returned NaN or inf "
                    f"in its {phase} (output shape {tuple(a.shape)})")


# ----------------------------------------------------------------------------- Function
def _torch_style_apply(cls, *args, **kwargs):
    from . import function  # (looked up at each call: minigen/autograd/function.py)
    return function.torch_style_apply(cls, *args, **kwargs)


class _Out:
    """Marker for a saved array that is the op's own output ``index``."""

    __slots__ = ("index", "array")

    def __init__(self, index, data):
        self.index = index
        self.array = data


# torch.autograd.graph.saved_tensors_hooks: the (pack, unpack) pairs in force, innermost last
_saved_hooks = []


class _Packed:
    """A saved value under ``saved_tensors_hooks``: what ``pack_hook`` returned, and where the
    value came from (an input's index, an ``_Out`` marker, or None for a constant)."""

    __slots__ = ("packed", "unpack_hook", "source")

    def __init__(self, packed, unpack_hook, source):
        self.packed, self.unpack_hook, self.source = packed, unpack_hook, source

    def unpack(self, node):
        u = self.unpack_hook(self.packed)
        src = self.source
        if type(src) is int:  # an input: the graph tensor when the hooks gave its values back
            t = node.inputs[src]
            if isinstance(u, Tensor) and u.array is t.array:
                return t if t._hist is None else as_recorded(t, node)
        elif type(src) is _Out and isinstance(u, Tensor) and u.array is src.array:
            return _wrap(src.array, node, src.index)
        return u


def _pack_saved(f, saved):
    """Run the innermost pack hook on each saved value (as a tensor), PyTorch's order."""
    pack, unpack = _saved_hooks[-1]
    res = []
    for s in saved:
        if s is None:
            res.append(None)
            continue
        if type(s) is int:
            t = f.inputs[s]
        elif type(s) is _Out:
            t = _wrap(s.array)
        else:
            t = _wrap(s)
        res.append(_Packed(pack(t), unpack, s))
    return tuple(res)


class Function:
    """One differentiable op: ``forward`` on raw arrays, ``backward`` in minigen ops.

    Call ``MyOp.apply(*tensors, **params)``: tensors are the differentiable inputs, keyword
    parameters (dims, strides, ...) are passed to ``forward`` as they are.
    """

    # set on every node by apply: xp (array module), backend; when recorded also
    # inputs, generation, needs_input_grad, n_out, r (the in-place write count then).
    saved = ()
    r = 0
    _out_hooks = None  # Tensor.register_hook on an output of this node: index -> hooks

    def __init_subclass__(cls, **kwargs):
        # a subclass written PyTorch's way (staticmethod forward(ctx, ...)) gets PyTorch's apply
        super().__init_subclass__(**kwargs)
        from .function import is_torch_style
        if is_torch_style(cls):
            cls.apply = classmethod(_torch_style_apply)

    def save_for_backward(self, *arrays):
        self.saved = arrays

    @property
    def saved_tensors(self):
        if self.saved is None:
            raise RuntimeError(
                f"Trying to backward through the graph a second time (or to read saved values "
                f"of '{type(self).__name__}' after they were freed). Pass retain_graph=True to "
                "the first backward() if you need to go through the graph twice.")
        out = []
        for s in self.saved:
            if type(s) is int:
                t = self.inputs[s]
                out.append(t if t._hist is None else as_recorded(t, self))
            elif type(s) is _Out:
                out.append(_wrap(s.array, self, s.index))
            elif s is None:
                out.append(None)
            elif type(s) is _Packed:
                out.append(s.unpack(self))
            else:
                out.append(_wrap(s))
        return tuple(out)

    @property
    def next_functions(self):
        """PyTorch's ``grad_fn.next_functions``: one ``(node, output_index)`` pair per input,
        the node that made that input (``(None, 0)`` for an input that needs no gradient, an
        ``AccumulateGrad`` node holding ``.variable`` for a leaf that does). The inputs are
        released by a backward pass without ``retain_graph``; then this is ``()``."""
        pairs = []
        for t in getattr(self, "inputs", ()):
            if t.creator is not None:
                pairs.append((t.creator, t._idx))
            elif t.requires_grad:
                pairs.append((AccumulateGrad(t), 0))
            else:
                pairs.append((None, 0))
        return tuple(pairs)

    def name(self):
        """The node's name as its repr shows it (PyTorch's ``grad_fn.name()``, e.g. 'MulBackward')."""
        n = type(self).__name__
        return n if n.endswith("Backward") else n + "Backward"

    @classmethod
    def apply(cls, *inputs, **params):
        f = object.__new__(cls)
        x0 = inputs[0].array
        b = _by_array_type.get(type(x0))
        if b is None:
            raise TypeError(f"{cls.__name__.lower()}: expected Tensor inputs, got {type(x0).__name__}")
        f.backend = b
        f.xp = b.xp
        n_in = len(inputs)
        if n_in == 1:
            t = inputs[0]
            req = t.requires_grad
            y = f.forward(x0, **params)
        else:
            if n_in == 2:  # the common binary case, unrolled
                t1 = inputs[1]
                d1 = t1.array
                if type(d1) is not type(x0):
                    _device_mismatch(cls.__name__.lower(), inputs)
                datas = (x0, d1)
                req = inputs[0].requires_grad or t1.requires_grad
            else:
                t0 = type(x0)
                datas = []
                req = False
                for t in inputs:
                    d = t.array
                    if type(d) is not t0:
                        _device_mismatch(cls.__name__.lower(), inputs)
                    datas.append(d)
                    if t.requires_grad:
                        req = True
            try:
                y = f.forward(*datas, **params)
            except ValueError as e:  # NumPy/CuPy's broadcasting complaint, named for the reader
                if "broadcast" not in str(e):
                    raise
                raise RuntimeError(_broadcast_message(cls, inputs)) from None
        if type(y) is tuple:
            outs = f._finish_many(inputs, y, req)
            if n_in == 1:
                for i, o in enumerate(outs):
                    if o.array.base is not None:
                        o._view = (inputs[0], cls, params, i, True)
            return outs
        # the common case, one output: no loops, no generator expressions
        raw = y
        if type(y) is not b.array_type and type(y) not in _by_array_type:  # (ToDevice: another device's array)
            y = b.xp.asarray(y)  # NumPy turns 0-d results into scalars; make them arrays again
        if _state["anomaly"]:
            _check_finite(f, (y,), "forward")
        if not (req and _state["grad"]) or y.dtype.kind not in "fc":
            f.saved = ()
            out = _wrap(y)
            if n_in == 1 and (y.base is not None or y is x0):
                out._view = (inputs[0], cls, params, 0, False)  # a view: see Tensor._rebase
            return out
        f.inputs = inputs
        f.r = _rebinds
        f.n_out = 1
        f._retained = ()
        if n_in == 1:
            f.needs_input_grad = (True,)
            c = t.creator
            f.generation = 1 if c is None else c.generation + 1
        else:
            f.needs_input_grad = tuple([t.requires_grad for t in inputs])
            g = 0
            for t in inputs:
                c = t.creator
                if c is not None and c.generation > g:
                    g = c.generation
            f.generation = g + 1
        saved = f.saved
        if saved:
            # an input's array -> its index; our output's array -> an _Out marker (so that
            # saved_tensors returns graph tensors for both); anything else stays a constant
            res = []
            for a in saved:
                for i in range(n_in):
                    if a is inputs[i].array:
                        res.append(i)
                        break
                else:
                    res.append(_Out(0, y) if a is raw else a)
            f.saved = tuple(res)
            if _saved_hooks:
                f.saved = _pack_saved(f, f.saved)
        out = Tensor.__new__(Tensor)
        out.array = y
        out.grad = None
        out.creator = f
        out._idx = 0
        out._retain = False
        out._hist = None
        # an output on its input's memory is a view (PyTorch's views, and only those, share
        # memory here): an in-place write into it also writes into its base (Tensor._rebase)
        out._view = (inputs[0], cls, params, 0, False) if n_in == 1 and (
            y.base is not None or y is x0) else None
        out.requires_grad = True
        return out

    def _finish_many(self, inputs, ys, req):
        """apply's general path: an op with several outputs."""
        f, b = self, self.backend
        raw = ys
        ys = tuple([y if type(y) is b.array_type else b.xp.asarray(y) for y in ys])
        if _state["anomaly"]:
            _check_finite(f, ys, "forward")
        if not (req and _state["grad"]):
            f.saved = ()
            return tuple([_wrap(y) for y in ys])
        f.inputs = inputs
        f.r = _rebinds
        f.needs_input_grad = tuple([t.requires_grad for t in inputs])
        f.generation = 1 + max([t.creator.generation for t in inputs if t.creator is not None],
                               default=0)
        f.n_out = len(ys)
        f._retained = ()
        f.output_meta = [(y.shape, y.dtype) for y in ys]
        if f.saved:
            f.saved = tuple([_resolve_saved(a, inputs, raw, ys) for a in f.saved])
            if _saved_hooks:
                f.saved = _pack_saved(f, f.saved)
        return tuple([_wrap(y, f, i) if y.dtype.kind in "fc" else _wrap(y)
                      for i, y in enumerate(ys)])

    def forward(self, *arrays):
        raise NotImplementedError

    def backward(self, *grads):
        raise NotImplementedError(f"{type(self).__name__} has no backward")

    def release(self):
        """Drop what forward saved (called after backward unless retain_graph=True)."""
        self.saved = None

    def __repr__(self):
        return f"<{type(self).__name__}Backward>"



def _resolve_saved(a, inputs, raw, ys):
    if a is None:
        return None
    for i, t in enumerate(inputs):
        if a is t.array:
            return i
    for j, y in enumerate(raw):
        if a is y:
            return _Out(j, ys[j])
    return a


def _broadcast_message(cls, inputs):
    op = getattr(cls, "op", cls.__name__.lower())
    shapes = [list(t.shape) for t in inputs]
    if len(shapes) == 2:
        a, b = shapes
        return (f"{op}: the size of tensor a {a} must match the size of tensor b {b} at a "
                f"non-singleton dimension (shapes {a} and {b} cannot be broadcast)")
    return f"{op}: the shapes {' and '.join(map(str, shapes))} cannot be broadcast together"


def _device_mismatch(op, inputs):
    devs = []
    for t in inputs:
        b = _by_array_type.get(type(t.array))
        devs.append(b.name if b else type(t.array).__name__)
    shapes = ", ".join(str(list(t.shape)) for t in inputs)
    raise RuntimeError(
        f"{op}: expected all tensors to be on the same device, but found at "
        f"least two devices, {' and '.join(sorted(set(devs)))} (input shapes {shapes}); "
        "move them with .to(device) first")


# the graph walk, re-exported: minigen.grad and Tensor.backward's walk live in graph.py
from ..graph import grad, run_backward  # noqa: E402,F401
# PyTorch's custom Functions (torch.autograd.function) and jacobian/hessian (.functional)
from . import function, functional, grad_mode, forward_ad, graph  # noqa: E402,F401
from .function import FunctionCtx, once_differentiable  # noqa: E402,F401
from .functional import jacobian, hessian, vjp, jvp, hvp, vhp  # noqa: E402,F401


def Variable(data, requires_grad=False, volatile=False):
    """PyTorch < 0.4's wrapper: a tensor is its own Variable (``requires_grad`` sets it)."""
    if requires_grad and not data.requires_grad:
        data.requires_grad_(True)
    return data


class set_detect_anomaly:
    """``set_detect_anomaly(True)``: turn anomaly checking on (as a call or a context)."""

    def __init__(self, mode, check_nan=True):
        self.prev = _state["anomaly"]
        _state["anomaly"] = bool(mode)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _state["anomaly"] = self.prev


class AccumulateGrad:
    """The graph node PyTorch shows for a leaf that requires grad (in ``next_functions``):
    ``variable`` is the leaf, whose ``.grad`` the backward pass accumulates into."""

    next_functions = ()

    def __init__(self, variable):
        self.variable = variable

    def name(self):
        return "torch::autograd::AccumulateGrad"

    def __repr__(self):
        return f"<AccumulateGrad object at {id(self):#x}>"
