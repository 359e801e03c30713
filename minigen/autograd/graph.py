"""``torch.autograd.graph``: hooks on the values the graph saves for backward.

``saved_tensors_hooks(pack_hook, unpack_hook)`` is a context manager: while it is active, each
value an op saves for its backward (an input, its output, or an intermediate) goes through
``pack_hook(tensor)`` when the op is recorded, and what that returned goes through
``unpack_hook(packed)`` when backward reads it; ``unpack_hook`` must give back a tensor with the
saved values. PyTorch uses this to offload or compress activations (``save_on_cpu``) or to
inspect them. Nested contexts: the innermost pair applies.

minigen: when the unpacked tensor is the saved input or output itself (same storage), backward
reads the graph tensor as without hooks, so higher-order gradients still flow through it; a
different tensor is used as a constant. Custom ``autograd.Function`` subclasses written
PyTorch's way keep their ``ctx.save_for_backward`` tensors without calling the hooks.
"""
from __future__ import annotations

from . import Function as Node  # noqa: F401  (PyTorch's name for a graph node's type)
from . import _saved_hooks


class saved_tensors_hooks:
    """Context manager: ``pack_hook`` on every value saved for backward, ``unpack_hook`` when
    backward reads it (see the module docstring)."""

    def __init__(self, pack_hook, unpack_hook):
        self.pack_hook = pack_hook
        self.unpack_hook = unpack_hook

    def __enter__(self):
        if _disabled:
            raise RuntimeError(_disabled[-1])
        _saved_hooks.append((self.pack_hook, self.unpack_hook))
        return self

    def __exit__(self, *exc):
        _saved_hooks.pop()
        return False


class save_on_cpu(saved_tensors_hooks):
    """Saved tensors kept on the CPU during forward and moved back to their device for backward
    (``pin_memory`` is accepted; minigen's CPU memory is ordinary host memory)."""

    def __init__(self, pin_memory=False, device_type="cuda"):
        def pack(t):
            return (t.device, t.cpu())

        def unpack(packed):
            device, t = packed
            return t.to(device)
        super().__init__(pack, unpack)


_disabled = []


class disable_saved_tensors_hooks:
    """Context manager: entering ``saved_tensors_hooks`` inside raises RuntimeError with
    ``error_message``."""

    def __init__(self, error_message):
        self.error_message = error_message

    def __enter__(self):
        _disabled.append(self.error_message)
        return self

    def __exit__(self, *exc):
        _disabled.pop()
        return False
