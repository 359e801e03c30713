"""Softmax cross-entropy and negative log likelihood, with PyTorch's semantics, and the
reduction helpers every loss shares.

``cross_entropy`` is one Function, ``SoftmaxCrossEntropy``, whose backward is derived by hand in
its docstring: dL/dz = s softmax(z) - q per sample (softmax(z) - onehot(y) in the plain case).
Class indices, class probabilities, class weights, ``ignore_index`` and label smoothing all
reduce to one target weighting q, so one derivation covers them all. Its composite twin
(log-softmax and a weighted sum from primitive ops) lives in minigen_tests/test_losses.py.
"""
from __future__ import annotations

from .. import backend as B
from ..autograd import Function, Tensor, _wrap
from .softmax_family import log_softmax, softmax

__all__ = ["cross_entropy", "nll_loss"]

_REDUCTIONS = ("none", "mean", "sum")


# ----------------------------------------------------------------------------- helpers
def _reduction(op, reduction, size_average=None, reduce=None, allowed=_REDUCTIONS):
    """The reduction to use, from the new argument or PyTorch's two deprecated ones."""
    if size_average is not None or reduce is not None:
        size_average = True if size_average is None else size_average
        reduce = True if reduce is None else reduce
        reduction = "none" if not reduce else ("mean" if size_average else "sum")
    if reduction not in allowed:
        raise ValueError(f"{op}: {reduction!r} is not a valid value for reduction "
                         f"(expected one of {', '.join(repr(r) for r in allowed)})")
    return reduction


def _reduce(loss, reduction):
    if reduction == "sum":
        return loss.sum()
    if reduction == "mean":
        return loss.mean()  # mean of an empty tensor is nan, as in PyTorch
    return loss


def _check_tensor(op, name, t, like=None):
    """``t`` must be a Tensor (on the same device as ``like``, the input, when given)."""
    if not isinstance(t, Tensor):
        raise TypeError(f"{op}: expected {name} to be a Tensor, got {type(t).__name__}")
    if like is not None and type(t.array) is not type(like.array):
        raise RuntimeError(f"{op}: expected {name} on the input's device ({like.device}), but "
                           f"it is on {t.device}")


# ----------------------------------------------------------------------------- cross-entropy
class SoftmaxCrossEntropy(Function):
    """Per-sample cross-entropy of the softmax of logits z against a target weighting q:

        l = -sum_c q_c log softmax(z)_c          (summed along the class dimension ``dim``)

    q holds everything the target, the class weights w and label smoothing eps say:
    class indices y give q_c = w_c ((1 - eps) [c = y] + eps / C) (and q = 0 for an ignored
    sample); class probabilities t give q_c = w_c ((1 - eps) t_c + eps / C).

    Backward. log softmax(z)_c = z_c - logsumexp(z) and d logsumexp(z)/dz_k = softmax(z)_k, so
    with s = sum_c q_c:

        l       = -sum_c q_c z_c + s logsumexp(z)
        dl/dz_k = s softmax(z)_k - q_k           (= softmax(z) - onehot(y) when s = 1)
        dl/dq_k = -log softmax(z)_k

    Both are written in minigen ops (softmax, log_softmax, sum), so the loss is twice
    differentiable; the second derivative is s (diag(p) - p p^T), p = softmax(z).
    """

    def forward(self, z, q, dim):
        xp = self.xp
        self.dim = dim
        self.save_for_backward(z, q)
        # log softmax(z) = (z - m) - log sum exp(z - m),  m = max(z)  (no overflow)
        shifted = z - z.max(axis=dim, keepdims=True)
        logp = shifted - xp.log(self.backend.sum(xp.exp(shifted), (dim,), keepdims=True))
        # 0 * log 0 counts as 0: a masked (-inf) logit with no target weight costs nothing
        return -(q * xp.where(q != 0, logp, 0)).sum(axis=dim)

    def backward(self, gl):
        z, q = self.saved_tensors
        g = gl.unsqueeze(self.dim)
        gz = gq = None
        if self.needs_input_grad[0]:
            # dl/dz = s softmax(z) - q,  s = sum_c q_c
            s = q.sum(dim=self.dim, keepdim=True)
            gz = g * (s * softmax(z, self.dim) - q)
        if self.needs_input_grad[1]:
            # dl/dq = -log softmax(z)
            gq = -g * log_softmax(z, self.dim)
        return gz, gq


def _class_dim(op, input):
    if input.ndim == 0:
        raise ValueError(f"{op}: expected input with a class dimension, got a 0-d tensor")
    return 0 if input.ndim == 1 else 1


def _check_class_target(op, input, target, ignore_index):
    """Validate class-index targets; returns (class dim, C, valid mask, targets with ignored -> 0).

    The bounds check is explicit because CuPy (and the simulated CUDA device) would wrap an
    out-of-range index silently instead of raising."""
    cdim = _class_dim(op, input)
    C = input.shape[cdim]
    expected = tuple(input.shape[:cdim]) + tuple(input.shape[cdim + 1:])
    if target.dtype not in (B.int64, B.uint8):
        raise RuntimeError(f"{op}: expected target dtype to be Long (int64) or Byte, but got "
                           f"{target.dtype}; use target.long()")
    if tuple(target.shape) != expected:
        raise ValueError(f"{op}: expected target of shape {list(expected)} for input of shape "
                         f"{list(input.shape)} (class dimension {cdim}), got target of shape "
                         f"{list(target.shape)}")
    t = target.array.astype(B.int64)
    valid = t != ignore_index
    xp = input.xp
    if t.size:
        t_valid = xp.where(valid, t, 0)
        lo, hi = B.value_range(t_valid)
        if hi >= C or lo < 0:
            bad = hi if hi >= C else lo
            raise IndexError(f"{op}: target {bad} is out of bounds for {C} classes (expected "
                             f"0 <= target < {C}, or target == ignore_index {ignore_index})")
    return cdim, C, valid, xp.where(valid, t, 0)


