"""Public gradient checking: compare backward against central finite differences.

    minigen.gradcheck(fn, inputs)        first derivatives
    minigen.gradgradcheck(fn, inputs)    second derivatives (the gradient of the gradient)

Central differences, (f(x + eps) - f(x - eps)) / (2 eps), have error O(eps^2); in float64 with
eps = 1e-6 that leaves about 1e-10 of truncation error and 1e-10 of rounding error, so a
mismatch larger than ``atol + rtol * |numeric|`` means the backward is wrong.

``mode="full"`` builds the whole Jacobian both ways (one forward pair per input element, one
backward per output element): exact, and fine for small inputs. ``mode="directional"`` checks
the Jacobian along random directions u (inputs) and v (outputs):
    numeric   v . (f(x + eps u) - f(x - eps u)) / (2 eps)
    analytic  sum_k < grad_{x_k} (v . f), u_k >
two forward passes and one backward per direction, cheap enough for a big convolution.
"""
from __future__ import annotations

import warnings

import numpy

from .autograd import Tensor, _wrap, grad as _grad


class GradcheckError(RuntimeError):
    """Raised when numeric and analytic derivatives disagree; the message has the report."""


def _as_tuple(x):
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _outputs(fn, inputs):
    out = _as_tuple(fn(*inputs))
    return [o for o in out if isinstance(o, Tensor) and o.dtype.kind == "f"]


def _prepare(inputs):
    inputs = _as_tuple(inputs)
    for t in inputs:
        if isinstance(t, Tensor) and t.requires_grad and t.dtype != numpy.float64:
            warnings.warn(
                f"gradcheck: input of dtype {t.dtype} is not float64; finite differences in "
                "single precision are too coarse to trust. Use .double() inputs.",
                UserWarning, stacklevel=3)
    # private copies, so that perturbing them never touches the caller's tensors; each keeps
    # its original's memory layout (copy order "K"), so layout-specific code paths are checked
    copies = []
    for t in inputs:
        if isinstance(t, Tensor):
            c = _wrap(t.xp.array(t.array, copy=True))
            c.requires_grad = t.requires_grad
            copies.append(c)
        else:
            copies.append(t)
    return copies


def _host(t):
    return t.cpu().numpy().astype(numpy.float64)


def _flat_outputs(fn, inputs):
    """Every output of fn(*inputs), as one flat float64 host vector."""
    return numpy.concatenate([_host(o).ravel() for o in _outputs(fn, inputs)] or [numpy.zeros(0)])


def _numeric_jacobian(fn, inputs, k, eps, n_out_total):
    """J[:, j] = (f(x + eps e_j) - f(x - eps e_j)) / (2 eps) for every element j of input k."""
    x = inputs[k]
    cols = []
    for j in range(x.array.size):
        # element j in the row-major order of x's shape, whatever x's memory layout (the
        # private copies keep it: a channels-last input stays channels-last)
        at = numpy.unravel_index(j, x.array.shape)
        orig = float(x.array[at])
        x.array[at] = orig + eps
        plus = _flat_outputs(fn, inputs)
        x.array[at] = orig - eps
        minus = _flat_outputs(fn, inputs)
        x.array[at] = orig
        cols.append((plus - minus) / (2 * eps))
    return numpy.stack(cols, axis=1) if cols else numpy.zeros((n_out_total, 0))


def _analytic_jacobian(fn, inputs, diff):
    """Rows of J for every output element, by backward of one-hot grad_outputs."""
    outs = _outputs(fn, inputs)
    sizes = [o.numel() for o in outs]
    n = sum(sizes)
    jac = {k: numpy.zeros((n, inputs[k].numel())) for k in diff}
    row = 0
    for oi, o in enumerate(outs):
        for e in range(sizes[oi]):
            onehot = numpy.zeros(sizes[oi])
            onehot[e] = 1.0
            gos = [_wrap(oo.xp.zeros_like(oo.array)) for oo in outs]
            gos[oi] = _from_host(onehot.reshape(o.shape), o)
            live = [(q, g) for q, g in zip(outs, gos) if q.requires_grad]
            if live:
                gs = _grad([q for q, _ in live], [inputs[k] for k in diff],
                           grad_outputs=[g for _, g in live], retain_graph=True, allow_unused=True)
                for k, g in zip(diff, gs):
                    if g is not None:
                        jac[k][row] = _host(g).ravel()
            row += 1
    return jac, n


