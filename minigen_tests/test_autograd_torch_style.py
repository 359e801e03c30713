"""PyTorch's autograd extension points on minigen's graph: custom Functions written PyTorch's way
(staticmethod forward(ctx, ...) / backward(ctx, ...), and the setup_context form), tensor hooks
(Tensor.register_hook), and torch.autograd.functional (jacobian, hessian, vjp, jvp, hvp, vhp).
Each checked against finite differences or closed forms, and against PyTorch when installed."""
import numpy as np
import pytest

import minigen
from minigen.autograd import Function, once_differentiable
from minigen.autograd import functional as AF


class Cube(Function):
    @staticmethod
    def forward(ctx, x, scale):
        ctx.scale = scale
        ctx.save_for_backward(x)
        return x ** 3 * scale

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 3 * x ** 2 * ctx.scale, None   # written with tensor ops: differentiable again


class GradReverse(Function):
    @staticmethod
    def forward(ctx, x, alpha):
        ctx.alpha = alpha
        return x.view_as(x)

    @staticmethod
    def backward(ctx, g):
        return g.neg() * ctx.alpha, None


class SplitTwo(Function):
    """Two outputs, and an output saved for backward."""

    @staticmethod
    def forward(x):
        e = x.exp()
        return e, x * 2

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(output[0])

    @staticmethod
    def backward(ctx, ge, gd):
        (e,) = ctx.saved_tensors
        return ge * e + gd * 2


class StraightThrough(Function):
    @staticmethod
    def forward(ctx, x):
        return x.round()

    @staticmethod
    @once_differentiable
    def backward(ctx, g):
        return g


def _x(device, values=(0.3, -1.2, 2.0)):
    return minigen.tensor(list(values), dtype=minigen.float64, device=device, requires_grad=True)


def test_custom_function_gradients_match_finite_differences(device):
    x = _x(device)
    assert minigen.gradcheck(lambda t: Cube.apply(t, 1.5), (x,))
    assert minigen.gradgradcheck(lambda t: Cube.apply(t, 1.5), (x,))
    assert minigen.gradcheck(lambda t: sum(o.sum() for o in SplitTwo.apply(t)), (x,))


def test_custom_function_values_and_pytorch_agreement(device):
    x = _x(device)
    y = GradReverse.apply(x, 0.5) * 3 + Cube.apply(x, 2.0)
    y.sum().backward()
    xv = np.array([0.3, -1.2, 2.0])
    np.testing.assert_allclose(x.grad.cpu().numpy(), -1.5 + 6 * xv ** 2)
    assert "CubeBackward" in repr(Cube.apply(x, 1.0).grad_fn)


def test_custom_function_without_grad_records_nothing(device):
    x = _x(device)
    with minigen.no_grad():
        y = Cube.apply(x, 1.0)
    assert y.grad_fn is None and not y.requires_grad
    r = StraightThrough.apply(_x(device) * 1)
    assert r.requires_grad
    r.sum().backward()


