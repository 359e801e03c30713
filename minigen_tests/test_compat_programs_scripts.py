"""Behaviours that the pytorch/examples programs' whole main scripts rely on (mnist, vae, dcgan,
word_language_model, imagenet, reinforcement_learning, gcn/gat, mnist_rnn, ... in the versions
the stored index holds, some from 2017), each checked against PyTorch itself."""
import warnings

import numpy as np
import pytest

import minigen

torch = pytest.importorskip("torch")


def _np(t):
    return t.detach().cpu().numpy()


@pytest.mark.parametrize("expr", [
    "a.add(2.5, b)", "a.sub(2.5, b)", "L.add(a, 2.5, b)", "L.sub(a, 2.5, b)",
    "a.clone().add_(-0.5, b)", "a.clone().sub_(-0.5, b)",
    "a.clone().addcmul_(2.0, b, c)", "a.clone().addcdiv_(2.0, b, c)",
    "L.addcmul(a, 0.5, b, c)", "L.addcdiv(a, 0.5, b, c)",
    "a.add(b, alpha=2.5)", "L.addcmul(a, b, c, value=0.5)",
])
def test_deprecated_number_first_overloads_as_pytorch(expr):
    """word_language_model's 2017 main.py steps with ``p.data.add_(-lr, p.grad.data)``: PyTorch
    still takes add/sub(Number alpha, Tensor other) and addcmul/addcdiv(Number value, t1, t2),
    warning they are deprecated; minigen raised 'Boolean value of Tensor ... is ambiguous'."""
    R = np.random.RandomState(0)
    arrs = [R.randn(3, 4) for _ in range(3)]
    arrs[2] = np.abs(arrs[2]) + 0.5
    out = {}
    for L in (torch, minigen):
        a, b, c = (L.tensor(x, requires_grad=True) for x in arrs)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if "_(" in expr:
                a = a * 1.0  # in-place on a non-leaf
            y = eval(expr, {"L": L, "a": a, "b": b, "c": c})
        out[L.__name__] = y
    ref, got = out["torch"], out["minigen"]
    np.testing.assert_allclose(_np(got), _np(ref), rtol=1e-12, atol=1e-12)


def test_deprecated_overload_gradients_as_pytorch():
    R = np.random.RandomState(1)
    arrs = [R.randn(5) for _ in range(3)]
    grads = {}
    for L in (torch, minigen):
        a, b, c = (L.tensor(x, requires_grad=True) for x in arrs)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            y = (a * 1.0).add_(-0.3, b).addcmul_(1.5, b, c)
        y.pow(2).sum().backward()
        grads[L.__name__] = [_np(t.grad) for t in (a, b, c)]
    for r, g in zip(grads["torch"], grads["minigen"]):
        np.testing.assert_allclose(g, r, rtol=1e-12)


def test_deprecated_overload_warns_and_bad_arity_raises():
    a, b = minigen.ones(3), minigen.ones(3)
    with pytest.warns(UserWarning, match="deprecated"):
        a.add(2, b)
    with pytest.raises(TypeError, match="positional"):
        minigen.addcmul(a, b, b, b)


def test_clip_grad_norm_old_name():
    """``torch.nn.utils.clip_grad_norm`` (no underscore) still clips in place and returns the
    total norm, with a FutureWarning, as PyTorch's."""
    res = {}
    for L in (torch, minigen):
        p = L.nn.Parameter(L.tensor([3.0, 4.0, 12.0]))
        p.grad = L.tensor([3.0, 4.0, 12.0])
        with pytest.warns(FutureWarning):
            n = L.nn.utils.clip_grad_norm([p], 0.25)
        res[L.__name__] = (float(n), _np(p.grad))
    assert res["minigen"][0] == pytest.approx(res["torch"][0])
    np.testing.assert_allclose(res["minigen"][1], res["torch"][1], rtol=1e-6)


def test_resize_as_pytorch():
    """dcgan's 2017 main.py: ``input.data.resize_(real_cpu.size()).copy_(real_cpu)`` and
    ``label.data.resize_(batch_size).fill_(real_label)``. Same numel: a reshape; shrinking keeps
    the first elements; growing back brings the old ones back (PyTorch keeps the storage)."""
    steps = [(3, 2), (4,), (2, 3), (1, 1)]
    for L in (torch, minigen):
        x = L.arange(6.0).view(2, 3)
        seen = [x.resize_(*s).tolist() for s in steps]
        if L is torch:
            ref = seen
    assert seen == ref
    for L in (torch, minigen):
        x = L.arange(4.0)
        assert x.resize_((2, 2)) is x and list(x.shape) == [2, 2]
        y = L.ones(3)
        assert list(y.resize_as_(L.zeros(1, 3)).shape) == [1, 3]
        z = L.FloatTensor(4)
        z.data.resize_(6).fill_(1)   # resizing the .data alias leaves z as it was
        assert list(z.shape) == [4]
        g = L.ones(3, requires_grad=True)
        with pytest.raises(RuntimeError, match="resize"):
            g.resize_(4)
    grown = minigen.arange(3.0).resize_(5)
    assert grown.tolist()[:3] == [0.0, 1.0, 2.0] and list(grown.shape) == [5]


def test_cuda_typed_tensor_classes_for_isinstance():
    """dcgan's 2017 forward: ``isinstance(input.data, torch.cuda.FloatTensor) and ngpu > 1``:
    False for a CPU tensor, as in PyTorch; the CPU FloatTensor check still answers True."""
    for L in (torch, minigen):
        x = L.ones(2)
        assert not isinstance(x.data, L.cuda.FloatTensor)
        assert not isinstance(x.long(), L.cuda.LongTensor)
        assert isinstance(x, L.FloatTensor)
    assert minigen.cuda.FloatTensor is minigen.cuda.FloatTensor
    with pytest.raises(AttributeError):
        minigen.cuda.NoSuchTensor
