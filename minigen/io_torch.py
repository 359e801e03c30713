"""Reading checkpoints that PyTorch's ``torch.save`` wrote (``.pt`` / ``.pth``), weights only.

``minigen.load(path)`` hands a PyTorch file here, so a program that loads a checkpoint trained
with PyTorch (llama2.c's ``stories15M.pt``, a makemore ``model.pt``, a ``state_dict``) runs
unchanged on minigen.

The file (PyTorch >= 1.6, the default since) is a zip archive::

    <name>/data.pkl        a pickle of the saved object; every tensor in it refers to a storage
    <name>/data/<key>      the raw bytes of storage <key> (little-endian unless <name>/byteorder
                           says 'big')

A tensor is pickled as ``torch._utils._rebuild_tensor_v2(storage, offset, size, stride,
requires_grad, hooks)``: element (i, j, ...) of the tensor is element ``offset + i*stride[0] +
j*stride[1] + ...`` of the storage. Several tensors may share one storage (views, tied
weights); each is rebuilt as its own copy.

Unpickling can run any code a file names, so this reader names what it allows, as PyTorch's
``torch.load(weights_only=True)`` does: tensors, parameters, storages, dtypes, ``Size``,
``device``, ``OrderedDict``, NumPy scalars and arrays, and Python's own containers and
numbers. Any other class in the file is refused with its name (no code from the file runs).
bfloat16 storages are read as float32 (exactly: a bfloat16 is the top half of a float32), as
minigen has no bfloat16. Files in PyTorch's older (pre-1.6, non-zip) format are refused with a
message saying how to re-save them.
"""
from __future__ import annotations

import builtins
import codecs
import collections
import io
import pickle
import zipfile

import numpy

from . import backend as B
from .autograd import _wrap

_STORAGE_DTYPES = {
    "FloatStorage": "float32", "DoubleStorage": "float64", "HalfStorage": "float16",
    "BFloat16Storage": "bfloat16", "LongStorage": "int64", "IntStorage": "int32",
    "ShortStorage": "int16", "CharStorage": "int8", "ByteStorage": "uint8",
    "BoolStorage": "bool", "ComplexFloatStorage": "complex64",
    "ComplexDoubleStorage": "complex128",
}
_DTYPE_NAMES = {"float32", "float", "float64", "double", "float16", "half", "bfloat16", "int64",
                "long", "int32", "int", "int16", "short", "int8", "uint8", "bool",
                "complex64", "complex128"}
_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


class _StorageType:
    """What ``torch.FloatStorage`` (etc.) stands for in a file: the element dtype."""

    def __init__(self, name):
        self.name = name
        self.dtype = _STORAGE_DTYPES[name]


def is_torch_file(path):
    """True for a zip whose entries include PyTorch's ``<name>/data.pkl``."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as z:
        return any(n.endswith("/data.pkl") or n == "data.pkl" for n in z.namelist())


def is_legacy_torch_file(path):
    """True for PyTorch's pre-1.6 format (a pickle stream starting with its magic number)."""
    try:
        with open(path, "rb") as f:
            return pickle.Unpickler(f).load() == _LEGACY_MAGIC
    except Exception:
        return False


def load_torch_file(path, device="cpu", fail=None):
    """The object a PyTorch ``torch.save`` stored at ``path``, its tensors as minigen tensors on
    ``device``. ``fail(path, what)`` raises the caller's error (CheckpointError)."""
    fail = fail or (lambda p, what: (_ for _ in ()).throw(RuntimeError(f"{p}: {what}")))
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        pkl = next((n for n in names if n.endswith("/data.pkl") or n == "data.pkl"), None)
        prefix = pkl[:-len("data.pkl")]
        order = "little"
        if prefix + "byteorder" in names:
            order = z.read(prefix + "byteorder").decode("ascii", "replace").strip() or "little"
        storages = {}

        def storage(key, dtype, numel):
            if key not in storages:
                entry = f"{prefix}data/{key}"
                if entry not in names:
                    fail(path, f"storage {key!r} is named by data.pkl but missing from the file")
                raw = z.read(entry)
                storages[key] = _decode(raw, dtype, numel, order, path, fail)
            return storages[key]

        unpickler = _WeightsUnpickler(io.BytesIO(z.read(pkl)), path, fail, storage, device)
        try:
            return unpickler.load()
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError) as e:
            fail(path, f"damaged PyTorch checkpoint ({type(e).__name__}: {e})")


