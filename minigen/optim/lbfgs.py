"""L-BFGS (Nocedal, 1980; Liu and Nocedal, 1989), as PyTorch's ``optim.LBFGS`` runs it.

All parameters are one flat vector x with gradient g. From the last m steps s_i = x_{i+1} - x_i
and gradient changes y_i = g_{i+1} - g_i (kept only when y_i . s_i > 1e-10, the curvature
condition), the two-loop recursion applies an approximate inverse Hessian H to g without
forming it:

    q = -g
    for i = newest .. oldest:   a_i = rho_i s_i . q,    q <- q - a_i y_i       (rho_i = 1 / y_i . s_i)
    r = gamma q                 gamma = (y . s) / (y . y) of the newest pair   ('H_diag')
    for i = oldest .. newest:   b_i = rho_i y_i . r,    r <- r + (a_i - b_i) s_i
    d = r                       (the search direction, ~ -H g)

and x <- x + t d with t = min(1, 1 / sum|g|) lr on the very first iteration, lr after.
One ``step(closure)`` runs up to ``max_iter`` such iterations, re-evaluating the loss and
gradient through ``closure`` after each, and stops early when max|g| <= tolerance_grad, when
the directional derivative g . d > -tolerance_change, when the step or the change in loss
falls below tolerance_change, or after ``max_eval`` evaluations.

``line_search_fn='strong_wolfe'`` replaces the fixed step by a line search for a t that meets
the strong Wolfe conditions (Nocedal and Wright, 2006, algorithms 3.5 and 3.6, with the
safeguarded cubic interpolation of Schmidt's minFunc, as PyTorch does), with phi(t) = f(x + t d):

    sufficient decrease:   phi(t) <= phi(0) + c1 t phi'(0)          c1 = 1e-4
    curvature:             |phi'(t)| <= -c2 phi'(0)                  c2 = 0.9

Bracketing: from t, while neither holds nor the function rose, extrapolate to the minimiser of
the cubic through (t_prev, t) kept in [t + 0.01 (t - t_prev), 10 t]. Zoom: shrink the bracket by
cubic interpolation, keeping the new point at least 10% of the bracket's width from its ends
(after one step that came too close), until the conditions hold, the bracket is narrower than
tolerance_change / max|d|, or 25 evaluations are spent.
"""
from __future__ import annotations

import math

from ..autograd import no_grad
from .optimizer import Optimizer

__all__ = ["LBFGS"]


def _cubic_min(x1, f1, g1, x2, f2, g2, bounds=None):
    """The minimiser of the cubic with values f and slopes g at x1 and x2, clipped to ``bounds``
    (by default the interval between them); the midpoint when the cubic has no minimum."""
    lo, hi = bounds if bounds is not None else (min(x1, x2), max(x1, x2))
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    disc = d1 * d1 - g1 * g2
    if disc < 0:
        return (lo + hi) / 2.0
    d2 = math.sqrt(disc)
    if x1 <= x2:
        t = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
    else:
        t = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
    return min(max(t, lo), hi)


