"""The mixture of experts (minigen/nn/moe.py) and the GPT that uses it (moe=...): a per-token
NumPy float64 loop, gradcheck away from ties, the load-balancing loss, errors, overfitting,
checkpoints, the registry's --quick run and the PyTorch twin."""
import math

import numpy as np
import pytest

import minigen
from minigen import optim
from minigen.models.gpt import GPT
from minigen.nn.moe import MoE, load_balancing_loss


def gelu_tanh(u):
    return 0.5 * u * (1 + np.tanh(math.sqrt(2 / math.pi) * (u + 0.044715 * u ** 3)))


def moe_reference(moe, x):
    """One token at a time in NumPy float64: softmax router, top-k, gates, experts, aux."""
    Wr = moe.router.weight.cpu().numpy()
    ex = [(e.c_fc.weight.cpu().numpy(), e.c_fc.bias.cpu().numpy(), e.c_proj.weight.cpu().numpy(), e.c_proj.bias.cpu().numpy())
          for e in moe.experts]
    N, k = moe.n_experts, moe.top_k
    xs = x.reshape(-1, x.shape[-1])
    y = np.zeros_like(xs)
    counts, P = np.zeros(N), np.zeros(N)
    for t, xt in enumerate(xs):
        logits = Wr @ xt
        p = np.exp(logits - logits.max())
        p /= p.sum()
        P += p / len(xs)
        S = np.argsort(-p)[:k]
        g = p[S] / p[S].sum() if moe.renormalize else p[S]
        for gi, i in zip(g, S):
            W1, b1, W2, b2 = ex[i]
            y[t] += gi * (W2 @ gelu_tanh(W1 @ xt + b1) + b2)
            counts[i] += 1
    aux = N * np.sum(counts / (k * len(xs)) * P)
    return y.reshape(x.shape), counts, aux


