"""im2col and col2im: the memory layout behind the convolution Functions in ``conv.py``.

Shapes use the names of conv.py's docstring: G groups, N images, window grid (OH, OW), kernel
(kh, kw), Cg channels per group. Images are held channels-last, x_p[n, h, w, c], so that each
window row (j, c) is one contiguous run of memory:

    cols[g, (n, a, b), (i, j, c)] = x_p[n, a s_h + i d_h, b s_w + j d_w, g Cg + c]     (im2col)
    out[n, a s_h + i d_h, b s_w + j d_w, g, c] += cols[g, (n, a, b), (i, j, c)]         (col2im)

im2col is a strided view (``backend.as_strided``), copied once into the matrix BLAS reads;
col2im, its adjoint, is one strided slice-add per kernel offset. Neither has a loop over pixels
or an index array. All of these work on raw arrays (NumPy or CuPy) and are not differentiable
themselves: the Functions in conv.py are.
"""
from __future__ import annotations

import threading

from .scratch import SCRATCH
from ..backend import fused

__all__ = []

_BLOCK_BYTES = 2 << 20  # im2col matrix per block of images on the CPU (see _each_block)


def _each_block(backend, N, rows_per_image, groups, width, dtype, body):
    """``[body(n0, n1, buf), ...]`` over the blocks of images [n0, n1) of a batch of N, in
    block order, where buf is an empty (G, (n1 - n0) rows_per_image, width) array for that
    block's matrix (valid during the call).

    On a CPU the im2col matrix is built, multiplied and consumed a block of images at a time,
    ~2 MiB each, so it stays in the cache (the whole matrix for a batch can be tens of MiB, and
    streaming it through memory twice costs as much as a third of the product). Measured on
    conv2d N64 C64->128 16x16 k3, forward and backward (before the fused backward): 1 thread
    93 ms with the whole batch in one product, 92 ms in 1 MiB blocks, 88 ms in 2 MiB blocks,
    105 ms in 8 MiB; 2 threads 72 ms whole, 53 ms in 2 MiB blocks (the copies are
    single-threaded NumPy, so keeping them in cache matters more when the products are shared
    by two cores). With the fused backward (conv.py), 4 MiB blocks against 2 MiB: the same at
    1 thread (87.7 / 87.2 ms; conv_transpose2d N64 128->64 k4 s2 40.4 / 40.4 ms), faster at 2
    (51.2 / 52.1 ms; 23.8 / 24.6 ms): the products' row count, a few images, is what the
    second core's share of each product grows with. With the blocks shared out among two
    threads (below), 2 MiB blocks against 4 MiB: conv2d 45-47 against 52-54 ms, conv_transpose2d
    22-23 against 23-24 ms (and against 48-65 / 25-38 ms for one loop with BLAS on 2 threads).

    With several host threads the blocks are shared out among them (``Backend.parallel``,
    BLAS on one thread per part), each part with a buffer of its own; the blocks are the same
    however many parts there are, so sums taken over the returned list in order are too.
    Every part's buf is a slice of ONE buffer, kept in ``SCRATCH`` between calls: a fresh
    multi-megabyte array per block is often memory the allocator has just handed back to the
    OS, and getting it again costs a page fault per 4 KiB (under glibc's default thresholds,
    conv_transpose2d N64 128->64 k4 s2 took ~4,000 page faults and ~8 ms of system time per
    forward+backward that way; see also ``minigen/hostmem.py``).
    A GPU takes the whole batch as one block: one product, one kernel per kernel offset."""
    xp = backend.xp
    if backend.name != "cpu":
        return [body(0, N, xp.empty((groups, N * rows_per_image, width), dtype))]
    per_image = rows_per_image * groups * width * xp.dtype(dtype).itemsize
    step = max(1, min(N, _BLOCK_BYTES // max(1, per_image)))
    starts = list(range(0, N, step))
    shape = (groups, step * rows_per_image, width)

    def run(lo, hi):  # blocks lo .. hi-1, in one buffer
        buf = SCRATCH.take(xp, shape, dtype)
        try:
            out = []
            for n0 in starts[lo:hi]:
                n1 = min(N, n0 + step)
                out.append(body(n0, n1, buf[:, :(n1 - n0) * rows_per_image]))
            return out
        finally:
            SCRATCH.give(xp, buf)

    parts = backend.parallel(run, len(starts), N * per_image, blas=True)
    return [r for part in parts for r in part]


def _sum_in_order(parts):
    """parts[0] + parts[1] + ... added left to right (the blocks' order), or None if none:
    the same rounding however the blocks were shared out among threads."""
    total = None
    for p in parts:
        if total is None:
            total = p
        else:
            total += p
    return total


def _frame(in_hw, kernel, stride, padding, dilation, grid_hw):
    """(Hb, Wb): a frame that holds the input at offset ``padding`` and every window of the grid."""
    return tuple(max(n + p, (o - 1) * s + (k - 1) * d + 1)
                 for n, k, s, p, d, o in zip(in_hw, kernel, stride, padding, dilation, grid_hw))


class _Padder:
    """pad(x) -> x_p[n, h + p_h, w + p_w, c] = x[n, c, h, w] in a zero frame of shape
    (N, Hb, Wb, C): channels-last, so that each window row (j, c) is one contiguous run of memory.

    Called block after block, it writes every block into ONE zero-bordered buffer: the borders
    are zeroed once and each block writes only the interior (a fresh zeroed frame per block
    would write it twice). A block's x_p is valid until the next call from the same thread
    (each host thread running blocks, ``_each_block``, has a buffer of its own)."""

    def __init__(self, xp, padding, frame):
        self.xp, self.padding, self.frame = xp, tuple(padding), tuple(frame)
        self.bufs = {}  # thread id -> buffer

    def __call__(self, x):
        N, C, H, W = x.shape
        ph, pw = self.padding
        x_last = x.transpose(0, 2, 3, 1)  # a view: x_last[n, h, w, c] = x[n, c, h, w]
        if ph == 0 and pw == 0 and self.frame == (H, W) and x_last.flags.c_contiguous:
            return x_last  # already channels-last in memory: nothing to copy
        me = threading.get_ident()
        buf = self.bufs.get(me)
        if buf is None or buf.shape[0] < N or buf.dtype != x.dtype:
            buf = self.bufs[me] = self.xp.zeros((N,) + self.frame + (C,), x.dtype)
        x_p = buf[:N]
        x_p[:, ph:ph + H, pw:pw + W] = x_last
        return x_p


def _pad_last(xp, x, padding, frame):
    """x padded into a fresh channels-last zero frame (see ``_Padder``)."""
    return _Padder(xp, padding, frame)(x)


def _matmul_into(backend, a, b, out):
    """out[...] = a @ b; on the CPU BLAS writes the block straight into place."""
    if backend.name == "cpu":
        backend.xp.matmul(a, b, out=out)
    else:
        out[...] = backend.xp.matmul(a, b)


def _im2col(backend, x_p, kernel, stride, dilation, groups, grid_hw, out):
    """cols[g, (n, a, b), (i, j, c)] = x_p[n, a s_h + i d_h, b s_w + j d_w, g Cg + c], shape
    (G, n OH OW, kh kw Cg): a strided view of x_p (no loop, no index array), copied once into
    ``out``, the matrix that BLAS reads (which is returned)."""
    n, _, _, C = x_p.shape
    (kh, kw), (sh, sw), (dh, dw), (OH, OW) = kernel, stride, dilation, grid_hw
    Cg = C // groups
    sN, sH, sW, sC = x_p.strides
    view = backend.as_strided(x_p, (groups, n, OH, OW, kh, kw, Cg),
                              (Cg * sC, sN, sh * sH, sw * sW, dh * sH, dw * sW, sC))
    out.reshape(groups, n, OH, OW, kh, kw, Cg)[...] = view
    return out


def _col2im_add(out, cols, kernel, stride, dilation, grid_hw, padding=(0, 0)):
    """The adjoint of ``_im2col``: out[n, a s_h + i d_h - p_h, b s_w + j d_w - p_w, g, c] +=
    cols[g, (n, a, b), (i, j, c)], for out of shape (n, Ho, Wo, G, Cg). With ``padding`` (p_h, p_w)
    out is the unpadded image and the parts of the windows over the padding are dropped; with
    none it is a frame that holds every window (``_frame``).

    One slice-add per kernel offset (i, j): the part of the output that offset touches is a
    strided slice, so the loop has kh * kw steps however large the images (and no scatter).

    With a column stride s_w > 1 (and no dilation, no padding) the s_w offsets j = j0 .. j0 +
    s_w - 1 land on neighbouring columns, b s_w + j0 + r for r < s_w: seen as (W, s_w) column
    groups, the output takes them in one slice-add, with s_w times fewer steps and s_w times
    longer runs of memory."""
    (kh, kw), (sh, sw), (dh, dw), (H, W), (ph, pw) = kernel, stride, dilation, grid_hw, padding
    G, n, Cg = cols.shape[0], out.shape[0], out.shape[4]
    c7 = cols.reshape(G, n, H, W, kh, kw, Cg)
    group = sw if dw == 1 and sw > 1 and ph == pw == 0 else 1
    for i in range(kh):
        a0, a1 = _inside(H, sh, i * dh - ph, out.shape[1])
        if a0 >= a1:
            continue
        rows = slice(a0 * sh + i * dh - ph, (a1 - 1) * sh + i * dh - ph + 1, sh)
        for j0 in range(0, kw, group):
            r = min(group, kw - j0)
            if group > 1 and j0 + W * sw <= out.shape[2]:
                # out[n, ., b s_w + j0 + q, g, c] += cols[g, (n, ., b), (i, j0 + q, c)],  q < r
                cells = out[:, rows, j0:j0 + W * sw].reshape(n, a1 - a0, W, sw, G, Cg)
                cells[:, :, :, :r] += c7[:, :, a0:a1, :, i, j0:j0 + r].transpose(1, 2, 3, 4, 0, 5)
                continue
            for j in range(j0, j0 + r):
                b0, b1 = _inside(W, sw, j * dw - pw, out.shape[2])
                if b0 >= b1:
                    continue
                # out[n, a s + i d - p, b s + j d - p, g, c] += cols[g, (n, a, b), (i, j, c)]
                out[:, rows, b0 * sw + j * dw - pw:(b1 - 1) * sw + j * dw - pw + 1:sw] \
                    += c7[:, :, a0:a1, b0:b1, i, j].transpose(1, 2, 3, 0, 4)


def _col2im(backend, out, cols, kernel, stride, dilation, grid_hw, padding=(0, 0)):
    """``_col2im_add`` through the device's backend: on a GPU one gather kernel
    (``_col2im_gather``) instead of a slice-add per kernel offset."""
    n, Ho, Wo, G, Cg = out.shape
    backend.fused(_col2im_gather, cols, out, n, Ho, Wo, G, Cg, *grid_hw, *kernel, *stride,
                  *dilation, *padding)


@fused(inputs=["raw cols"], inouts=["out"], outputs=[],
       scalars=["int nb", "int Ho", "int Wo", "int G", "int Cg", "int H", "int W", "int kh",
                "int kw", "int sh", "int sw", "int dh", "int dw", "int ph", "int pw"], body="""
    // element i of out is out[m, y, x, g, c]; it gathers cols[g, (m, a, b), (ki, kj, c)] from
    // every window (a, b) and kernel offset (ki, kj) with y = a sh + ki dh - ph and
    // x = b sw + kj dw - pw
    long long c = i % Cg, t = i / Cg;
    long long g = t % G;  t /= G;
    long long x = t % Wo;  t /= Wo;
    long long y = t % Ho;
    long long m = t / Ho;
    T acc = 0;
    for (long long ki = 0; ki < kh; ++ki) {
        long long ya = y + ph - ki * dh;
        if (ya < 0 || ya % sh != 0 || ya / sh >= H) continue;
        for (long long kj = 0; kj < kw; ++kj) {
            long long xb = x + pw - kj * dw;
            if (xb < 0 || xb % sw != 0 || xb / sw >= W) continue;
            acc += cols[(((((g * nb + m) * H + ya / sh) * W + xb / sw) * kh + ki) * kw + kj) * Cg + c];
        }
    }
    out += acc;""")
def _col2im_gather(xp, cols, out, nb, Ho, Wo, G, Cg, H, W, kh, kw, sh, sw, dh, dw, ph, pw):
    """``_col2im_add`` with its arguments as numbers (out: (nb, Ho, Wo, G, Cg))."""
    _col2im_add(out, cols, (kh, kw), (sh, sw), (dh, dw), (H, W), (ph, pw))


def _inside(n, s, offset, size):
    """[a0, a1): the a in [0, n) with 0 <= a s + offset < size (a window position that lands
    inside an output of ``size`` rows or columns)."""
    return max(0, -(offset // s)), min(n, (size - 1 - offset) // s + 1)


def _rows(xp, x, groups):
    """rows[g, (n, h, w), c] = x[n, g Cg + c, h, w], shape (G, N H W, Cg).

    For an (N, C, H, W)-ordered x, the transposed view of a (G, Cg, N H W) copy (cheap: whole
    H W planes move), which BLAS reads as a transposed operand; a channels-last x (what conv2d
    returns) needs no copy at all."""
    N, C, H, W = x.shape
    Cg = C // groups
    x_last = x.transpose(0, 2, 3, 1)
    if x_last.flags.c_contiguous:
        return x_last.reshape(N * H * W, groups, Cg).transpose(1, 0, 2)
    t = x.reshape(N, groups, Cg, H * W).transpose(1, 2, 0, 3).reshape(groups, Cg, N * H * W)
    return t.transpose(0, 2, 1)


def _weight_matrix(w, groups):
    """Wm[g, o, (i, j, c)] = w[g A + o, c, i, j], shape (G, A, kh kw B) for w of shape (G A, B, kh, kw)."""
    GA, B, kh, kw = w.shape
    A = GA // groups
    return w.reshape(groups, A, B, kh, kw).transpose(0, 1, 3, 4, 2).reshape(groups, A, kh * kw * B)


def _weight_from_matrix(xp, m, kernel):
    """The inverse of ``_weight_matrix``: (G, A, kh kw B) -> a fresh (G A, B, kh, kw) array."""
    G, A, K = m.shape
    kh, kw = kernel
    B = K // (kh * kw)
    w = xp.empty((G * A, B, kh, kw), m.dtype)
    w.reshape(G, A, B, kh, kw)[...] = m.reshape(G, A, kh, kw, B).transpose(0, 1, 4, 2, 3)
    return w
