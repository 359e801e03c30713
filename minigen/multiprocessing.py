"""``minigen.multiprocessing``: Python's ``multiprocessing``, under PyTorch's module name.

PyTorch's version also moves tensors into shared memory when they are sent to another
process. minigen's tensors are NumPy (or CuPy) arrays in ordinary memory: a child process
gets a copy, so Hogwild-style training (several processes updating one model) trains the
copies separately. Everything else (``Process``, ``Pool``, ``Queue``, ``set_start_method``,
``get_context``, ...) is the standard library's.
"""
from multiprocessing import *  # noqa: F401,F403
from multiprocessing import get_context, set_start_method, get_start_method, cpu_count  # noqa: F401
