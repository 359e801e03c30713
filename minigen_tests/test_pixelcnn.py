"""PixelCNN and Gated PixelCNN: the masks, causality pixel by pixel, the likelihood against NumPy
float64, overfitting, sampling and completion, determinism, checkpoints, both devices, errors."""
import math
import os

import numpy
import pytest

import minigen
from minigen.data import load_digits, load_mnist
from minigen.models.pixelcnn import (GatedPixelCNN, MaskedConv2d, PixelCNN, build_pixelcnn, causal_mask,
                                     receptive_field)
from minigen.train import load_checkpoint, save_checkpoint, training_step


def test_masks_A_and_B():
    a = causal_mask(3, "A")
    b = causal_mask(3, "B")
    numpy.testing.assert_array_equal(a, [[1, 1, 1], [1, 0, 0], [0, 0, 0]])
    numpy.testing.assert_array_equal(b, [[1, 1, 1], [1, 1, 0], [0, 0, 0]])
    m5 = causal_mask(5, "A")
    assert m5.sum() == 12 and m5[2, :2].all() and not m5[2, 2:].any() and not m5[3:].any()
    with pytest.raises(ValueError, match="mask_type must be 'A'"):
        causal_mask(3, "C")
    with pytest.raises(ValueError, match="kernel with a centre"):
        MaskedConv2d(1, 4, 4, "A")
    with pytest.raises(ValueError, match="kernel with a centre"):
        causal_mask((3, 2), "B")


def test_masked_taps_get_no_gradient_and_fan_in_counts_them(device):
    minigen.manual_seed(0)
    conv = MaskedConv2d(2, 3, 5, "A").to(device)
    # PyTorch's default init: U(-1/sqrt(fan_in), ..) with fan_in = C k k over the full kernel
    bound = 1 / math.sqrt(2 * 25)
    w = conv.weight.cpu().numpy()
    assert numpy.abs(w).max() <= bound and numpy.abs(w).max() > 0.8 * bound
    x = minigen.randn(2, 2, 6, 6, device=device)
    conv(x).sum().backward()
    g = conv.weight.grad.cpu().numpy()
    assert (g[:, :, causal_mask(5, "A") == 0] == 0).all()
    assert (numpy.abs(g[:, :, causal_mask(5, "A") == 1]) > 0).all()


@pytest.mark.parametrize("make", [lambda: PixelCNN((1, 8, 8), 8, 5, 3, 17),
                                  lambda: GatedPixelCNN((1, 8, 8), 8, 5, 3, 17, num_classes=10),
                                  lambda: PixelCNN((1, 8, 8), 8, 3, 2, 2)])
def test_every_pixel_sees_only_earlier_pixels(make):
    minigen.manual_seed(0)
    model = make()
    order = numpy.arange(64).reshape(8, 8)
    for r in range(8):
        for c in range(8):
            f = receptive_field(model, (r, c))
            assert not f[order >= r * 8 + c].any(), (r, c)
            # the left neighbour and the pixel above are always seen
            assert c == 0 or f[r, c - 1]
            assert r == 0 or f[r - 1, c]


def test_the_blind_spot_and_its_fix():
    minigen.manual_seed(0)
    plain = receptive_field(PixelCNN(), (14, 14))
    gated = receptive_field(GatedPixelCNN(), (14, 14))
    # the figures: 159 earlier pixels in the plain net, 180 in the gated one
    assert plain.sum() == 159 and gated.sum() == 180
    # the gated net sees everything the plain one does, and the triangle up and to the right
    assert (gated | plain).sum() == gated.sum()
    assert gated[13, 20] and not plain[13, 20]


