"""minigen.nn.init: gains and fans as PyTorch computes them, and the statistics of every
initialiser within sampling tolerance.

Tolerances come from n: for n independent samples with variance s^2 and fourth central moment
m4, the sample mean has standard error s / sqrt(n) and the sample variance
sqrt((m4 - s^4) / n). Each check allows 6 standard errors, so a correct initialiser fails one
with probability about 2e-9. Normal: m4 = 3 s^4. Uniform on (-b, b): s^2 = b^2/3, m4 = b^4/5.
"""
import math
import warnings

import numpy as np
import pytest

import minigen
import minigen.nn as nn
from minigen.nn import init


def host(t):
    return t.cpu().numpy().astype(np.float64).ravel()


def check_normal(a, mean, std):
    n = a.size
    assert abs(a.mean() - mean) < 6 * std / math.sqrt(n), (a.mean(), mean)
    assert abs(a.var() - std ** 2) < 6 * math.sqrt(2 * std ** 4 / n), (a.var(), std ** 2)


def check_uniform(a, lo, hi):
    n, b = a.size, (hi - lo) / 2
    assert a.min() >= lo and a.max() <= hi
    assert abs(a.mean() - (lo + hi) / 2) < 6 * b / math.sqrt(3 * n)
    assert abs(a.var() - b * b / 3) < 6 * math.sqrt((b ** 4 / 5 - b ** 4 / 9) / n)
    # the support is filled: with n >= 1e4 samples the extremes lie within 0.2% of the ends
    assert a.min() < lo + 0.002 * (hi - lo) and a.max() > hi - 0.002 * (hi - lo)


# ----------------------------------------------------------------------------- gains and fans
def test_calculate_gain():
    assert init.calculate_gain("linear") == 1 and init.calculate_gain("conv2d") == 1
    assert init.calculate_gain("sigmoid") == 1
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert init.calculate_gain("leaky_relu") == pytest.approx(math.sqrt(2 / (1 + 0.01 ** 2)))
    assert init.calculate_gain("leaky_relu", 0.2) == pytest.approx(math.sqrt(2 / 1.04))
    assert init.calculate_gain("leaky_relu", math.sqrt(5)) == pytest.approx(math.sqrt(1 / 3))
    assert init.calculate_gain("selu") == pytest.approx(0.75)
    with pytest.raises(ValueError, match="unsupported nonlinearity 'swish'"):
        init.calculate_gain("swish")
    with pytest.raises(ValueError, match="not a valid number"):
        init.calculate_gain("leaky_relu", "0.1")


def test_calculate_gain_against_torch():
    torch = pytest.importorskip("torch")
    for name, param in [("linear", None), ("conv_transpose2d", None), ("sigmoid", None),
                        ("tanh", None), ("relu", None), ("leaky_relu", None),
                        ("leaky_relu", 0.3), ("selu", None)]:
        assert init.calculate_gain(name, param) == pytest.approx(
            torch.nn.init.calculate_gain(name, param), rel=1e-15)


@pytest.mark.parametrize("shape, fans", [((5, 3), (3, 5)), ((8, 4, 3, 3), (36, 72)),
                                         ((2, 6, 5), (30, 10)), ((4, 1, 2, 2, 2), (8, 32))])
def test_fans(shape, fans):
    assert init._calculate_fan_in_and_fan_out(minigen.empty(*shape)) == fans
    assert init._calculate_correct_fan(minigen.empty(*shape), "fan_in") == fans[0]
    assert init._calculate_correct_fan(minigen.empty(*shape), "FAN_OUT") == fans[1]


def test_fan_errors():
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init.xavier_uniform_(minigen.empty(5))
    with pytest.raises(ValueError, match="mode 'fan_avg' not supported"):
        init.kaiming_uniform_(minigen.empty(3, 3), mode="fan_avg")


# ----------------------------------------------------------------------------- plain fills
def test_uniform_normal_constant(device):
    t = minigen.empty(200, 100, device=device)
    assert init.uniform_(t, -2.0, 3.0) is t
    check_uniform(host(t), -2.0, 3.0)
    init.normal_(t, 1.5, 0.25)
    check_normal(host(t), 1.5, 0.25)
    init.constant_(t, 0.3)
    np.testing.assert_array_equal(t.cpu().numpy(), np.full((200, 100), 0.3, dtype=np.float32))
    init.zeros_(t)
    assert not t.cpu().numpy().any()
    init.ones_(t)
    assert (t.cpu().numpy() == 1).all()


def test_eye(device):
    t = minigen.empty(3, 5, device=device)
    init.eye_(t)
    np.testing.assert_array_equal(t.cpu().numpy(), np.eye(3, 5))
    with pytest.raises(ValueError, match="2 dimensions"):
        init.eye_(minigen.empty(2, 2, 2))


# ----------------------------------------------------------------------------- scaled schemes
def test_xavier(device):
    t = minigen.empty(300, 200, device=device)
    b = 1.7 * math.sqrt(6 / 500)
    init.xavier_uniform_(t, gain=1.7)
    check_uniform(host(t), -b, b)
    init.xavier_normal_(t, gain=1.7)
    check_normal(host(t), 0.0, 1.7 * math.sqrt(2 / 500))


@pytest.mark.parametrize("mode, fan", [("fan_in", 64 * 9), ("fan_out", 128 * 9)])
@pytest.mark.parametrize("nonlinearity, a", [("relu", 0), ("leaky_relu", 0.2),
                                             ("leaky_relu", math.sqrt(5)), ("tanh", 0)])
