"""The ``torch.*`` spellings of functional ops, with PyTorch's own (ATen) signatures where they
differ from ``torch.nn.functional``'s, and the small ``torch.*`` utilities that go with them.

PyTorch exposes its native ops at the top level too, and real programs call them there
(``torch.dropout(x, p, train)``, ``torch.layer_norm(x, shape, w, b, eps, cudnn_enable)``,
``torch.embedding(weight, indices)``, ...). Their argument order and keywords are ATen's, not
``F``'s: ``torch.batch_norm(input, weight, bias, running_mean, running_var, training, momentum,
eps, cudnn_enabled)``, reductions given as integers (0 'none', 1 'mean', 2 'sum'), the
recurrent cells taking their weights ``(w_ih, w_hh, b_ih, b_hh)``. Each function below maps its
arguments onto minigen's ``F`` (so the math and the gradients are those of ``F``'s ops) and
says where PyTorch's behaviour differs:

    torch.dropout(input, p, train)                     F.dropout(input, p, training=train)
    torch.alpha_dropout(input, p, train)               SELU-preserving dropout (below)
    torch.batch_norm(input, w, b, rm, rv, training, momentum, eps, cudnn_enabled)
    torch.instance_norm(input, w, b, rm, rv, use_input_stats, momentum, eps, cudnn_enabled)
    torch.layer_norm(input, shape, w=None, b=None, eps=1e-5, cudnn_enable=True)
    torch.group_norm(input, num_groups, w=None, b=None, eps=1e-5, cudnn_enabled=True)
    torch.embedding(weight, indices, padding_idx=-1, scale_grad_by_freq=False, sparse=False)
    torch.kl_div(input, target, reduction=1, *, log_target=False)   ('mean': over every element)
    torch.poisson_nll_loss(input, target, log_input, full, eps, reduction)  (all required)
    torch.lstm_cell(input, (h, c), w_ih, w_hh, b_ih=None, b_hh=None) -> (h', c')

The dropout variants, channel_shuffle and pdist are ``F``'s (minigen/ops/extras_nn.py).
"""
from __future__ import annotations

import builtins
import math

from . import backend as B
from .autograd import Tensor, _wrap
from .nn import functional as F

__all__ = [
    "dropout", "dropout_", "feature_dropout", "feature_dropout_", "alpha_dropout",
    "alpha_dropout_", "feature_alpha_dropout", "feature_alpha_dropout_", "batch_norm",
    "instance_norm", "layer_norm", "group_norm", "rms_norm", "embedding", "conv1d", "conv2d",
    "conv_transpose1d", "conv_transpose2d", "max_pool1d", "max_pool2d",
    "max_pool1d_with_indices", "avg_pool1d", "adaptive_avg_pool1d", "adaptive_max_pool1d",
    "pixel_shuffle", "pixel_unshuffle", "channel_shuffle", "native_channel_shuffle", "prelu",
    "selu", "selu_", "celu", "celu_", "threshold", "threshold_", "rrelu", "rrelu_",
    "cosine_similarity", "pairwise_distance", "pdist", "kl_div",
    "binary_cross_entropy_with_logits", "margin_ranking_loss", "triplet_margin_loss",
    "hinge_embedding_loss", "cosine_embedding_loss", "poisson_nll_loss", "bilinear",
    "constant_pad_nd", "lstm_cell", "gru_cell", "rnn_tanh_cell", "rnn_relu_cell", "detach",
    "fill", "range", "empty_strided", "frombuffer", "asarray", "initial_seed", "typename",
    "set_default_device", "get_default_device", "is_inference_mode_enabled",
    "is_anomaly_enabled", "set_anomaly_enabled", "is_anomaly_check_nan_enabled", "is_conj",
    "is_neg", "is_inference", "matrix_rank", "lstsq", "eig", "symeig",
]

_REDUCTIONS = {0: "none", 1: "mean", 2: "sum"}


