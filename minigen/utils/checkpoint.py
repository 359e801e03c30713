"""``minigen.utils.checkpoint``: activation checkpointing trades memory for a second forward pass.

``checkpoint(fn, *args)`` runs ``fn(*args)`` without recording a graph and keeps only its
inputs; when the backward pass reaches the result, ``fn`` runs again, this time recording, and
the gradient flows back through that recomputation (into ``fn``'s parameters' ``.grad`` and on
to the inputs). As in PyTorch, ``fn`` therefore runs twice per training step: a BatchNorm inside
it updates its running statistics (and ``num_batches_tracked``) twice, and with
``preserve_rng_state=True`` (the default) the recomputation replays the random-number state of
the first run, so dropout draws the same masks.

``use_reentrant=True`` (PyTorch's default when the argument is left out) gives parameters a
gradient only when some tensor input requires grad, as PyTorch's reentrant variant does;
``use_reentrant=False`` records the recomputation even when none does. Neither supports
``torch.autograd.grad`` through the checkpoint, nor ``create_graph=True``.
"""
from ..autograd import Function

__all__ = ["checkpoint", "checkpoint_sequential"]


class _Recompute(Function):
    """One graph node for ``fn(*args)``: forward without recording, backward by recomputing."""

    @staticmethod
    def forward(ctx, run, preserve_rng_state, *args):
        import minigen
        ctx.run, ctx.args = run, args
        ctx.rng = minigen.get_rng_state() if preserve_rng_state else None
        with minigen.no_grad():
            return run(*args)

    @staticmethod
    def backward(ctx, *grads):
        import minigen
        inputs = [a.detach().requires_grad_(a.requires_grad) if isinstance(a, minigen.Tensor)
                  else a for a in ctx.args]
        if ctx.rng is not None:
            now = minigen.get_rng_state()
            minigen.set_rng_state(ctx.rng)
        try:
            with minigen.enable_grad():
                outs = ctx.run(*inputs)
        finally:
            if ctx.rng is not None:
                minigen.set_rng_state(now)
        outs = (outs,) if isinstance(outs, minigen.Tensor) else tuple(outs)
        pairs = [(o, g) for o, g in zip(outs, grads)
                 if isinstance(o, minigen.Tensor) and o.requires_grad and g is not None]
        if pairs:
            minigen.autograd.backward([o for o, _ in pairs], [g for _, g in pairs])
        return (None, None) + tuple(i.grad if isinstance(i, minigen.Tensor) else None
                                    for i in inputs)


def checkpoint(function, *args, use_reentrant=None, context_fn=None, determinism_check=None,
               debug=None, preserve_rng_state=True, early_stop=True, **kwargs):
    """``function(*args, **kwargs)``, recomputed in the backward pass instead of kept (see the
    module docstring)."""
    import minigen
    if kwargs and use_reentrant is not False:
        raise ValueError("checkpoint: keyword arguments to the function need use_reentrant=False "
                         "(as in PyTorch)")
    if not minigen.is_grad_enabled():
        return function(*args, **kwargs)
    run = (lambda *a: function(*a, **kwargs)) if kwargs else function
    if use_reentrant is False and not any(isinstance(a, minigen.Tensor) and a.requires_grad
                                          for a in args):
        # non-reentrant checkpointing gives the parameters their gradient even when no input
        # requires grad: a dummy input that does makes the recomputation part of the graph
        dummy = minigen.zeros((), requires_grad=True)
        return _Recompute.apply(lambda d, *a: run(*a), preserve_rng_state, dummy, *args)
    return _Recompute.apply(run, preserve_rng_state, *args)


def checkpoint_sequential(functions, segments, input, use_reentrant=None, **kwargs):
    """Runs the modules (or functions) of ``functions`` in order, in ``segments`` chunks: each
    chunk but the last under ``checkpoint``, the last one recorded as usual."""
    fns = list(functions.children()) if hasattr(functions, "children") else list(functions)
    preserve = kwargs.pop("preserve_rng_state", True)
    if kwargs:
        raise ValueError(f"checkpoint_sequential: unexpected keyword arguments {sorted(kwargs)}")
    size = len(fns) // segments if segments else len(fns)

    def run(start, end):
        def chunk(x):
            for f in fns[start:end + 1]:
                x = f(x)
            return x
        return chunk

    end = -1
    for start in range(0, size * (segments - 1), size):
        end = start + size - 1
        input = checkpoint(run(start, end), input, use_reentrant=use_reentrant,
                           preserve_rng_state=preserve)
    return run(end + 1, len(fns) - 1)(input)
