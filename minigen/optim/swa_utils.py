"""``torch.optim.swa_utils``: stochastic weight averaging (Izmailov et al., 2018) and EMA models.

``AveragedModel(model)`` holds a deep copy of ``model`` whose parameters are an average of the
model's parameters over the calls to ``update_parameters(model)``. The first call copies; call
n + 1 (n = ``n_averaged`` calls so far) combines the running average a with the current p by

    SWA (the default):   a <- a + (p - a) / (n + 1)          the equal-weight mean of all calls
    EMA:                 a <- lerp(a, p, 1 - decay) = decay a + (1 - decay) p

``avg_fn(a, p, n)`` returns the new average of one tensor; ``multi_avg_fn(a_list, p_list, n)``
updates lists in place (``get_ema_multi_avg_fn(decay)``, ``get_swa_multi_avg_fn()``; PyTorch
uses it for speed, with ``_foreach`` kernels). ``use_buffers=True`` averages the buffers too
(BatchNorm's running statistics); otherwise they are copied from the model on every update.

``SWALR(optimizer, swa_lr, anneal_epochs=10, anneal_strategy='cos')`` anneals each group's lr
from its value to ``swa_lr`` over ``anneal_epochs`` steps: with t = min(step / anneal_epochs, 1)
and alpha(t) = (1 - cos(pi t)) / 2 ('cos') or t ('linear'),

    lr_t = swa_lr alpha(t) + lr_0 (1 - alpha(t)),   lr_0 recovered from the previous lr

``update_bn(loader, model)`` recomputes BatchNorm's running statistics for the averaged weights:
one pass over the data with the statistics reset and momentum None (a cumulative average).
"""
from __future__ import annotations

import copy
import itertools
import math

import minigen
from ..autograd import Tensor, no_grad
from .lr_scheduler import LRScheduler

__all__ = ["AveragedModel", "SWALR", "update_bn", "get_ema_multi_avg_fn",
           "get_swa_multi_avg_fn", "get_ema_avg_fn", "get_swa_avg_fn"]


def get_ema_multi_avg_fn(decay=0.999):
    """In place on lists: a <- lerp(a, p, 1 - decay) (floating tensors)."""
    @no_grad()
    def ema_update(ema_param_list, current_param_list, _num_averaged=None):
        for a, p in zip(ema_param_list, current_param_list):
            if a.dtype.kind == "f":
                a.copy_(minigen.lerp(a, p, 1 - decay))
            else:  # integer buffers: decay a + (1 - decay) p, as PyTorch's fallback
                a.copy_((a * decay + p * (1 - decay)).to(a.dtype))
    return ema_update


def get_swa_multi_avg_fn():
    """In place on lists: a <- lerp(a, p, 1 / (n + 1)) (floating tensors)."""
    @no_grad()
    def swa_update(averaged_param_list, current_param_list, num_averaged):
        n = int(num_averaged.item()) if isinstance(num_averaged, Tensor) else int(num_averaged)
        for a, p in zip(averaged_param_list, current_param_list):
            if a.dtype.kind == "f":
                a.copy_(minigen.lerp(a, p, 1.0 / (n + 1)))
            else:
                a.copy_((a + (p - a) * (1.0 / (n + 1))).to(a.dtype))
    return swa_update


def get_ema_avg_fn(decay=0.999):
    """(a, p, n) -> decay a + (1 - decay) p."""
    @no_grad()
    def ema_update(ema_param, current_param, num_averaged):
        return decay * ema_param + (1 - decay) * current_param
    return ema_update


def get_swa_avg_fn():
    """(a, p, n) -> a + (p - a) / (n + 1)."""
    @no_grad()
    def swa_update(averaged_param, current_param, num_averaged):
        return averaged_param + (current_param - averaged_param) / (num_averaged + 1)
    return swa_update


