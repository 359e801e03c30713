"""Checkpoints: ``minigen.save(obj, path)`` and ``minigen.load(path)``, with no pickle.

``obj`` is any nesting of dicts, lists and tuples whose leaves are tensors, NumPy arrays,
NumPy scalars, Python ints (of any size: a ``numpy.random.PCG64`` state holds 128-bit ones),
floats, strings, bools and None: a model's ``state_dict()``, an optimizer's, the step, the
RNG state. Why not pickle, as ``torch.save`` does? Unpickling runs code named by the file, so
a checkpoint from the internet could run anything; this format holds only numbers and text.

File layout: a NumPy ``.npz`` (a zip of ``.npy`` arrays). Every tensor and array becomes one
member ``a0``, ``a1``, ...; the member ``__minigen__`` holds a UTF-8 JSON manifest::

    {"format": "minigen-checkpoint", "version": 1, "meta": {...},
     "arrays": ["a0", "a1"],
     "tree": {"dict": [["step", {"int": "1200"}],
                       ["w", {"tensor": "a0", "dtype": "float32", "device": "cuda", "requires_grad": true}],
                       ["note", "strings, true, false and null are stored as themselves"]]}}

Ints are stored as decimal strings and floats as ``repr`` strings, so both round-trip exactly
(``nan`` and ``inf`` included). Dict keys may be strings, ints, floats, bools or None and keep
their order.

Writes are atomic: the file is written to a temporary name in the same directory, flushed and
fsynced, then renamed over ``path`` with ``os.replace``; a crash leaves the old file intact.
Loading checks everything (the zip, the manifest, the format version, every array the manifest
names) before it builds anything, and raises ``CheckpointError`` naming the path and the fault.
"""
from __future__ import annotations

import json
import numbers
import os
import tempfile
import zipfile
import zlib

import numpy

from . import backend as B
from .autograd import Tensor, _wrap

FORMAT = "minigen-checkpoint"
VERSION = 1
MANIFEST = "__minigen__"


class CheckpointError(RuntimeError):
    """A checkpoint file is damaged, not a minigen checkpoint, or not the one expected."""


# ----------------------------------------------------------------------------- save
class _Encoder:
    """Turns a nested object into a JSON tree plus a dict of arrays."""

    def __init__(self):
        self.arrays = {}

    def _array(self, a, where):
        if a.dtype.hasobject:
            raise TypeError(f"save: {where} is an array of dtype object, which only pickle could store")
        key = f"a{len(self.arrays)}"
        self.arrays[key] = a
        return key

    def encode(self, x, where="obj"):
        if x is None or isinstance(x, (bool, str)):
            return x
        if isinstance(x, Tensor):
            return {"tensor": self._array(x.cpu().numpy(), where), "dtype": str(x.dtype),
                    "device": x.device.type, "requires_grad": bool(x.requires_grad)}
        if isinstance(x, numpy.ndarray):
            return {"ndarray": self._array(x, where)}
        if isinstance(x, numpy.generic):
            return {"npscalar": self._array(numpy.asarray(x), where)}
        if isinstance(x, numbers.Integral):
            return {"int": str(int(x))}
        if isinstance(x, float):
            return {"float": repr(float(x))}
        if isinstance(x, dict):
            items = []
            for k, v in x.items():
                if not (k is None or isinstance(k, (bool, str, int, float))):
                    raise TypeError(f"save: {where} has a key of type {type(k).__name__}; keys may be "
                                    "str, int, float, bool or None")
                items.append([self.encode(k, where), self.encode(v, f"{where}[{k!r}]")])
            return {"dict": items}
        if isinstance(x, (list, tuple)):
            kind = "list" if isinstance(x, list) else "tuple"
            return {kind: [self.encode(v, f"{where}[{i}]") for i, v in enumerate(x)]}
        raise TypeError(f"save: cannot store {where} of type {type(x).__name__}; a checkpoint holds "
                        "dicts, lists, tuples, tensors, arrays, numbers, strings, bools and None")


def _write_npz(f, arrays, compress):
    """Write the arrays (manifest included) as an .npz into the open binary file ``f``."""
    (numpy.savez_compressed if compress else numpy.savez)(f, **arrays)


