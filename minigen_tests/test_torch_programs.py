"""PyTorch programs run unchanged on minigen: the ``torch`` import alias, the hardware
stand-ins, and the functions, layers and optimizers such programs use, each checked against
PyTorch's behaviour (against PyTorch itself where it is installed).
"""
import contextlib
import sys
import warnings

import numpy as np
import pytest

import minigen
from minigen import nn
from minigen.nn import functional as F


# ----------------------------------------------------------------------------- the alias
@contextlib.contextmanager
def torch_is_minigen():
    """`sys.modules['torch'] = minigen` for the block; whatever `torch*` was there comes back."""
    saved = {k: sys.modules.pop(k) for k in list(sys.modules)
             if k == "torch" or k.startswith("torch.")}
    sys.modules["torch"] = minigen
    try:
        yield
    finally:
        for k in [k for k in sys.modules if k == "torch" or k.startswith("torch.")]:
            del sys.modules[k]
        sys.modules.update(saved)


def test_torch_submodules_are_minigens_own_modules():
    with torch_is_minigen():
        import torch.nn as tnn
        import torch.nn.functional as TF
        import torch.optim.lr_scheduler as sched
        from torch.utils.data import DataLoader, TensorDataset
        from torch.nn import init
        import torch.distributions
        import torch.backends.cudnn as cudnn
        import torch.nn.parallel
        assert torch is minigen
        assert tnn is minigen.nn and TF is minigen.nn.functional
        assert tnn.Module is minigen.nn.Module
        assert sched is minigen.optim.lr_scheduler
        assert DataLoader is minigen.utils.data.DataLoader
        assert TensorDataset is minigen.utils.data.TensorDataset
        assert init is minigen.nn.init
        assert torch.distributions is minigen.distributions
        assert cudnn is minigen.backends.cudnn
        assert torch.nn.parallel is minigen.nn.parallel
        # the modules keep their own identity (spec, name): no second copy was made
        assert minigen.nn.__spec__.name == "minigen.nn"
        assert sys.modules["minigen.nn.functional"] is TF


def test_alias_names_missing_modules_and_leaves_real_torch_alone():
    with torch_is_minigen():
        with pytest.raises(ModuleNotFoundError, match="minigen has no 'minigen._dynamo'"):
            import torch._dynamo  # noqa: F401
    torch = pytest.importorskip("torch")
    import torch.nn.functional as TF
    assert TF is not minigen.nn.functional and torch.nn.Module is not minigen.nn.Module


def test_a_program_written_for_torch_trains_on_minigen():
    """A short PyTorch-style script, imported with torch -> minigen, agrees with PyTorch."""
    real = pytest.importorskip("torch")
    source = (
        "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n"
        "from torch.optim.lr_scheduler import StepLR\n"
        "class Net(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.pad = nn.ReflectionPad2d(1)\n"
        "        self.conv = nn.Conv2d(1, 8, 3)\n"
        "        self.norm = nn.InstanceNorm2d(8, affine=True)\n"
        "        self.up = nn.PixelShuffle(2)\n"
        "        self.drop = nn.Dropout2d(0.25)\n"
        "        self.head = nn.Linear(2 * 8 * 8, 3)\n"
        "    def forward(self, x):\n"
        "        x = F.selu(self.norm(self.conv(self.pad(x))))\n"
        "        x = self.drop(self.up(x))\n"
        "        return F.log_softmax(self.head(torch.flatten(x, 1)), dim=1)\n"
        "def step(model, x, y):\n"
        "    opt = torch.optim.Adadelta(model.parameters(), lr=1.0)\n"
        "    sched = StepLR(opt, step_size=1, gamma=0.7)\n"
        "    opt.zero_grad()\n"
        "    loss = F.nll_loss(model(x), y) + F.smooth_l1_loss(model(x).exp(), F.one_hot(y, 3).float())\n"
        "    loss.backward()\n"
        "    opt.step(); sched.step()\n"
        "    return loss\n")
    rng = np.random.RandomState(0)
    x, y = rng.randn(4, 1, 4, 4).astype(np.float32), rng.randint(0, 3, 4)

    def run(lib):
        namespace = {}
        exec(compile(source, "<program>", "exec"), namespace)
        return namespace

    real.manual_seed(0)
    pt = run(real)
    with torch_is_minigen():
        mg = run(None)
    a, b = pt["Net"](), mg["Net"]()
    b.load_state_dict({k: minigen.tensor(v.cpu().numpy()) for k, v in a.state_dict().items()})
    a.eval(), b.eval()
    la = pt["step"](a, real.tensor(x), real.tensor(y))
    lb = mg["step"](b, minigen.tensor(x), minigen.tensor(y))
    assert abs(la.item() - lb.item()) < 1e-5
    for (n, p), (m, q) in zip(a.named_parameters(), b.named_parameters()):
        assert n == m
        np.testing.assert_allclose(q.cpu().numpy(), p.detach().cpu().numpy(), atol=1e-5)


# ----------------------------------------------------------------------------- stand-ins
def test_backends_answer_truthfully_and_keep_flags():
    import minigen.backends.cudnn as cudnn
    cudnn.benchmark = True
    cudnn.deterministic = True
    assert cudnn.benchmark is True and cudnn.is_available() is False
    assert minigen.backends.mps.is_available() is False
    assert minigen.backends.mps.is_built() is False
    minigen.backends.cuda.matmul.allow_tf32 = True
    assert minigen.backends.cuda.is_built() == minigen.cuda.is_available()
    assert minigen.xpu.is_available() is False
    assert minigen.accelerator.is_available() == minigen.cuda.is_available()
    acc = minigen.accelerator.current_accelerator()
    assert (acc is None) != minigen.cuda.is_available()
    cudnn.benchmark = False
    cudnn.deterministic = False


def test_cuda_manual_seed_all_seeds_like_manual_seed():
    minigen.cuda.manual_seed_all(3)
    a = minigen.randn(4)
    minigen.manual_seed(3)
    b = minigen.randn(4)
    np.testing.assert_array_equal(a.cpu().numpy(), b.cpu().numpy())


