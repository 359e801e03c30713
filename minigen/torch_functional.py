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
    "is_neg", "is_inference", "matrix_rank", "lstsq", "eig", "symeig", "solve",
    "ctc_loss", "conv_tbc", "convolution", "native_layer_norm", "native_batch_norm",
    "native_group_norm", "native_dropout", "norm_except_dim", "lu_solve", "pca_lowrank",
    "svd_lowrank", "igamma", "igammac", "set_default_tensor_type", "empty_permuted", "cond",
    "while_loop", "set_warn_always", "is_warn_always_enabled", "get_num_interop_threads",
    "set_num_interop_threads", "init_num_threads", "set_flush_denormal",
    "is_deterministic_algorithms_warn_only_enabled", "get_deterministic_debug_mode",
    "set_deterministic_debug_mode", "get_device", "is_distributed", "from_dlpack", "to_dlpack",
    "alias_copy", "detach_copy", "diagonal_copy", "expand_copy", "permute_copy", "select_copy",
    "slice_copy", "split_copy", "split_with_sizes_copy", "squeeze_copy", "t_copy",
    "transpose_copy", "unbind_copy", "unfold_copy", "unsqueeze_copy", "view_copy",
    "view_as_real_copy", "view_as_complex_copy", "as_strided_copy", "dtype", "layout",
    "strided", "sparse_coo", "sparse_csr", "sparse_csc", "sparse_bsr", "sparse_bsc",
    "grid_sampler", "grid_sampler_2d", "affine_grid_generator", "fork", "wait",
    "is_autocast_enabled", "is_autocast_cpu_enabled", "is_autocast_ipu_enabled",
    "is_autocast_xla_enabled", "is_autocast_cache_enabled", "set_autocast_enabled",
    "set_autocast_cpu_enabled", "set_autocast_ipu_enabled", "set_autocast_xla_enabled",
    "set_autocast_cache_enabled", "get_autocast_dtype", "get_autocast_gpu_dtype",
    "get_autocast_cpu_dtype", "get_autocast_ipu_dtype", "get_autocast_xla_dtype",
    "set_autocast_dtype", "set_autocast_gpu_dtype", "set_autocast_cpu_dtype",
    "set_autocast_ipu_dtype", "set_autocast_xla_dtype", "clear_autocast_cache",
    "autocast_increment_nesting", "autocast_decrement_nesting", "compiled_with_cxx11_abi",
    "is_vulkan_available", "cudnn_is_acceptable", "native_norm", "get_device_module",
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


_DEVICE_STACK = []


def _device_enter(self):
    """``with torch.device('cuda'):`` makes ``self`` the default device inside the block."""
    from . import creation
    _DEVICE_STACK.append(creation._DEFAULT_DEVICE[0])
    creation._DEFAULT_DEVICE[0] = str(self)
    return self


def _device_exit(self, *exc):
    from . import creation
    creation._DEFAULT_DEVICE[0] = _DEVICE_STACK.pop()


if not hasattr(B.device, "__enter__"):
    B.device.__enter__ = _device_enter
    B.device.__exit__ = _device_exit


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
solve = _removed("solve", " `torch.solve` is deprecated in favor of `torch.linalg.solve`. "
                 "`torch.linalg.solve` has its arguments reversed and does not return the LU "
                 "factorization.\n\nTo get the LU factorization see `torch.lu`, which can be "
                 "used with `torch.lu_solve` or `torch.lu_unpack`.\nX = torch.solve(B, A)."
                 "solution should be replaced with:\nX = torch.linalg.solve(A, B)")


# ----------------------------------------------------------------------------- more ATen ops
def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction=0,
             zero_infinity=False):
    """``F.ctc_loss`` with an integer reduction (no reduction by default, as PyTorch's Python
    binding of the ATen op)."""
    return F.ctc_loss(log_probs, targets, input_lengths, target_lengths, blank,
                      _reduction(reduction, "ctc_loss"), zero_infinity)


from .ops.conv3d import conv_tbc  # noqa: E402,F401  (fairseq's ConvTBC: one home, ops/conv3d.py)


