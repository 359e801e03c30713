"""``minigen.cuda``: is a GPU there, and wait for it. (The seam itself is minigen/backend.py.)"""
from . import backend as _backend


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