def test_tensor_device_queries(device):
    x = minigen.ones(2, device=device)
    assert x.is_cuda == (device == "cuda")
    assert x.is_cpu == (device == "cpu")
    assert not x.is_mps and not x.is_xpu and not x.is_meta and not x.is_sparse
    assert x.get_device() == (-1 if device == "cpu" else 0)
    assert x.layout == "strided"


def test_data_parallel_wrappers_run_the_module_and_keep_torch_keys():
    m = nn.Linear(3, 2)
    dp = nn.DataParallel(m, device_ids=[0])
    x = minigen.randn(4, 3)
    np.testing.assert_array_equal(dp(x).cpu().numpy(), m(x).cpu().numpy())
    assert dp.module is m
    assert sorted(dp.state_dict()) == ["module.bias", "module.weight"]
    ddp = nn.parallel.DistributedDataParallel(m)
    with ddp.no_sync():
        np.testing.assert_array_equal(ddp(x).cpu().numpy(), m(x).cpu().numpy())
    out = nn.parallel.data_parallel(m, x, range(2))
    np.testing.assert_array_equal(out.cpu().numpy(), m(x).cpu().numpy())
    with pytest.raises(TypeError, match="must be an nn.Module"):
        nn.DataParallel(lambda t: t)
    with pytest.raises(RuntimeError, match="no process groups"):
        nn.parallel.DistributedDataParallel(m, process_group=object())


def test_legacy_constructors_sizes_and_types():
    assert minigen.Tensor(2, 3).shape == (2, 3) and minigen.Tensor(2, 3).dtype == minigen.float32
    assert minigen.Tensor([1, 2]).dtype == minigen.float32
    assert minigen.Tensor().shape == (0,)
    f = minigen.FloatTensor([1, 2])
    assert f.dtype == minigen.float32 and isinstance(f, minigen.FloatTensor)
    assert not isinstance(f, minigen.LongTensor)
    assert minigen.LongTensor(3).dtype == minigen.int64 and minigen.LongTensor(3).shape == (3,)
    assert minigen.Size([2, 3]) == (2, 3) and minigen.Size([2, 3]).numel() == 6
    assert minigen.Tensor(minigen.Size([4, 1])).shape == (4, 1)
    assert minigen.empty(size=(2, 5)).shape == (2, 5) and minigen.randn(size=(3,)).shape == (3,)
    with pytest.raises(TypeError, match="both positionally and as size="):
        minigen.zeros(2, size=(3,))
    v = minigen.Variable(minigen.ones(2), requires_grad=True)
    assert v.requires_grad
    model = nn.Linear(2, 2)
    assert minigen.compile(model) is model
    assert minigen.compile(mode="max-autotune")(model) is model
    np.testing.assert_array_equal(minigen.zeros(3, 3).fill_diagonal_(2.0).cpu().numpy(), 2 * np.eye(3))


def test_autocast_and_grad_scaler_pass_through():
    w = nn.Parameter(minigen.ones(3))
    opt = minigen.optim.SGD([w], lr=0.5)
    scaler = minigen.amp.GradScaler(enabled=True)
    with minigen.autocast(device_type="cpu", dtype=minigen.float16):
        loss = (w * w).sum()
    assert loss.dtype == minigen.float32
    scaler.scale(loss).backward()
    scaler.unscale_(opt)
    scaler.step(opt)
    scaler.update()
    np.testing.assert_allclose(w.detach().cpu().numpy(), np.zeros(3))


def test_sparse_programs_run_densely():
    idx = np.array([[0, 1, 1], [2, 0, 0]])
    a = minigen.sparse_coo_tensor(idx, minigen.ones(3), (2, 3))
    np.testing.assert_array_equal(a.cpu().numpy(), [[0, 0, 1], [2, 0, 0]])
    assert a.to_sparse() is a and a.to_dense() is a
    b = minigen.ones(3, 2)
    np.testing.assert_array_equal(minigen.spmm(a, b).cpu().numpy(), a.cpu().numpy() @ np.ones((3, 2)))
    np.testing.assert_array_equal(minigen.sparse.mm(a, b).cpu().numpy(), a.cpu().numpy() @ np.ones((3, 2)))


def test_scatter_add_in_place_matches_numpy():
    z = minigen.zeros(3)
    z.scatter_add_(0, minigen.tensor([0, 0, 2]), minigen.ones(3))
    np.testing.assert_array_equal(z.cpu().numpy(), [2, 0, 1])
    y = minigen.zeros(2, 2).scatter_(1, minigen.tensor([[1], [0]]), 5.0)
    np.testing.assert_array_equal(y.cpu().numpy(), [[0, 5], [5, 0]])


# ----------------------------------------------------------------------------- functions vs torch
FUNCTIONS = {
    "smooth_l1": lambda L, x: L.nn.functional.smooth_l1_loss(x, x * 0.3, beta=0.5),
    "smooth_l1_none": lambda L, x: L.nn.functional.smooth_l1_loss(x, -x, reduction="none"),
    "huber": lambda L, x: L.nn.functional.huber_loss(x, x * 0.3, delta=0.7),
    "normalize": lambda L, x: L.nn.functional.normalize(x, dim=1),
    "normalize_p1": lambda L, x: L.nn.functional.normalize(x, p=1, dim=-1),
    "cosine": lambda L, x: L.nn.functional.cosine_similarity(x, x * x, dim=1),
    "pairwise": lambda L, x: L.nn.functional.pairwise_distance(x, 2 * x),
    "selu": lambda L, x: L.nn.functional.selu(x),
    "celu": lambda L, x: L.nn.functional.celu(x, 0.5),
    "logsigmoid": lambda L, x: L.nn.functional.logsigmoid(x),
    "glu": lambda L, x: L.nn.functional.glu(x, 1),
    "mish": lambda L, x: L.nn.functional.mish(x),
    "hardswish": lambda L, x: L.nn.functional.hardswish(x),
    "hardsigmoid": lambda L, x: L.nn.functional.hardsigmoid(x),
    "softsign": lambda L, x: L.nn.functional.softsign(x),
    "tanhshrink": lambda L, x: L.nn.functional.tanhshrink(x),
    "threshold": lambda L, x: L.nn.functional.threshold(x, 0.1, 20.0),
    "softmin": lambda L, x: L.nn.functional.softmin(x, dim=1),
    "prelu": lambda L, x: L.nn.functional.prelu(x, L.tensor([0.1, 0.2, 0.3, 0.4], dtype=x.dtype)),
    "rms_norm": lambda L, x: L.nn.functional.rms_norm(x, (6,)),
    "instance_norm": lambda L, x: L.nn.functional.instance_norm(x),
    "pixel_shuffle": lambda L, x: L.nn.functional.pixel_shuffle(x, 2),
    "pixel_unshuffle": lambda L, x: L.nn.functional.pixel_unshuffle(x, 2),
    "unfold_windows": lambda L, x: x.unfold(3, 2, 2),
    "unfold_overlapping": lambda L, x: x.unfold(2, 3, 1),
}


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_function_and_gradient_agree_with_torch(name):
    torch = pytest.importorskip("torch")
    x = np.random.RandomState(1).randn(2, 4, 4, 6)
    fn = FUNCTIONS[name]
    a = minigen.tensor(x, requires_grad=True)
    b = torch.tensor(x, requires_grad=True)
    ya, yb = fn(minigen, a), fn(torch, b)
    assert tuple(ya.shape) == tuple(yb.shape)
    np.testing.assert_allclose(ya.cpu().numpy(), yb.detach().cpu().numpy(), rtol=1e-10, atol=1e-12)
    (ya * ya).sum().backward()
    (yb * yb).sum().backward()
    np.testing.assert_allclose(a.grad.cpu().numpy(), b.grad.cpu().numpy(), rtol=1e-7, atol=1e-12)