def convolution(input, weight, bias, stride, padding, dilation, transposed, output_padding,
                groups):
    """ATen's generic convolution: conv1d/2d/3d (or their transposes) by the weight's dims."""
    n = weight.ndim - 2
    if n not in (1, 2, 3):
        raise RuntimeError(f"convolution: expected a weight of 3, 4 or 5 dims, got "
                           f"{weight.ndim}")
    names = ("conv_transpose" if transposed else "conv") + f"{n}d"
    fn = getattr(F, names, None)
    if fn is None:
        raise NotImplementedError(f"convolution: F.{names} is not in minigen")
    if transposed:
        return fn(input, weight, bias, tuple(stride), tuple(padding), tuple(output_padding),
                  groups, tuple(dilation))
    return fn(input, weight, bias, tuple(stride), tuple(padding), tuple(dilation), groups)


def native_layer_norm(input, normalized_shape, weight, bias, eps):
    """(output, mean, rstd): the statistics over the normalized dims, kept as size-1 dims
    (constants: PyTorch's mean and rstd outputs are not differentiable)."""
    dims = tuple(builtins.range(input.ndim - len(normalized_shape), input.ndim))
    x = input.detach()
    mean = x.mean(dims, keepdim=True)
    var = ((x - mean) ** 2).mean(dims, keepdim=True)
    return F.layer_norm(input, normalized_shape, weight, bias, eps), mean, (var + eps).rsqrt()


def native_batch_norm(input, weight, bias, running_mean, running_var, training, momentum,
                      eps):
    """(output, save_mean, save_invstd): the batch's per-channel mean and 1/sqrt(var + eps)
    when training (empty tensors otherwise, as PyTorch's CPU kernel)."""
    out = F.batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps)
    if not training:
        empty = _wrap(input.xp.zeros((0,), dtype=input.array.dtype))
        return out, empty, empty
    dims = (0,) + tuple(builtins.range(2, input.ndim))
    x = input.detach()
    mean = x.mean(dims)
    var = ((x - mean.reshape((1, -1) + (1,) * (input.ndim - 2))) ** 2).mean(dims)
    return out, mean, (var + eps).rsqrt()


def native_group_norm(input, weight, bias, N, C, HxW, group, eps):
    """(output, mean, rstd), the statistics of each (sample, group): (N, group)."""
    x = input.reshape(N, group, -1)
    mean = x.mean(-1)
    var = ((x - mean.unsqueeze(-1)) ** 2).mean(-1)
    return F.group_norm(input, group, weight, bias, eps), mean, (var + eps).rsqrt()


def native_dropout(input, p, train):
    """(output, keep mask): inverted dropout and the boolean mask of kept elements (all True,
    the output ``input`` itself... a copy, when not training)."""
    if not train or p == 0:
        return input.clone(), _wrap(input.xp.ones(tuple(input.shape), dtype=bool))
    from .creation import rand
    keep = rand(tuple(input.shape), dtype=input.dtype, device=input.device) >= p
    scale = 0.0 if p >= 1 else 1.0 / (1.0 - p)
    return input * (keep.to(input.dtype) * scale), keep


from .nn.utils.weight_norm import norm_except_dim  # noqa: E402,F401  (weight norm's ||v||)


def lu_solve(b, LU_data, LU_pivots, *, out=None):
    """Deprecated ``torch.lu_solve(b, LU_data, LU_pivots)``: ``linalg.lu_solve(LU, pivots, b)``."""
    from .linalg_decomp import lu_solve as ls
    return ls(LU_data, LU_pivots, b)


def svd_lowrank(A, q=6, niter=2, M=None):
    """(U, S, V) of rank q approximating A - M. PyTorch finds them by a randomized subspace
    iteration; minigen computes the exact truncated SVD (which that iteration approximates;
    the numbers agree to its accuracy, and the columns' signs are arbitrary in both)."""
    from .linalg_decomp import svd as _svd
    X = A if M is None else A - M
    q = builtins.min(6 if q is None else q, X.shape[-2], X.shape[-1])
    U, S, Vh = _svd(X, full_matrices=False)
    return U[..., :q], S[..., :q], Vh[..., :q, :].transpose(-2, -1)


def pca_lowrank(A, q=None, center=True, niter=2):
    """(U, S, V) of the (column-centred when ``center``) data A, q = min(6, m, n) by default:
    the principal directions are V's columns (exact truncated SVD, see svd_lowrank)."""
    X = A - A.mean(-2, keepdim=True) if center else A
    return svd_lowrank(X, q=q, niter=niter)


def igamma(input, other, *, out=None):
    """The regularized lower incomplete gamma P(a, x) (``torch.special.gammainc``)."""
    from .distributions.gamma import gammainc
    return gammainc(input, other)


