"""Matrix products: ``matmul`` (batched, broadcasting) and ``einsum``.

For C = A B (with any leading batch dims broadcast):
    dL/dA = dL/dC B^T   (summed back over batch dims A was broadcast along)
    dL/dB = A^T dL/dC
Both are matmuls themselves, so second derivatives come for free.
"""
from __future__ import annotations

from ..autograd import Function, Tensor, _wrap
from .reduction import sum_to


class MatMul(Function):
    def forward(self, a, b):
        self.save_for_backward(a, b)
        return a @ b

    def backward(self, gy):
        a, b = self.saved_tensors
        if gy.array.dtype.kind == "c":  # complex: conjugate transposes (PyTorch's convention)
            from .complex import conj, real_part_for
            ga = real_part_for(sum_to(gy @ conj(b).mT, a.shape), a) if self.needs_input_grad[0] else None
            gb = real_part_for(sum_to(conj(a).mT @ gy, b.shape), b) if self.needs_input_grad[1] else None
            return ga, gb
        ga = sum_to(gy @ b.mT, a.shape) if self.needs_input_grad[0] else None
        gb = sum_to(a.mT @ gy, b.shape) if self.needs_input_grad[1] else None
        return ga, gb


def _fmt(shape):
    return "x".join(str(s) for s in shape)


def matmul(input, other):
    """Matrix product with PyTorch's rules for 1-D operands and broadcast batch dims."""
    if not isinstance(input, Tensor) or not isinstance(other, Tensor):
        raise TypeError("matmul: both arguments must be Tensors")
    a, b = input, other
    if a.array.ndim == 0 or b.array.ndim == 0:
        raise RuntimeError(f"matmul: both arguments to matmul need to be at least 1D, but they are "
                           f"{a.array.ndim}D and {b.array.ndim}D")
    if a.array.dtype != b.array.dtype:
        from .elementwise import _promote
        a, b = _promote(a, b)
    ka = a.array.shape[-1]
    kb = b.array.shape[-2] if b.array.ndim > 1 else b.array.shape[0]
    if ka != kb:
        raise RuntimeError(
            f"matmul: mat1 and mat2 shapes cannot be multiplied ({_fmt(a.shape)} and "
            f"{_fmt(b.shape)}): {ka} != {kb}")
    squeeze_a = a.array.ndim == 1
    squeeze_b = b.array.ndim == 1
    if squeeze_a:
        a = a.reshape(1, -1)
    if squeeze_b:
        b = b.reshape(-1, 1)
    try:
        y = MatMul.apply(a, b)
    except ValueError:
        raise RuntimeError(
            f"matmul: the batch dimensions of {list(input.shape)} and {list(other.shape)} "
            "cannot be broadcast") from None
    if squeeze_a:
        y = y.squeeze(-2)
    if squeeze_b:
        y = y.squeeze(-1)
    return y


def mm(input, mat2):
    if input.array.ndim != 2 or mat2.array.ndim != 2:
        raise RuntimeError(f"mm: expected 2D tensors, got {list(input.shape)} and {list(mat2.shape)}")
    return matmul(input, mat2)


def bmm(input, mat2):
    if input.array.ndim != 3 or mat2.array.ndim != 3:
        raise RuntimeError(f"bmm: expected 3D tensors, got {list(input.shape)} and {list(mat2.shape)}")
    if input.array.shape[0] != mat2.array.shape[0]:
        raise RuntimeError(f"bmm: batch sizes differ: {list(input.shape)} and {list(mat2.shape)}")
    return matmul(input, mat2)


def dot(input, other):
    if input.array.ndim != 1 or other.array.ndim != 1:
        raise RuntimeError(f"dot: 1D tensors expected, but got {input.array.ndim}D and {other.array.ndim}D")
    return matmul(input, other)


def outer(input, vec2):
    return input.reshape(-1, 1) * vec2.reshape(1, -1)


# ----------------------------------------------------------------------------- einsum
_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


class Einsum(Function):
    """y = einsum(spec, *operands). Each operand's subscripts are distinct letters (repeated
    letters and '...' were rewritten by ``einsum`` before this runs).

    Backward for operand k: contract the output gradient with every *other* operand back to
    operand k's subscripts,  dL/dX_k = einsum(out, others... -> sub_k). A letter that only X_k
    has (summed away in the forward) comes back by broadcasting (a ones operand carries it).
    """

    def forward(self, *ops, subs, out):
        self.subs, self.out = subs, out
        self.shapes = [o.shape for o in ops]
        self.save_for_backward(*ops)
        return self.xp.einsum(",".join(subs) + "->" + out, *ops, optimize=len(ops) > 2)

    def backward(self, gy):
        ops = self.saved_tensors
        grads = []
        for k, sub in enumerate(self.subs):
            if not self.needs_input_grad[k]:
                grads.append(None)
                continue
            in_subs = [self.out] + [s for j, s in enumerate(self.subs) if j != k]
            in_ops = [gy] + [o for j, o in enumerate(ops) if j != k]
            have = set("".join(in_subs))
            lonely = "".join(c for c in sub if c not in have)
            if lonely:
                sizes = [self.shapes[k][sub.index(c)] for c in lonely]
                in_subs.append(lonely)
                in_ops.append(_wrap(gy.xp.ones(sizes, gy.dtype)))
            grads.append(_einsum_raw(in_subs, sub, in_ops))
        return tuple(grads)