@pytest.mark.parametrize("name", ["smooth_l1", "huber", "normalize", "selu", "mish", "glu",
                                  "pixel_shuffle", "unfold_overlapping", "instance_norm"])
def test_function_gradcheck(name, device):
    x = minigen.tensor(np.random.RandomState(2).randn(1, 4, 4, 6) + 0.05, device=device,
                       requires_grad=True)
    assert minigen.gradcheck(lambda t: FUNCTIONS[name](minigen, t), (x,))


def test_function_errors_name_the_problem():
    with pytest.raises(RuntimeError, match="pixel_shuffle"):
        F.pixel_shuffle(minigen.ones(1, 3, 2, 2), 2)
    with pytest.raises(RuntimeError, match="size 5 is larger than dimension 0 of size 3"):
        minigen.ones(3).unfold(0, 5, 1)
    with pytest.raises(ValueError, match="reduction"):
        F.smooth_l1_loss(minigen.ones(2), minigen.ones(2), reduction="avg")
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.dropout2d(minigen.ones(1, 2, 2, 2), p=1.5)


def test_dropout2d_drops_whole_channels():
    x = minigen.ones(8, 16, 5, 5)
    y = F.dropout2d(x, 0.5, training=True).cpu().numpy()
    per_channel = y.reshape(8, 16, -1)
    assert np.all((per_channel == 0).all(-1) | (per_channel == 2).all(-1))
    assert 0.2 < (per_channel[..., 0] == 0).mean() < 0.8
    assert F.dropout2d(x, 0.5, training=False) is x


# ----------------------------------------------------------------------------- layers vs torch
LAYERS = [
    ("ReflectionPad2d", (2,)), ("ReflectionPad1d", ((1, 2),)), ("ReplicationPad2d", ((1, 2, 0, 1),)),
    ("ZeroPad2d", (1,)), ("ConstantPad2d", (1, 3.5)), ("CircularPad2d", (1,)),
    ("PixelShuffle", (2,)), ("PixelUnshuffle", (2,)), ("InstanceNorm2d", (4,)),
    ("InstanceNorm1d", (4,)), ("PReLU", (4,)), ("Softmax2d", ()), ("Hardswish", ()),
    ("Mish", ()), ("SELU", ()), ("LogSigmoid", ()), ("GLU", (1,)), ("Threshold", (0.1, 2.0)),
    ("RMSNorm", (6,)),
]


@pytest.mark.parametrize("name,args", LAYERS, ids=[n for n, _ in LAYERS])
def test_layer_agrees_with_torch(name, args):
    torch = pytest.importorskip("torch")
    x = np.random.RandomState(3).randn(2, 4, 6, 6).astype(np.float32)
    if name.endswith("1d"):
        x = x[:, :, 0]
    a, b = getattr(nn, name)(*args), getattr(torch.nn, name)(*args)
    assert sorted(a.state_dict()) == sorted(b.state_dict())
    np.testing.assert_allclose(a(minigen.tensor(x)).cpu().numpy(), b(torch.tensor(x)).detach().cpu().numpy(),
                               rtol=1e-5, atol=1e-6)


def test_instance_norm_running_stats_agree_with_torch():
    torch = pytest.importorskip("torch")
    x = np.random.RandomState(4).randn(3, 4, 5, 5).astype(np.float32)
    a = nn.InstanceNorm2d(4, affine=True, track_running_stats=True)
    b = torch.nn.InstanceNorm2d(4, affine=True, track_running_stats=True)
    assert sorted(a.state_dict()) == sorted(b.state_dict())
    a(minigen.tensor(x)), b(torch.tensor(x))
    np.testing.assert_allclose(a.running_mean.cpu().numpy(), b.running_mean.cpu().numpy(), atol=1e-6)
    np.testing.assert_allclose(a.running_var.cpu().numpy(), b.running_var.cpu().numpy(), atol=1e-6)
    a.eval(), b.eval()
    np.testing.assert_allclose(a(minigen.tensor(x)).cpu().numpy(), b(torch.tensor(x)).detach().cpu().numpy(),
                               atol=1e-5)


def test_losses_and_distance_modules_agree_with_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.RandomState(5)
    x, y = rng.randn(6, 3).astype(np.float32), rng.randn(6, 3).astype(np.float32)
    for name, args in [("SmoothL1Loss", {"beta": 0.3}), ("HuberLoss", {"delta": 0.4}),
                       ("CosineSimilarity", {}), ("PairwiseDistance", {})]:
        a, b = getattr(nn, name)(**args), getattr(torch.nn, name)(**args)
        np.testing.assert_allclose(a(minigen.tensor(x), minigen.tensor(y)).cpu().numpy(),
                                   b(torch.tensor(x), torch.tensor(y)).cpu().numpy(), rtol=1e-5)
    t = np.sign(rng.randn(6)).astype(np.float32)
    np.testing.assert_allclose(
        nn.MarginRankingLoss(0.2)(minigen.tensor(x[:, 0]), minigen.tensor(y[:, 0]), minigen.tensor(t)).cpu().numpy(),
        torch.nn.MarginRankingLoss(0.2)(torch.tensor(x[:, 0]), torch.tensor(y[:, 0]), torch.tensor(t)).cpu().numpy(),
        rtol=1e-6)


