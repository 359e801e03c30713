"""``minigen.distributions`` against PyTorch's (values, entropies, KLs), its gradients
(``gradcheck`` in float64 through ``log_prob``, ``rsample``, ``kl_divergence``), its draws
(moments and frequencies), on both devices, and its errors."""
import numpy as np
import pytest

import minigen
from minigen import distributions as D
from minigen.gradcheck import gradcheck


def _t(a, device="cpu", grad=False):
    return minigen.tensor(np.asarray(a, dtype=np.float64), device=device, requires_grad=grad)


LOC, SCALE, X = [0.3, -1.2, 2.0], [0.5, 2.0, 1.3], [0.1, 0.7, -0.4]
LOGITS = [[0.2, -1.0, 0.5], [1.0, 0.0, -2.0]]


def test_against_pytorch():
    torch = pytest.importorskip("torch")
    TD = torch.distributions
    tt = lambda a: torch.tensor(np.asarray(a, dtype=np.float64))
    n, tn = D.Normal(_t(LOC), _t(SCALE)), TD.Normal(tt(LOC), tt(SCALE))
    q, tq = D.Normal(_t(X), _t([1.0, 0.3, 2.0])), TD.Normal(tt(X), tt([1.0, 0.3, 2.0]))
    pairs = [(n.log_prob(_t(X)), tn.log_prob(tt(X))), (n.entropy(), tn.entropy()),
             (n.cdf(_t(X)), tn.cdf(tt(X))), (D.kl_divergence(n, q), TD.kl_divergence(tn, tq)),
             (D.Independent(n, 1).log_prob(_t(X)), TD.Independent(tn, 1).log_prob(tt(X))),
             (D.kl_divergence(D.Independent(n, 1), D.Independent(q, 1)),
              TD.kl_divergence(TD.Independent(tn, 1), TD.Independent(tq, 1)))]
    c, tc = D.Categorical(logits=_t(LOGITS)), TD.Categorical(logits=tt(LOGITS))
    c2, tc2 = D.Categorical(probs=_t([[0.2, 0.3, 0.5], [0.0, 0.5, 0.5]])), TD.Categorical(probs=tt([[0.2, 0.3, 0.5], [0.0, 0.5, 0.5]]))
    idx = minigen.tensor([2, 0])
    pairs += [(c.log_prob(idx), tc.log_prob(torch.tensor([2, 0]))), (c.entropy(), tc.entropy()),
              (c2.entropy(), tc2.entropy()), (D.kl_divergence(c2, c), TD.kl_divergence(tc2, tc)),
              (c.probs, tc.probs), (c2.logits, tc2.logits)]
    b, tb = D.Bernoulli(logits=_t([0.3, -2.0, 4.0])), TD.Bernoulli(logits=tt([0.3, -2.0, 4.0]))
    b2, tb2 = D.Bernoulli(probs=_t([0.6, 0.1, 0.99])), TD.Bernoulli(probs=tt([0.6, 0.1, 0.99]))
    v = [1.0, 0.0, 1.0]
    pairs += [(b.log_prob(_t(v)), tb.log_prob(tt(v))), (b.entropy(), tb.entropy()),
              (b2.log_prob(_t(v)), tb2.log_prob(tt(v))), (D.kl_divergence(b, b2), TD.kl_divergence(tb, tb2)),
              (b.mean, tb.mean), (b.variance, tb.variance), (n.variance, tn.variance)]
    for k, (m, t) in enumerate(pairs):
        np.testing.assert_allclose(m.cpu().numpy(), t.cpu().numpy(), rtol=1e-10, atol=1e-12, err_msg=str(k))
    for m, t in ((n, tn), (c, tc), (b, tb), (D.Independent(n, 1), TD.Independent(tn, 1))):
        assert m.batch_shape == tuple(t.batch_shape) and m.event_shape == tuple(t.event_shape)
        assert m.sample((4, 2)).shape == tuple(t.sample((4, 2)).shape)