def _reduction(r, op):
    """ATen's integer reduction (0 none, 1 mean, 2 sum); a string is taken as it is."""
    if isinstance(r, str):
        return r
    if r not in _REDUCTIONS:
        raise ValueError(f"{op}: reduction must be 0 (none), 1 (mean) or 2 (sum), got {r!r}")
    return _REDUCTIONS[r]


# ----------------------------------------------------------------------------- dropout
def dropout(input, p, train):
    """``torch.dropout(input, p, train)``: ``F.dropout(input, p, training=train)``."""
    return F.dropout(input, p, training=train)


def dropout_(input, p, train):
    """In place: the dropped-out values written into ``input``."""
    return input._write_back(F.dropout(input, p, training=train), "dropout_")


def _feature_mask_shape(input, op):
    if input.ndim < 2:
        raise RuntimeError(f"{op}: feature dropout needs an input of at least 2 dims "
                           f"(N, C, ...), got shape {list(input.shape)}")
    return tuple(input.shape[:2]) + (1,) * (input.ndim - 2)


def feature_dropout(input, p, train):
    """Channel dropout: one keep mask per (sample, channel), scaled by 1/(1-p)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not train or p == 0.0:
        return input
    from .creation import rand
    shape = _feature_mask_shape(input, "feature_dropout")
    if p == 1.0:
        return input * 0.0
    keep = (rand(shape, dtype=input.dtype, device=input.device) >= p).to(input.dtype)
    return input * (keep * (1.0 / (1.0 - p)))


def feature_dropout_(input, p, train):
    return input._write_back(feature_dropout(input, p, train), "feature_dropout_")


def alpha_dropout(input, p, train):
    """SELU-preserving dropout (``F.alpha_dropout``; the math is in its docstring)."""
    return F.alpha_dropout(input, p, train)


def alpha_dropout_(input, p, train):
    return input._write_back(alpha_dropout(input, p, train), "alpha_dropout_")


def feature_alpha_dropout(input, p, train):
    """Alpha dropout with one mask per (sample, channel) (``F.feature_alpha_dropout``)."""
    return F.feature_alpha_dropout(input, p, train)


def feature_alpha_dropout_(input, p, train):
    return input._write_back(feature_alpha_dropout(input, p, train), "feature_alpha_dropout_")


# ----------------------------------------------------------------------------- normalisation
def batch_norm(input, weight, bias, running_mean, running_var, training, momentum, eps,
               cudnn_enabled):
    """ATen's order: weight and bias before the running statistics; all arguments required."""
    return F.batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps)


def instance_norm(input, weight, bias, running_mean, running_var, use_input_stats, momentum,
                  eps, cudnn_enabled):
    """ATen's order (weight, bias, running stats, use_input_stats, momentum, eps, cudnn)."""
    return F.instance_norm(input, running_mean, running_var, weight, bias, use_input_stats,
                           momentum, eps)


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5, cudnn_enable=True):
    return F.layer_norm(input, normalized_shape, weight, bias, eps)


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5, cudnn_enabled=True):
    return F.group_norm(input, num_groups, weight, bias, eps)


def rms_norm(input, normalized_shape, weight=None, eps=None):
    return F.rms_norm(input, normalized_shape, weight, eps)


def embedding(weight, indices, padding_idx=-1, scale_grad_by_freq=False, sparse=False):
    """``torch.embedding(weight, indices, ...)``: the weight first. ``padding_idx=-1`` means
    none (ATen's convention; ``F.embedding`` turns a negative index into a row number before
    it calls this)."""
    pad = None if padding_idx is None or padding_idx < 0 else padding_idx
    return F.embedding(indices, weight, padding_idx=pad, scale_grad_by_freq=scale_grad_by_freq,
                       sparse=sparse)


# ----------------------------------------------------------------------------- conv and pooling
conv1d = F.conv1d
conv2d = F.conv2d
conv_transpose1d = F.conv_transpose1d
conv_transpose2d = F.conv_transpose2d
avg_pool1d = F.avg_pool1d
adaptive_avg_pool1d = F.adaptive_avg_pool1d
pixel_shuffle = F.pixel_shuffle
pixel_unshuffle = F.pixel_unshuffle
prelu = F.prelu
bilinear = F.bilinear
cosine_similarity = F.cosine_similarity
pairwise_distance = F.pairwise_distance