class AveragedModel(minigen.nn.Module):
    """``AveragedModel(model, device=None, avg_fn=None, multi_avg_fn=None, use_buffers=False)``;
    ``forward`` runs the averaged copy; the buffer ``n_averaged`` (int64) counts the updates."""

    def __init__(self, model, device=None, avg_fn=None, multi_avg_fn=None, use_buffers=False):
        super().__init__()
        if avg_fn is not None and multi_avg_fn is not None:
            raise AssertionError("Only one of avg_fn and multi_avg_fn should be provided")
        self.module = copy.deepcopy(model)
        if device is not None:
            self.module = self.module.to(device)
        self.register_buffer("n_averaged", minigen.tensor(0, dtype=minigen.long, device=device))
        self.avg_fn = avg_fn
        self.multi_avg_fn = multi_avg_fn
        self.use_buffers = use_buffers

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)

    @no_grad()
    def update_parameters(self, model):
        """Fold ``model``'s current parameters (and buffers, with use_buffers) into the average."""
        mine = (itertools.chain(self.module.parameters(), self.module.buffers())
                if self.use_buffers else self.parameters())
        theirs = (itertools.chain(model.parameters(), model.buffers())
                  if self.use_buffers else model.parameters())
        a_list, p_list = [], []
        first = int(self.n_averaged.item()) == 0
        for a, p in zip(mine, theirs):
            if a is None or p is None:
                continue
            p_ = p.detach().to(a.device)
            a_list.append(a.detach() if a.requires_grad else a)
            p_list.append(p_)
            if first:
                a.detach().copy_(p_)
        if not first:
            if self.multi_avg_fn is not None:
                self.multi_avg_fn(a_list, p_list, self.n_averaged)
            else:
                fn = self.avg_fn if self.avg_fn is not None else get_swa_avg_fn()
                for a, p in zip(a_list, p_list):
                    a.copy_(fn(a, p, self.n_averaged.to(a.device)))
        if not self.use_buffers:
            # keep the buffers (BatchNorm statistics) in step with the source model
            for b_avg, b_model in zip(self.module.buffers(), model.buffers()):
                if b_avg is not None and b_model is not None:
                    b_avg.copy_(b_model.detach().to(b_avg.device))
        self.n_averaged.copy_(self.n_averaged + 1)


@no_grad()
def update_bn(loader, model, device=None):
    """Recompute every BatchNorm's running statistics with one pass over ``loader`` (batches, or
    (input, ...) tuples of which the first entry is fed to ``model``)."""
    from minigen.nn.normalization import _BatchNorm
    momenta = {}
    for module in model.modules():
        if isinstance(module, _BatchNorm):
            module.reset_running_stats()
            momenta[module] = module.momentum
    if not momenta:
        return
    was_training = model.training
    model.train()
    for module in momenta:
        module.momentum = None
    for batch in loader:
        if isinstance(batch, (list, tuple)):
            batch = batch[0]
        if device is not None:
            batch = batch.to(device)
        model(batch)
    for module, m in momenta.items():
        module.momentum = m
    model.train(was_training)


class SWALR(LRScheduler):
    """Anneal each group's lr to ``swa_lr`` (a number or one per group) over ``anneal_epochs``
    steps, by cosine ('cos') or linear ('linear') interpolation; then hold it."""

    _hyper = ("anneal_epochs",)

    def __init__(self, optimizer, swa_lr, anneal_epochs=10, anneal_strategy="cos",
                 last_epoch=-1):
        groups = optimizer.param_groups
        if isinstance(swa_lr, (list, tuple)):
            if len(swa_lr) != len(groups):
                raise ValueError(f"swa_lr must have the same length as optimizer.param_groups: "
                                 f"swa_lr has {len(swa_lr)}, optimizer.param_groups has "
                                 f"{len(groups)}")
            lrs = list(swa_lr)
        else:
            lrs = [swa_lr] * len(groups)
        for lr, group in zip(lrs, groups):
            group["swa_lr"] = lr
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError("anneal_strategy must by one of 'cos' or 'linear', instead got "
                             f"{anneal_strategy}")
        self.anneal_func = self._cosine_anneal if anneal_strategy == "cos" else self._linear_anneal
        if not isinstance(anneal_epochs, int) or anneal_epochs < 0:
            raise ValueError(f"anneal_epochs must be equal or greater than 0, got {anneal_epochs}")
        self.anneal_epochs = anneal_epochs
        super().__init__(optimizer, last_epoch)

    @staticmethod
    def _linear_anneal(t):
        return t

    @staticmethod
    def _cosine_anneal(t):
        return (1 - math.cos(math.pi * t)) / 2

    @staticmethod
    def _get_initial_lr(lr, swa_lr, alpha):
        # invert lr = swa_lr alpha + lr_0 (1 - alpha)
        if alpha == 1:
            return swa_lr
        return (lr - alpha * swa_lr) / (1 - alpha)

    def get_lr(self):
        step = self._step_count - 1
        if self.anneal_epochs == 0:
            step = max(1, step)
        prev_t = max(0, min(1, (step - 1) / max(1, self.anneal_epochs)))
        prev_alpha = self.anneal_func(prev_t)
        groups = self.optimizer.param_groups
        prev_lrs = [self._get_initial_lr(g["lr"], g["swa_lr"], prev_alpha) for g in groups]
        t = max(0, min(1, step / max(1, self.anneal_epochs)))
        alpha = self.anneal_func(t)
        return [g["swa_lr"] * alpha + lr * (1 - alpha) for g, lr in zip(groups, prev_lrs)]
