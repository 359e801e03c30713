"""Convolution: im2col, one matrix product, col2im, and three Functions that are each other's backward.

A 2-d convolution with stride s, padding p, dilation d and G groups maps x (N, C, H, W) and a
weight w (O, C/G, kh, kw) to y (N, O, OH, OW):

    y[n, o, a, b] = sum_{c, i, j} w[o, c, i, j] x_p[n, g(o) C/G + c, a s_h + i d_h, b s_w + j d_w]

where x_p is x with p_h zero rows above and p_w zero columns left of it, and g(o) = o // (O/G)
is the group of output channel o.   OH = floor((H + 2 p_h - d_h (kh - 1) - 1) / s_h) + 1.

im2col: gather every window into one row of a matrix; then the convolution is ONE matrix product.

    cols[g, (n, a, b), (i, j, c)] = x_p[n, g C/G + c, a s_h + i d_h, b s_w + j d_w]
    Wm[g, o, (i, j, c)]           = w[g O/G + o, c, i, j]
    y[g, (n, a, b), o]            = sum_k cols[g, (n, a, b), k] Wm[g, o, k]      (y = cols Wm^T)

cols is a strided *view* of the padded input (``backend.as_strided``: no loop, no index array);
the matrix product reads it through one reshape copy. Inside, images are laid out channels-last
(n, h, w, c): then every window row (j, c) is a contiguous run of memory, the copies stream, and
the rows of the product are pixels, the columns channels, the shape BLAS is fastest at. The
results are (N, C, H, W) views of that channels-last memory (PyTorch calls this memory format
channels_last); the next convolution then reads its input without a copy.

Speed on a CPU: the product is taken over blocks of a few images (``im2col._each_block``),
each block padded, its rows of cols built, multiplied and, for col2im, added into the output
while they are still in the cache; for a batch of 64 that is the difference between 1.6x and
1.4x PyTorch's time. It is still the same single matrix product, split along its rows. With
several host threads the blocks are shared out among them (``minigen/threads.py``). A GPU
takes the batch in one block.

The backward, with gy = dL/dy (derived in ``Conv2dFunction``), is two more convolutions:

    dL/dx = conv_transpose2d(gy, w)          the adjoint of the map x -> y
    dL/dw = correlation of x with gy         ``Conv2dWeightFunction``

and ``conv_transpose2d`` (``ConvTranspose2dFunction``) is, by definition, the adjoint of conv2d:
its forward is the product cols = x Wm followed by col2im, which adds each kernel offset's slice
of cols into the output, a loop over the kh * kw offsets (never a scatter). So the three
Functions close on themselves: each one's backward is written with the other two, and gradients
of gradients (``create_graph=True``) flow through any number of levels.

conv1d and conv_transpose1d are the 2-d ops on inputs with a height of 1. The public functions
('same' padding, unbatched inputs) are at the end of this file and in ``conv_transpose.py``,
their argument checks in ``conv_args.py``; im2col, col2im and the memory layout are in
``im2col.py``.
"""
from __future__ import annotations

from ..autograd import Function, _wrap, is_grad_enabled
from .conv_args import _as_2d, _check_common, _tuple
from .im2col import (_Padder, _col2im, _each_block, _frame, _im2col, _matmul_into, _pad_last,
                     _rows, _sum_in_order, _weight_from_matrix, _weight_matrix)

__all__ = ["conv1d", "conv2d", "conv_transpose1d", "conv_transpose2d"]


def _sum_bias(gy):
    # y[n, o, a, b] = ... + bias[o]  =>  dL/dbias[o] = sum_{n, a, b} gy[n, o, a, b]
    return gy.sum(dim=(0, 2, 3))