def max_pool1d(input, kernel_size, stride=(), padding=0, dilation=1, ceil_mode=False):
    """The pooled values only (``torch.max_pool1d_with_indices`` gives the indices too)."""
    return F.max_pool1d(input, kernel_size, stride or None, padding, dilation, ceil_mode)


def max_pool2d(input, kernel_size, stride=(), padding=0, dilation=1, ceil_mode=False):
    return F.max_pool2d(input, kernel_size, stride or None, padding, dilation, ceil_mode)


def max_pool1d_with_indices(input, kernel_size, stride=(), padding=0, dilation=1,
                            ceil_mode=False):
    return F.max_pool1d(input, kernel_size, stride or None, padding, dilation, ceil_mode,
                        return_indices=True)


def adaptive_max_pool1d(input, output_size):
    """(values, indices), as ATen's op returns both: window i of a length-L input covers
    [floor(i L / O), ceil((i + 1) L / O)); the index is the argmax's position in L (the first
    of ties)."""
    o = output_size[0] if isinstance(output_size, (tuple, list)) else output_size
    values = F.adaptive_max_pool1d(input, o)
    xp, L = input.xp, input.shape[-1]
    idx = []
    for i in builtins.range(int(o)):
        lo, hi = (i * L) // o, -((-(i + 1) * L) // o)
        idx.append(xp.argmax(input.array[..., lo:hi], axis=-1) + lo)
    return values, _wrap(xp.stack(idx, axis=-1).astype(B.int64))


channel_shuffle = F.channel_shuffle
native_channel_shuffle = channel_shuffle


def constant_pad_nd(input, pad, value=0):
    return F.pad(input, tuple(pad), mode="constant", value=value)


# ----------------------------------------------------------------------------- activations
def selu(input):
    return F.selu(input)


def celu(input, alpha=1.0):
    return F.celu(input, alpha)


def threshold(input, threshold, value):
    return F.threshold(input, threshold, value)


def rrelu(input, lower=0.125, upper=1.0 / 3.0, training=False, generator=None):
    return F.rrelu(input, lower, upper, training)


selu_ = F.selu_
celu_ = F.celu_
threshold_ = F.threshold_
rrelu_ = F.rrelu_


# ----------------------------------------------------------------------------- losses
def kl_div(input, target, reduction=0, *, log_target=False):
    """ATen's kl_div: reduction 1 ('mean') is the mean over every element (not 'batchmean').

    The losses called as ``torch.*`` default to no reduction (0), as PyTorch's Python
    bindings do (ATen's schema says 1, but ``torch.kl_div(x, y)`` is elementwise)."""
    return F.kl_div(input, target, reduction=_reduction(reduction, "kl_div"),
                    log_target=log_target)


def binary_cross_entropy_with_logits(input, target, weight=None, pos_weight=None, reduction=0):
    return F.binary_cross_entropy_with_logits(
        input, target, weight, reduction=_reduction(reduction, "binary_cross_entropy_with_logits"),
        pos_weight=pos_weight)


def margin_ranking_loss(input1, input2, target, margin=0.0, reduction=0):
    return F.margin_ranking_loss(input1, input2, target, margin,
                                 reduction=_reduction(reduction, "margin_ranking_loss"))


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2.0, eps=1e-6, swap=False,
                        reduction=0):
    return F.triplet_margin_loss(anchor, positive, negative, margin, p, eps, swap,
                                 reduction=_reduction(reduction, "triplet_margin_loss"))


def hinge_embedding_loss(input, target, margin=1.0, reduction=0):
    return F.hinge_embedding_loss(input, target, margin,
                                  reduction=_reduction(reduction, "hinge_embedding_loss"))