@pytest.mark.parametrize("levels", [2, 17])
def test_nll_is_the_summed_per_pixel_cross_entropy(levels):
    minigen.manual_seed(1)
    model = PixelCNN((1, 8, 8), 8, 5, 2, levels)
    x = load_digits("test")[0][:3]
    got = model.nll(x).cpu().numpy()
    v = (x.cpu().numpy() > 0.5).astype(numpy.float64) if levels == 2 else numpy.round(x.cpu().numpy() * 16)
    inp = v if levels == 2 else v / 16
    with minigen.no_grad():
        logits = model(minigen.tensor(inp.astype(numpy.float32))).cpu().numpy().astype(numpy.float64)
    if levels == 2:
        ref = numpy.maximum(logits, 0) - logits * v + numpy.log1p(numpy.exp(-numpy.abs(logits)))
        ref = ref.reshape(3, -1).sum(1)
    else:
        lse = numpy.log(numpy.exp(logits - logits.max(1, keepdims=True)).sum(1)) + logits.max(1)
        picked = numpy.take_along_axis(logits, v.astype(int), 1)[:, 0]
        ref = (lse - picked).reshape(3, -1).sum(1)
    numpy.testing.assert_allclose(got, ref, rtol=1e-5)
    assert model.loss(x).item() == pytest.approx(ref.mean(), rel=1e-5)


def test_tiny_batch_overfits_and_samples(device):
    minigen.manual_seed(0)
    model = PixelCNN((1, 8, 8), 16, 5, 2, 17).to(device)
    x = load_digits("train")[0][:8].to(device)
    opt = minigen.optim.Adam(model.parameters(), lr=3e-3)
    losses = [training_step(model, opt, (x,)).item() for _ in range(150)]
    assert losses[-1] < 0.5 * losses[0]
    minigen.manual_seed(3)
    s = model.sample(4)
    assert s.shape == (4, 1, 8, 8) and s.device == device
    a = s.cpu().numpy() * 16
    numpy.testing.assert_allclose(a, numpy.round(a), atol=1e-4)
    assert a.min() >= 0 and a.max() <= 16
    minigen.manual_seed(3)
    numpy.testing.assert_array_equal(model.sample(4).cpu().numpy(), s.cpu().numpy())


def test_completion_keeps_the_given_rows_and_binary_samples():
    minigen.manual_seed(0)
    model = PixelCNN((1, 28, 28), 8, 7, 1, 2)
    x = load_mnist("test")[0][:2]
    out = model.complete(x, 14).cpu().numpy()
    numpy.testing.assert_array_equal(out[:, :, :14], (x.cpu().numpy()[:, :, :14] > 0.5).astype(numpy.float32))
    assert set(numpy.unique(out)) <= {0.0, 1.0}


def test_gated_conditioning_and_its_errors(device):
    minigen.manual_seed(0)
    model = GatedPixelCNN((1, 8, 8), 8, 5, 2, 17, num_classes=10).to(device)
    for layer in model.layers:
        minigen.nn.init.normal_(layer.cond.weight, 0, 1.0)
    x = load_digits("test")[0][:2].to(device)
    a = model.nll(x, minigen.tensor([1, 2], device=device)).cpu().numpy()
    b = model.nll(x, minigen.tensor([7, 7], device=device)).cpu().numpy()
    assert not numpy.allclose(a, b)
    s = model.sample(2, labels=[3, 4])
    assert s.shape == (2, 1, 8, 8)
    with pytest.raises(ValueError, match=r"labels must lie in 0 \.\. 9"):
        model.sample(2, labels=[3, 10])
    with pytest.raises(ValueError, match="needs labels"):
        model.sample(2)
    with pytest.raises(ValueError, match="unconditional"):
        PixelCNN((1, 8, 8), 8, 5, 1, 17)(minigen.zeros(1, 1, 8, 8), minigen.tensor([1]))
    with pytest.raises(ValueError, match="levels must be 2"):
        PixelCNN((1, 8, 8), 8, 5, 1, 5)
    with pytest.raises(ValueError, match="temperature"):
        PixelCNN((1, 8, 8), 8, 5, 1, 17).sample(1, temperature=0)
    with pytest.raises(ValueError, match="binarised"):
        build_pixelcnn("moons")


def test_checkpoint_round_trip(tmp_path, device):
    minigen.manual_seed(0)
    model = build_pixelcnn("digits", "gated").to(device)
    opt = minigen.optim.Adam(model.parameters(), lr=1e-3)
    x, y = load_digits("train")
    training_step(model, opt, (x[:16].to(device), y[:16].to(device)))
    path = os.path.join(tmp_path, "p.npz")
    save_checkpoint(path, model, opt, meta={"model": "pixelcnn"})
    other = build_pixelcnn("digits", "gated").to(device)
    load_checkpoint(path, other)
    xs, ys = x[:4].to(device), y[:4].to(device)
    numpy.testing.assert_array_equal(model.nll(xs, ys).cpu().numpy(), other.nll(xs, ys).cpu().numpy())


