"""Learning-rate schedules: call ``scheduler.step()`` once per epoch (or per iteration), after
``optimizer.step()``, and each parameter group's ``'lr'`` becomes the schedule's value.

Every scheduler here computes lr_t in closed form from the group's initial learning rate
(``base_lrs``, saved in each group as ``'initial_lr'``) and the step count t = ``last_epoch``:

    StepLR              lr_t = base gamma^floor(t / step_size)
    MultiStepLR         lr_t = base gamma^(number of milestones <= t)
    ExponentialLR       lr_t = base gamma^t
    CosineAnnealingLR   lr_t = eta_min + (base - eta_min) (1 + cos(pi t / T_max)) / 2
    LambdaLR            lr_t = base lr_lambda(t)
    LinearLR            lr_t = base (s + (e - s) min(t, total_iters) / total_iters)
    SequentialLR        one schedule after another, each restarted at its milestone
    ConstantLR          lr_t = base factor  for t < total_iters, base after
    PolynomialLR        lr_t = base (1 - min(t, T) / T)^power
    MultiplicativeLR    lr_t = lr_{t-1} lr_lambda(t)          (t >= 1)
    CosineAnnealingWarmRestarts
                        lr = eta_min + (base - eta_min) (1 + cos(pi T_cur / T_i)) / 2, where
                        T_cur counts steps since the last restart and the period T_i starts at
                        T_0 and is multiplied by T_mult at each restart (Loshchilov and Hutter)
    OneCycleLR          lr rises from max_lr / div_factor to max_lr over the first pct_start of
                        total_steps, then anneals to max_lr / (div_factor final_div_factor)
                        (cosine or linear); momentum (or Adam's beta1) moves the opposite way,
                        max_momentum -> base_momentum -> max_momentum (Smith, 2018)
    ReduceLROnPlateau   lr <- max(lr factor, min_lr) once a metric passed to ``step(metric)``
                        has not improved (by ``threshold``) for more than ``patience`` steps

PyTorch computes most of these recursively from the current lr (lr_t = lr_{t-1} * ratio, its
"chainable" form); the values are the same up to rounding (about 1e-15 relative). They differ
only if you change ``group['lr']`` by hand between steps, or stack two schedulers on one
optimizer without ``SequentialLR``: minigen's schedule ignores the hand-set value.
"""
from __future__ import annotations

import bisect
import math

from .optimizer import Optimizer

__all__ = [
    "LRScheduler", "StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR", "LambdaLR",
    "LinearLR", "SequentialLR", "ConstantLR", "PolynomialLR", "MultiplicativeLR",
    "CosineAnnealingWarmRestarts", "OneCycleLR", "ReduceLROnPlateau",
]


class LRScheduler:
    """Base class: subclasses define ``_lr_at(base_lr, t)``."""

    _hyper = ()  # names of the hyperparameters that go into the state dict

    def __init__(self, optimizer, last_epoch=-1):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(f"param 'initial_lr' is not specified in param_groups[{i}] "
                                   "when resuming an optimizer")
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._step_count = 0
        self.step()  # sets the lr for t = last_epoch + 1 (t = 0 for a fresh schedule)

    def _lr_at(self, base_lr, t):
        raise NotImplementedError

    def get_lr(self):
        """The schedule's learning rates at the current ``last_epoch``."""
        return [self._lr_at(base, self.last_epoch) for base in self.base_lrs]

    def get_last_lr(self):
        """The learning rates the last ``step()`` set, one per parameter group."""
        return list(self._last_lr)

    def step(self, epoch=None):
        """Advance t by one (or set it to ``epoch``) and write the new lr into every group."""
        self._step_count += 1
        self.last_epoch = self.last_epoch + 1 if epoch is None else int(epoch)
        for group, lr in zip(self.optimizer.param_groups, self.get_lr()):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def _state_keys(self):
        return ["last_epoch", "base_lrs", "_step_count", "_last_lr", *self._hyper]

    def state_dict(self):
        """Everything but the optimizer (and LambdaLR's functions, which cannot be saved)."""
        return {k: (list(v) if isinstance(v, list) else v)
                for k, v in ((k, getattr(self, k)) for k in self._state_keys())}

    def _check_state(self, state_dict):
        keys = self._state_keys()
        missing = [k for k in keys if k not in state_dict]
        if missing:
            raise KeyError(f"{type(self).__name__}.load_state_dict: missing key(s) {missing}")
        if len(state_dict["base_lrs"]) != len(self.base_lrs):
            raise ValueError(f"{type(self).__name__}.load_state_dict: {len(state_dict['base_lrs'])}"
                             f" base_lrs for an optimizer with {len(self.base_lrs)} groups")

    def load_state_dict(self, state_dict):
        """Restore from ``state_dict()``; every key is checked before anything changes."""
        self._check_state(state_dict)
        for k in self._state_keys():
            v = state_dict[k]
            setattr(self, k, list(v) if isinstance(v, (list, tuple)) else v)