def cosine_embedding_loss(input1, input2, target, margin=0.0, reduction=0):
    return F.cosine_embedding_loss(input1, input2, target, margin,
                                   reduction=_reduction(reduction, "cosine_embedding_loss"))


def poisson_nll_loss(input, target, log_input, full, eps, reduction):
    """All six arguments required, as ATen's signature has no defaults."""
    return F.poisson_nll_loss(input, target, log_input, full, eps=eps,
                              reduction=_reduction(reduction, "poisson_nll_loss"))


pdist = F.pdist


# ----------------------------------------------------------------------------- recurrent cells
def lstm_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """One LSTM step with ``hx = (h, c)``; returns ``(h', c')`` (minigen's LSTMCellFunction)."""
    from .ops.rnn import lstm_cell as cell
    if len(hx) != 2:
        raise RuntimeError(f"lstm_cell: hx must hold two tensors (h, c), got {len(hx)}")
    return cell(input, hx[0], hx[1], w_ih, w_hh, b_ih, b_hh)


def gru_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    from .ops.rnn import gru_cell as cell
    return cell(input, hx, w_ih, w_hh, b_ih, b_hh)


def rnn_tanh_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    from .ops.rnn import rnn_tanh_cell as cell
    return cell(input, hx, w_ih, w_hh, b_ih, b_hh)


def rnn_relu_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    from .ops.rnn import rnn_relu_cell as cell
    return cell(input, hx, w_ih, w_hh, b_ih, b_hh)


# ----------------------------------------------------------------------------- utilities
def detach(input):
    """A new tensor sharing ``input``'s values, off the graph (``input.detach()``)."""
    return input.detach()


def fill(input, value):
    """A new tensor of ``input``'s shape, dtype and device, every element ``value`` (a number
    or a 0-d tensor); ``input`` is unchanged. As in PyTorch, the output is on the graph of
    both: ``input`` gets a zero gradient, a tensor ``value`` the sum of the output's."""
    from .ops import masked_fill, where
    mask = _wrap(input.xp.ones(tuple(input.shape), dtype=bool))
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise RuntimeError(f"fill only supports 0-dimension value tensor but got tensor "
                               f"with {value.ndim} dimensions.")
        return where(mask, value.to(input.dtype), input)
    return masked_fill(input, mask, value)


def range(start, end=None, step=1, *, dtype=None, device=None, requires_grad=False, **_):
    """Deprecated in PyTorch for ``arange``: start, start + step, ... up to ``end``
    INCLUSIVE, ``floor((end - start) / step) + 1`` values, of the default float dtype unless
    ``dtype`` says otherwise (even for integer arguments)."""
    import warnings
    warnings.warn("torch.range is deprecated and will be removed in a future release because "
                  "its behavior is inconsistent with Python's range builtin. Instead, use "
                  "torch.arange, which produces values in [start, end).", UserWarning,
                  stacklevel=2)
    if end is None:
        raise TypeError("range() missing required argument 'end'")
    if step == 0:
        raise RuntimeError("range: step must be nonzero")
    if (end - start) * step < 0:
        raise RuntimeError("upper bound and larger bound inconsistent with step sign")
    n = int(math.floor((end - start) / step)) + 1
    dt = B.as_dtype(dtype) or B.get_default_dtype()
    import numpy
    arr = (start + step * numpy.arange(n, dtype=numpy.float64)).astype(dt)
    from .creation import tensor
    return tensor(arr, dtype=dt, device=device, requires_grad=requires_grad)


def empty_strided(size, stride, *, dtype=None, layout=None, device=None, requires_grad=False,
                  pin_memory=False):
    """An uninitialised tensor of ``size``. minigen's arrays are contiguous, so ``stride`` is
    checked (one per dim, none negative) and otherwise not kept: values read the same."""
    size, stride = tuple(size), tuple(stride)
    if len(size) != len(stride):
        raise RuntimeError(f"empty_strided: mismatch in length of strides and shape "
                           f"({len(stride)} strides for {len(size)} dims)")
    if builtins.any(s < 0 for s in stride):
        raise RuntimeError(f"empty_strided: strides must be non-negative, got {list(stride)}")
    from .creation import empty
    return empty(size, dtype=dtype, device=device, requires_grad=requires_grad)


