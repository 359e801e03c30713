"""LoRA (minigen/nn/lora.py): the formula against NumPy float64, B = 0 leaves the model as it
was, only A and B learn, merging keeps the outputs, the trainable share on the GPT, errors."""
import numpy as np
import pytest

import minigen
from minigen import nn, optim
from minigen.models.gpt import GPT, build_gpt
from minigen.nn.lora import LoRALinear, add_lora, merge_lora, trainable_parameters


def small_gpt(device="cpu", seed=0):
    minigen.manual_seed(seed)
    return GPT(11, 12, n_layer=2, n_head=2, n_embd=16).to(device)


def test_forward_matches_the_numpy_formula(device):
    lin = nn.Linear(6, 5).to(dtype=minigen.float64).to(device)
    layer = LoRALinear(lin, r=3, alpha=6.0)
    with minigen.no_grad():
        layer.lora_B.copy_(minigen.tensor(np.random.randn(5, 3), device=device))
    x = np.random.randn(4, 6)
    W, b = lin.weight.cpu().numpy(), lin.bias.cpu().numpy()
    A, B = layer.lora_A.cpu().numpy(), layer.lora_B.cpu().numpy()
    # y = x W^T + b + (alpha / r) x A^T B^T
    ref = x @ W.T + b + (6.0 / 3) * (x @ A.T) @ B.T
    np.testing.assert_allclose(layer(minigen.tensor(x, device=device)).cpu().numpy(), ref, rtol=1e-12, atol=1e-12)
    assert layer.scaling == 2.0 and layer.weight is lin.weight


def test_initialisation_A_gaussian_fan_in_B_zero():
    layer = LoRALinear(nn.Linear(400, 300), r=64)
    A = layer.lora_A.cpu().numpy()
    assert A.shape == (64, 400) and layer.lora_B.shape == (300, 64)
    assert np.all(layer.lora_B.cpu().numpy() == 0)
    # A ~ N(0, 1/in): std 0.05 for in = 400 (25,600 draws)
    assert abs(A.std() - 0.05) < 0.002 and abs(A.mean()) < 0.002
    assert layer.alpha == 64.0 and layer.scaling == 1.0          # alpha defaults to r


def test_gradcheck_through_A_and_B():
    lin = nn.Linear(4, 3).to(dtype=minigen.float64)
    layer = LoRALinear(lin, r=2, alpha=3.0)
    x = minigen.tensor(np.random.randn(5, 4))
    del layer.lora_A, layer.lora_B          # plain attributes now: the function's inputs

    def f(A, B):
        layer.lora_A, layer.lora_B = A, B
        return layer(x)
    A = minigen.tensor(np.random.randn(2, 4), requires_grad=True)
    B = minigen.tensor(np.random.randn(3, 2), requires_grad=True)
    assert minigen.gradcheck(f, (A, B))


def test_unchanged_at_start_only_adapters_learn_and_merge_keeps_outputs(device):
    m = small_gpt(device)
    x = minigen.randint(0, 11, (3, 12), device=device)
    y = minigen.randint(0, 11, (3, 12), device=device)
    before = m(x)[0].cpu().numpy()
    frozen = {k: v.cpu().numpy().copy() for k, v in m.state_dict().items()}
    add_lora(m, r=2, alpha=4, targets=["attn.c_attn"])
    # B = 0: the adapted model computes what the pretrained one did
    np.testing.assert_array_equal(m(x)[0].cpu().numpy(), before)
    names = [n for n, p in m.named_parameters() if p.requires_grad]
    assert names == ["blocks.0.attn.c_attn.lora_A", "blocks.0.attn.c_attn.lora_B",
                     "blocks.1.attn.c_attn.lora_A", "blocks.1.attn.c_attn.lora_B"]
    opt = optim.Adam([p for p in m.parameters() if p.requires_grad], lr=5e-2)
    first = m.loss(x, y).item()
    for step in range(40):
        opt.zero_grad()
        loss = m.loss(x, y)
        loss.backward()
        if step == 0:
            # only A and B get gradients; on the first step A's is 0 (B = 0), B's is not
            assert all(p.grad is None for n, p in m.named_parameters() if "lora" not in n)
            assert np.all(m.blocks[0].attn.c_attn.lora_A.grad.cpu().numpy() == 0)
            assert np.abs(m.blocks[0].attn.c_attn.lora_B.grad.cpu().numpy()).max() > 0
        opt.step()
    assert loss.item() < first - 0.1
    # the frozen weights did not move
    for k, v in m.state_dict().items():
        if "lora" not in k:
            np.testing.assert_array_equal(v.cpu().numpy(), frozen[k])
    adapted = m(x)[0].cpu().numpy()
    merge_lora(m)
    assert type(m.blocks[0].attn.c_attn) is nn.Linear
    assert sorted(m.state_dict()) == sorted(frozen)
    np.testing.assert_allclose(m(x)[0].cpu().numpy(), adapted, rtol=1e-5, atol=1e-5)
    assert np.abs(m.blocks[0].attn.c_attn.weight.cpu().numpy() - frozen["blocks.0.attn.c_attn.weight"]).max() > 1e-4