def test_parameter_list_and_dict_register_like_torch():
    pl = nn.ParameterList([nn.Parameter(minigen.ones(2)), minigen.zeros(3)])
    pl.append(nn.Parameter(minigen.ones(1)))
    assert len(pl) == 3 and sorted(pl.state_dict()) == ["0", "1", "2"]
    assert isinstance(pl[1], nn.Parameter) and len(list(pl.parameters())) == 3
    pd = nn.ParameterDict({"a": nn.Parameter(minigen.ones(2))})
    pd["b"] = minigen.zeros(1)
    assert "b" in pd and sorted(pd.state_dict()) == ["a", "b"]
    with pytest.raises(IndexError, match="out of range"):
        pl[5]


# ----------------------------------------------------------------------------- optimizers vs torch
OPTIMIZERS = [
    ("Adadelta", {}), ("Adadelta", {"lr": 0.5, "rho": 0.8, "weight_decay": 0.1}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.01, "weight_decay": 0.1, "initial_accumulator_value": 0.1}),
    ("Adamax", {"lr": 0.01, "weight_decay": 0.1}), ("NAdam", {"lr": 0.01}),
    ("NAdam", {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True}),
    ("RAdam", {"lr": 0.01}), ("RAdam", {"lr": 0.01, "weight_decay": 0.1}),
    ("LBFGS", {"lr": 0.8}), ("LBFGS", {"lr": 0.5, "history_size": 3, "max_iter": 7}),
]


@pytest.mark.parametrize("name,kwargs", OPTIMIZERS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(OPTIMIZERS)])
def test_optimizer_trajectory_agrees_with_torch(name, kwargs):
    torch = pytest.importorskip("torch")
    rng = np.random.RandomState(6)
    W, X, Y = rng.randn(5, 3), rng.randn(8, 5), rng.randn(8, 3)

    def run(lib):
        w = lib.tensor(W.copy(), requires_grad=True)
        x, y = lib.tensor(X), lib.tensor(Y)
        opt = getattr(lib.optim, name)([w], **kwargs)
        for _ in range(8):
            def closure():
                opt.zero_grad()
                loss = ((x @ w - y) ** 2).mean() + 0.01 * (w ** 4).sum()
                loss.backward()
                return loss
            if name == "LBFGS":
                opt.step(closure)
            else:
                closure()
                opt.step()
        return w.detach().cpu().numpy()
    np.testing.assert_allclose(run(minigen), run(torch), rtol=1e-7, atol=1e-9)


def test_optimizer_arguments_are_checked():
    p = [nn.Parameter(minigen.ones(2))]
    with pytest.raises(ValueError, match="learning rate"):
        minigen.optim.Adadelta(p, lr=-1)
    with pytest.raises(ValueError, match="beta parameter at index 1"):
        minigen.optim.NAdam(p, betas=(0.9, 1.5))
    with pytest.raises(RuntimeError, match="only 'strong_wolfe' is supported"):
        minigen.optim.LBFGS(p, line_search_fn="armijo")
    with pytest.raises(RuntimeError, match="closure"):
        minigen.optim.LBFGS(p).step(None)


def test_dropout2d_on_2d_input_warns_like_torch():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        nn.Dropout2d(0.5)(minigen.ones(4, 3))
    assert any("dropout2d" in str(w.message) for w in caught)


def test_python_floats_go_straight_to_the_asked_dtype():
    # tensor([0.1], dtype=float64) is 0.1 in float64, not 0.1 rounded through float32
    assert minigen.tensor([0.1], dtype=minigen.float64).item() == 0.1
    assert minigen.tensor([0.1]).dtype == minigen.float32


# ----------------------------------------------------------------------------- lr schedules vs torch
SCHEDULES = [
    ("ConstantLR", {"factor": 0.5, "total_iters": 4}, "SGD", {"lr": 0.1}),
    ("PolynomialLR", {"total_iters": 10, "power": 2.0}, "SGD", {"lr": 0.1}),
    ("MultiplicativeLR", {"lr_lambda": lambda e: 0.95}, "SGD", {"lr": 0.1}),
    ("CosineAnnealingWarmRestarts", {"T_0": 5, "T_mult": 2, "eta_min": 0.001}, "SGD", {"lr": 0.1}),
    ("OneCycleLR", {"max_lr": 0.5, "total_steps": 30}, "SGD", {"lr": 0.1, "momentum": 0.9}),
    ("OneCycleLR", {"max_lr": 0.5, "epochs": 3, "steps_per_epoch": 10, "anneal_strategy": "linear",
                    "three_phase": True}, "Adam", {"lr": 0.1}),
    ("ReduceLROnPlateau", {"patience": 2, "factor": 0.5, "cooldown": 1}, "SGD", {"lr": 0.1}),
    ("ReduceLROnPlateau", {"mode": "max", "patience": 1, "threshold": 0.1,
                           "threshold_mode": "abs"}, "SGD", {"lr": 0.1}),
]


@pytest.mark.parametrize("name,kwargs,opt,opt_kwargs", SCHEDULES,
                         ids=[f"{s[0]}-{i}" for i, s in enumerate(SCHEDULES)])
def test_schedule_agrees_with_torch(name, kwargs, opt, opt_kwargs):
    torch = pytest.importorskip("torch")
    metric = [5, 4, 4, 4, 4, 4, 3, 3, 3, 3, 3, 3, 3, 3, 2] + [2] * 15

    def trajectory(lib):
        p = lib.nn.Parameter(lib.ones(2))
        o = getattr(lib.optim, opt)([p], **opt_kwargs)
        s = getattr(lib.optim.lr_scheduler, name)(o, **kwargs)
        out = []
        for t in range(30):
            o.step()
            s.step(metric[t]) if name == "ReduceLROnPlateau" else s.step()
            g = o.param_groups[0]
            out.append((g["lr"], g.get("momentum", g.get("betas", (0.0,))[0])))
        return np.array(out)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.testing.assert_allclose(trajectory(minigen), trajectory(torch), rtol=1e-12, atol=1e-15)


