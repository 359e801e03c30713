"""Learning-rate schedules (minigen/optim/lr_scheduler.py): the closed forms written out here,
the sequences PyTorch's schedulers produce, state dicts and errors."""
import math
import warnings

import numpy as np
import pytest

import minigen
import minigen.nn as nn
from minigen import optim
from minigen.optim import lr_scheduler as S

BASE = [0.1, 0.02]  # two parameter groups with their own learning rates


def make_opt(lib="minigen", cls="SGD"):
    if lib == "minigen":
        params = [nn.Parameter(minigen.randn(2)), nn.Parameter(minigen.randn(3))]
        o = getattr(optim, cls)
    else:
        import torch
        params = [torch.nn.Parameter(torch.randn(2)), torch.nn.Parameter(torch.randn(3))]
        o = getattr(torch.optim, cls)
    return o([{"params": [params[0]]}, {"params": [params[1]], "lr": BASE[1]}], lr=BASE[0])


SCHEDULES = {  # name: (factory(lib, optimizer), closed form lr(base, t))
    "StepLR": (lambda L, o: L.StepLR(o, step_size=3, gamma=0.5),
               lambda b, t: b * 0.5 ** (t // 3)),
    "MultiStepLR": (lambda L, o: L.MultiStepLR(o, milestones=[7, 2, 11], gamma=0.3),
                    lambda b, t: b * 0.3 ** sum(t >= m for m in (2, 7, 11))),
    "ExponentialLR": (lambda L, o: L.ExponentialLR(o, gamma=0.9),
                      lambda b, t: b * 0.9 ** t),
    "CosineAnnealingLR": (lambda L, o: L.CosineAnnealingLR(o, T_max=10, eta_min=0.001),
                          lambda b, t: 0.001 + (b - 0.001) * (1 + math.cos(math.pi * t / 10)) / 2),
    "LambdaLR": (lambda L, o: L.LambdaLR(o, lr_lambda=lambda t: 1 / (1 + t)),
                 lambda b, t: b / (1 + t)),
    "LinearLR": (lambda L, o: L.LinearLR(o, start_factor=0.1, end_factor=1.0, total_iters=6),
                 lambda b, t: b * (0.1 + 0.9 * min(t, 6) / 6)),
}


def lrs(opt):
    return [g["lr"] for g in opt.param_groups]


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_closed_form_and_torch_sequence(name):
    make, formula = SCHEDULES[name]
    opt = make_opt()
    sched = make(S, opt)
    seq = [lrs(opt)]
    for _ in range(25):  # past T_max, past every milestone
        opt.step()
        sched.step()
        seq.append(lrs(opt))
        assert sched.get_last_lr() == lrs(opt)
    expected = [[formula(b, t) for b in BASE] for t in range(26)]
    np.testing.assert_allclose(seq, expected, rtol=1e-12, atol=1e-15)
    torch = pytest.importorskip("torch")
    topt = make_opt("torch")
    tsched = make(torch.optim.lr_scheduler, topt)
    tseq = [lrs(topt)]
    for _ in range(25):
        topt.step()
        tsched.step()
        tseq.append(tsched.get_last_lr())
    np.testing.assert_allclose(seq, tseq, rtol=1e-12, atol=1e-15)


def test_sequential_warmup_then_cosine_matches_torch():
    def build(L, o):
        warm = L.LinearLR(o, start_factor=0.01, end_factor=1.0, total_iters=5)
        cos = L.CosineAnnealingLR(o, T_max=15, eta_min=1e-4)
        return L.SequentialLR(o, [warm, cos], milestones=[5])

    opt = make_opt()
    sched = build(S, opt)
    seq = [lrs(opt)]
    for _ in range(24):
        opt.step()
        sched.step()
        seq.append(sched.get_last_lr())
    # closed form: warmup factors for t < 5, then the cosine's own clock t - 5
    expected = [[b * (0.01 + 0.99 * t / 5) if t < 5 else
                 1e-4 + (b - 1e-4) * (1 + math.cos(math.pi * (t - 5) / 15)) / 2 for b in BASE]
                for t in range(25)]
    np.testing.assert_allclose(seq, expected, rtol=1e-12, atol=1e-15)
    torch = pytest.importorskip("torch")
    topt = make_opt("torch")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tsched = build(torch.optim.lr_scheduler, topt)
    tseq = [lrs(topt)]
    for _ in range(24):
        topt.step()
        tsched.step()
        tseq.append(tsched.get_last_lr())
    np.testing.assert_allclose(seq, tseq, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", list(SCHEDULES) + ["SequentialLR"])
def test_state_dict_resume(name):
    def build(o):
        if name == "SequentialLR":
            return S.SequentialLR(o, [S.LinearLR(o, 0.1, 1.0, 4), S.ExponentialLR(o, 0.8)], [4])
        return SCHEDULES[name][0](S, o)

    opt = make_opt()
    sched = build(opt)
    for _ in range(6):
        opt.step()
        sched.step()
    sd, opt_sd = sched.state_dict(), opt.state_dict()
    cont = []
    for _ in range(6):
        opt.step()
        sched.step()
        cont.append(lrs(opt))
    opt2 = make_opt()
    sched2 = build(opt2)
    opt2.load_state_dict(opt_sd)
    sched2.load_state_dict(sd)
    assert sched2.last_epoch == 6
    assert sched2.get_last_lr() == [g["lr"] for g in opt_sd["param_groups"]]
    resumed = []
    for _ in range(6):
        opt2.step()
        sched2.step()
        resumed.append(lrs(opt2))
    assert cont == resumed


def test_errors_and_initial_lr():
    opt = make_opt()
    with pytest.raises(TypeError, match="not an Optimizer"):
        S.StepLR(object(), 3)
    with pytest.raises(KeyError, match="initial_lr"):
        S.StepLR(opt, 3, last_epoch=4)
    with pytest.raises(ValueError, match="Starting multiplicative factor"):
        S.LinearLR(opt, start_factor=0.0)
    with pytest.raises(ValueError, match="Ending multiplicative factor"):
        S.LinearLR(opt, end_factor=1.5)
    with pytest.raises(ValueError, match="Expected 2 lr_lambdas"):
        S.LambdaLR(opt, [lambda t: 1.0])
    sched = S.ExponentialLR(opt, 0.5)
    assert [g["initial_lr"] for g in opt.param_groups] == BASE
    with pytest.raises(KeyError, match="missing key"):
        sched.load_state_dict({"last_epoch": 3})
    assert sched.last_epoch == 0
    other = make_opt()
    with pytest.raises(ValueError, match="another optimizer"):
        S.SequentialLR(opt, [S.StepLR(other, 2)], milestones=[])
    with pytest.raises(ValueError, match="expected 1 milestones"):
        S.SequentialLR(opt, [S.StepLR(opt, 2), S.StepLR(opt, 3)], milestones=[])
