"""``minigen.jit``: TorchScript, which minigen does not have. ``script`` and ``trace`` return the
function or module unchanged (so programs that script a model still run, eagerly, with the
same numbers); ``ignore``/``unused``/``export`` are identity decorators; ``is_scripting()`` and
``is_tracing()`` are False; ``save``/``load`` raise (there is no compiled form to save)."""
from typing import Final  # noqa: F401  (torch.jit.Final annotations)

__all__ = ["script", "trace", "ignore", "unused", "export", "is_scripting", "is_tracing",
           "Final", "save", "load"]


def script(obj=None, *args, **kwargs):
    return obj


def trace(func, example_inputs=None, *args, **kwargs):
    return func


def ignore(fn=None, **kwargs):
    return fn if fn is not None else (lambda f: f)


def unused(fn):
    return fn


def export(fn):
    return fn


def is_scripting():
    return False


def is_tracing():
    return False


def save(*args, **kwargs):
    raise RuntimeError("jit.save: minigen has no TorchScript; save the state dict with "
                       "minigen.save(model.state_dict(), path)")


def load(*args, **kwargs):
    raise RuntimeError("jit.load: minigen has no TorchScript; build the model in code and load "
                       "its state dict")