_LRScheduler = LRScheduler  # PyTorch's older name for the base class (custom schedules subclass it)


class StepLR(LRScheduler):
    """lr_t = base gamma^floor(t / step_size): decay by ``gamma`` every ``step_size`` steps."""

    _hyper = ("step_size", "gamma")

    def __init__(self, optimizer, step_size, gamma=0.1, last_epoch=-1):
        self.step_size, self.gamma = int(step_size), gamma
        super().__init__(optimizer, last_epoch)

    def _lr_at(self, base_lr, t):
        # lr_t = base gamma^floor(t / step_size)
        return base_lr * self.gamma ** (t // self.step_size)


class MultiStepLR(LRScheduler):
    """lr_t = base gamma^k, k = how many of ``milestones`` are <= t."""

    _hyper = ("milestones", "gamma")

    def __init__(self, optimizer, milestones, gamma=0.1, last_epoch=-1):
        self.milestones, self.gamma = sorted(int(m) for m in milestones), gamma
        super().__init__(optimizer, last_epoch)

    def _lr_at(self, base_lr, t):
        # lr_t = base gamma^(#milestones <= t)
        return base_lr * self.gamma ** bisect.bisect_right(self.milestones, t)


class ExponentialLR(LRScheduler):
    """lr_t = base gamma^t."""

    _hyper = ("gamma",)

    def __init__(self, optimizer, gamma, last_epoch=-1):
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def _lr_at(self, base_lr, t):
        # lr_t = base gamma^t
        return base_lr * self.gamma ** t


class CosineAnnealingLR(LRScheduler):
    """lr_t = eta_min + (base - eta_min) (1 + cos(pi t / T_max)) / 2 (Loshchilov and Hutter,
    SGDR, without restarts): from base at t = 0 down to eta_min at t = T_max. Past T_max the
    cosine carries on (back up towards base), as PyTorch's does."""

    _hyper = ("T_max", "eta_min")

    def __init__(self, optimizer, T_max, eta_min=0.0, last_epoch=-1):
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer, last_epoch)

    def _lr_at(self, base_lr, t):
        # lr_t = eta_min + (base - eta_min) (1 + cos(pi t / T_max)) / 2
        cosine = (1 + math.cos(math.pi * t / self.T_max)) / 2
        return self.eta_min + (base_lr - self.eta_min) * cosine


class LambdaLR(LRScheduler):
    """lr_t = base lr_lambda(t), with one function for all groups or a list, one per group.
    The functions are not part of ``state_dict()``: recreate the scheduler with them."""

    def __init__(self, optimizer, lr_lambda, last_epoch=-1):
        n = len(optimizer.param_groups)
        if isinstance(lr_lambda, (list, tuple)):
            if len(lr_lambda) != n:
                raise ValueError(f"Expected {n} lr_lambdas, but got {len(lr_lambda)}")
            self.lr_lambdas = list(lr_lambda)
        else:
            self.lr_lambdas = [lr_lambda] * n
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        # lr_t = base lr_lambda(t)
        return [base * fn(self.last_epoch) for fn, base in zip(self.lr_lambdas, self.base_lrs)]


class LinearLR(LRScheduler):
    """Linear warmup (or decay): the factor goes from ``start_factor`` to ``end_factor`` over
    ``total_iters`` steps and then stays there:

        lr_t = base (s + (e - s) min(t, total_iters) / total_iters)
    """

    _hyper = ("start_factor", "end_factor", "total_iters")

    def __init__(self, optimizer, start_factor=1.0 / 3, end_factor=1.0, total_iters=5,
                 last_epoch=-1):
        if start_factor > 1.0 or start_factor <= 0:
            raise ValueError("Starting multiplicative factor expected to be greater than 0 and "
                             "less or equal to 1.")
        if end_factor > 1.0 or end_factor < 0:
            raise ValueError("Ending multiplicative factor expected to be between 0 and 1.")
        self.start_factor, self.end_factor, self.total_iters = start_factor, end_factor, total_iters
        super().__init__(optimizer, last_epoch)

    def _lr_at(self, base_lr, t):
        s, e, n = self.start_factor, self.end_factor, self.total_iters
        # lr_t = base (s + (e - s) min(t, n) / n)
        return base_lr * (s + (e - s) * min(t, n) / n)