def test_custom_function_wrong_gradient_count_is_named(device):
    class Bad(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g, g

    with pytest.raises(RuntimeError, match="BadBackward returned an incorrect number of gradients"):
        Bad.apply(_x(device)).sum().backward()


def test_tensor_hooks_see_and_replace_gradients(device):
    x = _x(device, (1.0, 2.0))
    z = x * 2
    seen = []
    handle = z.register_hook(lambda g: seen.append(g.tolist()) or g * 10)
    (z * z).sum().backward()
    assert seen == [[4.0, 8.0]] and x.grad.tolist() == [80.0, 160.0]
    handle.remove()
    leaf = _x(device, (1.0, 2.0))
    leaf.register_hook(lambda g: g * 0.5)
    (leaf * 3).sum().backward()
    assert leaf.grad.tolist() == [1.5, 1.5]
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        minigen.tensor([1.0]).register_hook(lambda g: g)


def test_tensor_hooks_match_pytorch(device):
    torch = pytest.importorskip("torch")

    def run(lib, x):
        h = x.sin()
        h.register_hook(lambda g: g.clamp(-0.5, 0.5))
        return (h * h.cos()).sum()

    xt = torch.tensor([0.3, -1.2, 2.0], dtype=torch.float64, requires_grad=True)
    run(torch, xt).backward()
    x = _x(device)
    run(minigen, x).backward()
    np.testing.assert_allclose(x.grad.cpu().numpy(), xt.grad.numpy(), rtol=1e-12)


def f_vec(x):
    return minigen.stack([x[0] * x[1], x[1].sin(), x[0] ** 3]) if isinstance(x, minigen.Tensor) \
        else None


def test_jacobian_and_products(device):
    xv = np.array([0.7, -0.4])
    x = minigen.tensor(xv, device=device)
    J = AF.jacobian(f_vec, x)
    want = np.array([[xv[1], xv[0]], [0, np.cos(xv[1])], [3 * xv[0] ** 2, 0]])
    np.testing.assert_allclose(J.cpu().numpy(), want, rtol=1e-12)
    v = minigen.tensor([1.0, 2.0, -1.0], device=device)
    u = minigen.tensor([0.5, -2.0], device=device)
    out, vj = AF.vjp(f_vec, x, v)
    np.testing.assert_allclose(vj.cpu().numpy(), np.array([1.0, 2.0, -1.0]) @ want, rtol=1e-12)
    out, ju = AF.jvp(f_vec, x, u)
    np.testing.assert_allclose(ju.cpu().numpy(), want @ np.array([0.5, -2.0]), rtol=1e-12)


def test_hessian_and_hvp(device):
    def f(x):
        return (x[0] ** 2 * x[1] + x[1].exp()).sum()
    xv = np.array([0.7, -0.4])
    x = minigen.tensor(xv, device=device)
    H = AF.hessian(f, x)
    want = np.array([[2 * xv[1], 2 * xv[0]], [2 * xv[0], np.exp(xv[1])]])
    np.testing.assert_allclose(H.cpu().numpy(), want, rtol=1e-12)
    _, hv = AF.hvp(f, x, minigen.tensor([1.0, 3.0], device=device))
    np.testing.assert_allclose(hv.cpu().numpy(), want @ np.array([1.0, 3.0]), rtol=1e-12)


def test_functional_matches_pytorch():
    torch = pytest.importorskip("torch")
    from torch.autograd import functional as TF

    def g(lib, a, b):
        return (a * b.unsqueeze(1)).tanh()
    a0 = np.random.default_rng(0).normal(size=(2, 3))
    b0 = np.array([0.5, -1.0])
    Jt = TF.jacobian(lambda a, b: g(torch, a, b), (torch.tensor(a0), torch.tensor(b0)))
    Jm = AF.jacobian(lambda a, b: g(minigen, a, b), (minigen.tensor(a0), minigen.tensor(b0)))
    for p, q in zip(Jt, Jm):
        assert tuple(p.shape) == tuple(q.shape)
        np.testing.assert_allclose(q.numpy(), p.numpy(), rtol=1e-12, atol=1e-15)


def test_torch_import_paths():
    import importlib
    import sys
    saved = {k: sys.modules.pop(k) for k in list(sys.modules)
             if k == "torch" or k.startswith("torch.")}
    sys.modules["torch"] = minigen
    try:
        fn = importlib.import_module("torch.autograd.function")
        fl = importlib.import_module("torch.autograd.functional")
        gm = importlib.import_module("torch.autograd.grad_mode")
        assert fn.once_differentiable is once_differentiable and fl.jacobian is AF.jacobian
        assert gm.no_grad is minigen.no_grad
    finally:
        for k in [k for k in sys.modules if k == "torch" or k.startswith("torch.")]:
            del sys.modules[k]
        sys.modules.update(saved)


def test_module_backward_hooks(device):
    lin = minigen.nn.Linear(3, 2).double().to(device)
    with minigen.no_grad():
        lin.weight.copy_(minigen.tensor([[0.1, -0.2, 0.3], [0.4, 0.5, -0.6]]))
    log = []

    def full(m, gi, go):
        log.append(("full", [None if g is None else g.tolist() for g in gi], [g.tolist() for g in go]))
        return (gi[0] * 2,) if gi[0] is not None else None

    h1 = lin.register_full_backward_hook(full)
    h2 = lin.register_full_backward_pre_hook(lambda m, go: log.append(("pre", [g.tolist() for g in go])))
    x = minigen.tensor([[1.0, 2.0, 3.0]], dtype=minigen.float64, device=device, requires_grad=True)
    (lin(x) * minigen.tensor([[1.0, -1.0]], device=device)).sum().backward()
    assert log[0] == ("pre", [[[1.0, -1.0]]])
    assert log[1][0] == "full" and np.allclose(log[1][1], [[[-0.3, -0.7, 0.9]]])
    np.testing.assert_allclose(x.grad.cpu().numpy(), [[-0.6, -1.4, 1.8]])   # doubled by the hook
    np.testing.assert_allclose(lin.weight.grad.cpu().numpy(), [[1, 2, 3], [-1, -2, -3]])
    log.clear()
    lin(x.detach()).sum().backward()           # no input needs a gradient: grad_input is None
    assert [e[0] for e in log] == ["pre", "full"] and log[1][1] == [None]
    h1.remove()
    h2.remove()
    log.clear()
    lin(x).sum().backward()
    assert log == []


def test_forward_hook_options():
    m = minigen.nn.Sequential(minigen.nn.Linear(3, 3), minigen.nn.ReLU())
    seen = []

    def pre(mod, args, kwargs):
        seen.append("kw")
        return (args[0] * 0,), kwargs
    m.register_forward_pre_hook(pre, with_kwargs=True)
    m.register_forward_hook(lambda mod, a, o: seen.append("b"), prepend=True)
    m.register_forward_hook(lambda mod, a, kw, o: seen.append("a") or o + 1, with_kwargs=True)
    out = m(minigen.ones(1, 3))
    assert seen == ["kw", "b", "a"]
    np.testing.assert_allclose(out.detach().numpy(), (m[1](m[0](minigen.zeros(1, 3))) + 1).detach().numpy())


def test_grad_keywords_and_size(device):
    x = _x(device)
    w = _x(device, (1.0, 1.0, 1.0))
    (g,) = minigen.grad((x * x).sum(), x, only_inputs=True)  # WGAN-GP passes it
    np.testing.assert_allclose(g.cpu().numpy(), 2 * np.array([0.3, -1.2, 2.0]))
    gx, gw = minigen.grad((x * 2).sum(), (x, w), materialize_grads=True)
    assert gw.tolist() == [0.0, 0.0, 0.0]
    s = x.size()
    assert isinstance(s, minigen.Size) and s == (3,)
    assert minigen.FloatTensor(x.size()).shape == (3,)   # a Size is read as a shape


def test_no_grad_and_enable_grad_as_bare_decorators():
    @minigen.no_grad
    def f(x):
        return (x * 2).requires_grad

    @minigen.enable_grad
    def g(x):
        return (x * 2).requires_grad

    x = minigen.ones(2, requires_grad=True)
    assert f(x) is False and f.__name__ == "f"
    with minigen.no_grad():
        assert g(x) is True
