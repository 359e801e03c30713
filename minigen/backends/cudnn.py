"""``minigen.backends.cudnn``: cuDNN's switches. minigen does not call cuDNN, so
``is_available()`` is False and ``version()`` is None; the flags are kept, and change nothing."""
enabled = True
benchmark = False
deterministic = False
allow_tf32 = True


def is_available():
    """False: minigen's convolutions are its own (im2col + matmul), not cuDNN's."""
    return False


def version():
    return None
