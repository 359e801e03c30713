"""The PyTorch twins of the quality protocols (``minigen/bench/torch_twins.py``) are the same
networks as minigen's: the same parameter shapes, and, with minigen's weights copied in, the
same outputs. A twin that drifted from its model would make every "beside PyTorch" figure
compare two different things."""
import numpy as np
import pytest

import minigen
from minigen.bench import torch_twins as T
from minigen.models.dcgan import DCGAN
from minigen.models.stylegan import StyleGAN

torch = pytest.importorskip("torch")


def shapes(named):
    return sorted(tuple(p.shape) for _, p in named)


def copy_into(torch_module, minigen_module, rename=lambda n: n, elsewhere=()):
    """Copy minigen's parameters and buffers into the twin by name; every twin tensor is set
    (but those named in ``elsewhere``, which minigen keeps on another module)."""
    state = {rename(n): torch.from_numpy(np.array(t.numpy())) for n, t in minigen_module.state_dict().items()}
    missing, unexpected = torch_module.load_state_dict(state, strict=False)
    assert not set(missing) - set(elsewhere), f"twin tensors minigen does not have: {missing}"
    return unexpected


def test_dcgan_twin_same_shapes():
    m = DCGAN(nz=16, ngf=8, ndf=8)
    G, D = T.torch_dcgan(16, 8, 8)
    assert shapes(m.G.named_parameters()) == shapes(G.named_parameters())
    assert shapes(m.D.named_parameters()) == shapes(D.named_parameters())


def test_stylegan_twin_computes_the_same_images_and_logits():
    minigen.manual_seed(0)
    m = StyleGAN(z_dim=8, w_dim=8, channels=(8, 8, 4, 4), mapping_layers=2, ndf=4).eval()
    G, D = T.torch_stylegan(z_dim=8, w_dim=8, channels=(8, 8, 4, 4), mapping_layers=2, ndf=4)
    G.eval(), D.eval()
    assert shapes(m.G.named_parameters()) == shapes(G.named_parameters())
    assert shapes(m.D.named_parameters()) == shapes(D.named_parameters())
    unexpected = copy_into(G, m.G, lambda n: n.replace("mapping.net.", "mapping."), elsewhere=("w_avg",))
    assert not unexpected
    copy_into(D, m.D)
    z = np.random.default_rng(0).standard_normal((3, 8)).astype(np.float32)
    # noise strengths start at 0, so the noise draws cannot differ
    want = m.G.synthesis(m.styles(minigen.tensor(z))).numpy()
    got = G(torch.from_numpy(z)).detach().numpy()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    x = np.random.default_rng(1).standard_normal((3, 1, 32, 32)).astype(np.float32)
    np.testing.assert_allclose(D(torch.from_numpy(x)).detach().numpy().reshape(-1),
                               m.D(minigen.tensor(x)).numpy(), rtol=1e-4, atol=1e-5)


def test_stylegan_r1_penalty_and_its_gradient_match_pytorch():
    """R1 = (gamma / 2) E ||grad_x l(x)||^2 on real images: the value, and its gradient with
    respect to D's weights (a double backward through the convolutions), against PyTorch."""
    minigen.manual_seed(0)
    m = StyleGAN(z_dim=8, w_dim=8, channels=(8, 8, 4, 4), mapping_layers=2, ndf=4, r1_gamma=5.0)
    _, D = T.torch_stylegan(z_dim=8, w_dim=8, channels=(8, 8, 4, 4), mapping_layers=2, ndf=4)
    for p in m.D.parameters():          # D's N(0, 0.02) start gives a penalty near 1e-7: scale it up
        p.array = p.array * 25.0
    copy_into(D, m.D)
    x = np.random.default_rng(2).standard_normal((3, 1, 32, 32)).astype(np.float32)
    loss = m.r1_penalty(minigen.tensor(x))
    loss.backward()
    xt = torch.from_numpy(x).requires_grad_(True)
    g, = torch.autograd.grad(D(xt).sum(), xt, create_graph=True)
    r1 = 0.5 * 5.0 * (g * g).sum(dim=(1, 2, 3)).mean()
    r1.backward()
    assert r1.item() > 1.0
    np.testing.assert_allclose(loss.item(), r1.item(), rtol=1e-4)
    for mine, theirs in [(m.D.out.weight, D.out.weight), (m.D.body[0].weight, D.body[0].weight)]:
        scale = np.abs(theirs.grad.numpy()).max()
        assert scale > 1e-3
        np.testing.assert_allclose(mine.grad.numpy(), theirs.grad.numpy(), rtol=1e-3, atol=1e-4 * scale)