def igammac(input, other, *, out=None):
    """The regularized upper incomplete gamma Q(a, x) = 1 - P(a, x)."""
    return 1.0 - igamma(input, other)


def set_default_tensor_type(t):
    """Legacy: ``torch.set_default_tensor_type(torch.DoubleTensor)`` or a name such as
    ``'torch.cuda.FloatTensor'``: the default float dtype (and, for cuda types, the default
    device); only floating types are allowed, as in PyTorch."""
    name = t if isinstance(t, str) else getattr(t, "__name__", str(t))
    full = t if isinstance(t, str) else f"{getattr(t, '__module__', '')}.{name}"
    kinds = {"FloatTensor": "float32", "DoubleTensor": "float64", "HalfTensor": "float16"}
    base = name.rsplit(".", 1)[-1]
    if base not in kinds:
        raise TypeError("only floating-point types are supported as the default type")
    B.set_default_dtype(B.as_dtype(kinds[base]))
    set_default_device("cuda" if "cuda" in full else None)


def empty_permuted(size, physical_layout, *, dtype=None, layout=None, device=None,
                   requires_grad=False, pin_memory=False):
    """An uninitialised tensor of ``size``; ``physical_layout`` (a permutation of the dims,
    checked) only orders memory in PyTorch, and minigen's arrays are row-major."""
    if sorted(physical_layout) != list(builtins.range(len(size))):
        raise RuntimeError(f"empty_permuted: physical_layout {list(physical_layout)} is not a "
                           f"permutation of the {len(size)} dims")
    from .creation import empty
    return empty(tuple(size), dtype=dtype, device=device, requires_grad=requires_grad)


def cond(pred, true_fn, false_fn, operands=(), *args, **kwargs):
    """``torch.cond(pred, true_fn, false_fn, operands)``: ``true_fn(*operands)`` if pred
    (a bool or a one-element tensor) holds, else ``false_fn(*operands)``."""
    take = bool(pred.item()) if isinstance(pred, Tensor) else bool(pred)
    return (true_fn if take else false_fn)(*tuple(operands))


def while_loop(cond_fn, body_fn, carried_inputs, *args, **kwargs):
    """``torch.while_loop``: ``carried = body_fn(*carried)`` while ``cond_fn(*carried)``;
    returns the final carried values (a tuple)."""
    carried = tuple(carried_inputs)
    while True:
        c = cond_fn(*carried)
        if not (bool(c.item()) if isinstance(c, Tensor) else bool(c)):
            return carried
        out = body_fn(*carried)
        carried = tuple(out) if isinstance(out, (tuple, list)) else (out,)


_FLAGS = {"warn_always": False, "interop_threads": 1}


def set_warn_always(b):
    _FLAGS["warn_always"] = bool(b)


def is_warn_always_enabled():
    return _FLAGS["warn_always"]


def get_num_interop_threads():
    """minigen runs no inter-op thread pool: one thread."""
    return _FLAGS["interop_threads"]


def set_num_interop_threads(n):
    if int(n) < 1:
        raise RuntimeError("Expected positive number of threads")
    _FLAGS["interop_threads"] = int(n)


def init_num_threads():
    """Nothing to set up: minigen's thread count is NumPy's BLAS pool (minigen/threads.py)."""


def set_flush_denormal(mode):
    """False: NumPy gives no control of the CPU's denormal flushing (PyTorch returns False
    where it is not supported)."""
    return False


def is_deterministic_algorithms_warn_only_enabled():
    from .legacy import _deterministic
    return _deterministic[0] and _deterministic[1]


def get_deterministic_debug_mode():
    """0 ('default'), 1 ('warn') or 2 ('error'), from use_deterministic_algorithms."""
    from .legacy import _deterministic
    return 0 if not _deterministic[0] else (1 if _deterministic[1] else 2)


def set_deterministic_debug_mode(debug_mode):
    from .legacy import use_deterministic_algorithms
    modes = {"default": 0, "warn": 1, "error": 2}
    m = modes.get(debug_mode, debug_mode) if isinstance(debug_mode, str) else int(debug_mode)
    if m not in (0, 1, 2):
        raise RuntimeError(f"invalid value of debug_mode, expected one of `default`, `warn`, "
                           f"`error`, but got {debug_mode}")
    use_deterministic_algorithms(m > 0, warn_only=(m == 1))


def get_device(input):
    """-1 for a CPU tensor, else the CUDA device index."""
    return input.get_device()