# ----------------------------------------------------------------------------- the Functions
class Conv2dFunction(Function):
    """y = conv2d(x, w) + bias, as one matrix product of the im2col view (module docstring).

    Parameters (keywords): stride, padding = (p_h, p_w) rows/columns of zeros above/left of x,
    dilation, groups, out_hw = (OH, OW). Rows/columns of zeros below/right are implied by out_hw,
    so asymmetric ('same') padding needs nothing more. The output is an (N, O, OH, OW) view of
    channels-last memory (the rows of the product); every minigen op accepts any strides.

    Backward. y is linear in x and in w. For x, write the forward as y = A_w x; then
    dL/dx = A_w^T gy. Reading the sum above backwards, each gy[n, o, a, b] sends w[o, c, i, j]
    gy[n, o, a, b] to every input pixel its window touched:

        dL/dx_p[n, g Cg + c, a s_h + i d_h, b s_w + j d_w] += sum_o w[o, c, i, j] gy[n, o, a, b]

    which is exactly ``ConvTranspose2dFunction(gy, w)`` (its forward is this sum), cropped to x.
    For w, the same sum read with x fixed:

        dL/dw[o, c, i, j] = sum_{n, a, b} gy[n, o, a, b] x_p[n, g Cg + c, a s_h + i d_h, b s_w + j d_w]

    a correlation of x with gy (``Conv2dWeightFunction``); in matrix form dL/dWm = gy_rows^T cols,
    the same im2col view of x as the forward's.
    dL/dbias[o] = sum_{n, a, b} gy[n, o, a, b].

    A first-order backward runs both products in one loop over blocks of images on raw arrays
    (``_fused_backward``: the same math, each block's operands read once); under
    ``create_graph=True`` it applies the two Functions, so that the gradient is differentiable.
    """

    def forward(self, x, w, bias=None, *, stride, padding, dilation, groups, out_hw, x_p=None):
        xp = self.xp
        N = x.shape[0]
        O, Cg, kh, kw = w.shape
        kernel, Og, (OH, OW) = (kh, kw), O // groups, out_hw
        pad = _Padder(xp, padding, _frame(x.shape[2:], kernel, stride, padding, dilation, out_hw))
        self.params = (stride, padding, dilation, groups)
        self.save_for_backward(x, w)
        Wt = _weight_matrix(w, groups).transpose(0, 2, 1)  # (G, kh kw Cg, Og)
        L = OH * OW
        y = xp.empty((N * L, groups, Og), x.dtype)  # rows (n, a, b), columns (g, o)

        def block(n0, n1, buf):
            # the block's images padded (unless the caller has them padded already), unfolded
            x_b = pad(x[n0:n1]) if x_p is None else x_p[n0:n1]
            cols = _im2col(self.backend, x_b, kernel, stride, dilation, groups, out_hw, buf)
            # y[(n, a, b), g, o] = sum_k cols[g, (n, a, b), k] Wm[g, o, k]  (+ bias[g, o])
            y_b = y[n0 * L:n1 * L]
            _matmul_into(self.backend, cols, Wt, y_b.transpose(1, 0, 2))
            if bias is not None:
                y_b += bias.reshape(groups, Og)

        _each_block(self.backend, N, L, groups, kh * kw * Cg, x.dtype, block)
        return y.reshape(N, OH, OW, O).transpose(0, 3, 1, 2)

    def backward(self, gy):
        x, w = self.saved_tensors
        stride, padding, dilation, groups = self.params
        need = self.needs_input_grad
        if not is_grad_enabled():  # first order: all products in one pass over the images
            grads = _fused_backward(self, gy.array, x.array, w.array, need[0], need[1],
                                    len(need) == 3 and need[2], transposed=False)
            return grads[:len(need)]
        # create_graph: the two Functions, so that the gradient is differentiable; both products
        # read gy as a matrix of rows (n, a, b): lay it out once
        g_rows = _rows(self.xp, gy.array, groups) if need[0] and need[1] else None
        gx = gw = gb = None
        if need[0]:
            gx = ConvTranspose2dFunction.apply(
                gy, w, stride=stride, padding=padding, dilation=dilation, groups=groups,
                out_hw=x.shape[2:], rows=g_rows)
        if need[1]:
            gw = Conv2dWeightFunction.apply(
                x, gy, kernel=w.shape[2:], stride=stride, padding=padding, dilation=dilation,
                groups=groups, g_rows=g_rows)
        if len(need) == 2:
            return gx, gw
        if need[2]:
            gb = _sum_bias(gy)
        return gx, gw, gb