def _strong_wolfe(phi, t, f0, g0, gtd0, xp, d, c1=1e-4, c2=0.9, tolerance_change=1e-9,
                  max_ls=25):
    """Line search along d from the point with loss f0, gradient g0 and slope gtd0 = g0 . d.
    ``phi(t)`` evaluates (loss, flat gradient) at x + t d. Returns (loss, gradient, t, evals)."""
    d_norm = float(xp.abs(d).max())
    f_t, g_t = phi(t)
    evals = 1
    s_t = float(g_t.dot(d))
    # the previous point of the bracketing phase starts at t = 0
    t_p, f_p, g_p, s_p = 0.0, f0, g0.copy(), gtd0
    done = False
    it = 0
    pts = None  # the bracket: lists of [t, f, g, slope] for its two ends
    while it < max_ls:
        if f_t > f0 + c1 * t * gtd0 or (it > 1 and f_t >= f_p):
            pts = [[t_p, f_p, g_p, s_p], [t, f_t, g_t.copy(), s_t]]
            break
        if abs(s_t) <= -c2 * gtd0:
            pts = [[t, f_t, g_t, s_t]]
            done = True
            break
        if s_t >= 0:
            pts = [[t_p, f_p, g_p, s_p], [t, f_t, g_t.copy(), s_t]]
            break
        # extrapolate: the cubic's minimiser, at least 1% beyond t and at most 10 t
        t_new = _cubic_min(t_p, f_p, s_p, t, f_t, s_t, bounds=(t + 0.01 * (t - t_p), t * 10))
        t_p, f_p, g_p, s_p = t, f_t, g_t.copy(), s_t
        t = t_new
        f_t, g_t = phi(t)
        evals += 1
        s_t = float(g_t.dot(d))
        it += 1
    if it == max_ls:
        # no bracket within the budget: the best of t = 0 and the last t
        pts = [[0.0, f0, g0, gtd0], [t, f_t, g_t, s_t]]

    # zoom: pts[lo] is the end with the lower loss
    lo, hi = (0, 1) if pts[0][1] <= pts[-1][1] else (1, 0)
    too_close = False
    while not done and it < max_ls:
        a, b = pts[0][0], pts[1][0]
        if abs(b - a) * d_norm < tolerance_change:
            break
        t = _cubic_min(pts[0][0], pts[0][1], pts[0][3], pts[1][0], pts[1][1], pts[1][3])
        # keep t at least 10% of the bracket's width from its ends after a too-close step
        width_eps = 0.1 * (max(a, b) - min(a, b))
        if min(max(a, b) - t, t - min(a, b)) < width_eps:
            if too_close or t >= max(a, b) or t <= min(a, b):
                t = max(a, b) - width_eps if abs(t - max(a, b)) < abs(t - min(a, b)) \
                    else min(a, b) + width_eps
                too_close = False
            else:
                too_close = True
        else:
            too_close = False
        f_t, g_t = phi(t)
        evals += 1
        s_t = float(g_t.dot(d))
        it += 1
        if f_t > f0 + c1 * t * gtd0 or f_t >= pts[lo][1]:
            # not enough decrease: t becomes the high end
            pts[hi] = [t, f_t, g_t.copy(), s_t]
            lo, hi = (0, 1) if pts[0][1] <= pts[1][1] else (1, 0)
        else:
            if abs(s_t) <= -c2 * gtd0:
                done = True
            elif s_t * (pts[hi][0] - pts[lo][0]) >= 0:
                # the minimum lies between lo and t: the old low end becomes the high end
                pts[hi] = list(pts[lo])
            pts[lo] = [t, f_t, g_t.copy(), s_t]
    t, f_t, g_t = pts[lo][0], pts[lo][1], pts[lo][2]
    return f_t, g_t, t, evals


