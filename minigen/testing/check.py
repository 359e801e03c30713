"""Check a differentiable op the way minigen checks its own.

    check_op(fn, reference, inputs, device="cpu")

runs four checks and raises one ``AssertionError`` that lists every problem it found:

1. **forward**: ``fn(*tensors)`` against ``reference(*numpy_float64_arrays)``, an independent
   NumPy implementation: same number of outputs, same shapes, same kind of dtype, the device of
   the inputs, values within ``forward_atol + forward_rtol * |reference|``;
2. **first derivatives**: ``minigen.gradcheck`` (central finite differences against backward);
3. **second derivatives**: ``minigen.gradgradcheck`` when ``second_order=True``;
4. **no mutation**: the data of every input (and of the upstream gradient) is the same after a
   forward and a backward as before, and each gradient has its input's shape, dtype and device.

``check_broadcasting(fn, reference, shape_a, shape_b, device)`` checks a binary op on one pair
of shapes: the broadcast result shape and values, and that each input's gradient is the
upstream gradient times the local derivative *summed back* to that input's shape (the adjoint of
broadcasting). Shapes that cannot broadcast must raise a ``RuntimeError`` naming both.

``jacobian_error(fn, inputs, order=1)`` measures the largest |numeric - analytic| entry of the
Jacobian (of the first derivative when ``order=2``); the ``gradcheck_table`` prints it.
"""
from __future__ import annotations

import time

import numpy

__all__ = ["check_op", "check_broadcasting", "jacobian_error", "sum_to_reference",
           "as_device_tensors"]


# ----------------------------------------------------------------------------- helpers
def _minigen():
    import minigen
    return minigen


def _flatten(out):
    """An op's result as a list: a Tensor, a tuple/list of them, a namedtuple (values, indices)."""
    if isinstance(out, (tuple, list)):
        return list(out)
    return [out]


def _is_tensor(x):
    return isinstance(x, _minigen().Tensor)


def _is_float(t):
    return t.dtype.kind == "f"


def as_device_tensors(inputs, device):
    """Tensors on ``device`` from ``inputs`` (Tensors or NumPy arrays).

    NumPy float arrays become leaves that require grad; a Tensor on another device is copied
    over as a new leaf that keeps its ``requires_grad``; a Tensor already there is used as is.
    """
    mg = _minigen()
    out = []
    for x in inputs:
        if _is_tensor(x):
            if x.device != device:
                t = mg.tensor(x.cpu().numpy(), dtype=x.dtype, device=device)
                if x.requires_grad:
                    t.requires_grad_(True)
                x = t
            out.append(x)
        else:
            a = numpy.asarray(x)
            out.append(mg.tensor(a, dtype=a.dtype, device=device,
                                 requires_grad=a.dtype.kind == "f"))
    return out


