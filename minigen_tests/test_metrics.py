"""minigen.metrics: units of likelihood."""
import math

import pytest

from minigen import metrics


def test_units():
    assert metrics.bits(math.log(2)) == pytest.approx(1.0)
    assert metrics.perplexity(0.0) == 1.0
    assert metrics.perplexity(math.log(27)) == pytest.approx(27.0)
    assert metrics.bits_per_dim(784 * math.log(2), 784) == pytest.approx(1.0)
    r = metrics.lm_report(2.0 * 10, 10)
    assert r == {"test_nats_per_char": 2.0, "test_bits_per_char": pytest.approx(2 / math.log(2)),
                 "test_perplexity": pytest.approx(math.exp(2)), "test_tokens": 10}
    assert metrics.lm_report(1.0, 1, prefix="val")["val_nats_per_char"] == 1.0


def test_errors():
    with pytest.raises(ValueError, match="no tokens"):
        metrics.lm_report(1.0, 0)
    with pytest.raises(ValueError, match="dims must be positive"):
        metrics.bits_per_dim(1.0, 0)
    with pytest.raises(ValueError, match="NaN"):
        metrics.perplexity(float("nan"))
    assert metrics.perplexity(1e4) == float("inf")