def test_merge_is_exact_in_float64():
    lin = nn.Linear(8, 8).to(dtype=minigen.float64)
    model = nn.Sequential(lin, nn.Tanh(), nn.Linear(8, 4).to(dtype=minigen.float64))
    add_lora(model, r=3, alpha=5.0)
    for layer in (model[0], model[2]):
        with minigen.no_grad():
            layer.lora_B.copy_(minigen.tensor(np.random.randn(*layer.lora_B.shape)))
    x = minigen.tensor(np.random.randn(4, 8))
    y = model(x).cpu().numpy()
    merge_lora(model)
    np.testing.assert_allclose(model(x).cpu().numpy(), y, rtol=1e-13, atol=1e-13)


def test_trainable_share_on_the_gpt_is_under_two_percent():
    for gpt, r in ((build_gpt("shakespeare"), 4), (GPT(80, 64, n_layer=4, n_head=4, n_embd=64), 4)):
        total0 = trainable_parameters(gpt)[1]
        add_lora(gpt, r=r, targets=["attn.c_attn"])
        trainable, total = trainable_parameters(gpt)
        # r (in + out) per adapted layer: 4 (d + 3d) per block
        d = gpt.n_embd
        assert trainable == gpt.n_layer * r * (d + 3 * d)
        assert total == total0 + trainable
        assert trainable / total < 0.02


def test_a_pretrained_state_dict_still_fits_the_frozen_weights(tmp_path):
    a = small_gpt(seed=1)
    minigen.save(a.state_dict(), tmp_path / "pre.npz")
    b = add_lora(small_gpt(seed=2), r=2)
    missing, unexpected = b.load_state_dict(minigen.load(tmp_path / "pre.npz"), strict=False)
    assert unexpected == [] and all("lora" in k for k in missing)
    x = minigen.randint(0, 11, (2, 12))
    np.testing.assert_array_equal(b(x)[0].cpu().numpy(), a(x)[0].cpu().numpy())


def test_errors_name_the_argument():
    with pytest.raises(ValueError, match="Sequential has no nn.Linear layers to adapt"):
        add_lora(nn.Sequential(nn.ReLU(), nn.LayerNorm(4)))
    with pytest.raises(ValueError, match=r"targets \['q_proj'\] match none of the Linear layers"):
        add_lora(small_gpt(), targets=["q_proj"])
    with pytest.raises(ValueError, match=r"r must be an integer in 1..min\(in, out\) = 1..3 for a Linear of weight \[3, 8\], got 5"):
        LoRALinear(nn.Linear(8, 3), r=5)
    half = nn.Sequential(nn.Linear(8, 8), nn.Linear(8, 2))
    with pytest.raises(ValueError, match=r"r must be an integer in 1..min\(in, out\) = 1..2 for 1 of weight \[2, 8\], got 4"):
        add_lora(half, r=4)
    assert type(half[0]) is nn.Linear and half[0].weight.requires_grad      # nothing changed
    with pytest.raises(ValueError, match="alpha must be positive"):
        LoRALinear(nn.Linear(8, 3), r=2, alpha=0)
    with pytest.raises(TypeError, match="base must be an nn.Linear, got Conv2d"):
        LoRALinear(nn.Conv2d(1, 1, 3))
    with pytest.raises(ValueError, match="no LoRALinear layers to merge"):
        merge_lora(small_gpt())
    with pytest.raises(TypeError, match="model must be an nn.Module"):
        add_lora([nn.Linear(2, 2)])


def test_the_pytorch_twin_adapts_the_same_layers():
    torch = pytest.importorskip("torch")
    from minigen.bench.torch_twins import torch_add_lora, torch_gpt_mechanisms
    m = small_gpt()
    t = torch_gpt_mechanisms(m.config())
    x = torch.randint(0, 11, (2, 12))
    before = t(x).detach()
    torch_add_lora(t, r=2, alpha=4, targets=["attn.c_attn"])
    torch.testing.assert_close(t(x), before)
    add_lora(m, r=2, alpha=4, targets=["attn.c_attn"])
    assert sum(p.numel() for p in t.parameters() if p.requires_grad) == trainable_parameters(m)[0]