def _from_host(a, like):
    from .backend import _by_array_type
    return _wrap(_by_array_type[type(like.array)].asarray(numpy.asarray(a, dtype=like.dtype)))


def _report(name, k, numeric, analytic, atol, rtol):
    err = numpy.abs(numeric - analytic)
    bad = err > atol + rtol * numpy.abs(numeric)
    if not bad.any():
        return None, float(err.max()) if err.size else 0.0
    lines = [f"{name}: mismatch for input {k}: {int(bad.sum())} of {bad.size} entries differ "
             f"(max abs error {err.max():.3g}, atol={atol}, rtol={rtol})",
             "  index                numeric           analytic"]
    for idx in list(zip(*numpy.nonzero(bad)))[:10]:
        lines.append(f"  {str(tuple(int(i) for i in idx)):<20} {numeric[idx]: .10g}  {analytic[idx]: .10g}")
    return "\n".join(lines), float(err.max())


def _forward_jacobian(fn, inputs, k, n):
    """J[:, j] for input k by forward mode (torch.autograd.forward_ad): tangent e_j."""
    from .autograd import forward_ad as fwAD
    x = inputs[k]
    cols = []
    for j in range(x.numel()):
        onehot = numpy.zeros(x.numel())
        onehot[j] = 1.0
        with fwAD.dual_level():
            args = list(inputs)
            args[k] = fwAD.make_dual(x, _from_host(onehot.reshape(tuple(x.shape)), x))
            parts = []
            for o in _outputs(fn, args):
                tan = fwAD.unpack_dual(o).tangent
                parts.append(numpy.zeros(o.numel()) if tan is None else _host(tan).ravel())
        cols.append(numpy.concatenate(parts) if parts else numpy.zeros(0))
    return numpy.stack(cols, axis=1) if cols else numpy.zeros((n, 0))


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, mode="full", raise_exception=True,
              n_directions=3, seed=0, _name="gradcheck", *, nondet_tol=0.0,
              check_undefined_grad=True, check_grad_dtypes=False, check_batched_grad=False,
              check_batched_forward_grad=False, check_forward_ad=False, check_backward_ad=True,
              fast_mode=False, masked=None):
    """Check the first derivatives of ``fn`` at ``inputs`` (tensors with requires_grad=True).

    Returns True when they agree; otherwise raises ``GradcheckError`` with a report of numeric
    against analytic values (or returns False with ``raise_exception=False``).
    PyTorch's keywords: ``check_backward_ad`` (default True) compares reverse-mode gradients,
    ``check_forward_ad`` (default False) compares forward-mode Jacobian columns
    (``torch.autograd.forward_ad``) with the numeric ones (full mode). ``check_undefined_grad``,
    ``check_batched_grad``, ``check_batched_forward_grad``, ``check_grad_dtypes``, ``fast_mode``,
    ``nondet_tol`` and ``masked`` are accepted and do not add checks here.
    """
    if check_forward_ad and mode == "full":
        fin = _prepare(inputs)
        fdiff = [k for k, t in enumerate(fin) if isinstance(t, Tensor) and t.requires_grad]
        n = sum(o.numel() for o in _outputs(fn, fin))
        fproblems = []
        for k in fdiff:
            msg, _ = _report(_name + " (forward AD)", k, _numeric_jacobian(fn, fin, k, eps, n),
                             _forward_jacobian(fn, fin, k, n), atol, rtol)
            if msg:
                fproblems.append(msg)
        if fproblems:
            if raise_exception:
                raise GradcheckError("Jacobian mismatch\n" + "\n".join(fproblems))
            return False
    if not check_backward_ad:
        return True
    if mode not in ("full", "directional"):
        raise ValueError(f"gradcheck: mode must be 'full' or 'directional', got {mode!r}")
    inputs = _prepare(inputs)
    diff = [k for k, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    if not diff:
        raise ValueError("gradcheck: no input requires grad; nothing to check")
    problems = []
    if mode == "full":
        analytic, n = _analytic_jacobian(fn, inputs, diff)
        for k in diff:
            numeric = _numeric_jacobian(fn, inputs, k, eps, n)
            msg, _ = _report(_name, k, numeric, analytic[k], atol, rtol)
            if msg:
                problems.append(msg)
    else:
        rng = numpy.random.default_rng(seed)
        for d in range(n_directions):
            us = {k: rng.standard_normal(inputs[k].shape) for k in diff}
            outs = _outputs(fn, inputs)
            vs = [rng.standard_normal(o.shape) for o in outs]
            live = [(o, _from_host(v, o)) for o, v in zip(outs, vs) if o.requires_grad]
            analytic = 0.0
            if live:
                gs = _grad([o for o, _ in live], [inputs[k] for k in diff],
                           grad_outputs=[g for _, g in live], allow_unused=True)
                analytic = sum(float((_host(g) * us[k]).sum()) for k, g in zip(diff, gs) if g is not None)
            saved = {k: inputs[k].array.copy() for k in diff}
            vals = []
            for sgn in (1, -1):
                for k in diff:
                    inputs[k].array[...] = saved[k] + sgn * eps * _from_host(us[k], inputs[k]).array
                vals.append(sum(float((_host(o) * v).sum()) for o, v in zip(_outputs(fn, inputs), vs)))
            for k in diff:
                inputs[k].array[...] = saved[k]
            numeric = (vals[0] - vals[1]) / (2 * eps)
            if abs(numeric - analytic) > atol + rtol * abs(numeric):
                problems.append(f"{_name}: direction {d}: numeric {numeric:.10g} vs analytic "
                                f"{analytic:.10g} (abs error {abs(numeric - analytic):.3g})")
    if problems:
        if raise_exception:
            raise GradcheckError("Jacobian mismatch\n" + "\n".join(problems))
        return False
    return True


def gradgradcheck(fn, inputs, grad_outputs=None, eps=1e-6, atol=1e-5, rtol=1e-3, mode="full",
                  raise_exception=True, n_directions=3, seed=0):
    """Check second derivatives: gradcheck of (x, v) -> grad(fn(x), x, v, create_graph=True)."""
    inputs = _prepare(inputs)
    diff = [k for k, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    outs = _outputs(fn, inputs)
    rng = numpy.random.default_rng(seed + 1)
    if grad_outputs is None:
        grad_outputs = [_from_host(rng.standard_normal(o.shape), o) for o in outs]
    gos = []
    for g in _as_tuple(grad_outputs):
        c = _wrap(g.xp.array(g.array, copy=True))
        c.requires_grad = True
        gos.append(c)
    n_in = len(inputs)

    def first_derivative(*args):
        xs, vs = list(args[:n_in]), list(args[n_in:])
        ys = _outputs(fn, xs)
        live = [(y, v) for y, v in zip(ys, vs) if y.requires_grad]
        if not live:
            return ()
        gs = _grad([y for y, _ in live], [xs[k] for k in diff],
                   grad_outputs=[v for _, v in live], create_graph=True, allow_unused=True)
        # an input the first derivative does not depend on contributes zeros
        return tuple(g if g is not None else _wrap(xs[k].xp.zeros_like(xs[k].array))
                     for k, g in zip(diff, gs))

    return gradcheck(first_derivative, list(inputs) + gos, eps=eps, atol=atol, rtol=rtol,
                     mode=mode, raise_exception=raise_exception, n_directions=n_directions,
                     seed=seed, _name="gradgradcheck")
