"""The autoregressive model AR(p), fitted by least squares: the first rung of the autoregressive
ladder (before PixelCNN and WaveNet), and the baseline WaveNet must beat.

The model. Each value is a fixed linear combination of the p before it, plus noise:

    x_t = c + sum_{k=1}^{p} a_k x_{t-k} + e_t,     e_t ~ N(0, sigma^2)

Fitting. Stack every window of every training sequence as a row: X[t] = [1, x_{t-1}, ...,
x_{t-p}], y[t] = x_t. The coefficients minimising the squared one-step error solve the normal
equations, computed here by a least-squares solve (``numpy.linalg.lstsq``):

    theta = argmin ||y - X theta||^2 = (X^T X)^{-1} X^T y,     sigma^2 = mean residual^2

(the Gaussian maximum-likelihood fit, conditioned on each sequence's first p values).

Forecasting feeds the model its own means; sampling adds fresh noise at each step.

Bits per sample of quantised audio. WaveNet predicts mu-law codes, so AR(p) is scored on
codes too: predict the decoded value, encode the prediction, and model the code residual
r = q_t - code(prediction) with its histogram on the training set (+1 smoothing over the
range of residuals); -log2 of that histogram is the AR baseline in bits per sample.
"""
from __future__ import annotations

import math

import numpy

__all__ = ["ARModel", "fit_ar"]


def _windows(seqs, p):
    X, y = [], []
    for s in seqs:
        s = numpy.asarray(s, dtype=numpy.float64).reshape(-1)
        if len(s) <= p:
            continue
        # row t: [1, x_{t-1}, ..., x_{t-p}] for t = p .. n-1
        lags = numpy.stack([s[p - k:len(s) - k] for k in range(1, p + 1)], 1)
        X.append(numpy.concatenate([numpy.ones((len(s) - p, 1)), lags], 1))
        y.append(s[p:])
    if not X:
        raise ValueError(f"fit_ar: every sequence is shorter than p + 1 = {p + 1} values")
    return numpy.concatenate(X), numpy.concatenate(y)


class ARModel:
    """A fitted AR(p): ``c`` (intercept), ``a`` (a_1 .. a_p) and ``sigma``."""

    def __init__(self, c, a, sigma):
        self.c, self.a, self.sigma = float(c), numpy.asarray(a, dtype=numpy.float64), float(sigma)
        self.p = len(self.a)

    def __repr__(self):
        return f"ARModel(p={self.p}, c={self.c:.4g}, a={numpy.round(self.a, 4).tolist()}, sigma={self.sigma:.4g})"

    def predict(self, seq):
        """The one-step predictions c + sum_k a_k x_{t-k} for t = p .. n-1 of ``seq`` [n]."""
        X, _ = _windows([seq], self.p)
        return X @ numpy.concatenate([[self.c], self.a])

    def gaussian_nll(self, seqs):
        """Mean -log N(x_t; prediction, sigma^2) in nats per predicted value."""
        X, y = _windows(seqs, self.p)
        r = y - X @ numpy.concatenate([[self.c], self.a])
        return float(0.5 * numpy.mean(r ** 2) / self.sigma ** 2 + 0.5 * math.log(2 * math.pi * self.sigma ** 2))

    def forecast(self, history, steps):
        """The next ``steps`` means given ``history`` (at least p values), each fed back."""
        h = list(numpy.asarray(history, dtype=numpy.float64)[-self.p:])
        if len(h) < self.p:
            raise ValueError(f"ARModel.forecast: need at least p = {self.p} values of history, got {len(h)}")
        out = []
        for _ in range(steps):
            # x_t = c + sum_k a_k x_{t-k}
            x = self.c + float(numpy.dot(self.a, h[::-1][:self.p]))
            out.append(x)
            h.append(x)
        return numpy.asarray(out)

    def sample(self, history, steps, rng=None):
        """``steps`` draws x_t = c + sum_k a_k x_{t-k} + sigma z after ``history``."""
        rng = rng if rng is not None else numpy.random.default_rng()
        h = list(numpy.asarray(history, dtype=numpy.float64)[-self.p:])
        if len(h) < self.p:
            raise ValueError(f"ARModel.sample: need at least p = {self.p} values of history, got {len(h)}")
        out = []
        for _ in range(steps):
            x = self.c + float(numpy.dot(self.a, h[::-1][:self.p])) + self.sigma * rng.standard_normal()
            out.append(x)
            h.append(x)
        return numpy.asarray(out)


def fit_ar(seqs, p):
    """Least-squares AR(p) over the windows of every sequence in ``seqs`` (arrays, or one array)."""
    if isinstance(p, bool) or not isinstance(p, int) or p < 1:
        raise ValueError(f"fit_ar: p must be a positive integer, got {p!r}")
    if isinstance(seqs, numpy.ndarray) and seqs.ndim == 1:
        seqs = [seqs]
    X, y = _windows(seqs, p)
    theta, *_ = numpy.linalg.lstsq(X, y, rcond=None)
    r = y - X @ theta
    return ARModel(theta[0], theta[1:], math.sqrt(float(numpy.mean(r ** 2))))