@pytest.mark.parametrize("variant,data", [("plain", "digits"), ("gated", "digits"), ("plain", "mnist")])
def test_quick_runs_through_the_registry(tmp_path, variant, data):
    from minigen.train import train_model
    r = train_model("pixelcnn", data=data, variant=variant, quick=True, out=str(tmp_path / "r"),
                    progress=False, pictures=(data == "digits"), log=lambda *a: None)
    m = r["metrics"]
    assert m["steps"] == 10 and math.isfinite(m["test_nll_nats"])
    assert m["test_bits_per_dim"] == pytest.approx(m["test_nll_nats"] / ((64 if data == "digits" else 784) * math.log(2)))


# ----------------------------------------------------------------------------- PixelRNN (Row LSTM)
def test_pixelrnn_is_causal_and_sees_a_wider_triangle():
    from minigen.models.pixelrnn import PixelRNN
    minigen.manual_seed(0)
    model = PixelRNN((1, 8, 8), 8, 5, 2, 17)
    order = numpy.arange(64).reshape(8, 8)
    for r in range(8):
        for c in range(8):
            f = receptive_field(model, (r, c))
            assert not f[order >= r * 8 + c].any(), (r, c)
            assert c == 0 or f[r, c - 1]
    big = receptive_field(PixelRNN((1, 28, 28), 8, 7, 2, 2), (14, 14))
    # the Row LSTM's context reaches the top row (one more column each way per row up), more
    # pixels than PixelCNN's 159, but not the right of the row just above
    assert big[0, 14] and big[0, 0] and big.sum() > 159 and not big[13, 20]


def test_row_lstm_matches_a_numpy_reference():
    from minigen.models.pixelrnn import RowLSTM
    minigen.manual_seed(0)
    layer = RowLSTM(3, 2)
    x = numpy.random.default_rng(0).standard_normal((1, 3, 3, 4)).astype(numpy.float64)
    got = layer.double()(minigen.tensor(x)).cpu().numpy()
    W_is = (layer.input_to_state.weight * layer.input_to_state.mask).cpu().numpy()        # [8, 3, 1, 3]
    b_is = layer.input_to_state.bias.cpu().numpy()
    W_ss, b_ss = layer.state_to_state.weight.cpu().numpy(), layer.state_to_state.bias.cpu().numpy()  # [8, 2, 3]

    def conv_row(w, b, v):        # v [Cin, W], w [Cout, Cin, 3], 'same' with zero padding
        vp = numpy.pad(v, ((0, 0), (1, 1)))
        return numpy.stack([numpy.einsum("oik,ik->o", w, vp[:, j:j + 3]) for j in range(v.shape[1])], 1) + b[:, None]

    sig = lambda a: 1 / (1 + numpy.exp(-a))  # noqa: E731
    h, c = numpy.zeros((2, 4)), numpy.zeros((2, 4))
    for i in range(3):
        a = conv_row(W_ss, b_ss, h) + conv_row(W_is[:, :, 0], b_is, x[0, :, i])
        o, f, gi, g = sig(a[:2]), sig(a[2:4]), sig(a[4:6]), numpy.tanh(a[6:])
        c = f * c + gi * g
        h = o * numpy.tanh(c)
        numpy.testing.assert_allclose(got[0, :, i], h, rtol=1e-10, atol=1e-12)


def test_pixelrnn_overfits_and_runs_through_the_registry(tmp_path):
    from minigen.models.pixelrnn import PixelRNN
    from minigen.train import train_model
    minigen.manual_seed(0)
    model = PixelRNN((1, 8, 8), 16, 5, 1, 17)
    x = load_digits("train")[0][:8]
    opt = minigen.optim.Adam(model.parameters(), lr=3e-3)
    losses = [training_step(model, opt, (x,)).item() for _ in range(80)]
    assert losses[-1] < 0.6 * losses[0]
    s = model.sample(2)
    assert s.shape == (2, 1, 8, 8)
    r = train_model("pixelrnn", quick=True, out=str(tmp_path / "r"), progress=False, pictures=False,
                    log=lambda *a: None)
    assert r["metrics"]["steps"] == 10 and math.isfinite(r["metrics"]["test_nll_nats"])
