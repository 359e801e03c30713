"""Exponential moving average of parameters (Polyak averaging with exponential weights).

After every optimizer step, a shadow copy of each parameter follows it slowly:

    shadow <- decay shadow + (1 - decay) theta

With decay = 0.999 the shadow averages roughly the last 1 / (1 - decay) = 1000 steps, so it
smooths out the noise of the last few SGD steps. Generative models are evaluated and sampled
with these averaged weights: DDPM (Ho et al., 2020) uses decay 0.9999, score models and GANs
use it too, and their samples are visibly better with EMA weights than with the raw ones.

    ema = EMA(model, decay=0.999)
    for batch in data:
        loss = model.loss(batch); opt.zero_grad(); loss.backward(); opt.step()
        ema.update()                         # after every optimizer step
    with ema.average_parameters():           # the model holds the EMA weights in here
        samples = model.sample(16)
    # ... and its training weights again out here

``use_num_updates=True`` uses decay_n = min(decay, (1 + n) / (10 + n)) at update n, so that
the average is not dominated by the random initial weights early in training (TensorFlow's
``ExponentialMovingAverage(num_updates=...)`` does the same). This is not a PyTorch class;
PyTorch's nearest is ``torch.optim.swa_utils.AveragedModel`` with an EMA averaging function.
"""
from __future__ import annotations

import contextlib

from ..autograd import Tensor, _wrap

__all__ = ["EMA"]


def _params_of(model_or_params):
    if hasattr(model_or_params, "parameters") and callable(model_or_params.parameters):
        return list(model_or_params.parameters())
    if isinstance(model_or_params, Tensor):
        return [model_or_params]
    return list(model_or_params)


class EMA:
    """Exponential moving average of ``model_or_params`` (a Module, or an iterable of
    parameters). Only floating parameters are averaged; a Module's buffers (BatchNorm's running
    statistics) are not, they are already averages of their own."""

    def __init__(self, model_or_params, decay=0.999, use_num_updates=False):
        if not 0.0 <= decay <= 1.0:
            raise ValueError(f"EMA: decay must be between 0 and 1, got {decay}")
        self.params = [p for p in _params_of(model_or_params) if p.dtype.kind == "f"]
        self.decay = decay
        self.num_updates = 0 if use_num_updates else None
        self.shadow_params = [_wrap(p.array.copy()) for p in self.params]
        self.collected_params = None

    def _targets(self, model_or_params, op):
        params = self.params if model_or_params is None else \
            [p for p in _params_of(model_or_params) if p.dtype.kind == "f"]
        if len(params) != len(self.shadow_params):
            raise ValueError(f"EMA.{op}: got {len(params)} parameters, the average has "
                             f"{len(self.shadow_params)}")
        for i, (p, s) in enumerate(zip(params, self.shadow_params)):
            if tuple(p.shape) != tuple(s.shape):
                raise ValueError(f"EMA.{op}: parameter {i} has shape {list(p.shape)}, its average "
                                 f"has shape {list(s.shape)}")
            if type(p.array) is not type(s.array):
                raise RuntimeError(f"EMA.{op}: parameter {i} is on {p.device} but its average is "
                                   f"on {s.device}; call ema.to({str(p.device)!r})")
        return params

    def update(self, model_or_params=None):
        """shadow <- decay shadow + (1 - decay) theta, for every parameter (in place)."""
        params = self._targets(model_or_params, "update")
        decay = self.decay
        if self.num_updates is not None:
            self.num_updates += 1
            # decay_n = min(decay, (1 + n) / (10 + n))
            decay = min(decay, (1 + self.num_updates) / (10 + self.num_updates))
        for p, s in zip(params, self.shadow_params):
            # shadow <- decay shadow + (1 - decay) theta
            s.array *= decay
            s.array += (1 - decay) * p.array.astype(s.dtype, copy=False)

    def copy_to(self, model_or_params=None):
        """Write the averaged values into the parameters (in place)."""
        for p, s in zip(self._targets(model_or_params, "copy_to"), self.shadow_params):
            p.array[...] = s.array

    def store(self, model_or_params=None):
        """Keep a copy of the parameters' current values, for ``restore``."""
        self.collected_params = [p.array.copy() for p in self._targets(model_or_params, "store")]

    def restore(self, model_or_params=None):
        """Put back the values saved by ``store``."""
        if self.collected_params is None:
            raise RuntimeError("EMA.restore: no stored parameters; call store() first")
        for p, c in zip(self._targets(model_or_params, "restore"), self.collected_params):
            p.array[...] = c
        self.collected_params = None

    @contextlib.contextmanager
    def average_parameters(self, model_or_params=None):
        """Inside the ``with`` block the parameters hold the EMA values; afterwards they hold
        their own values again (even if the block raised)."""
        self.store(model_or_params)
        self.copy_to(model_or_params)
        try:
            yield
        finally:
            self.restore(model_or_params)

    def to(self, device=None, dtype=None):
        """Move (or cast) the averages, e.g. after ``model.to('cuda')``."""
        self.shadow_params = [s.to(device=device, dtype=dtype if s.dtype.kind == "f" else None)
                              for s in self.shadow_params]
        return self

    def state_dict(self):
        return {"decay": self.decay, "num_updates": self.num_updates,
                "shadow_params": [_wrap(s.array.copy()) for s in self.shadow_params]}

    def load_state_dict(self, state_dict):
        """Restore from ``state_dict()``; count and shapes are checked before anything changes."""
        shadows = list(state_dict["shadow_params"])
        if len(shadows) != len(self.shadow_params):
            raise ValueError(f"EMA.load_state_dict: {len(shadows)} averages for "
                             f"{len(self.shadow_params)} parameters")
        new = []
        for i, (mine, v) in enumerate(zip(self.shadow_params, shadows)):
            if tuple(v.shape) != tuple(mine.shape):
                raise ValueError(f"EMA.load_state_dict: average {i} has shape {list(v.shape)}, "
                                 f"expected {list(mine.shape)}")
            t = v if isinstance(v, Tensor) else Tensor(v)
            new.append(_wrap(t.to(device=mine.device, dtype=mine.dtype).array.copy()))
        self.decay = state_dict["decay"]
        self.num_updates = state_dict["num_updates"]
        self.shadow_params = new