def _decode(raw, dtype, numel, order, path, fail):
    """A storage's bytes as a flat NumPy array of ``dtype`` (bfloat16 widened to float32)."""
    np_dtype = numpy.dtype("uint16" if dtype == "bfloat16" else dtype)
    if order == "big":
        np_dtype = np_dtype.newbyteorder(">")
    if len(raw) < numel * np_dtype.itemsize:
        fail(path, f"a storage holds {len(raw)} bytes, fewer than its {numel} {dtype} elements")
    a = numpy.frombuffer(raw, dtype=np_dtype, count=numel)
    if dtype == "bfloat16":
        # a bfloat16 is the upper 16 bits of the float32 with the same value
        return (a.astype(numpy.uint32) << 16).view(numpy.float32)
    return a.astype(np_dtype.newbyteorder("="), copy=False)


class _WeightsUnpickler(pickle.Unpickler):
    def __init__(self, f, path, fail, storage, device):
        super().__init__(f)
        self.path, self.fail, self.storage, self.device = path, fail, storage, device

    def persistent_load(self, pid):
        # ('storage', storage_type, key, location, numel)
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"):
            self.fail(self.path, f"unknown persistent id {pid!r} in data.pkl")
        stype, key, numel = pid[1], str(pid[2]), int(pid[4])
        if not isinstance(stype, _StorageType):
            self.fail(self.path, f"storage {key!r} has an unknown element type {stype!r}")
        return self.storage(key, stype.dtype, numel)

    def find_class(self, module, name):
        allowed = _allowed(module, name, self)
        if allowed is None:
            self.fail(self.path, f"holds a pickled {module}.{name}; minigen reads only tensors, "
                                 "parameters, containers, numbers and strings from PyTorch files "
                                 "(as torch.load(weights_only=True) does), and runs no code from "
                                 "the file: save a state_dict instead")
        return allowed

    # the rebuild functions PyTorch pickles tensors with
    def rebuild_tensor(self, storage, offset, size, stride, requires_grad=False, *rest):
        arr = _strided(storage, offset, tuple(size), tuple(stride))
        t = _wrap(arr if self.device == "cpu" else B.get_backend(self.device).asarray(arr))
        if requires_grad and arr.dtype.kind == "f":
            t.requires_grad_(True)
        return t

    def rebuild_parameter(self, data, requires_grad=True, *rest):
        from .nn.parameter import Parameter
        return Parameter(data, requires_grad=bool(requires_grad))


def _strided(storage, offset, size, stride):
    """Elements offset + sum_k i_k * stride_k of a flat storage, as a new contiguous array."""
    if any(s == 0 for s in size):
        return numpy.zeros(size, dtype=storage.dtype)
    end = offset + sum((n - 1) * s for n, s in zip(size, stride)) + 1
    if offset < 0 or end > storage.size:
        raise ValueError(f"a tensor of size {list(size)} and stride {list(stride)} at offset "
                         f"{offset} reaches past its storage of {storage.size} elements")
    item = storage.dtype.itemsize
    view = numpy.lib.stride_tricks.as_strided(storage[offset:], shape=size,
                                              strides=tuple(s * item for s in stride))
    return numpy.array(view)


def _allowed(module, name, up):
    """The object a pickled ``module.name`` stands for, or None if it is not allowed."""
    import minigen
    if module == "collections" and name == "OrderedDict":
        return collections.OrderedDict
    if module == "torch._utils" and name in ("_rebuild_tensor_v2", "_rebuild_tensor"):
        return up.rebuild_tensor
    if module == "torch._utils" and name == "_rebuild_parameter":
        return up.rebuild_parameter
    if module == "torch" and name in _STORAGE_DTYPES:
        return _StorageType(name)
    if module == "torch" and name in _DTYPE_NAMES:
        return getattr(minigen, name)
    if module == "torch" and name == "Size":
        return minigen.Size
    if module == "torch" and name == "device":
        return minigen.device
    if module == "_codecs" and name == "encode":
        return codecs.encode
    if module == "builtins" and name in ("set", "frozenset", "slice", "complex", "bytearray",
                                         "range"):
        return getattr(builtins, name)
    if module in ("numpy._core.multiarray", "numpy.core.multiarray") and name in (
            "scalar", "_reconstruct"):
        core = getattr(numpy, "_core", None) or numpy.core
        return getattr(core.multiarray, name)
    if module == "numpy" and name in ("dtype", "ndarray"):
        return getattr(numpy, name)
    if module.startswith("numpy.dtypes") and name.endswith("DType"):
        return getattr(numpy.dtypes, name, None)
    return None


def legacy_message():
    return ("a PyTorch checkpoint in the old (pre-1.6, non-zip) format, which minigen does not "
            "read: load it with PyTorch and save it again (torch.save writes the zip format "
            "by default)")
