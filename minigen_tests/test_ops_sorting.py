"""sort, argsort, topk, multinomial, bernoulli, log1p, expm1 on both devices."""
import numpy as np
import pytest

import minigen as mg


def _t(a, device, grad=False):
    return mg.tensor(np.asarray(a), device=device, requires_grad=grad)


def _distinct(rng, shape):
    # distinct values, so sorting has no ties and finite differences never reorder them
    n = int(np.prod(shape))
    return (rng.permutation(n).reshape(shape) * 0.37 + rng.uniform(0, 0.1, shape)).astype(np.float64)


@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("descending", [False, True])
def test_sort_matches_numpy(device, dim, descending):
    a = _distinct(np.random.default_rng(1), (4, 5))
    v, i = mg.sort(_t(a, device), dim=dim, descending=descending)
    ref_i = np.argsort(-a if descending else a, axis=dim, kind="stable")
    np.testing.assert_array_equal(i.cpu().numpy(), ref_i)
    np.testing.assert_array_equal(v.cpu().numpy(), np.take_along_axis(a, ref_i, axis=dim))
    assert i.dtype == mg.int64


def test_sort_is_stable_for_ties(device):
    x = _t([2.0, 1.0, 2.0, 1.0], device)
    np.testing.assert_array_equal(mg.argsort(x).cpu().numpy(), [1, 3, 0, 2])
    np.testing.assert_array_equal(mg.argsort(x, descending=True).cpu().numpy(), [0, 2, 1, 3])


@pytest.mark.parametrize("largest", [True, False])
def test_topk_values_indices_and_gradients(device, largest):
    a = _distinct(np.random.default_rng(2), (3, 6))
    x = _t(a, device, grad=True)
    v, i = x.topk(3, dim=1, largest=largest)
    order = np.argsort(-a if largest else a, axis=1, kind="stable")[:, :3]
    np.testing.assert_array_equal(i.cpu().numpy(), order)
    np.testing.assert_allclose(v.cpu().numpy(), np.take_along_axis(a, order, axis=1))
    assert mg.gradcheck(lambda x: x.topk(3, 1, largest=largest).values, (x,))
    assert mg.gradgradcheck(lambda x: x.topk(3, 1, largest=largest).values, (x,))


def test_sort_gradient_is_a_scatter(device):
    x = _t(_distinct(np.random.default_rng(3), (5,)), device, grad=True)
    assert mg.gradcheck(lambda x: mg.sort(x, descending=True).values * mg.arange(5, device=device), (x,))
    assert mg.gradgradcheck(lambda x: mg.sort(x).values ** 2, (x,))


def test_topk_k_out_of_range(device):
    with pytest.raises(RuntimeError, match=r"topk: k \(7\) is out of range for dimension 1 of size 5"):
        mg.zeros(2, 5, device=device).topk(7, dim=1)


@pytest.mark.parametrize("fn, ref, lo", [(mg.log1p, np.log1p, -0.5), (mg.expm1, np.expm1, -2.0)])
def test_log1p_expm1(device, fn, ref, lo):
    a = np.random.default_rng(4).uniform(lo, 2.0, (3, 4))
    x = _t(a, device, grad=True)
    np.testing.assert_allclose(fn(x).cpu().numpy(), ref(a), rtol=1e-12)
    before = x.cpu().numpy()
    assert mg.gradcheck(fn, (x,))
    assert mg.gradgradcheck(fn, (x,))
    np.testing.assert_array_equal(x.cpu().numpy(), before)


def test_multinomial_frequencies(device):
    mg.manual_seed(0)
    p = _t([0.1, 0.2, 0.7], device)
    s = mg.multinomial(p, 20000, replacement=True).cpu().numpy()
    freq = np.bincount(s, minlength=3) / s.size
    # 20,000 draws: standard error of each frequency is below 0.0033; 5 sigma is 0.017
    np.testing.assert_allclose(freq, [0.1, 0.2, 0.7], atol=0.017)


def test_multinomial_without_replacement_never_repeats(device):
    mg.manual_seed(1)
    w = mg.rand(50, 8, device=device) + 0.01
    s = mg.multinomial(w, 8).cpu().numpy()
    assert s.shape == (50, 8)
    for row in s:
        assert sorted(row.tolist()) == list(range(8))


def test_multinomial_zero_weight_never_drawn(device):
    s = mg.multinomial(_t([[0.0, 1.0, 0.0, 3.0]], device), 500, replacement=True).cpu().numpy()
    assert set(np.unique(s).tolist()) <= {1, 3}


def test_multinomial_errors(device):
    with pytest.raises(RuntimeError, match="element < 0"):
        mg.multinomial(_t([0.5, -0.1], device), 1)
    with pytest.raises(RuntimeError, match="without replacement"):
        mg.multinomial(_t([0.5, 0.5], device), 3)
    with pytest.raises(RuntimeError, match="1 or 2 dim"):
        mg.multinomial(mg.ones(2, 2, 2, device=device), 1)


def test_multinomial_repeats_with_seed():
    w = mg.tensor([0.2, 0.3, 0.5])
    mg.manual_seed(5)
    a = mg.multinomial(w, 30, replacement=True).cpu().numpy()
    mg.manual_seed(5)
    b = mg.multinomial(w, 30, replacement=True).cpu().numpy()
    np.testing.assert_array_equal(a, b)


def test_bernoulli(device):
    mg.manual_seed(0)
    p = mg.full((20000,), 0.3, device=device)
    s = mg.bernoulli(p)
    assert s.dtype == mg.float32 and s.device == device
    vals = s.cpu().numpy()
    assert set(np.unique(vals).tolist()) <= {0.0, 1.0}
    # standard error sqrt(0.21 / 20000) = 0.0032; 5 sigma
    assert abs(vals.mean() - 0.3) < 0.017