class SequentialLR(LRScheduler):
    """Run ``schedulers[0]`` until ``milestones[0]``, then ``schedulers[1]`` from its own
    t = 0, and so on: e.g. ``SequentialLR(opt, [LinearLR(opt, 0.01, 1.0, 100),
    CosineAnnealingLR(opt, T_max=900)], milestones=[100])`` is warmup then cosine decay."""

    def __init__(self, optimizer, schedulers, milestones, last_epoch=-1):
        schedulers, milestones = list(schedulers), [int(m) for m in milestones]
        if len(schedulers) < 1:
            raise ValueError("SequentialLR expects at least one scheduler")
        for i, s in enumerate(schedulers):
            if getattr(s, "optimizer", None) is not optimizer:
                raise ValueError(f"SequentialLR: scheduler at index {i} is attached to another "
                                 "optimizer than the one SequentialLR was given")
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(f"SequentialLR: expected {len(schedulers) - 1} milestones for "
                             f"{len(schedulers)} schedulers, got {len(milestones)}")
        self._schedulers, self._milestones = schedulers, milestones
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        t = self.last_epoch
        k = bisect.bisect_right(self._milestones, t)  # the scheduler whose phase t is in
        start = self._milestones[k - 1] if k > 0 else 0
        s = self._schedulers[k]
        s.last_epoch = t - start  # the phase's own clock restarts at its milestone
        lrs = s.get_lr()
        s._last_lr = list(lrs)
        return lrs

    def state_dict(self):
        out = super().state_dict()
        out["_milestones"] = list(self._milestones)
        out["_schedulers"] = [s.state_dict() for s in self._schedulers]
        return out

    def load_state_dict(self, state_dict):
        subs = state_dict.get("_schedulers")
        if subs is None or len(subs) != len(self._schedulers):
            raise KeyError("SequentialLR.load_state_dict: expected '_schedulers' with one state "
                           f"per scheduler ({len(self._schedulers)})")
        self._check_state(state_dict)
        for s, sd in zip(self._schedulers, subs):
            s._check_state(sd)
        LRScheduler.load_state_dict(self, state_dict)
        for s, sd in zip(self._schedulers, subs):
            s.load_state_dict(sd)


# ----------------------------------------------------------------------------- more of PyTorch's schedules
class ConstantLR(LRScheduler):
    """lr_t = base factor while t < total_iters, then base."""

    _hyper = ("factor", "total_iters")

    def __init__(self, optimizer, factor=1.0 / 3, total_iters=5, last_epoch=-1):
        if factor > 1.0 or factor < 0:
            raise ValueError("Constant multiplicative factor expected to be between 0 and 1.")
        self.factor, self.total_iters = factor, total_iters
        super().__init__(optimizer, last_epoch)

    def _lr_at(self, base_lr, t):
        return base_lr * (self.factor if t < self.total_iters else 1.0)


class PolynomialLR(LRScheduler):
    """lr_t = base (1 - min(t, total_iters) / total_iters)^power: down to 0 at total_iters."""

    _hyper = ("total_iters", "power")

    def __init__(self, optimizer, total_iters=5, power=1.0, last_epoch=-1):
        self.total_iters, self.power = total_iters, power
        super().__init__(optimizer, last_epoch)

    def _lr_at(self, base_lr, t):
        # lr_t = base (1 - min(t, T) / T)^power
        return base_lr * (1.0 - min(t, self.total_iters) / self.total_iters) ** self.power


class MultiplicativeLR(LambdaLR):
    """lr_t = lr_{t-1} lr_lambda(t): each step multiplies the current lr by the function's
    value (one function, or one per group)."""

    def get_lr(self):
        groups = self.optimizer.param_groups
        if self.last_epoch > 0:
            # lr_t = lr_{t-1} lr_lambda(t)
            return [g["lr"] * fn(self.last_epoch) for g, fn in zip(groups, self.lr_lambdas)]
        return [g["lr"] for g in groups]