def test_schedule_arguments_are_checked():
    o = minigen.optim.SGD([nn.Parameter(minigen.ones(1))], lr=0.1)
    with pytest.raises(ValueError, match="total_steps OR"):
        minigen.optim.lr_scheduler.OneCycleLR(o, max_lr=1.0)
    with pytest.raises(ValueError, match="momentum or beta1"):
        minigen.optim.lr_scheduler.OneCycleLR(minigen.optim.Adadelta([nn.Parameter(minigen.ones(1))]),
                                              max_lr=1.0, total_steps=5)
    with pytest.raises(ValueError, match="Factor should be < 1.0"):
        minigen.optim.lr_scheduler.ReduceLROnPlateau(o, factor=2.0)


# ----------------------------------------------------------------------------- second batch vs torch
def _compare(fn, arrays, grad_of=(0,), rtol=1e-9):
    torch = pytest.importorskip("torch")
    a = [minigen.tensor(v, requires_grad=i in grad_of) for i, v in enumerate(arrays)]
    b = [torch.tensor(v, requires_grad=i in grad_of) for i, v in enumerate(arrays)]
    ya, yb = fn(minigen, *a), fn(torch, *b)
    assert tuple(ya.shape) == tuple(yb.shape)
    np.testing.assert_allclose(ya.cpu().numpy(), yb.detach().cpu().numpy(), rtol=rtol, atol=1e-12)
    (ya * ya).sum().backward()
    (yb * yb).sum().backward()
    for i in grad_of:
        np.testing.assert_allclose(a[i].grad.cpu().numpy(), b[i].grad.cpu().numpy(), rtol=rtol, atol=1e-12)


_R = np.random.RandomState(7)
_SIGNS = np.array([1.0, -1.0, 1.0, -1.0])
SECOND = {
    "unfold": (lambda L, x: L.nn.functional.unfold(x, (2, 3), dilation=(1, 2), padding=1, stride=(2, 1)),
               [_R.randn(2, 3, 7, 6)], (0,)),
    "unfold_unbatched": (lambda L, x: L.nn.functional.unfold(x, 3), [_R.randn(3, 5, 5)], (0,)),
    "adaptive_max_pool2d": (lambda L, x: L.nn.functional.adaptive_max_pool2d(x, (3, 4)),
                            [_R.randn(2, 3, 7, 6)], (0,)),
    "adaptive_max_pool1d": (lambda L, x: L.nn.functional.adaptive_max_pool1d(x, 4),
                            [_R.randn(2, 3, 7)], (0,)),
    "bilinear": (lambda L, x1, x2, w, b: L.nn.functional.bilinear(x1, x2, w, b),
                 [_R.randn(3, 4), _R.randn(3, 5), _R.randn(2, 4, 5), _R.randn(2)], (0, 1, 2, 3)),
    "triplet": (lambda L, a, p, n: L.nn.functional.triplet_margin_loss(a, p, n, swap=True),
                [_R.randn(4, 5), _R.randn(4, 5), _R.randn(4, 5)], (0, 1, 2)),
    "cosine_embedding": (lambda L, a, b, y: L.nn.functional.cosine_embedding_loss(a, b, y, margin=0.1),
                         [_R.randn(4, 5), _R.randn(4, 5), _SIGNS], (0, 1)),
    "hinge_embedding": (lambda L, x, y: L.nn.functional.hinge_embedding_loss(x, y),
                        [_R.randn(4), _SIGNS], (0,)),
    "soft_margin": (lambda L, x, y: L.nn.functional.soft_margin_loss(x, y), [_R.randn(4), _SIGNS], (0,)),
    "multilabel_soft_margin": (lambda L, x, y: L.nn.functional.multilabel_soft_margin_loss(x, y),
                               [_R.randn(4, 3), (_R.rand(4, 3) > 0.5).astype(float)], (0,)),
    "poisson_full": (lambda L, x, y: L.nn.functional.poisson_nll_loss(x, y, full=True),
                     [_R.randn(4, 3), _R.poisson(2, (4, 3)).astype(float)], (0,)),
    "poisson_rate": (lambda L, x, y: L.nn.functional.poisson_nll_loss(x.abs(), y, log_input=False),
                     [_R.randn(4, 3), _R.poisson(2, (4, 3)).astype(float)], (0,)),
    "addcmul": (lambda L, a, b, c: L.addcmul(a, b, c, value=0.5), [_R.randn(3), _R.randn(3), _R.randn(3)],
                (0, 1, 2)),
    "addcdiv": (lambda L, a, b, c: a.addcdiv(b, c, value=2.0), [_R.randn(3), _R.randn(3), _R.rand(3) + 1],
                (0, 1, 2)),
    "special_ndtr": (lambda L, x: L.special.ndtr(x), [_R.randn(5)], (0,)),
    "special_expit": (lambda L, x: L.special.expit(x), [_R.randn(5)], (0,)),
}


@pytest.mark.parametrize("name", sorted(SECOND))
def test_second_batch_agrees_with_torch(name):
    fn, arrays, grad_of = SECOND[name]
    _compare(fn, arrays, grad_of)


def test_more_modules_agree_with_torch():
    torch = pytest.importorskip("torch")
    x = np.random.RandomState(8).randn(2, 3, 6, 6).astype(np.float32)
    for name, args in [("Unfold", (3,)), ("AdaptiveMaxPool2d", ((2, 3),))]:
        np.testing.assert_allclose(getattr(nn, name)(*args)(minigen.tensor(x)).cpu().numpy(),
                                   getattr(torch.nn, name)(*args)(torch.tensor(x)).cpu().numpy(), atol=1e-6)
    b, c = torch.nn.Bilinear(3, 4, 5), nn.Bilinear(3, 4, 5)
    assert sorted(c.state_dict()) == sorted(b.state_dict()) and repr(c) == repr(b)
    c.load_state_dict({k: minigen.tensor(v.detach().cpu().numpy()) for k, v in b.state_dict().items()})
    u, v = x[0, 0, :2, :3], x[0, 1, :2, :4]
    np.testing.assert_allclose(c(minigen.tensor(u), minigen.tensor(v)).cpu().numpy(),
                               b(torch.tensor(u), torch.tensor(v)).detach().cpu().numpy(), atol=1e-6)


