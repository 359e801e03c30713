"""PyTorch's module layout under the alias: the import paths real programs use resolve to
minigen's own objects (torch.nn.modules.*, torch.cuda.amp, torch.version, torch.random,
torch.profiler, torch.types, torch.nn.common_types, torch.utils.hooks / model_zoo,
torch.utils.data._utils.collate, torch.optim.lr_scheduler._LRScheduler, sdpa_kernel)."""
import importlib
import sys

import pytest

import minigen


@pytest.fixture
def as_torch():
    saved = {k: sys.modules.pop(k) for k in list(sys.modules) if k == "torch" or k.startswith("torch.")}
    sys.modules["torch"] = minigen
    yield minigen
    for k in [k for k in sys.modules if k == "torch" or k.startswith("torch.")]:
        del sys.modules[k]
    sys.modules.update(saved)


def test_nn_modules_layout(as_torch):
    utils = importlib.import_module("torch.nn.modules.utils")
    assert utils._pair(3) == (3, 3) and utils._triple((1, 2, 3)) == (1, 2, 3)
    assert utils._reverse_repeat_tuple((1, 2), 2) == (2, 2, 1, 1)
    bn = importlib.import_module("torch.nn.modules.batchnorm")
    assert isinstance(minigen.nn.BatchNorm2d(3), bn._BatchNorm) and bn.BatchNorm1d is minigen.nn.BatchNorm1d
    conv = importlib.import_module("torch.nn.modules.conv")
    assert issubclass(minigen.nn.Conv2d, conv._ConvNd) and issubclass(minigen.nn.ConvTranspose2d, conv._ConvTransposeNd)
    loss = importlib.import_module("torch.nn.modules.loss")
    assert issubclass(minigen.nn.CrossEntropyLoss, loss._WeightedLoss)
    assert importlib.import_module("torch.nn.modules.module").Module is minigen.nn.Module
    assert importlib.import_module("torch.nn.modules").Linear is minigen.nn.Linear

    class MyConv(conv._ConvNd):   # a program's own layer on PyTorch's private base
        pass
    assert issubclass(MyConv, minigen.nn.Module)


def test_cuda_amp_version_random_profiler(as_torch):
    amp = importlib.import_module("torch.cuda.amp")
    with amp.autocast():
        pass
    scaler = amp.GradScaler(enabled=False)
    p = minigen.ones(2, requires_grad=True)
    opt = minigen.optim.SGD([p], lr=0.5)
    scaler.scale((p * 2).sum()).backward()
    scaler.step(opt)
    scaler.update()
    assert p.tolist() == [0.0, 0.0]
    version = importlib.import_module("torch.version")
    assert version.__version__ == minigen.__version__ and version.hip is None
    rnd = importlib.import_module("torch.random")
    minigen.manual_seed(3)
    with rnd.fork_rng():
        minigen.randn(5)
    a = minigen.randn(2)
    minigen.manual_seed(3)
    assert a.tolist() == minigen.randn(2).tolist()   # the block's draws did not move the state
    prof = importlib.import_module("torch.profiler")
    with prof.profile(activities=[prof.ProfilerActivity.CPU]) as pr, prof.record_function("x"):
        minigen.ones(1) + 1
    assert "minigen records no per-op profile" in pr.key_averages().table()
    importlib.import_module("torch.autograd.profiler").record_function("y")


def test_small_modules(as_torch):
    assert importlib.import_module("torch.utils.hooks").RemovableHandle is minigen.nn.module.RemovableHandle
    with pytest.raises(Exception):
        importlib.import_module("torch.utils.model_zoo").load_url("https://example.com/w.pth")
    importlib.import_module("torch.types").Number
    importlib.import_module("torch.nn.common_types")._size_2_t
    collate = importlib.import_module("torch.utils.data._utils.collate")
    assert collate.default_collate([minigen.ones(2), minigen.zeros(2)]).shape == (2, 2)
    sched = importlib.import_module("torch.optim.lr_scheduler")

    class Warmup(sched._LRScheduler):
        def get_lr(self):
            return [base * min(1.0, (self.last_epoch + 1) / 4) for base in self.base_lrs]
    opt = minigen.optim.SGD([minigen.ones(1, requires_grad=True)], lr=1.0)
    s = Warmup(opt)
    assert opt.param_groups[0]["lr"] == 0.25
    s.step()
    assert opt.param_groups[0]["lr"] == 0.5
    att = importlib.import_module("torch.nn.attention")
    with att.sdpa_kernel(att.SDPBackend.FLASH_ATTENTION):
        pass
    with minigen.backends.cuda.sdp_kernel(enable_flash=False):
        pass


def test_legacy_constructor_and_random_fills_keywords():
    import numpy as np
    assert minigen.Tensor(np.ones(2)).dtype == minigen.float32      # as torch.Tensor(ndarray)
    assert minigen.LongTensor([1, 2]).dtype == minigen.int64
    assert minigen.tensor(np.ones(2)).dtype == minigen.float64      # torch.tensor keeps it
    minigen.manual_seed(0)
    x = minigen.empty(4000).normal_(std=0.02)                        # torchvision ViT's init
    assert 0.018 < float(x.std()) < 0.022
    y = minigen.empty(4000).uniform_(**{"from": -2, "to": 2})
    assert -2 <= float(y.min()) and float(y.max()) <= 2 and float(y.max()) > 1.9
    with pytest.raises(TypeError, match="unexpected keyword argument 'sd'"):
        minigen.empty(2).normal_(sd=1)
