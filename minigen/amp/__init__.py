"""``minigen.amp``: mixed precision, as a program that asks for it gets it here: in full precision.

minigen has no reduced-precision autocasting; ``autocast`` is a context manager (and decorator)
that leaves dtypes alone, and ``GradScaler`` scales nothing (its ``scale`` returns the loss,
``step`` calls ``optimizer.step()``), which is exactly PyTorch's behaviour with
``enabled=False``. A float32 program gives float32 numbers either way.
"""
import contextlib
import functools

__all__ = ["autocast", "GradScaler"]


class autocast(contextlib.ContextDecorator):
    """``with autocast(device_type='cuda', dtype=float16):`` runs the block unchanged."""

    def __init__(self, device_type="cpu", dtype=None, enabled=True, cache_enabled=None):
        self.device_type = device_type
        self.fast_dtype = dtype
        self._enabled = enabled

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


class GradScaler:
    """Loss scaling for float16 training; here (no float16 autocast) a pass-through."""

    def __init__(self, device="cpu", init_scale=2.0 ** 16, growth_factor=2.0, backoff_factor=0.5,
                 growth_interval=2000, enabled=True):
        self._enabled = enabled

    def scale(self, outputs):
        return outputs

    def unscale_(self, optimizer):
        pass

    def step(self, optimizer, *args, **kwargs):
        return optimizer.step(*args, **kwargs)

    def update(self, new_scale=None):
        pass

    def get_scale(self):
        return 1.0

    def is_enabled(self):
        return False

    def state_dict(self):
        return {}

    def load_state_dict(self, state_dict):
        pass


def custom_fwd(fwd=None, **kwargs):
    if fwd is None:
        return lambda f: f
    return fwd


def custom_bwd(bwd=None, **kwargs):
    if bwd is None:
        return lambda f: f
    return bwd


del functools
