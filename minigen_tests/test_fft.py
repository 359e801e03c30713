"""torch.fft (minigen/fft.py): transforms, stft/istft and the signal windows, against PyTorch
(values and gradients, float64) and finite differences (gradcheck / gradgradcheck)."""
import numpy as np
import pytest

import minigen

X = np.random.default_rng(0).normal(size=(3, 10))

CASES = {
    "fft": lambda L, x: L.fft.fft(x),
    "fft_n12_ortho": lambda L, x: L.fft.fft(x, n=12, norm="ortho"),
    "fft_complex_dim0": lambda L, x: L.fft.fft(L.complex(x, x * 2), dim=0, norm="forward"),
    "ifft_n7": lambda L, x: L.fft.ifft(x, n=7),
    "rfft": lambda L, x: L.fft.rfft(x),
    "rfft_odd_ortho": lambda L, x: L.fft.rfft(x, n=9, norm="ortho"),
    "irfft_of_rfft": lambda L, x: L.fft.irfft(L.fft.rfft(x) * 2),
    "irfft": lambda L, x: L.fft.irfft(L.complex(x, x.flip(-1))),
    "irfft_n11_forward": lambda L, x: L.fft.irfft(L.complex(x, x.flip(-1)), n=11, norm="forward"),
    "rfft2": lambda L, x: L.fft.rfft2(x),
    "irfft2": lambda L, x: L.fft.irfft2(L.fft.rfft2(x.exp()), s=(3, 10)),
    "fftn": lambda L, x: L.fft.fftn(x),
    "fftshift_abs": lambda L, x: L.fft.fftshift(L.fft.fft(x)).abs(),
    "stft": lambda L, x: L.stft(x, 4, hop_length=2, window=L.hann_window(4, dtype=L.float64,
                                device=x.device), return_complex=True),
    "stft_short_window": lambda L, x: L.stft(x[0], 6, hop_length=2, win_length=4, center=False,
                                             normalized=True, return_complex=True),
    "istft": lambda L, x: L.istft(L.stft(x, 4, hop_length=1, window=L.hann_window(
        4, dtype=L.float64, device=x.device), return_complex=True), 4, hop_length=1,
        window=L.hann_window(4, dtype=L.float64, device=x.device), length=10),
}


def _real(L, y):
    return L.view_as_real(y.resolve_conj()) if y.is_complex() else y


@pytest.mark.parametrize("name", CASES)
def test_values_and_gradients_match_pytorch(name, device):
    torch = pytest.importorskip("torch")
    f = CASES[name]
    outs = []
    for L, dev in ((torch, "cpu"), (minigen, device)):
        x = L.tensor(X, dtype=L.float64, device=dev, requires_grad=True)
        y = _real(L, f(L, x))
        w = np.random.default_rng(1).normal(size=tuple(y.shape))
        (y * L.tensor(w, device=dev)).sum().backward()
        outs.append((y.detach().cpu().numpy(), x.grad.cpu().numpy()))
    (ty, tg), (my, mg_) = outs
    np.testing.assert_allclose(my, ty, atol=1e-12)
    np.testing.assert_allclose(mg_, tg, atol=1e-12)


@pytest.mark.parametrize("name", ["fft_n12_ortho", "rfft_odd_ortho", "irfft_n11_forward",
                                  "irfft2", "stft"])
def test_gradients_match_finite_differences(name, device):
    x = minigen.tensor(X, dtype=minigen.float64, device=device, requires_grad=True)
    f = lambda t: _real(minigen, CASES[name](minigen, t))  # noqa: E731
    assert minigen.gradcheck(f, (x,))
    assert minigen.gradgradcheck(f, (x,))


def test_round_trips_and_dtypes(device):
    x = minigen.tensor(X, dtype=minigen.float32, device=device)   # float32 in, complex64 out
    z = minigen.fft.rfft(x)
    assert z.dtype == minigen.complex64 and tuple(z.shape) == (3, 6)
    np.testing.assert_allclose(minigen.fft.irfft(z, n=10).cpu().numpy(), X, atol=1e-5)
    np.testing.assert_allclose(minigen.fft.ifft(minigen.fft.fft(x)).real.cpu().numpy(), X,
                               atol=1e-5)
    np.testing.assert_allclose(minigen.fft.fftfreq(5, 0.5).numpy(), np.fft.fftfreq(5, 0.5))
    np.testing.assert_allclose(minigen.fft.rfftfreq(6).numpy(), np.fft.rfftfreq(6))


def test_windows_match_pytorch():
    torch = pytest.importorskip("torch")
    for name in ["hann_window", "hamming_window", "blackman_window", "bartlett_window",
                 "kaiser_window"]:
        for periodic in (True, False):
            for n in (0, 1, 7, 8):
                want = getattr(torch, name)(n, periodic, dtype=torch.float64).numpy()
                got = getattr(minigen, name)(n, periodic, dtype=minigen.float64).numpy()
                np.testing.assert_allclose(got, want, atol=1e-12, err_msg=f"{name}({n}, {periodic})")


def test_errors_name_the_argument(device):
    x = minigen.tensor(X, device=device)
    with pytest.raises(ValueError, match="norm must be"):
        minigen.fft.fft(x, norm="unit")
    with pytest.raises(RuntimeError, match="invalid number of data points"):
        minigen.fft.fft(x, n=0)
    with pytest.raises(RuntimeError, match="expects a real input"):
        minigen.fft.rfft(minigen.fft.fft(x))
    with pytest.raises(RuntimeError, match="return_complex"):
        minigen.stft(x[0], 4)
    with pytest.raises(RuntimeError, match="complex-valued"):
        minigen.istft(x, 4)
