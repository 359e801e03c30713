"""Behaviours that well-known vision and GAN programs (torchvision's ResNet / VGG / MobileNet /
DenseNet, CycleGAN's networks, PyTorch-GAN's implementations, VAEs) rely on, each checked
against PyTorch itself on the forward and the backward.
"""
import numpy as np
import pytest

import minigen

torch = pytest.importorskip("torch")


def _np(t):
    return t.detach().cpu().numpy().astype(np.float64)


def test_batch_norm_backward_is_centred_in_float32():
    """A channel whose mean is far from zero (300 against a spread of 1): the gradients must
    stay as accurate as PyTorch's, which computes them from x - mean, not from sums of x."""
    R = np.random.RandomState(0)
    x = (300 + R.randn(8, 16, 10, 10)).astype(np.float32)
    g = R.randn(8, 16, 10, 10).astype(np.float32)
    w = R.randn(16).astype(np.float32)

    def run(lib, dt):
        xt = lib.tensor(x).to(dt).requires_grad_()
        wt = lib.tensor(w).to(dt).requires_grad_()
        y = lib.nn.functional.batch_norm(xt, None, None, wt, None, training=True)
        y.backward(lib.tensor(g).to(dt))
        return _np(xt.grad), _np(wt.grad)

    ref = run(torch, torch.float64)
    got = run(minigen, minigen.float32)
    assert np.abs(got[0] - ref[0]).max() < 1.5e-5   # PyTorch float32: 5e-6; sums of x: 3e-5
    assert np.abs(got[1] - ref[1]).max() < 2e-3     # PyTorch float32: 5e-4; sums of x: 3e-3


@pytest.mark.parametrize("dtype", ["float64", "int64", "float32"])
def test_type_torch_tensor_is_the_default_tensor_type(dtype):
    """PyTorch-GAN's cyclegan.py: ``Tensor = torch.Tensor`` then ``batch["A"].type(Tensor)``."""
    a = np.arange(6).reshape(2, 3).astype(dtype)
    want = torch.tensor(a).type(torch.Tensor)
    got = minigen.tensor(a).type(minigen.Tensor)
    assert str(got.dtype) == str(want.dtype).replace("torch.", "")
    np.testing.assert_array_equal(got.numpy(), want.numpy())
    assert got.type() == "minigen.FloatTensor"


def test_jit_overload_method_and_annotate_as_torchvision_uses_them():
    """torchvision's DenseNet declares forward's typed overloads with torch.jit._overload_method;
    the last, undecorated definition is the one that runs. annotate(type, value) is value."""
    from typing import List

    def make(lib):
        class Layer(lib.nn.Module):
            @lib.jit._overload_method  # noqa: F811
            def forward(self, input: List[lib.Tensor]) -> lib.Tensor:
                pass

            @lib.jit._overload_method  # noqa: F811
            def forward(self, input: lib.Tensor) -> lib.Tensor:
                pass

            def forward(self, input):  # noqa: F811
                xs = [input] if isinstance(input, lib.Tensor) else input
                acc = lib.jit.annotate(List[lib.Tensor], [])
                for x in xs:
                    acc.append(x * 2)
                return lib.cat(acc, 1)
        return Layer()

    a = np.arange(6.0).reshape(2, 3)
    for arg in (lambda lib: lib.tensor(a), lambda lib: [lib.tensor(a), lib.tensor(a + 1)]):
        want = make(torch)(arg(torch))
        got = make(minigen)(arg(minigen))
        np.testing.assert_array_equal(got.numpy(), want.numpy())


@pytest.mark.parametrize("name", ["uniform", "normal", "constant", "eye", "xavier_uniform",
                                  "xavier_normal", "kaiming_uniform", "kaiming_normal",
                                  "orthogonal"])
def test_init_deprecated_spellings_warn_and_initialise(name):
    """pytorch/examples' siamese_network calls torch.nn.init.xavier_uniform (no underscore)."""
    args = {"constant": (0.25,)}.get(name, ())
    w = minigen.empty(4, 5)
    with pytest.warns(FutureWarning, match=f"nn.init.{name}_"):
        out = getattr(minigen.nn.init, name)(w, *args)
    assert out is w
    with pytest.warns(FutureWarning):
        getattr(torch.nn.init, name)(torch.empty(4, 5), *args)
    if name == "constant":
        assert (w.numpy() == 0.25).all()
    elif name == "eye":
        np.testing.assert_array_equal(w.numpy(), np.eye(4, 5))
    else:
        assert w.numpy().std() > 0


@pytest.mark.parametrize("a,b", [(1, 0), (1.0, 0), (True, False), (1, 0.5)])
def test_where_with_two_numbers(a, b):
    """pytorch/examples siamese_network: pred = torch.where(outputs > 0.5, 1, 0)."""
    x = np.array([0.2, 0.7, 0.5, 0.9], dtype=np.float32)
    want = torch.where(torch.tensor(x) > 0.5, a, b)
    got = minigen.where(minigen.tensor(x) > 0.5, a, b)
    assert str(got.dtype) == str(want.dtype).replace("torch.", "")
    np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_where_with_two_numbers_needs_a_tensor_condition():
    with pytest.raises(TypeError, match="condition must be a Tensor"):
        minigen.where(True, 1, 0)


