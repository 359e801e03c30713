"""``torch.autograd.functional``: whole Jacobians and Hessians, and the products that avoid them.

For ``y = f(x)`` with x in R^n and y in R^m:

    vjp(f, x, v) = v^T J                    one backward pass
    jvp(f, x, u) = J u                      two backward passes: with g(v) = v^T J (linear in
                                            v, recorded), J u = d(g(v) . u)/dv
    jacobian(f, x) = J                      m backward passes, one per output element (row i:
                                            the vjp with the i-th unit vector)
    hessian(f, x) = d^2 f / dx^2            the Jacobian of the gradient (f scalar)
    hvp(f, x, u) = H u,  vhp(f, x, v) = v^T H   (H symmetric: the same numbers)

``inputs`` may be one tensor or a tuple; the results follow PyTorch's nesting: a Jacobian is a
tensor of shape y.shape + x.shape for one input and one output, a tuple per input otherwise.
"""
from __future__ import annotations

from ..graph import grad as _grad


def _as_tuple(x):
    """(a tuple of tensors, whether x was already a tuple)."""
    return ((x,), False) if not isinstance(x, (tuple, list)) else (tuple(x), True)


def _prepare(inputs, create_graph):
    return tuple(t.detach().requires_grad_(True) if not (create_graph and t.requires_grad) else t
                 for t in inputs)


def _grads(outputs, inputs, grad_outputs, create_graph):
    got = _grad(outputs, inputs, grad_outputs, retain_graph=True, create_graph=create_graph,
                allow_unused=True)
    from ..creation import zeros_like
    return tuple(zeros_like(x) if g is None else g for x, g in zip(inputs, got))


def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), v^T J): the function's output and the vector-Jacobian product."""
    from . import enable_grad
    ins, many = _as_tuple(inputs)
    with enable_grad():
        ins = _prepare(ins, create_graph)
        out = func(*ins)
        outs, many_out = _as_tuple(out)
        vs = (None,) * len(outs) if v is None else _as_tuple(v)[0]
        vs = tuple(_ones_if_scalar(o, w) for o, w in zip(outs, vs))
        g = _grads(list(outs), list(ins), list(vs), create_graph)
    out = tuple(o if create_graph else o.detach() for o in outs)
    return (out if many_out else out[0]), (g if many else g[0])


def _ones_if_scalar(o, v):
    if v is not None:
        return v
    if o.numel() != 1:
        raise RuntimeError("vjp: the function's output has more than one element; pass v "
                           f"(got output shape {list(o.shape)})")
    from ..creation import ones_like
    return ones_like(o)


def jvp_by_double_backward(outputs, inputs, tangents, create_graph=False):
    """J t of ``outputs`` with respect to ``inputs`` along ``tangents``, by reverse mode twice:
    g(w) = w^T J is linear in a free w (one per output, recorded), so J t = d(g(w) . t)/dw.
    One entry per output, None where no tangent reaches it. (``jvp`` here, ``torch.func.jvp``
    and ``torch.autograd.forward_ad`` all compute J t this way.)"""
    from . import enable_grad
    from ..creation import zeros_like
    with enable_grad():
        ws = [zeros_like(o).requires_grad_(True) for o in outputs]
        gs = _grad(list(outputs), list(inputs), ws, retain_graph=True, create_graph=True,
                   allow_unused=True)
        terms = [(g * t).sum() for g, t in zip(gs, tangents) if g is not None and g.requires_grad]
        if not terms:
            return [None] * len(ws)
        return list(_grad([sum(terms)], ws, None, retain_graph=True, create_graph=create_graph,
                          allow_unused=True))


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), J u), by the double-backward trick (see the module docstring)."""
    from . import enable_grad
    from ..creation import zeros_like
    ins, many = _as_tuple(inputs)
    with enable_grad():
        ins = _prepare(ins, create_graph)
        outs, many_out = _as_tuple(func(*ins))
        us = _as_tuple(v)[0] if v is not None else tuple(_ones_if_scalar(x, None) for x in ins)
        ju = jvp_by_double_backward(outs, ins, us, create_graph)
    ju = [zeros_like(o) if j is None else j for o, j in zip(outs, ju)]
    out = tuple(o if create_graph else o.detach() for o in outs)
    ju = tuple(j if create_graph else j.detach() for j in ju)
    return (out if many_out else out[0]), (ju if many_out else ju[0])


def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False, strategy="reverse-mode"):
    """J[i][j] = d out_i / d in_j, one backward pass per output element."""
    from . import enable_grad
    from ..ops import stack
    from ..creation import zeros_like
    ins, many = _as_tuple(inputs)
    with enable_grad():
        ins = _prepare(ins, create_graph)
        outs, many_out = _as_tuple(func(*ins))
        result = []
        for o in outs:
            flat = o.reshape(-1)
            rows = []
            for k in range(flat.shape[0]):
                if flat.requires_grad:
                    rows.append(_grads([flat[k]], list(ins), None, create_graph))
                else:
                    rows.append(tuple(zeros_like(x) for x in ins))
            per_input = []
            for j, x in enumerate(ins):
                if rows:
                    J = stack([r[j] for r in rows]).reshape(tuple(o.shape) + tuple(x.shape))
                else:
                    J = zeros_like(x).reshape((0,) + tuple(x.shape)).reshape(
                        tuple(o.shape) + tuple(x.shape))
                per_input.append(J if create_graph else J.detach())
            result.append(tuple(per_input) if many else per_input[0])
    return tuple(result) if many_out else result[0]


def hessian(func, inputs, create_graph=False, strict=False, vectorize=False,
            outer_jacobian_strategy="reverse-mode"):
    """The matrix of second derivatives of a scalar function: the Jacobian of its gradient."""
    ins, many = _as_tuple(inputs)

    def gradient(*xs):
        out = func(*xs)
        if out.numel() != 1:
            raise RuntimeError(f"hessian: the function must return a single-element tensor, got "
                               f"shape {list(out.shape)}")
        g = _grads([out.reshape(())], list(xs), None, True)
        return g if many else g[0]
    return jacobian(gradient, ins if many else ins[0], create_graph=create_graph)


def vhp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), v^T H) for a scalar function."""
    from . import enable_grad
    ins, many = _as_tuple(inputs)
    vs = _as_tuple(v)[0]
    with enable_grad():
        ins = _prepare(ins, create_graph)
        out = func(*ins)
        gs = _grads([out.reshape(())], list(ins), None, True)
        total = sum(((g * u).sum() for g, u in zip(gs, vs)), start=0.0 * out.reshape(()))
        hv = _grads([total], list(ins), None, create_graph)
    hv = tuple(h if create_graph else h.detach() for h in hv)
    return (out if create_graph else out.detach()), (hv if many else hv[0])


def hvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), H v): for the symmetric Hessian of a smooth scalar function, v^T H."""
    return vhp(func, inputs, v, create_graph, strict)