def frombuffer(buffer, *, dtype, count=-1, offset=0, requires_grad=False):
    """A 1-D tensor read from an object with the buffer protocol (bytes, bytearray, array,
    memoryview): ``count`` elements of ``dtype`` from byte ``offset`` (all that fit for -1).
    PyTorch shares the buffer's memory; minigen wraps it without a copy on the CPU too."""
    import numpy
    dt = B.as_dtype(dtype)
    nbytes = memoryview(buffer).nbytes
    if offset < 0 or offset >= nbytes and nbytes:
        raise ValueError(f"frombuffer: offset must be non-negative and no greater than the "
                         f"buffer's length ({nbytes}) minus 1, got {offset}")
    if count == -1:
        if (nbytes - offset) % dt.itemsize:
            raise ValueError(f"frombuffer: buffer length ({nbytes - offset} bytes after the "
                             f"offset) must be a multiple of the element size ({dt.itemsize})")
        count = (nbytes - offset) // dt.itemsize
    if count <= 0 or offset + count * dt.itemsize > nbytes:
        raise ValueError(f"frombuffer: requested {count} elements of {dt.itemsize} bytes at "
                         f"offset {offset}, the buffer holds {nbytes} bytes")
    arr = numpy.frombuffer(buffer, dtype=dt, count=count, offset=offset)
    t = _wrap(arr)
    if requires_grad:
        t.requires_grad_(True)
    return t


def asarray(obj, *, dtype=None, device=None, copy=None, requires_grad=False):
    """``obj`` as a tensor: a tensor (or NumPy array, on the CPU) is kept without a copy
    when its dtype and device already fit and ``copy`` is not True; other data is converted
    as ``torch.tensor`` does. ``copy=False`` where a copy is needed raises, as PyTorch."""
    from .creation import as_tensor, tensor
    if isinstance(obj, Tensor):
        same = (dtype is None or B.as_dtype(dtype) == obj.array.dtype) and \
            (device is None or B.device(device).type == obj.device.type)
        if same and not copy:
            out = obj
        elif copy is False:
            raise ValueError("asarray: can't alias the tensor: a copy is needed for the dtype "
                             "or device asked for, and copy=False")
        else:
            out = obj.to(device=device or obj.device, dtype=dtype or obj.dtype).clone() \
                if not same else obj.clone()
    elif copy:
        out = tensor(obj, dtype=dtype, device=device)
    else:
        out = as_tensor(obj, dtype=dtype, device=device)
    if requires_grad:
        out.requires_grad_(True)
    return out


def initial_seed():
    """The seed of the default generator: the last ``manual_seed`` value; before any, a seed
    drawn from the OS once, which the generators made from then on use."""
    if B._seed is None:
        import numpy
        B._seed = int(numpy.random.SeedSequence().entropy % (2 ** 63))
    return B._seed


_TYPENAMES = {"float32": "FloatTensor", "float64": "DoubleTensor", "float16": "HalfTensor",
              "bfloat16": "BFloat16Tensor", "int64": "LongTensor", "int32": "IntTensor",
              "int16": "ShortTensor", "int8": "CharTensor", "uint8": "ByteTensor",
              "bool": "BoolTensor", "complex64": "ComplexFloatTensor",
              "complex128": "ComplexDoubleTensor"}


def typename(obj):
    """The type of ``obj`` as a string: ``'torch.FloatTensor'`` (``'torch.cuda.FloatTensor'``)
    for a tensor, else the module-qualified class name (``'int'`` for builtins)."""
    if isinstance(obj, Tensor):
        name = _TYPENAMES.get(str(obj.array.dtype), "Tensor")
        return f"torch.{'cuda.' if obj.device.type == 'cuda' else ''}{name}"
    mod = getattr(type(obj), "__module__", "") or ""
    qual = type(obj).__qualname__
    if mod in ("builtins", ""):
        return qual
    if mod.startswith("minigen."):  # minigen's classes are PyTorch's under the torch alias
        mod = "torch." + mod[len("minigen."):]
    return f"{mod}.{qual}"


