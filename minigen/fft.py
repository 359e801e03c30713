"""``torch.fft``: discrete Fourier transforms, differentiable.

For a signal x of length N along ``dim`` the transform is

    X_k = s * sum_n x_n e^{-2 pi i k n / N}        (fft)
    x_n = s' * sum_k X_k e^{+2 pi i k n / N}       (ifft)

with the scales set by ``norm``: "backward" (the default) s = 1, s' = 1/N; "forward" s = 1/N,
s' = 1; "ortho" s = s' = 1/sqrt(N). ``rfft`` keeps the N//2 + 1 non-negative frequencies of a
real signal (the rest are their conjugates); ``irfft`` is its inverse and returns a real
signal of length n (default 2 (m - 1) for m frequencies).

Gradients follow PyTorch's complex convention (minigen/ops/complex.py). The adjoint of a
transform is the opposite transform with the opposite scale, which is what each backward
computes: fft(norm) -> ifft(swap(norm)), where swap exchanges "backward" and "forward":

    fft:    g_x = ifft(g, swap(norm))                    (the real part, for a real x)
    rfft:   g_x = Re ifft([g, 0, ..., 0], swap(norm))    (the dropped frequencies carry nothing)
    irfft:  g_X = rfft(g, swap(norm)) * [1, 2, ..., 2, 1]  (each kept frequency k > 0 below
            N/2 stands for itself and its conjugate twin)

``hfft`` (a Hermitian signal given by its first half, a real spectrum) is irfft(conj(x)) with
the normalisation swapped, and ``ihfft`` = conj(rfft(x)) likewise; their gradients are those
of the transforms they are made of.

``n`` shorter than the signal crops it, longer pads it with zeros, before the transform (both
differentiable). The multi-dimensional transforms apply the 1-D ones dimension by dimension.
"""
from __future__ import annotations

import math

from .autograd import Function, Tensor, _wrap

__all__ = ["hann_window", "hamming_window", "blackman_window", "bartlett_window",
           "kaiser_window", "fft", "ifft", "rfft", "irfft", "fft2", "ifft2", "rfft2", "irfft2", "fftn", "ifftn",
           "rfftn", "irfftn", "fftfreq", "rfftfreq", "fftshift", "ifftshift", "hfft", "ihfft",
           "hfft2", "ihfft2", "hfftn", "ihfftn"]

_SWAP = {"backward": "forward", "forward": "backward", "ortho": "ortho"}


def _norm(norm, op):
    norm = "backward" if norm is None else norm
    if norm not in _SWAP:
        raise ValueError(f"{op}: norm must be 'backward', 'forward' or 'ortho', got {norm!r}")
    return norm


def _complex_dtype(xp, a):
    return xp.complex64 if a.dtype in (xp.float32, xp.complex64) else xp.complex128


def _real_dtype(xp, a):
    return xp.float32 if a.dtype in (xp.float32, xp.complex64) else xp.float64


class _FFT(Function):
    """fft (inverse=False) or ifft along ``dim`` of a signal already of the right length."""

    def forward(self, x, dim, norm, inverse):
        self.dim, self.norm, self.inverse, self.real_in = dim, norm, inverse, x.dtype.kind != "c"
        xp = self.xp
        f = xp.fft.ifft if inverse else xp.fft.fft
        return f(x, axis=dim, norm=norm).astype(_complex_dtype(xp, x), copy=False)

    def backward(self, g):
        from .ops.complex import real
        gx = _FFT.apply(g, dim=self.dim, norm=_SWAP[self.norm], inverse=not self.inverse)
        return real(gx) if self.real_in else gx


class _RFFT(Function):
    def forward(self, x, dim, norm):
        self.dim, self.norm, self.n = dim, norm, x.shape[dim]
        xp = self.xp
        return xp.fft.rfft(x, axis=dim, norm=norm).astype(_complex_dtype(xp, x), copy=False)

    def backward(self, g):
        from .ops.complex import real
        missing = self.n - g.shape[self.dim]
        gp = _pad_along(g, self.dim, missing) if missing > 0 else g
        return real(_FFT.apply(gp, dim=self.dim, norm=_SWAP[self.norm], inverse=True))