class ConvTranspose2dFunction(Function):
    """y = conv_transpose2d(x, w) + bias: the adjoint (transpose) of conv2d's map from input to output.

    Every input pixel x[n, g Cin_g + ci, a, b] is spread over the window it would have been read
    from, weighted by the kernel (w has shape (Cin, Cout/G, kh, kw)):

        y_p[n, g Cout_g + c, a s_h + i d_h, b s_w + j d_w] += sum_ci x[n, g Cin_g + ci, a, b] w[g Cin_g + ci, c, i, j]

    and y is y_p with ``padding`` rows/columns cropped off the top/left, (OH, OW) = out_hw big.
    Computed as one matrix product, cols = x_rows Wm (Wm[g, ci, (i, j, c)] = w[g Cin_g + ci, c, i, j]),
    followed by col2im: one strided slice-add per kernel offset (i, j).

    Backward. y = A_w^T x where A_w is conv2d's map, so dL/dx = A_w gy = conv2d(gy, w) with the
    same stride, padding, dilation and groups (``Conv2dFunction``). For w, the sum above read with
    x fixed gives

        dL/dw[g Cin_g + ci, c, i, j] = sum_{n, a, b} x[n, g Cin_g + ci, a, b] gy_p[n, g Cout_g + c, a s_h + i d_h, b s_w + j d_w]

    which is conv2d's weight gradient with the roles of input and output gradient swapped:
    ``Conv2dWeightFunction(gy, x)``. Both read windows of the padded gy, built once here.
    dL/dbias[c] = sum_{n, a, b} gy[n, c, a, b]. As for conv2d, a first-order backward runs both
    products in one loop over blocks of images (``_fused_backward``), and ``create_graph=True``
    applies the Functions.
    """

    def forward(self, x, w, bias=None, *, stride, padding, dilation, groups, out_hw, rows=None):
        xp = self.xp
        N, _, H, W = x.shape
        _, Cog, kh, kw = w.shape
        kernel, (ph, pw), (OH, OW) = (kh, kw), padding, out_hw
        self.params = (stride, padding, dilation, groups)
        self.save_for_backward(x, w)
        Wm = _weight_matrix(w, groups)  # (G, Cin_g, kh kw Cout_g)
        frame = _frame(out_hw, kernel, stride, padding, dilation, (H, W))
        out = xp.empty((N,) + frame + (groups, Cog), x.dtype)
        L = H * W

        def block(n0, n1, cols):
            # the block's rows (G, n H W, Cin_g), laid out here unless the caller has them
            r = _rows(xp, x[n0:n1], groups) if rows is None else rows[:, n0 * L:n1 * L]
            # cols[g, (n, a, b), (i, j, c)] = sum_ci x[n, g Cin_g + ci, a, b] Wm[g, ci, (i, j, c)]
            _matmul_into(self.backend, r, Wm, cols)
            # the block's frame starts as the bias (or zeros): y = bias + the spread windows
            out[n0:n1] = 0 if bias is None else bias.reshape(groups, Cog)
            _col2im(self.backend, out[n0:n1], cols, kernel, stride, dilation, (H, W))

        _each_block(self.backend, N, L, groups, kh * kw * Cog, x.dtype, block)
        y = out[:, ph:ph + OH, pw:pw + OW]  # crop the padding away: (N, OH, OW, G, Cout_g)
        return y.reshape(N, OH, OW, groups * Cog).transpose(0, 3, 1, 2)

    def backward(self, gy):
        x, w = self.saved_tensors
        stride, padding, dilation, groups = self.params
        need = self.needs_input_grad
        kernel = w.shape[2:]
        if not is_grad_enabled():  # first order: all products in one pass over the images
            grads = _fused_backward(self, gy.array, x.array, w.array, need[0], need[1],
                                    len(need) == 3 and need[2], transposed=True)
            return grads[:len(need)]
        g_p = None
        if need[0] and need[1]:  # both read windows of the padded gy: pad it once
            g_p = _pad_last(self.xp, gy.array, padding,
                            _frame(gy.shape[2:], kernel, stride, padding, dilation, x.shape[2:]))
        gx = gw = gb = None
        if need[0]:
            gx = Conv2dFunction.apply(
                gy, w, stride=stride, padding=padding, dilation=dilation, groups=groups,
                out_hw=x.shape[2:], x_p=g_p)
        if need[1]:
            gw = Conv2dWeightFunction.apply(
                gy, x, kernel=kernel, stride=stride, padding=padding, dilation=dilation,
                groups=groups, x_p=g_p)
        if len(need) == 2:
            return gx, gw
        if need[2]:
            gb = _sum_bias(gy)
        return gx, gw, gb


