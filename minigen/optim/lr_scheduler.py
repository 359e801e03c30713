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
    "LinearLR", "SequentialLR",
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

from .lr_scheduler_more import *  # noqa: F401,F403,E402  (ConstantLR, OneCycleLR, ReduceLROnPlateau, ...)
from .lr_scheduler_more import __all__ as _more  # noqa: E402
__all__ = __all__ + list(_more)
