"""``torch.cpu``: the CPU as a device module, as ``torch.cuda`` is for the GPU (PyTorch 2 code
asks ``torch.get_device_module(device)`` or ``torch.cpu.amp.autocast()``). One device, always
available; streams and events are stand-ins whose work is already done (NumPy runs eagerly).
"""
from . import amp  # noqa: F401

__all__ = ["is_available", "device_count", "current_device", "set_device", "synchronize",
           "current_stream", "stream", "Stream", "Event", "StreamContext", "is_initialized",
           "get_capabilities", "amp"]


def is_available():
    return True


def is_initialized():
    return True


def device_count():
    return 1


def current_device():
    """PyTorch answers the string 'cpu'."""
    return "cpu"


def set_device(device):
    """Accepted: there is one CPU device."""


def synchronize(device=None):
    """Nothing to wait for: CPU work is done when the call returns."""


def get_capabilities():
    """The instruction sets PyTorch's CPU kernels could use; minigen's are NumPy's."""
    return {}


class Stream:
    """``torch.cpu.Stream``: a stand-in (CPU work runs in order, at once)."""

    def __init__(self, priority=-1):
        self.priority = priority

    def wait_stream(self, stream):
        pass

    def synchronize(self):
        pass

    def query(self):
        return True


class Event:
    def __init__(self, enable_timing=False):
        self.enable_timing = enable_timing

    def record(self, stream=None):
        pass

    def wait(self, stream=None):
        pass

    def query(self):
        return True

    def synchronize(self):
        pass


_DEFAULT_STREAM = Stream()


def current_stream(device=None):
    return _DEFAULT_STREAM


class StreamContext:
    """``with torch.cpu.stream(s):``: nothing to switch."""

    def __init__(self, stream):
        self.stream = stream

    def __enter__(self):
        return self.stream

    def __exit__(self, *exc):
        return False


def stream(stream):
    return StreamContext(stream)
