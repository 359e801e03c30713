"""``minigen.xpu``: Intel GPUs, which minigen does not support."""


def is_available():
    return False


def device_count():
    return 0