class CosineAnnealingWarmRestarts(LRScheduler):
    """Cosine annealing from base to eta_min over T_i steps, then a restart at base with the
    period multiplied by T_mult. ``step(epoch)`` also takes a fractional epoch (per-batch use)."""

    _hyper = ("T_0", "T_i", "T_mult", "eta_min", "T_cur")

    def __init__(self, optimizer, T_0, T_mult=1, eta_min=0.0, last_epoch=-1):
        if T_0 <= 0 or not isinstance(T_0, int):
            raise ValueError(f"Expected positive integer T_0, but got {T_0}")
        if T_mult < 1 or not isinstance(T_mult, int):
            raise ValueError(f"Expected integer T_mult >= 1, but got {T_mult}")
        self.T_0, self.T_i, self.T_mult, self.eta_min = T_0, T_0, T_mult, eta_min
        self.T_cur = last_epoch
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        # lr = eta_min + (base - eta_min) (1 + cos(pi T_cur / T_i)) / 2
        c = (1 + math.cos(math.pi * self.T_cur / self.T_i)) / 2
        return [self.eta_min + (base - self.eta_min) * c for base in self.base_lrs]

    def step(self, epoch=None):
        self._step_count += 1
        if epoch is None and self.last_epoch < 0:
            epoch = 0
        if epoch is None:
            epoch = self.last_epoch + 1
            self.T_cur = self.T_cur + 1
            if self.T_cur >= self.T_i:  # restart
                self.T_cur = self.T_cur - self.T_i
                self.T_i = self.T_i * self.T_mult
        else:
            if epoch < 0:
                raise ValueError(f"Expected non-negative epoch, but got {epoch}")
            if epoch >= self.T_0:
                if self.T_mult == 1:
                    self.T_cur = epoch % self.T_0
                else:
                    # n restarts so far: T_0 (T_mult^n - 1) / (T_mult - 1) <= epoch
                    n = int(math.log(epoch / self.T_0 * (self.T_mult - 1) + 1, self.T_mult))
                    self.T_cur = epoch - self.T_0 * (self.T_mult ** n - 1) / (self.T_mult - 1)
                    self.T_i = self.T_0 * self.T_mult ** n
            else:
                self.T_i = self.T_0
                self.T_cur = epoch
        self.last_epoch = math.floor(epoch)
        for group, lr in zip(self.optimizer.param_groups, self.get_lr()):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]


