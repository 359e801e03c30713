"""``torch.autograd.profiler``: the older home of ``profile`` and ``record_function`` (the
stand-ins in minigen/profiler.py)."""
import contextlib

from ..profiler import profile, record_function  # noqa: F401


class emit_nvtx(contextlib.ContextDecorator):
    def __init__(self, enabled=True, record_shapes=False):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False
