"""The IDX file format of MNIST (and Fashion-MNIST, KMNIST, EMNIST), read and written.

An IDX file is a tiny header followed by one raw big-endian array::

    bytes 0-1   0x00 0x00                       (always zero)
    byte  2     type code: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64
    byte  3     number of dimensions d
    then        d sizes, each a big-endian uint32
    then        prod(sizes) values of the type, big-endian, C order

``read_idx`` checks every part of that and names the file and what is wrong when a file is
not IDX (bad magic), is cut short (truncated download) or has bytes left over.
Files ending in ``.gz`` are gunzipped first, so the files can be used as downloaded.
"""
from __future__ import annotations

import gzip
import os
import struct

import numpy

# type code -> big-endian dtype, as the format defines them
_CODES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_DTYPE_TO_CODE = {numpy.dtype(v).newbyteorder("="): k for k, v in _CODES.items()}


class IDXFormatError(ValueError):
    """A file that should be IDX is not, or is damaged."""


def _read_raw(path):
    with open(path, "rb") as f:
        raw = f.read()
    if str(path).endswith(".gz"):
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as e:
            raise IDXFormatError(f"read_idx: {path}: not a valid gzip file ({e})") from None
    return raw


def parse_idx(raw, name="<bytes>"):
    """An IDX file's content (``bytes``) as a NumPy array in native byte order."""
    if len(raw) < 4:
        raise IDXFormatError(f"read_idx: {name}: file is {len(raw)} bytes, too short for the 4-byte IDX header")
    zero, code, ndim = raw[0:2], raw[2], raw[3]
    if zero != b"\x00\x00" or code not in _CODES:
        raise IDXFormatError(
            f"read_idx: {name}: bad magic number 0x{raw[:4].hex()}; an IDX file starts with "
            f"00 00, a type code in {{{', '.join(f'{c:02x}' for c in _CODES)}}} and the number of dims")
    if ndim == 0:
        raise IDXFormatError(f"read_idx: {name}: header says 0 dimensions")
    head = 4 + 4 * ndim
    if len(raw) < head:
        raise IDXFormatError(
            f"read_idx: {name}: truncated header: {ndim} dimension sizes need {head} bytes, file has {len(raw)}")
    shape = struct.unpack(f">{ndim}I", raw[4:head])
    dtype = numpy.dtype(_CODES[code])
    need = int(numpy.prod(shape, dtype=numpy.int64)) * dtype.itemsize
    have = len(raw) - head
    if have < need:
        raise IDXFormatError(
            f"read_idx: {name}: truncated: shape {list(shape)} of {dtype.newbyteorder('=')} needs "
            f"{need} bytes of data, file has {have} (an interrupted download?)")
    if have > need:
        raise IDXFormatError(
            f"read_idx: {name}: {have - need} unexpected bytes after the data of shape {list(shape)}")
    a = numpy.frombuffer(raw, dtype=dtype, count=need // dtype.itemsize, offset=head)
    return a.reshape(shape).astype(dtype.newbyteorder("="))  # a native-order copy


def read_idx(path):
    """Read an IDX file (``.gz`` or plain) into a NumPy array; raise ``IDXFormatError`` if it is bad."""
    return parse_idx(_read_raw(path), name=os.fspath(path))


def write_idx(path, array):
    """Write ``array`` as an IDX file (gzipped when ``path`` ends in ``.gz``)."""
    a = numpy.asarray(array)
    code = _DTYPE_TO_CODE.get(a.dtype.newbyteorder("="))
    if code is None:
        raise TypeError(f"write_idx: IDX cannot hold dtype {a.dtype}; "
                        "use uint8, int8, int16, int32, float32 or float64")
    if a.ndim == 0 or a.ndim > 255:
        raise ValueError(f"write_idx: IDX holds arrays of 1 to 255 dimensions, got {a.ndim}")
    raw = (bytes([0, 0, code, a.ndim]) + struct.pack(f">{a.ndim}I", *a.shape)
           + numpy.ascontiguousarray(a, dtype=numpy.dtype(_CODES[code])).tobytes())
    with open(path, "wb") as f:
        f.write(gzip.compress(raw, mtime=0) if str(path).endswith(".gz") else raw)


# the standard names, and the dotted variant some mirrors use
_STEMS = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def _find(directory, stem):
    dotted = stem.replace("-idx", ".idx")
    for name in (stem, stem + ".gz", dotted, dotted + ".gz"):
        p = os.path.join(directory, name)
        if os.path.isfile(p):
            return p
    raise FileNotFoundError(
        f"load_mnist: no {stem}[.gz] (or {dotted}[.gz]) in {directory}")


def read_mnist_dir(directory, split):
    """(images uint8 [N, 28*28-ish], labels [N]) from the standard IDX files of one split."""
    if not os.path.isdir(directory):
        raise NotADirectoryError(f"load_mnist: path={directory!r} is not a directory holding MNIST IDX files")
    img_path, lab_path = (_find(directory, s) for s in _STEMS[split])
    images, labels = read_idx(img_path), read_idx(lab_path)
    if images.ndim != 3:
        raise IDXFormatError(
            f"load_mnist: {img_path}: expected images of 3 dims [N, H, W], got shape {list(images.shape)}")
    if labels.ndim != 1:
        raise IDXFormatError(f"load_mnist: {lab_path}: expected labels of 1 dim [N], got shape {list(labels.shape)}")
    if len(images) != len(labels):
        raise IDXFormatError(
            f"load_mnist: {img_path} holds {len(images)} images but {lab_path} holds {len(labels)} labels")
    return images, labels