def test_normal_with_tensor_arguments_is_differentiable():
    mean = minigen.zeros(3, requires_grad=True)
    std = minigen.ones(3, requires_grad=True)
    y = minigen.normal(mean, std)
    y.sum().backward()
    np.testing.assert_array_equal(mean.grad.cpu().numpy(), np.ones(3))
    assert std.grad is not None
    assert minigen.normal(0.0, 1.0, size=(2, 3)).shape == (2, 3)
    assert minigen.normal(minigen.zeros(4, 1), 2.0).shape == (4, 1)
    with pytest.raises(TypeError, match="size="):
        minigen.normal(0.0, 1.0)


def test_in_place_random_fills_have_the_right_laws():
    x = minigen.empty(20000)
    assert abs(x.bernoulli_(0.3).mean().item() - 0.3) < 0.02
    assert abs(x.exponential_(2.0).mean().item() - 0.5) < 0.02
    assert abs(x.geometric_(0.5).mean().item() - 2.0) < 0.05 and x.min().item() >= 1
    r = minigen.zeros(1000, dtype=minigen.int64).random_(3, 7)
    assert r.min().item() == 3 and r.max().item() == 6
    minigen.manual_seed(1)
    a = minigen.empty(5).exponential_()
    minigen.manual_seed(1)
    np.testing.assert_array_equal(a.cpu().numpy(), minigen.empty(5).exponential_().cpu().numpy())


# ----------------------------------------------------------------------------- linalg
_A = np.random.RandomState(9).randn(2, 3, 3) + 3 * np.eye(3)
LINALG = {
    "inv": (lambda L, a: L.linalg.inv(a), [_A], (0,)),
    "det": (lambda L, a: L.linalg.det(a), [_A], (0,)),
    "slogdet": (lambda L, a: L.linalg.slogdet(a)[1], [_A], (0,)),
    "solve": (lambda L, a, b: L.linalg.solve(a, b), [_A, _R.randn(2, 3, 2)], (0, 1)),
    "solve_vector": (lambda L, a, b: L.linalg.solve(a, b), [_A, _R.randn(2, 3)], (0, 1)),
    "vector_norm_3": (lambda L, x: L.linalg.vector_norm(x, 3, dim=1), [_R.randn(4, 5)], (0,)),
    "vector_norm_inf": (lambda L, x: L.linalg.vector_norm(x, float("inf"), dim=-1), [_R.randn(4, 5)], (0,)),
    "norm": (lambda L, x: L.linalg.norm(x), [_R.randn(4, 5)], (0,)),
    "matrix_norm": (lambda L, x: L.linalg.matrix_norm(x), [_A], (0,)),
}


@pytest.mark.parametrize("name", sorted(LINALG))
def test_linalg_agrees_with_torch(name):
    fn, arrays, grad_of = LINALG[name]
    _compare(fn, arrays, grad_of, rtol=1e-8)


@pytest.mark.parametrize("name", ["inv", "det", "slogdet"])
def test_linalg_gradcheck(name, device):
    a = minigen.tensor(_A, device=device, requires_grad=True)
    assert minigen.gradcheck(lambda t: LINALG[name][0](minigen, t), (a,))


def test_linalg_errors_and_names():
    with pytest.raises(RuntimeError, match="square matrices"):
        minigen.linalg.inv(minigen.ones(2, 3))
    with pytest.raises(RuntimeError, match="Order 3 not supported"):
        minigen.linalg.matrix_norm(minigen.ones(2, 2), 3)
    a, b = minigen.randn(2, 3), minigen.randn(3, 2)
    assert minigen.linalg.matmul(a, b).tolist() == minigen.matmul(a, b).tolist()
    np.testing.assert_allclose(minigen.inverse(minigen.eye(2) * 2).cpu().numpy(), np.eye(2) / 2)


# ----------------------------------------------------------------------------- writes with gradients
def test_writing_a_graph_value_into_a_plain_tensor_records_it(device):
    torch = pytest.importorskip("torch")
    weights = np.array([[1.0, 1.0, 1.0], [1.0, 2.0, 3.0]])
    grads = []
    for L, dev in ((minigen, device), (torch, "cpu")):
        v = L.tensor([1.0, 2.0, 3.0], requires_grad=True, device=dev)
        x = L.zeros(2, 3, device=dev, dtype=v.dtype)
        x[1] = v * 2            # the write joins x to the graph
        m = L.zeros(4, device=dev, dtype=v.dtype)
        m[L.tensor([True, False, True, False], device=dev)] = v.sum()   # broadcast value
        loss = (x * L.tensor(weights, device=dev, dtype=v.dtype)).sum() + (m * L.arange(4, device=dev)).sum()
        loss.backward()
        assert x.requires_grad
        grads.append(v.grad.cpu().numpy())
    np.testing.assert_allclose(grads[0], grads[1])


def test_writing_twice_into_a_graph_tensor_is_recorded_both_times():
    v = minigen.tensor([1.0, 2.0], requires_grad=True)
    x = minigen.zeros(2, 2)
    x[0] = v
    x[1] = v * 3                # x is in the graph now: recorded again, as in PyTorch
    (x * minigen.tensor([[1.0, 1.0], [2.0, 2.0]])).sum().backward()
    np.testing.assert_array_equal(v.grad.numpy(), [7.0, 7.0])
    with minigen.no_grad():
        x[1] = v  # without recording, a plain write
    np.testing.assert_array_equal(x.detach().numpy(), [[1, 2], [1, 2]])


@pytest.mark.parametrize("accumulate", [False, True])
def test_index_put_agrees_with_torch(accumulate, device):
    torch = pytest.importorskip("torch")
    outs = []
    for L, dev in ((minigen, device), (torch, "cpu")):
        x = L.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True, device=dev)
        v = L.tensor([10.0, 20.0], requires_grad=True, device=dev)
        idx = L.tensor([0, 0] if accumulate else [1, 3], device=dev)
        y = x.index_put((idx,), v, accumulate=accumulate)
        (y * y * L.arange(1, 5, device=dev)).sum().backward()
        outs.append([t.detach().cpu().numpy() for t in (y, x.grad, v.grad)])
    for a, b in zip(*outs):
        np.testing.assert_allclose(a, b)


