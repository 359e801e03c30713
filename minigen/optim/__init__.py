"""``minigen.optim``: optimizers, learning-rate schedules and parameter averaging.

    opt = minigen.optim.Adam(model.parameters(), lr=1e-3)
    sched = minigen.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=100)
    ema = minigen.optim.EMA(model, decay=0.999)

Each optimizer's file starts with its update rule, written as PyTorch documents it; the
updates match PyTorch's step for step. Gradient clipping lives in ``minigen.nn.utils``
(``clip_grad_norm_``), as in PyTorch.
"""
from .optimizer import Optimizer
from .sgd import SGD
from .adam import Adam, AdamW
from .rmsprop import RMSprop
from .ema import EMA
from .adaptive import Adadelta, Adagrad, Adamax, NAdam, RAdam
from .lbfgs import LBFGS
from .rprop import Rprop
from .asgd import ASGD
from .adafactor import Adafactor
from .muon import Muon
from .sparse_adam import SparseAdam
from . import lr_scheduler, swa_utils

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "EMA", "lr_scheduler", "Adadelta",
           "Adagrad", "Adamax", "NAdam", "RAdam", "LBFGS", "Rprop", "ASGD", "Adafactor", "Muon", "SparseAdam", "swa_utils"]