def sum_to_reference(g, shape):
    """NumPy: sum ``g`` down to ``shape`` (the reverse of broadcasting ``shape`` up to g's shape).

    Leading dims that broadcasting added are summed away; dims where ``shape`` has 1 and ``g``
    does not are summed with keepdims.
    """
    g = numpy.asarray(g)
    lead = g.ndim - len(shape)
    if lead:
        g = g.sum(axis=tuple(range(lead)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return g.reshape(shape)


def _compare(label, got, want, atol, rtol):
    """A problem line if two host arrays differ, else None."""
    if got.shape != want.shape:
        return f"{label}: shape {list(got.shape)} but the reference has shape {list(want.shape)}"
    if got.size == 0:
        return None
    if want.dtype.kind == "b" or got.dtype.kind == "b":
        bad = got != want
        if bad.any():
            return f"{label}: {int(bad.sum())} of {bad.size} boolean entries differ"
        return None
    g = got.astype(numpy.float64)
    w = want.astype(numpy.float64)
    same_nan = numpy.isnan(g) == numpy.isnan(w)
    both = ~numpy.isnan(g) & ~numpy.isnan(w)
    err = numpy.zeros_like(g)
    with numpy.errstate(invalid="ignore"):
        err[both] = numpy.abs(g[both] - w[both])
        # equal infinities count as equal
        err[both & (g == w)] = 0.0
    bad = (~same_nan) | (err > atol + rtol * numpy.abs(numpy.where(both, w, 0.0)))
    if not bad.any():
        return None
    lines = [f"{label}: {int(bad.sum())} of {bad.size} entries differ (max abs error "
             f"{float(err.max()):.3g}, atol={atol}, rtol={rtol})",
             "    index                got                 reference"]
    for idx in list(zip(*numpy.nonzero(bad)))[:8]:
        lines.append(f"    {str(tuple(int(i) for i in idx)):<20} {g[idx]: .12g}   {w[idx]: .12g}")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- check_op
def check_op(fn, reference, inputs, device="cpu", second_order=True, atol=1e-5, rtol=1e-3,
             gradcheck_mode="full", forward_atol=1e-7, forward_rtol=1e-7, eps=1e-6, name=None):
    """Check ``fn`` against ``reference`` and its derivatives against finite differences.

    ``fn`` takes minigen tensors and returns a tensor (or a tuple of them); ``reference`` takes
    the same inputs as NumPy arrays (floating ones as float64) and returns the expected
    result(s). ``inputs`` are Tensors or NumPy arrays (see ``as_device_tensors``); the ones that
    require grad are differentiated. Use float64 inputs: finite differences in float32 are too
    coarse to trust (gradcheck warns).

    ``atol``/``rtol`` are gradcheck's tolerances, ``forward_atol``/``forward_rtol`` the forward's.
    Returns a dict of timings (seconds) on success; raises ``AssertionError`` with a report of
    every failed check otherwise.
    """
    mg = _minigen()
    name = name or getattr(fn, "__name__", "op")
    tensors = as_device_tensors(inputs, device)
    where = f"check_op({name}) on device '{device}'"
    problems = []
    timings = {}

    # 1. forward against the reference ------------------------------------------------------
    t0 = time.perf_counter()
    before = [t.cpu().numpy().copy() for t in tensors]  # (snapshots: numpy() shares memory)
    outs = _flatten(fn(*tensors))
    ref_args = [a.astype(numpy.float64) if a.dtype.kind == "f" else a.copy() for a in before]
    refs = [numpy.asarray(r) for r in _flatten(reference(*ref_args))]
    all_f64 = all(t.dtype == numpy.float64 for t in tensors if _is_float(t))
    if len(outs) != len(refs):
        problems.append(f"forward: {len(outs)} outputs but the reference gives {len(refs)}")
    for i, (o, r) in enumerate(zip(outs, refs)):
        label = f"forward output {i}"
        if not _is_tensor(o):
            problems.append(f"{label}: expected a Tensor, got {type(o).__name__}")
            continue
        if o.device != device:
            problems.append(f"{label}: on device '{o.device}', inputs were on '{device}'")
        if o.dtype.kind != r.dtype.kind and not (o.dtype.kind in "iu" and r.dtype.kind in "iu"):
            problems.append(f"{label}: dtype {o.dtype} but the reference gives {r.dtype}")
        elif o.dtype.kind == "f" and all_f64 and o.dtype != numpy.float64:
            problems.append(f"{label}: float64 inputs gave a {o.dtype} output")
        msg = _compare(label, o.cpu().numpy(), r, forward_atol, forward_rtol)
        if msg:
            problems.append(msg)
    timings["forward"] = time.perf_counter() - t0

    # 2. one backward; then nothing may have changed -----------------------------------------
    diff = [t for t in tensors if t.requires_grad]
    live = [o for o in outs if _is_tensor(o) and _is_float(o) and o.requires_grad]
    if diff and live:
        rng = numpy.random.default_rng(0)
        vs = [mg.tensor(rng.standard_normal(o.shape), dtype=o.dtype, device=device) for o in live]
        vs_before = [v.cpu().numpy().copy() for v in vs]
        gs = mg.grad(live, diff, grad_outputs=vs, allow_unused=True)
        for k, (t, g) in enumerate(zip(diff, gs)):
            if g is None:
                continue
            if g.shape != t.shape or g.dtype != t.dtype or g.device != t.device:
                problems.append(
                    f"backward: the gradient of differentiable input {k} has shape "
                    f"{list(g.shape)}, dtype {g.dtype}, device '{g.device}'; the input has "
                    f"{list(t.shape)}, {t.dtype}, '{t.device}'")
        for k, (v, b) in enumerate(zip(vs, vs_before)):
            if not numpy.array_equal(v.cpu().numpy(), b, equal_nan=True):
                problems.append(f"mutation: backward changed the upstream gradient of output {k}")
    elif diff and not live:
        problems.append("backward: inputs require grad but no floating output requires grad "
                        "(is the op cut off from the graph?)")
    for k, (t, b) in enumerate(zip(tensors, before)):
        if not numpy.array_equal(t.cpu().numpy(), b, equal_nan=True):
            problems.append(f"mutation: input {k} (shape {list(t.shape)}) was changed by the "
                            "forward or backward pass")

    # 3. and 4. finite differences ------------------------------------------------------------
    if diff:
        t0 = time.perf_counter()
        try:
            mg.gradcheck(fn, tensors, eps=eps, atol=atol, rtol=rtol, mode=gradcheck_mode)
        except mg.GradcheckError as e:
            problems.append(f"first derivatives ({gradcheck_mode}):\n{e}")
        timings["gradcheck"] = time.perf_counter() - t0
        if second_order:
            t0 = time.perf_counter()
            try:
                mg.gradgradcheck(fn, tensors, eps=eps, atol=atol, rtol=rtol, mode=gradcheck_mode)
            except mg.GradcheckError as e:
                problems.append(f"second derivatives ({gradcheck_mode}):\n{e}")
            timings["gradgradcheck"] = time.perf_counter() - t0

    if problems:
        raise AssertionError(f"{where} failed {len(problems)} check(s):\n"
                             + "\n".join("  - " + p.replace("\n", "\n    ") for p in problems))
    return timings


# ----------------------------------------------------------------------------- broadcasting
def check_broadcasting(fn, reference, shape_a, shape_b, device="cpu", grad_reference=None,
                       inputs=None, seed=0, atol=1e-7, rtol=1e-7, differentiable=True):
    """Check the binary op ``fn(a, b)`` on inputs of shapes ``shape_a`` and ``shape_b``.

    * If the shapes broadcast: the result has the broadcast shape and ``reference``'s values;
      if it is differentiable, each gradient has its input's shape, and with ``grad_reference``
      (``(a, b, g) -> (dL/da, dL/db)`` in the *broadcast* shape, NumPy) the gradients equal
      those summed back to each input's shape. Without ``grad_reference`` the gradients are
      checked by ``minigen.gradcheck`` instead.
    * If they do not: ``fn`` must raise ``RuntimeError`` whose message names both shapes.

    ``inputs`` optionally gives the two NumPy arrays (from ``strategies.arrays``); otherwise
    they are drawn from a standard normal with ``seed``.
    """
    mg = _minigen()
    shape_a, shape_b = tuple(shape_a), tuple(shape_b)
    if inputs is None:
        rng = numpy.random.default_rng(seed)
        inputs = (rng.standard_normal(shape_a), rng.standard_normal(shape_b))
    a_np, b_np = (numpy.asarray(x) for x in inputs)
    where = (f"check_broadcasting({getattr(fn, '__name__', 'op')}, {list(shape_a)}, "
             f"{list(shape_b)}) on '{device}'")
    a = mg.tensor(a_np, dtype=a_np.dtype, device=device,
                  requires_grad=differentiable and a_np.dtype.kind == "f")
    b = mg.tensor(b_np, dtype=b_np.dtype, device=device,
                  requires_grad=differentiable and b_np.dtype.kind == "f")
    try:
        out_shape = numpy.broadcast_shapes(shape_a, shape_b)
    except ValueError:
        try:
            fn(a, b)
        except RuntimeError as e:
            msg = str(e)
            for s in (shape_a, shape_b):
                if str(list(s)) not in msg:
                    raise AssertionError(f"{where}: the error does not name shape {list(s)}: {msg}")
            return
        raise AssertionError(f"{where}: shapes that cannot broadcast did not raise RuntimeError")

    y = fn(a, b)
    want = numpy.asarray(reference(a_np.copy(), b_np.copy()))
    if tuple(y.shape) != out_shape:
        raise AssertionError(f"{where}: result shape {list(y.shape)}, expected {list(out_shape)}")
    msg = _compare(f"{where}: forward", y.cpu().numpy(), want, atol, rtol)
    if msg:
        raise AssertionError(msg)
    if not differentiable:
        return
    rng = numpy.random.default_rng(seed + 1)
    g_np = rng.standard_normal(out_shape)
    ga, gb = mg.grad(y, [a, b], grad_outputs=mg.tensor(g_np, dtype=y.dtype, device=device),
                     allow_unused=True)
    for label, t, g in (("a", a, ga), ("b", b, gb)):
        if g is not None and (g.shape != t.shape or g.device != device):
            raise AssertionError(f"{where}: gradient of {label} has shape {list(g.shape)} on "
                                 f"'{g.device}', expected {list(t.shape)} on '{device}'")
    if grad_reference is not None:
        da, db = grad_reference(a_np.copy(), b_np.copy(), g_np.copy())
        for label, t, g, full in (("a", a, ga, da), ("b", b, gb, db)):
            expect = sum_to_reference(numpy.broadcast_to(full, out_shape), t.shape)
            got = numpy.zeros(t.shape) if g is None else g.cpu().numpy()
            msg = _compare(f"{where}: gradient of {label}", got, expect, 1e-7, 1e-7)
            if msg:
                raise AssertionError(msg)
    elif a.requires_grad or b.requires_grad:
        try:
            mg.gradcheck(fn, [a, b])
        except mg.GradcheckError as e:
            raise AssertionError(f"{where}:\n{e}") from None


# ----------------------------------------------------------------------------- measuring
def _float_outputs(fn, xs):
    """The floating tensors among ``fn(*xs)``'s outputs (the differentiable ones)."""
    return [o for o in _flatten(fn(*xs)) if _is_tensor(o) and _is_float(o)]


def jacobian_error(fn, inputs, order=1, eps=1e-6, seed=0):
    """The largest |numeric - analytic| entry of the Jacobian of ``fn`` at ``inputs``.

    ``order=2`` measures the Jacobian of the first derivative instead: of
    ``(x, v) -> grad(fn(x), x, v, create_graph=True)`` for a fixed random ``v``. Built from the
    public API only (``minigen.grad`` and central differences), independently of
    ``minigen.gradcheck``: a second opinion, and the number the gradcheck table prints.
    """
    mg = _minigen()
    xs = []
    for t in inputs:  # private copies: perturbing them never touches the caller's tensors
        c = mg.tensor(t.cpu().numpy(), dtype=t.dtype, device=t.device)
        c.requires_grad = t.requires_grad
        xs.append(c)
    diff = [k for k, t in enumerate(xs) if t.requires_grad]
    if order == 2:
        rng = numpy.random.default_rng(seed + 1)
        n_in = len(xs)
        vs = []
        for o in _float_outputs(fn, xs):
            v = mg.tensor(rng.standard_normal(o.shape), dtype=o.dtype, device=o.device)
            v.requires_grad = True
            vs.append(v)

        def first(*args):
            ys = _float_outputs(fn, list(args[:n_in]))
            live = [(y, v) for y, v in zip(ys, args[n_in:]) if y.requires_grad]
            if not live:
                return ()
            gs = mg.grad([y for y, _ in live], [args[k] for k in diff],
                         grad_outputs=[v for _, v in live], create_graph=True, allow_unused=True)
            return tuple(g if g is not None else mg.zeros_like(args[k])
                         for k, g in zip(diff, gs))

        return jacobian_error(first, xs + vs, order=1, eps=eps, seed=seed)

    outs = _float_outputs(fn, xs)
    sizes = [o.numel() for o in outs]
    worst = 0.0
    for k in diff:
        x = xs[k]
        host = x.cpu().numpy()
        flat = host.reshape(-1)
        numeric = numpy.zeros((sum(sizes), flat.size))
        for j in range(flat.size):
            cols = []
            for sgn in (1.0, -1.0):
                p = flat.copy()
                p[j] += sgn * eps
                x.array = mg.tensor(p.reshape(host.shape), dtype=x.dtype, device=x.device).array
                cols.append(numpy.concatenate(
                    [o.cpu().numpy().astype(numpy.float64).ravel() for o in _float_outputs(fn, xs)]
                    or [numpy.zeros(0)]))
            numeric[:, j] = (cols[0] - cols[1]) / (2 * eps)
        x.array = mg.tensor(host, dtype=x.dtype, device=x.device).array
        analytic = numpy.zeros_like(numeric)
        outs = _float_outputs(fn, xs)
        row = 0
        for oi, o in enumerate(outs):
            for e in range(sizes[oi]):
                if o.requires_grad:
                    onehot = numpy.zeros(sizes[oi])
                    onehot[e] = 1.0
                    (g,) = mg.grad(o, [x], grad_outputs=mg.tensor(
                        onehot.reshape(o.shape), dtype=o.dtype, device=o.device),
                        retain_graph=True, allow_unused=True)
                    if g is not None:
                        analytic[row] = g.cpu().numpy().astype(numpy.float64).ravel()
                row += 1
        if numeric.size:
            worst = max(worst, float(numpy.abs(numeric - analytic).max()))
    return worst
