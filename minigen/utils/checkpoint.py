"""``minigen.utils.checkpoint``: activation checkpointing trades memory for a second forward
pass. minigen keeps the activations instead: ``checkpoint(fn, *args)`` is ``fn(*args)`` (same
numbers and gradients, no memory saved)."""

__all__ = ["checkpoint", "checkpoint_sequential"]


def checkpoint(function, *args, use_reentrant=None, context_fn=None, determinism_check=None,
               debug=None, preserve_rng_state=True, **kwargs):
    return function(*args, **kwargs)


def checkpoint_sequential(functions, segments, input, use_reentrant=None, **kwargs):
    fns = list(functions.children()) if hasattr(functions, "children") else list(functions)
    for f in fns:
        input = f(input)
    return input
