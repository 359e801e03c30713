"""``minigen.jit``: TorchScript, which minigen does not have. ``script`` and ``trace`` return the
function or module unchanged (so programs that script a model still run, eagerly, with the
same numbers); ``ignore``/``unused``/``export`` are identity decorators, and so are
``_overload_method``/``_overload`` (in PyTorch they record a typed signature for the compiler; the
plain definition that follows is what runs, as here) and ``_script_if_tracing``;
``annotate(type, value)`` is ``value``; ``is_scripting()`` and ``is_tracing()`` are False;
``save``/``load`` raise (there is no compiled form to save)."""
from typing import Final  # noqa: F401  (torch.jit.Final annotations)

__all__ = ["script", "trace", "ignore", "unused", "export", "is_scripting", "is_tracing",
           "Final", "save", "load", "annotate"]


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


def _overload_method(fn):
    """torchvision's DenseNet declares ``forward``'s typed overloads with this decorator."""
    return fn


_overload = _overload_method


def _script_if_tracing(fn):
    return fn


def annotate(the_type, the_value):
    """``torch.jit.annotate(List[Tensor], [])``: the value, its type a hint for the compiler."""
    return the_value


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
