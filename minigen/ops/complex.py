"""Complex tensors: building them from real ones, taking them apart, and their gradients.

minigen's complex dtypes are NumPy's (``complex64``, ``complex128``). Gradients follow PyTorch's
convention: for a real loss L and z = x + iy, the gradient of z is

    dL/dz := dL/dx + i dL/dy,

so an op with a holomorphic derivative h'(z) passes back g * conj(h'(z)) (Mul gives g conj(b);
see minigen/ops/elementwise.py), and a real input of an op with a complex result receives the
real part of what reaches it.

    view_as_complex(t)   t[..., 0] + i t[..., 1]      backward: view_as_real(g)
    view_as_real(z)      stack(Re z, Im z, -1)        backward: view_as_complex(g)
    real(z), imag(z)     Re z, Im z                   backward: g, and i g
    conj(z)              x - iy                       backward: conj(g)
    polar(r, theta)      r (cos theta + i sin theta)  backward: Re(g conj(e^{i theta})), Im(g conj(z))
    complex(re, im)      re + i im                    backward: Re g, Im g
    angle(z)             atan2(y, x)                  backward: g i z / |z|^2   (0 for real z)

(``abs`` of a complex tensor is |z|, its gradient g z / |z|, through minigen's Abs.) These are
the pieces Meta's LLaMA uses for rotary embeddings: view_as_complex, polar, *, view_as_real.
"""
from __future__ import annotations

from ..autograd import Function, Tensor, _wrap

__all__ = ["view_as_real", "view_as_complex", "real", "imag", "conj", "conj_physical",
           "resolve_conj", "resolve_neg", "polar", "complex", "angle", "is_complex"]


def _need_complex(op, t):
    if t.array.dtype.kind != "c":
        raise RuntimeError(f"{op}: expected a complex tensor, got dtype {t.array.dtype}")


class ViewAsReal(Function):
    def forward(self, z):
        xp = self.xp
        return xp.stack([z.real, z.imag], axis=-1)

    def backward(self, g):
        return view_as_complex(g)


class ViewAsComplex(Function):
    def forward(self, t):
        return t[..., 0] + 1j * t[..., 1]

    def backward(self, g):
        return view_as_real(g)


class Real(Function):
    def forward(self, z):
        return z.real.copy()

    def backward(self, g):
        return complex(g, g * 0)


class Imag(Function):
    def forward(self, z):
        return z.imag.copy()

    def backward(self, g):
        # y = Im z: dL/dx = 0, dL/dy = g, so the gradient is 0 + i g
        return complex(g * 0, g)


class Conj(Function):
    def forward(self, z):
        return self.xp.conj(z)

    def backward(self, g):
        return conj(g)


class Complex(Function):
    def forward(self, re, im):
        return re + 1j * im

    def backward(self, g):
        return real(g), imag(g)


class Polar(Function):
    def forward(self, r, theta):
        xp = self.xp
        u = xp.cos(theta) + 1j * xp.sin(theta)  # e^{i theta}
        z = r * u
        self.save_for_backward(r, theta)
        return z

    def backward(self, g):
        r, theta = self.saved_tensors
        # e^{i theta}, rebuilt from the (differentiable) saved inputs
        u = complex(theta.cos(), theta.sin())
        # dL/dr = Re(g conj(e^{i theta})),  dL/dtheta = Im(g conj(r e^{i theta}))
        gr = real(g * conj(u)) if self.needs_input_grad[0] else None
        gt = imag(g * conj(u) * r) if self.needs_input_grad[1] else None
        return gr, gt


class Angle(Function):
    def forward(self, z):
        self.save_for_backward(z)
        return self.xp.angle(z).astype(z.real.dtype)

    def backward(self, g):
        (z,) = self.saved_tensors
        # theta = atan2(y, x): dtheta/dx = -y / |z|^2, dtheta/dy = x / |z|^2
        x, y = real(z), imag(z)
        r2 = x * x + y * y
        return complex(-g * y / r2, g * x / r2)


def view_as_real(input):
    """A complex tensor as a real one with a last dimension of 2 (real, imaginary)."""
    _need_complex("view_as_real", input)
    return ViewAsReal.apply(input)


def view_as_complex(input):
    """A real tensor whose last dimension is 2 (real, imaginary) as a complex tensor."""
    if input.array.dtype.kind != "f" or input.ndim == 0 or input.shape[-1] != 2:
        raise RuntimeError(f"view_as_complex: tensor must have a last dimension of size 2 and a "
                           f"floating dtype, got shape {list(input.shape)}, dtype {input.dtype}")
    return ViewAsComplex.apply(input)


def real(input):
    """Re z (for a real tensor: the tensor itself, as PyTorch)."""
    return Real.apply(input) if input.array.dtype.kind == "c" else input


def imag(input):
    """Im z; PyTorch refuses it for real tensors."""
    if input.array.dtype.kind != "c":
        raise RuntimeError("imag is not implemented for tensors with non-complex dtypes.")
    return Imag.apply(input)


def conj(input):
    """The complex conjugate (for a real tensor: itself)."""
    return Conj.apply(input) if input.array.dtype.kind == "c" else input


conj_physical = conj


def resolve_conj(input):
    return input


def resolve_neg(input):
    return input


def is_complex(input):
    return input.array.dtype.kind == "c"


def polar(abs, angle):
    """abs (cos angle + i sin angle), for real tensors ``abs`` >= 0 and ``angle``."""
    if abs.array.dtype != angle.array.dtype or abs.array.dtype.kind != "f":
        raise TypeError(f"polar: expected abs and angle of the same floating dtype, got "
                        f"{abs.dtype} and {angle.dtype}")
    return Polar.apply(abs, angle)


def complex(real, imag):
    """real + i imag, from two real tensors of the same floating dtype."""
    if real.array.dtype != imag.array.dtype or real.array.dtype.kind != "f":
        raise TypeError(f"complex: expected real and imag of the same floating dtype (float32 or "
                        f"float64), got {real.dtype} and {imag.dtype}")
    return Complex.apply(real, imag)


def angle(input):
    """The argument atan2(Im z, Re z); for a real tensor 0 or pi (PyTorch's)."""
    if input.array.dtype.kind != "c":
        from .elementwise import where
        from ..creation import full_like
        return where(input < 0, full_like(input, 3.141592653589793), input * 0)
    return Angle.apply(input)


def real_part_for(g, like):
    """The gradient ``g`` as ``like`` receives it: its real part when ``like`` is real."""
    if g is not None and g.array.dtype.kind == "c" and like.array.dtype.kind != "c":
        return real(g)
    return g


TENSOR_METHODS = ["conj", "conj_physical", "resolve_conj", "resolve_neg", "angle"]
TENSOR_PROPERTIES = {"real": real, "imag": imag}
del Tensor, _wrap
