"""The language models (n-gram, MLP, RNN/GRU/LSTM, GPT): references, overfitting, seeds,
checkpoints, devices, and the parts each one has of its own (causality, the carried state,
counting)."""
import math

import numpy as np
import pytest

import minigen
from minigen import optim
from minigen.data import IGNORE, CharVocab, NameSequences
from minigen.models import registry
from minigen.models.char_rnn import CharRNN
from minigen.models.gpt import GPT
from minigen.models.mlp_lm import MLPLanguageModel
from minigen.models.ngram import NGram

V = 7


def make(kind, device="cpu", seed=0):
    minigen.manual_seed(seed)
    m = {
        "gpt": lambda: GPT(V, 8, n_layer=2, n_head=2, n_embd=16),
        "gpt_tied": lambda: GPT(V, 8, n_layer=1, n_head=2, n_embd=16, tie_weights=True, gelu="none"),
        "lstm": lambda: CharRNN(V, "lstm", n_embd=8, hidden_size=16),
        "gru": lambda: CharRNN(V, "gru", n_embd=8, hidden_size=16),
        "rnn": lambda: CharRNN(V, "rnn", n_embd=8, hidden_size=16, num_layers=2),
        "mlp": lambda: MLPLanguageModel(V, context=3, n_embd=4, hidden=32, direct=True),
    }[kind]()
    return m.to(device)


NEURAL = ["gpt", "gpt_tied", "lstm", "gru", "rnn", "mlp"]


def batch(device="cpu", B=4, T=8, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, V, (B, T))
    y = np.roll(x, -1, axis=1)
    y[:, -1] = IGNORE
    return minigen.tensor(x).to(device), minigen.tensor(y).to(device)


@pytest.mark.parametrize("kind", NEURAL)
def test_overfits_a_tiny_batch(kind, device):
    m = make(kind, device)
    x, y = batch(device)
    opt = optim.Adam(m.parameters(), lr=1e-2)
    first = m.loss(x, y).item()
    assert abs(first - math.log(V)) < 0.5             # starts near uniform
    for _ in range(150):
        opt.zero_grad()
        loss = m.loss(x, y)
        loss.backward()
        opt.step()
    # the MLP sees only 3 characters, so some of these random targets stay ambiguous
    assert loss.item() < (0.6 if kind == "mlp" else 0.1) < first


@pytest.mark.parametrize("kind", NEURAL)
def test_seed_determinism_and_checkpoint_round_trip(kind, tmp_path):
    a, b = make(kind, seed=3), make(kind, seed=3)
    x, y = batch()
    assert a.loss(x, y).item() == b.loss(x, y).item()
    assert make(kind, seed=4).loss(x, y).item() != a.loss(x, y).item()
    minigen.save(a.state_dict(), tmp_path / "m.npz")
    c = make(kind, seed=5)
    c.load_state_dict(minigen.load(tmp_path / "m.npz"))
    np.testing.assert_array_equal(c(x)[0].cpu().numpy(), a(x)[0].cpu().numpy())


@pytest.mark.parametrize("kind", NEURAL)
def test_incremental_forward_equals_the_whole(kind, device):
    m = make(kind, device).eval()
    x, _ = batch(device)
    full, _ = m(x)
    a, cache = m(x[:, :5])
    b, _ = m(x[:, 5:], cache)
    np.testing.assert_allclose(minigen.cat([a, b], 1).cpu().numpy(), full.cpu().numpy(), atol=1e-5)


@pytest.mark.parametrize("kind", NEURAL)
def test_causal_a_later_token_never_changes_an_earlier_prediction(kind):
    m = make(kind).eval()
    x, _ = batch()
    x2 = x.cpu().numpy().copy()
    x2[:, 5] = (x2[:, 5] + 1) % V
    a, _ = m(x)
    b, _ = m(minigen.tensor(x2))
    np.testing.assert_allclose(a.cpu().numpy()[:, :5], b.cpu().numpy()[:, :5], atol=1e-6)
    assert np.abs(a.cpu().numpy()[:, 5] - b.cpu().numpy()[:, 5]).max() > 1e-4


@pytest.mark.parametrize("kind", NEURAL)
def test_samples_are_token_ids_in_the_vocabulary(kind, device):
    m = make(kind, device)
    out = m.generate([[0, 1], [2, 3]], 12)
    assert out.shape == (2, 14) and out.dtype == minigen.int64 and out.device.type == device
    assert 0 <= int(out.min().item()) and int(out.max().item()) < V
    np.testing.assert_array_equal(out.cpu().numpy()[:, :2], [[0, 1], [2, 3]])