def save(obj, path, meta=None, compress=False):
    """Save ``obj`` (nested dicts/lists/tuples of tensors, arrays, numbers, strings) to ``path``.

    Args:
        meta: a dict of JSON values (str, numbers, bools, None, lists, dicts) stored beside the
            object, e.g. ``{'model': 'vae', 'latent_dim': 16}``; ``load(path, expect=...)``
            checks it, so a checkpoint of another model is refused instead of half loaded.
        compress: deflate the arrays (smaller, slower).

    The write is atomic: ``path`` holds either the old file or the complete new one. ``path``
    may also be a file opened for binary writing (``save(obj, open(p, 'wb'))``, as PyTorch
    programs do); the bytes are written to it as they are (not atomically).
    """
    fileobj = path if hasattr(path, "write") else None
    if fileobj is None:
        path = os.fspath(path)
    from .nn.module import Module
    from .optim.optimizer import Optimizer
    if isinstance(obj, (Module, Optimizer)):
        kind = "module" if isinstance(obj, Module) else "optimizer"
        raise TypeError(f"save: minigen does not save a whole {kind} ({type(obj).__name__}): that "
                        "would pickle Python objects, which run code when loaded and break when "
                        "the class changes. Save its state instead, "
                        f"minigen.save({'model' if kind == 'module' else 'optimizer'}.state_dict(), "
                        f"path), and later build the {kind} again and call load_state_dict("
                        "minigen.load(path))")
    enc = _Encoder()
    tree = enc.encode(obj)
    if meta is not None and not isinstance(meta, dict):
        raise TypeError(f"save: meta must be a dict, got {type(meta).__name__}")
    try:
        manifest = json.dumps({"format": FORMAT, "version": VERSION, "meta": meta or {},
                               "arrays": list(enc.arrays), "tree": tree}, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise TypeError(f"save: meta must hold only JSON values (str, finite numbers, bools, None, "
                        f"lists, dicts with str keys): {e}") from None
    arrays = dict(enc.arrays)
    arrays[MANIFEST] = numpy.frombuffer(manifest.encode("utf-8"), dtype=numpy.uint8)
    if fileobj is not None:
        _write_npz(fileobj, arrays, compress)
        return
    atomic_write(path, lambda f: _write_npz(f, arrays, compress))


def atomic_write(path, write):
    """Call ``write(f)`` on a temporary file beside ``path``, then rename it over ``path``:
    ``path`` holds either its old content or the complete new one, never a part."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(directory)


def atomic_write_bytes(path, data):
    """Write ``data`` (bytes) to ``path`` atomically (``atomic_write``)."""
    atomic_write(path, lambda f: f.write(data))


def _fsync_dir(directory):
    """Make the rename itself durable (POSIX); a no-op where directories can't be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# ----------------------------------------------------------------------------- load
def _fail(path, what):
    raise CheckpointError(f"minigen.load: {path}: {what}")


def _read(path):
    """(manifest dict, {key: numpy array}) with every check done; raises CheckpointError."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"minigen.load: no such checkpoint file: {path}")
    if not zipfile.is_zipfile(path):
        _fail(path, "not a zip/.npz file (truncated, or not a minigen checkpoint)")
    try:
        with numpy.load(path, allow_pickle=False) as npz:
            names = set(npz.files)
            if MANIFEST not in names:
                _fail(path, f"no '{MANIFEST}' manifest inside: not a minigen checkpoint")
            raw = {}
            for name in npz.files:
                try:
                    raw[name] = npz[name]
                except ValueError as e:
                    if "allow_pickle" in str(e) or "object" in str(e).lower():
                        _fail(path, f"array '{name}' holds Python objects (pickle); refusing to load it")
                    _fail(path, f"array '{name}' is unreadable: {e}")
    except CheckpointError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, KeyError) as e:
        _fail(path, f"damaged file ({type(e).__name__}: {e})")
    m = raw.pop(MANIFEST)
    if m.dtype != numpy.uint8 or m.ndim != 1:
        _fail(path, "the manifest is not a byte string")
    try:
        manifest = json.loads(m.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        _fail(path, f"the manifest is not valid JSON ({e})")
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        _fail(path, f"the manifest does not say format '{FORMAT}'")
    if manifest.get("version") != VERSION:
        _fail(path, f"format version {manifest.get('version')!r} is not supported (this minigen reads {VERSION})")
    if not isinstance(manifest.get("meta"), dict):
        _fail(path, "the manifest's 'meta' is missing or not a dict")
    listed = manifest.get("arrays")
    if not isinstance(listed, list) or not all(isinstance(k, str) for k in listed):
        _fail(path, "the manifest's 'arrays' is missing or not a list of names")
    if "tree" not in manifest:
        _fail(path, "the manifest has no 'tree' describing the saved object")
    missing = [k for k in listed if k not in raw]
    if missing:
        _fail(path, f"arrays named by the manifest are missing: {missing}")
    extra = sorted(set(raw) - set(listed))
    if extra:
        _fail(path, f"arrays not named by the manifest: {extra}")
    for k, a in raw.items():
        if a.dtype.hasobject:
            _fail(path, f"array '{k}' holds Python objects (pickle); refusing to load it")
    return manifest, raw


class _Decoder:
    """Checks a manifest tree node by node, then builds the object (two passes: check first)."""

    def __init__(self, path, arrays, device):
        self.path, self.arrays, self.device = path, arrays, device

    def check(self, node, where="obj"):
        def bad(what):
            _fail(self.path, f"manifest entry {where}: {what}")

        if node is None or isinstance(node, (bool, str)):
            return
        if not isinstance(node, dict) or not node:
            bad(f"unexpected {type(node).__name__}")
        if "tensor" in node or "ndarray" in node or "npscalar" in node:
            key = node.get("tensor", node.get("ndarray", node.get("npscalar")))
            if not isinstance(key, str) or key not in self.arrays:
                bad(f"refers to array {key!r}, which the file does not hold")
            if "tensor" in node:
                if node.get("dtype") != str(self.arrays[key].dtype):
                    bad(f"dtype {node.get('dtype')!r} does not match the stored array's {self.arrays[key].dtype}")
                if node.get("device") not in ("cpu", "cuda"):
                    bad(f"unknown device {node.get('device')!r}")
            return
        if len(node) != 1:
            bad(f"unknown node with keys {sorted(node)}")
        (kind, value), = node.items()
        if kind in ("int", "float"):
            try:
                int(value) if kind == "int" else float(value)
                ok = isinstance(value, str)
            except (TypeError, ValueError):
                ok = False
            if not ok:
                bad(f"{kind} {value!r} is not a number written as a string")
        elif kind in ("list", "tuple"):
            if not isinstance(value, list):
                bad(f"{kind} is not a JSON list")
            for i, v in enumerate(value):
                self.check(v, f"{where}[{i}]")
        elif kind == "dict":
            if not isinstance(value, list) or not all(isinstance(p, list) and len(p) == 2 for p in value):
                bad("dict is not a list of [key, value] pairs")
            for k, v in value:
                if isinstance(k, dict) and list(k) not in (["int"], ["float"]):
                    bad(f"dict key {k!r} is not a str, int, float, bool or None")
                self.check(k, f"{where} key")
                self.check(v, f"{where}[{k!r}]")
        else:
            bad(f"unknown node kind {kind!r}")

    def build(self, node):
        if node is None or isinstance(node, (bool, str)):
            return node
        if "tensor" in node:
            a = self.arrays[node["tensor"]]
            t = _wrap(a if self.device == "cpu" else B.get_backend(self.device).asarray(a))
            if node.get("requires_grad") and a.dtype.kind == "f":
                t.requires_grad_(True)
            return t
        if "ndarray" in node:
            return self.arrays[node["ndarray"]]
        if "npscalar" in node:
            return self.arrays[node["npscalar"]][()]
        (kind, value), = node.items()
        if kind == "int":
            return int(value)
        if kind == "float":
            return float(value)
        if kind == "list":
            return [self.build(v) for v in value]
        if kind == "tuple":
            return tuple(self.build(v) for v in value)
        return {self.build(k): self.build(v) for k, v in value}


def load_meta(path):
    """The ``meta`` dict a checkpoint was saved with (the whole file is still validated)."""
    manifest, _ = _read(path)
    return manifest["meta"]


def load(path, map_location=None, expect=None, *, weights_only=None, mmap=None):
    """Load what ``save`` stored at ``path``.

    Args:
        map_location: the device for the tensors: ``None`` or ``'cpu'`` (default: cpu, whatever
            device they were saved from; the saved device is kept in the manifest) or ``'cuda'``.
            PyTorch's function and dict forms (``lambda storage, loc: storage``) mean the cpu.
        weights_only, mmap: PyTorch's keywords, accepted: a minigen checkpoint never holds
            pickled objects, so loading is always weights-only.
        expect: a dict of meta entries that must match what the file was saved with, e.g.
            ``{'model': 'vae'}``; a missing or different entry raises ``CheckpointError``.

    A file written by PyTorch's ``torch.save`` (zip format) is read too, weights only: its
    tensors become minigen tensors, and any pickled class other than tensors, containers and
    numbers is refused by name (minigen/io_torch.py).

    Raises:
        CheckpointError: the file is truncated, damaged, holds pickled objects, is not a
            minigen checkpoint, or its meta does not match ``expect``.
    """
    if hasattr(path, "read"):  # a file opened for binary reading: load its bytes
        with tempfile.TemporaryDirectory() as tmp:
            copy = os.path.join(tmp, os.path.basename(str(getattr(path, "name", "checkpoint"))))
            with open(copy, "wb") as f:
                f.write(path.read())
            return load(copy, map_location, expect)
    spath = os.fspath(path)
    if callable(map_location) or isinstance(map_location, dict):
        map_location = None  # PyTorch's storage-remapping forms: keep the tensors on the cpu
    device = B.device(map_location if map_location is not None else "cpu").type
    from . import io_torch
    if os.path.isfile(spath) and io_torch.is_torch_file(spath):  # written by PyTorch's torch.save
        if expect:
            _fail(spath, f"expected meta {expect!r}, but this is a PyTorch checkpoint (no meta)")
        return io_torch.load_torch_file(spath, device, _fail)
    if os.path.isfile(spath) and not zipfile.is_zipfile(spath) and io_torch.is_legacy_torch_file(spath):
        _fail(spath, io_torch.legacy_message())
    manifest, arrays = _read(spath)
    if expect:
        want = json.loads(json.dumps(expect))  # tuples -> lists, as stored
        meta = manifest["meta"]
        for k, v in want.items():
            if k not in meta:
                _fail(spath, f"expected meta {k}={v!r}, but the checkpoint has no '{k}' (its meta: {meta})")
            if meta[k] != v:
                _fail(spath, f"expected meta {k}={v!r}, but the checkpoint was saved with {k}={meta[k]!r}")
    dec = _Decoder(spath, arrays, device)
    dec.check(manifest["tree"])
    return dec.build(manifest["tree"])