# ----------------------------------------------------------------------------- in-place variants, dtypes
INPLACE_CASES = {
    "abs_": (), "exp_": (), "log_": (), "sqrt_": (), "sigmoid_": (), "tanh_": (), "relu_": (),
    "neg_": (), "floor_": (), "round_": (), "reciprocal_": (), "square_": (), "sign_": (),
    "clamp_min_": (0.5,), "clamp_max_": (0.5,), "clip_": (0.2, 0.6), "pow_": (2.0,),
    "cumsum_": (0,), "gt_": (0.5,), "lt_": (0.5,), "eq_": (0.5,), "tril_": (), "triu_": (1,),
    "addcmul_": ("ones", "twos"), "addcdiv_": ("ones", "twos"), "logit_": (),
    "remainder_": (0.3,), "subtract_": (1.0,), "t_": (), "transpose_": (0, 1), "unsqueeze_": (0,),
}


@pytest.mark.parametrize("name", sorted(INPLACE_CASES))
def test_in_place_variant_agrees_with_torch(name):
    torch = pytest.importorskip("torch")
    x = np.random.RandomState(10).rand(3, 4) * 0.8 + 0.1
    results = []
    for L in (minigen, torch):
        args = tuple(L.ones(3, 4, dtype=L.float64) * (1 if a == "ones" else 2) if isinstance(a, str)
                     else a for a in INPLACE_CASES[name])
        t = L.tensor(x.copy())
        assert getattr(t, name)(*args) is t
        results.append(t.cpu().numpy())
    assert results[0].shape == results[1].shape
    np.testing.assert_allclose(results[0], results[1], rtol=1e-12)


def test_in_place_variants_refuse_graph_tensors():
    w = minigen.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="exp_"):
        w.exp_()


def test_bfloat16_can_be_named_but_not_used():
    assert minigen.cuda.is_bf16_supported() is False
    table = {"float32": minigen.float32, "bfloat16": minigen.bfloat16}
    assert "bfloat16" in repr(table["bfloat16"])
    with pytest.raises(TypeError, match="minigen has no bfloat16"):
        minigen.zeros(2, dtype=minigen.bfloat16)
    assert issubclass(minigen.cuda.amp.GradScaler, minigen.amp.GradScaler)


def test_random_sampler_with_a_huge_num_samples_draws_lazily():
    # minGPT's trainer: RandomSampler(ds, replacement=True, num_samples=int(1e10))
    from minigen.utils.data import DataLoader, RandomSampler, TensorDataset
    ds = TensorDataset(minigen.arange(100).view(-1, 1), minigen.arange(100))
    sampler = RandomSampler(ds, replacement=True, num_samples=int(1e10))
    loader = DataLoader(ds, sampler=sampler, shuffle=False, pin_memory=True, batch_size=8,
                        num_workers=0)
    x, y = next(iter(loader))
    assert x.shape == (8, 1) and len(loader) == 1250000000
    assert 0 <= y.min().item() and y.max().item() < 100
    first = [i for _, i in zip(range(5), iter(sampler))]
    assert len(first) == 5 and all(0 <= i < 100 for i in first)


def test_format_of_a_scalar_tensor_is_its_value():
    loss = minigen.tensor(1.23456)
    assert f"{loss:.3f}" == "1.235" and "{:+.2f}".format(minigen.tensor(2.0)) == "+2.00"
    assert f"{minigen.ones(2)}" == str(minigen.ones(2))
    with pytest.raises(TypeError):
        f"{minigen.ones(2):.3f}"


@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("padding_mode", ["zeros", "border"])
@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
def test_spatial_transformer_agrees_with_torch(mode, padding_mode, align_corners):
    torch = pytest.importorskip("torch")
    rng = np.random.RandomState(11)
    x, th = rng.randn(2, 3, 5, 6), rng.randn(2, 2, 3) * 0.5 + np.array([[1, 0, 0], [0, 1, 0]])
    res = []
    for L in (minigen, torch):
        a, t = L.tensor(x, requires_grad=True), L.tensor(th, requires_grad=True)
        g = L.nn.functional.affine_grid(t, (2, 3, 4, 7), align_corners=align_corners)
        y = L.nn.functional.grid_sample(a, g, mode=mode, padding_mode=padding_mode,
                                        align_corners=align_corners)
        (y * y).sum().backward()
        tg = t.grad.cpu().numpy() if t.grad is not None else np.zeros_like(th)
        res.append([g.detach().cpu().numpy(), y.detach().cpu().numpy(), a.grad.cpu().numpy(), tg])
    for p, q in zip(*res):
        np.testing.assert_allclose(p, q, rtol=1e-9, atol=1e-12)


def test_hub_jit_onnx_checkpoint_tensorboard_stand_ins(tmp_path):
    with torch_is_minigen():
        from torch.hub import tqdm
        from torch.utils.tensorboard import SummaryWriter
        from torch.utils.checkpoint import checkpoint
        import torch.jit
        import torch.onnx
        assert list(tqdm([1, 2], disable=True)) == [1, 2]
        with pytest.raises(RuntimeError, match="does not download"):
            minigen.hub.load_state_dict_from_url("https://example.invalid/w.pt")
        m = nn.Linear(2, 2)
        assert torch.jit.script(m) is m and torch.jit.trace(m, minigen.ones(1, 2)) is m
        assert not torch.jit.is_scripting()
        with pytest.raises(RuntimeError, match="does not export ONNX"):
            torch.onnx.export(m, minigen.ones(1, 2), str(tmp_path / "m.onnx"))
        x = minigen.ones(1, 2, requires_grad=True)
        checkpoint(m, x, use_reentrant=False).sum().backward()
        assert x.grad is not None
        with SummaryWriter(log_dir=str(tmp_path / "tb")) as w:
            w.add_scalar("loss", minigen.tensor(0.5), 3)
            w.add_scalars("lr", {"a": 1.0}, 3)
            w.add_histogram("h", minigen.ones(3), 3)
        lines = (tmp_path / "tb" / "scalars.jsonl").read_text().splitlines()
        assert '"tag": "loss"' in lines[0] and '"value": 0.5' in lines[0] and len(lines) == 2


