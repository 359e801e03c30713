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
falls below tolerance_change, or after ``max_eval`` evaluations. ``line_search_fn=
'strong_wolfe'`` is not implemented in minigen (it raises, naming the alternative).
"""
from __future__ import annotations

from ..autograd import no_grad
from .optimizer import Optimizer

__all__ = ["LBFGS"]


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
        if line_search_fn is not None:
            raise NotImplementedError(
                f"LBFGS: line_search_fn={line_search_fn!r} is not implemented in minigen; use "
                "line_search_fn=None (a fixed step lr, PyTorch's default)")
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
            self._add(t, d)
            ls_evals = 0
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