def is_distributed(input):
    return False


def from_dlpack(ext_tensor):
    """A tensor sharing the memory of any object with ``__dlpack__`` (a NumPy array, a PyTorch
    CPU tensor, a CuPy array, ...)."""
    from . import backend as _B
    dev = getattr(ext_tensor, "__dlpack_device__", lambda: (1, 0))()
    if dev[0] == 1:  # kDLCPU
        import numpy
        return _wrap(numpy.from_dlpack(ext_tensor))
    xp = _B.get_backend("cuda").xp
    return _wrap(xp.from_dlpack(ext_tensor))


def to_dlpack(tensor):
    """A DLPack capsule of the tensor's memory."""
    return tensor.array.__dlpack__()


# the *_copy forms of the view ops: the view's values in a fresh tensor
def _copy_of(view):
    def fn(input, *args, **kwargs):
        out = view(input, *args, **kwargs)
        if isinstance(out, (tuple, list)):
            return type(out)(o.clone() for o in out)
        return out.clone()
    return fn


def _method(name):
    return lambda input, *a, **k: getattr(input, name)(*a, **k)


alias_copy = _copy_of(lambda x: x)
detach_copy = _copy_of(lambda x: x.detach())
diagonal_copy = _copy_of(_method("diagonal"))
expand_copy = _copy_of(_method("expand"))
permute_copy = _copy_of(_method("permute"))
select_copy = _copy_of(_method("select"))
split_copy = _copy_of(_method("split"))
squeeze_copy = _copy_of(_method("squeeze"))
t_copy = _copy_of(_method("t"))
transpose_copy = _copy_of(_method("transpose"))
unbind_copy = _copy_of(_method("unbind"))
unfold_copy = _copy_of(_method("unfold"))
unsqueeze_copy = _copy_of(_method("unsqueeze"))
view_copy = _copy_of(_method("view"))
as_strided_copy = _copy_of(_method("as_strided"))
split_with_sizes_copy = _copy_of(lambda x, split_sizes, dim=0: x.split(list(split_sizes), dim))


def _slice(x, dim=0, start=None, end=None, step=1):
    idx = [slice(None)] * x.ndim
    idx[dim] = slice(start, end, step)
    return x[tuple(idx)]


slice_copy = _copy_of(_slice)


def _view_as_real(x):
    from .ops import view_as_real
    return view_as_real(x)


def _view_as_complex(x):
    from .ops import view_as_complex
    return view_as_complex(x)


view_as_real_copy = _copy_of(_view_as_real)
view_as_complex_copy = _copy_of(_view_as_complex)


# ----------------------------------------------------------------------------- type objects
import numpy as _numpy  # noqa: E402

# torch.dtype: minigen's dtypes are NumPy dtypes, so isinstance(x, torch.dtype) asks NumPy's
dtype = _numpy.dtype


class layout(str):
    """``torch.layout``: ``torch.strided`` (every minigen tensor: ``x.layout == torch.strided``)
    and the sparse layouts' names (minigen stores sparse tensors densely)."""

    def __repr__(self):
        return f"torch.{str.__str__(self)}"

    __str__ = __repr__


strided = layout("strided")
sparse_coo = layout("sparse_coo")
sparse_csr = layout("sparse_csr")
sparse_csc = layout("sparse_csc")
sparse_bsr = layout("sparse_bsr")
sparse_bsc = layout("sparse_bsc")


# ----------------------------------------------------------------------------- Tensor methods
def _apply_(self, callable):
    """``x.apply_(fn)``: fn applied to every element, in place (CPU tensors only, no
    gradient, as PyTorch)."""
    if self.device.type != "cpu":
        raise TypeError("apply_ is only implemented on CPU tensors")
    import numpy
    new = numpy.vectorize(callable, otypes=[self.array.dtype])(self.array) if self.numel() \
        else self.array.copy()
    return self._write_back(_wrap(numpy.asarray(new, dtype=self.array.dtype)), "apply_")


def _map_(self, tensor, callable):
    """``x.map_(y, fn)``: x[i] = fn(x[i], y[i]) (y broadcast to x), in place, CPU only."""
    if self.device.type != "cpu":
        raise TypeError("map_ is only implemented on CPU tensors")
    import numpy
    other = numpy.broadcast_to(tensor.array, self.array.shape)
    new = numpy.vectorize(callable, otypes=[self.array.dtype])(self.array, other) \
        if self.numel() else self.array.copy()
    return self._write_back(_wrap(numpy.asarray(new, dtype=self.array.dtype)), "map_")