# ----------------------------------------------------------------------------- references
def test_mlp_matches_a_numpy_reference():
    m = MLPLanguageModel(V, context=3, n_embd=4, hidden=5, direct=True, pad_id=0).to(dtype=minigen.float64)
    x, _ = batch()
    C, Wh, bh = m.C.weight.cpu().numpy(), m.W_h.weight.cpu().numpy(), m.W_h.bias.cpu().numpy()
    Wy, by, Wd = m.W_y.weight.cpu().numpy(), m.W_y.bias.cpu().numpy(), m.W_d.weight.cpu().numpy()
    xs = np.concatenate([np.zeros((4, 2), np.int64), x.cpu().numpy()], 1)
    ref = np.zeros((4, 8, V))
    for b in range(4):
        for t in range(8):
            e = np.concatenate([C[xs[b, t + j]] for j in range(3)])
            ref[b, t] = Wy @ np.tanh(Wh @ e + bh) + by + Wd @ e
    np.testing.assert_allclose(m(x)[0].cpu().numpy(), ref, rtol=1e-10, atol=1e-12)


def test_gpt_attention_matches_a_numpy_reference():
    minigen.manual_seed(0)
    m = GPT(V, 8, n_layer=1, n_head=2, n_embd=8).to(dtype=minigen.float64)
    x, _ = batch(T=6)
    blk = m.blocks[0]
    h = m.wte.weight.cpu().numpy()[x.cpu().numpy()] + m.wpe.weight.cpu().numpy()[:6]

    def ln(z, mod):
        mu, var = z.mean(-1, keepdims=True), z.var(-1, keepdims=True)
        return (z - mu) / np.sqrt(var + 1e-5) * mod.weight.cpu().numpy() + mod.bias.cpu().numpy()

    def lin(z, mod):
        return z @ mod.weight.cpu().numpy().T + (mod.bias.cpu().numpy() if mod.bias is not None else 0)

    def gelu(z):
        return 0.5 * z * (1 + np.tanh(math.sqrt(2 / math.pi) * (z + 0.044715 * z ** 3)))

    q, k, v = np.split(lin(ln(h, blk.ln_1), blk.attn.c_attn), 3, axis=-1)
    heads = []
    for hd in range(2):
        sl = slice(4 * hd, 4 * hd + 4)
        s = q[..., sl] @ k[..., sl].transpose(0, 2, 1) / 2.0
        s = np.where(np.tril(np.ones((6, 6), bool)), s, -np.inf)
        p = np.exp(s - s.max(-1, keepdims=True))
        heads.append((p / p.sum(-1, keepdims=True)) @ v[..., sl])
    h = h + lin(np.concatenate(heads, -1), blk.attn.c_proj)
    h = h + lin(gelu(lin(ln(h, blk.ln_2), blk.c_fc)), blk.c_proj)
    ref = lin(ln(h, m.ln_f), m.head)
    np.testing.assert_allclose(m(x)[0].cpu().numpy(), ref, rtol=1e-9, atol=1e-11)


def test_gpt_gradcheck_through_a_small_model():
    minigen.manual_seed(0)
    m = GPT(5, 4, n_layer=1, n_head=1, n_embd=4).to(dtype=minigen.float64)
    x = minigen.tensor([[1, 2, 3, 4]])
    y = minigen.tensor([[2, 3, 4, 0]])
    attn = m.blocks[0].attn
    w, b = attn.c_attn.weight.detach(), attn.c_attn.bias.detach()

    class Linear(minigen.nn.Module):          # c_attn with its weight as a function input
        def forward(self, a):
            return minigen.nn.functional.linear(a, self.w, b)

    attn.c_attn = Linear()

    def f(weight):
        attn.c_attn.w = weight
        return m.loss(x, y)
    assert minigen.gradcheck(f, (w.clone().requires_grad_(),), eps=1e-6, atol=1e-6)


def test_gpt_init_and_weight_tying():
    m = make("gpt_tied")
    assert m.head.weight is m.wte.weight
    n_unique = sum(p.numel() for p in m.parameters())
    assert n_unique == sum(p.numel() for n, p in m.named_parameters())
    big = GPT(50, 16, n_layer=4, n_head=4, n_embd=64)
    assert abs(float(big.wte.weight.cpu().numpy().std()) - 0.02) < 0.002
    assert abs(float(big.blocks[0].c_proj.weight.cpu().numpy().std()) - 0.02 / math.sqrt(8)) < 0.001
    assert float(np.abs(big.blocks[0].c_fc.bias.cpu().numpy()).max()) == 0.0
    with pytest.raises(ValueError, match="not divisible"):
        GPT(5, 4, n_head=3, n_embd=8)