class Conv2dWeightFunction(Function):
    """gw = the correlation of an input x with an output gradient g: conv2d's weight gradient.

        gw[g O_g + o, c, i, j] = sum_{n, a, b} g[n, g O_g + o, a, b] x_p[n, g Cg + c, a s_h + i d_h, b s_w + j d_w]

    In matrix form gw_m = g_rows^T cols, with cols the im2col matrix of x (``x_p``, the padded x,
    is passed in when the caller already has it).

    Backward (needed for gradients of gradients). gw is bilinear in (x, g); with V = dL/dgw:
        dL/dx = sum_{o, i, j} V[o, c, i, j] g[n, o, a, b] placed at (a s_h + i d_h, b s_w + j d_w)
              = conv_transpose2d(g, V)                   (the same spreading as conv2d's dL/dx)
        dL/dg[n, o, a, b] = sum_{c, i, j} V[o, c, i, j] x_p[n, g Cg + c, a s_h + i d_h, b s_w + j d_w]
              = conv2d(x, V)
    """

    def forward(self, x, g, *, kernel, stride, padding, dilation, groups, x_p=None, g_rows=None):
        xp = self.xp
        self.params = (kernel, stride, padding, dilation, groups)
        self.save_for_backward(x, g)
        N, C = x.shape[:2]
        OH, OW = g.shape[2:]
        pad = _Padder(xp, padding, _frame(x.shape[2:], kernel, stride, padding, dilation, (OH, OW)))
        R = _rows(xp, g, groups) if g_rows is None else g_rows  # (G, N OH OW, Og)
        L = OH * OW
        K = kernel[0] * kernel[1] * (C // groups)

        def block(n0, n1, buf):
            x_b = pad(x[n0:n1]) if x_p is None else x_p[n0:n1]
            cols = _im2col(self.backend, x_b, kernel, stride, dilation, groups, (OH, OW), buf)
            # gw_m[g, o, k] = sum_{(n, a, b)} g_rows[g, (n, a, b), o] cols[g, (n, a, b), k]
            return xp.matmul(R[:, n0 * L:n1 * L].transpose(0, 2, 1), cols)

        m = _sum_in_order(_each_block(self.backend, N, L, groups, K, x.dtype, block))
        if m is None:  # an empty batch
            m = xp.zeros((groups, g.shape[1] // groups, kernel[0] * kernel[1] * (C // groups)), x.dtype)
        return _weight_from_matrix(xp, m, kernel)

    def backward(self, v):
        x, g = self.saved_tensors
        kernel, stride, padding, dilation, groups = self.params
        gx = gg = None
        if self.needs_input_grad[0]:
            gx = ConvTranspose2dFunction.apply(g, v, stride=stride, padding=padding,
                                               dilation=dilation, groups=groups, out_hw=x.shape[2:])
        if self.needs_input_grad[1]:
            gg = Conv2dFunction.apply(x, v, stride=stride, padding=padding, dilation=dilation,
                                      groups=groups, out_hw=g.shape[2:])
        return gx, gg


def _fused_backward(fn, gy, x, w, need_x, need_w, need_b, transposed):
    """First-order (dL/dx, dL/dw, dL/dbias) of conv2d (``transposed=False``) or
    conv_transpose2d, on raw arrays, in ONE loop over blocks of images.

    The math is the two Functions' (see the class docstrings); only the order of the work
    differs. Both gradients are built from the same two matrices: the im2col windows of the
    input the kernel slides over (x for conv2d, the padded gy for conv_transpose2d) and the
    rows of the other one (gy for conv2d, x for conv_transpose2d):

        conv2d:           dL/dWm += rows(gy)^T cols(x)    dL/dx = col2im(rows(gy) Wm)
        conv_transpose2d: dL/dWm += rows(x)^T cols(gy)    dL/dx = cols(gy) Wm^T

    Block by block, each is padded, unfolded and laid out once and used by both products while
    it is in the cache, where the two Functions would each stream the whole batch through
    memory (conv_transpose2d's two products even unfold the same windows of gy twice). The bias
    gradient, gy summed over (n, a, b), is summed block by block from the same laid-out copy
    of gy. dL/dx comes out channels-last, (N, C, H, W) strides over (N, H, W, C) memory."""
    xp, backend = fn.xp, fn.backend
    stride, padding, dilation, groups = fn.params
    kernel = tuple(w.shape[2:])
    win, row_src = (gy, x) if transposed else (x, gy)
    grid = tuple(row_src.shape[2:])  # the window grid: conv2d's output, conv_transpose2d's input
    N, C, H, W = x.shape
    L = grid[0] * grid[1]
    frame = _frame(win.shape[2:], kernel, stride, padding, dilation, grid)
    pad = _Padder(xp, padding, frame)  # each block of `win` padded into one reused buffer
    Wm = _weight_matrix(w, groups)  # (G, A, kh kw B): A the rows' channels, B the windows'
    need_cols = need_w or (need_x and transposed)  # the windows, unfolded
    need_pad = need_cols or (need_b and transposed)
    gx = xp.empty((N, H, W, C), x.dtype) if need_x else None
    gx_rows = gx.reshape(N * H * W, groups, C // groups).transpose(1, 0, 2) if need_x else None

    def block(n0, n1, cols):
        """This block's part of dL/dx written in place; its parts of dL/dWm and dL/dbias."""
        gw_b = gb_b = None
        # the rows (G, n L, A): read by dL/dw, and by conv2d's dL/dx and bias gradient
        rows = _rows(xp, row_src[n0:n1], groups) if need_w or not transposed else None
        if need_pad:
            win_p = pad(win[n0:n1])
        if need_cols:
            _im2col(backend, win_p, kernel, stride, dilation, groups, grid, cols)
        if need_b:
            # dL/dbias[c]: the block's pixels of gy summed (the zero padding adds nothing)
            gb_b = (win_p.sum(axis=(0, 1, 2)) if transposed else rows.sum(axis=1).reshape(-1))
        if need_w:
            # dL/dWm[g, a, k]: sum over the block's rows r of rows[g, r, a] cols[g, r, k]
            gw_b = xp.matmul(rows.transpose(0, 2, 1), cols)
        if need_x and transposed:
            # dL/dx[(n, a, b), g, c] = sum_k cols[g, (n, a, b), k] Wm[g, c, k]
            _matmul_into(backend, cols, Wm.transpose(0, 2, 1), gx_rows[:, n0 * L:n1 * L])
        elif need_x:
            # spread[g, (n, a, b), (i, j, c)] = sum_o rows[g, (n, a, b), o] Wm[g, o, (i, j, c)],
            # added at the windows' places into the block of dL/dx (col2im; the parts over the
            # padding dropped)
            _matmul_into(backend, rows, Wm, cols)
            gx_b = gx[n0:n1].reshape(n1 - n0, H, W, groups, C // groups)
            gx_b[...] = 0
            _col2im(backend, gx_b, cols, kernel, stride, dilation, grid, padding)
        return gw_b, gb_b

    parts = _each_block(backend, N, L, groups, Wm.shape[2], x.dtype, block)
    gw_m = _sum_in_order([p[0] for p in parts]) if need_w else None
    gb = _sum_in_order([p[1] for p in parts]) if need_b else None
    if need_w and gw_m is None:  # an empty batch
        gw_m = xp.zeros(Wm.shape, x.dtype)
    if need_b and gb is None:
        gb = xp.zeros(gy.shape[1], gy.dtype)
    return (_wrap(gx.transpose(0, 3, 1, 2)) if need_x else None,
            _wrap(_weight_from_matrix(xp, gw_m, kernel)) if need_w else None,
            _wrap(gb) if need_b else None)


# ----------------------------------------------------------------------------- public
def _conv(op, nd, input, weight, bias, stride, padding, dilation, groups):
    x, squeeze, stride, dilation = _check_common(op, nd, input, weight, bias, stride, dilation,
                                                 groups, transposed=False)
    kernel = tuple(weight.shape[2:])
    in_size = tuple(x.shape[2:])
    if isinstance(padding, str):
        if padding == "valid":
            lo = hi = (0,) * nd
        elif padding == "same":
            if any(s != 1 for s in stride):
                raise RuntimeError(f"{op}: padding='same' is not supported for strided "
                                   f"convolutions (stride={stride})")
            # total padding d (k - 1), the odd one extra at the end (as PyTorch)
            total = tuple(d * (k - 1) for d, k in zip(dilation, kernel))
            lo = tuple(t // 2 for t in total)
            hi = tuple(t - t // 2 for t in total)
        else:
            raise ValueError(f"{op}: invalid padding string {padding!r}, should be one of "
                             "'valid' or 'same'")
    else:
        lo = hi = _tuple(padding, nd, "padding", op)
        if any(p < 0 for p in lo):
            raise RuntimeError(f"{op}: negative padding is not supported, got padding={lo}")
    padded = tuple(n + a + b for n, a, b in zip(in_size, lo, hi))
    reach = tuple(d * (k - 1) + 1 for d, k in zip(dilation, kernel))
    if any(r > n for r, n in zip(reach, padded)):
        raise RuntimeError(
            f"{op}: kernel size {kernel} (dilated to {reach}) can't be greater than the padded "
            f"input size {padded} (input {list(x.shape)}, padding {lo})")
    # OH = floor((H + p_lo + p_hi - d (k - 1) - 1) / s) + 1
    out = tuple((n - r) // s + 1 for n, r, s in zip(padded, reach, stride))
    if nd == 1:
        x, weight, stride, lo, dilation, out = _as_2d(x, weight, stride, lo, dilation, out)
    args = (x, weight) if bias is None else (x, weight, bias)
    y = Conv2dFunction.apply(*args, stride=stride, padding=lo, dilation=dilation, groups=groups,
                             out_hw=out)
    if nd == 1:
        y = y.squeeze(2)
    return y.squeeze(0) if squeeze else y


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-d convolution (a cross-correlation, as in PyTorch) of input (N, C, H, W) or (C, H, W)
    with weight (O, C/groups, kH, kW); ``padding`` is an int, a pair, 'valid' or 'same'."""
    return _conv("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-d convolution of input (N, C, L) or (C, L) with weight (O, C/groups, k)."""
    return _conv("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


from .conv_transpose import conv_transpose1d, conv_transpose2d  # noqa: E402
