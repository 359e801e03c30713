"""``minigen.backends.mkldnn``: oneDNN (MKL-DNN), which minigen does not use."""
enabled = False


def is_available():
    return False
