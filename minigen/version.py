"""``torch.version``: what this build is. minigen's own version; ``cuda`` is the CUDA runtime
CuPy was built for when CuPy is installed (PyTorch's CPU build says None), ``hip`` None."""
from . import __version__  # noqa: F401

hip = None
debug = False
git_version = "unknown"


def _cuda_version():
    try:
        import cupy
        v = cupy.cuda.runtime.runtimeGetVersion()
        return f"{v // 1000}.{(v % 1000) // 10}"
    except Exception:  # no CuPy, or no driver
        return None


cuda = _cuda_version()
