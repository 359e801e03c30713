"""``minigen.backends.mps``: Apple's Metal GPU backend, which minigen does not have."""


def is_available():
    return False


def is_built():
    return False