def _install_methods():
    from .fft import stft as _stft, istft as _istft
    methods = {
        "igamma": igamma, "igammac": igammac, "is_distributed": is_distributed,
        "lu_solve": lu_solve, "stft": _stft, "istft": _istft,
        "cfloat": lambda self: self.to(B.complex64),
        "cdouble": lambda self: self.to(B.complex128),
        "apply_": _apply_, "map_": _map_,
        "eig": eig, "symeig": symeig, "lstsq": lstsq, "solve": solve,
        "igamma_": lambda self, other: self._write_back(igamma(self, other), "igamma_"),
        "igammac_": lambda self, other: self._write_back(igammac(self, other), "igammac_"),
    }
    for name, fn in methods.items():
        if not hasattr(Tensor, name):
            setattr(Tensor, name, fn)


_install_methods()


# ----------------------------------------------------------------------------- torch.autograd
def _autograd_backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False,
                       grad_variables=None, inputs=None):
    """``torch.autograd.backward(tensors, grad_tensors=None, ...)``: accumulate into the
    leaves' ``.grad`` the gradient of sum_i <grad_tensors[i], tensors[i]> (a 1 for each
    scalar whose grad_tensor is None), in one backward pass over the shared graph."""
    if isinstance(tensors, Tensor):
        tensors = (tensors,)
    tensors = tuple(tensors)
    if grad_tensors is None:
        grad_tensors = grad_variables
    if grad_tensors is None:
        grad_tensors = (None,) * len(tensors)
    elif isinstance(grad_tensors, Tensor):
        grad_tensors = (grad_tensors,)
    grad_tensors = tuple(grad_tensors)
    if len(grad_tensors) != len(tensors):
        raise RuntimeError(f"grad can be implicitly created only for scalar outputs; got "
                           f"{len(grad_tensors)} grad_tensors for {len(tensors)} tensors")
    from .autograd import enable_grad
    total = None
    # the sum is recorded even under no_grad (PyTorch's backward needs no recording: it runs
    # inside a custom Function's backward, e.g. activation checkpointing's recomputation)
    with enable_grad():
        for i, (t, g) in enumerate(zip(tensors, grad_tensors)):
            if not t.requires_grad:
                raise RuntimeError(f"element {i} of tensors does not require grad and does not "
                                   "have a grad_fn")
            if g is None:
                if t.numel() != 1:
                    raise RuntimeError("grad can be implicitly created only for scalar outputs")
                term = t.sum()
            else:
                term = (t * g).sum()
            total = term if total is None else total + term
    total.backward(retain_graph=retain_graph, create_graph=create_graph, inputs=inputs)


def _install_autograd_names():
    from . import autograd as A
    from .gradcheck import gradcheck, gradgradcheck
    for name, fn in (("backward", _autograd_backward), ("gradcheck", gradcheck),
                     ("gradgradcheck", gradgradcheck)):
        if not hasattr(A, name):
            setattr(A, name, fn)


_install_autograd_names()


# ----------------------------------------------------------------------------- grids, futures
_INTERP = {0: "bilinear", 1: "nearest", 2: "bicubic"}
_PADDING = {0: "zeros", 1: "border", 2: "reflection"}


def grid_sampler(input, grid, interpolation_mode, padding_mode, align_corners):
    """ATen's grid_sampler: ``F.grid_sample`` with the modes as integers (interpolation 0
    bilinear, 1 nearest, 2 bicubic; padding 0 zeros, 1 border, 2 reflection)."""
    if interpolation_mode not in _INTERP or padding_mode not in _PADDING:
        raise RuntimeError(f"grid_sampler: interpolation_mode must be 0, 1 or 2 and padding_mode "
                           f"0, 1 or 2, got {interpolation_mode} and {padding_mode}")
    return F.grid_sample(input, grid, mode=_INTERP[interpolation_mode],
                         padding_mode=_PADDING[padding_mode], align_corners=align_corners)


grid_sampler_2d = grid_sampler


def affine_grid_generator(theta, size, align_corners):
    return F.affine_grid(theta, list(size), align_corners=align_corners)