def test_kaiming_on_a_conv_weight(mode, fan, nonlinearity, a, device):
    t = minigen.empty(128, 64, 3, 3, device=device)
    gain = init.calculate_gain(nonlinearity, a)
    init.kaiming_uniform_(t, a=a, mode=mode, nonlinearity=nonlinearity)
    b = gain * math.sqrt(3 / fan)
    check_uniform(host(t), -b, b)
    init.kaiming_normal_(t, a=a, mode=mode, nonlinearity=nonlinearity)
    check_normal(host(t), 0.0, gain / math.sqrt(fan))


def test_kaiming_zero_element_warns_and_does_nothing():
    t = minigen.empty(0, 3)
    with pytest.warns(UserWarning, match="zero-element"):
        assert init.kaiming_uniform_(t) is t


def _phi(x):
    return math.exp(-x * x / 2) / math.sqrt(2 * math.pi)


def _Phi(x):
    return 0.5 * math.erfc(-x / math.sqrt(2))


@pytest.mark.parametrize("mean, std, a, b", [(0.0, 1.0, -2.0, 2.0), (0.5, 2.0, -1.0, 4.0),
                                             (0.0, 0.02, -2.0, 2.0)])
def test_trunc_normal(mean, std, a, b, device):
    """Every sample in [a, b]; mean and variance those of the truncated normal:
    with alpha, beta the standardised ends and Z = Phi(beta) - Phi(alpha),
    mean = mu + s (phi(alpha) - phi(beta)) / Z,
    var = s^2 [1 + (alpha phi(alpha) - beta phi(beta)) / Z - ((phi(alpha) - phi(beta)) / Z)^2].
    The tolerance uses the untruncated std and m4 <= 3 s^4, which bound the truncated ones."""
    t = minigen.empty(400, 100, device=device, dtype=minigen.float64)
    init.trunc_normal_(t, mean, std, a, b)
    x = host(t)
    assert x.min() >= a and x.max() <= b
    al, be = (a - mean) / std, (b - mean) / std
    z = _Phi(be) - _Phi(al)
    m = mean + std * (_phi(al) - _phi(be)) / z
    v = std ** 2 * (1 + (al * _phi(al) - be * _phi(be)) / z - ((_phi(al) - _phi(be)) / z) ** 2)
    n = x.size
    assert abs(x.mean() - m) < 6 * std / math.sqrt(n)
    assert abs(x.var() - v) < 6 * math.sqrt(2 * std ** 4 / n)


def test_trunc_normal_refuses_a_far_tail():
    with pytest.raises(ValueError, match="too far in the tail"):
        init.trunc_normal_(minigen.empty(10), 0.0, 1.0, 6.0, 7.0)
    with pytest.raises(ValueError, match="a < b"):
        init.trunc_normal_(minigen.empty(10), 0.0, 1.0, 1.0, -1.0)


@pytest.mark.parametrize("shape", [(6, 4), (4, 6), (8, 2, 3)])
def test_orthogonal(shape, device):
    t = minigen.empty(*shape, device=device, dtype=minigen.float64)
    init.orthogonal_(t, gain=2.0)
    q = t.cpu().numpy().reshape(shape[0], -1) / 2.0
    r, c = q.shape
    gram = q.T @ q if r >= c else q @ q.T
    np.testing.assert_allclose(gram, np.eye(min(r, c)), atol=1e-12)


# ----------------------------------------------------------------------------- semantics
ALL = [
    lambda t: init.uniform_(t), lambda t: init.normal_(t), lambda t: init.constant_(t, 2.0),
    lambda t: init.zeros_(t), lambda t: init.ones_(t), lambda t: init.eye_(t),
    lambda t: init.xavier_uniform_(t), lambda t: init.xavier_normal_(t),
    lambda t: init.kaiming_uniform_(t), lambda t: init.kaiming_normal_(t),
    lambda t: init.trunc_normal_(t), lambda t: init.orthogonal_(t),
]


@pytest.mark.parametrize("i", range(len(ALL)))
def test_in_place_on_a_parameter_off_the_graph(i, device):
    """A Parameter that requires grad is filled in place: same object, same array, same dtype
    and device, still a leaf that requires grad, and nothing recorded."""
    p = nn.Parameter(minigen.empty(4, 5, device=device, dtype=minigen.float64))
    arr = p.array
    assert ALL[i](p) is p
    assert p.array is arr and p.dtype == minigen.float64 and p.device == device
    assert p.requires_grad and p.is_leaf and p.grad is None
    assert np.isfinite(p.cpu().numpy()).all()


@pytest.mark.parametrize("i", [0, 1, 6, 7, 8, 9, 10, 11])
def test_seeded_repeatability(i, device):
    a = minigen.empty(6, 7, device=device)
    b = minigen.empty(6, 7, device=device)
    minigen.manual_seed(123)
    ALL[i](a)
    minigen.manual_seed(123)
    ALL[i](b)
    np.testing.assert_array_equal(a.cpu().numpy(), b.cpu().numpy())
    ALL[i](b)
    assert not np.array_equal(a.cpu().numpy(), b.cpu().numpy())


def test_generator_argument(device):
    from minigen import backend
    g1 = backend.get_backend(device).generator(9)
    g2 = backend.get_backend(device).generator(9)
    a, b = minigen.empty(50, device=device), minigen.empty(50, device=device)
    init.normal_(a, generator=g1)
    init.normal_(b, generator=g2)
    np.testing.assert_array_equal(a.cpu().numpy(), b.cpu().numpy())


def test_float_only():
    with pytest.raises(TypeError, match="floating point"):
        init.uniform_(minigen.zeros(3, dtype=minigen.int64))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        init.normal_(minigen.empty(0))  # empty is fine
