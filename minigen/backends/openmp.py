"""``minigen.backends.openmp``: minigen has no OpenMP kernels of its own (BLAS may use threads;
``minigen.set_num_threads`` sets them)."""


def is_available():
    return False
