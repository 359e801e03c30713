"""``minigen.cuda``: is a GPU there, and wait for it. (The seam itself is minigen/backend.py.)"""
from .. import backend as _backend


def is_available():
    """True when CuPy is installed and sees a CUDA GPU (or the test suite's simulated one)."""
    return _backend.cuda_is_available()


def device_count():
    return 1 if is_available() else 0


def synchronize():
    """Wait for all queued GPU work to finish; call before reading a timer."""
    if is_available():
        _backend.synchronize("cuda")


def manual_seed(seed):
    _backend.manual_seed(seed)


def memory_allocated():
    """Bytes held by CuPy's memory pool (None on a machine without a GPU)."""
    if not is_available():
        return None
    return _backend.get_backend("cuda").memory_allocated()


def manual_seed_all(seed):
    """Seed every GPU's generator; minigen has one generator per device, so as ``manual_seed``."""
    _backend.manual_seed(seed)


def seed_all():
    """A fresh non-deterministic seed for the GPU generators (as ``minigen.seed``)."""
    from ..creation import seed as _seed
    _seed()


def current_device():
    """0 when a GPU is usable (minigen uses one), else RuntimeError as PyTorch without CUDA."""
    if not is_available():
        raise RuntimeError("cuda.current_device: no CUDA GPU is available (minigen runs on the cpu)")
    return 0


def empty_cache():
    """Give cached GPU memory back (CuPy's pool); nothing to do without a GPU."""
    if is_available():
        release = getattr(_backend.get_backend("cuda"), "empty_cache", None)
        if release is not None:
            release()


def is_bf16_supported(including_emulation=True):
    """False: minigen has no bfloat16 (NumPy and CuPy have no such dtype)."""
    return False


def get_device_name(device=None):
    if not is_available():
        raise RuntimeError("cuda.get_device_name: no CUDA GPU is available "
                           "(minigen runs on the cpu)")
    return "CUDA GPU (through CuPy)"


from . import amp  # noqa: E402,F401  (torch.cuda.amp: minigen/cuda/amp.py)

_TYPED = ("FloatTensor", "DoubleTensor", "HalfTensor", "LongTensor", "IntTensor", "ShortTensor",
          "CharTensor", "ByteTensor", "BoolTensor")


def __getattr__(name):
    """``torch.cuda.FloatTensor`` and the other legacy typed-tensor classes (minigen/legacy.py)."""
    if name in _TYPED:
        from ..legacy import _cuda_typed
        cls = _cuda_typed(name)
        globals()[name] = cls
        return cls
    raise AttributeError(f"module 'minigen.cuda' has no attribute '{name}'")