# ----------------------------------------------------------------------------- issues #15 and #16
def _same_outputs(tw, mg, args_np, rtol=1e-4, atol=1e-5):
    assert shapes(mg.named_parameters()) == shapes(tw.named_parameters())
    copy_into(tw, mg)
    want = mg(*(minigen.tensor(a) if a is not None else None for a in args_np))
    got = tw(*(torch.from_numpy(np.asarray(a)) if a is not None else None for a in args_np))
    if isinstance(want, tuple):
        for w, g in zip(want, got):
            np.testing.assert_allclose(g.detach().numpy(), w.numpy(), rtol=rtol, atol=atol)
    else:
        np.testing.assert_allclose(got.detach().numpy(), want.numpy(), rtol=rtol, atol=atol)


def test_unet_and_point_denoiser_twins_compute_the_same_noise():
    from minigen.models.diffusion import PointDenoiser
    from minigen.models.unet import UNet
    minigen.manual_seed(0)
    for channels, size in (((8, 16), 8), ((8, 16, 16), 28)):
        m = UNet(1, channels=channels, num_classes=10)
        minigen.nn.init.normal_(m.conv_out.weight, 0, 0.1)     # the zero init would hide everything
        x = np.random.default_rng(0).standard_normal((3, 1, size, size)).astype(np.float32)
        _same_outputs(T.torch_unet(**m.config()), m, (x, np.array([0, 17, 999]), np.array([3, 10, 0])))
    p = PointDenoiser()
    _same_outputs(T.torch_point_denoiser(**p.config()), p,
                  (np.random.default_rng(1).standard_normal((4, 2)).astype(np.float32), np.array([0, 5, 50, 99])))


def test_realnvp_twin_computes_the_same_flow():
    from minigen.models.realnvp import RealNVP
    minigen.manual_seed(0)
    for m, d in ((RealNVP(2, 8, (16, 16)), 2), (RealNVP(64, 4, (32, 32, 32), image_shape=(1, 8, 8)), 64)):
        for c in m.couplings:
            minigen.nn.init.normal_(c.out.weight, 0, 0.2)
        x = np.random.default_rng(2).standard_normal((5, d)).astype(np.float32)
        _same_outputs(T.torch_realnvp(**m.config()), m, (x,))


def test_pixelcnn_twins_compute_the_same_logits():
    from minigen.models.pixelcnn import build_pixelcnn
    minigen.manual_seed(0)
    for data in ("mnist", "digits"):
        for variant in ("plain", "gated"):
            m = build_pixelcnn(data, variant)
            H = m.image_shape[1]
            x = np.random.default_rng(3).random((2, 1, H, H)).astype(np.float32)
            y = np.array([1, 7]) if m.num_classes else None
            _same_outputs(T.torch_pixelcnn(m.config()), m, (x, y))


def test_wavenet_twin_computes_the_same_logits():
    from minigen.models.wavenet import WaveNet
    minigen.manual_seed(0)
    m = WaveNet(dilations=(1, 2, 4, 8), residual=8, dilation_channels=8, skip=16)
    codes = np.random.default_rng(4).integers(0, 256, (2, 30))
    _same_outputs(T.torch_wavenet(**m.config()), m, (codes, np.array([3, 9])))


def test_pixelrnn_twin_computes_the_same_logits():
    from minigen.models.pixelrnn import PixelRNN
    minigen.manual_seed(0)
    m = PixelRNN((1, 8, 8), channels=8, first_kernel=5, n_layers=2, levels=17)
    x = np.random.default_rng(5).random((2, 1, 8, 8)).astype(np.float32)
    _same_outputs(T.torch_pixelcnn(m.config()), m, (x, None))