def _einsum_raw(subs, out, ops):
    return Einsum.apply(*ops, subs=tuple(subs), out=out)


def einsum(equation, *operands):
    """Einstein summation, as ``torch.einsum``; operands as arguments or one list.

    ``'...'`` broadcasts; a letter repeated in one operand takes its diagonal (``'ii->i'``).
    """
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    eq = equation.replace(" ", "")
    if "->" in eq:
        lhs, out = eq.split("->")
    else:
        lhs, out = eq, None
    subs = lhs.split(",")
    if len(subs) != len(operands):
        raise ValueError(f"einsum: the equation {equation!r} names {len(subs)} operands, "
                         f"but {len(operands)} were given")
    used = set(c for c in eq if c.isalpha())
    fresh = (c for c in _LETTERS if c not in used)
    # '...' becomes explicit letters, right-aligned, broadcast across operands
    n_ell = max((o.array.ndim - (len(s) - 3) for s, o in zip(subs, operands) if "..." in s), default=0)
    ell = "".join(next(fresh) for _ in range(n_ell))
    new_subs, new_ops = [], []
    ell_shape = [1] * n_ell
    for s, o in zip(subs, operands):
        if "..." in s:
            k = o.array.ndim - (len(s) - 3)
            s = s.replace("...", ell[n_ell - k:] if k else "")
            for i in range(k):
                n = o.array.shape[s.index(ell[n_ell - k + i]) if k else 0]
                j = n_ell - k + i
                if n != 1:
                    ell_shape[j] = n
        if len(s) != o.array.ndim:
            raise RuntimeError(f"einsum: operand subscripts {s!r} do not match an operand of "
                               f"shape {list(o.shape)}")
        new_subs.append(s)
        new_ops.append(o)
    # broadcast size-1 '...' dims explicitly, so every letter has one size
    for i, (s, o) in enumerate(zip(new_subs, new_ops)):
        want = tuple(ell_shape[ell.index(c)] if c in ell else o.array.shape[p] for p, c in enumerate(s))
        if want != o.array.shape:
            new_ops[i] = o.expand(want)
    # repeated letters in one operand: take the diagonal first ('ii' -> 'i')
    for i, s in enumerate(new_subs):
        while len(set(s)) != len(s):
            c = next(ch for ch in s if s.count(ch) > 1)
            p, q = s.index(c), s.index(c, s.index(c) + 1)
            new_ops[i] = new_ops[i].diagonal(0, p, q)  # diagonal goes last
            s = s[:p] + s[p + 1:q] + s[q + 1:] + c
        new_subs[i] = s
    if out is None:
        counts = {}
        for c in "".join(subs).replace(".", ""):
            counts[c] = counts.get(c, 0) + 1
        out = ell + "".join(sorted(c for c, k in counts.items() if k == 1))
    else:
        out = out.replace("...", ell)
    sizes = {}
    for s, o in zip(new_subs, new_ops):
        for c, n in zip(s, o.array.shape):
            if sizes.setdefault(c, n) != n:
                raise RuntimeError(f"einsum: subscript {c!r} has size {sizes[c]} in one operand "
                                   f"and {n} in another (equation {equation!r})")
    for c in out:
        if c not in sizes:
            raise RuntimeError(f"einsum: output subscript {c!r} does not appear in any input")
    dt = new_ops[0].array.dtype
    if any(o.array.dtype != dt for o in new_ops):
        from .elementwise import _promote
        for i in range(1, len(new_ops)):
            new_ops[0], new_ops[i] = _promote(new_ops[0], new_ops[i])
    return _einsum_raw(new_subs, out, new_ops)


def diagonal(input, offset=0, dim1=0, dim2=1):
    """The diagonal of dims (dim1, dim2), appended as the last dim (as torch.diagonal).

    Built from ``permute`` and integer indexing, so its gradient is their scatter-add.
    """
    from ..autograd import _wrap_dim
    nd = input.array.ndim
    d1, d2 = _wrap_dim(dim1, nd, "diagonal"), _wrap_dim(dim2, nd, "diagonal")
    if d1 == d2:
        raise RuntimeError("diagonal: dimensions cannot be identical")
    rest = [a for a in range(nd) if a not in (d1, d2)]
    x = input.permute(rest + [d1, d2])
    n1, n2 = input.array.shape[d1], input.array.shape[d2]
    m = max(0, min(n1 - max(-offset, 0), n2 - max(offset, 0)))
    k = input.xp.arange(m)
    return x[..., _wrap(k + max(-offset, 0)), _wrap(k + max(offset, 0))]