class LBFGS(Optimizer):
    """``LBFGS(params, lr=1, max_iter=20, max_eval=None, tolerance_grad=1e-7,
    tolerance_change=1e-9, history_size=100, line_search_fn=None)``; one parameter group;
    ``step`` needs a closure that zeroes the gradients, computes the loss, calls
    ``backward`` and returns the loss."""

    def __init__(self, params, lr=1, max_iter=20, max_eval=None, tolerance_grad=1e-7,
                 tolerance_change=1e-9, history_size=100, line_search_fn=None):
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        if line_search_fn not in (None, "strong_wolfe"):
            raise RuntimeError("only 'strong_wolfe' is supported")
        super().__init__(params, dict(lr=lr, max_iter=max_iter, max_eval=max_eval,
                                      tolerance_grad=tolerance_grad,
                                      tolerance_change=tolerance_change,
                                      history_size=history_size, line_search_fn=line_search_fn))
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        self._params = self.param_groups[0]["params"]

    def _flat_grad(self):
        xp = self._params[0].xp
        parts = [p.grad.array.reshape(-1) if p.grad is not None else xp.zeros(p.array.size, p.dtype)
                 for p in self._params]
        return xp.concatenate(parts)

    def _get_x(self):
        return [p.array.copy() for p in self._params]

    def _set_x(self, xs):
        for p, x in zip(self._params, xs):
            p.array[...] = x

    def _add(self, t, d):
        """x <- x + t d, d cut back into the parameters' shapes."""
        offset = 0
        for p in self._params:
            n = p.array.size
            p.array += (t * d[offset:offset + n]).reshape(p.array.shape).astype(p.dtype, copy=False)
            offset += n

    @no_grad()
    def step(self, closure):
        if closure is None:
            raise RuntimeError("LBFGS.step needs a closure that recomputes the loss (and its "
                               "gradients) and returns it")
        group = self.param_groups[0]
        lr, max_iter, max_eval = group["lr"], group["max_iter"], group["max_eval"]
        tol_grad, tol_change = group["tolerance_grad"], group["tolerance_change"]
        history = group["history_size"]
        state = self.state[self._params[0]]
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        orig_loss = self._closure(closure)
        loss = float(orig_loss)
        evals = 1
        state["func_evals"] += 1
        g = self._flat_grad()
        xp = self._params[0].xp
        if float(xp.abs(g).max()) <= tol_grad:
            return orig_loss

        d, t = state.get("d"), state.get("t")
        old_dirs, old_stps, ro = state.get("old_dirs"), state.get("old_stps"), state.get("ro")
        H_diag = state.get("H_diag")
        prev_g, prev_loss = state.get("prev_flat_grad"), state.get("prev_loss")

        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1
            if state["n_iter"] == 1:
                d = -g
                old_dirs, old_stps, ro = [], [], []
                H_diag = 1.0
            else:
                # y = g_new - g_old,  s = t d (the step just taken)
                y = g - prev_g
                s = d * t
                ys = float(y.dot(s))
                if ys > 1e-10:  # curvature condition: keep the pair
                    if len(old_dirs) == history:
                        old_dirs.pop(0)
                        old_stps.pop(0)
                        ro.pop(0)
                    old_dirs.append(y)
                    old_stps.append(s)
                    ro.append(1.0 / ys)
                    # gamma = (y . s) / (y . y)
                    H_diag = ys / float(y.dot(y))
                # the two-loop recursion
                k = len(old_dirs)
                al = [0.0] * k
                q = -g
                for i in range(k - 1, -1, -1):
                    al[i] = float(old_stps[i].dot(q)) * ro[i]
                    q = q - al[i] * old_dirs[i]
                r = q * H_diag
                for i in range(k):
                    be_i = float(old_dirs[i].dot(r)) * ro[i]
                    r = r + (al[i] - be_i) * old_stps[i]
                d = r.astype(g.dtype, copy=False)
            prev_g = g.copy()
            prev_loss = loss
            # step length: min(1, 1 / sum|g|) lr on the first iteration, lr after
            t = min(1.0, 1.0 / float(xp.abs(g).sum())) * lr if state["n_iter"] == 1 else lr
            gtd = float(g.dot(d))
            if gtd > -tol_change:  # not a descent direction (any more)
                break
            ls_evals = 0
            if group["line_search_fn"] == "strong_wolfe":
                x0 = self._get_x()

                def phi(step):
                    # (loss, gradient) at x + step d, the parameters put back afterwards
                    self._add(step, d)
                    f = float(self._closure(closure))
                    gr = self._flat_grad()
                    self._set_x(x0)
                    return f, gr
                loss, g, t, ls_evals = _strong_wolfe(phi, t, loss, g, gtd, xp, d,
                                                     tolerance_change=tol_change)
                self._add(t, d)
            else:
                self._add(t, d)
                if n_iter != max_iter:
                    loss = float(self._closure(closure))
                    g = self._flat_grad()
                    ls_evals = 1
            evals += ls_evals
            state["func_evals"] += ls_evals
            if n_iter == max_iter or evals >= max_eval:
                break
            if float(xp.abs(g).max()) <= tol_grad:
                break
            if float(xp.abs(d * t).max()) <= tol_change:
                break
            if abs(loss - prev_loss) < tol_change:
                break

        state.update(d=d, t=t, old_dirs=old_dirs, old_stps=old_stps, ro=ro, H_diag=H_diag,
                     prev_flat_grad=prev_g, prev_loss=prev_loss)
        return orig_loss