def test_gradients_by_gradcheck():
    loc, scale = _t(LOC, grad=True), _t(SCALE, grad=True)
    x = _t(X)
    assert gradcheck(lambda m, s: D.Normal(m, s).log_prob(x), (loc, scale))
    assert gradcheck(lambda m, s: D.kl_divergence(D.Normal(m, s), D.Normal(_t(X), _t(SCALE))), (loc, scale))
    logits = _t(LOGITS, grad=True)
    assert gradcheck(lambda l: D.Categorical(logits=l).log_prob(minigen.tensor([2, 1])), (logits,))
    assert gradcheck(lambda l: D.Categorical(logits=l).entropy(), (logits,))
    bl = _t([0.3, -2.0], grad=True)
    assert gradcheck(lambda l: D.Bernoulli(logits=l).log_prob(_t([1.0, 0.0])), (bl,))
    # rsample: x = mu + sigma eps, so dx/dmu = 1 and dx/dsigma = eps
    minigen.manual_seed(0)
    draw = D.Normal(loc, scale).rsample((5,))
    draw.sum().backward()
    eps = (draw.detach() - loc.detach()) / scale.detach()
    np.testing.assert_allclose(loc.grad.cpu().numpy(), 5.0)
    np.testing.assert_allclose(scale.grad.cpu().numpy(), eps.sum(0).cpu().numpy(), rtol=1e-12)
    assert not D.Normal(loc, scale).sample((2,)).requires_grad


def test_draws_have_the_right_moments_and_frequencies(device):
    minigen.manual_seed(0)
    n = D.Normal(_t(LOC, device), _t(SCALE, device))
    x = n.sample((20000,)).cpu().numpy()
    # the mean's standard error is sigma / sqrt(20000) < 0.015: 5 of them is 0.075
    assert (np.abs(x.mean(0) - LOC) < 5 * np.array(SCALE) / np.sqrt(20000)).all()
    np.testing.assert_allclose(x.std(0), SCALE, rtol=0.03)
    c = D.Categorical(probs=_t([0.1, 0.6, 0.3], device))
    k = c.sample((20000,)).cpu().numpy()
    assert k.dtype == np.int64
    np.testing.assert_allclose(np.bincount(k, minlength=3) / 20000, [0.1, 0.6, 0.3], atol=0.015)
    b = D.Bernoulli(probs=_t([0.2, 0.9], device)).sample((20000,)).cpu().numpy()
    assert set(np.unique(b)) <= {0.0, 1.0}
    np.testing.assert_allclose(b.mean(0), [0.2, 0.9], atol=0.015)


def test_errors_name_the_argument():
    with pytest.raises(ValueError, match="parameter scale .* GreaterThan"):
        D.Normal(0.0, -1.0)
    with pytest.raises(ValueError, match="either `probs` or `logits`"):
        D.Bernoulli()
    with pytest.raises(ValueError, match="either `probs` or `logits`"):
        D.Categorical(probs=_t([0.5, 0.5]), logits=_t([0.0, 0.0]))
    with pytest.raises(ValueError, match="within the support"):
        D.Bernoulli(probs=_t([0.5])).log_prob(_t([0.5]))
    with pytest.raises(ValueError, match="within the support"):
        D.Categorical(logits=_t([0.0, 1.0])).log_prob(minigen.tensor(2))
    with pytest.raises(ValueError, match="reinterpreted_batch_ndims"):
        D.Independent(D.Normal(_t(LOC), _t(SCALE)), 2)
    with pytest.raises(NotImplementedError, match="between different exponential families"):
        D.kl_divergence(D.Normal(0.0, 1.0), D.Bernoulli(probs=_t([0.5])))  # PyTorch's words
    with pytest.raises(NotImplementedError, match="no rsample"):
        D.Bernoulli(probs=_t([0.5])).rsample()
    # validate_args=False skips the checks, as in PyTorch
    D.Normal(0.0, -1.0, validate_args=False)