def test_testing_assert_close_like_torch():
    with torch_is_minigen():
        import torch.testing
        torch.testing.assert_close(minigen.ones(3), minigen.ones(3) + 1e-7)
        with pytest.raises(AssertionError, match="Mismatched elements: 1 / 3"):
            torch.testing.assert_close(minigen.ones(3), minigen.tensor([1.0, 1.1, 1.0]))
        with pytest.raises(AssertionError, match="dtype"):
            torch.testing.assert_close(minigen.ones(2), minigen.ones(2, dtype=minigen.float64))
        torch.testing.assert_close(minigen.ones(2), minigen.ones(2, dtype=minigen.float64) + 0.1,
                                   rtol=0, atol=0.2, check_dtype=False)


def test_load_accepts_torch_keywords(tmp_path):
    path = str(tmp_path / "w.pt")
    minigen.save({"w": minigen.ones(2)}, path)
    for kwargs in ({"weights_only": True}, {"map_location": lambda storage, loc: storage},
                   {"map_location": minigen.device("cpu")}, {"map_location": "cpu", "mmap": False}):
        np.testing.assert_array_equal(minigen.load(path, **kwargs)["w"].cpu().numpy(), [1, 1])


# ----------------------------------------------------------------------------- torch.* extras
_X_NAN = _R.randn(4, 5)
_X_NAN[1, 2] = np.nan
TORCH_EXTRAS = {
    "diff": (lambda L, x: L.diff(x, n=2, dim=1), [_R.randn(3, 5)], (0,)),
    "diff_prepend": (lambda L, x, p: x.diff(prepend=p), [_R.randn(3, 5), _R.randn(3, 1)], (0, 1)),
    "kron": (lambda L, a, b: L.kron(a, b), [_R.randn(2, 3), _R.randn(3, 2)], (0, 1)),
    "kron_3d": (lambda L, a, b: L.kron(a, b), [_R.randn(2, 3, 2), _R.randn(2, 2)], (0, 1)),
    "cartesian_prod": (lambda L, a, b: L.cartesian_prod(a, b), [_R.randn(3), _R.randn(2)], (0, 1)),
    "nansum": (lambda L, x: L.nansum(x, dim=1), [_X_NAN], (0,)),
    "nanmean": (lambda L, x: L.nanmean(x), [_X_NAN], (0,)),
    "quantile": (lambda L, x: L.quantile(x, 0.3, dim=1, keepdim=True), [_R.randn(4, 6)], (0,)),
    "quantile_midpoint": (lambda L, x: x.quantile(0.3, dim=0, interpolation="midpoint"),
                          [_R.randn(4, 6)], (0,)),
    "quantile_many": (lambda L, x, q: L.quantile(x, q), [_R.randn(4, 6), np.array([0.1, 0.5, 0.9])],
                      (0,)),
    "cummax_values": (lambda L, x: L.cummax(x, 1).values, [np.round(_R.randn(3, 6))], (0,)),
    "cummin_values": (lambda L, x: x.cummin(0)[0], [np.round(_R.randn(5, 3))], (0,)),
}


@pytest.mark.parametrize("name", sorted(TORCH_EXTRAS))
def test_torch_extras_agree_with_torch(name):
    fn, arrays, grad_of = TORCH_EXTRAS[name]
    _compare(fn, arrays, grad_of)


def test_index_valued_extras_agree_with_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.RandomState(12)
    x = np.round(rng.randn(3, 6))
    s1, v1 = np.sort(rng.randn(6)), rng.randn(4)
    s2, v2 = np.sort(rng.randn(2, 6), -1), rng.randn(2, 4)
    ints, w = rng.randint(0, 5, 20), rng.rand(20)
    cases = [
        lambda L: L.cummax(L.tensor(x), 1).indices, lambda L: L.cummin(L.tensor(x), 1)[1],
        lambda L: L.searchsorted(L.tensor(s1), L.tensor(v1)),
        lambda L: L.searchsorted(L.tensor(s2), L.tensor(v2), right=True),
        lambda L: L.bucketize(L.tensor(v1), L.tensor([-1.0, 0.0, 1.0])),
        lambda L: L.bincount(L.tensor(ints), minlength=7),
        lambda L: L.tensor(ints).bincount(L.tensor(w)),
    ]
    for case in cases:
        a, b = case(minigen), case(torch)
        assert a.dtype == b.cpu().numpy().dtype
        np.testing.assert_allclose(a.cpu().numpy(), b.cpu().numpy())


def test_save_and_load_with_file_objects(tmp_path):
    import io
    path = tmp_path / "traindata.pt"
    with open(path, "wb") as f:  # torch.save(data, open('traindata.pt', 'wb'))
        minigen.save(np.ones((2, 3)), f)
    with open(path, "rb") as f:
        assert minigen.load(f).shape == (2, 3)
    np.testing.assert_array_equal(minigen.load(str(path)), np.ones((2, 3)))
    buf = io.BytesIO()
    minigen.save({"w": minigen.ones(2)}, buf)
    buf.seek(0)
    np.testing.assert_array_equal(minigen.load(buf)["w"].cpu().numpy(), [1, 1])


def test_torch_keyword_arguments_accepted():
    torch = pytest.importorskip("torch")
    rng = np.random.RandomState(13)
    x, y, w = rng.randn(4), rng.randn(4), rng.rand(4)
    a = F.huber_loss(minigen.tensor(x), minigen.tensor(y), weight=minigen.tensor(w)).item()
    b = torch.nn.functional.huber_loss(torch.tensor(x), torch.tensor(y), weight=torch.tensor(w)).item()
    assert abs(a - b) < 1e-12
    n, t = nn.InstanceNorm2d(3, affine=True, bias=False), torch.nn.InstanceNorm2d(3, affine=True, bias=False)
    assert list(n.state_dict()) == list(t.state_dict()) == ["weight"] and repr(n) == repr(t)


def test_type_accepts_torch_forms_and_names_itself_as_the_program_sees_it():
    t = minigen.tensor([1, 2])
    assert t.type("torch.DoubleTensor").dtype == minigen.float64
    assert t.type(minigen.FloatTensor).dtype == minigen.float32
    assert t.type() == "minigen.LongTensor"
    with torch_is_minigen():
        assert minigen.ones(2).type() == "torch.FloatTensor"