def set_default_device(device):
    """The device new tensors are made on when no ``device=`` is given (``None``: the CPU)."""
    from . import creation
    creation._DEFAULT_DEVICE[0] = "cpu" if device is None else str(B.device(device))


def get_default_device():
    from . import creation
    return B.device(creation._DEFAULT_DEVICE[0])


def is_inference_mode_enabled():
    """True inside ``with torch.inference_mode():`` (and not inside ``inference_mode(False)``)."""
    from .ops import construct_meta
    return construct_meta._INFERENCE[0]


def is_anomaly_enabled():
    """True inside ``autograd.detect_anomaly()`` or after ``set_anomaly_enabled(True)``."""
    from .autograd import _state
    return bool(_state["anomaly"])


def set_anomaly_enabled(enabled, check_nan=True):
    from .autograd import _state
    _state["anomaly"] = bool(enabled)


def is_anomaly_check_nan_enabled():
    return is_anomaly_enabled()


def is_conj(input):
    """False: minigen keeps no lazy conjugation bit (conj() computes the values)."""
    return False


def is_neg(input):
    """False: minigen keeps no lazy negation bit."""
    return False


def is_inference(input):
    """False: minigen makes no inference tensors (inference_mode is no_grad here)."""
    return False


def _removed(name, advice):
    def fn(*args, **kwargs):
        raise RuntimeError(_GONE + advice)
    fn.__name__ = name
    fn.__doc__ = f"Removed from PyTorch (1.9+); raises PyTorch's error: {advice}"
    return fn


_GONE = "This function was deprecated since version 1.9 and is now removed."
matrix_rank = _removed("matrix_rank", "\nPlease use the `torch.linalg.matrix_rank` function "
                       "instead. The parameter 'symmetric' was renamed in "
                       "`torch.linalg.matrix_rank()` to 'hermitian'.")
lstsq = _removed("lstsq", " `torch.lstsq` is deprecated in favor of `torch.linalg.lstsq`.\n"
                 "`torch.linalg.lstsq` has reversed arguments and does not return the QR "
                 "decomposition in the returned tuple (although it returns other information "
                 "about the problem).\n\nTo get the QR decomposition consider using "
                 "`torch.linalg.qr`.\n\nThe returned solution in `torch.lstsq` stored the "
                 "residuals of the solution in the last m - n columns of the returned value "
                 "whenever m > n. In torch.linalg.lstsq, the residuals are in the field "
                 "'residuals' of the returned named tuple.\n\nThe unpacking of the solution, "
                 "as in\nX, _ = torch.lstsq(B, A).solution[:A.size(1)]\nshould be replaced "
                 "with:\nX = torch.linalg.lstsq(A, B).solution")
eig = _removed("eig", " `torch.linalg.eig` returns complex tensors of dtype `cfloat` or "
               "`cdouble` rather than real tensors mimicking complex tensors.\n\nL, _ = "
               "torch.eig(A) should be replaced with:\nL_complex = torch.linalg.eigvals(A)\n\n"
               "and\n\nL, V = torch.eig(A, eigenvectors=True) should be replaced with:\n"
               "L_complex, V_complex = torch.linalg.eig(A)")
symeig = _removed("symeig", " The default behavior has changed from using the upper "
                  "triangular portion of the matrix by default to using the lower triangular "
                  "portion.\n\nL, _ = torch.symeig(A, upper=upper) should be replaced with:\n"
                  "L = torch.linalg.eigvalsh(A, UPLO='U' if upper else 'L')\n\nand\n\nL, V = "
                  "torch.symeig(A, eigenvectors=True) should be replaced with:\nL, V = "
                  "torch.linalg.eigh(A, UPLO='U' if upper else 'L')")
