"""``minigen.hub``: the parts of ``torch.hub`` that programs touch without downloading.

``tqdm`` is the progress bar (the ``tqdm`` package when installed, else a plain iterator that
prints nothing). minigen never downloads: ``load``, ``load_state_dict_from_url`` and
``download_url_to_file`` raise, saying so.
"""
import os

class _QuietBar:
    """Used when the ``tqdm`` package is absent: iterates, accepts tqdm's methods, prints nothing."""

    def __init__(self, iterable=None, *args, total=None, **kwargs):
        self.iterable, self.total, self.n = iterable, total, 0

    def __iter__(self):
        for x in self.iterable:
            self.n += 1
            yield x

    def __len__(self):
        return len(self.iterable) if self.iterable is not None else (self.total or 0)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def update(self, n=1):
        self.n += n

    def set_postfix(self, *args, **kwargs):
        pass

    def set_description(self, *args, **kwargs):
        pass

    def close(self):
        pass


def __getattr__(name):
    # tqdm is imported on first use, so that `import minigen` stays quick
    if name == "tqdm":
        try:
            from tqdm import tqdm
        except ImportError:
            tqdm = _QuietBar
        globals()["tqdm"] = tqdm
        return tqdm
    raise AttributeError(f"module 'minigen.hub' has no attribute {name!r}")


__all__ = ["tqdm", "get_dir", "load", "load_state_dict_from_url", "download_url_to_file"]


def get_dir():
    return os.path.join(os.path.expanduser("~"), ".cache", "minigen", "hub")


def _no_download(name):
    raise RuntimeError(f"hub.{name}: minigen does not download models or weights; build the "
                       "model in code and load a state dict you have with minigen.load(path)")


def load(*args, **kwargs):
    _no_download("load")


def load_state_dict_from_url(*args, **kwargs):
    _no_download("load_state_dict_from_url")


def download_url_to_file(*args, **kwargs):
    _no_download("download_url_to_file")