class Future:
    """``torch.futures.Future`` as ``torch.jit.fork`` returns it: here the call has already
    run (minigen is eager and single-threaded), so ``wait()`` / ``value()`` give its result
    (or raise its exception)."""

    def __init__(self, fn, args, kwargs):
        self._value, self._error = None, None
        try:
            self._value = fn(*args, **kwargs)
        except Exception as e:  # kept for wait(), as a future keeps it
            self._error = e

    def done(self):
        return True

    def wait(self):
        if self._error is not None:
            raise self._error
        return self._value

    value = wait

    def then(self, callback):
        return Future(callback, (self,), {})


def fork(func, *args, **kwargs):
    """``torch.jit.fork(fn, *args)``: a Future of ``fn(*args)`` (run at once here)."""
    return Future(func, args, kwargs)


def wait(future):
    """``torch.jit.wait(future)``: the forked call's result."""
    return future.wait()


def _install_jit_names():
    from . import jit as J
    for name, fn in (("fork", fork), ("wait", wait), ("Future", Future)):
        if not hasattr(J, name):
            setattr(J, name, fn)


_install_jit_names()


# ----------------------------------------------------------------------------- autocast state
# minigen's autocast runs every block in full precision (minigen/amp), so autocast is never
# in effect: is_autocast_enabled() is False and a program takes its full-precision path. The
# dtypes are remembered as set (float16 by default: minigen has no bfloat16).
_AUTOCAST = {"dtype": {}, "cache": True, "nesting": 0}


def is_autocast_enabled(device_type=None):
    """False: minigen never casts to lower precision (``with autocast(...)`` included)."""
    return False


def is_autocast_cpu_enabled():
    return False


is_autocast_ipu_enabled = is_autocast_xla_enabled = is_autocast_cpu_enabled


def is_autocast_cache_enabled():
    return _AUTOCAST["cache"]


def set_autocast_enabled(*args):
    """Accepted and ignored (minigen computes in the tensors' own precision)."""


set_autocast_cpu_enabled = set_autocast_ipu_enabled = set_autocast_xla_enabled = \
    set_autocast_enabled


def set_autocast_cache_enabled(enabled):
    _AUTOCAST["cache"] = bool(enabled)


def get_autocast_dtype(device_type):
    return _AUTOCAST["dtype"].get(str(device_type), B.float16)


def set_autocast_dtype(device_type, dtype):
    try:
        dtype = B.as_dtype(dtype)
    except TypeError:  # minigen.bfloat16 and the like: kept as given, never used
        pass
    _AUTOCAST["dtype"][str(device_type)] = dtype


def get_autocast_gpu_dtype():
    return get_autocast_dtype("cuda")


def get_autocast_cpu_dtype():
    return get_autocast_dtype("cpu")


def get_autocast_ipu_dtype():
    return get_autocast_dtype("ipu")


def get_autocast_xla_dtype():
    return get_autocast_dtype("xla")


def set_autocast_gpu_dtype(dtype):
    set_autocast_dtype("cuda", dtype)


def set_autocast_cpu_dtype(dtype):
    set_autocast_dtype("cpu", dtype)


def set_autocast_ipu_dtype(dtype):
    set_autocast_dtype("ipu", dtype)


def set_autocast_xla_dtype(dtype):
    set_autocast_dtype("xla", dtype)


def clear_autocast_cache():
    """Nothing cached: minigen casts nothing."""


def autocast_increment_nesting():
    _AUTOCAST["nesting"] += 1
    return _AUTOCAST["nesting"]


def autocast_decrement_nesting():
    _AUTOCAST["nesting"] = max(0, _AUTOCAST["nesting"] - 1)
    return _AUTOCAST["nesting"]


def compiled_with_cxx11_abi():
    return True


def is_vulkan_available():
    return False


def cudnn_is_acceptable(input):
    """False: minigen runs no cuDNN kernels."""
    return False


def native_norm(input, p=2, dim=None, keepdim=False, dtype=None):
    from .linalg import vector_norm
    return vector_norm(input, p, dim=dim, keepdim=keepdim, dtype=dtype)


def get_device_module(device=None):
    """``torch.get_device_module('cuda')``: the module of that device type (``torch.cuda``;
    the current accelerator's when None, here cuda if available else the cpu's)."""
    import importlib
    kind = (B.device(device).type if device is not None else
            ("cuda" if B.cuda_is_available() else "cpu"))
    try:
        return importlib.import_module(f"minigen.{kind}")
    except ImportError:
        raise RuntimeError(f"Device '{kind}' does not have a corresponding module registered "
                           f"as 'torch.{kind}'.") from None