def test_torch_assert_as_torchvision_vit_uses_it():
    """torchvision's ViT: torch._assert(h == self.image_size, f"Wrong image height! ...")."""
    for lib in (torch, minigen):
        lib._assert(True, "fine")
        lib._assert(lib.tensor(3) == 3, "fine")
        with pytest.raises(AssertionError, match="Wrong image height"):
            lib._assert(lib.tensor(224) == 32, "Wrong image height! Expected 32 but got 224!")


def _ckpt_net(lib):
    lib.manual_seed(0)
    return lib.nn.Sequential(lib.nn.Linear(4, 8), lib.nn.BatchNorm1d(8), lib.nn.ReLU(),
                             lib.nn.Linear(8, 3), lib.nn.Tanh(), lib.nn.Linear(3, 2))


@pytest.mark.parametrize("use_reentrant", [True, False])
def test_checkpoint_recomputes_in_backward_as_pytorch(use_reentrant):
    """torchvision's DenseNet(memory_efficient=True) checkpoints each bottleneck: PyTorch runs the
    function again in the backward pass, so BatchNorm's running statistics move twice."""
    import torch.utils.checkpoint as tcp
    import minigen.utils.checkpoint as mcp
    x = np.random.RandomState(0).randn(5, 4).astype(np.float32)
    res = {}
    for lib, cp in ((torch, tcp), (minigen, mcp)):
        net = _ckpt_net(lib)
        if lib is minigen:
            net.load_state_dict({k: minigen.tensor(v.numpy()) for k, v in res["sd0"].items()})
        else:
            res["sd0"] = {k: v.clone() for k, v in net.state_dict().items()}
        xt = lib.tensor(x, requires_grad=True)
        y = cp.checkpoint(net, xt, use_reentrant=use_reentrant)
        (y * y).sum().backward()
        res[lib] = (y, xt.grad, [p.grad for p in net.parameters()], net.state_dict())
    (ya, ga, pa, sa), (yb, gb, pb, sb) = res[torch], res[minigen]
    np.testing.assert_allclose(_np(yb), _np(ya), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(_np(gb), _np(ga), rtol=1e-4, atol=1e-6)
    for p, q in zip(pb, pa):
        np.testing.assert_allclose(_np(p), _np(q), rtol=1e-4, atol=1e-6)
    for k in sa:  # running_mean / running_var / num_batches_tracked (= 2) included
        np.testing.assert_allclose(_np(sb[k]), _np(sa[k]), rtol=1e-5, atol=1e-6)
    assert int(sb["1.num_batches_tracked"]) == 2


def test_checkpoint_non_reentrant_gives_parameters_gradients_without_input_grad():
    import torch.utils.checkpoint as tcp
    import minigen.utils.checkpoint as mcp
    x = np.random.RandomState(1).randn(5, 4).astype(np.float32)
    got = []
    for lib, cp in ((torch, tcp), (minigen, mcp)):
        net = _ckpt_net(lib)
        if lib is minigen:
            net.load_state_dict({k: minigen.tensor(v.numpy()) for k, v in sd0.items()})
        else:
            sd0 = {k: v.clone() for k, v in net.state_dict().items()}
        cp.checkpoint(net, lib.tensor(x), use_reentrant=False).sum().backward()
        got.append(net[0].weight.grad)
    np.testing.assert_allclose(_np(got[1]), _np(got[0]), rtol=1e-4, atol=1e-6)


def test_checkpoint_replays_dropout_masks_and_sequential_segments():
    import minigen.utils.checkpoint as mcp
    x = minigen.tensor(np.random.RandomState(2).randn(6, 4).astype(np.float32))

    def grads(use_checkpoint):
        minigen.manual_seed(3)
        net = minigen.nn.Sequential(minigen.nn.Linear(4, 16), minigen.nn.Dropout(0.5),
                                    minigen.nn.ReLU(), minigen.nn.Linear(16, 16),
                                    minigen.nn.Dropout(0.5), minigen.nn.Linear(16, 2))
        minigen.manual_seed(4)
        y = mcp.checkpoint_sequential(net, 2, x, use_reentrant=False) if use_checkpoint else net(x)
        y.sum().backward()
        return y, [p.grad for p in net.parameters()]

    (ya, ga), (yb, gb) = grads(False), grads(True)
    np.testing.assert_allclose(_np(yb), _np(ya), rtol=1e-6)
    for p, q in zip(gb, ga):
        np.testing.assert_allclose(_np(p), _np(q), rtol=1e-5, atol=1e-7)


def test_autograd_backward_works_under_no_grad():
    """PyTorch's torch.autograd.backward needs no recording (checkpointing calls it inside a
    custom Function's backward, where recording is off)."""
    for lib in (torch, minigen):
        x = lib.ones(3, requires_grad=True)
        y = x * 2
        with lib.no_grad():
            lib.autograd.backward([y], [lib.ones(3)])
        np.testing.assert_array_equal(_np(x.grad), [2.0, 2.0, 2.0])