class _IRFFT(Function):
    def forward(self, X, dim, norm, n):
        self.dim, self.norm, self.n = dim, norm, n
        xp = self.xp
        return xp.fft.irfft(X, n=n, axis=dim, norm=norm).astype(_real_dtype(xp, X), copy=False)

    def backward(self, g):
        xp = g.xp
        m = self.n // 2 + 1
        w = xp.full(m, 2.0, dtype=g.array.dtype)
        w[0] = 1.0
        if self.n % 2 == 0:
            w[-1] = 1.0
        shape = [1] * g.ndim
        shape[self.dim] = m
        gX = _RFFT.apply(g, dim=self.dim, norm=_SWAP[self.norm])
        return gX * _wrap(w.reshape(shape))


def _pad_along(t, dim, extra):
    from .ops import cat
    from .creation import zeros
    shape = list(t.shape)
    shape[dim] = extra
    return cat([t, zeros(*shape, dtype=t.dtype, device=t.device)], dim=dim)


def _fit(t, dim, n, op):
    """The signal cropped or zero-padded to length ``n`` along ``dim``."""
    if n is None:
        return t
    n = int(n)
    if n < 1:
        raise RuntimeError(f"{op}: invalid number of data points ({n}) specified")
    have = t.shape[dim]
    if n < have:
        return t.narrow(dim, 0, n)
    return _pad_along(t, dim, n - have) if n > have else t


def _prep(input, dim, op):
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(input).__name__}")
    if input.ndim == 0:
        raise RuntimeError(f"{op}: expected a tensor with at least one dimension")
    if input.array.dtype.kind not in "fc":
        input = input.to("float32")
    return input, dim % input.ndim


def fft(input, n=None, dim=-1, norm=None):
    """The discrete Fourier transform along ``dim`` (complex result)."""
    x, d = _prep(input, dim, "fft")
    return _FFT.apply(_fit(x, d, n, "fft"), dim=d, norm=_norm(norm, "fft"), inverse=False)


def ifft(input, n=None, dim=-1, norm=None):
    """The inverse discrete Fourier transform along ``dim``."""
    x, d = _prep(input, dim, "ifft")
    return _FFT.apply(_fit(x, d, n, "ifft"), dim=d, norm=_norm(norm, "ifft"), inverse=True)


def rfft(input, n=None, dim=-1, norm=None):
    """The transform of a real signal: its n//2 + 1 non-negative frequencies."""
    x, d = _prep(input, dim, "rfft")
    if x.array.dtype.kind == "c":
        raise RuntimeError("rfft: expects a real input tensor, but got a complex one")
    return _RFFT.apply(_fit(x, d, n, "rfft"), dim=d, norm=_norm(norm, "rfft"))