def _class_weight(op, weight, C, input):
    """The class weights as an array of input's dtype and device (ones when None)."""
    xp = input.xp
    if weight is None:
        return xp.ones(C, dtype=input.dtype)
    _check_tensor(op, "weight", weight)
    if tuple(weight.shape) != (C,):
        raise RuntimeError(f"{op}: weight tensor should be defined either for all {C} classes "
                           f"or no classes but got weight tensor of shape: {list(weight.shape)}")
    if type(weight.array) is not type(input.array):
        raise RuntimeError(f"{op}: weight is on {weight.device} but input is on {input.device}")
    return weight.array.astype(input.dtype)  # weights are constants (no gradient)


def _along(a, cdim, ndim):
    """Reshape a (C,) array so it broadcasts along the class dimension of an ndim-d input."""
    shape = [1] * ndim
    shape[cdim] = a.shape[0]
    return a.reshape(shape)


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                  reduction="mean", label_smoothing=0.0):
    """Cross-entropy of softmax(input) along the class dimension, as ``F.cross_entropy``.

    ``input``: logits of shape (C,), (N, C) or (N, C, d1, ...). ``target``: class indices
    (int64, shape (), (N,) or (N, d1, ...)) or class probabilities (float, input's shape).

    With class indices, 'mean' divides by the sum of w[y_i] over the non-ignored samples
    (the count of them when there is no weight); with ``label_smoothing`` eps each sample's
    loss is (1 - eps) w[y] (-log p_y) + (eps / C) sum_c w_c (-log p_c), divided by the same sum.
    With probabilities, targets become (1 - eps) t + eps / C, and 'mean' divides by the number
    of samples (N d1 ...), whatever the weights. ``ignore_index`` applies to indices only.
    ``weight`` is a constant: no gradient flows to it (PyTorch refuses to compute one). For
    index targets the weighting q is built densely, one array the size of the logits.
    """
    op = "cross_entropy"
    reduction = _reduction(op, reduction, size_average, reduce)
    _check_tensor(op, "input", input)
    _check_tensor(op, "target", target, like=input)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{op}: label_smoothing must be between 0.0 and 1.0, "
                         f"got {label_smoothing}")
    cdim = _class_dim(op, input)
    C = input.shape[cdim]
    eps = float(label_smoothing)
    w = _class_weight(op, weight, C, input)
    w_c = _along(w, cdim, input.ndim)
    xp = input.xp
    if tuple(target.shape) == tuple(input.shape):  # class probabilities
        if target.dtype.kind != "f":
            raise RuntimeError(f"{op}: expected floating point type for target with class "
                               f"probabilities, got {target.dtype}")
        if ignore_index >= 0:
            raise RuntimeError(f"{op}: ignore_index is not supported for floating point target")
        # q_c = w_c ((1 - eps) t_c + eps / C)   (built in ops: a target may require grad)
        q = target.to(input.dtype)
        if eps > 0:
            q = q * (1.0 - eps) + eps / C
        if weight is not None:
            q = q * _wrap(w_c)
        loss = SoftmaxCrossEntropy.apply(input, q, dim=cdim)
        if reduction == "mean":
            n = input.numel() // C if C else 0
            return loss.sum() / n if n else loss.sum() * float("nan")
        return _reduce(loss, reduction)
    cdim, C, valid, t = _check_class_target(op, input, target, ignore_index)
    # q_c = w_c ((1 - eps) [c = y] + eps / C), and 0 for an ignored sample
    classes = _along(xp.arange(C), cdim, input.ndim)
    onehot = (xp.expand_dims(t, cdim) == classes).astype(input.dtype)
    q = w_c * ((1.0 - eps) * onehot + eps / C) * xp.expand_dims(valid, cdim).astype(input.dtype)
    loss = SoftmaxCrossEntropy.apply(input, _wrap(q), dim=cdim)
    if reduction == "mean":
        # divide by sum_i w[y_i] over the samples that are not ignored
        return loss.sum() / _wrap(xp.asarray((w[t] * valid).sum(), dtype=input.dtype))
    return _reduce(loss, reduction)


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
             reduction="mean"):
    """Negative log likelihood of class indices under log-probabilities ``input``:
    l_i = -w[y_i] input[i, y_i] (0 where y_i == ignore_index); 'mean' divides by the sum of
    w[y_i] over the samples that are not ignored. Shapes as in ``cross_entropy``."""
    op = "nll_loss"
    reduction = _reduction(op, reduction, size_average, reduce)
    _check_tensor(op, "input", input)
    _check_tensor(op, "target", target, like=input)
    cdim, C, valid, t = _check_class_target(op, input, target, ignore_index)
    w = _class_weight(op, weight, C, input)
    # l_i = -w[y_i] log p_i[y_i]
    logp_y = input.gather(cdim, _wrap(input.xp.expand_dims(t, cdim))).squeeze(cdim)
    w_y = input.xp.asarray(w[t] * valid.astype(input.dtype))
    loss = -logp_y * _wrap(w_y)
    if reduction == "mean":
        return loss.sum() / _wrap(input.xp.asarray(w_y.sum(), dtype=input.dtype))
    return _reduce(loss, reduction)
