"""PyTorch's way of writing your own differentiable op, on minigen's graph.

minigen's own ops subclass ``Function`` with instance methods that work on raw arrays (the op
contract in minigen/autograd/__init__.py). A PyTorch program writes its op with static methods
that take a context ``ctx`` and work on Tensors::

    class GradReverse(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, alpha):
            ctx.alpha = alpha
            return x.view_as(x)

        @staticmethod
        def backward(ctx, grad_output):
            return -ctx.alpha * grad_output, None     # one gradient per forward argument

    y = GradReverse.apply(x, 0.5)

A subclass whose ``forward`` is a staticmethod gets the ``apply`` below (chosen once, when the
class is defined, so minigen's own ops pay nothing). It runs ``forward`` with recording off,
then, if any tensor argument requires grad, records one node whose backward calls the user's
``backward`` (recording on under ``create_graph=True``, so a backward written with tensor ops is
itself differentiable). PyTorch 2's form, ``forward(*args)`` plus ``setup_context(ctx, inputs,
output)``, works too.
"""
from __future__ import annotations

import functools

from . import Function


class FunctionCtx:
    """The ``ctx`` a custom Function's forward and backward share: any attribute may be set on
    it; ``save_for_backward(*tensors)`` / ``saved_tensors`` keep tensors for backward."""

    def __init__(self, needs_input_grad):
        self.needs_input_grad = needs_input_grad
        self._saved = ()
        self._non_differentiable = ()
        self.materialize_grads = True

    def save_for_backward(self, *tensors):
        self._saved = tensors

    @property
    def saved_tensors(self):
        if self._saved is None:
            raise RuntimeError(
                "Trying to backward through the graph a second time (or to read saved tensors "
                "after they were freed). Pass retain_graph=True to the first backward() if you "
                "need to go through the graph twice.")
        return tuple(self._saved)

    def save_for_forward(self, *tensors):
        self.saved_for_forward = tensors

    def mark_dirty(self, *tensors):
        """Accepted (minigen records an in-place forward as written: nothing to do)."""

    def mark_non_differentiable(self, *tensors):
        self._non_differentiable = tuple(id(t) for t in tensors)

    def set_materialize_grads(self, value):
        """``False``: backward receives None (not zeros) for outputs nothing used."""
        self.materialize_grads = bool(value)


def once_differentiable(fn):
    """PyTorch's decorator for a backward that cannot be differentiated again: here it runs
    the backward with recording off (its result is then a constant for a second backward)."""
    @functools.wraps(fn)
    def wrapper(ctx, *grads):
        from . import no_grad
        with no_grad():
            return fn(ctx, *grads)
    return wrapper


def is_torch_style(cls):
    """A subclass written PyTorch's way: ``forward`` is a staticmethod (taking ``ctx``, or
    paired with ``setup_context``)."""
    for klass in cls.__mro__:
        if "forward" in klass.__dict__:
            return isinstance(klass.__dict__["forward"], staticmethod)
    return False


def _uses_setup_context(cls):
    for klass in cls.__mro__:
        if "setup_context" in klass.__dict__:
            return klass.__name__ != "Function"
    return False


def _has_own(cls, name):
    """Whether a user class (not minigen's Function bases) defines ``name``."""
    for klass in cls.__mro__:
        if klass.__module__.startswith("minigen"):
            return False
        if name in klass.__dict__:
            return True
    return False


def torch_style_apply(cls, *args, **kwargs):
    """``MyFunction.apply(*args)`` for a PyTorch-style subclass (see the module docstring)."""
    from . import _state, no_grad
    from .. import autograd as _ag
    from ..backend import _by_array_type
    from ..tensor import Tensor, _wrap

    positions = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
    needs = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
    ctx = FunctionCtx(needs)
    with no_grad():
        if _uses_setup_context(cls):
            outputs = cls.forward(*args, **kwargs)
            cls.setup_context(ctx, args, outputs)
        else:
            outputs = cls.forward(ctx, *args, **kwargs)
    if _has_own(cls, "jvp") and not _has_own(cls, "backward"):  # forward-mode only
        from . import forward_ad
        dual = forward_ad._custom_jvp(cls, ctx, args, outputs)
        if dual is not None:
            return dual
    if not (_state["grad"] and any(needs)):
        return outputs
    single = not isinstance(outputs, tuple)
    tensors = tuple(args[i] for i in positions)
    node = _CustomNode()
    node.backend = _by_array_type[type(tensors[0].array)]
    node.xp = node.backend.xp
    node.cls, node.ctx, node.positions, node.n_args = cls, ctx, positions, len(args)
    node.inputs = tensors
    node.needs_input_grad = tuple(t.requires_grad for t in tensors)
    node.generation = 1 + max([t.creator.generation for t in tensors if t.creator is not None],
                              default=0)
    node.r = _ag._rebinds
    node.saved, node._retained, node.output_meta = (), (), []
    arg_ids = {id(a) for a in args}
    result = []
    for o in ((outputs,) if single else outputs):
        if isinstance(o, Tensor) and o.array.dtype.kind in "fc" \
                and id(o) not in ctx._non_differentiable:
            if id(o) in arg_ids or o.creator is not None or o.requires_grad:
                o = _wrap(o.array)  # an input handed back, or a graph tensor: a new tensor
            o.creator, o._idx, o.requires_grad = node, len(node.output_meta), True
            node.output_meta.append((o.shape, o.dtype))
        result.append(o)
    node.n_out = len(node.output_meta)
    if node.n_out == 0:
        return outputs
    return result[0] if single else tuple(result)


class _CustomNode(Function):
    """The graph node of one call of a PyTorch-style custom Function."""

    def __init__(self):
        pass

    def backward(self, *grads):
        got = self.cls.backward(self.ctx, *grads)
        if not isinstance(got, tuple):
            got = (got,)
        if len(got) > self.n_args and all(g is None for g in got[self.n_args:]):
            got = got[:self.n_args]
        if len(got) != self.n_args:
            raise RuntimeError(
                f"function {self.cls.__name__}Backward returned an incorrect number of "
                f"gradients (expected {self.n_args}, got {len(got)})")
        out = []
        for i, t in zip(self.positions, self.inputs):
            g = got[i]
            if g is not None and tuple(g.shape) != tuple(t.shape):
                from ..ops import sum_to
                try:
                    g = sum_to(g, tuple(t.shape))
                except Exception:
                    raise RuntimeError(
                        f"function {self.cls.__name__}Backward returned an invalid gradient at "
                        f"index {i} - got {list(g.shape)} but expected shape compatible with "
                        f"{list(t.shape)}") from None
            out.append(g)
        return tuple(out)

    def release(self):
        self.saved = None
        self.ctx._saved = None

    def __repr__(self):
        return f"<{self.cls.__name__}Backward>"