def irfft(input, n=None, dim=-1, norm=None):
    """The real signal of length ``n`` (default 2 (m - 1)) whose rfft is ``input``."""
    X, d = _prep(input, dim, "irfft")
    n = 2 * (X.shape[d] - 1) if n is None else int(n)
    if n < 1:
        raise RuntimeError(f"irfft: invalid number of data points ({n}) specified")
    if X.array.dtype.kind != "c":
        from .ops.complex import complex as _complex
        X = _complex(X, X * 0)
    return _IRFFT.apply(_fit(X, d, n // 2 + 1, "irfft"), dim=d, norm=_norm(norm, "irfft"), n=n)


def _dims(input, s, dim, default_all):
    if dim is None:
        dim = tuple(range(input.ndim)) if (default_all and s is None) else \
            tuple(range(input.ndim - (len(s) if s is not None else 2), input.ndim))
    dim = (dim,) if isinstance(dim, int) else tuple(dim)
    s = (None,) * len(dim) if s is None else tuple(s)
    if len(s) != len(dim):
        raise RuntimeError(f"fftn: s {list(s)} and dim {list(dim)} must have the same length")
    return s, dim


def fftn(input, s=None, dim=None, norm=None):
    s, dim = _dims(input, s, dim, True)
    for n, d in zip(s, dim):
        input = fft(input, n, d, norm)
    return input


def ifftn(input, s=None, dim=None, norm=None):
    s, dim = _dims(input, s, dim, True)
    for n, d in zip(s, dim):
        input = ifft(input, n, d, norm)
    return input


def rfftn(input, s=None, dim=None, norm=None):
    """rfft over the last of ``dim``, then fft over the others."""
    s, dim = _dims(input, s, dim, True)
    out = rfft(input, s[-1], dim[-1], norm)
    for n, d in zip(s[:-1], dim[:-1]):
        out = fft(out, n, d, norm)
    return out


def irfftn(input, s=None, dim=None, norm=None):
    """ifft over all of ``dim`` but the last, then irfft over the last."""
    s, dim = _dims(input, s, dim, True)
    for n, d in zip(s[:-1], dim[:-1]):
        input = ifft(input, n, d, norm)
    return irfft(input, s[-1], dim[-1], norm)


def fft2(input, s=None, dim=(-2, -1), norm=None):
    return fftn(input, s, dim, norm)


def ifft2(input, s=None, dim=(-2, -1), norm=None):
    return ifftn(input, s, dim, norm)


def rfft2(input, s=None, dim=(-2, -1), norm=None):
    return rfftn(input, s, dim, norm)


def irfft2(input, s=None, dim=(-2, -1), norm=None):
    return irfftn(input, s, dim, norm)


def _conj(x):
    return x.conj() if x.array.dtype.kind == "c" else x


def hfft(input, n=None, dim=-1, norm=None):
    """The FFT of a Hermitian-symmetric signal given by its first half: a real output,
    hfft(x, n) = irfft(conj(x), n) with the normalisation swapped ('backward': no 1/n)."""
    return irfft(_conj(input), n, dim, _SWAP[_norm(norm, "hfft")])


def ihfft(input, n=None, dim=-1, norm=None):
    """The inverse of hfft: the first half of ifft of a real signal, conj(rfft(x)) / n
    ('backward')."""
    return _conj(rfft(input, n, dim, _SWAP[_norm(norm, "ihfft")]))


def hfftn(input, s=None, dim=None, norm=None):
    """n-D hfft: irfftn(conj(x)) with the normalisation swapped."""
    return irfftn(_conj(input), s, dim, _SWAP[_norm(norm, "hfftn")])


def ihfftn(input, s=None, dim=None, norm=None):
    return _conj(rfftn(input, s, dim, _SWAP[_norm(norm, "ihfftn")]))


def hfft2(input, s=None, dim=(-2, -1), norm=None):
    return hfftn(input, s, dim, norm)


def ihfft2(input, s=None, dim=(-2, -1), norm=None):
    return ihfftn(input, s, dim, norm)


def fftfreq(n, d=1.0, *, dtype=None, device=None, requires_grad=False):
    """The frequencies of an n-point fft's bins: [0, 1, ..., n/2 - 1, -n/2, ..., -1] / (d n)."""
    from .creation import tensor
    import numpy
    return tensor(numpy.fft.fftfreq(int(n), d), dtype=dtype or "float32", device=device,
                  requires_grad=requires_grad)


def rfftfreq(n, d=1.0, *, dtype=None, device=None, requires_grad=False):
    """The frequencies of an n-point rfft's bins: [0, 1, ..., n//2] / (d n)."""
    from .creation import tensor
    import numpy
    return tensor(numpy.fft.rfftfreq(int(n), d), dtype=dtype or "float32", device=device,
                  requires_grad=requires_grad)


def fftshift(input, dim=None):
    """The zero frequency moved to the centre: a roll by n // 2 along each of ``dim``."""
    dims = tuple(range(input.ndim)) if dim is None else ((dim,) if isinstance(dim, int) else tuple(dim))
    return input.roll(tuple(input.shape[d] // 2 for d in dims), dims)


def ifftshift(input, dim=None):
    dims = tuple(range(input.ndim)) if dim is None else ((dim,) if isinstance(dim, int) else tuple(dim))
    return input.roll(tuple(-(input.shape[d] // 2) for d in dims), dims)


def stft(input, n_fft, hop_length=None, win_length=None, window=None, center=True,
         pad_mode="reflect", normalized=False, onesided=None, return_complex=None):
    """The short-time Fourier transform (``torch.stft``): frames of ``n_fft`` samples every
    ``hop_length`` (default n_fft // 4), each multiplied by ``window`` (default ones; a shorter
    window is centred and zero-padded to n_fft), transformed with rfft (``onesided``, the
    default for real input) or fft. Result [batch?, freq, frames]; ``center`` pads n_fft // 2
    samples on both sides first (``pad_mode``). As PyTorch, ``return_complex`` must be given
    for a real input; False returns view_as_real of the result."""
    from .ops.complex import view_as_real
    from .nn import functional as F
    if return_complex is None:
        raise RuntimeError("stft requires the return_complex parameter be given for real inputs, "
                           "and will further require that return_complex=True in a future "
                           "PyTorch release.")
    if input.ndim not in (1, 2):
        raise RuntimeError(f"stft: expected a 1D or 2D tensor, got shape {list(input.shape)}")
    hop = n_fft // 4 if hop_length is None else int(hop_length)
    win_length = n_fft if win_length is None else int(win_length)
    if not 0 < win_length <= n_fft:
        raise RuntimeError(f"stft: expected 0 < win_length <= n_fft, got win_length={win_length}")
    x = input if input.ndim == 2 else input.unsqueeze(0)
    if center:
        x = F.pad(x.unsqueeze(1), (n_fft // 2, n_fft // 2), mode=pad_mode).squeeze(1)
    if x.shape[-1] < n_fft:
        raise RuntimeError(f"stft: input of {x.shape[-1]} samples is shorter than n_fft={n_fft}")
    frames = x.unfold(-1, n_fft, hop)  # [B, frames, n_fft]
    if window is not None:
        if window.shape[0] != win_length:
            raise RuntimeError(f"stft: expected a window of {win_length} samples, got "
                               f"{list(window.shape)}")
        left = (n_fft - win_length) // 2
        if win_length < n_fft:
            from .ops import cat
            from .creation import zeros
            window = cat([zeros(left, dtype=window.dtype, device=window.device), window,
                          zeros(n_fft - win_length - left, dtype=window.dtype, device=window.device)])
        frames = frames * window
    elif win_length < n_fft:
        from .creation import ones, zeros
        from .ops import cat
        left = (n_fft - win_length) // 2
        frames = frames * cat([zeros(left, dtype=frames.dtype, device=frames.device),
                               ones(win_length, dtype=frames.dtype, device=frames.device),
                               zeros(n_fft - win_length - left, dtype=frames.dtype, device=frames.device)])
    onesided = (frames.array.dtype.kind != "c") if onesided is None else onesided
    spec = rfft(frames, dim=-1) if onesided else fft(frames, dim=-1)
    if normalized:
        spec = spec * (1.0 / math.sqrt(n_fft))
    spec = spec.transpose(-1, -2)  # [B, freq, frames]
    if input.ndim == 1:
        spec = spec.squeeze(0)
    return spec if return_complex else view_as_real(spec)


def istft(input, n_fft, hop_length=None, win_length=None, window=None, center=True,
          normalized=False, onesided=None, length=None, return_complex=False):
    """The inverse of ``stft`` by weighted overlap-add: each frame's inverse transform times
    the window, summed where frames overlap, divided by the summed squared window."""
    from .ops import cat
    from .creation import ones, zeros
    if input.array.dtype.kind != "c":
        raise RuntimeError("istft requires a complex-valued input tensor")
    hop = n_fft // 4 if hop_length is None else int(hop_length)
    win_length = n_fft if win_length is None else int(win_length)
    spec = input if input.ndim == 3 else input.unsqueeze(0)   # [B, freq, frames]
    if normalized:
        spec = spec * math.sqrt(n_fft)
    onesided = (spec.shape[-2] != n_fft) if onesided is None else onesided
    frames = spec.transpose(-1, -2)                            # [B, frames, freq]
    frames = irfft(frames, n_fft, dim=-1) if onesided else ifft(frames, n_fft, dim=-1)
    if return_complex is False and frames.array.dtype.kind == "c":
        from .ops.complex import real
        frames = real(frames)
    dev, dt = frames.device, frames.dtype
    w = window if window is not None else ones(win_length, dtype=frames.array.real.dtype if
                                               frames.array.dtype.kind == "c" else dt, device=dev)
    if win_length < n_fft:
        left = (n_fft - win_length) // 2
        w = cat([zeros(left, dtype=w.dtype, device=dev), w,
                 zeros(n_fft - win_length - left, dtype=w.dtype, device=dev)])
    frames = frames * w
    B, T = frames.shape[0], frames.shape[1]
    total = n_fft + hop * (T - 1)
    import numpy
    idx = (numpy.arange(T)[:, None] * hop + numpy.arange(n_fft)[None, :]).reshape(-1)
    from .creation import tensor
    index = tensor(idx, device=dev)
    y = zeros(B, total, dtype=frames.dtype, device=dev).index_add(1, index, frames.reshape(B, -1))
    env = zeros(total, dtype=w.dtype, device=dev).index_add(0, index, (w * w).repeat(T))
    start = n_fft // 2 if center else 0
    end = total - (n_fft // 2 if center else 0) if length is None else start + int(length)
    env_part = env[start:end]
    if bool((env_part.abs() < 1e-11).any()):
        raise RuntimeError("istft: window overlap add min: the summed squared window is zero "
                           "somewhere (the NOLA condition fails)")
    y = y[:, start:end] / env_part
    if length is not None and y.shape[-1] < int(length):
        y = cat([y, zeros(B, int(length) - y.shape[-1], dtype=y.dtype, device=dev)], dim=-1)
    return y if input.ndim == 3 else y.squeeze(0)


# ----------------------------------------------------------------------------- windows
# torch.hann_window and friends (top-level names in PyTorch): with periodic=True (the default)
# the window of length N is the first N points of the symmetric window of length N + 1, the
# form a stft wants.
def _window(name, window_length, periodic, dtype, device, requires_grad, values):
    import numpy
    from .creation import tensor
    N = int(window_length)
    if N < 0:
        raise RuntimeError(f"{name}: window_length must be non-negative, got {N}")
    if N <= 1:
        w = numpy.ones(N)
    else:
        M = N + 1 if periodic else N
        w = values(numpy.arange(M), M)[:N]
    return tensor(w, dtype=dtype or "float32", device=device, requires_grad=requires_grad)


def hann_window(window_length, periodic=True, *, dtype=None, device=None, requires_grad=False,
                layout=None):
    """w[n] = 0.5 - 0.5 cos(2 pi n / (M - 1))."""
    return _window("hann_window", window_length, periodic, dtype, device, requires_grad,
                   lambda n, M: 0.5 - 0.5 * __import__("numpy").cos(2 * math.pi * n / (M - 1)))


def hamming_window(window_length, periodic=True, alpha=0.54, beta=0.46, *, dtype=None,
                   device=None, requires_grad=False, layout=None):
    """w[n] = alpha - beta cos(2 pi n / (M - 1))."""
    return _window("hamming_window", window_length, periodic, dtype, device, requires_grad,
                   lambda n, M: alpha - beta * __import__("numpy").cos(2 * math.pi * n / (M - 1)))


def blackman_window(window_length, periodic=True, *, dtype=None, device=None,
                    requires_grad=False, layout=None):
    """w[n] = 0.42 - 0.5 cos(2 pi n / (M - 1)) + 0.08 cos(4 pi n / (M - 1))."""
    def values(n, M):
        import numpy
        return 0.42 - 0.5 * numpy.cos(2 * math.pi * n / (M - 1)) + 0.08 * numpy.cos(4 * math.pi * n / (M - 1))
    return _window("blackman_window", window_length, periodic, dtype, device, requires_grad, values)


def bartlett_window(window_length, periodic=True, *, dtype=None, device=None,
                    requires_grad=False, layout=None):
    """w[n] = 1 - |2 n / (M - 1) - 1|."""
    return _window("bartlett_window", window_length, periodic, dtype, device, requires_grad,
                   lambda n, M: 1 - abs(2 * n / (M - 1) - 1))


def kaiser_window(window_length, periodic=True, beta=12.0, *, dtype=None, device=None,
                  requires_grad=False, layout=None):
    """w[n] = I0(beta sqrt(1 - (2 n / (M - 1) - 1)^2)) / I0(beta)."""
    def values(n, M):
        import numpy
        return numpy.i0(beta * numpy.sqrt(1 - (2 * n / (M - 1) - 1) ** 2)) / numpy.i0(beta)
    return _window("kaiser_window", window_length, periodic, dtype, device, requires_grad, values)