@pytest.mark.parametrize("n_experts,top_k,renormalize", [(4, 2, None), (4, 1, None), (5, 3, False), (3, 3, True)])
def test_matches_a_per_token_loop_in_float64(device, n_experts, top_k, renormalize):
    moe = MoE(6, 10, n_experts, top_k, renormalize).to(dtype=minigen.float64)
    x = np.random.randn(3, 7, 6)
    y_ref, counts_ref, aux_ref = moe_reference(moe, x)
    moe = moe.to(device)
    y = moe(minigen.tensor(x, device=device))
    np.testing.assert_allclose(y.cpu().numpy(), y_ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(moe.counts, counts_ref)
    assert moe.counts.sum() == 21 * top_k
    assert moe.aux_loss.item() == pytest.approx(aux_ref, rel=1e-12)
    assert moe.renormalize == (top_k > 1 if renormalize is None else renormalize)


def test_gradcheck_away_from_ties():
    """The routing is piecewise constant: check where no two top probabilities are within the
    finite-difference step of each other (so the chosen experts stay the chosen ones)."""
    minigen.manual_seed(1)
    moe = MoE(4, 6, 4, 2).to(dtype=minigen.float64)
    x = np.random.randn(5, 4)
    p = np.exp(x @ moe.router.weight.cpu().numpy().T)
    p /= p.sum(1, keepdims=True)
    srt = np.sort(p, 1)[:, ::-1]
    assert np.min(srt[:, 1] - srt[:, 2]) > 1e-4          # the k-th and (k+1)-th apart
    xt = minigen.tensor(x, requires_grad=True)
    assert minigen.gradcheck(lambda x: moe(x), (xt,))
    # and through the aux loss, which reaches the router only through P_i
    assert minigen.gradcheck(lambda x: (moe(x), moe.aux_loss)[1], (xt,))
    W = moe.router.weight
    # the router's weight gets a gradient from both the gates and the aux loss
    moe.zero_grad()
    (moe(minigen.tensor(x)).sum() + moe.aux_loss).backward()
    assert np.abs(W.grad.cpu().numpy()).max() > 0


def test_load_balancing_loss_is_one_under_uniform_routing():
    N = 4
    # a router with all-zero weights: P_i = 1/N, whatever the counts (top-k then breaks ties)
    moe = MoE(6, 8, N, 2)
    with minigen.no_grad():
        moe.router.weight.zero_()
    moe(minigen.randn(10, 6))
    assert moe.aux_loss.item() == pytest.approx(1.0, abs=1e-6)
    # uniform counts f_i = 1/N, any probabilities
    p = minigen.tensor(np.random.dirichlet(np.ones(N), size=12))
    assert load_balancing_loss(p, [6, 6, 6, 6], 2).item() == pytest.approx(1.0, abs=1e-12)
    # collapse: every token to expert 0 with probability 1 (k = 1): aux = N
    p = minigen.tensor(np.eye(N)[np.zeros(12, int)])
    assert load_balancing_loss(p, [12, 0, 0, 0], 1).item() == pytest.approx(N)
    # its gradient pushes probability away from the over-used expert: dL/dP_i = N f_i
    p = minigen.tensor(np.full((12, N), 1.0 / N), requires_grad=True)
    load_balancing_loss(p, [9, 1, 1, 1], 1).backward()
    np.testing.assert_allclose(p.grad.cpu().numpy()[0], N * np.array([9, 1, 1, 1]) / 12 / 12)


def test_errors_name_the_arguments():
    with pytest.raises(ValueError, match=r"n_experts \(2\) is smaller than top_k \(3\).*1 <= top_k <= n_experts"):
        MoE(8, 16, 2, 3)
    with pytest.raises(ValueError, match="top_k must be a positive integer, got 0"):
        MoE(8, 16, 2, 0)
    with pytest.raises(ValueError, match=r"input \[2, 5\] must end in d_model = 8"):
        MoE(8, 16, 2, 1)(minigen.randn(2, 5))
    with pytest.raises(ValueError, match="moe needs n_experts and top_k"):
        GPT(10, 8, moe=dict(n_experts=4))
    with pytest.raises(ValueError, match=r"n_experts \(1\) is smaller than top_k \(2\)"):
        GPT(10, 8, moe=dict(n_experts=1, top_k=2))
    with pytest.raises(RuntimeError, match="no mixture of experts"):
        GPT(10, 8, n_layer=1, n_head=2, n_embd=8).aux_loss()


# ----------------------------------------------------------------------------- the GPT with MoE
def small_moe_gpt(device="cpu", seed=0):
    minigen.manual_seed(seed)
    return GPT(11, 12, n_layer=2, n_head=2, n_embd=16, moe=dict(n_experts=4, top_k=2)).to(device)


def test_gpt_loss_adds_the_aux_and_active_parameters_match_the_dense_model(device):
    m = small_moe_gpt(device)
    assert m.moe == {"n_experts": 4, "top_k": 2, "d_hidden": 32, "aux_coef": 0.01}
    assert m.config()["moe"] == m.moe
    assert "moe" not in GPT(11, 12, n_layer=1, n_head=2, n_embd=16).config()
    x = minigen.randint(0, 11, (2, 12), device=device)
    y = minigen.randint(0, 11, (2, 12), device=device)
    loss = m.loss(x, y).item()
    logits, _ = m(x)
    ce = minigen.nn.functional.cross_entropy(logits.reshape(-1, 11), y.reshape(-1)).item()
    aux = m.aux_loss().item()
    assert loss == pytest.approx(ce + 0.01 * aux, rel=1e-6)
    assert m.expert_counts().shape == (2, 4) and (m.expert_counts().sum(1) == 2 * 12 * 2).all()
    # the same MLP weights per token as the dense GPT: 2 experts of width 2d = one of 4d
    dense = GPT(11, 12, n_layer=2, n_head=2, n_embd=16)
    e = m.blocks[0].moe.experts[0]
    assert 2 * (e.c_fc.weight.numel() + e.c_proj.weight.numel()) == \
        dense.blocks[0].c_fc.weight.numel() + dense.blocks[0].c_proj.weight.numel()


def test_moe_gpt_overfits_a_tiny_batch_and_its_cache_matches(device):
    m = small_moe_gpt(device)
    x = minigen.randint(0, 11, (4, 12), device=device)
    y = minigen.randint(0, 11, (4, 12), device=device)
    full = m(x)[0].cpu().numpy()
    logits, cache = m(x[:, :5])
    rest, _ = m(x[:, 5:], cache)
    np.testing.assert_allclose(np.concatenate([logits.cpu().numpy(), rest.cpu().numpy()], 1), full, rtol=1e-4, atol=1e-5)
    opt = optim.Adam(m.parameters(), lr=1e-2)
    first = m.loss(x, y).item()
    for _ in range(150):
        opt.zero_grad()
        loss = m.loss(x, y)
        loss.backward()
        opt.step()
    assert loss.item() < 0.15 < first


def test_moe_gpt_seed_and_checkpoint_round_trip(tmp_path):
    from minigen.train import load_checkpoint, save_checkpoint
    x = minigen.randint(0, 11, (2, 12))
    a, b = small_moe_gpt(seed=3), small_moe_gpt(seed=3)
    assert a.loss(x, x).item() == b.loss(x, x).item()
    assert small_moe_gpt(seed=4).loss(x, x).item() != a.loss(x, x).item()
    save_checkpoint(str(tmp_path / "c.npz"), a, None, meta={"model": "gpt", "config": a.config()})
    c = small_moe_gpt(seed=5)
    load_checkpoint(str(tmp_path / "c.npz"), c)
    np.testing.assert_array_equal(c(x)[0].cpu().numpy(), a(x)[0].cpu().numpy())
    assert "blocks.1.moe.experts.3.c_proj.weight" in c.state_dict()


def test_quick_run_through_the_registry(tmp_path):
    from minigen.train import train_model
    r = train_model("gpt", variant="moe", quick=True, out=str(tmp_path / "r"), progress=False,
                    pictures=False, log=lambda *a: None)
    assert math.isfinite(r["metrics"]["test_nats_per_char"])


def test_the_pytorch_twin_computes_the_same_logits_and_aux():
    torch = pytest.importorskip("torch")
    from minigen.bench.torch_twins import torch_gpt_mechanisms
    m = small_moe_gpt().to(dtype=minigen.float64)
    t = torch_gpt_mechanisms(m.config()).double()
    t.load_state_dict({k: torch.tensor(v.cpu().numpy()) for k, v in m.state_dict().items()})
    x = np.random.randint(0, 11, (3, 12))
    np.testing.assert_allclose(t(torch.tensor(x)).detach().cpu().numpy(), m(minigen.tensor(x))[0].cpu().numpy(), rtol=1e-10, atol=1e-12)
    assert t.aux_loss().item() == pytest.approx(m.aux_loss().item(), rel=1e-12)
    np.testing.assert_array_equal(t.expert_counts(), m.expert_counts())
