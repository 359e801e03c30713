"""``minigen.nn.parallel``: PyTorch's multi-GPU wrappers, as honest single-device stand-ins.

minigen runs on one device (the CPU, or one GPU through CuPy). Programs written for PyTorch
often wrap their model for several GPUs (``nn.DataParallel(model)``) or call
``nn.parallel.data_parallel(module, input, range(ngpu))`` when more than one GPU is asked for.
Here those wrappers run the wrapped module once, on the device its parameters are on, so the
program's numbers are the single-device numbers PyTorch would give with one GPU:

    DataParallel(m)(x)                    = m(x)
    DistributedDataParallel(m)(x)         = m(x)
    data_parallel(m, x, device_ids)       = m(x)

As in PyTorch the wrapped model is the child ``module``, so a state dict saved from the wrapper
has keys ``module.<name>`` and ``wrapper.module`` is the model itself. Nothing is split,
replicated or gathered, and no process group exists: ``DistributedDataParallel`` refuses a
``process_group`` argument rather than pretend to synchronise with other processes.
"""
from ..module import Module

__all__ = ["DataParallel", "DistributedDataParallel", "data_parallel"]


def _device_ids_checked(device_ids, name):
    """device_ids as a list (or None); anything but ints / devices is a TypeError."""
    if device_ids is None:
        return None
    ids = list(device_ids)
    for d in ids:
        if not isinstance(d, int) and not hasattr(d, "type"):
            raise TypeError(f"{name}: device_ids must hold ints or devices, got {d!r}")
    return ids


class DataParallel(Module):
    """``DataParallel(module, device_ids=None, output_device=None, dim=0)``: runs ``module``
    on its own device, whole batch at once (minigen has one device; see the module doc)."""

    def __init__(self, module, device_ids=None, output_device=None, dim=0):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"{type(self).__name__}: module must be an nn.Module, "
                            f"got {type(module).__name__}")
        self.module = module
        self.device_ids = _device_ids_checked(device_ids, type(self).__name__)
        self.output_device = output_device
        self.dim = dim

    def forward(self, *inputs, **kwargs):
        return self.module(*inputs, **kwargs)

    def extra_repr(self):
        return "single-device stand-in: runs the wrapped module as is"


class DistributedDataParallel(DataParallel):
    """``DistributedDataParallel(module, device_ids=None, ...)``: in one process with one
    device, the wrapped module itself (gradients need no all-reduce). ``no_sync()`` is a
    context manager that does nothing, as there is nothing to synchronise."""

    def __init__(self, module, device_ids=None, output_device=None, dim=0, broadcast_buffers=True,
                 process_group=None, bucket_cap_mb=None, find_unused_parameters=False, **kwargs):
        if process_group is not None:
            raise RuntimeError("DistributedDataParallel: minigen has no process groups (it runs "
                               "in one process on one device); pass process_group=None")
        super().__init__(module, device_ids, output_device, dim)

    def no_sync(self):
        import contextlib
        return contextlib.nullcontext()


def data_parallel(module, inputs, device_ids=None, output_device=None, dim=0, module_kwargs=None):
    """``module(*inputs, **module_kwargs)`` on the module's own device (see the module doc)."""
    _device_ids_checked(device_ids, "data_parallel")
    if not isinstance(inputs, tuple):
        inputs = (inputs,) if inputs is not None else ()
    return module(*inputs, **(module_kwargs or {}))