class OneCycleLR(LRScheduler):
    """The 1cycle policy, stepped once per batch (see the module doc for the phases)."""

    _hyper = ("total_steps", "_phases", "anneal_strategy", "cycle_momentum", "use_beta1")

    def __init__(self, optimizer, max_lr, total_steps=None, epochs=None, steps_per_epoch=None,
                 pct_start=0.3, anneal_strategy="cos", cycle_momentum=True, base_momentum=0.85,
                 max_momentum=0.95, div_factor=25.0, final_div_factor=1e4, three_phase=False,
                 last_epoch=-1):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")
        if total_steps is None:
            if epochs is None or steps_per_epoch is None:
                raise ValueError("You must define either total_steps OR (epochs AND steps_per_epoch)")
            if epochs <= 0 or steps_per_epoch <= 0:
                raise ValueError(f"Expected positive integer epochs and steps_per_epoch, but got "
                                 f"{epochs} and {steps_per_epoch}")
            total_steps = epochs * steps_per_epoch
        elif total_steps <= 0 or not isinstance(total_steps, int):
            raise ValueError(f"Expected positive integer total_steps, but got {total_steps}")
        if not 0 <= pct_start <= 1:
            raise ValueError(f"Expected float between 0 and 1 pct_start, but got {pct_start}")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"anneal_strategy must be one of 'cos' or 'linear', instead got "
                             f"{anneal_strategy}")
        self.total_steps, self.anneal_strategy = total_steps, anneal_strategy
        p = pct_start * total_steps
        if three_phase:
            self._phases = [
                (p - 1, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                (2 * p - 2, "max_lr", "initial_lr", "base_momentum", "max_momentum"),
                (total_steps - 1, "initial_lr", "min_lr", "max_momentum", "max_momentum")]
        else:
            self._phases = [
                (p - 1, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                (total_steps - 1, "max_lr", "min_lr", "base_momentum", "max_momentum")]
        groups = optimizer.param_groups
        max_lrs = _per_group(max_lr, groups, "max_lr")
        if last_epoch == -1:
            for g, m in zip(groups, max_lrs):
                g["initial_lr"] = m / div_factor
                g["max_lr"] = m
                g["min_lr"] = g["initial_lr"] / final_div_factor
        self.cycle_momentum = cycle_momentum
        self.use_beta1 = False
        if cycle_momentum:
            if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
                raise ValueError("optimizer must support momentum or beta1 with `cycle_momentum` "
                                 "option enabled")
            self.use_beta1 = "betas" in optimizer.defaults
            for g, bm, mm in zip(groups, _per_group(base_momentum, groups, "base_momentum"),
                                 _per_group(max_momentum, groups, "max_momentum")):
                if last_epoch == -1:
                    if self.use_beta1:
                        g["betas"] = (mm, *g["betas"][1:])
                    else:
                        g["momentum"] = mm
                    g["max_momentum"], g["base_momentum"] = mm, bm
        super().__init__(optimizer, last_epoch)

    def _anneal(self, start, end, pct):
        if self.anneal_strategy == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def get_lr(self):
        t = self.last_epoch
        if t > self.total_steps:
            raise ValueError(f"Tried to step {t} times. The specified number of total steps is "
                             f"{self.total_steps}")
        lrs = []
        for g in self.optimizer.param_groups:
            start = 0.0
            for i, (end, lr0, lr1, m0, m1) in enumerate(self._phases):
                if t <= end or i == len(self._phases) - 1:
                    pct = (t - start) / (end - start)
                    lr = self._anneal(g[lr0], g[lr1], pct)
                    if self.cycle_momentum:
                        m = self._anneal(g[m0], g[m1], pct)
                        if self.use_beta1:
                            g["betas"] = (m, *g["betas"][1:])
                        else:
                            g["momentum"] = m
                    break
                start = end
            lrs.append(lr)
        return lrs


def _per_group(value, groups, name):
    if isinstance(value, (list, tuple)):
        if len(value) != len(groups):
            raise ValueError(f"expected {len(groups)} values for {name}, got {len(value)}")
        return list(value)
    return [value] * len(groups)


class ReduceLROnPlateau:
    """Cut the lr by ``factor`` when ``step(metric)`` sees no improvement for more than
    ``patience`` steps (``mode='min'``: lower is better; ``'max'``: higher). ``threshold``
    is relative (``threshold_mode='rel'``) or absolute; ``cooldown`` steps are waited after a
    cut; ``min_lr`` bounds the lr; cuts smaller than ``eps`` are skipped."""

    def __init__(self, optimizer, mode="min", factor=0.1, patience=10, threshold=1e-4,
                 threshold_mode="rel", cooldown=0, min_lr=0, eps=1e-8):
        if factor >= 1.0:
            raise ValueError("Factor should be < 1.0.")
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")
        if mode not in ("min", "max"):
            raise ValueError(f"mode {mode} is unknown!")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"threshold mode {threshold_mode} is unknown!")
        self.optimizer = optimizer
        self.min_lrs = _per_group(min_lr, optimizer.param_groups, "min_lr")
        self.mode, self.factor, self.patience = mode, factor, patience
        self.threshold, self.threshold_mode = threshold, threshold_mode
        self.cooldown, self.eps = cooldown, eps
        self.cooldown_counter = 0
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = 0
        self.last_epoch = 0
        self._last_lr = [g["lr"] for g in optimizer.param_groups]

    def _is_better(self, a, best):
        if self.mode == "min":
            return a < (best * (1 - self.threshold) if self.threshold_mode == "rel"
                        else best - self.threshold)
        return a > (best * (1 + self.threshold) if self.threshold_mode == "rel"
                    else best + self.threshold)

    def step(self, metrics, epoch=None):
        current = float(metrics)
        self.last_epoch = self.last_epoch + 1 if epoch is None else epoch
        if self._is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            for g, min_lr in zip(self.optimizer.param_groups, self.min_lrs):
                old = g["lr"]
                new = max(old * self.factor, min_lr)
                if old - new > self.eps:
                    g["lr"] = new
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = [g["lr"] for g in self.optimizer.param_groups]

    @property
    def in_cooldown(self):
        return self.cooldown_counter > 0

    def get_last_lr(self):
        return list(self._last_lr)

    def state_dict(self):
        return {k: v for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state_dict):
        self.__dict__.update({k: v for k, v in state_dict.items() if k != "optimizer"})
