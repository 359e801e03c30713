"""``minigen.accelerator``: PyTorch's device-agnostic question "is there an accelerator?".

minigen's only accelerator is a CUDA GPU through CuPy, so the answers follow ``minigen.cuda``."""
from . import backend as _backend


def is_available():
    return _backend.cuda_is_available()


def current_accelerator(check_available=False):
    """``device('cuda')`` when a GPU is usable, else None (as PyTorch with no accelerator)."""
    if _backend.cuda_is_available():
        return _backend.device("cuda")
    return None


def device_count():
    return 1 if _backend.cuda_is_available() else 0


def current_device_index():
    return 0 if _backend.cuda_is_available() else -1


def synchronize(device=None):
    if _backend.cuda_is_available():
        _backend.synchronize("cuda")