# ----------------------------------------------------------------------------- the carried state
def test_streams_carry_the_detached_state_and_check_the_batch():
    m = CharRNN(V, "lstm", n_embd=4, hidden_size=6, carry_batch=4)
    x, y = batch()
    y = minigen.tensor(np.roll(x.cpu().numpy(), -1, 1))
    first = m.loss(x, y)
    first.backward()                          # the graph stops at the carried state
    h = m.carry_h.cpu().numpy().copy()
    assert np.abs(h).max() > 0
    # the next batch starts from that state: the loss differs from a zero start
    zero = CharRNN(V, "lstm", n_embd=4, hidden_size=6)
    zero.load_state_dict({k: v for k, v in m.state_dict().items() if not k.startswith("carry")})
    assert abs(m.loss(x, y).item() - zero.loss(x, y).item()) > 1e-6
    assert "carry_h" in m.state_dict() and "carry_c" in m.state_dict()
    with pytest.raises(ValueError, match="carries the state of 4 streams"):
        m.loss(x[:2], y[:2])
    m.eval()                                   # evaluation starts from zero, any batch
    assert abs(m.loss(x[:2], y[:2]).item() - zero.eval().loss(x[:2], y[:2]).item()) < 1e-6


# ----------------------------------------------------------------------------- counting
def test_bigram_add_one_matches_direct_counts():
    names = ["emma", "ava", "mia", "ella", "eve"]
    vocab = CharVocab(names, boundary=".")
    ds = NameSequences(names, vocab)
    m = NGram(len(vocab), n=2, smoothing="add-one", pad_id=0)
    m.train_step(ds[:3])
    m.train_step(ds[3:])
    Vn = len(vocab)
    C = np.zeros((Vn, Vn))
    for name in names:
        ids = [0] + vocab.encode(name) + [0]
        for a, b in zip(ids, ids[1:]):
            C[a, b] += 1
    P = (C + 1) / (C.sum(1, keepdims=True) + Vn)
    x, y = ds[:]
    logp = m(x)[0].cpu().numpy()
    np.testing.assert_allclose(np.exp(logp), P[x.cpu().numpy()], rtol=1e-6)
    total, n = m.nll(x, y)
    ref = -sum(np.log(P[a, b]) for a, b in zip(x.cpu().numpy().ravel(), y.cpu().numpy().ravel()) if b >= 0)
    assert n == sum(len(s) + 1 for s in names) and abs(total - ref) < 1e-4


@pytest.mark.parametrize("pad", [None, 0])
def test_witten_bell_is_a_distribution_and_backs_off(pad, tmp_path):
    rng = np.random.default_rng(0)
    ids = rng.integers(0, V, 400)
    x = minigen.tensor(ids[:-1].reshape(1, -1))
    y = minigen.tensor(ids[1:].reshape(1, -1))
    m = NGram(V, n=4, smoothing="witten-bell", pad_id=pad)
    m.train_step((x, y), None)
    p = np.exp(m(x[:, :50])[0].cpu().numpy().astype(np.float64))
    np.testing.assert_allclose(p.sum(-1), 1.0, atol=1e-5)
    assert (p > 0).all()
    # an unseen context backs off to lower orders (still a distribution)
    m2 = NGram(V, n=4, smoothing="witten-bell", pad_id=pad)
    m2.load_state_dict(m.state_dict())             # tables of another size: resized on load
    np.testing.assert_array_equal(m2(x[:, :50])[0].cpu().numpy(), m(x[:, :50])[0].cpu().numpy())
    # the 4-gram fits its own training text better than the bigram does
    bi = NGram(V, n=2, smoothing="add-one")
    bi.train_step((x, y), None)
    assert m.nll(x, y)[0] < bi.nll(x, y)[0]


def test_ngram_bad_arguments():
    with pytest.raises(ValueError, match="smoothing must be one of"):
        NGram(5, n=2, smoothing="kneser")
    with pytest.raises(ValueError, match="n must be a positive integer"):
        NGram(5, n=0)


# ----------------------------------------------------------------------------- the registry
@pytest.mark.parametrize("name", ["ngram", "mlp", "rnn", "gru", "lstm", "gpt"])
def test_registered_on_both_text_sets_and_refuse_images(name):
    entry = registry.get(name)
    for data in ("names", "shakespeare"):
        m = entry.build(data)
        assert m.vocab_size == registry.DATASETS[data].vocab_size
    with pytest.raises(ValueError, match="images"):
        entry.build("digits")
